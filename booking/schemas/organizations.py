from marshmallow import Schema, fields, validate

from booking.domain.organizations import PRICE_CATEGORIES
from booking.schemas.common import LocalDateTime, MailAddress, PartialMixin, Text
from booking.schemas.registry import RegistryFactsSchema


class OrganizationSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(200, 1, required=True)
    org_number = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{9}$", error="Must be 9 digits."),
        metadata={"description": "Norwegian organisasjonsnummer (mod-11 check digit)"},
    )
    voluntary = fields.Boolean(load_default=False)
    non_profit = fields.Boolean(load_default=False)
    local = fields.Boolean(load_default=False, metadata={"description": "Based in the municipality"})
    registered_in_frivillighetsregisteret = fields.Boolean(load_default=False)
    youth_activity = fields.Boolean(load_default=False, metadata={"description": ">= 90 % under 20"})
    contact_name = Text(200, 1, required=True)
    email = MailAddress(required=True)
    phone = Text(40, load_default="")
    proposed_category = fields.String(dump_only=True)
    price_category = fields.String(dump_only=True)
    effective_category = fields.String(
        dump_only=True, metadata={"description": "Category used for prices: 'full' until verified"}
    )
    verified = fields.Boolean(dump_only=True)
    rejected_at = LocalDateTime(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "When an admin rejected the organisation (it can book nothing); null "
            "unless rejected, cleared when it is verified"
        },
    )
    stated_name = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The name the registrant typed (the public `name` is the register's when "
            "it knows the number); null when created by an admin"
        },
    )


class OrganizationCreateSchema(OrganizationSchema):
    password = Text(
        1024,
        10,
        load_only=True,
        metadata={"description": "Optional: creates a member account for the contact e-mail"},
    )


class RegistrationReceiptSchema(OrganizationSchema):
    """What an anonymous registration answers (SPEC §13): the registration as received and
    proposed, with the register's facts for the number. The same whether or not the number or
    the address is registered already (the address gets a mail that says so instead), so it has
    no ``id``. Dumps a ``RegistrationReceipt``."""

    class Meta:
        exclude = ("id", "rejected_at")

    name = fields.String(
        dump_only=True,
        metadata={"description": "The registered name when the register knows the number, else as typed"},
    )
    stated_name = fields.String(dump_only=True, metadata={"description": "The name as typed"})
    local = fields.Boolean(
        dump_only=True,
        metadata={"description": "Based in the municipality: the register's answer when it knows the number"},
    )
    registered_in_frivillighetsregisteret = fields.Boolean(
        dump_only=True, metadata={"description": "The register's answer when it knows the number"}
    )
    register = fields.Nested(
        RegistryFactsSchema,
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={
            "description": "What the register (Enhetsregisteret) says about the number; null when "
            "it does not know it"
        },
    )


class OrganizationPatchSchema(PartialMixin, OrganizationSchema):
    class Meta:
        exclude = ("org_number",)

    price_category = fields.String(validate=validate.OneOf(PRICE_CATEGORIES))
    verified = fields.Boolean()


class OrganizationListArgs(Schema):
    verified = fields.Boolean()


class OrganizationUpdatedSchema(OrganizationSchema):
    """The PATCH answer: the organisation, and what an explicit re-pricing would change. Dumps
    an ``OrganizationUpdate`` (the organisation and the count)."""

    repriceable_bookings = fields.Integer(
        dump_only=True,
        metadata={
            "description": "Confirmed bookings that have not started and are priced with another "
            "category than the current one; POST /organizations/{id}/reprice re-prices them"
        },
    )

    def get_attribute(self, obj, attr, default):
        if attr == "repriceable_bookings":
            return obj.repriceable_bookings
        return super().get_attribute(obj.organization, attr, default)


class OrganizationRejectedSchema(OrganizationSchema):
    """The answer to a rejection: the organisation, and how many open requests it rejected.
    Dumps an ``OrganizationRejection`` (the organisation and the count)."""

    rejected_requests = fields.Integer(
        dump_only=True,
        metadata={
            "description": "Open requests this rejection rejected (a single booking or a series, "
            "counted once, as for the limit of open requests); 0 when the organisation was rejected already"
        },
    )

    def get_attribute(self, obj, attr, default):
        if attr == "rejected_requests":
            return obj.rejected_requests
        return super().get_attribute(obj.organization, attr, default)


class RepricingSchema(Schema):
    repriced = fields.Integer(metadata={"description": "How many bookings got a new price snapshot"})
    booking_ids = fields.List(fields.Integer(), metadata={"description": "The re-priced bookings, by id"})
