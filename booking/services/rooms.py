from __future__ import annotations

from sqlalchemy import String, cast, delete, insert, literal, select, union_all
from sqlalchemy.orm import selectinload

from booking.domain.errors import InvalidInput, NotFound, StateConflict
from booking.extensions import db, lock_units
from booking.models import Room, room_parts, room_units
from booking.services.access import Actor, require_admin
from booking.services.buildings import get_building

FIELDS = (
    "name",
    "kind",
    "capacity",
    "equipment",
    "accessible",
    "description",
    "price_group",
    "requires_approval",
    "supervision",
    "buffer_minutes",
    "min_duration_minutes",
    "max_duration_minutes",
    "min_notice_hours",
    "max_advance_days",
    "active",
)


def get_room(room_id: int, *options) -> Room:
    """The room, loaded with the given loader ``options``; ``NotFound`` when there is none."""
    room = db.session.get(Room, room_id, options=options)
    if room is None:
        raise NotFound(f"There is no room {room_id}.")
    return room


def search_rooms(filters: dict):
    """A select of rooms (ORM entities, for the pages that price them) matching the search
    filters (availability filters are added by the availability service, which owns occupancy)."""
    # parts and units are in every room's representation: load them for the whole page at once,
    # their ids only (a page of 50 rooms: 10.0 -> 7.2 ms CPU to load, 1,000,000 occurrences)
    query = select(Room).options(
        selectinload(Room.parts).load_only(Room.id), selectinload(Room.units).load_only(Room.id)
    )
    return _filtered(query, filters)


# A room's own columns, for the API's search: read as plain rows, with the ids of units and
# parts added in one statement for the whole page (:func:`room_dicts`), a page of 50 free rooms
# costs 6.2 ms of CPU instead of 11.7 as ORM entities with their relationships (1,000,000
# occurrences; the same JSON).
_ROOM_COLUMNS = tuple(column for column in Room.__table__.c if column.key not in ("created_at", "updated_at"))


def room_rows(filters: dict):
    """A select of the rooms matching the search filters as rows of their own columns; see
    :func:`room_dicts`."""
    return _filtered(select(*_ROOM_COLUMNS), filters)


def room_dicts(rows: list[dict]) -> list[dict]:
    """Rows of :func:`room_rows` (as dicts) as the room's representation: with ``unit_ids`` and
    ``part_ids`` (in id order, as the relationships give them), read in one statement."""
    ids = [row["id"] for row in rows]
    units: dict[int, list[int]] = {room_id: [] for room_id in ids}
    parts: dict[int, list[int]] = {room_id: [] for room_id in ids}
    if ids:
        links = union_all(
            select(room_units.c.room_id, room_units.c.unit_id, literal(True)).where(
                room_units.c.room_id.in_(ids)
            ),
            select(room_parts.c.room_id, room_parts.c.part_id, literal(False)).where(
                room_parts.c.room_id.in_(ids)
            ),
        )
        for room_id, other_id, is_unit in db.session.execute(links):
            (units if is_unit else parts)[room_id].append(other_id)
    return [
        {**row, "unit_ids": sorted(units[row["id"]]), "part_ids": sorted(parts[row["id"]])} for row in rows
    ]


def _filtered(query, filters: dict):
    query = query.order_by(Room.building_id, Room.name, Room.id)
    if filters.get("building_id") is not None:
        query = query.where(Room.building_id == filters["building_id"])
    if filters.get("kind"):
        query = query.where(Room.kind == filters["kind"])
    if filters.get("min_capacity") is not None:
        query = query.where(Room.capacity >= filters["min_capacity"])
    if filters.get("active") is not None:
        query = query.where(Room.active.is_(filters["active"]))
    for tag in filters.get("equipment") or ():
        # Tags are validated slugs, so matching the quoted tag in the JSON text is exact.
        query = query.where(cast(Room.equipment, String).like(f'%"{tag}"%'))
    return query


def _check_name_free(building_id: int, name: str, room_id: int | None = None) -> None:
    query = select(Room.id).where(Room.building_id == building_id, Room.name == name)
    if room_id is not None:
        query = query.where(Room.id != room_id)
    if db.session.execute(query).first():
        raise StateConflict(f"The building has a room named {name!r} already.")


def _set_parts(room: Room, part_ids: list[int]) -> None:
    # First the units' locks of the room and its new parts: a concurrent parts change of one of
    # them (which would nest divided rooms) is then committed, and seen by the checks below.
    lock_units({*room.unit_ids, *part_ids})
    db.session.expire(room, ["units"])
    parts = [get_room(part_id) for part_id in dict.fromkeys(part_ids)] if part_ids else []
    for part in parts:
        if part.id == room.id:
            raise InvalidInput({"parts": ["A room cannot be a part of itself."]})
        if part.building_id != room.building_id:
            raise InvalidInput({"parts": [f"Room {part.id} is in another building."]})
        if part.parts:
            raise InvalidInput({"parts": [f"Room {part.id} is itself divided; parts must be plain rooms."]})
    if (
        parts
        and db.session.execute(
            select(room_units.c.room_id).where(
                room_units.c.unit_id == room.id, room_units.c.room_id != room.id
            )
        ).first()
    ):
        raise InvalidInput({"parts": ["This room is a part of another room and cannot be divided."]})
    unit_ids = [part.id for part in parts] or [room.id]
    if room.unit_ids and set(unit_ids) != set(room.unit_ids):
        # The room's future bookings move onto the new units in this transaction (the database
        # re-derives their occupancy when room_units changes), or the change is refused.
        from booking.services.bookings import check_layout_change  # bookings reads rooms

        check_layout_change(room, unit_ids)
    room.parts = parts
    db.session.flush()
    db.session.execute(delete(room_units).where(room_units.c.room_id == room.id))
    db.session.execute(insert(room_units), [{"room_id": room.id, "unit_id": u} for u in unit_ids])
    db.session.expire(room, ["units"])


def create_room(actor: Actor, data: dict) -> Room:
    require_admin(actor)
    get_building(data["building_id"])
    _check_name_free(data["building_id"], data["name"])
    room = Room(building_id=data["building_id"])
    for key in FIELDS:
        if key in data:
            setattr(room, key, data[key])
    room.price_group = room.price_group or room.kind
    db.session.add(room)
    db.session.flush()
    _set_parts(room, data.get("part_ids") or [])
    return room


def update_room(actor: Actor, room_id: int, data: dict) -> Room:
    require_admin(actor)
    room = get_room(room_id)
    if "name" in data:
        _check_name_free(room.building_id, data["name"], room.id)
    for key in FIELDS:
        if key in data:
            setattr(room, key, data[key])
    if room.min_duration_minutes > room.max_duration_minutes:
        raise InvalidInput({"max_duration_minutes": ["Must not be less than min_duration_minutes."]})
    if "part_ids" in data:
        _set_parts(room, data["part_ids"])
    db.session.flush()
    return room
