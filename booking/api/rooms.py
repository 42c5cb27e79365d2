from datetime import timedelta

from flask_smorest import Blueprint

from booking.api.context import PAGINATION, current_actor, login_required, paginate
from booking.domain.errors import InvalidInput
from booking.models.types import utcnow
from booking.schemas.rooms import (
    AvailabilityArgs,
    AvailabilitySchema,
    RoomCreateSchema,
    RoomPatchSchema,
    RoomSchema,
    RoomSearchSchema,
)
from booking.services import availability, rooms

PREFIX = "/rooms"
blp = Blueprint("rooms", __name__, description="Rooms and room search")


@blp.route("", methods=["GET"])
@blp.arguments(RoomSearchSchema(), location="query", as_kwargs=True)
@blp.response(200, RoomSchema(many=True))
@blp.paginate(**PAGINATION)
def search_rooms(pagination_parameters, **filters):
    """Search rooms by building, kind, capacity, equipment, and free time (`free_from` and
    `free_to` together: rooms open then and with no booking overlapping)"""
    query = rooms.room_rows(filters)
    free_from, free_to = filters.get("free_from"), filters.get("free_to")
    if (free_from is None) != (free_to is None):
        raise InvalidInput(
            {"free_to" if free_to is None else "free_from": ["Give free_from and free_to together."]}
        )
    if free_from is not None:
        if free_to <= free_from:
            raise InvalidInput({"free_to": ["Must be after free_from."]})
        query = availability.only_free(query, free_from, free_to)
    return rooms.room_dicts(paginate(query, pagination_parameters, rows=True))


@blp.route("/<int:room_id>/availability", methods=["GET"])
@blp.arguments(AvailabilityArgs(), location="query", as_kwargs=True)
@blp.response(200, AvailabilitySchema)
@blp.alt_response(404, description="No such room")
def room_availability(room_id, **args):
    """Busy and free time of a room (default: the next 7 days; at most 92 days)"""
    start = args.get("from_") or utcnow()
    end = args.get("to") or start + timedelta(days=7)
    return availability.room_availability(room_id, start, end)


@blp.route("", methods=["POST"])
@login_required
@blp.arguments(RoomCreateSchema())
@blp.response(201, RoomSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such building or part")
@blp.alt_response(409, description="Name in use in the building")
@blp.doc(security=[{"bearer": []}])
def create_room(data):
    """Create a room (admin); `parts` makes it divisible"""
    return rooms.create_room(current_actor(), data)


@blp.route("/<int:room_id>", methods=["GET"])
@blp.response(200, RoomSchema)
@blp.alt_response(404, description="No such room")
def get_room(room_id):
    """A room"""
    return rooms.get_room(room_id)


@blp.route("/<int:room_id>", methods=["PATCH"])
@login_required
@blp.arguments(RoomPatchSchema())
@blp.response(200, RoomSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such room")
@blp.doc(security=[{"bearer": []}])
def update_room(data, room_id):
    """Change a room (admin)"""
    return rooms.update_room(current_actor(), room_id, data)
