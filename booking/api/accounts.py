"""Password reset by e-mail and e-mail address confirmation (SPEC §12, §13)."""

from flask_smorest import Blueprint

from booking.schemas.accounts import (
    EmailConfirmationSchema,
    PasswordResetAcceptedSchema,
    PasswordResetRequestSchema,
    PasswordResetSchema,
)
from booking.services import accounts

PREFIX = ""
blp = Blueprint("accounts", __name__, description="Password reset and e-mail address confirmation")

RESET_REQUESTED = (
    "If there is an account with this e-mail address, a link to choose a new password has been sent "
    "to it. The link is valid for one hour."
)


@blp.route("/password-reset", methods=["POST"])
@blp.arguments(PasswordResetRequestSchema())
@blp.response(202, PasswordResetAcceptedSchema)
@blp.alt_response(429, description="Too many attempts from this address (shared with logging in)")
def request_password_reset(data):
    """Ask for a link to choose a new password (anyone).

    The answer is the same whether or not the address has an account; only an active account's
    address gets the e-mail."""
    accounts.request_password_reset(data["email"])
    return {"detail": RESET_REQUESTED}


@blp.route("/password-reset/confirm", methods=["POST"])
@blp.arguments(PasswordResetSchema())
@blp.response(204)
@blp.alt_response(400, description="The link is invalid, used already or expired (valid one hour)")
def reset_password(data):
    """Choose a new password with the token of a reset link.

    The link then stops working, and the user's API tokens and page sessions end."""
    accounts.reset_password(data["token"], data["password"])


@blp.route("/email-confirmation", methods=["POST"])
@blp.arguments(EmailConfirmationSchema())
@blp.response(204)
@blp.alt_response(400, description="The link is invalid or expired (valid 48 hours)")
def confirm_email(data):
    """Confirm an e-mail address with the token of a confirmation link; again is harmless"""
    accounts.confirm_email(data["token"])
