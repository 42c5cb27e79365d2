"""Column types shared by the models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, String, Text, bindparam, cast
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware datetime stored in UTC: ``timestamptz`` on PostgreSQL; on SQLite, which has no
    time zones, a UTC text value that is made aware again on load. Naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumText(TypeDecorator):
    """A ``StrEnum`` stored as its text (a check constraint lists the values): loaded back as
    the enum member, so code compares members, never loose strings."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: StrEnum | str | None, dialect):
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value: str | None, dialect):
        return None if value is None else self.enum(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- JSON text around an id not known yet ----------------------------------------------------

NEW_ID = object()  # stands for the id of a row the same statement inserts (``json_around_new_id``)
_NEW_ID_MARK = "\x00new id\x00"


def json_around_new_id(value) -> tuple[str, str]:
    """The JSON text a JSON column stores for ``value`` (``json.dumps``, as SQLAlchemy's JSON
    type writes it), cut where ``NEW_ID`` (once in ``value``) stands: a statement that inserts a
    row and, from its id, a JSON document about it writes ``head || id || tail``, the very text
    the ORM would write once the id is known."""

    def mark(obj):
        if obj is NEW_ID:
            return _NEW_ID_MARK
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    head, tail = json.dumps(value, default=mark).split(json.dumps(_NEW_ID_MARK))
    return head, tail


def text_around(head_parameter: str, number, tail_parameter: str):
    """SQL: the text of bound ``head_parameter``, the integer ``number``, bound ``tail_parameter``
    (``json_around_new_id``), as JSON."""
    return cast(
        bindparam(head_parameter, type_=Text) + cast(number, Text) + bindparam(tail_parameter, type_=Text),
        JSON,
    )
