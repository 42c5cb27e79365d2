"""Accounts: the caller's profile with mail choices, password reset and address confirmation."""

from marshmallow import Schema, fields, validate

from booking.schemas.auth import BuildingRefSchema, OrganizationRefSchema, UserSchema
from booking.schemas.common import Text
from booking.services.accounts import LANGUAGES, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

LANGUAGE_DESCRIPTION = "Language of the user's e-mails: nb (Norwegian bokmål) or en (English)"


class OrganizationMailSchema(OrganizationRefSchema):
    booking_mail = fields.Boolean(
        required=True,
        metadata={"description": "Whether the user gets e-mails about this organisation's bookings"},
    )


class BuildingMailSchema(BuildingRefSchema):
    morning_sheet = fields.Boolean(
        required=True,
        metadata={"description": "Whether the janitor gets tomorrow's day sheet by e-mail each morning"},
    )


class MailChoicesSchema(Schema):
    organizations = fields.List(
        fields.Nested(OrganizationMailSchema), metadata={"description": "Booking mail per organisation"}
    )
    buildings = fields.List(
        fields.Nested(BuildingMailSchema), metadata={"description": "The morning sheet per building"}
    )


class ProfileSchema(UserSchema):
    """``GET /me``: the user as in ``User`` (its ``organizations`` and ``buildings`` unchanged),
    with the language of mails, whether the address is confirmed, and under ``mail`` the mail
    choices per organisation and building."""

    language = fields.String(metadata={"description": LANGUAGE_DESCRIPTION})
    email_confirmed = fields.Boolean(
        metadata={"description": "Whether the user followed the link mailed to the address"}
    )
    mail = fields.Nested(MailChoicesSchema)


class ProfilePatchSchema(Schema):
    language = fields.String(
        validate=validate.OneOf(LANGUAGES), metadata={"description": LANGUAGE_DESCRIPTION}
    )


class BookingMailPatchSchema(Schema):
    booking_mail = fields.Boolean(required=True)


class MorningSheetPatchSchema(Schema):
    morning_sheet = fields.Boolean(required=True)


class PasswordResetRequestSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class PasswordResetAcceptedSchema(Schema):
    detail = fields.String(
        required=True, metadata={"description": "The same text whether or not the address has an account"}
    )


class PasswordResetSchema(Schema):
    token = Text(1000, 1, required=True, metadata={"description": "The token of the link in the e-mail"})
    password = Text(
        MAX_PASSWORD_LENGTH,
        MIN_PASSWORD_LENGTH,
        required=True,
        load_only=True,
        metadata={"description": f"The new password, at least {MIN_PASSWORD_LENGTH} characters"},
    )


class EmailConfirmationSchema(Schema):
    token = Text(1000, 1, required=True, metadata={"description": "The token of the link in the e-mail"})
