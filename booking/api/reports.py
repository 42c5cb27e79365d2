"""Reports for the municipality (admin): the support report of SPEC §15."""

from flask import Response, request
from flask_smorest import Blueprint

from booking.api.context import current_actor, login_required
from booking.schemas.reports import SupportReportArgs, SupportReportSchema
from booking.services import reports

PREFIX = "/reports"
blp = Blueprint("reports", __name__, description="Reports for the municipality")
BEARER = [{"bearer": []}]
CSV = "text/csv"


@blp.route("/support", methods=["GET"])
@login_required
@blp.arguments(SupportReportArgs(), location="query", as_kwargs=True)
@blp.response(200, SupportReportSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(422, description="`from` or `to` missing or not a date, `to` before `from`, over 366 days")
@blp.doc(security=BEARER, responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}})
def support_report(from_date, to_date):
    """The indirect support per organisation and price category (admin): for the bookings
    starting in the period (local dates, both included), the hours used, what was charged, what
    the same would have cost at `full` price, the difference (the support) and the supervision
    it covered. Confirmed bookings count; cancelled ones only with a fee by the rules (no hours).
    JSON, or with `Accept: text/csv` semicolon-separated UTF-8 CSV (one row per organisation and
    category, subtotals per category, a total; amounts in NOK like `1250.00`)."""
    report = reports.support_report(current_actor(), from_date, to_date)
    if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
        name = f"support-{from_date.isoformat()}-{to_date.isoformat()}.csv"
        return Response(
            reports.support_csv(report),
            mimetype=CSV,
            headers={"Content-Disposition": f'inline; filename="{name}"', "Vary": "Accept"},
        )
    return report.to_dict(), 200, {"Vary": "Accept"}
