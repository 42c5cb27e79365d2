"""Concurrency through real servers: two gunicorn processes, several workers each, on one
database; twenty clients ask for the same time at once. Exactly one wins."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from booking.extensions import db
from tests.integration.live_http import running_servers
from tests.integration.test_no_double_booking import overlapping_active_pairs

CLIENTS = 20
pytestmark = pytest.mark.slow


@pytest.fixture
def servers(app_ctx, database_url):
    """Two separate gunicorn servers (3 workers each) against the test database."""
    with running_servers(database_url, workers=3, secret="race-test") as urls:
        yield urls


def post_booking(url: str, token: str, payload: dict, timeout: float = 60) -> tuple[int, dict | None]:
    """POST a booking; the status and the JSON body. A connection refused or cut is status 0
    (the client cannot know what happened), as under the crash test's kill -9."""
    request = urllib.request.Request(
        url + "/api/v1/bookings",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:  # the body of an error can be cut off too, when the server dies mid-answer
            return error.code, json.loads(error.read() or b"null")
        except (OSError, ValueError, http.client.HTTPException):
            return error.code, None
    except (OSError, ValueError, http.client.HTTPException):
        return 0, None


def _race(urls: list[str], token: str, payloads: list[dict]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(payloads))
    results: list = [None] * len(payloads)

    def client(i: int) -> None:
        barrier.wait()
        results[i] = post_booking(urls[i % len(urls)], token, payloads[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _slot(days: int, hour: int = 18) -> tuple[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour - 1, minute=0, second=0, microsecond=0
    )
    return start.isoformat(), (start + timedelta(hours=2)).isoformat()


@pytest.fixture
def contenders(make):
    building = make.building()
    half_a = make.room(building, name="A", kind="gym")
    half_b = make.room(building, name="B", kind="gym")
    whole = make.room(building, name="A+B", kind="gym", part_ids=[half_a.id, half_b.id])
    organization = make.organization()
    return make.member(organization).token, organization.id, half_a, whole


def test_twenty_clients_one_slot_one_winner(servers, contenders):
    token, organization_id, _, whole = contenders
    start, end = _slot(10)
    payload = {
        "room_id": whole.id,
        "organization_id": organization_id,
        "title": "Race",
        "start": start,
        "end": end,
    }
    results = _race(servers, token, [payload] * CLIENTS)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (CLIENTS - 1), results
    winner = next(body for status, body in results if status == 201)
    for status, body in results:
        if status == 409:
            assert body["conflicts"][0]["booking_id"] == winner["id"]
    db.session.expire_all()
    assert overlapping_active_pairs() == []


def test_series_racing_single_bookings_of_a_part(servers, contenders):
    """A weekly series on the whole gym against single bookings of half A on its third week."""
    token, organization_id, half_a, whole = contenders
    start, end = _slot(10)
    series = {
        "room_id": whole.id,
        "organization_id": organization_id,
        "title": "Series",
        "start": start,
        "end": end,
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=5"},
    }
    third = [(datetime.fromisoformat(t) + timedelta(weeks=2)).isoformat() for t in (start, end)]
    single = {
        "room_id": half_a.id,
        "organization_id": organization_id,
        "title": "Single",
        "start": third[0],
        "end": third[1],
    }
    payloads = [series if i % 2 else single for i in range(CLIENTS)]
    results = _race(servers, token, payloads)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (CLIENTS - 1), results
    db.session.expire_all()
    assert overlapping_active_pairs() == []
