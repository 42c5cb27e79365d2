"""Alternatives offered with a 409: free slots nearby in the same room, and other free rooms."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from booking.domain.conflicts import suggest_slots
from booking.domain.timeslots import occupied_until
from booking.extensions import db
from booking.models import Room
from booking.models.types import utcnow
from booking.services.availability import busy_intervals, occupied_clause, open_building_ids
from pricing.weekly import elapsed

LIMIT = 5
HORIZON_DAYS = 14


def free_slots_in_room(room: Room, start: datetime, end: datetime, limit: int) -> list[dict]:
    now = utcnow() + timedelta(hours=room.min_notice_hours)
    window_start = start - timedelta(days=HORIZON_DAYS)
    window_end = occupied_until(end, room.buffer_minutes) + timedelta(days=HORIZON_DAYS)
    slots = suggest_slots(
        elapsed(start, end),
        start,
        busy_intervals(room.unit_ids, window_start, window_end),
        room.building.opening_windows,
        room.building.closure_ranges,
        room.buffer_minutes,
        now,
        limit=limit,
        horizon_days=HORIZON_DAYS,
    )
    return [{"room_id": room.id, "start": s, "end": e} for s, e in slots]


def free_other_rooms(room: Room, start: datetime, end: datetime, attendees: int, limit: int) -> list[dict]:
    """Rooms of the same kind with room for everyone, free and open at the requested time."""
    candidates = db.session.execute(
        select(Room.id)
        .where(
            Room.kind == room.kind,
            Room.id != room.id,
            Room.active.is_(True),
            Room.capacity >= max(attendees, 1),
            Room.building_id.in_(open_building_ids(start, end)),
            ~occupied_clause(Room.id, start, end),
        )
        .order_by((Room.building_id != room.building_id), Room.capacity, Room.id)
        .limit(limit)
    ).scalars()
    return [{"room_id": other_id, "start": start, "end": end} for other_id in candidates]


def suggest(room: Room, start: datetime, end: datetime, attendees: int) -> list[dict]:
    """Up to five: two other rooms at the requested time first (the time is what people
    planned around), then the nearest free times in the same room, then more rooms."""
    others = free_other_rooms(room, start, end, attendees, LIMIT)
    same = free_slots_in_room(room, start, end, LIMIT)
    picked = others[:2] + same
    picked += others[2:]
    return picked[:LIMIT]
