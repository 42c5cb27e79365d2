"""Alternatives offered with a 409: free slots nearby in the same room, and other free rooms."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, bindparam, cast, exists, select

from booking.domain.conflicts import suggest_slots
from booking.domain.rules import local_dates
from booking.domain.timeslots import occupied_until
from booking.extensions import db
from booking.models import Building, Closure, Occupancy, Room, room_units
from booking.models.types import utcnow
from booking.services.availability import busy_intervals, open_test
from pricing.weekly import elapsed

LIMIT = 5
HORIZON_DAYS = 14
# The free times of a refusal are nearly always found within two days of the requested time: the
# search first reads that much of the room's busy time (a few rows instead of four weeks'), and
# reads the whole horizon only when it finds fewer than ``LIMIT`` there. Candidates are tried
# nearest first, so when the near search finds them all, they are the ones the whole search finds.
NEAR_DAYS = 2


def free_slots_in_room(room: Room, start: datetime, end: datetime, limit: int) -> list[dict]:
    now = utcnow() + timedelta(hours=room.min_notice_hours)
    for horizon_days in (NEAR_DAYS, HORIZON_DAYS):
        window_start = start - timedelta(days=horizon_days)
        window_end = occupied_until(end, room.buffer_minutes) + timedelta(days=horizon_days)
        slots = suggest_slots(
            elapsed(start, end),
            start,
            busy_intervals(room.unit_ids, window_start, window_end),
            room.building.opening_windows,
            room.building.closure_ranges,
            room.buffer_minutes,
            now,
            limit=limit,
            horizon_days=horizon_days,
        )
        if len(slots) >= limit:
            break
    return [{"room_id": room.id, "start": s, "end": e} for s, e in slots]


# Rooms of a kind with room for everyone, in the order offered (own building first, then the
# smallest), not closed on the requested days, with their building's opening hours as stored
# text. Sorted before the occupancy test (the OFFSET 0 keeps PostgreSQL from flattening it), so
# the test runs for the first rooms only until ``limit`` free ones are found, not for every room
# of the kind; and the opening hours come in the same statement instead of one reading every
# building's. With the near search above, a refused create in ``bench peer`` (1,000,000
# occurrences): 5 -> 4 statements, 9.0 -> 4.0 ms CPU of this process, 12.7 -> 5.7 ms wall; the
# free-room statement alone 1.9 -> 0.6 ms in PostgreSQL (5 rooms tested instead of 134).
_candidates = (
    select(
        Room.id,
        Room.capacity,
        (Room.building_id != bindparam("building_id")).label("elsewhere"),
        cast(Building.opening_hours, Text).label("opening_hours"),
    )
    .join(Building, Building.id == Room.building_id)
    .where(
        Room.kind == bindparam("kind"),
        Room.id != bindparam("room_id"),
        Room.active.is_(True),
        Room.capacity >= bindparam("capacity"),
        ~exists().where(
            Closure.building_id == Room.building_id,
            Closure.start_date <= bindparam("last_day"),
            Closure.end_date >= bindparam("first_day"),
        ),
    )
    .order_by("elsewhere", Room.capacity, Room.id)
    .offset(0)
    .subquery()
)
_occupied = exists(
    select(Occupancy.id)
    .join(room_units, room_units.c.unit_id == Occupancy.unit_id)
    .where(
        room_units.c.room_id == _candidates.c.id,
        Occupancy.active.is_(True),
        Occupancy.overlapping_parameters(),
    )
)
_ALL_FREE_ROOMS = (
    select(_candidates.c.id, _candidates.c.opening_hours)
    .where(~_occupied)
    .order_by(_candidates.c.elsewhere, _candidates.c.capacity, _candidates.c.id)
)
_FREE_ROOMS = _ALL_FREE_ROOMS.limit(bindparam("limit"))


def free_other_rooms(room: Room, start: datetime, end: datetime, attendees: int, limit: int) -> list[dict]:
    """Rooms of the same kind with room for everyone, free and open at the requested time."""
    days = local_dates(start, end)
    parameters = {
        "kind": room.kind,
        "room_id": room.id,
        "building_id": room.building_id,
        "capacity": max(attendees, 1),
        "first_day": min(days),
        "last_day": max(days),
        **Occupancy.overlap_parameters(start, end),
    }
    is_open = open_test(start, end)
    # The first ``limit`` free rooms, of which those open then; should any be closed by their
    # hours, every free room (rare: buildings are mostly open when a room is asked for).
    rows = db.session.connection().execute(_FREE_ROOMS, {**parameters, "limit": limit}).all()
    found = [room_id for room_id, opening_hours in rows if is_open(opening_hours)]
    if len(found) < limit and len(rows) == limit:
        rows = db.session.connection().execute(_ALL_FREE_ROOMS, parameters).all()
        found = [room_id for room_id, opening_hours in rows if is_open(opening_hours)]
    return [{"room_id": other_id, "start": start, "end": end} for other_id in found[:limit]]


def suggest(room: Room, start: datetime, end: datetime, attendees: int) -> list[dict]:
    """Up to five: two other rooms at the requested time first (the time is what people
    planned around), then the nearest free times in the same room, then more rooms."""
    others = free_other_rooms(room, start, end, attendees, LIMIT)
    same = free_slots_in_room(room, start, end, LIMIT)
    picked = others[:2] + same
    picked += others[2:]
    return picked[:LIMIT]
