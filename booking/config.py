"""Configuration from environment variables with the ``BOOKING_`` prefix (documented in README)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common ``postgresql://`` form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(instance_path: str) -> str:
    """A secret key kept in the instance folder, so sessions survive restarts and every worker
    of one installation signs cookies with the same key. Production sets BOOKING_SECRET_KEY."""
    path = Path(instance_path) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_hex(32)
        handle.write(key)
    return key


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict:
    env = os.environ if environ is None else environ
    default_db = "sqlite:///" + str(Path(instance_path) / "booking.sqlite")
    database_url = env.get("BOOKING_DATABASE_URL") or env.get("DATABASE_URL") or default_db
    return {
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "SECRET_KEY": env.get("BOOKING_SECRET_KEY") or _instance_secret_key(instance_path),
        "MAX_CONTENT_LENGTH": int(env.get("BOOKING_MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH)),
        "BOOKING_PUBLIC_URL": env.get("BOOKING_PUBLIC_URL", "").rstrip("/"),
        "SESSION_COOKIE_SECURE": _bool(env.get("BOOKING_SECURE_COOKIES", "false")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "BOOKING_TOKEN_TTL_DAYS": int(env.get("BOOKING_TOKEN_TTL_DAYS", "90")),
        "BOOKING_SQL_ECHO": _bool(env.get("BOOKING_SQL_ECHO", "false")),
        # Rate limits on logging in (booking.ratelimit); limits in Flask-Limiter's notation.
        "RATELIMIT_ENABLED": _bool(env.get("BOOKING_RATELIMIT_ENABLED", "true")),
        "RATELIMIT_STORAGE_URI": env.get("BOOKING_RATELIMIT_STORAGE_URL") or "memory://",
        "BOOKING_RATELIMIT_LOGIN": env.get("BOOKING_RATELIMIT_LOGIN", "10 per minute;100 per hour"),
        "BOOKING_TRUSTED_PROXIES": int(env.get("BOOKING_TRUSTED_PROXIES", "0")),
        # Rendered feeds (booking.feeds.cache): empty keeps them in the database, a redis:// URL
        # in Redis (shared by every app server that names it), "off" renders every GET.
        "BOOKING_FEED_CACHE_URL": env.get("BOOKING_FEED_CACHE_URL", ""),
        # Mail (SPEC §12, booking.mail): without a URL, messages are written as .eml files into
        # BOOKING_MAIL_DIR (default: the instance folder's mail/).
        "BOOKING_MAIL_URL": env.get("BOOKING_MAIL_URL", ""),
        "BOOKING_MAIL_FROM": env.get("BOOKING_MAIL_FROM", "booking@localhost"),
        "BOOKING_MAIL_DIR": env.get("BOOKING_MAIL_DIR", ""),
        "BOOKING_MAIL_RETRY_SECONDS": float(env.get("BOOKING_MAIL_RETRY_SECONDS", "30")),
        "BOOKING_MAIL_MAX_ATTEMPTS": int(env.get("BOOKING_MAIL_MAX_ATTEMPTS", "10")),
        "BOOKING_MAIL_LEASE_SECONDS": float(env.get("BOOKING_MAIL_LEASE_SECONDS", "120")),
        "BOOKING_MAIL_POLL_SECONDS": float(env.get("BOOKING_MAIL_POLL_SECONDS", "1")),
        "BOOKING_MORNING_SHEET_HOUR": int(env.get("BOOKING_MORNING_SHEET_HOUR", "6")),
        # The municipality's number in Enhetsregisteret's addresses (SPEC §13): an organisation
        # whose business address is in it is ``local``. Bærum's since 2024 (3024 in Viken, 0219
        # before 2020).
        "BOOKING_MUNICIPALITY_NUMBER": env.get("BOOKING_MUNICIPALITY_NUMBER", "3201"),
    }
