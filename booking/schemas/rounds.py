"""Schemas of application rounds (SPEC §14). Weekly times are local wall-clock ``HH:MM``
(``24:00`` ends at midnight) on a ``weekday`` (0 = Monday .. 6 = Sunday)."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from booking.schemas.common import Count, Id, LocalDate, LocalDateTime, PartialMixin, Text

HHMM = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")


class WallClock(fields.String):
    """``HH:MM`` local time in, minutes of the day out (``24:00`` is 1440); and back."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "metadata", {"description": "Local wall-clock time HH:MM (24:00 = midnight at the end)"}
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not HHMM.match(text):
            raise ValidationError("Use HH:MM (00:00 to 24:00).")
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value if isinstance(value, str) else f"{value // 60:02d}:{value % 60:02d}"


Weekday = lambda **kw: fields.Integer(  # noqa: E731
    strict=True, validate=validate.Range(0, 6), metadata={"description": "0 = Monday .. 6 = Sunday"}, **kw
)


class RoundInputSchema(Schema):
    name = Text(200, 1, required=True)
    season_start = LocalDate(required=True, metadata={"description": "The season's first date"})
    season_end = LocalDate(
        required=True, metadata={"description": "The season's last date (at most 366 days)"}
    )
    opens_at = LocalDateTime(required=True, metadata={"description": "The application window opens"})
    closes_at = LocalDateTime(required=True, metadata={"description": "The application window closes"})
    publish_on = LocalDate(required=True, metadata={"description": "The date results are published"})
    offer_deadline = LocalDateTime(required=True, metadata={"description": "Offers are answered by then"})
    room_ids = fields.List(Id(), validate=validate.Length(max=2000), load_default=list)
    building_ids = fields.List(
        Id(),
        validate=validate.Length(max=200),
        load_default=list,
        metadata={"description": "Every room of these"},
    )


class RoundPatchSchema(PartialMixin, RoundInputSchema):
    pass


class RoundSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    season_start = fields.Date()
    season_end = fields.Date()
    opens_at = LocalDateTime()
    closes_at = LocalDateTime()
    publish_on = fields.Date()
    offer_deadline = LocalDateTime()
    state = fields.String(metadata={"description": "draft, open, closed, allocated or published"})
    seed = fields.String(
        allow_none=True, metadata={"description": "The lottery's seed; shown once the window has closed"}
    )
    room_ids = fields.List(fields.Integer())
    allocated_at = LocalDateTime(allow_none=True)
    published_at = LocalDateTime(allow_none=True)
    rules = fields.String()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class WishSchema(Schema):
    room_id = Id(required=True)
    weekday = Weekday(required=True)
    start = WallClock(required=True)
    end = WallClock(required=True)

    @validates_schema
    def _order(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")


class ApplicationInputSchema(Schema):
    attendees = Count(1, 100_000)
    description = Text(2000)
    children_youth = fields.Boolean(metadata={"description": "An activity for children and youth (under 20)"})
    rank = Count(1, 1000, metadata={"description": "The organisation's own ranking, 1 = most wanted"})
    wishes = fields.List(fields.Nested(WishSchema), validate=validate.Length(1, 3))


class ApplicationCreateSchema(ApplicationInputSchema):
    organization_id = Id(required=True)
    attendees = Count(1, 100_000, required=True)
    description = Text(2000, load_default="")
    children_youth = fields.Boolean(load_default=False)
    wishes = fields.List(fields.Nested(WishSchema), validate=validate.Length(1, 3), required=True)


class ApplicationPatchSchema(ApplicationInputSchema):
    pass


class ApplicationListArgs(Schema):
    organization_id = Id(strict=False)


class AllocationSchema(Schema):
    id = fields.Integer()
    round_id = fields.Integer()
    application_id = fields.Integer()
    organization_id = fields.Integer()
    wish_position = fields.Integer(
        allow_none=True, metadata={"description": "Null: set by hand, or nothing given"}
    )
    room_id = fields.Integer(allow_none=True)
    weekday = fields.Integer(allow_none=True)
    start = fields.String(allow_none=True)
    end = fields.String(allow_none=True)
    explanation = fields.Dict(
        metadata={"description": "Class, pass, continuity, lottery, and per wish what took it"}
    )
    order = fields.Integer()
    pass_number = fields.Integer()
    manual = fields.Boolean()
    offer_state = fields.String(
        allow_none=True, metadata={"description": "offered, accepted, declined or lapsed"}
    )
    series_id = fields.Integer(allow_none=True)
    decided_at = LocalDateTime(allow_none=True)


class ApplicationSchema(Schema):
    id = fields.Integer()
    round_id = fields.Integer()
    organization_id = fields.Integer()
    rank = fields.Integer(allow_none=True)
    attendees = fields.Integer()
    description = fields.String()
    children_youth = fields.Boolean()
    wishes = fields.List(fields.Nested(WishSchema))
    withdrawn_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    allocation = fields.Nested(
        AllocationSchema,
        allow_none=True,
        metadata={"description": "The result, once published (admins: once allocated)"},
    )


class AllocationRunSchema(Schema):
    round_id = fields.Integer()
    allocated_at = LocalDateTime()
    seed = fields.String()
    allocations = fields.List(
        fields.Nested(AllocationSchema), metadata={"description": "In allocation order"}
    )
    unallocated = fields.List(fields.Integer(), metadata={"description": "Applications that got nothing"})


class AllocationPatchSchema(Schema):
    room_id = Id(allow_none=True, required=True, metadata={"description": "Null clears the time"})
    weekday = Weekday()
    start = WallClock()
    end = WallClock()

    @validates_schema
    def _whole(self, data, **kwargs):
        if data.get("room_id") is None:
            return
        for key in ("weekday", "start", "end"):
            if key not in data:
                raise ValidationError("Required with a room_id.", key)
        if data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")


class ResultEntrySchema(Schema):
    room_id = fields.Integer()
    room_name = fields.String()
    organization_id = fields.Integer()
    organization_name = fields.String()
    weekday = fields.Integer()
    start = fields.String()
    end = fields.String()
    offer_state = fields.String()


class RoundResultSchema(Schema):
    round_id = fields.Integer()
    name = fields.String()
    published = fields.Boolean()
    published_at = LocalDateTime(allow_none=True)
    seed = fields.String(allow_none=True)
    rules = fields.String()
    allocations = fields.List(fields.Nested(ResultEntrySchema))
