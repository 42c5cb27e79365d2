import json

from flask import Response
from flask_smorest import Blueprint

from booking.api.context import PAGINATION, SECURITY, current_actor, login_required, paginate
from booking.schemas.organizations import (
    OrganizationCreateSchema,
    OrganizationListArgs,
    OrganizationPatchSchema,
    OrganizationRejectedSchema,
    OrganizationSchema,
    OrganizationUpdatedSchema,
    RegistrationReceiptSchema,
    RepricingSchema,
)
from booking.services import organizations

PREFIX = "/organizations"
blp = Blueprint("organizations", __name__, description="Organisations (associations)")


@blp.route("", methods=["GET"])
@login_required
@blp.arguments(OrganizationListArgs(), location="query", as_kwargs=True)
@blp.response(200, OrganizationSchema(many=True))
@blp.paginate(**PAGINATION)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin or janitor")
@blp.doc(security=[{"bearer": []}])
def list_organizations(pagination_parameters, verified=None):
    """List organisations (admin, janitor); filter `verified=false` for those to verify.

    A janitor gets only the organisations with a confirmed booking (past or future) in one of
    their buildings: contacts only for bookings in their buildings (SPEC §13)."""
    return paginate(organizations.list_organizations(current_actor(), verified), pagination_parameters)


@blp.route("", methods=["POST"])
@blp.arguments(OrganizationCreateSchema())
@blp.alt_response(
    201,
    # Exactly one matches an answer: both schemas refuse keys they do not name.
    schema={"oneOf": [OrganizationSchema, RegistrationReceiptSchema]},
    description="Logged in: the organisation. Anonymous: the receipt (the registration as received "
    "and proposed, no `id`), the same whether or not the number or address is registered already",
    success=True,
)
@blp.alt_response(403, description="A member none of whose organisations is verified yet")
@blp.alt_response(409, description="Organisation number registered already (logged-in callers only)")
@blp.alt_response(429, description="Too many attempts from this address (shared with logging in)")
@blp.doc(security=SECURITY)
def register_organization(data):
    """Register an organisation (anyone); the price category is proposed and awaits verification.

    When the register (Enhetsregisteret) knows the number, `local` and
    `registered_in_frivillighetsregisteret` are its facts, whatever was sent, and `name` is the
    registered name (`stated_name` keeps the one sent); the category is proposed from those.

    Anonymous callers get the receipt, never the organisation, and the same answer whether or
    not the organisation number or the e-mail address (with `password`: an account) is
    registered already: nothing is created then, and the address gets a mail saying why. With
    `password`, the new account must confirm its address (a mailed link) before logging in.
    Logged-in members get the organisation (and become members of it); for them a taken
    number is a 409, and they register a further organisation only once one of theirs is
    verified (403 before). Rate-limited with logging in."""
    registration = organizations.receive_registration(current_actor(), data)
    if registration.organization is not None:
        body = OrganizationSchema().dump(registration.organization)
    else:
        body = RegistrationReceiptSchema().dump(registration.receipt)
    return Response(json.dumps(body), status=201, mimetype="application/json")


@blp.route("/<int:organization_id>", methods=["GET"])
@login_required
@blp.response(200, OrganizationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(
    403,
    description="Not a member of it, an admin, or a janitor of a building where it has a confirmed booking",
)
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def get_organization(organization_id):
    """An organisation: its members, admins, and the janitors of the buildings where it has a
    confirmed booking (past or future) read it"""
    return organizations.read_organization(current_actor(), organization_id)


@blp.route("/<int:organization_id>", methods=["PATCH"])
@login_required
@blp.arguments(OrganizationPatchSchema())
@blp.response(200, OrganizationUpdatedSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def update_organization(data, organization_id):
    """Change, verify or re-categorise an organisation (admin).

    When the category its prices are computed with changes (`verified`, or `price_category` of a
    verified organisation), its pending requests are re-quoted at the new category. Confirmed
    bookings keep their price; `repriceable_bookings` says how many of those that have not
    started are priced otherwise, for `POST /organizations/{id}/reprice`."""
    return organizations.change_organization(current_actor(), organization_id, data)


@blp.route("/<int:organization_id>/reject", methods=["POST"])
@login_required
@blp.response(200, OrganizationRejectedSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def reject_organization(organization_id):
    """Reject an organisation (admin, SPEC §13).

    It is no longer verified and can book nothing (a create for it is refused with 422, rule
    `organization_rejected`, also an admin's); each of its open requests (pending bookings) is
    rejected, and its contact and members get one mail saying so. Its confirmed bookings stay.
    `rejected_requests` says how many requests were rejected. Rejecting a rejected organisation
    again answers the same organisation and changes nothing (`rejected_requests` 0). Verifying it
    later (PATCH with `verified: true`) lifts the rejection (`rejected_at` null)."""
    return organizations.reject_and_count(current_actor(), organization_id)


@blp.route("/<int:organization_id>/reprice", methods=["POST"])
@login_required
@blp.response(200, RepricingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def reprice_organization_bookings(organization_id):
    """Re-price the organisation's confirmed bookings that have not started (admin).

    Each booking priced with another category than the organisation's current one gets a new
    snapshot at that category, by the price list in force on its date; its `sequence` moves on
    and the change is in the audit log. Nothing else changes a confirmed price (SPEC §11)."""
    repriced = organizations.reprice_bookings(current_actor(), organization_id)
    return {"repriced": len(repriced), "booking_ids": [booking.id for booking in repriced]}
