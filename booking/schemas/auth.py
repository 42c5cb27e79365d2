from marshmallow import Schema, fields, validate

from booking.models.user import ROLES
from booking.schemas.common import Id, LocalDateTime, MailAddress, Text


class TokenRequestSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = Text(1024, required=True)


class TokenSchema(Schema):
    token = fields.String(required=True, metadata={"description": "Send as 'Authorization: Bearer <token>'"})


class TokenInfoSchema(Schema):
    id = fields.Integer()
    created_at = LocalDateTime()
    expires_at = LocalDateTime(allow_none=True, metadata={"description": "Null: does not expire"})
    current = fields.Boolean(metadata={"description": "The token this request came with"})


class OrganizationRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class BuildingRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email()
    name = fields.String()
    role = fields.String()
    active = fields.Boolean(
        dump_only=True, metadata={"description": "False once an admin has deactivated the user"}
    )
    organizations = fields.List(fields.Nested(OrganizationRefSchema))
    buildings = fields.List(fields.Nested(BuildingRefSchema))


class UserCreateSchema(Schema):
    email = MailAddress(required=True)
    name = Text(200, 1, required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = Text(1024, 10, metadata={"description": "At least 10 characters; omit for token-only users"})
    organization_ids = fields.List(Id(), validate=validate.Length(max=100))
    building_ids = fields.List(Id(), validate=validate.Length(max=100))
