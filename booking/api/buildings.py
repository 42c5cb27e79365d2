from flask_smorest import Blueprint

from booking.api.context import PAGINATION, current_actor, login_required, paginate
from booking.schemas.buildings import BuildingPatchSchema, BuildingSchema
from booking.services import buildings

PREFIX = "/buildings"
blp = Blueprint("buildings", __name__, description="Buildings with opening and staffed hours")


@blp.route("", methods=["GET"])
@blp.response(200, BuildingSchema(many=True))
@blp.paginate(**PAGINATION)
def list_buildings(pagination_parameters):
    """List buildings"""
    return paginate(buildings.list_buildings(), pagination_parameters)


@blp.route("", methods=["POST"])
@login_required
@blp.arguments(BuildingSchema())
@blp.response(201, BuildingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(409, description="Name in use")
@blp.doc(security=[{"bearer": []}])
def create_building(data):
    """Create a building (admin)"""
    return buildings.create_building(current_actor(), data)


@blp.route("/<int:building_id>", methods=["GET"])
@blp.response(200, BuildingSchema)
@blp.alt_response(404, description="No such building")
def get_building(building_id):
    """A building"""
    return buildings.get_building(building_id)


@blp.route("/<int:building_id>", methods=["PATCH"])
@login_required
@blp.arguments(BuildingPatchSchema())
@blp.response(200, BuildingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such building")
@blp.alt_response(409, description="Name in use")
@blp.doc(security=[{"bearer": []}])
def update_building(data, building_id):
    """Change a building (admin)"""
    return buildings.update_building(current_actor(), building_id, data)
