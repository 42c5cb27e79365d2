"""Conflict logic on plain data: who blocks whom, free slots nearby, competing requests.

Everything here uses the one overlap rule of :mod:`booking.domain.timeslots`: two occupancies
conflict when they share a unit and ``[start, occupied_until)`` overlap. The database enforces the
same rule; this module gives the friendly answer (what conflicts, what is free instead).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar

from booking.domain.organizations import PRICE_CATEGORIES
from booking.domain.rules import local_dates
from booking.domain.timeslots import occupied_until, overlaps
from pricing.weekly import OSLO, WeeklyWindow, window_intervals

SLOT_GRID_MINUTES = 15


@dataclass(frozen=True)
class Occupancy:
    """The units a booking holds from ``start`` until ``occupied_until`` (end plus buffer).
    ``booking_id`` is ``None`` for a booking not saved yet."""

    booking_id: int | None
    unit_ids: frozenset[int]
    start: datetime
    occupied_until: datetime
    organization_name: str | None = None
    room_id: int | None = None

    @classmethod
    def of_booking(
        cls,
        *,
        booking_id: int | None,
        unit_ids: Iterable[int],
        start: datetime,
        end: datetime,
        buffer_minutes: int,
        organization_name: str | None = None,
        room_id: int | None = None,
    ) -> Occupancy:
        """The occupancy of a booking ``[start, end)`` in a room with ``buffer_minutes``."""
        return cls(
            booking_id,
            frozenset(unit_ids),
            start,
            occupied_until(end, buffer_minutes),
            organization_name,
            room_id,
        )


class _Occupying(Protocol):
    @property
    def unit_ids(self) -> frozenset[int]: ...
    @property
    def start(self) -> datetime: ...
    @property
    def occupied_until(self) -> datetime: ...


def _conflict(a: _Occupying, b: _Occupying) -> bool:
    # Divisible rooms are atomic units, so one rule covers plain rooms and parts of a gym.
    return bool(a.unit_ids & b.unit_ids) and overlaps(a.start, a.occupied_until, b.start, b.occupied_until)


def find_conflicts(
    requested: Sequence[Occupancy], existing: Iterable[Occupancy]
) -> list[tuple[Occupancy, Occupancy]]:
    """Every ``(requested, blocking)`` pair where an existing occupancy blocks a requested one.

    Pairs come in the order of ``requested``, and for each by the blocking one's start. An
    existing occupancy with the same (non-``None``) ``booking_id`` as the requested one is the
    booking being moved and never blocks it.
    """
    blockers = sorted(existing, key=lambda o: (o.start, o.booking_id or 0))
    starts = [o.start for o in blockers]
    pairs: list[tuple[Occupancy, Occupancy]] = []
    for wanted in requested:
        # Only occupancies starting before the requested one ends can overlap it.
        for blocking in blockers[: bisect.bisect_left(starts, wanted.occupied_until)]:
            if wanted.booking_id is not None and blocking.booking_id == wanted.booking_id:
                continue
            if _conflict(wanted, blocking):
                pairs.append((wanted, blocking))
    return pairs


def _merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _inside(
    intervals: list[tuple[datetime, datetime]], starts: list[datetime], start: datetime, end: datetime
) -> bool:
    """Is ``[start, end)`` inside one of the disjoint, sorted ``intervals``?"""
    i = bisect.bisect_right(starts, start) - 1
    return i >= 0 and intervals[i][1] >= end


def _hits(
    intervals: list[tuple[datetime, datetime]], starts: list[datetime], start: datetime, end: datetime
) -> bool:
    """Does ``[start, end)`` overlap any of the disjoint, sorted ``intervals``?"""
    # Disjoint and sorted means ends are sorted too: only the last one starting before ``end``
    # can reach past ``start``.
    i = bisect.bisect_left(starts, end) - 1
    return i >= 0 and overlaps(start, end, *intervals[i])


def _nearest_first(first: datetime, count: int, step: timedelta, around: datetime) -> Iterator[datetime]:
    """The points ``first + n * step`` for n = 0..count, nearest to ``around`` first and the
    earlier on a tie; lazily, so a search that finds its slots nearby stops early."""
    after = min(max(-((first - around) // step), 0), count + 1)  # the first point >= around
    before = after - 1
    while before >= 0 or after <= count:
        early, late = first + before * step, first + after * step
        if after > count or (before >= 0 and around - early <= late - around):
            yield early
            before -= 1
        else:
            yield late
            after += 1


def suggest_slots(
    duration: timedelta,
    around: datetime,
    busy: Sequence[tuple[datetime, datetime]],
    opening_hours: Sequence[WeeklyWindow],
    closures: Sequence[tuple[date, date]],
    buffer_minutes: int,
    now: datetime,
    limit: int = 5,
    horizon_days: int = 14,
) -> list[tuple[datetime, datetime]]:
    """The free slots of length ``duration`` in one room nearest to ``around``.

    ``busy`` holds the room's existing occupancies ``(start, occupied_until)``, so their buffers
    are already included; a suggested slot also needs its own ``buffer_minutes`` free after it.

    Decisions:

    - Candidates start on a 15-minute grid (:00, :15, :30, :45 local time), at most
      ``horizon_days`` before or after ``around`` and not before ``now`` (pass
      ``now + min_notice`` to respect a room's notice).
    - A slot lies wholly inside the opening hours (none = always open) and touches no closure
      date.
    - Slots are ranked by their distance from ``around`` in either direction, earlier first on a
      tie, and suggestions never overlap each other: five suggestions are five different
      choices, not 18:15, 18:30, 18:45 ... of the same free evening.
    - Results are aware Oslo datetimes, nearest first; at most ``limit`` of them.
    """
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    if around.tzinfo is None or now.tzinfo is None:
        raise ValueError("around and now must be aware datetimes")
    if limit <= 0:
        return []
    around_utc, now_utc = around.astimezone(UTC), now.astimezone(UTC)
    horizon = timedelta(days=horizon_days)
    grid = timedelta(minutes=SLOT_GRID_MINUTES)
    buffer = timedelta(minutes=buffer_minutes)

    # Oslo's offsets are whole hours, so a UTC quarter hour is a local quarter hour.
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    low = max(around_utc - horizon, now_utc)
    first = epoch + -((epoch - low) // grid) * grid  # the grid point at or after ``low``
    last = around_utc + horizon
    if first > last:
        return []
    candidates = _nearest_first(first, (last - first) // grid, grid, around_utc)

    taken = _merge(busy)
    taken_starts = [s for s, _ in taken]
    open_intervals: list[tuple[datetime, datetime]] | None = None
    if opening_hours:
        open_intervals = _merge(window_intervals(opening_hours, first, last + duration))
    open_starts = [s for s, _ in open_intervals or ()]
    closed_dates: set[date] = set()
    for first_date, last_date in closures:
        # Only the dates the candidates can touch matter; a closure may span years.
        lo = max(first_date, first.astimezone(OSLO).date())
        hi = min(last_date, (last + duration).astimezone(OSLO).date())
        closed_dates.update(lo + timedelta(days=n) for n in range((hi - lo).days + 1))

    chosen: list[tuple[datetime, datetime]] = []
    for start in candidates:
        end = start + duration
        if open_intervals is not None and not _inside(open_intervals, open_starts, start, end):
            continue
        if _hits(taken, taken_starts, start, end + buffer):
            continue
        if closed_dates and any(day in closed_dates for day in local_dates(start, end)):
            continue
        if any(overlaps(start, end, s, e) for s, e in chosen):
            continue
        chosen.append((start, end))
        if len(chosen) == limit:
            break
    return [(s.astimezone(OSLO), e.astimezone(OSLO)) for s, e in chosen]


@dataclass(frozen=True)
class PendingRequest:
    """A pending booking request as the admin's competing-requests list needs it.
    ``price_category`` is the organisation's effective category (``full`` until verified)."""

    booking_id: int
    unit_ids: frozenset[int]
    start: datetime
    occupied_until: datetime
    price_category: str
    created_at: datetime
    organization_name: str | None = None
    room_id: int | None = None


class _Ranked(_Occupying, Protocol):
    @property
    def booking_id(self) -> int: ...
    @property
    def price_category(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


R = TypeVar("R", bound=_Occupying)
W = TypeVar("W", bound=_Ranked)


def competing_groups(requests: Sequence[R]) -> list[list[R]]:
    """Pending requests grouped into competing groups: connected components of the "conflicts
    with" relation (shared unit and overlapping occupancy).

    A and C land in one group when both overlap B even if they do not overlap each other;
    approving one request rejects only the requests that overlap it. Requests that compete with
    nobody are left out. Each group is sorted by start; groups by their first start.
    """
    items = list(requests)
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    order = sorted(range(len(items)), key=lambda i: items[i].start)
    for position, i in enumerate(order):
        # Sweep: later requests that start before this one's occupancy ends are the only
        # candidates for overlapping it.
        for j in order[position + 1 :]:
            if items[j].start >= items[i].occupied_until:
                break
            if _conflict(items[i], items[j]):
                parent[root(i)] = root(j)

    groups: dict[int, list[R]] = {}
    for i in order:
        groups.setdefault(root(i), []).append(items[i])
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0].start)


_PRIORITY = {category: rank for rank, category in enumerate(PRICE_CATEGORIES)}


def priority_key(request: _Ranked) -> tuple[int, datetime, int]:
    """The sort key of the documented priority: category ``free`` before ``reduced`` before
    ``full``, then the earlier request (``created_at``), then the lower id (a stable tie-break)."""
    if request.price_category not in _PRIORITY:
        raise ValueError(f"unknown price category {request.price_category!r}")
    return _PRIORITY[request.price_category], request.created_at, request.booking_id


def suggested_winner(group: Sequence[W]) -> W:
    """The request the admin is advised to approve in a competing group (see
    :func:`priority_key`)."""
    if not group:
        raise ValueError("an empty group has no winner")
    return min(group, key=priority_key)
