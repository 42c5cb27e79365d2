"""Passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, literal, select, union_all, update
from werkzeug.security import check_password_hash, generate_password_hash

from booking.domain.errors import InvalidInput, NotAuthenticated, NotFound
from booking.extensions import db
from booking.models import ApiToken, User
from booking.models.types import utcnow
from booking.models.user import janitor_buildings, memberships
from booking.services.access import ANONYMOUS, Actor, require_user

# A real hash to compare against when the e-mail is unknown, so a login attempt takes as long
# for an unknown user as for a wrong password (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt with a random salt


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def issue_token(user: User, ttl_days: int | None = None) -> str:
    """Create an API token for ``user``; returns the token, of which only the hash is stored."""
    token = new_secret()
    expires_at = utcnow() + timedelta(days=ttl_days) if ttl_days else None
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
    db.session.flush()
    return token


def authenticate_password(email: str, password: str) -> User:
    """The active user with this e-mail and password; the same error for an unknown e-mail and a
    wrong password."""
    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password) or user is None or not user.active or not user.password_hash:
        raise NotAuthenticated("Wrong e-mail or password.")
    return user


def login(email: str, password: str, ttl_days: int | None = None) -> str:
    """Check the password and issue a new API token."""
    return issue_token(authenticate_password(email, password), ttl_days)


def _actor_by_token_statement():
    scopes = union_all(
        select(
            memberships.c.user_id,
            literal("organization").label("kind"),
            memberships.c.organization_id.label("ref"),
        ),
        select(janitor_buildings.c.user_id, literal("building"), janitor_buildings.c.building_id),
    ).subquery()
    return (
        select(User.id, User.role, ApiToken.expires_at, scopes.c.kind, scopes.c.ref)
        .join(ApiToken, ApiToken.user_id == User.id)
        .outerjoin(scopes, scopes.c.user_id == User.id)
        .where(
            ApiToken.token_hash == bindparam("token_hash"),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    )


# Every API request runs it: built once, so only its parameter changes per request.
_ACTOR_BY_TOKEN = _actor_by_token_statement()


def actor_for_token(token: str) -> Actor | None:
    """The actor of a valid bearer token, or None (unknown, expired, revoked, inactive user).
    One statement without ORM objects: the token's user with one row per organisation
    membership and janitor building (the user's row alone when there are none)."""
    rows = db.session.execute(_ACTOR_BY_TOKEN, {"token_hash": hash_token(token)}).all()
    if not rows or (rows[0].expires_at is not None and rows[0].expires_at <= utcnow()):
        return None
    return _actor(rows[0].id, rows[0].role, [(row.kind, row.ref) for row in rows if row.kind])


def actor_for(user: User | None) -> Actor:
    if user is None or not user.active:
        return ANONYMOUS
    return _actor(
        user.id,
        user.role,
        [("organization", o.id) for o in user.organizations] + [("building", b.id) for b in user.buildings],
    )


def _actor(user_id: int, role: str, scopes: list[tuple[str, int]]) -> Actor:
    return Actor(
        user_id=user_id,
        role=role,
        organization_ids=frozenset(ref for kind, ref in scopes if kind == "organization"),
        building_ids=frozenset(ref for kind, ref in scopes if kind == "building"),
    )


# --- revocation (SPEC §13) -------------------------------------------------------------------


def list_tokens(actor: Actor, current_hash: str | None = None) -> list[dict]:
    """The caller's tokens that still work, newest first; no secrets (``current`` marks the
    one this request came with)."""
    require_user(actor)
    now = utcnow()
    tokens = db.session.execute(
        select(ApiToken)
        .where(
            ApiToken.user_id == actor.user_id,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
        )
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).scalars()
    return [
        {
            "id": token.id,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "current": token.token_hash == current_hash,
        }
        for token in tokens
    ]


def revoke_token(actor: Actor, token_id: int) -> None:
    """Revoke one of the caller's tokens (404 for another user's: it is not theirs to know of).
    One conditional UPDATE, so two revocations at once both answer as if each did it."""
    require_user(actor)
    mine = (ApiToken.id == token_id) & (ApiToken.user_id == actor.user_id)
    if db.session.execute(select(ApiToken.id).where(mine)).first() is None:
        raise NotFound(f"You have no token {token_id}.")
    db.session.execute(
        update(ApiToken).where(mine, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


def revoke_current_token(actor: Actor, current_hash: str | None) -> None:
    """Revoke the token this request came with (logging out of an API client)."""
    require_user(actor)
    if current_hash is None:
        raise InvalidInput({"Authorization": ["This request did not come with a bearer token."]})
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == current_hash, ApiToken.user_id == actor.user_id)
        .values(revoked_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
