"""Property-based API testing with schemathesis, from the service's own OpenAPI document, through
the WSGI app: for every operation, generated requests (valid and invalid) never get a 5xx, and
every answer matches the document (status code documented, content type, body schema).

Requests carry an admin's bearer token, so authorization lets them through to validation and the
services; a few rows exist (ids 1, 2, ...) so generated ids sometimes hit real data. Bounded:
``MAX_EXAMPLES`` per operation, derandomized, no example database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from booking.services.auth import actor_for
from booking.services.bookings import BookingRequest, create_booking

MAX_EXAMPLES = 10
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)


def _load_schema():
    """The document as the app serves it (read once through a throwaway app, no database)."""
    from booking import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "RATELIMIT_ENABLED": False})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = _load_schema()


@pytest.fixture
def admin_token(make):
    """An admin, and a little of everything for generated ids to find."""
    building = make.building()
    room = make.room(building)
    make.room(building, kind="hall", requires_approval=True)
    organization = make.organization()
    member = make.user("member", organizations=[organization], password=None)
    start = (datetime.now(UTC) + timedelta(days=12)).replace(hour=16, minute=0, second=0, microsecond=0)
    base = {"room_id": room.id, "organization_id": organization.id, "title": "Øving"}
    create_booking(
        actor_for(member.user),
        BookingRequest.from_input({**base, "start": start, "end": start + timedelta(hours=1)}),
    )
    create_booking(
        actor_for(member.user),
        BookingRequest.from_input(
            {
                **base,
                "start": start + timedelta(hours=2),
                "end": start + timedelta(hours=3),
                "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=2"},
            }
        ),
    )
    from booking.extensions import db

    db.session.commit()
    return make.user("admin", password=None).token


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_answers_as_documented(case, client, admin_token):
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", f"Bearer {admin_token}")
    response = case.call(headers=headers, app=client.application)
    case.validate_response(response, checks=CHECKS)
