"""Helpers of the lifecycle regression tests (issue 11): HTTP calls from threads that leave
together, and the checks of SPEC §11 read from the database and from the API."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from booking.domain.holidays import is_public_holiday
from booking.domain.timeslots import occupied_until
from booking.extensions import db
from booking.models import Booking, Occupancy, Room, room_units
from tests.integration.test_no_double_booking import overlapping_active_pairs

# What a 2xx answer says about the booking, and what the final state must show of the latest one.
STATE_KEYS = ("status", "start", "end", "room_id", "cancellation_fee", "sequence")


@dataclass
class Answer:
    status: int  # 0: the connection failed, the client cannot know what happened
    body: dict | None
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call(
    url: str,
    method: str,
    path: str,
    token: str,
    body: dict | None = None,
    if_match: str | None = None,
    timeout: float = 60,
) -> Answer:
    """One request to a running server, as a separate client would make it."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if if_match is not None:
        headers["If-Match"] = if_match
    request = urllib.request.Request(
        url + "/api/v1" + path,
        data=json.dumps(body if body is not None else {}).encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        try:
            return Answer(error.code, json.loads(error.read() or b"null"), dict(error.headers))
        except (OSError, ValueError, http.client.HTTPException):
            return Answer(error.code, None)
    except (OSError, ValueError, http.client.HTTPException):
        return Answer(0, None)


def race(calls: Sequence[Callable[[], Answer]]) -> list[Answer]:
    """Run the calls in threads released by one barrier, so the requests leave together."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def occupancy_problems(booking_ids: Sequence[int]) -> list[str]:
    """What breaks "the occupancy matches the status" (SPEC §11) for these bookings, read from
    the database: a confirmed booking holds one active row per unit of its room for
    ``[start, end + buffer)``, a pending one the same rows inactive, any other none; and no two
    active rows overlap on a unit anywhere. Empty when all is well."""
    db.session.rollback()  # a fresh read: other processes committed since this session last read
    problems = []
    for booking_id in booking_ids:
        booking = db.session.get(Booking, booking_id)
        buffer_minutes = db.session.get(Room, booking.room_id).buffer_minutes
        units = db.session.execute(
            select(room_units.c.unit_id).where(room_units.c.room_id == booking.room_id)
        ).scalars()
        held = sorted(
            (o.unit_id, o.start, o.occupied_until, o.active)
            for o in db.session.execute(select(Occupancy).where(Occupancy.booking_id == booking_id)).scalars()
        )
        status = str(booking.status)
        expected = []
        if status in ("pending", "confirmed"):
            until = occupied_until(booking.end, buffer_minutes)
            expected = sorted((u, booking.start, until, status == "confirmed") for u in units)
        if held != expected:
            problems.append(f"booking {booking_id} is {status} and holds {held}; expected {expected}")
    problems += [f"active occupancies {a} and {b} overlap" for a, b in overlapping_active_pairs()]
    db.session.rollback()
    return problems


def assert_answers_match_final_state(client, admin, booking_id: int, answers: Sequence[Answer]) -> dict:
    """SPEC §11: two 2xx answers about one booking never carry the same sequence, and the final
    state is the one the answer with the highest sequence told. Returns the final state."""
    told = [a.body for a in answers if a.ok]
    sequences = [body["sequence"] for body in told]
    assert len(set(sequences)) == len(sequences), f"2xx answers share a sequence: {told}"
    final = client.get(f"/api/v1/bookings/{booking_id}", headers=admin.headers).get_json()
    latest = max(told, key=lambda body: body["sequence"])
    assert {k: final[k] for k in STATE_KEYS} == {k: latest.get(k) for k in STATE_KEYS}, (final, told)
    return final


def statuses(answers: Sequence[Answer]) -> list[int]:
    return sorted(a.status for a in answers)


def plain_weekday_between(first: date, last: date) -> date:
    """The first Monday–Friday from ``first`` to ``last`` that is not a public holiday; ``first``
    when there is none (Easter can fill five days in a row)."""
    day = first
    while day <= last:
        if day.weekday() < 5 and not is_public_holiday(day):
            return day
        day += timedelta(days=1)
    return first


def last_sunday_of_october(year: int) -> date:
    """The night the clocks go back in Europe/Oslo: 03:00 CEST becomes 02:00 CET."""
    day = date(year, 10, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)
