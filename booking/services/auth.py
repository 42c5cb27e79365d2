"""Passwords, API tokens and the pages' server-side sessions.

Both kinds of credential are random secrets (256 bits) of which only the SHA-256 is stored, and
both are checked on every request by one statement that also reads the user's role,
organisations and buildings: a revoked token, an ended or expired session and a deactivated user
are refused at once, and a removed membership or building is gone from the next request on.

A page session (``WebSession``) ends when the user logs out, resets the password or is
deactivated, and at the latest ``expires_at`` (set when it starts; the pages use Flask's
``PERMANENT_SESSION_LIFETIME``, 31 days unless configured): the cookie is only a pointer to it,
so a copy of the cookie is worth nothing once the session has ended.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, literal, select, union_all, update
from werkzeug.security import check_password_hash, generate_password_hash

from booking.domain.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from booking.extensions import db
from booking.models import ApiToken, User, WebSession
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


UNCONFIRMED = (
    "The e-mail address is not confirmed yet: follow the link in the confirmation mail sent to it, "
    "then log in."
)


class AddressNotConfirmed(PermissionDenied):
    """The password is right, but the user never followed the link that confirms the address
    (SPEC §13): no login yet. Carries the user, so the login page can send a new link."""

    def __init__(self, user: User) -> None:
        super().__init__(UNCONFIRMED)
        self.user = user


def authenticate_password(email: str, password: str) -> User:
    """The active user with this e-mail and password, whose address is confirmed.

    An unknown e-mail, a wrong password and a deactivated user get the same error; only with the
    right password does the caller learn that the address is unconfirmed (``AddressNotConfirmed``,
    403), so that reveals nothing to someone without it. The user's row is read with a shared
    lock (PostgreSQL; SQLite serializes writing requests anyway): a deactivation or a password
    reset at the same moment waits for this login to commit and then ends the token or session
    it made, or this login waits for it and is refused."""
    user = db.session.execute(
        select(User).where(User.email == email.strip().lower()).with_for_update(read=True)
    ).scalar_one_or_none()
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password) or user is None or not user.active or not user.password_hash:
        raise NotAuthenticated("Wrong e-mail or password.")
    if user.email_confirmed_at is None:
        raise AddressNotConfirmed(user)
    return user


def login(email: str, password: str, ttl_days: int | None = None) -> str:
    """Check the password and issue a new API token."""
    return issue_token(authenticate_password(email, password), ttl_days)


def _actor_statement(credential, ended_at):
    """The user of a working ``credential`` (``ApiToken`` or ``WebSession``, by the hash of its
    secret; not revoked or ended, the user active) with one row per organisation membership and
    janitor building (the user's row alone when there are none). Expiry is checked by the
    caller."""
    scopes = union_all(
        select(
            memberships.c.user_id,
            literal("organization").label("kind"),
            memberships.c.organization_id.label("ref"),
        ),
        select(janitor_buildings.c.user_id, literal("building"), janitor_buildings.c.building_id),
    ).subquery()
    return (
        select(User.id, User.role, credential.expires_at, scopes.c.kind, scopes.c.ref)
        .join(credential, credential.user_id == User.id)
        .outerjoin(scopes, scopes.c.user_id == User.id)
        .where(
            credential.token_hash == bindparam("token_hash"),
            ended_at.is_(None),
            User.active.is_(True),
        )
    )


# Every authenticated request runs one of them: built once, so only the parameter changes.
_ACTOR_BY_TOKEN = _actor_statement(ApiToken, ApiToken.revoked_at)
_ACTOR_BY_SESSION = _actor_statement(WebSession, WebSession.ended_at)


def _actor_by(statement, secret: str) -> Actor | None:
    """One statement without ORM objects (see ``_actor_statement``)."""
    rows = db.session.execute(statement, {"token_hash": hash_token(secret)}).all()
    if not rows or (rows[0].expires_at is not None and rows[0].expires_at <= utcnow()):
        return None
    return _actor(rows[0].id, rows[0].role, [(row.kind, row.ref) for row in rows if row.kind])


def actor_for_token(token: str) -> Actor | None:
    """The actor of a valid bearer token, or None (unknown, expired, revoked, inactive user)."""
    return _actor_by(_ACTOR_BY_TOKEN, token)


def actor_for_session(secret: str) -> Actor | None:
    """The actor of a page session, by the secret its cookie holds, or None (unknown, ended,
    expired, inactive user)."""
    return _actor_by(_ACTOR_BY_SESSION, secret)


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


# --- page sessions (SPEC §13) -------------------------------------------------------------------


def start_session(user_id: int, lifetime: timedelta) -> str:
    """Start a page session for the user, ending at the latest after ``lifetime``; returns its
    secret for the cookie (only the hash is stored)."""
    secret = new_secret()
    now = utcnow()
    db.session.add(
        WebSession(user_id=user_id, token_hash=hash_token(secret), created_at=now, expires_at=now + lifetime)
    )
    db.session.flush()
    return secret


def end_session(secret: str) -> None:
    """End the page session with this secret (logging out); an ended or unknown one stays as it
    is. One conditional UPDATE, so a replayed cookie is refused from the commit on."""
    db.session.execute(
        update(WebSession)
        .where(WebSession.token_hash == hash_token(secret), WebSession.ended_at.is_(None))
        .values(ended_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


def end_all_credentials(user_id: int) -> None:
    """Revoke every API token and end every page session of the user (a password reset, a
    deactivation): conditional UPDATEs, so what ended earlier keeps its time."""
    now = utcnow()
    for credential, ended_at in ((ApiToken, ApiToken.revoked_at), (WebSession, WebSession.ended_at)):
        db.session.execute(
            update(credential)
            .where(credential.user_id == user_id, ended_at.is_(None))
            .values({ended_at.key: now}),
            execution_options={"synchronize_session": False},
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
