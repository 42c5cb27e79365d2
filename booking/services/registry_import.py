"""Loading Enhetsregisteret's open-data bulk file of units into ``registry_units`` (SPEC §13).

The file is the register's download of all units (*enheter*) as JSON: one top-level array of
unit objects with the published field names (``organisasjonsnummer``, ``navn``,
``organisasjonsform.kode``/``beskrivelse``, ``forretningsadresse.kommunenummer``/``kommune``,
``registrertIFrivillighetsregisteret``, ``konkurs``, ``underAvvikling``,
``underTvangsavviklingEllerTvangsopplosning``, ``slettedato``, …; fields not listed are ignored).
It is published gzip-compressed; a gzip file is recognised by its first two bytes, whatever its
name, so both the downloaded ``.json.gz`` and an unpacked ``.json`` import.

Decisions:
- **Streaming.** ijson (its C backend when installed) yields one unit at a time and rows go to
  the database as they come (COPY on PostgreSQL, INSERTs in batches of ``BATCH_SIZE``
  elsewhere): memory stays flat for a file of a million units (``python -m bench registry``
  measures it; BENCHMARKS.md has the figures).
- **All or nothing.** The table is replaced in the caller's one transaction, inside a savepoint:
  DELETE, then the rows. Readers keep seeing the previous copy until COMMIT (PostgreSQL's MVCC,
  SQLite's WAL); a file that turns out not to be JSON, or not units, halfway through raises
  ``RegistryFileError`` after the savepoint is rolled back, so the old copy stays whatever the
  caller does next. DELETE, not TRUNCATE: TRUNCATE would lock out readers for the whole import.
  On SQLite, which has one writer at a time, other writes wait for the import (busy timeout
  30 s): import when the service is quiet. PostgreSQL has no such wait.
- **Not in the audit log.** The statements go to the connection, not through the session, whose
  audit hook would log every row of a bulk DELETE: a copy of public data, replaced wholesale,
  would add a million entries per import.
- **Bad units are skipped, not fatal.** A unit without a valid organisation number (9 digits,
  mod-11), without a name, or with a deletion date that is no date is counted and skipped; a
  number the file repeats is imported once. A file in which no unit is usable is refused: an
  empty register would silently make every organisation manual again.
- **The business address decides ``local``.** ``municipality_number`` is the
  ``forretningsadresse``'s; a unit with only a ``postadresse`` has none (a post box says nothing
  about where an association is based), so it is never ``local`` by the register.
- **Liquidation** covers both the voluntary (``underAvvikling``) and the forced kind
  (``underTvangsavviklingEllerTvangsopplosning``).
- Texts longer than their columns are cut to fit (PostgreSQL would refuse them).
"""

from __future__ import annotations

import gzip
import io
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import ijson
from ijson.common import ObjectBuilder
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from booking.domain.organizations import is_valid_org_number
from booking.extensions import begin_write_transaction, db
from booking.models import RegistryUnit
from booking.models.types import utcnow

BATCH_SIZE = 5_000
BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 32  # of arrays and objects, the top-level array included (as the API's bodies)
MAX_TEXT = 100_000  # characters of one name or text; the register's are at most a few hundred
GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 1 << 20
EXAMPLES_KEPT = 5  # reasons for skipped units shown to the operator
_TABLE = RegistryUnit.__table__
_LENGTHS = {
    column.name: column.type.length for column in _TABLE.columns if getattr(column.type, "length", None)
}


class RegistryFileError(ValueError):
    """The file is not Enhetsregisteret's JSON file of units; nothing was changed."""


@dataclass
class ImportResult:
    imported: int  # units now in the table
    skipped: int  # malformed units and repeated numbers
    seconds: float
    examples: list[str] = field(default_factory=list)  # why the first few were skipped


def import_units(source: str | os.PathLike | BinaryIO) -> ImportResult:
    """Replace the register's local copy with the units in ``source`` (a path or a binary file
    object, gzip or plain JSON). Runs in the caller's transaction, which commits it (``booking
    registry import`` does); a ``RegistryFileError`` leaves the table as it was."""
    started = time.monotonic()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return _import(handle, started)
    return _import(source, started)


def _import(raw: BinaryIO, started: float) -> ImportResult:
    stream = _json_stream(raw)
    begin_write_transaction()
    tally = _Tally()
    # The savepoint makes a broken file change nothing even where the caller's unit of work ends
    # with COMMIT: it commits a refusal that wrote nothing through the session, and these
    # statements go to the connection (see "Not in the audit log" above).
    with db.session.begin_nested():
        connection = db.session.connection()
        connection.execute(delete(_TABLE))
        attempted = _write(connection, _rows(_units(stream), utcnow(), tally))
        imported = connection.execute(select(func.count()).select_from(_TABLE)).scalar_one()
        if not imported:
            raise RegistryFileError(
                "The file holds no usable unit of Enhetsregisteret (each needs an "
                "organisasjonsnummer and a navn); the register was left as it was."
                + (f" First problems: {'; '.join(tally.examples)}." if tally.examples else "")
            )
    if attempted > imported:
        tally.examples.append(f"{attempted - imported} organisation number(s) appeared more than once")
    return ImportResult(
        imported, tally.malformed + attempted - imported, time.monotonic() - started, tally.examples
    )


