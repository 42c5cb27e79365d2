from flask_smorest import Blueprint

from booking.api.context import SECURITY, current_actor, login_required
from booking.schemas.accounts import (
    BookingMailPatchSchema,
    BuildingMailSchema,
    MorningSheetPatchSchema,
    OrganizationMailSchema,
    ProfilePatchSchema,
    ProfileSchema,
)
from booking.schemas.auth import UserCreateSchema, UserSchema
from booking.services import accounts, users

PREFIX = ""
blp = Blueprint("users", __name__, description="The caller and user accounts")


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, ProfileSchema)
@blp.alt_response(401, description="Not logged in")
@blp.doc(security=[{"bearer": []}])
def me():
    """The calling user, with role, organisations and buildings, and the choices about e-mail"""
    return accounts.profile(current_actor())


@blp.route("/me", methods=["PATCH"])
@login_required
@blp.arguments(ProfilePatchSchema())
@blp.response(200, ProfileSchema)
@blp.alt_response(401, description="Not logged in")
@blp.doc(security=[{"bearer": []}])
def update_me(data):
    """Change the language of the calling user's e-mails"""
    actor = current_actor()
    if "language" in data:
        accounts.set_language(actor, data["language"])
    return accounts.profile(actor)


@blp.route("/me/organizations/<int:organization_id>", methods=["PATCH"])
@login_required
@blp.arguments(BookingMailPatchSchema())
@blp.response(200, OrganizationMailSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of this organisation")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=[{"bearer": []}])
def update_my_organization(data, organization_id):
    """Turn booking e-mails about one of the caller's organisations on or off (members)"""
    return accounts.set_booking_mail(current_actor(), organization_id, data["booking_mail"])


@blp.route("/me/buildings/<int:building_id>", methods=["PATCH"])
@login_required
@blp.arguments(MorningSheetPatchSchema())
@blp.response(200, BuildingMailSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not the janitor of this building")
@blp.alt_response(404, description="No such building")
@blp.doc(security=[{"bearer": []}])
def update_my_building(data, building_id):
    """Turn the morning e-mail with tomorrow's day sheet of one of the caller's buildings on or off
    (janitors)"""
    return accounts.set_morning_sheet(current_actor(), building_id, data["morning_sheet"])


@blp.route("/users", methods=["POST"])
@login_required
@blp.arguments(UserCreateSchema())
@blp.response(201, UserSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(409, description="E-mail in use")
@blp.doc(security=SECURITY[:1])
def create_user(data):
    """Create a user (admin)"""
    return users.create_user(current_actor(), data)


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@login_required
@blp.response(200, UserSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such user")
@blp.alt_response(409, description="An admin cannot deactivate their own account")
@blp.doc(security=SECURITY[:1])
def deactivate_user(user_id: int):
    """Deactivate a user (admin).

    The user can no longer log in, and every API token and page session of theirs stops working
    at once. Deactivating a deactivated user answers the same."""
    return users.deactivate_user(current_actor(), user_id)


@blp.route("/users/<int:user_id>/organizations/<int:organization_id>", methods=["DELETE"])
@login_required
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such user, or the user is not a member of the organisation")
@blp.doc(security=SECURITY[:1])
def remove_membership(user_id: int, organization_id: int):
    """Remove a member from an organisation (admin).

    The member loses access to the organisation's bookings at once."""
    users.remove_membership(current_actor(), user_id, organization_id)


@blp.route("/users/<int:user_id>/buildings/<int:building_id>", methods=["DELETE"])
@login_required
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such user, or the building is not assigned to the user")
@blp.doc(security=SECURITY[:1])
def remove_building(user_id: int, building_id: int):
    """Take a building from a janitor (admin).

    The janitor loses the building's day schedule and contacts at once."""
    users.remove_building(current_actor(), user_id, building_id)
