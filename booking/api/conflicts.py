from flask_smorest import Blueprint

from booking.api.context import current_actor, login_required
from booking.schemas.bookings import CompetingGroupSchema
from booking.services import availability

PREFIX = ""
blp = Blueprint("conflicts", __name__, description="Competing requests")


@blp.route("/conflicts", methods=["GET"])
@login_required
@blp.response(200, CompetingGroupSchema(many=True))
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.doc(security=[{"bearer": []}])
def competing_requests():
    """Groups of pending requests competing for the same time, each with a suggested winner
    (category free before reduced before full, then the earlier request)"""
    return availability.competing_requests(current_actor())
