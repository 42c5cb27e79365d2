from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from booking.domain.lifecycle import Status
from booking.schemas.common import Count, Id, LocalDateTime, Snapshot, Text


class QuoteLineSchema(Schema):
    code = fields.String()
    description = fields.String()
    quantity = fields.Integer()
    unit = fields.String(metadata={"description": "half_hour, hour or booking"})
    unit_price_ore = fields.Integer()
    amount_ore = fields.Integer()
    tax_code = fields.String()
    vat_percent = fields.Integer()


class OccurrencePriceSchema(Schema):
    booking_id = fields.Integer(allow_none=True)
    start = fields.String()
    end = fields.String()
    total_ore = fields.Integer()
    lines = fields.List(fields.Nested(QuoteLineSchema))


class QuoteSchema(Schema):
    lines = fields.List(fields.Nested(QuoteLineSchema))
    total_ore = fields.Integer()
    price_list_version = fields.String()
    category = fields.String()
    supervision_reason = fields.String(allow_none=True, metadata={"description": "Why supervision is needed"})
    occurrences = fields.List(fields.Nested(OccurrencePriceSchema))


class FeeSchema(Schema):
    lines = fields.List(fields.Nested(QuoteLineSchema))
    total_ore = fields.Integer()
    rule = fields.String(
        metadata={
            "description": "admin, free_14_days, half_rent_7_days, full_rent, full_rent_and_supervision"
        }
    )


class RecurrenceSchema(Schema):
    rrule = Text(
        500,
        1,
        required=True,
        metadata={
            "description": "RFC 5545 RRULE: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY (e.g. TU or 2TU), "
            "UNTIL or COUNT; at most 366 days and 200 occurrences"
        },
    )


class BookingInputSchema(Schema):
    title = Text(200, 1)
    start = LocalDateTime()
    end = LocalDateTime()
    attendees = Count(0, 100_000)
    notes = Text(5000, metadata={"description": "For the janitor; private"})
    public_title = fields.Boolean(metadata={"description": "Show the title in public views"})
    own_supervisor = fields.Boolean(metadata={"description": "The association brings a certified supervisor"})

    @validates_schema
    def _order(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")


class BookingCreateSchema(BookingInputSchema):
    room_id = Id(required=True)
    organization_id = Id(required=True)
    title = Text(200, 1, required=True)
    start = LocalDateTime(required=True)
    end = LocalDateTime(required=True)
    attendees = Count(0, 100_000, load_default=1)
    notes = Text(5000, load_default="")
    public_title = fields.Boolean(load_default=False)
    own_supervisor = fields.Boolean(load_default=False)
    recurrence = fields.Nested(RecurrenceSchema, allow_none=True)
    on_conflict = fields.String(load_default="reject", validate=validate.OneOf(["reject", "skip"]))
    skip_holidays = fields.Boolean(
        load_default=False, metadata={"description": "Leave out public holidays and closures"}
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "Answer what would happen; write nothing"}
    )
    force = fields.Boolean(
        load_default=False, metadata={"description": "Admin only: displace existing bookings"}
    )


class BookingPatchSchema(BookingInputSchema):
    room_id = Id(metadata={"description": "Move the booking to another room"})


class BookingSchema(Schema):
    id = fields.Integer()
    room_id = fields.Integer()
    organization_id = fields.Integer()
    series_id = fields.Integer(allow_none=True)
    original_start = LocalDateTime(
        allow_none=True,
        metadata={"description": "For a series occurrence: the rule's instance it stands for"},
    )
    title = fields.String()
    start = LocalDateTime()
    end = LocalDateTime()
    attendees = fields.Integer()
    status = fields.String(metadata={"description": "pending, confirmed, rejected or cancelled"})
    status_reason = fields.String()
    sequence = fields.Integer()
    public_title = fields.Boolean()
    own_supervisor = fields.Boolean()
    notes = fields.String()
    quote = Snapshot(QuoteSchema)
    cancellation_fee = Snapshot(FeeSchema, allow_none=True)
    cancelled_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class ConflictSchema(Schema):
    start = LocalDateTime(metadata={"description": "The requested occurrence"})
    end = LocalDateTime()
    booking_id = fields.Integer(metadata={"description": "The booking in the way"})
    room_id = fields.Integer()
    organization_name = fields.String()
    blocking_start = LocalDateTime()
    blocking_until = LocalDateTime(metadata={"description": "End of the blocking booking plus its buffer"})
    # BlockerSchema is defined at the end of the module, hence the lambda.
    blocked_by = fields.List(
        fields.Nested(lambda: BlockerSchema()),
        metadata={"description": "Every booking in the way (the fields above name the first)"},
    )


class SuggestionSchema(Schema):
    room_id = fields.Integer()
    start = LocalDateTime()
    end = LocalDateTime()


class SkippedSchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()
    reason = fields.String(metadata={"description": "conflict, holiday or closed"})
    conflicts = fields.List(fields.Dict(), metadata={"description": "What it conflicted with"})


class SeriesSchema(Schema):
    id = fields.Integer()
    room_id = fields.Integer()
    organization_id = fields.Integer()
    title = fields.String()
    rrule = fields.String()
    start = LocalDateTime(metadata={"description": "The rule's first instance (DTSTART)"})
    end = LocalDateTime()
    sequence = fields.Integer()
    occurrences = fields.List(fields.Nested(BookingSchema))
    skipped = fields.List(fields.Nested(SkippedSchema))
    quote = fields.Nested(QuoteSchema)


class OccurrenceSchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()


class DryRunSchema(Schema):
    dry_run = fields.Boolean()
    outcome = fields.String(metadata={"description": "created or conflict"})
    status = fields.String(metadata={"description": "The status the booking(s) would get"})
    occurrences = fields.List(fields.Nested(OccurrenceSchema))
    skipped = fields.List(fields.Nested(SkippedSchema))
    conflicts = fields.List(fields.Nested(ConflictSchema))
    suggestions = fields.List(fields.Nested(SuggestionSchema))
    displaced_booking_ids = fields.List(fields.Integer())
    quote = fields.Nested(QuoteSchema, allow_none=True)


class BookingListArgs(Schema):
    room_id = Id(strict=False)
    building_id = Id(strict=False)
    organization_id = Id(strict=False)
    series_id = Id(strict=False)
    status = DelimitedList(fields.String(validate=validate.OneOf([str(s) for s in Status])))
    from_ = LocalDateTime(data_key="from", attribute="from")
    to = LocalDateTime()


class CancelSchema(Schema):
    reason = Text(1000, load_default="")
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Show the fee; cancel nothing"})


class SeriesCancelSchema(CancelSchema):
    from_date = fields.Date(
        allow_none=True, metadata={"description": "Cancel occurrences on or after this date"}
    )


class SeriesCancelResultSchema(SeriesSchema):
    dry_run = fields.Boolean()
    fee_total_ore = fields.Integer()


class RejectSchema(Schema):
    reason = Text(1000, load_default="")


class CompetingGroupSchema(Schema):
    unit_ids = fields.List(fields.Integer())
    requests = fields.List(fields.Nested(BookingSchema))
    suggested_winner_id = fields.Integer()
    priority = fields.String()


class BlockerSchema(Schema):
    """One booking standing in the way of a requested occurrence (an item of ``blocked_by``)."""

    booking_id = fields.Integer()
    room_id = fields.Integer()
    organization_name = fields.String()
    start = LocalDateTime()
    until = LocalDateTime(metadata={"description": "End of the blocking booking plus its buffer"})
