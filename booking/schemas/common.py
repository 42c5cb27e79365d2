from __future__ import annotations

import re
from datetime import UTC, date, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from booking.domain.organizations import is_mailable
from pricing.weekly import OSLO, WEEKDAYS, WeeklyWindow

MAX_INT = 2**31 - 1
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def Id(strict: bool = True, **kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    """A row id. JSON bodies must send a number (strict); query strings are text (strict=False)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_INT), **kwargs)


def Count(minimum: int = 0, maximum: int = MAX_INT, strict: bool = True, **kwargs) -> fields.Integer:  # noqa: N802
    return fields.Integer(strict=strict, validate=validate.Range(min=minimum, max=maximum), **kwargs)


NOT_MAILABLE = "Only addresses in plain ASCII can be mailed (write an internationalised domain as xn--…)."


def _mailable(address: str) -> None:
    if not is_mailable(address):
        raise ValidationError(NOT_MAILABLE)


def MailAddress(**kwargs) -> fields.Email:  # noqa: N802 - reads like a field class
    """An e-mail address the service will write to: valid, at most 254 characters, ASCII."""
    return fields.Email(validate=[validate.Length(max=254), _mailable], **kwargs)


def Text(maximum: int, minimum: int = 0, **kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Length(min=minimum, max=maximum), **kwargs)


# The years a date or an instant sent by a client may lie in: wider than any booking window, and
# far from the calendar's edges (years 1 and 9999), where a day's bounds, a week around it or a
# conversion to UTC would not exist (an OverflowError deep in a service, not a 422 at the edge).
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _check_year(value: date) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(f"Dates must be between the years {FIRST_YEAR} and {LAST_YEAR}.")


class LocalDate(fields.Date):
    """A local date, YYYY-MM-DD, in the years every instant of the service lies in."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        _check_year(parsed)
        return parsed


class LocalDateTime(fields.DateTime):
    """ISO 8601 in and out. Input with an offset is taken as given; a naive value means
    Europe/Oslo local time. Output is Europe/Oslo local time with its offset."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("Not a valid ISO 8601 date-time.")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError as error:
            raise ValidationError("Not a valid ISO 8601 date-time.") from error
        _check_year(parsed)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=OSLO)
        return parsed.astimezone(UTC)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(OSLO).isoformat()


class WeeklyWindowSchema(Schema):
    day = fields.String(required=True, validate=validate.OneOf(WEEKDAYS))
    start = fields.String(required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$"))
    end = fields.String(
        required=True,
        validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$"),
        metadata={"description": "HH:MM; 00:00 means midnight at the end of the day"},
    )

    @validates_schema
    def _window(self, data, **kwargs):
        try:
            WeeklyWindow.parse(data)
        except ValueError as error:
            raise ValidationError(str(error), "end") from error


class WeeklyWindowField(fields.Nested):
    """A weekly window: loads to ``WeeklyWindow``, dumps to ``{day, start, end}``."""

    def __init__(self, **kwargs):
        super().__init__(WeeklyWindowSchema, **kwargs)

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        return WeeklyWindow.parse(super()._deserialize(value, attr, data, partial=partial, **kwargs))

    def _serialize(self, value, attr, obj, **kwargs):
        return value if isinstance(value, dict) else value.to_dict()


def Windows(**kwargs) -> fields.List:  # noqa: N802
    return fields.List(WeeklyWindowField(), validate=validate.Length(max=100), **kwargs)


class Slug(fields.String):
    def __init__(self, **kwargs):
        super().__init__(
            validate=validate.Regexp(SLUG, error="Use a-z, 0-9, '-' and '_' (max 40)."), **kwargs
        )


class PartialMixin:
    """For PATCH schemas: every field optional (a class of its own, so OpenAPI names it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)
