"""Helpers for tests that register through HTTP: a self-registered account must confirm its
address before it can log in (SPEC §13); these follow the mailed link as its owner would."""

from __future__ import annotations

from sqlalchemy import select

from booking.extensions import db
from booking.models import User
from booking.models.types import utcnow
from booking.services import accounts


def confirm_address(client, email: str) -> User:
    """Confirm the address of the user with ``email`` through ``POST /email-confirmation``, with
    the token a confirmation mail sent now would carry."""
    db.session.commit()  # a new snapshot (SQLite keeps a read transaction's)
    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one()
    token = accounts.link_token(user, accounts.CONFIRM, utcnow())
    answer = client.post("/api/v1/email-confirmation", json={"token": token})
    assert answer.status_code == 204, answer.get_data(as_text=True)
    db.session.expire_all()
    return user


def log_in_through_the_api(client, email: str, password: str) -> dict:
    """Confirm the address, then log in: the headers with the new bearer token."""
    confirm_address(client, email)
    answer = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}
