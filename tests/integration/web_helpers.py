"""Helpers for the page tests: session log-in, CSRF tokens, future dates that are no holidays."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from booking.domain.holidays import holiday_dates
from booking.extensions import db
from booking.services.auth import start_session
from booking.web.security import LOGIN_KEY
from pricing.weekly import OSLO

TOKEN = "test-csrf-token"


def today() -> date:
    return datetime.now(OSLO).date()


def clear_weekday(weekday: int, weeks: int = 1, from_days: int = 21) -> date:
    """The first ``weekday`` (0 = Monday) at least ``from_days`` ahead whose next ``weeks``
    weekly dates are no public holidays."""
    day = today() + timedelta(days=from_days)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    while True:
        dates = [day + timedelta(weeks=i) for i in range(weeks)]
        if not holiday_dates(dates[0], dates[-1]) & set(dates):
            return day
        day += timedelta(weeks=1)


def log_in(client, user) -> None:
    """Log ``user`` in as the login form does (a server-side session whose secret the cookie
    holds) and set a known CSRF token."""
    with client.session_transaction() as session:
        session[LOGIN_KEY] = session_secret(client.application, user)
        session["csrf_token"] = TOKEN


def session_secret(app, user) -> str:
    """The secret of a new server-side page session of ``user`` (committed)."""
    secret = start_session(user.id, app.permanent_session_lifetime)
    db.session.commit()
    return secret


def with_csrf(client) -> None:
    with client.session_transaction() as session:
        session["csrf_token"] = TOKEN


def post(client, path: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token."""
    return client.post(path, data=dict(data or {}, csrf_token=TOKEN), **kwargs)


def text(response) -> str:
    """The page's visible text, tags removed and whitespace collapsed (for assertions)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u00a0", " ").strip()


def api_book(client, login, room, organization, day: date, start: str, end: str, **extra):
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": extra.pop("title", "Øving"),
        "start": f"{day.isoformat()}T{start}",
        "end": f"{day.isoformat()}T{end}",
    }
    payload.update(extra)
    response = client.post("/api/v1/bookings", json=payload, headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
