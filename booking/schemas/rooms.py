from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from booking.models.room import ROOM_KINDS, SUPERVISION_MODES
from booking.schemas.common import Count, Id, LocalDateTime, PartialMixin, Slug, Text
from pricing import PRICE_GROUPS


class RoomSchema(Schema):
    id = fields.Integer(dump_only=True)
    building_id = Id(required=True)
    name = Text(200, 1, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ROOM_KINDS))
    capacity = Count(1, 100_000, required=True)
    equipment = fields.List(Slug(), load_default=list, validate=validate.Length(max=50))
    accessible = fields.Boolean(load_default=False)
    description = Text(5000, load_default="")
    price_group = fields.String(
        validate=validate.OneOf(PRICE_GROUPS),
        metadata={"description": "Key into the price list; default: kind"},
    )
    requires_approval = fields.Boolean(load_default=False)
    supervision = fields.String(
        load_default="outside_staffed_hours", validate=validate.OneOf(SUPERVISION_MODES)
    )
    buffer_minutes = Count(0, 240, load_default=0)
    min_duration_minutes = Count(1, 10_080, load_default=30)
    max_duration_minutes = Count(1, 10_080, load_default=720)
    min_notice_hours = Count(0, 8_760, load_default=0)
    max_advance_days = Count(1, 1_000, load_default=365)
    active = fields.Boolean(load_default=True)
    parts = fields.List(
        Id(),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "Room ids this room is made of (a divisible room)"},
        attribute="part_ids",
        data_key="parts",
    )
    units = fields.List(fields.Integer(), dump_only=True, attribute="unit_ids")


class RoomCreateSchema(RoomSchema):
    class Meta:
        exclude = ("units",)


class RoomPatchSchema(PartialMixin, RoomSchema):
    class Meta:
        exclude = ("building_id", "units")


class RoomSearchSchema(Schema):
    building_id = Id(strict=False)
    kind = fields.String(validate=validate.OneOf(ROOM_KINDS))
    min_capacity = Count(0, 100_000, strict=False)
    equipment = DelimitedList(Slug(), metadata={"description": "Comma-separated tags; rooms must have all"})
    free_from = LocalDateTime(metadata={"description": "With free_to: only rooms free in the whole interval"})
    free_to = LocalDateTime()


class AvailabilityArgs(Schema):
    from_ = LocalDateTime(data_key="from", metadata={"description": "Default: now"})
    to = LocalDateTime(metadata={"description": "Default: from + 7 days; at most 92 days after from"})


class BusySchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()
    occupied_until = LocalDateTime(metadata={"description": "end plus the changeover buffer"})
    organization_name = fields.String()
    title = fields.String(
        allow_none=True, metadata={"description": "Only when the booking's title is public"}
    )
    status = fields.String()


class IntervalSchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()


class AvailabilitySchema(Schema):
    room_id = fields.Integer()
    from_ = LocalDateTime(data_key="from", attribute="from")
    to = LocalDateTime()
    busy = fields.List(fields.Nested(BusySchema))
    free = fields.List(
        fields.Nested(IntervalSchema), metadata={"description": "Free time inside opening hours"}
    )
