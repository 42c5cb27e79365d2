from marshmallow import Schema, fields, validate

from booking.models.audit import AUDIT_ACTIONS
from booking.schemas.common import Id, LocalDateTime, Text


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = LocalDateTime(metadata={"description": "When the change was written (Europe/Oslo time)"})
    actor_user_id = fields.Integer(allow_none=True, metadata={"description": "Null for anonymous and system"})
    actor_role = fields.String(metadata={"description": "admin, janitor, member, anonymous or system"})
    origin = fields.String(metadata={"description": "The request (method and path) or command"})
    action = fields.String(metadata={"description": "insert, update or delete"})
    entity = fields.String(metadata={"description": "The table, e.g. bookings"})
    entity_id = fields.String(metadata={"description": "The row's primary key"})
    before = fields.Dict(allow_none=True, metadata={"description": "Old values of the changed fields"})
    after = fields.Dict(allow_none=True, metadata={"description": "New values of the changed fields"})


class AuditListArgs(Schema):
    entity = Text(40, 1, metadata={"description": "Table name, e.g. bookings, rooms, organizations"})
    entity_id = Text(60, 1)
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    actor_user_id = Id(strict=False)
    from_ = LocalDateTime(data_key="from", attribute="from", metadata={"description": "Changes at or after"})
    to = LocalDateTime(metadata={"description": "Changes before"})
