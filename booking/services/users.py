from __future__ import annotations

from sqlalchemy import select

from booking.domain.errors import InvalidInput, StateConflict
from booking.extensions import db
from booking.models import Building, Organization, User
from booking.models.types import utcnow
from booking.services.access import Actor, require_admin
from booking.services.auth import hash_password


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
