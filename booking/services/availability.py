"""When rooms are busy and free (public: organisation names only), and competing requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Text, bindparam, cast, exists, select
from sqlalchemy.orm import joinedload

from booking.domain.conflicts import PendingRequest, competing_groups, suggested_winner
from booking.domain.errors import InvalidInput
from booking.domain.rules import local_dates
from booking.domain.timeslots import local_day_bounds
from booking.extensions import db
from booking.models import Booking, Building, Closure, Occupancy, Organization, Room, room_units
from booking.services.access import Actor, require_admin
from booking.services.rooms import get_room
from pricing.weekly import OSLO, WeeklyWindow, is_within, parse_windows, uncovered, window_intervals

MAX_RANGE_DAYS = 92


_BUSY = select(Occupancy.start, Occupancy.occupied_until).where(
    Occupancy.unit_id.in_(bindparam("units", expanding=True)),
    Occupancy.active.is_(True),
    Occupancy.overlapping_parameters(),
)


def busy_intervals(unit_ids, start: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    parameters = {"units": list(unit_ids), **Occupancy.overlap_parameters(start, until)}
    rows = db.session.connection().execute(_BUSY, parameters)
    return [tuple(row) for row in rows]


def occupied_clause(room_id_column, start: datetime, until: datetime):
    """SQL: the room (any of its units) has an active occupancy overlapping [start, until)."""
    return exists(
        select(Occupancy.id)
        .join(room_units, room_units.c.unit_id == Occupancy.unit_id)
        .where(
            room_units.c.room_id == room_id_column,
            Occupancy.active.is_(True),
            Occupancy.overlapping(start, until),
        )
    )


def room_availability(room_id: int, start: datetime, end: datetime) -> dict:
    """Busy intervals (bookings with their buffers, organisation names only) and the free
    intervals inside opening hours, outside closures, in ``[start, end)``."""
    if end <= start:
        raise InvalidInput({"to": ["Must be after from."]})
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise InvalidInput({"to": [f"At most {MAX_RANGE_DAYS} days after from."]})
    # The room with its building and the building's closures (two statements), and the busy
    # time of the room's units asked by room (not a list of units read first): 5 -> 3 statements.
    room = get_room(room_id, joinedload(Room.building).selectinload(Building.closures))
    rows = db.session.execute(
        select(
            Booking.id,
            Booking.start,
            Booking.end,
            Booking.status,
            Booking.public_title,
            Booking.title,
            Organization.name,
            Occupancy.occupied_until,
        )
        .join(Occupancy, Occupancy.booking_id == Booking.id)
        .join(Organization, Organization.id == Booking.organization_id)
        .where(
            Occupancy.unit_id.in_(select(room_units.c.unit_id).where(room_units.c.room_id == room.id)),
            Occupancy.active.is_(True),
            Occupancy.overlapping(start, end),
        )
        .order_by(Booking.start)
    ).all()
    busy, seen = [], set()
    for booking_id, b_start, b_end, status, public, title, org_name, until in rows:
        if booking_id in seen:
            continue
        seen.add(booking_id)
        busy.append(
            {
                "start": b_start,
                "end": b_end,
                "occupied_until": until,
                "organization_name": org_name,
                "title": title if public else None,
                "status": status,
            }
        )
    building = room.building
    if building.opening_windows:
        open_intervals = list(window_intervals(building.opening_windows, start, end))
    else:
        open_intervals = [(start.astimezone(OSLO), end.astimezone(OSLO))]
    closed = {d for a, b in building.closure_ranges for d in _days(a, b)}
    free = []
    for o_start, o_end in open_intervals:
        for f_start, f_end in uncovered(o_start, o_end, [(b["start"], b["occupied_until"]) for b in busy]):
            free.extend(_without_closed_days(f_start, f_end, closed))
    return {
        "room_id": room.id,
        "from": start,
        "to": end,
        "busy": busy,
        "free": [{"start": s, "end": e} for s, e in free],
    }


def _days(first, last):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _without_closed_days(start, end, closed):
    if not closed:
        return [(start, end)]
    pieces, current = [], None
    cursor = start.astimezone(OSLO)
    for day in local_dates(start, end):
        local_start, local_end = local_day_bounds(day)
        day_start, day_end = max(cursor, local_start), min(end.astimezone(OSLO), local_end)
        if day in closed:
            if current:
                pieces.append(current)
                current = None
            continue
        current = (current[0], day_end) if current else (day_start, day_end)
    if current:
        pieces.append(current)
    return pieces


@lru_cache(maxsize=256)
def stored_windows(opening_hours: str | None) -> tuple[WeeklyWindow, ...]:
    """Opening hours from their stored JSON text (read with ``cast(..., Text)``): parsed once
    per text in each process, and keyed by the text itself, so never stale. Buildings mostly
    share their hours; decoding and parsing every building's on every search cost about 1.5 ms
    of CPU of a room search (50 buildings)."""
    return tuple(parse_windows((json.loads(opening_hours) if opening_hours else None) or []))


def open_building_ids(start: datetime, end: datetime) -> list[int]:
    """Buildings whose opening hours cover ``[start, end)`` and that are not closed then: one
    statement (closures are tested in SQL), each set of opening hours tested once."""
    days = local_dates(start, end)
    closed = exists().where(
        Closure.building_id == Building.id, Closure.start_date <= max(days), Closure.end_date >= min(days)
    )
    is_open = open_test(start, end)
    rows = db.session.execute(
        select(Building.id, cast(Building.opening_hours, Text)).where(~closed).order_by(Building.id)
    )
    return [building_id for building_id, opening_hours in rows if is_open(opening_hours)]


def open_test(start: datetime, end: datetime) -> Callable[[str | None], bool]:
    """Whether stored opening hours (text, see :func:`stored_windows`) cover ``[start, end)``:
    each text tested once (buildings mostly share their hours); no hours is always open."""
    open_by_hours: dict[str | None, bool] = {}

    def is_open(opening_hours: str | None) -> bool:
        if opening_hours not in open_by_hours:
            windows = stored_windows(opening_hours)
            open_by_hours[opening_hours] = not windows or is_within(windows, start, end)
        return open_by_hours[opening_hours]

    return is_open


def only_free(query, start: datetime, end: datetime):
    """Narrow a room query to rooms open and unbooked (no unit occupied) in ``[start, end)``."""
    return query.where(
        Room.building_id.in_(open_building_ids(start, end)), ~occupied_clause(Room.id, start, end)
    )


def competing_requests(actor: Actor) -> list[dict]:
    """Groups of pending requests that overlap on a shared unit, with the suggested winner:
    category free before reduced before full, then the earlier request, then the lower id."""
    require_admin(actor)
    rows = db.session.execute(
        select(Booking, Organization, Occupancy.unit_id, Occupancy.occupied_until)
        .join(Organization, Organization.id == Booking.organization_id)
        .join(Occupancy, Occupancy.booking_id == Booking.id)
        .where(Booking.status == "pending")
        .order_by(Booking.start, Booking.id)
    ).all()
    requests: dict[int, PendingRequest] = {}
    bookings: dict[int, Booking] = {}
    for booking, organization, unit_id, until in rows:
        known = requests.get(booking.id)
        units = frozenset({unit_id}) | (known.unit_ids if known else frozenset())
        requests[booking.id] = PendingRequest(
            booking.id,
            units,
            booking.start,
            until,
            organization.effective_category,
            booking.created_at,
            organization.name,
            booking.room_id,
        )
        bookings[booking.id] = booking
    groups = []
    for group in competing_groups(list(requests.values())):
        if len(group) < 2:
            continue
        winner = suggested_winner(group)
        groups.append(
            {
                "unit_ids": sorted(set().union(*(r.unit_ids for r in group))),
                "requests": [bookings[r.booking_id] for r in group],
                "suggested_winner_id": winner.booking_id,
                "priority": "category free before reduced before full, then the earlier request",
            }
        )
    return groups
