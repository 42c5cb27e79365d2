"""Passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from booking.domain.errors import NotAuthenticated
from booking.extensions import db
from booking.models import ApiToken, User
from booking.models.types import utcnow
from booking.services.access import ANONYMOUS, Actor

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


def user_for_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    return row.user if row.user.active else None


def actor_for(user: User | None) -> Actor:
    if user is None:
        return ANONYMOUS
    return Actor(
        user_id=user.id,
        role=user.role,
        organization_ids=frozenset(o.id for o in user.organizations),
        building_ids=frozenset(b.id for b in user.buildings),
    )
