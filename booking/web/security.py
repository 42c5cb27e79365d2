"""Sessions, CSRF tokens and safe redirects for the pages.

- The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure with
  ``BOOKING_SECURE_COOKIES``; see ``booking.config``). It holds the user id, the CSRF token and
  the language. Logging in starts a fresh session (no fixation); logging out clears it.
- CSRF: a random token per session, put into every form by ``csrf_field()`` and checked with a
  constant-time comparison on every POST to the web blueprint. Without the token, or with a stale
  one, the POST is refused (400) before any view runs.
- ``next`` parameters are followed only to paths on this site (``/my``, never ``//evil`` or
  ``https://…``), so the login form cannot be used as an open redirect.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import abort, request, session
from markupsafe import Markup

from booking.web.i18n import SESSION_KEY as LANGUAGE_KEY

CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def check_csrf() -> None:
    """Refuse a POST whose form token does not match the session's (runs before every POST of the
    web blueprint)."""
    if request.method != "POST":
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_KEY, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")


def log_in(user_id: int) -> None:
    """A fresh session for the user: the old one (and its CSRF token) is dropped."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    session["user_id"] = user_id
    if language:
        session[LANGUAGE_KEY] = language
    csrf_token()


def log_out() -> None:
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
