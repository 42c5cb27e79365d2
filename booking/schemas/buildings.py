from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from booking.schemas.common import LocalDate, PartialMixin, Text, Windows


class ClosureSchema(Schema):
    start_date = LocalDate(required=True)
    end_date = LocalDate(required=True)
    reason = Text(500, load_default="")

    @validates_schema
    def _order(self, data, **kwargs):
        if data["end_date"] < data["start_date"]:
            raise ValidationError("Must not be before start_date.", "end_date")


class BuildingSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(200, 1, required=True)
    address = Text(300, load_default="")
    staffed_hours = Windows(
        load_default=list, metadata={"description": "Weekly windows (local time) when a janitor is on duty"}
    )
    opening_hours = Windows(
        load_default=list,
        metadata={"description": "Weekly windows (local time) when rooms may be booked; empty = always"},
    )
    closures = fields.List(fields.Nested(ClosureSchema), load_default=list, validate=validate.Length(max=200))
    timezone = fields.Constant("Europe/Oslo", dump_only=True)


class BuildingPatchSchema(PartialMixin, BuildingSchema):
    pass
