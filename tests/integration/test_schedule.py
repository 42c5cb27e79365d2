"""The janitor's day schedule, ``GET /api/v1/buildings/{id}/schedule?date=``: content, order,
supervision and buffers, who may read it, bad input, and a query count that does not grow with
the number of bookings."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from booking.extensions import db
from tests.integration.test_api_foundation import assert_problem
from tests.integration.web_helpers import api_book, clear_weekday

TUESDAY = 1


@contextmanager
def count_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def house(make):
    building = make.building(name="Hauger skole")  # staffed weekdays 08:00-16:00
    gym = make.room(building, name="Gymsal", kind="gym", capacity=60, buffer_minutes=15)
    hall = make.room(building, name="Aula", kind="hall", capacity=100, supervision="never")
    choir = make.organization(name="Haslum Kor", contact_name="Kari Korleder", phone="+47 411 11 111")
    club = make.organization(name="Hauger IL", contact_name="Per Trener", phone="+47 422 22 222")
    janitor = make.janitor(building)
    return building, gym, hall, choir, club, make.member(choir), make.member(club), janitor


def test_schedule_lists_the_day_in_time_order_with_contacts_supervision_and_locks(client, make, house):
    building, gym, hall, choir, club, choir_member, club_member, janitor = house
    day = clear_weekday(TUESDAY)
    api_book(
        client,
        club_member,
        gym,
        club,
        day,
        "17:00",
        "19:00",
        title="Innebandy",
        attendees=24,
        notes="Mål i boden",
    )
    api_book(
        client,
        choir_member,
        gym,
        choir,
        day,
        "19:30",
        "21:00",
        title="Korøvelse",
        attendees=30,
        own_supervisor=True,
    )
    api_book(client, choir_member, hall, choir, day, "15:00", "16:00", title="Konsert-prøve")
    api_book(client, choir_member, hall, choir, day + timedelta(days=1), "15:00", "16:00", title="Neste dag")
    response = client.get(f"/api/v1/buildings/{building.id}/schedule?date={day}", headers=janitor.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["building_name"] == "Hauger skole" and body["date"] == day.isoformat()
    assert [b["title"] for b in body["bookings"]] == ["Konsert-prøve", "Innebandy", "Korøvelse"]
    first, sport, choir_practice = body["bookings"]
    assert sport["organization_name"] == "Hauger IL" and sport["contact_name"] == "Per Trener"
    assert sport["phone"] == "+47 422 22 222" and sport["attendees"] == 24 and sport["notes"] == "Mål i boden"
    assert sport["room_name"] == "Gymsal" and sport["start"].startswith(f"{day}T17:00")
    # staffed until 16:00: the sport needs supervision 17-19, the choir brings its own, the hall never
    assert sport["supervision"]["needed"] and not sport["supervision"]["own_supervisor"]
    assert [i["start"][11:16] + "-" + i["end"][11:16] for i in sport["supervision"]["intervals"]] == [
        "17:00-19:00"
    ]
    assert sport["supervision"]["minutes"] == 120 and "utenfor bemannet tid" in sport["supervision"]["reason"]
    assert choir_practice["supervision"]["needed"] and choir_practice["supervision"]["own_supervisor"]
    assert not first["supervision"]["needed"]
    assert sport["buffer_minutes"] == 15 and sport["buffer_until"].startswith(f"{day}T19:15")
    rooms = {r["room_name"]: r for r in body["rooms"]}
    assert rooms["Gymsal"]["first_unlock"].startswith(f"{day}T17:00")
    assert rooms["Gymsal"]["last_lock"].startswith(f"{day}T21:15"), "after the last changeover"
    assert rooms["Aula"]["first_unlock"].startswith(f"{day}T15:00") and rooms["Aula"]["last_lock"].startswith(
        f"{day}T16:00"
    )
    assert [r["room_name"] for r in body["rooms"]] == ["Aula", "Gymsal"], "rooms by first unlock"
    assert body["staffed"][0]["start"].startswith(f"{day}T08:00")


def test_schedule_leaves_out_cancelled_and_pending(client, make, house):
    building, gym, _, choir, _, choir_member, _, janitor = house
    day = clear_weekday(TUESDAY)
    cancelled = api_book(client, choir_member, gym, choir, day, "10:00", "11:00", title="Avlyst")
    client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=choir_member.headers)
    stage = make.room(building, name="Scene", kind="hall", capacity=100, requires_approval=True)
    api_book(client, choir_member, stage, choir, day, "12:00", "13:00", title="Forespørsel")
    body = client.get(
        f"/api/v1/buildings/{building.id}/schedule?date={day}", headers=janitor.headers
    ).get_json()
    assert body["bookings"] == [] and body["rooms"] == []


def test_admin_reads_every_building(client, make, house):
    building, *_ = house
    admin = make.admin()
    response = client.get(
        f"/api/v1/buildings/{building.id}/schedule?date={clear_weekday(TUESDAY)}", headers=admin.headers
    )
    assert response.status_code == 200


def test_schedule_access(client, make, house):
    building, *_rest, choir_member, _club_member, _janitor = house
    day = clear_weekday(TUESDAY)
    elsewhere = make.janitor(make.building(name="Annen skole"))
    url = f"/api/v1/buildings/{building.id}/schedule?date={day}"
    assert_problem(client.get(url, headers=elsewhere.headers), 403)
    assert_problem(client.get(url, headers=choir_member.headers), 403)
    assert_problem(client.get(url), 401)
    assert_problem(
        client.get(f"/api/v1/buildings/999999/schedule?date={day}", headers=make.admin().headers), 404
    )
    assert_problem(
        client.get(f"/api/v1/buildings/999999/schedule?date={day}", headers=elsewhere.headers), 403
    )


@pytest.mark.parametrize("query", ["?date=2026-13-01", "?date=tomorrow", "?date=", ""])
def test_schedule_needs_a_valid_date(client, house, query):
    building, *_rest, janitor = house
    body = assert_problem(
        client.get(f"/api/v1/buildings/{building.id}/schedule{query}", headers=janitor.headers), 422
    )
    assert "date" in body["errors"]


def test_schedule_query_count_does_not_grow_with_bookings(client, make, house):
    building, gym, hall, choir, club, choir_member, club_member, janitor = house
    day = clear_weekday(TUESDAY)
    url = f"/api/v1/buildings/{building.id}/schedule?date={day}"
    api_book(client, choir_member, gym, choir, day, "08:00", "09:00")
    with count_queries() as few:
        assert len(client.get(url, headers=janitor.headers).get_json()["bookings"]) == 1
    for hour in range(10, 22):
        member, organization = (choir_member, choir) if hour % 2 else (club_member, club)
        api_book(
            client, member, hall if hour % 3 else gym, organization, day, f"{hour:02d}:00", f"{hour:02d}:45"
        )
    with count_queries() as many:
        assert len(client.get(url, headers=janitor.headers).get_json()["bookings"]) == 13
    assert len(many) == len(few) <= 8, many


def test_schedule_is_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/buildings/{building_id}/schedule"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
