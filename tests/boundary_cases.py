"""The shared boundary table for the overlap rule (house rule 3: one rule per language, one table).

Each case is an existing booking and a requested one, both as (units, start, end, buffer), and
whether they conflict. The Python rule (``booking.domain.timeslots``) and the SQL rule (the
occupancy table's constraint and query) must both give ``conflict`` for every case.

The rule: two bookings conflict when they share a unit AND their occupancies
``[start, end + buffer)`` overlap (half-open). Units are small integer labels; a database test
maps them onto the units of a divisible room: ``WHOLE_ROOM`` is every part of the room, ``PART_A``
and ``PART_B`` are its two halves, ``OTHER_ROOM`` is a unit of a different room.

Times are aware datetimes written with their Oslo offset so the cases read as local time; the
DST case checks that a buffer is counted in real minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PART_A = frozenset({1})
PART_B = frozenset({2})
WHOLE_ROOM = PART_A | PART_B
OTHER_ROOM = frozenset({3})


@dataclass(frozen=True)
class Slot:
    units: frozenset[int]
    start: datetime
    end: datetime
    buffer_minutes: int = 0


@dataclass(frozen=True)
class BoundaryCase:
    name: str
    existing: Slot
    requested: Slot
    conflict: bool


def _t(hhmm: str, day: str = "2026-06-01", offset: str = "+02:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}{offset}")


def _slot(units: frozenset[int], start: str, end: str, buffer_minutes: int = 0) -> Slot:
    return Slot(units, _t(start), _t(end), buffer_minutes)


# The existing booking in most cases: 18:00-20:00 on a Monday in summer (UTC+2).
_EXISTING = _slot(WHOLE_ROOM, "18:00", "20:00")
_EXISTING_BUFFERED = _slot(WHOLE_ROOM, "18:00", "20:00", 30)

BOUNDARY_CASES: list[BoundaryCase] = [
    # Time relations, no buffer, same room.
    BoundaryCase("before", _EXISTING, _slot(WHOLE_ROOM, "15:00", "17:00"), False),
    BoundaryCase("touching before", _EXISTING, _slot(WHOLE_ROOM, "16:00", "18:00"), False),
    BoundaryCase("overlapping start", _EXISTING, _slot(WHOLE_ROOM, "17:00", "19:00"), True),
    BoundaryCase("overlapping start by one minute", _EXISTING, _slot(WHOLE_ROOM, "16:00", "18:01"), True),
    BoundaryCase("overlapping end", _EXISTING, _slot(WHOLE_ROOM, "19:00", "21:00"), True),
    BoundaryCase("overlapping end by one minute", _EXISTING, _slot(WHOLE_ROOM, "19:59", "21:00"), True),
    BoundaryCase("equal", _EXISTING, _slot(WHOLE_ROOM, "18:00", "20:00"), True),
    BoundaryCase("containing", _EXISTING, _slot(WHOLE_ROOM, "17:00", "21:00"), True),
    BoundaryCase("contained", _EXISTING, _slot(WHOLE_ROOM, "18:30", "19:30"), True),
    BoundaryCase("same start, shorter", _EXISTING, _slot(WHOLE_ROOM, "18:00", "19:00"), True),
    BoundaryCase("same end, shorter", _EXISTING, _slot(WHOLE_ROOM, "19:00", "20:00"), True),
    BoundaryCase("touching after", _EXISTING, _slot(WHOLE_ROOM, "20:00", "22:00"), False),
    BoundaryCase("after", _EXISTING, _slot(WHOLE_ROOM, "21:00", "23:00"), False),
    # The existing booking's 30-minute buffer extends its occupancy to 20:30.
    BoundaryCase(
        "buffer: touching end now overlaps", _EXISTING_BUFFERED, _slot(WHOLE_ROOM, "20:00", "22:00"), True
    ),
    BoundaryCase("buffer: one minute inside", _EXISTING_BUFFERED, _slot(WHOLE_ROOM, "20:29", "22:00"), True),
    BoundaryCase(
        "buffer: touching occupancy", _EXISTING_BUFFERED, _slot(WHOLE_ROOM, "20:30", "22:00"), False
    ),
    BoundaryCase(
        "buffer: only after, not before", _EXISTING_BUFFERED, _slot(WHOLE_ROOM, "16:00", "18:00"), False
    ),
    BoundaryCase(
        "buffer: before, still overlapping", _EXISTING_BUFFERED, _slot(WHOLE_ROOM, "17:00", "18:01"), True
    ),
    # The requested booking's own buffer extends its occupancy into the existing one.
    BoundaryCase(
        "requested buffer reaches existing", _EXISTING, _slot(WHOLE_ROOM, "16:00", "17:45", 30), True
    ),
    BoundaryCase(
        "requested buffer touches existing", _EXISTING, _slot(WHOLE_ROOM, "16:00", "17:30", 30), False
    ),
    BoundaryCase(
        "both buffers, touching occupancies",
        _EXISTING_BUFFERED,
        _slot(WHOLE_ROOM, "20:30", "21:00", 30),
        False,
    ),
    # Divisible room: whole room = part A + part B.
    BoundaryCase("whole vs part A, same time", _EXISTING, _slot(PART_A, "18:00", "20:00"), True),
    BoundaryCase(
        "part A vs whole, same time",
        _slot(PART_A, "18:00", "20:00"),
        _slot(WHOLE_ROOM, "19:00", "21:00"),
        True,
    ),
    BoundaryCase(
        "part B vs whole, same time",
        _slot(PART_B, "18:00", "20:00"),
        _slot(WHOLE_ROOM, "18:00", "20:00"),
        True,
    ),
    BoundaryCase(
        "part A vs part B, same time", _slot(PART_A, "18:00", "20:00"), _slot(PART_B, "18:00", "20:00"), False
    ),
    BoundaryCase(
        "part B vs part A, overlapping",
        _slot(PART_B, "18:00", "20:00"),
        _slot(PART_A, "19:00", "21:00"),
        False,
    ),
    BoundaryCase(
        "part A vs part A, overlapping",
        _slot(PART_A, "18:00", "20:00"),
        _slot(PART_A, "19:00", "21:00"),
        True,
    ),
    BoundaryCase(
        "part A vs part A, touching", _slot(PART_A, "18:00", "20:00"), _slot(PART_A, "20:00", "21:00"), False
    ),
    BoundaryCase(
        "part A buffer vs part B", _slot(PART_A, "18:00", "20:00", 30), _slot(PART_B, "20:00", "21:00"), False
    ),
    BoundaryCase(
        "whole buffer vs part B",
        _slot(WHOLE_ROOM, "18:00", "20:00", 30),
        _slot(PART_B, "20:00", "21:00"),
        True,
    ),
    BoundaryCase("whole vs part, after", _EXISTING, _slot(PART_B, "20:00", "21:00"), False),
    # Another room never conflicts.
    BoundaryCase("other room, same time", _EXISTING, _slot(OTHER_ROOM, "18:00", "20:00"), False),
    # Autumn DST change (2026-10-25 03:00 CEST -> 02:00 CET): a 60-minute buffer after a booking
    # ending 02:30+02:00 (00:30 UTC) lasts until 01:30 UTC = 02:30+01:00, in real minutes.
    BoundaryCase(
        "buffer across the autumn DST change, inside",
        Slot(WHOLE_ROOM, _t("01:00", "2026-10-25"), _t("02:30", "2026-10-25"), 60),
        Slot(WHOLE_ROOM, _t("02:00", "2026-10-25", "+01:00"), _t("04:00", "2026-10-25", "+01:00")),
        True,
    ),
    BoundaryCase(
        "buffer across the autumn DST change, touching",
        Slot(WHOLE_ROOM, _t("01:00", "2026-10-25"), _t("02:30", "2026-10-25"), 60),
        Slot(WHOLE_ROOM, _t("02:30", "2026-10-25", "+01:00"), _t("04:00", "2026-10-25", "+01:00")),
        False,
    ),
]
