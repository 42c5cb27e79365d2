"""The audit log (admins): who changed what, when, before and after."""

from flask_smorest import Blueprint

from booking.api.context import PAGINATION, current_actor, login_required, paginate
from booking.schemas.audit import AuditEntrySchema, AuditListArgs
from booking.services import audit

PREFIX = "/audit-log"
blp = Blueprint("audit", __name__, description="The audit log of every change (admin)")


@blp.route("", methods=["GET"])
@login_required
@blp.arguments(AuditListArgs(), location="query", as_kwargs=True)
@blp.response(200, AuditEntrySchema(many=True))
@blp.paginate(**PAGINATION)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.doc(security=[{"bearer": []}])
def list_audit_entries(pagination_parameters, **filters):
    """Changes, newest first, filtered by table (`entity`), row (`entity_id`), `action`, acting
    user and time (`from`, `to`). Secrets (password and token hashes) show as `[redacted]`"""
    return paginate(audit.audit_entries(current_actor(), filters), pagination_parameters)
