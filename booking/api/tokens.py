from flask import current_app, request
from flask_smorest import Blueprint

from booking.api.context import current_actor, login_required
from booking.schemas.auth import TokenInfoSchema, TokenRequestSchema, TokenSchema
from booking.services import auth

PREFIX = "/tokens"
blp = Blueprint("tokens", __name__, description="API tokens")


@blp.route("", methods=["POST"])
@blp.arguments(TokenRequestSchema())
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong e-mail or password")
@blp.alt_response(403, description="The e-mail address is not confirmed yet: follow the link in the mail")
def create_token(data):
    """Log in: exchange e-mail and password for a bearer token.

    A self-registered user gets one only after following the link mailed to the address."""
    token = auth.login(data["email"], data["password"], current_app.config["BOOKING_TOKEN_TTL_DAYS"])
    return {"token": token}


def _bearer_hash() -> str | None:
    """The stored hash of the bearer token this request came with, if it came with one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return auth.hash_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


@blp.route("", methods=["GET"])
@login_required
@blp.response(200, TokenInfoSchema(many=True))
@blp.alt_response(401, description="Not logged in")
@blp.doc(security=[{"bearer": []}])
def list_tokens():
    """The caller's tokens that still work, newest first, without their secrets"""
    return auth.list_tokens(current_actor(), _bearer_hash())


@blp.route("/current", methods=["DELETE"])
@login_required
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(422, description="The request came without a bearer token (a page session)")
@blp.doc(security=[{"bearer": []}])
def revoke_current_token():
    """Revoke the token this request came with (log an API client out)"""
    auth.revoke_current_token(current_actor(), _bearer_hash())


@blp.route("/<int:token_id>", methods=["DELETE"])
@login_required
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(404, description="Not one of the caller's tokens")
@blp.doc(security=[{"bearer": []}])
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (another device, a leaked token)"""
    auth.revoke_token(current_actor(), token_id)
