"""The HTTP side of authentication: who is calling, and one commit per request."""

from __future__ import annotations

import functools
import hmac

from flask import request, session
from sqlalchemy import func, select

from booking.domain.errors import NotAuthenticated, PermissionDenied
from booking.extensions import db
from booking.services import audit
from booking.services.access import ANONYMOUS, Actor, require_user
from booking.services.auth import actor_for_session, actor_for_token
from booking.web.security import CSRF_KEY, LOGIN_KEY, login_secret

CSRF_HEADER = "X-CSRF-Token"
_ACTOR_KEY = "booking.actor"  # cached per request (not on g, which may outlive a request)
PAGINATION = {"page_size": 50, "max_page_size": 500}
SECURITY = [{"bearer": []}, {}]  # OpenAPI: bearer token, or anonymous where the service allows it


def current_actor() -> Actor:
    """The caller: from a Bearer token (API clients) or the session cookie (web pages), each
    checked with one statement per request. A token that is sent but unknown, expired or revoked
    is a 401, not anonymous. A cookie whose server-side session has ended (logout, password
    reset, deactivation) or expired makes the caller anonymous, and is cleared: the pages then
    ask to log in and the API's routes for users answer 401, while public pages keep working for
    a browser that still sends the old cookie."""
    cached = request.environ.get(_ACTOR_KEY)
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        actor = actor_for_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if actor is None:
            raise NotAuthenticated("The bearer token is invalid, expired or revoked.")
    elif (secret := login_secret()) is not None:
        _require_csrf_header_for_api_writes()
        actor = actor_for_session(secret)
        if actor is None:
            session.pop(LOGIN_KEY, None)
            actor = ANONYMOUS
    else:
        actor = ANONYMOUS
    request.environ[_ACTOR_KEY] = actor
    audit.set_acting(actor, f"{request.method} {request.path}")
    return actor


def _require_csrf_header_for_api_writes() -> None:
    """A change through the JSON API authenticated by the pages' session cookie must carry the
    session's CSRF token in ``X-CSRF-Token`` (the pages' own forms are checked by the web
    blueprint). SameSite=Lax already keeps the cookie off cross-site POSTs; this does not rely on
    the browser for it."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.path.startswith("/api/"):
        return
    sent, expected = request.headers.get(CSRF_HEADER, ""), session.get(CSRF_KEY, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDenied(
            f"A change made with the session cookie needs the session's CSRF token in {CSRF_HEADER} "
            "(or use 'Authorization: Bearer <token>')."
        )


def login_required(view):
    """Answer 401 before parsing the body: an anonymous caller learns nothing about the input."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        require_user(current_actor())
        return view(*args, **kwargs)

    return wrapper


def paginate(query, pagination_parameters, *, rows: bool = False) -> list:
    """Run ``query`` for one page and tell flask-smorest the total (X-Pagination header): ORM
    entities, or with ``rows`` plain rows as dicts.

    The first page of rows comes with its total counted beside each row (a window count): one
    statement, whose filter runs once instead of once for the count and again for the page (a
    room search tests every room's occupancy). Later pages count first, so that a page number
    too large for an SQL OFFSET never reaches the database. (For ORM entities the separate count
    stays: it can count from an index where the window count reads every whole row.)"""
    size, first = pagination_parameters.page_size, pagination_parameters.first_item
    if rows and first == 0:
        counted = query.add_columns(func.count().over().label(_TOTAL)).limit(size)
        page = db.session.execute(counted).mappings().all()
        pagination_parameters.item_count = page[0][_TOTAL] if page else 0
        return [{key: value for key, value in row.items() if key != _TOTAL} for row in page]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pagination_parameters.item_count = total
    if first >= total:
        return []  # past the end (a page number too large for an SQL OFFSET included)
    page = query.limit(size).offset(first)
    if rows:
        return [dict(row) for row in db.session.execute(page).mappings()]
    return list(db.session.scalars(page))


_TOTAL = "_total"
