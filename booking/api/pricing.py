"""Quotes (anyone for a category; members and admins for an organisation), price lists (read:
anyone; add: admin) and monthly invoices (admin)."""

from flask import Response, request
from flask_smorest import Blueprint

from booking.api.context import PAGINATION, SECURITY, current_actor, login_required, paginate
from booking.models.types import utcnow
from booking.schemas.pricing import (
    InvoiceArgs,
    InvoiceMonthSchema,
    PriceListSchema,
    PriceQuoteSchema,
    QuoteRequestSchema,
)
from booking.services import invoices, pricing
from pricing import OSLO, PriceList

PREFIX = ""
blp = Blueprint("pricing", __name__, description="Quotes, price lists and invoices")
BEARER = [{"bearer": []}]
CSV = "text/csv"


@blp.route("/quotes", methods=["POST"])
@blp.arguments(QuoteRequestSchema())
@blp.response(200, PriceQuoteSchema)
@blp.alt_response(
    401, description="`organization_id` without logging in (or a bearer token that is not valid)"
)
@blp.alt_response(403, description="`organization_id` of an organisation the caller is not a member of")
@blp.alt_response(
    422,
    description="Invalid input: neither or both of `category` and `organization_id`, unknown room or "
    "organisation, bad times or rule, no price list in force",
)
@blp.doc(security=SECURITY)
def create_quote(data):
    """Price a slot or a series before booking.

    Give exactly one of `category` (free, reduced or full: anyone, no login needed) and
    `organization_id` (the organisation's category, `full` until it is verified: its members and
    admins only, logged in; SPEC §13). Each occurrence is priced by the price list version in
    force on its local start date; a booking made with the same input keeps this quote as its
    snapshot. A quote does not check opening hours or conflicts: use `dry_run` on POST /bookings."""
    return pricing.quote_request(current_actor(), data)


def _price_list_view(price_list: PriceList, in_force: str | None) -> dict:
    return dict(
        price_list.to_dict(), valid_from=price_list.valid_from, in_force=price_list.version == in_force
    )


@blp.route("/price-lists", methods=["GET"])
@blp.response(200, PriceListSchema(many=True))
@blp.paginate(**PAGINATION)
def list_price_lists(pagination_parameters):
    """Every price list version with its rates, oldest first; `in_force` marks today's"""
    in_force = pricing.version_in_force(utcnow().astimezone(OSLO).date())
    rows = paginate(pricing.list_price_lists(), pagination_parameters)
    return [_price_list_view(PriceList.from_dict(row.data), in_force) for row in rows]


@blp.route("/price-lists", methods=["POST"])
@login_required
@blp.arguments(PriceListSchema())
@blp.response(201, PriceListSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(409, description="A version with this name or valid_from exists")
@blp.alt_response(422, description="Invalid price list (`errors` by field)")
@blp.doc(security=BEARER)
def create_price_list(data):
    """Add a price list version (admin). It prices bookings created from now on that start on
    or after `valid_from`; existing bookings keep their price snapshots."""
    data = dict(data, valid_from=data["valid_from"].isoformat())
    price_list = pricing.create_price_list(current_actor(), data)
    in_force = pricing.version_in_force(utcnow().astimezone(OSLO).date())
    return _price_list_view(price_list, in_force)


@blp.route("/invoices", methods=["GET"])
@login_required
@blp.arguments(InvoiceArgs(), location="query", as_kwargs=True)
@blp.response(200, InvoiceMonthSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(422, description="`month` missing or not YYYY-MM")
@blp.doc(security=BEARER, responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}})
def list_invoices(month):
    """A month's invoices per organisation (admin): confirmed bookings by local start date,
    cancellation fees by local cancellation date, from the stored snapshots. JSON, or with
    `Accept: text/csv` semicolon-separated UTF-8 CSV (one row per line, amounts in NOK like
    `1250.00`) for the accounting system."""
    year, month_number = (int(part) for part in month.split("-"))
    result = invoices.monthly_invoices(current_actor(), year, month_number)
    if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
        return Response(
            invoices.invoices_csv(result),
            mimetype=CSV,
            headers={"Content-Disposition": f'inline; filename="invoices-{month}.csv"', "Vary": "Accept"},
        )
    return result, 200, {"Vary": "Accept"}
