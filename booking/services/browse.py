"""Read-only views for the pages: what a visitor browses before and after booking.

Each function answers one page question with a bounded number of queries; writes stay in the
booking, organisation and room services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from booking.domain.lifecycle import OPEN_STATUSES
from booking.extensions import db
from booking.models import Booking, Building, Organization, Room, Series
from booking.services.access import Actor, require_admin, require_user
from booking.services.availability import only_free
from booking.services.pricing import price_lists, quote_occurrences
from booking.services.rooms import search_rooms
from pricing import CATEGORIES, OSLO, PriceList, QuoteRequest, price_list_in_force, quote


def equipment_tags() -> list[str]:
    """Every equipment tag of an active room, sorted (for the search form's checkboxes)."""
    tags: set[str] = set()
    for (equipment,) in db.session.execute(select(Room.equipment).where(Room.active.is_(True))):
        tags.update(equipment or ())
    return sorted(tags)


def organizations_of(actor: Actor) -> list[Organization]:
    """The organisations the actor books for: a member's own; an admin's all."""
    if not actor.is_authenticated or actor.role not in ("member", "admin"):
        return []
    query = select(Organization).order_by(Organization.name, Organization.id)
    if not actor.is_admin:
        query = query.where(Organization.id.in_(actor.organization_ids))
    return list(db.session.execute(query).scalars())


def rooms_by_id(room_ids) -> dict[int, Room]:
    ids = sorted(set(room_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Room).options(joinedload(Room.building)).where(Room.id.in_(ids))
    ).scalars()
    return {room.id: room for room in rows}


def own_booking_ids(actor: Actor, booking_ids) -> set[int]:
    """Which of ``booking_ids`` belong to the actor's organisations (a taken slot that is the
    user's own booking says so instead of naming the organisation as a stranger)."""
    ids = sorted({i for i in booking_ids if i is not None})
    if not ids or not actor.organization_ids:
        return set()
    query = select(Booking.id).where(
        Booking.id.in_(ids), Booking.organization_id.in_(sorted(actor.organization_ids))
    )
    return set(db.session.execute(query).scalars())


@dataclass(frozen=True)
class FreeRoom:
    room: Room
    total_ore: int


def free_rooms(filters: dict, start: datetime, end: datetime, category: str) -> list[FreeRoom]:
    """Active rooms matching the filters that are open and free in ``[start, end)`` and allow a
    booking of that length, each with its price for ``category``. One query for the rooms and
    their buildings, one for the price lists."""
    length = int((end - start).total_seconds() // 60)
    query = search_rooms(dict(filters, active=True)).where(
        Room.min_duration_minutes <= length, Room.max_duration_minutes >= length
    )
    query = only_free(query, start, end).options(joinedload(Room.building).selectinload(Building.closures))
    rooms = list(db.session.execute(query).unique().scalars())
    lists = price_lists()
    return [
        FreeRoom(room, quote_occurrences(room, category, [(start, end)], False, lists=lists)[0].total_ore)
        for room in rooms
    ]


@dataclass(frozen=True)
class PriceRow:
    category: str
    weekday_hour_ore: int
    weekend_hour_ore: int


@dataclass(frozen=True)
class PriceTable:
    version: str
    rows: tuple[PriceRow, ...]
    supervision_weekday_ore: int
    supervision_weekend_ore: int
    supervision_minimum_hours: int


def price_table(room: Room, on: date) -> PriceTable:
    """The hourly rent of the room per category, on weekdays and at weekends, from the price list
    in force on ``on``; priced by ``pricing.quote`` itself so the table cannot disagree with a
    quote."""
    price_list: PriceList = price_list_in_force(price_lists(), on)
    monday = on - timedelta(days=on.weekday())
    weekday_hour = (datetime.combine(monday, time(10), OSLO), datetime.combine(monday, time(11), OSLO))
    saturday = monday + timedelta(days=5)
    weekend_hour = (datetime.combine(saturday, time(10), OSLO), datetime.combine(saturday, time(11), OSLO))

    def rent(category: str, hour) -> int:
        request = QuoteRequest(room.price_group, category, (hour,), supervision="never")
        return quote(price_list, request).total_ore

    rows = tuple(PriceRow(c, rent(c, weekday_hour), rent(c, weekend_hour)) for c in CATEGORIES)
    return PriceTable(
        price_list.version,
        rows,
        price_list.supervision_weekday_ore,
        price_list.supervision_weekend_ore,
        price_list.supervision_minimum_hours,
    )


def upcoming_bookings(actor: Actor, now: datetime) -> list[Booking]:
    """Open bookings of the actor's organisations that have not ended, in time order, with their
    rooms, buildings, organisations and series loaded (a fixed number of queries)."""
    require_user(actor)
    if not actor.organization_ids:
        return []
    query = (
        select(Booking)
        .options(
            joinedload(Booking.room).joinedload(Room.building),
            joinedload(Booking.organization),
            selectinload(Booking.series).selectinload(Series.skipped),
        )
        .where(
            Booking.organization_id.in_(actor.organization_ids),
            Booking.status.in_(OPEN_STATUSES),
            Booking.end > now,
        )
        .order_by(Booking.start, Booking.id)
    )
    return list(db.session.execute(query).unique().scalars())


def recent_decisions(actor: Actor, now: datetime, days: int = 30) -> list[Booking]:
    """Requests of the actor's organisations that were rejected, and bookings cancelled, in the
    last ``days`` days, so a member sees what happened to them."""
    require_user(actor)
    if not actor.organization_ids:
        return []
    query = (
        select(Booking)
        .options(joinedload(Booking.room), selectinload(Booking.series))
        .where(
            Booking.organization_id.in_(actor.organization_ids),
            Booking.status.in_(("rejected", "cancelled")),
            Booking.updated_at > now - timedelta(days=days),
            Booking.end > now,
        )
        .order_by(Booking.start, Booking.id)
        .limit(50)
    )
    return list(db.session.execute(query).unique().scalars())


def pending_requests(actor: Actor, now: datetime) -> list[Booking]:
    """Pending requests that have not started, oldest request first (admin)."""
    require_admin(actor)
    query = (
        select(Booking)
        .options(joinedload(Booking.room).joinedload(Room.building), joinedload(Booking.organization))
        .where(Booking.status == "pending", Booking.start > now)
        .order_by(Booking.start, Booking.id)
    )
    return list(db.session.execute(query).unique().scalars())


def staff_buildings(actor: Actor) -> list[Building]:
    """The buildings whose day schedule the actor may read."""
    require_user(actor)
    query = select(Building).order_by(Building.name)
    if not actor.is_admin:
        query = query.where(Building.id.in_(actor.building_ids or {0}))
    return list(db.session.execute(query).scalars())
