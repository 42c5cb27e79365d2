from flask_smorest import Blueprint

from booking.api.context import SECURITY, current_actor, login_required
from booking.extensions import db
from booking.models import User
from booking.schemas.auth import UserCreateSchema, UserSchema
from booking.services import users
from booking.services.access import require_user

PREFIX = ""
blp = Blueprint("users", __name__, description="The caller and user accounts")


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, UserSchema)
@blp.alt_response(401, description="Not logged in")
@blp.doc(security=[{"bearer": []}])
def me():
    """The calling user, with role, organisations and buildings"""
    actor = current_actor()
    require_user(actor)
    return db.session.get(User, actor.user_id)


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
