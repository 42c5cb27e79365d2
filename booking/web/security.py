"""Sessions, CSRF tokens and safe redirects for the pages.

- The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure with
  ``BOOKING_SECURE_COOKIES``; see ``booking.config``). It holds the secret of a server-side
  session (``WebSession``, SPEC §13), the CSRF token and the language; never the user id alone.
  Logging in starts a fresh session (no fixation) that ends at the latest after
  ``PERMANENT_SESSION_LIFETIME``; logging out ends it on the server and clears the cookie, so a
  copy of the cookie kept somewhere is refused from then on.
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

from flask import abort, current_app, request, session
from markupsafe import Markup

from booking.services.auth import end_session, start_session
from booking.web.i18n import SESSION_KEY as LANGUAGE_KEY

CSRF_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
LOGIN_KEY = "login"  # the secret of the server-side session


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


def login_secret() -> str | None:
    """The secret of the server-side session this cookie points at, if any."""
    secret = session.get(LOGIN_KEY)
    return secret if isinstance(secret, str) and secret else None


def log_in(user_id: int) -> None:
    """A fresh session for the user (the caller checked the password or a mailed link): a new
    server-side session whose secret the cookie holds; the cookie's old session, if any, ends,
    and its CSRF token is dropped."""
    log_out()
    session[LOGIN_KEY] = start_session(user_id, current_app.permanent_session_lifetime)
    csrf_token()


def log_out() -> None:
    """End the server-side session and clear the cookie (the language stays)."""
    secret = login_secret()
    if secret is not None:
        end_session(secret)
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