@dataclass
class _Tally:
    malformed: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, position: int, problem: str) -> None:
        self.malformed += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(f"unit {position}: {problem}")


def _rows(units: Iterator[object], imported_at, tally: _Tally) -> Iterator[dict]:
    for position, unit in enumerate(units, start=1):
        row, problem = _row(unit, imported_at)
        if row is None:
            tally.skip(position, problem)
        else:
            yield row


def _write(connection, rows: Iterator[dict]) -> int:
    """Insert the rows; returns how many were sent. A number the file repeats keeps one unit
    instead of failing the import (ON CONFLICT DO NOTHING; remembering every number seen would
    cost memory). On PostgreSQL through COPY (``_write_copy``), which skips SQLAlchemy's and
    psycopg's per-row statement handling (200,000 units: 16.4 s -> 11.3 s, the importing
    process's CPU 6.3 s -> 3.5 s); elsewhere plain SQLAlchemy (``_write_plain``), which a test
    holds the COPY to. On SQLite the driver's own executemany gained too little to keep."""
    if connection.dialect.name == "postgresql":
        return _write_copy(connection, rows)
    return _write_plain(connection, rows)


def _write_plain(connection, rows: Iterator[dict]) -> int:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=["org_number"])
    sent = 0
    for batch in _batches(rows):
        connection.execute(insert, batch)
        sent += len(batch)
    return sent


_COLUMNS = [column.name for column in _TABLE.columns]


