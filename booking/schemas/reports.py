"""The support report (SPEC §15): query and answer."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from booking.schemas.common import LocalDate
from booking.services.reports import MAX_PERIOD_DAYS
from pricing import CATEGORIES


class SupportReportArgs(Schema):
    from_date = LocalDate(
        required=True, data_key="from", metadata={"description": "First local date of the period"}
    )
    to_date = LocalDate(
        required=True,
        data_key="to",
        metadata={"description": f"Last local date, included (at most {MAX_PERIOD_DAYS} days in all)"},
    )

    @validates_schema
    def _period(self, data, **kwargs):
        if "from_date" in data and "to_date" in data:
            if data["to_date"] < data["from_date"]:
                raise ValidationError("The end of the period must not be before its start.", "to")
            if (data["to_date"] - data["from_date"]).days + 1 > MAX_PERIOD_DAYS:
                raise ValidationError(f"A period covers at most {MAX_PERIOD_DAYS} days.", "to")


class SupportFiguresSchema(Schema):
    bookings = fields.Integer(metadata={"description": "Confirmed bookings starting in the period"})
    cancelled_with_fee = fields.Integer(
        metadata={"description": "Bookings starting in the period, cancelled with a fee by the rules"}
    )
    minutes = fields.Integer(metadata={"description": "Time booked by the confirmed bookings"})
    hours = fields.String(metadata={"description": "The same in hours, two decimals, e.g. `2.50`"})
    charged_ore = fields.Integer(metadata={"description": "Charged: snapshots' totals and stored fees"})
    full_price_ore = fields.Integer(metadata={"description": "What the same would have cost at `full` price"})
    support_ore = fields.Integer(metadata={"description": "full_price_ore - charged_ore: the support"})
    supervision_charged_ore = fields.Integer(metadata={"description": "Supervision in charged_ore"})
    supervision_covered_ore = fields.Integer(
        metadata={"description": "Supervision in support_ore: supervision the municipality covered"}
    )


class SupportOrganizationSchema(SupportFiguresSchema):
    organization_id = fields.Integer()
    organization_name = fields.String()
    org_number = fields.String()


class SupportCategorySchema(Schema):
    category = fields.String(metadata={"description": f"The category priced: {', '.join(CATEGORIES)}"})
    organizations = fields.List(fields.Nested(SupportOrganizationSchema), metadata={"description": "By name"})
    total = fields.Nested(SupportFiguresSchema)


class SupportReportSchema(Schema):
    from_date = fields.Date(data_key="from")
    to_date = fields.Date(data_key="to")
    currency = fields.String()
    categories = fields.List(
        fields.Nested(SupportCategorySchema), metadata={"description": "free, reduced, full: all three"}
    )
    total = fields.Nested(SupportFiguresSchema)
