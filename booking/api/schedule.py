from flask_smorest import Blueprint

from booking.api.context import current_actor
from booking.schemas.schedule import DayScheduleSchema, ScheduleArgs
from booking.services.schedule import day_schedule

PREFIX = "/buildings"
blp = Blueprint("schedule", __name__, description="The janitor's day schedule")


@blp.route("/<int:building_id>/schedule", methods=["GET"])
@blp.arguments(ScheduleArgs(), location="query", as_kwargs=True)
@blp.response(200, DayScheduleSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a janitor of this building, nor an admin")
@blp.alt_response(404, description="No such building")
@blp.alt_response(422, description="Missing or invalid date")
@blp.doc(security=[{"bearer": []}])
def building_schedule(building_id, date):
    """The day schedule of a building (janitor of it, admin): every confirmed booking in time
    order with contact, attendees, notes, supervision and buffers; per room first unlock and
    last lock"""
    return day_schedule(current_actor(), building_id, date)
