from marshmallow import Schema, fields, validate

from booking.models.outbox import MESSAGE_STATES
from booking.schemas.common import LocalDateTime


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    kind = fields.String(attribute="event.kind", metadata={"description": "The event, e.g. booking_approved"})
    params = fields.Dict(attribute="event.params", metadata={"description": "The event's ids and parameters"})
    recipient = fields.String(metadata={"description": "The e-mail address"})
    language = fields.String(metadata={"description": "nb or en"})
    message_id = fields.String(metadata={"description": "The Message-ID header, the same on every try"})
    state = fields.String(
        metadata={"description": "pending, sent, failed, or withdrawn (no longer a recipient when sent)"}
    )
    attempts = fields.Integer(metadata={"description": "Tries that failed, or the one that succeeded"})
    last_error = fields.String(metadata={"description": "The mail server's answer to the last failed try"})
    next_attempt_at = LocalDateTime(metadata={"description": "When a pending message is tried next"})
    created_at = LocalDateTime()
    sent_at = LocalDateTime(allow_none=True)


class OutboxListArgs(Schema):
    state = fields.String(
        load_default="failed",
        validate=validate.OneOf(MESSAGE_STATES),
        metadata={"description": "pending, sent, failed (the default) or withdrawn"},
    )
