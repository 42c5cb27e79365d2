"""The mail outbox (admins): messages that failed, and sending them again."""

from flask_smorest import Blueprint

from booking.api.context import PAGINATION, current_actor, login_required, paginate
from booking.schemas.outbox import OutboxListArgs, OutboxMessageSchema
from booking.services import notifications

PREFIX = "/outbox"
blp = Blueprint("outbox", __name__, description="E-mail messages and their delivery (admin)")


@blp.route("", methods=["GET"])
@login_required
@blp.arguments(OutboxListArgs(), location="query", as_kwargs=True)
@blp.response(200, OutboxMessageSchema(many=True))
@blp.paginate(**PAGINATION)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.doc(security=[{"bearer": []}])
def list_outbox(pagination_parameters, state):
    """Messages in one delivery state, newest first: `failed` (the default) lists the mail that
    could not be delivered, with the mail server's last answer"""
    return paginate(notifications.outbox_messages(current_actor(), state), pagination_parameters)


@blp.route("/<int:message_id>/retry", methods=["POST"])
@login_required
@blp.response(200, OutboxMessageSchema())
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such message")
@blp.alt_response(409, description="The message was sent already")
@blp.doc(security=[{"bearer": []}])
def retry_message(message_id: int):
    """Send a failed (or waiting) message again now, with the same Message-ID"""
    return notifications.retry_message(current_actor(), message_id)
