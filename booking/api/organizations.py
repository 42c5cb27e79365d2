from flask_smorest import Blueprint

from booking.api.context import PAGINATION, SECURITY, current_actor, login_required, paginate
from booking.schemas.organizations import (
    OrganizationCreateSchema,
    OrganizationListArgs,
    OrganizationPatchSchema,
    OrganizationSchema,
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
@blp.response(200, OrganizationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def update_organization(data, organization_id):
    """Change, verify or re-categorise an organisation (admin)"""
    return organizations.update_organization(current_actor(), organization_id, data)
