from flask_smorest import Blueprint

from booking.api.context import PAGINATION, current_actor, paginate
from booking.schemas.rooms import RoomCreateSchema, RoomPatchSchema, RoomSchema, RoomSearchSchema
from booking.services import rooms

PREFIX = "/rooms"
blp = Blueprint("rooms", __name__, description="Rooms and room search")


@blp.route("", methods=["GET"])
@blp.arguments(RoomSearchSchema, location="query", as_kwargs=True)
@blp.response(200, RoomSchema(many=True))
@blp.paginate(**PAGINATION)
def search_rooms(pagination_parameters, **filters):
    """Search rooms by building, kind, capacity, equipment and free time"""
    return paginate(rooms.search_rooms(filters), pagination_parameters)


@blp.route("", methods=["POST"])
@blp.arguments(RoomCreateSchema)
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
@blp.arguments(RoomPatchSchema)
@blp.response(200, RoomSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such room")
@blp.doc(security=[{"bearer": []}])
def update_room(data, room_id):
    """Change a room (admin)"""
    return rooms.update_room(current_actor(), room_id, data)
