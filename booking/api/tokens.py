from flask import current_app
from flask_smorest import Blueprint

from booking.schemas.auth import TokenRequestSchema, TokenSchema
from booking.services import auth

PREFIX = "/tokens"
blp = Blueprint("tokens", __name__, description="API tokens")


@blp.route("", methods=["POST"])
@blp.arguments(TokenRequestSchema())
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong e-mail or password")
def create_token(data):
    """Log in: exchange e-mail and password for a bearer token"""
    token = auth.login(data["email"], data["password"], current_app.config["BOOKING_TOKEN_TTL_DAYS"])
    return {"token": token}
