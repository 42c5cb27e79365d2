"""The janitor's day schedule (SPEC §6) as JSON."""

from marshmallow import Schema, fields

from booking.schemas.common import LocalDateTime


class ScheduleArgs(Schema):
    date = fields.Date(required=True, metadata={"description": "The local date, YYYY-MM-DD"})


class IntervalSchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()


def _pair(value) -> dict:
    return {"start": value[0], "end": value[1]}


_INTERVALS = IntervalSchema(many=True)  # built once: a schema instance per interval is costly


class SupervisionSchema(Schema):
    needed = fields.Boolean(
        metadata={
            "description": "Part of the booking is outside staffed hours (or the "
            "room always needs supervision)"
        }
    )
    own_supervisor = fields.Boolean(metadata={"description": "The association brings a certified supervisor"})
    intervals = fields.Function(
        lambda s: _INTERVALS.dump([_pair(i) for i in s.intervals]),
        metadata={"description": "The parts that need supervision"},
    )
    minutes = fields.Integer()
    reason = fields.String(allow_none=True, metadata={"description": "The price snapshot's reason (bokmål)"})


class ScheduleEntrySchema(Schema):
    booking_id = fields.Integer()
    series_id = fields.Integer(allow_none=True)
    room_id = fields.Integer()
    room_name = fields.String()
    organization_id = fields.Integer()
    organization_name = fields.String()
    contact_name = fields.String()
    phone = fields.String()
    email = fields.String()
    title = fields.String()
    start = LocalDateTime()
    end = LocalDateTime()
    attendees = fields.Integer()
    notes = fields.String()
    buffer_minutes = fields.Integer(metadata={"description": "Changeover after the booking"})
    buffer_until = LocalDateTime(metadata={"description": "End plus the changeover buffer"})
    supervision = fields.Nested(SupervisionSchema)


class RoomDaySchema(Schema):
    room_id = fields.Integer()
    room_name = fields.String()
    first_unlock = LocalDateTime()
    last_lock = LocalDateTime(metadata={"description": "The last booking's end plus its changeover buffer"})
    booking_ids = fields.Function(lambda r: [e.booking_id for e in r.entries])


class DayScheduleSchema(Schema):
    building_id = fields.Function(lambda s: s.building.id)
    building_name = fields.Function(lambda s: s.building.name)
    address = fields.Function(lambda s: s.building.address)
    date = fields.Date(attribute="day")
    is_holiday = fields.Boolean()
    closure_reason = fields.String(allow_none=True)
    staffed = fields.Function(
        lambda s: _INTERVALS.dump([_pair(i) for i in s.staffed]),
        metadata={"description": "When a janitor is on duty that day"},
    )
    bookings = fields.List(
        fields.Nested(ScheduleEntrySchema),
        attribute="entries",
        metadata={"description": "Every confirmed booking of the day, in time order"},
    )
    rooms = fields.List(
        fields.Nested(RoomDaySchema), metadata={"description": "Per room: first unlock, last lock"}
    )
