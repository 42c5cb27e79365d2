"""User accounts for admins: creating users, deactivating them, and removing a membership or a
janitor's building (SPEC §2, §13).

Deactivating a user ends everything the user could act with, in the one transaction: the flag,
every API token and every page session; since each request reads the actor afresh, the
user's next request is refused. Removing a membership or a building is one conditional DELETE
whose row count decides the answer (two removals at once: one 204, one 404); the member or
janitor loses the access with their next request. Both changes are in the audit log.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from booking.domain.errors import InvalidInput, NotAuthenticated, NotFound, StateConflict
from booking.extensions import db
from booking.models import Building, Organization, User
from booking.models.types import utcnow
from booking.models.user import janitor_buildings, memberships
from booking.services import audit
from booking.services.access import Actor, require_admin
from booking.services.auth import end_all_credentials, hash_password


def _load_all(model, ids: list[int], field: str) -> list:
    if not ids:
        return []
    rows = db.session.execute(select(model).where(model.id.in_(ids))).scalars().all()
    missing = sorted(set(ids) - {row.id for row in rows})
    if missing:
        raise InvalidInput({field: [f"Unknown id(s): {', '.join(map(str, missing))}."]})
    return sorted(rows, key=lambda row: row.id)


def create_user(actor: Actor, data: dict) -> User:
    """Create a user (admin only). Members belong to organisations, janitors to buildings."""
    require_admin(actor)
    return add_user(data)


def add_user(data: dict, *, email_confirmed: bool = True) -> User:
    """Create a user without an access check (CLI, demo data, self-registration).

    The address of a user an administrator or the command line creates counts as confirmed
    (they vouch for it); self-registration passes ``email_confirmed=False`` and mails a link.
    ``data["language"]`` is the language of the user's mails (default bokmål)."""
    email = data["email"].strip().lower()
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise StateConflict(f"A user with the e-mail {email} exists already.")
    user = User(
        email=email,
        name=data["name"],
        role=data["role"],
        password_hash=hash_password(data["password"]) if data.get("password") else None,
        language=data.get("language") or "nb",
        email_confirmed_at=utcnow() if email_confirmed else None,
    )
    user.organizations = _load_all(Organization, data.get("organization_ids") or [], "organization_ids")
    user.buildings = _load_all(Building, data.get("building_ids") or [], "building_ids")
    if user.role != "member" and user.organizations:
        raise InvalidInput({"organization_ids": ["Only members belong to organisations."]})
    if user.role != "janitor" and user.buildings:
        raise InvalidInput({"building_ids": ["Only janitors are assigned buildings."]})
    db.session.add(user)
    db.session.flush()
    return user


def deactivate_user(actor: Actor, user_id: int) -> User:
    """Deactivate a user (admin): ``active`` turns false, every API token is revoked and every
    page session ended, at once. Again is harmless and answers the same.

    An admin cannot deactivate themselves (409), so someone is left to undo a mistake. The rows
    of the caller and the user are locked in id order first: two admins deactivating each other
    at once take turns, and the second finds itself deactivated (401) instead of leaving nobody
    to administer the service. A login at the same moment either finishes first, and its new
    token or session is ended here, or waits and is refused (``auth.authenticate_password``)."""
    require_admin(actor)
    if user_id == actor.user_id:
        raise StateConflict("You cannot deactivate your own account; another admin can.")
    locked = {
        user.id: user
        for user in db.session.execute(
            select(User)
            .where(User.id.in_([actor.user_id, user_id]))
            .order_by(User.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    }
    if actor.user_id in locked and not locked[actor.user_id].active:
        raise NotAuthenticated("Your account has been deactivated.")
    user = locked.get(user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    db.session.execute(update(User).where(User.id == user_id, User.active.is_(True)).values(active=False))
    end_all_credentials(user_id)
    return user


def add_membership(actor: Actor, user_id: int, organization_id: int) -> None:
    """Make a member a member of an organisation too (admin); 409 when it is one already."""
    require_admin(actor)
    _add(memberships, "organization_id", user_id, organization_id)


def add_building(actor: Actor, user_id: int, building_id: int) -> None:
    """Give a janitor a building too (admin); 409 when it is assigned already."""
    require_admin(actor)
    _add(janitor_buildings, "building_id", user_id, building_id)


def _add(table, column: str, user_id: int, ref: int) -> None:
    """One INSERT of the row (user, ref), logged as its removal is. A concurrent add of the same
    row meets the primary key: the savepoint keeps the request's transaction."""
    try:
        with db.session.begin_nested():
            db.session.execute(insert(table).values(user_id=user_id, **{column: ref}))
    except IntegrityError as error:
        raise StateConflict("Already assigned.") from error
    stored = (
        db.session.execute(select(table).where(table.c.user_id == user_id, table.c[column] == ref))
        .mappings()
        .one()
    )
    audit.record("insert", table.name, f"{user_id}/{ref}", None, dict(stored))


def remove_membership(actor: Actor, user_id: int, organization_id: int) -> None:
    """Remove a member from an organisation (admin); 404 when the user is not a member of it."""
    require_admin(actor)
    _remove(memberships, memberships.c.organization_id, user_id, organization_id, "a member of organisation")


def remove_building(actor: Actor, user_id: int, building_id: int) -> None:
    """Take a building from a janitor (admin); 404 when it is not assigned to the user."""
    require_admin(actor)
    _remove(
        janitor_buildings, janitor_buildings.c.building_id, user_id, building_id, "the janitor of building"
    )


def _remove(table, column, user_id: int, ref: int, what: str) -> None:
    """One conditional DELETE of the row (user, ref); its rows say whether there was one. Logged
    here, as the audit hook only sees mapped classes."""
    removed = (
        db.session.execute(delete(table).where(table.c.user_id == user_id, column == ref).returning(*table.c))
        .mappings()
        .all()
    )
    if not removed:
        if db.session.get(User, user_id) is None:
            raise NotFound(f"There is no user {user_id}.")
        raise NotFound(f"User {user_id} is not {what} {ref}.")
    audit.record("delete", table.name, f"{user_id}/{ref}", dict(removed[0]), None)
