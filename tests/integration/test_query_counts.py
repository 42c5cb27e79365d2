"""Bounded queries: the pages people load most send a fixed number of SQL statements, however
many rooms, buildings and bookings there are (no N+1). Counted with an engine listener, each
endpoint with little data and with several times more."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from booking.extensions import db
from booking.services.auth import actor_for
from booking.services.bookings import BookingRequest, create_booking
from pricing import OSLO

LIMITS = {"search": 7, "week": 6, "schedule": 8, "list": 7, "buildings": 4}


@contextmanager
def statements():
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _day() -> datetime:
    return (
        (datetime.now(UTC) + timedelta(days=14))
        .astimezone(OSLO)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )


def _q(value: datetime) -> str:
    return value.isoformat().replace("+", "%2B")


@pytest.fixture
def grow(make):
    """Adds rooms (some divisible), buildings with closures, and bookings; returns handles."""
    organization = make.organization()
    member = make.user("member", organizations=[organization], password=None)
    state = {"buildings": [], "rooms": [], "n": 0}

    def more(buildings: int, rooms_each: int, bookings_each: int):
        day = _day()
        for _ in range(buildings):
            building = make.building(
                closures=[
                    {
                        "start_date": day.date() + timedelta(days=60),
                        "end_date": day.date() + timedelta(days=61),
                        "reason": "Stengt",
                    }
                ]
            )
            state["buildings"].append(building)
            halves = [make.room(building, kind="gym") for _ in range(2)]
            whole = make.room(building, kind="gym", part_ids=[h.id for h in halves])
            rooms = halves + [whole] + [make.room(building) for _ in range(rooms_each)]
            state["rooms"] += rooms
            for room in rooms:
                for k in range(bookings_each):
                    state["n"] += 1
                    start = day + timedelta(hours=8 + 2 * k + (1 if room is whole else 0))
                    create_booking(
                        actor_for(member.user),
                        BookingRequest.from_input(
                            {
                                "room_id": room.id,
                                "organization_id": organization.id,
                                "title": f"B {state['n']}",
                                "start": start,
                                "end": start + timedelta(hours=1),
                            }
                        ),
                    )
                create_booking(
                    actor_for(member.user),
                    BookingRequest.from_input(
                        {
                            "room_id": room.id,
                            "organization_id": organization.id,
                            "title": "Serie",
                            "start": day + timedelta(days=1, hours=18),
                            "end": day + timedelta(days=1, hours=19),
                            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
                        }
                    ),
                ) if room in halves[:1] else None
        db.session.commit()
        return state

    return member, more


def _measure(client, path: str, headers=None) -> int:
    db.session.rollback()
    client.get(path, headers=headers)  # warm: the first request of a process loads metadata
    with statements() as seen:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.get_data()[:300])
    return len(seen)


def test_room_search_with_free_time_is_bounded(client, grow):
    _, more = grow
    day = _day()
    path = (
        f"/api/v1/rooms?free_from={_q(day + timedelta(hours=9))}&free_to={_q(day + timedelta(hours=11))}"
        "&page_size=500"
    )
    more(1, 1, 1)
    small = _measure(client, path)
    more(4, 6, 3)
    large = _measure(client, path)
    assert small == large <= LIMITS["search"], (small, large)


def test_a_rooms_week_is_bounded(client, grow):
    _, more = grow
    day = _day()
    state = more(1, 0, 1)
    room = state["rooms"][2]  # the divisible gym: its week reads both halves
    path = f"/api/v1/rooms/{room.id}/availability?from={_q(day)}&to={_q(day + timedelta(days=7))}"
    small = _measure(client, path)
    more(2, 2, 5)
    for k in range(8):  # many more bookings in this very room
        start = day + timedelta(days=2, hours=7 + k)
        create_booking(
            actor_for(grow[0].user),
            BookingRequest.from_input(
                {
                    "room_id": room.id,
                    "organization_id": grow[0].user.organizations[0].id,
                    "title": "Mer",
                    "start": start,
                    "end": start + timedelta(minutes=45),
                }
            ),
        )
    db.session.commit()
    large = _measure(client, path)
    assert small == large <= LIMITS["week"], (small, large)


def test_the_janitor_day_schedule_is_bounded(client, grow, make):
    _, more = grow
    day = _day()
    state = more(1, 1, 1)
    building = state["buildings"][0]
    janitor = make.user("janitor", buildings=[building], password=None)
    path = f"/api/v1/buildings/{building.id}/schedule?date={day.date().isoformat()}"
    small = _measure(client, path, janitor.headers)
    for _ in range(6):
        room = make.room(building)
        for k in range(4):
            start = day + timedelta(hours=8 + 2 * k)
            create_booking(
                actor_for(grow[0].user),
                BookingRequest.from_input(
                    {
                        "room_id": room.id,
                        "organization_id": grow[0].user.organizations[0].id,
                        "title": "Dag",
                        "start": start,
                        "end": start + timedelta(hours=1),
                    }
                ),
            )
    db.session.commit()
    large = _measure(client, path, janitor.headers)
    assert small == large <= LIMITS["schedule"], (small, large)


def test_a_members_booking_list_is_bounded(client, grow):
    member, more = grow
    more(1, 0, 1)
    small = _measure(client, "/api/v1/bookings?page_size=500", member.headers)
    more(3, 4, 3)
    large = _measure(client, "/api/v1/bookings?page_size=500", member.headers)
    assert small == large <= LIMITS["list"], (small, large)


def test_the_buildings_list_is_bounded(client, grow):
    """Each building shows its closures: one statement for the page's closures, not one per
    building."""
    _, more = grow
    more(1, 0, 0)
    small = _measure(client, "/api/v1/buildings?page_size=100")
    more(6, 0, 0)
    large = _measure(client, "/api/v1/buildings?page_size=100")
    listed = client.get("/api/v1/buildings?page_size=100").get_json()
    assert len(listed) >= 7 and all(len(b["closures"]) == 1 for b in listed[-7:])
    assert small == large <= LIMITS["buildings"], (small, large)