def _driver_values(connection, rows: Iterator[dict]) -> Iterator[tuple]:
    """Rows as the driver takes them, converted by the columns' own types (``imported_at``
    through ``UTCDateTime``), so they are stored as SQLAlchemy would store them."""
    dialect = connection.dialect
    processors = [
        (index, process)
        for index, name in enumerate(_COLUMNS)
        if (process := _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    for row in rows:
        values = [row[name] for name in _COLUMNS]
        for index, process in processors:
            if values[index] is not None:
                values[index] = process(values[index])
        yield tuple(values)


def _write_copy(connection, rows: Iterator[dict]) -> int:
    """COPY cannot skip a repeated key: the rows go to a temporary table without one, then into
    the register with INSERT … SELECT … ON CONFLICT DO NOTHING."""
    columns = ", ".join(_COLUMNS)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE registry_units_load (LIKE {_TABLE.name}) ON COMMIT DROP"
    )
    sent = 0
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY registry_units_load ({columns}) FROM STDIN") as copy:
            for values in _driver_values(connection, rows):
                copy.write_row(values)
                sent += 1
    connection.exec_driver_sql(
        f"INSERT INTO {_TABLE.name} ({columns}) SELECT {columns} FROM registry_units_load "
        "ON CONFLICT (org_number) DO NOTHING"
    )
    connection.exec_driver_sql("DROP TABLE registry_units_load")
    return sent


def _batches(rows: Iterator[dict]) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


# --- reading the file ----------------------------------------------------------------------------


class _Rejoined(io.RawIOBase):
    """The bytes already read to look at a stream's start, followed by the rest of the stream:
    sniffing works on pipes and sockets, which cannot seek back."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_start(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the stream), however the stream chunks."""
    head = b""
    while len(head) < size:
        data = stream.read(size - len(head))
        if not data:
            break
        head += data
    return head


def _json_stream(raw: BinaryIO) -> BinaryIO:
    """The file's JSON text as a stream, unpacked when it is gzip; refuses at once, before the
    table is touched, what cannot be a JSON array."""
    magic = _read_start(raw, len(GZIP_MAGIC))
    stream: BinaryIO = io.BufferedReader(_Rejoined(magic, raw), READ_SIZE)
    if magic == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    try:
        start = _read_start(stream, 4096)
    except (OSError, EOFError, zlib.error) as error:
        raise RegistryFileError(f"The file is not a readable gzip file: {_first_line(error)}.") from error
    if start.startswith(BOM):  # allowed before JSON text (RFC 8259), and the parser refuses it
        start = start[len(BOM) :]
    text = start.lstrip(b" \t\r\n")
    if not text:
        raise RegistryFileError("The file is empty: expected Enhetsregisteret's JSON array of units.")
    if not text.startswith(b"["):
        raise RegistryFileError(
            "The file is not Enhetsregisteret's bulk file of units: that is one JSON array "
            f"(it starts with '['), this starts with {text[:20]!r}."
        )
    return io.BufferedReader(_Rejoined(start, stream), READ_SIZE)


def _units(stream: BinaryIO) -> Iterator[object]:
    """The array's items, one at a time; a file that stops being JSON is a RegistryFileError."""
    try:
        yield from _items(ijson.basic_parse(stream, use_float=True))
    except (ijson.JSONError, UnicodeDecodeError) as error:
        raise RegistryFileError(f"The file is not valid JSON: {_first_line(error)}.") from error
    except (OSError, EOFError, zlib.error) as error:  # a gzip file cut short or corrupt
        raise RegistryFileError(f"The gzip file is damaged or incomplete: {_first_line(error)}.") from error


def _items(events: Iterator[tuple[str, object]]) -> Iterator[object]:
    """The top-level array's items built from the parser's events, refusing what no unit of the
    register has and what would make a small hostile file cost a great deal: nesting deeper than
    ``MAX_DEPTH`` (``ijson.items`` keeps a path per level, so memory grows with the square of the
    depth: 40,000 levels in an 80 KB file took 4 GB) and texts longer than ``MAX_TEXT``."""
    depth = 0  # how many arrays and objects are open after the event
    builder = None  # the item being built
    for event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise RegistryFileError(
                    f"The file nests arrays or objects more than {MAX_DEPTH} levels deep; the "
                    "register's units are a few levels deep. The register was left as it was."
                )
            if depth == 1:
                continue  # the top-level array
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                continue  # its end
        elif event in ("map_key", "string") and len(value) > MAX_TEXT:
            raise RegistryFileError(
                f"The file holds a text of {len(value):,} characters; the register's are short "
                f"(at most {MAX_TEXT:,} accepted). The register was left as it was."
            )
        if builder is None:
            if event in ("start_map", "start_array"):
                builder = ObjectBuilder()
                builder.event(event, value)
            else:
                yield value  # a scalar item (skipped as malformed by the caller)
            continue
        builder.event(event, value)
        if depth == 1:  # the item is complete
            yield builder.value
            builder = None


def _first_line(error: Exception) -> str:
    """The parser's message without the excerpt of the file it appends on further lines."""
    message = error.args[0] if error.args else error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return (str(message).strip().splitlines() or [type(error).__name__])[0]


# --- one unit to one row -----------------------------------------------------------------------


def _row(unit: object, imported_at) -> tuple[dict | None, str]:
    """The table row for one unit of the file, or None and why it is skipped."""
    if not isinstance(unit, dict):
        return None, "not a JSON object"
    number = unit.get("organisasjonsnummer")
    if not isinstance(number, str) or not is_valid_org_number(number):
        return None, f"organisasjonsnummer {_shown(number)} is not a valid organisation number"
    name = _text(unit.get("navn"))
    if not name:
        return None, f"{number} has no navn"
    deleted_on = unit.get("slettedato")
    if deleted_on is not None:
        try:
            deleted_on = date.fromisoformat(deleted_on)
        except (TypeError, ValueError):
            return None, f"{number} has a slettedato that is no date: {_shown(deleted_on)}"
    form = _object(unit.get("organisasjonsform"))
    address = _object(unit.get("forretningsadresse"))
    municipality_number = address.get("kommunenummer")
    if not (
        isinstance(municipality_number, str)
        and len(municipality_number) == 4
        and municipality_number.isdigit()
    ):
        municipality_number = None
    row = {
        "org_number": number,
        "name": _fit("name", name),
        "form_code": _fit("form_code", _text(form.get("kode"))),
        "form_description": _fit("form_description", _text(form.get("beskrivelse"))),
        "municipality_number": municipality_number,
        "municipality": _fit("municipality", _text(address.get("kommune"))) or None,
        "in_frivillighetsregisteret": unit.get("registrertIFrivillighetsregisteret") is True,
        "bankrupt": unit.get("konkurs") is True,
        "under_liquidation": unit.get("underAvvikling") is True
        or unit.get("underTvangsavviklingEllerTvangsopplosning") is True,
        "deleted_on": deleted_on,
        "imported_at": imported_at,
    }
    return row, ""


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    """A text of the file as the database can store it: without NUL characters (PostgreSQL
    refuses them) and lone surrogates (not UTF-8; ijson's C backend replaces them already)."""
    if not isinstance(value, str):
        return ""
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode()
    return value.replace("\x00", "").strip()


def _fit(column: str, value: str) -> str:
    return value[: _LENGTHS[column]]


def _shown(value: object) -> str:
    return repr(value)[:40]
