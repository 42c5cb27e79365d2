from flask_smorest import Blueprint

from booking.api.context import current_actor, login_required
from booking.schemas.registry import RegistryFactsSchema
from booking.services import registry

PREFIX = "/registry"
blp = Blueprint("registry", __name__, description="The national register of organisations (Enhetsregisteret)")

ORG_NUMBER_PARAMETER = {
    "in": "path",
    "name": "org_number",
    "required": True,
    "description": "organisasjonsnummer: 9 digits with a mod-11 check digit",
    "schema": {"type": "string", "pattern": "^[0-9]{9}$"},
}


@blp.route("/<org_number>", methods=["GET"])
@login_required
@blp.response(200, RegistryFactsSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin, nor a member of an organisation with this number")
@blp.alt_response(404, description="The register does not know the number (or was never imported)")
@blp.alt_response(422, description="Not a valid organisation number (9 digits, mod-11)")
@blp.doc(security=[{"bearer": []}], parameters=[ORG_NUMBER_PARAMETER])
def get_registry_facts(org_number: str):
    """What Enhetsregisteret says about an organisation number (admin; members for their own).

    From the service's copy of the register's open data, as last loaded with
    `booking registry import`: the registered name, organisation form, business address
    municipality (and whether that is this municipality: `local`), registration in
    Frivillighetsregisteret, bankruptcy, liquidation and deletion."""
    return registry.read_facts(current_actor(), org_number)
