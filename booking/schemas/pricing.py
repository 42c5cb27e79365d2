"""Quotes, price lists and invoices (SPEC §5, §8)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from booking.schemas.bookings import QuoteLineSchema, RecurrenceSchema
from booking.schemas.common import Id, LocalDateTime
from pricing import CATEGORIES, PRICE_GROUPS

MAX_RATE_ORE = 100_000_000  # 1 000 000 NOK an hour: far above any real rate, far below overflow


# --- quotes --------------------------------------------------------------------------------


class QuoteRequestSchema(Schema):
    room_id = Id(required=True)
    organization_id = Id(
        allow_none=True,
        metadata={
            "description": "Price with this organisation's category (`full` until it is verified): "
            "logged-in members of it and admins only; not together with category"
        },
    )
    category = fields.String(
        validate=validate.OneOf(CATEGORIES),
        metadata={
            "description": "The category to price (anyone); required unless organization_id is given, "
            "not together with it"
        },
    )
    start = LocalDateTime(required=True)
    end = LocalDateTime(required=True)
    recurrence = fields.Nested(RecurrenceSchema, allow_none=True)
    own_supervisor = fields.Boolean(
        load_default=False, metadata={"description": "The association brings a certified supervisor"}
    )

    @validates_schema
    def _check(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")
        if data.get("organization_id") is not None and data.get("category") is not None:
            raise ValidationError("Give organization_id or category, not both.", "category")


class QuotedOccurrenceSchema(Schema):
    start = LocalDateTime()
    end = LocalDateTime()
    price_list_version = fields.String(metadata={"description": "The version in force at this start"})
    lines = fields.List(fields.Nested(QuoteLineSchema))
    total_ore = fields.Integer()
    supervision_reason = fields.String(allow_none=True)


class PriceQuoteSchema(Schema):
    room_id = fields.Integer()
    organization_id = fields.Integer(allow_none=True)
    category = fields.String(metadata={"description": "The category priced: free, reduced or full"})
    price_list_version = fields.String(
        metadata={"description": "The version(s) used, comma separated when a series spans a change"}
    )
    lines = fields.List(fields.Nested(QuoteLineSchema), metadata={"description": "All occurrences, merged"})
    total_ore = fields.Integer()
    supervision_reason = fields.String(allow_none=True, metadata={"description": "Why supervision is needed"})
    occurrences = fields.List(
        fields.Nested(QuotedOccurrenceSchema), metadata={"description": "One per occurrence"}
    )


# --- price lists ---------------------------------------------------------------------------


def _rate(**kwargs) -> fields.Integer:
    kwargs.setdefault("required", True)
    return fields.Integer(strict=True, validate=validate.Range(0, MAX_RATE_ORE), **kwargs)


class CategoryRatesSchema(Schema):
    free = fields.Integer(
        strict=True, required=True, validate=validate.Equal(0, error="The free category costs 0.")
    )
    reduced = _rate()
    full = _rate()


HourlyRatesSchema = Schema.from_dict(
    {group: fields.Nested(CategoryRatesSchema, required=True) for group in PRICE_GROUPS},
    name="HourlyRatesSchema",
)


class PriceListSchema(Schema):
    version = fields.String(
        required=True,
        validate=[validate.Length(1, 40), validate.Regexp(r"^\S(.*\S)?$", error="No blank at either end.")],
        metadata={"description": "A name for the version, e.g. 2027-1"},
    )
    valid_from = fields.Date(required=True, metadata={"description": "First local date the version prices"})
    hourly_rates_ore = fields.Nested(
        HourlyRatesSchema,
        required=True,
        metadata={"description": "Weekday rent per hour: price group -> category -> øre"},
    )
    supervision_weekday_ore = _rate(
        required=False, load_default=30_000, metadata={"description": "Supervision per hour on weekdays"}
    )
    supervision_weekend_ore = _rate(
        required=False,
        load_default=45_000,
        metadata={"description": "Supervision per hour on weekends and holidays"},
    )
    weekend_surcharge_percent = fields.Integer(strict=True, load_default=50, validate=validate.Range(0, 1000))
    supervision_minimum_hours = fields.Integer(strict=True, load_default=2, validate=validate.Range(0, 24))
    in_force = fields.Boolean(dump_only=True, metadata={"description": "The version that prices today"})

    @validates_schema
    def _dates(self, data, **kwargs):
        if "valid_from" in data and not 2000 <= data["valid_from"].year <= 2100:
            raise ValidationError("Dates must be between the years 2000 and 2100.", "valid_from")


# --- invoices ------------------------------------------------------------------------------


class InvoiceArgs(Schema):
    month = fields.String(
        required=True,
        validate=validate.Regexp(r"^(20\d\d|2100)-(0[1-9]|1[0-2])$", error="Use YYYY-MM, e.g. 2026-05."),
        metadata={"description": "YYYY-MM (Europe/Oslo)"},
    )


class InvoiceLineSchema(QuoteLineSchema):
    booking_id = fields.Integer()
    date = fields.Date(
        metadata={"description": "Booking: its local start date; fee: the local cancellation date"}
    )
    kind = fields.String(metadata={"description": "booking or cancellation"})


class InvoiceSchema(Schema):
    organization_id = fields.Integer()
    organization_name = fields.String()
    org_number = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineSchema))
    total_ore = fields.Integer()


class InvoiceMonthSchema(Schema):
    month = fields.String()
    currency = fields.String()
    invoices = fields.List(fields.Nested(InvoiceSchema), metadata={"description": "One per organisation"})
    total_ore = fields.Integer()
