"""The one overlap rule of the project, in Python.

Every interval is half-open, ``[start, end)``: a booking 18:00-20:00 and one 20:00-22:00 do not
overlap. A booking occupies its room's units for ``[start, end + buffer)`` (the changeover time
after it). The SQL twin of :func:`overlaps` lives with the models and is tested against the same
table, ``tests/boundary_cases.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pricing.weekly import OSLO


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when the half-open intervals ``[a_start, a_end)`` and ``[b_start, b_end)`` share an
    instant. Touching intervals (``a_end == b_start``) do not overlap."""
    return a_start < b_end and b_start < a_end


def occupied_until(end: datetime, buffer_minutes: int) -> datetime:
    """The end of a booking's occupancy: ``end`` plus the room's changeover buffer.

    The buffer is counted in real minutes, not wall-clock minutes: Python adds a ``timedelta``
    to an aware datetime in wall-clock time, which would make a 60-minute buffer across the
    autumn DST change last two real hours. A naive ``end`` (as some database drivers return
    UTC values) is taken as it is.
    """
    if buffer_minutes < 0:
        raise ValueError("buffer_minutes must not be negative")
    if end.tzinfo is None:
        return end + timedelta(minutes=buffer_minutes)
    return (end.astimezone(UTC) + timedelta(minutes=buffer_minutes)).astimezone(end.tzinfo)


def local_day_bounds(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """The Oslo local dates ``first`` to ``last`` (inclusive; just ``first`` when ``last`` is
    None) as the instants ``[first 00:00, the day after last 00:00)``, in Oslo time.

    A day is 23 or 25 hours long on the days the clocks change; Oslo never changes them at
    midnight, so local midnight always exists and is unambiguous.
    """
    after = (last or first) + timedelta(days=1)
    return datetime.combine(first, time(0), OSLO), datetime.combine(after, time(0), OSLO)
