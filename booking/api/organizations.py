from flask_smorest import Blueprint

from booking.api.context import PAGINATION, SECURITY, current_actor, login_required, paginate
from booking.schemas.organizations import (
    OrganizationCreateSchema,
    OrganizationListArgs,
    OrganizationPatchSchema,
    OrganizationSchema,
    OrganizationUpdatedSchema,
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
    """List organisations (admin, janitor); filter `verified=false` for those to verify"""
    return paginate(organizations.list_organizations(current_actor(), verified), pagination_parameters)


@blp.route("", methods=["POST"])
@blp.arguments(OrganizationCreateSchema())
@blp.response(201, OrganizationSchema)
@blp.alt_response(409, description="Organisation number or e-mail registered already")
@blp.doc(security=SECURITY)
def register_organization(data):
    """Register an organisation (anyone); the price category is proposed and awaits verification"""
    return organizations.register_organization(current_actor(), data)


@blp.route("/<int:organization_id>", methods=["GET"])
@login_required
@blp.response(200, OrganizationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of it, a janitor or an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def get_organization(organization_id):
    """An organisation"""
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
