"""The janitor's day schedule (SPEC §6): who comes when, where, and where supervision is needed.

One building, one local date (Europe/Oslo). Every confirmed booking that overlaps the day, in time
order, with the room, the organisation's contact person and phone, attendees, notes, the
supervision it needs (and whether the association brings its own), the changeover buffer, and
per room the first unlock and the last lock. Pending requests are left out: nobody comes for
them until an admin confirms them.

Decisions:

- Supervision is computed from the room's mode and the building's *current* staffed hours
  (``pricing.weekly``), not read from the price snapshot: the janitor needs today's reality, and
  staffed hours may have changed since the booking was priced. The snapshot's reason is kept as
  ``supervision.reason`` for reference.
- First unlock is the earliest start in the room that day; last lock is the latest
  ``end + buffer`` (the changeover after the last group is part of the room's day). A booking that
  runs past midnight counts on both days, clipped to each.

The queries are bounded: the building (with its closures) and one query for the bookings joined
to their rooms and organisations, however many bookings there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, selectinload

from booking.domain.errors import InvalidInput, NotFound
from booking.domain.holidays import is_public_holiday
from booking.domain.timeslots import local_day_bounds, occupied_until
from booking.extensions import db
from booking.models import Booking, Building, Room
from booking.models.booking import MAX_OCCUPANCY_HOURS
from booking.services.access import Actor, can_read_building_private, require_building_staff, require_role
from pricing.weekly import OSLO, WeeklyWindow, elapsed, uncovered, window_intervals

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Supervision:
    needed: bool
    own_supervisor: bool  # the association brings a certified supervisor
    intervals: tuple[Interval, ...]  # the parts of the booking that need supervision (local time)
    reason: str | None  # the price snapshot's reason (bokmål), for reference

    @property
    def minutes(self) -> int:
        return sum(int(elapsed(a, b).total_seconds() // 60) for a, b in self.intervals)


@dataclass(frozen=True)
class ScheduleEntry:
    booking_id: int
    series_id: int | None
    room_id: int
    room_name: str
    organization_id: int
    organization_name: str
    contact_name: str
    phone: str
    email: str
    title: str
    start: datetime
    end: datetime
    attendees: int
    notes: str
    buffer_minutes: int
    supervision: Supervision

    @property
    def buffer_until(self) -> datetime:
        # the domain's rule: the buffer is real minutes, also across a clock change
        return occupied_until(self.end, self.buffer_minutes)


@dataclass(frozen=True)
class RoomDay:
    room_id: int
    room_name: str
    first_unlock: datetime
    last_lock: datetime
    entries: tuple[ScheduleEntry, ...]


@dataclass(frozen=True)
class DaySchedule:
    building: Building
    day: date
    is_holiday: bool
    closure_reason: str | None
    staffed: tuple[Interval, ...]
    entries: tuple[ScheduleEntry, ...]  # every booking of the day, in time order
    rooms: tuple[RoomDay, ...] = field(default=())  # per room, by first unlock


def supervised_intervals(
    mode: str, staffed: list[WeeklyWindow], start: datetime, end: datetime
) -> list[Interval]:
    """The parts of ``[start, end)`` that need supervision: outside staffed hours, all of it
    (``always``) or none (``never``); local time."""
    start, end = start.astimezone(OSLO), end.astimezone(OSLO)
    if mode == "never":
        return []
    if mode == "always":
        return [(start, end)]
    return uncovered(start, end, window_intervals(staffed, start, end))


def _supervision(booking: Booking, staffed: list[WeeklyWindow]) -> Supervision:
    intervals = supervised_intervals(booking.room.supervision, staffed, booking.start, booking.end)
    occurrences = (booking.quote or {}).get("occurrences") or [{}]
    return Supervision(
        needed=bool(intervals),
        own_supervisor=booking.own_supervisor,
        intervals=tuple(intervals),
        reason=occurrences[0].get("supervision_reason"),
    )


def _entry(booking: Booking, staffed: list[WeeklyWindow]) -> ScheduleEntry:
    organization = booking.organization
    return ScheduleEntry(
        booking_id=booking.id,
        series_id=booking.series_id,
        room_id=booking.room_id,
        room_name=booking.room.name,
        organization_id=organization.id,
        organization_name=organization.name,
        contact_name=organization.contact_name,
        phone=organization.phone,
        email=organization.email,
        title=booking.title,
        start=booking.start.astimezone(OSLO),
        end=booking.end.astimezone(OSLO),
        attendees=booking.attendees,
        notes=booking.notes,
        buffer_minutes=booking.room.buffer_minutes,
        supervision=_supervision(booking, staffed),
    )


def _rooms(entries: list[ScheduleEntry], day_start: datetime, day_end: datetime) -> list[RoomDay]:
    by_room: dict[int, list[ScheduleEntry]] = {}
    for entry in entries:
        by_room.setdefault(entry.room_id, []).append(entry)
    rooms = [
        RoomDay(
            room_id=room_entries[0].room_id,
            room_name=room_entries[0].room_name,
            first_unlock=max(min(e.start for e in room_entries), day_start),
            last_lock=min(max(e.buffer_until for e in room_entries), day_end),
            entries=tuple(room_entries),
        )
        for room_entries in by_room.values()
    ]
    return sorted(rooms, key=lambda r: (r.first_unlock, r.room_name, r.room_id))


# The days a schedule can be made for: far wider than any booking, and clear of the calendar's
# edges (year 1, 9999), where a day's bounds and the search around them do not exist.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def day_schedule(actor: Actor, building_id: int, day: date) -> DaySchedule:
    """The day schedule of one building, for its janitors and admins (403 for anyone else,
    checked before the building is looked up so a janitor learns nothing of other buildings)."""
    require_building_staff(actor, building_id)
    building = db.session.execute(
        select(Building).options(selectinload(Building.closures)).where(Building.id == building_id)
    ).scalar_one_or_none()
    if building is None:
        raise NotFound(f"There is no building {building_id}.")
    _require_schedule_day(day)
    bookings = _confirmed_bookings([building_id], day)
    return _building_day(building, day, bookings)


def buildings_day_schedules(actor: Actor, day: date) -> list[DaySchedule]:
    """The day schedules of every building the actor may read, by building name: a janitor's
    assigned buildings, every building for an admin (403 for anyone else). Three queries however
    many buildings and bookings there are: the buildings, their closures, the bookings."""
    require_role(actor, "janitor", "admin")
    _require_schedule_day(day)
    query = select(Building).options(selectinload(Building.closures)).order_by(Building.name, Building.id)
    if not actor.is_admin:
        query = query.where(Building.id.in_(actor.building_ids or {0}))
    buildings = list(db.session.execute(query).scalars())
    by_building: dict[int, list[Booking]] = {building.id: [] for building in buildings}
    for booking in _confirmed_bookings(list(by_building), day):
        by_building[booking.room.building_id].append(booking)
    return [_building_day(building, day, by_building[building.id]) for building in buildings]


@dataclass(frozen=True)
class DayCount:
    """How busy a building is on a day: its confirmed bookings and the first one's start (local
    time, clipped to the day), None for a day without bookings."""

    bookings: int
    first_start: datetime | None


def day_counts(actor: Actor, building_ids: list[int], day: date) -> dict[int, DayCount]:
    """Per building the actor may read among ``building_ids``: the bookings of the day, as the
    day schedule counts them (confirmed, overlapping the local day); one query. Buildings the
    actor may not read are left out."""
    _require_schedule_day(day)
    readable = [b for b in building_ids if can_read_building_private(actor, b)]
    counts = {building_id: DayCount(0, None) for building_id in readable}
    if not readable:
        return counts
    day_start, day_end = local_day_bounds(day)
    rows = db.session.execute(
        _day_bookings_filter(
            select(Room.building_id, func.count(Booking.id), func.min(Booking.start)).join(Booking.room),
            readable,
            day_start,
            day_end,
        ).group_by(Room.building_id)
    )
    for building_id, bookings, first_start in rows:
        first = max(first_start, day_start).astimezone(OSLO)
        counts[building_id] = DayCount(bookings, first)
    return counts


def _require_schedule_day(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput({"date": [f"Choose a date from {FIRST_DAY} to {LAST_DAY}."]})


def _day_bookings_filter(query, building_ids: list[int], day_start: datetime, day_end: datetime):
    """``query`` (joined to the bookings' rooms) narrowed to the confirmed bookings of the
    buildings that overlap the day."""
    return query.where(
        Room.building_id.in_(building_ids),
        Booking.status == "confirmed",
        Booking.start < day_end,
        Booking.end > day_start,
        # bookings last at most a week: this bound keeps the (room_id, start) index scan short
        Booking.start > day_start - timedelta(hours=MAX_OCCUPANCY_HOURS),
    )


def _confirmed_bookings(building_ids: list[int], day: date) -> list[Booking]:
    """The confirmed bookings of the buildings that overlap the local day, with their rooms and
    organisations, in time order (one query)."""
    if not building_ids:
        return []
    day_start, day_end = local_day_bounds(day)
    query = (
        select(Booking)
        .join(Booking.room)
        .join(Booking.organization)
        .options(contains_eager(Booking.room), contains_eager(Booking.organization))
    )
    query = _day_bookings_filter(query, building_ids, day_start, day_end)
    return list(db.session.execute(query.order_by(Booking.start, Room.name, Booking.id)).scalars())


def _building_day(building: Building, day: date, bookings: list[Booking]) -> DaySchedule:
    day_start, day_end = local_day_bounds(day)
    staffed = building.staffed_windows
    entries = [_entry(booking, staffed) for booking in bookings]
    closure = next((c for c in building.closures if c.start_date <= day <= c.end_date), None)
    return DaySchedule(
        building=building,
        day=day,
        is_holiday=is_public_holiday(day),
        closure_reason=(closure.reason or "closed") if closure else None,
        staffed=tuple(window_intervals(staffed, day_start, day_end)),
        entries=tuple(entries),
        rooms=tuple(_rooms(entries, day_start, day_end)),
    )
