"""Trust rules for organisations (SPEC §3, §11, §13), through HTTP.

- An unverified organisation only requests, at most ten open requests at a time (a series is one
  request), decided by the database when clients race through two app servers.
- An admin rejects an organisation: its open requests are rejected, it can book nothing, its
  contact and members get one mail; verifying it later lifts the rejection. Races with a
  verification, a member's create and another rejection settle cleanly.
- Janitors see contacts only of organisations with a confirmed booking in their buildings.
- Quotes for an organisation's category need its member (or an admin); anyone quotes a category.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select, text

from booking.extensions import db
from booking.feeds import service as feeds
from booking.mail.content import Gone, render_content
from booking.models import Booking, Organization, OutboxEvent, OutboxMessage
from booking.services.auth import actor_for
from booking.services.bookings import MAX_OPEN_REQUESTS, ORGANIZATION_REQUEST_LOCKS, count_open_requests
from booking.services.notifications import emit, recipients
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_pricing_api import at, today
from tests.integration.test_races import post_booking, servers  # noqa: F401 (a fixture)

# --- helpers -------------------------------------------------------------------------------


def slot(n: int, hour: str = "18:00", until: str = "19:00") -> tuple[str, str]:
    """The n-th of distinct future evenings (local time), none overlapping another."""
    day = today() + timedelta(days=14 + n)
    return at(day, hour), at(day, until)


def payload(room, organization, n: int, **extra) -> dict:
    start, end = slot(n)
    return {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": f"Forespørsel {n}",
        "start": start,
        "end": end,
        **extra,
    }


def create(client, login, body: dict):
    return client.post("/api/v1/bookings", json=body, headers=login.headers)


def created(client, login, body: dict) -> dict:
    response = create(client, login, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fresh() -> None:
    """End the test's own transaction: on SQLite it would keep reading the snapshot from before
    what other connections (threads, servers) committed."""
    db.session.commit()


def events(kind: str) -> list[OutboxEvent]:
    fresh()
    return list(
        db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id))
    )


def statuses(organization) -> dict[int, str]:
    fresh()
    rows = db.session.execute(
        select(Booking.id, Booking.status).where(Booking.organization_id == organization.id)
    )
    return {booking_id: str(status) for booking_id, status in rows}


def reject(client, login, organization):
    return client.post(f"/api/v1/organizations/{organization.id}/reject", headers=login.headers)


@pytest.fixture
def newcomer(make):
    """An unverified organisation with a member, a room and an admin."""
    organization = make.organization(verified=False, name="Nye Lag", contact_name="Nina Ny")
    return organization, make.member(organization), make.room(), make.admin()


def fill_to(client, member, room, organization, count: int) -> list[dict]:
    return [created(client, member, payload(room, organization, n)) for n in range(count)]


# --- at most ten open requests ---------------------------------------------------------------


def test_an_unverified_organisation_has_at_most_ten_open_requests(client, newcomer):
    organization, member, room, admin = newcomer
    requests = fill_to(client, member, room, organization, MAX_OPEN_REQUESTS)
    assert MAX_OPEN_REQUESTS == 10 and {r["status"] for r in requests} == {"pending"}

    eleventh = payload(room, organization, 20)
    body = assert_problem(create(client, member, eleventh), 422, rule="open_request_limit")
    assert body["limit"] == 10 and body["open_requests"] == 10 and "10" in body["detail"]
    # A dry run says the same and writes nothing; a series is refused as well.
    assert_problem(create(client, member, {**eleventh, "dry_run": True}), 422, rule="open_request_limit")
    series = {**eleventh, "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"}}
    assert_problem(create(client, member, series), 422, rule="open_request_limit")
    assert len(statuses(organization)) == 10

    # An admin's booking for the organisation is confirmed: neither limited nor counted.
    by_admin = created(client, admin, payload(room, organization, 21))
    assert by_admin["status"] == "confirmed"
    assert_problem(create(client, member, eleventh), 422, rule="open_request_limit")

    # Withdrawing a request frees a place; so does the municipality's answer to one.
    withdrawn = client.post(f"/api/v1/bookings/{requests[0]['id']}/cancel", json={}, headers=member.headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "cancelled"
    assert created(client, member, eleventh)["status"] == "pending"
    assert_problem(create(client, member, payload(room, organization, 22)), 422, rule="open_request_limit")
    approved = client.post(f"/api/v1/bookings/{requests[1]['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.get_json()
    rejected = client.post(
        f"/api/v1/bookings/{requests[2]['id']}/reject", json={"reason": "Nei"}, headers=admin.headers
    )
    assert rejected.status_code == 200, rejected.get_json()
    created(client, member, payload(room, organization, 22))
    created(client, member, payload(room, organization, 23))
    assert_problem(create(client, member, payload(room, organization, 24)), 422, rule="open_request_limit")
    assert count_open_requests(organization.id) == 10


def test_a_series_is_one_request_however_many_dates(client, newcomer):
    organization, member, room, _ = newcomer
    series = created(
        client, member, payload(room, organization, 0, recurrence={"rrule": "FREQ=WEEKLY;COUNT=5"})
    )
    assert len(series["occurrences"]) == 5
    for n in range(1, 9):
        created(client, member, payload(room, organization, n))
    assert count_open_requests(organization.id) == 9
    tenth = payload(room, organization, 9, recurrence={"rrule": "FREQ=DAILY;COUNT=2"})
    dry = client.post("/api/v1/bookings", json={**tenth, "dry_run": True}, headers=member.headers)
    assert dry.status_code == 200 and dry.get_json()["status"] == "pending", dry.get_json()
    assert count_open_requests(organization.id) == 9  # the dry run wrote nothing
    created(client, member, tenth)
    assert count_open_requests(organization.id) == 10
    assert_problem(create(client, member, payload(room, organization, 30)), 422, rule="open_request_limit")
    # Withdrawing one date of a series leaves the request open; withdrawing all of it closes it.
    first, *rest = series["occurrences"]
    assert (
        client.post(f"/api/v1/bookings/{first['id']}/cancel", json={}, headers=member.headers).status_code
        == 200
    )
    assert count_open_requests(organization.id) == 10
    cancelled = client.post(f"/api/v1/series/{series['id']}/cancel", json={}, headers=member.headers)
    assert cancelled.status_code == 200, cancelled.get_json()
    assert count_open_requests(organization.id) == 9
    created(client, member, payload(room, organization, 30))


def test_requests_whose_time_has_passed_are_not_open(client, newcomer):
    organization, member, room, _ = newcomer
    fill_to(client, member, room, organization, 3)
    last_end = db.session.scalar(
        select(func.max(Booking.end)).where(Booking.organization_id == organization.id)
    )
    assert count_open_requests(organization.id) == 3
    assert count_open_requests(organization.id, now=last_end - timedelta(minutes=1)) == 1
    assert count_open_requests(organization.id, now=last_end) == 0


def test_verified_organisations_request_without_limit(client, make):
    organization = make.organization()
    member = make.member(organization)
    room = make.room(requires_approval=True)
    answers = [created(client, member, payload(room, organization, n)) for n in range(MAX_OPEN_REQUESTS + 2)]
    assert {a["status"] for a in answers} == {"pending"}


def test_the_last_open_request_goes_to_one_of_twenty_clients_through_two_servers(servers, make):  # noqa: F811
    """Nine open requests; twenty members' clients ask for the tenth at once, each in another
    room (so no unit lock orders them), half of them as series, spread over two gunicorn
    servers: exactly one gets it."""
    organization = make.organization(verified=False)
    building = make.building()
    rooms = [make.room(building) for _ in range(20)]
    members = [make.member(organization) for _ in range(4)]
    for n in range(9):
        status, body = post_booking(servers[0], members[0].token, payload(rooms[0], organization, n))
        assert status == 201, body
    bodies = [
        payload(
            rooms[i],
            organization,
            10 + i,
            **({"recurrence": {"rrule": "FREQ=WEEKLY;COUNT=2"}} if i % 2 else {}),
        )
        for i in range(20)
    ]
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def client(i: int) -> None:
        barrier.wait()
        results[i] = post_booking(servers[i % 2], members[i % 4].token, bodies[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(status for status, _ in results) == [201] + [422] * 19, results
    assert all(body["rule"] == "open_request_limit" for status, body in results if status == 422)
    fresh()
    assert count_open_requests(organization.id) == 10


def test_a_create_waits_for_another_create_counting_the_requests(app, client, newcomer):
    """Deterministic: another transaction holds what a create of the tenth request holds (the
    organisation's request lock on PostgreSQL, the write lock on SQLite) and has written it; a
    create of an eleventh waits for it, then counts ten and is refused."""
    organization, member, room, _ = newcomer
    requests = fill_to(client, member, room, organization, 9)
    fresh()
    connection = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    transaction = connection.begin()
    try:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:space, :organization)"),
                {"space": ORGANIZATION_REQUEST_LOCKS, "organization": organization.id},
            )
        columns = ", ".join(
            f'"{c.name}"'
            for c in Booking.__table__.columns
            if c.name not in ("id", "series_id", "original_start")
        )
        connection.execute(
            text(f"INSERT INTO bookings ({columns}) SELECT {columns} FROM bookings WHERE id = :id"),
            {"id": requests[0]["id"]},
        )
        answer: dict = {}

        body = payload(room, organization, 30)

        def eleventh() -> None:
            with app.test_client() as own:
                response = own.post("/api/v1/bookings", json=body, headers=member.headers)
                answer.update(status=response.status_code, body=response.get_json())

        thread = threading.Thread(target=eleventh, daemon=True)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), f"the create did not wait for the other one: {answer}"
        transaction.commit()
    finally:
        connection.close()
    thread.join(timeout=30)
    assert answer["status"] == 422 and answer["body"]["rule"] == "open_request_limit", answer
    fresh()
    assert count_open_requests(organization.id) == 10


# --- rejecting an organisation ---------------------------------------------------------------


def test_an_admin_rejects_an_organisation_and_its_open_requests(client, make, newcomer):
    organization, member, room, admin = newcomer
    other = make.organization(verified=False)
    others_request = created(client, make.member(other), payload(room, other, 0))
    singles = fill_to(client, member, room, organization, 2)
    series = created(
        client, member, payload(room, organization, 5, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"})
    )
    kept = created(client, admin, payload(room, organization, 9))  # an admin's booking: confirmed
    requests = [b["id"] for b in singles] + [o["id"] for o in series["occurrences"]]

    answer = reject(client, admin, organization)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["id"] == organization.id and body["verified"] is False and body["rejected_at"]
    assert body["rejected_requests"] == 3  # two single requests and a series
    assert {"stated_name", "rejected_at"} <= set(body)
    after = statuses(organization)
    assert {after[i] for i in requests} == {"rejected"} and after[kept["id"]] == "confirmed"
    reasons = db.session.scalars(select(Booking.status_reason).where(Booking.id.in_(requests)))
    assert set(reasons) == {"The municipality rejected the organisation."}
    assert statuses(other)[others_request["id"]] == "pending"

    # One mail, to the contact and every member, naming the rejected requests; no mail per request.
    (event,) = events("organization_rejected")
    assert event.params == {"organization_id": organization.id, "booking_ids": sorted(requests)}
    assert not events("booking_rejected")
    second_member = make.member(organization)
    addresses = {r.address for r in recipients(event)}
    assert addresses == {organization.email, member.user.email, second_member.user.email}

    # It books nothing, whoever asks, dry run or not.
    again = payload(room, organization, 12)
    assert_problem(create(client, member, again), 422, rule="organization_rejected")
    assert_problem(create(client, member, {**again, "dry_run": True}), 422, rule="organization_rejected")
    assert_problem(create(client, admin, again), 422, rule="organization_rejected")

    # Rejecting again changes nothing and mails nobody.
    repeat = reject(client, admin, organization)
    assert repeat.status_code == 200
    assert repeat.get_json() == {**body, "rejected_requests": 0}
    assert len(events("organization_rejected")) == 1

    # Verifying it lifts the rejection: it books again, confirmed.
    verified = client.patch(
        f"/api/v1/organizations/{organization.id}", json={"verified": True}, headers=admin.headers
    )
    assert verified.status_code == 200 and verified.get_json()["rejected_at"] is None
    assert created(client, member, again)["status"] == "confirmed"
    read = client.get(f"/api/v1/organizations/{organization.id}", headers=member.headers).get_json()
    assert read["verified"] is True and read["rejected_at"] is None


def test_only_an_admin_rejects(client, make, newcomer):
    organization, member, room, admin = newcomer
    path = f"/api/v1/organizations/{organization.id}/reject"
    assert_problem(client.post(path), 401)
    assert_problem(client.post(path, headers=member.headers), 403)
    assert_problem(client.post(path, headers=make.janitor(room.building).headers), 403)
    assert_problem(client.post("/api/v1/organizations/987654/reject", headers=admin.headers), 404)
    fresh()
    assert db.session.get(Organization, organization.id).rejected_at is None


def test_the_rejection_mail_in_both_languages(client, newcomer):
    organization, member, room, admin = newcomer
    created(client, member, payload(room, organization, 0, title="<b>Konsert</b>"))
    created(client, member, payload(room, organization, 1, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}))
    assert reject(client, admin, organization).status_code == 200
    (event,) = events("organization_rejected")
    texts = {}
    for language in ("nb", "en"):
        message = OutboxMessage(
            event=event,
            recipient=f"{language}@example.test",
            name="Nina Ny",
            language=language,
            message_id=f"<rejected-{language}@booking.test>",
        )
        db.session.add(message)
        db.session.flush()
        texts[language] = render_content(event, message)
    nb, en = texts["nb"], texts["en"]
    assert nb.subject == "Registreringen av Nye Lag er avvist"
    assert "Kommunen har avvist registreringen av Nye Lag, så organisasjonen kan ikke booke rom." in nb.text
    assert "De 2 åpne forespørslene er avslått:" in nb.text and "(3 datoer)" in nb.text
    assert "- <b>Konsert</b>: " in nb.text and "Forespørsel 1: " in nb.text
    assert "&lt;b&gt;Konsert&lt;/b&gt;" in nb.html and "<b>Konsert" not in nb.html
    assert en.subject == "The registration of Nye Lag is rejected"
    assert "Its 2 open requests were rejected:" in en.text and "(3 dates)" in en.text
    assert "contact the municipality" in en.text and "http://booking.test/my" in en.text
    assert en.attachments == ()
    gone = emit("organization_rejected", organization_id=987654, booking_ids=[])
    db.session.flush()
    assert recipients(gone) == []
    message = OutboxMessage(
        event=gone, recipient="x@example.test", language="nb", message_id="<gone@booking.test>"
    )
    db.session.add(message)
    db.session.flush()
    with pytest.raises(Gone):
        render_content(gone, message)


def _at_once(app, calls: list[tuple[str, str, dict, dict | None]]) -> list:
    """Send ``calls`` (method, path, headers, body) at the same moment, each its own request
    with its own session and connection, as on separate servers."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        method, path, headers, body = calls[i]
        with app.test_client() as own:
            barrier.wait()
            response = own.open(path, method=method, headers=headers, json=body)
            answers[i] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.parametrize("attempt", range(3))
def test_a_rejection_and_a_verification_at_once_settle(app, client, newcomer, attempt):
    organization, member, room, admin = newcomer
    request = created(client, member, payload(room, organization, 0))
    db.session.commit()
    path = f"/api/v1/organizations/{organization.id}"
    answers = _at_once(
        app,
        [
            ("POST", path + "/reject", admin.headers, None),
            ("PATCH", path, admin.headers, {"verified": True}),
        ],
    )
    assert [status for status, _ in answers] == [200, 200], answers
    fresh()
    final = db.session.get(Organization, organization.id)
    # Either the rejection came last (rejected, unverified) or the verification did (verified,
    # the rejection lifted); the request was rejected either way, at the verified category or not.
    assert (final.verified, final.rejected_at is None) in ((False, False), (True, True))
    assert statuses(organization)[request["id"]] == "rejected"
    assert len(events("organization_rejected")) == 1 and len(events("organization_verified")) == 1
    rejected_requests = answers[0][1]["rejected_requests"]
    assert rejected_requests == 1


def test_a_rejection_and_members_creating_at_once_leave_no_open_request(app, client, newcomer):
    organization, member, room, admin = newcomer
    db.session.commit()
    calls = [("POST", f"/api/v1/organizations/{organization.id}/reject", admin.headers, None)]
    calls += [("POST", "/api/v1/bookings", member.headers, payload(room, organization, n)) for n in range(6)]
    answers = _at_once(app, calls)
    (reject_status, rejection), creates = answers[0], answers[1:]
    assert reject_status == 200, rejection
    made = [body for status, body in creates if status == 201]
    refused = [body for status, body in creates if status != 201]
    assert all(body["rule"] == "organization_rejected" for body in refused), refused
    # Each create took effect wholly before the rejection (its request rejected with the others)
    # or after it (refused): none slipped in between, none is left open.
    assert rejection["rejected_requests"] == len(made)
    assert "pending" not in statuses(organization).values()
    (event,) = events("organization_rejected")
    assert sorted(event.params["booking_ids"]) == sorted(b["id"] for b in made)


def test_two_rejections_at_once_reject_once(app, client, newcomer):
    organization, member, room, admin = newcomer
    fill_to(client, member, room, organization, 2)
    db.session.commit()
    path = f"/api/v1/organizations/{organization.id}/reject"
    answers = _at_once(app, [("POST", path, admin.headers, None)] * 2)
    assert [status for status, _ in answers] == [200, 200], answers
    assert sorted(body["rejected_requests"] for _, body in answers) == [0, 2]
    assert answers[0][1]["rejected_at"] == answers[1][1]["rejected_at"]
    assert len(events("organization_rejected")) == 1


# --- janitors see the contacts of organisations that come to their buildings -------------------


@pytest.fixture
def two_buildings(client, make):
    a, b = make.building(name="A-huset"), make.building(name="B-huset")
    room_a, room_b = make.room(a, name="Rom A"), make.room(b, name="Rom B")
    admin = make.admin()
    comes = make.organization(name="Kommer til A", contact_name="Anne A")
    elsewhere = make.organization(name="Bare i B", contact_name="Bjørn B")
    asks = make.organization(verified=False, name="Spør om A", contact_name="Siri S")
    left = make.organization(name="Avbestilte A", contact_name="Ola O")
    created(client, make.member(comes), payload(room_a, comes, 0))
    created(client, make.member(elsewhere), payload(room_b, elsewhere, 0))
    assert created(client, make.member(asks), payload(room_a, asks, 1))["status"] == "pending"
    cancelled = created(client, (left_member := make.member(left)), payload(room_a, left, 2))
    client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=left_member.headers)
    return {
        "a": a,
        "b": b,
        "room_a": room_a,
        "room_b": room_b,
        "admin": admin,
        "comes": comes,
        "elsewhere": elsewhere,
        "asks": asks,
        "left": left,
        "janitor_a": make.janitor(a),
        "janitor_b": make.janitor(b),
    }


def test_janitors_read_only_organisations_with_a_confirmed_booking_in_their_buildings(client, two_buildings):
    w = two_buildings
    janitor = w["janitor_a"]
    listed = client.get("/api/v1/organizations", headers=janitor.headers).get_json()
    assert [o["name"] for o in listed] == ["Kommer til A"]
    assert client.get("/api/v1/organizations?verified=false", headers=janitor.headers).get_json() == []
    read = client.get(f"/api/v1/organizations/{w['comes'].id}", headers=janitor.headers)
    assert read.status_code == 200 and read.get_json()["contact_name"] == "Anne A"
    for name in ("elsewhere", "asks", "left"):
        assert_problem(client.get(f"/api/v1/organizations/{w[name].id}", headers=janitor.headers), 403)
    other = client.get("/api/v1/organizations", headers=w["janitor_b"].headers).get_json()
    assert [o["name"] for o in other] == ["Bare i B"]
    everyone = client.get("/api/v1/organizations", headers=w["admin"].headers).get_json()
    assert len(everyone) == 4
    # A confirmed booking that has passed still counts: the follow-up after an evening.
    for booking in db.session.scalars(select(Booking).where(Booking.organization_id == w["comes"].id)):
        booking.start -= timedelta(days=60)
        booking.end -= timedelta(days=60)
        booking.occupied_until -= timedelta(days=60)
    db.session.commit()
    assert client.get(f"/api/v1/organizations/{w['comes'].id}", headers=janitor.headers).status_code == 200


def test_no_other_janitor_route_tells_another_buildings_contacts(client, two_buildings):
    w = two_buildings
    janitor = w["janitor_a"]
    day = (today() + timedelta(days=14)).isoformat()
    assert_problem(
        client.get(f"/api/v1/buildings/{w['b'].id}/schedule?date={day}", headers=janitor.headers), 403
    )
    assert_problem(client.get("/api/v1/bookings", headers=janitor.headers), 403)
    booking_b = db.session.scalar(select(Booking.id).where(Booking.organization_id == w["elsewhere"].id))
    assert_problem(client.get(f"/api/v1/bookings/{booking_b}", headers=janitor.headers), 403)
    schedule = client.get(f"/api/v1/buildings/{w['a'].id}/schedule?date={day}", headers=janitor.headers)
    assert schedule.status_code == 200
    assert "Bjørn B" not in schedule.get_data(as_text=True)


def test_a_janitors_feed_leaves_out_series_dates_moved_to_another_building(client, make, two_buildings):
    """A series of building B with one date moved to building A (and one of A with a date moved
    to B): the janitor of A sees the dates in A only, never B's notes or rooms."""
    w = two_buildings
    member = make.member(w["elsewhere"])
    into_a = created(
        client,
        member,
        payload(
            w["room_b"], w["elsewhere"], 40, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}, notes="Notat B"
        ),
    )
    moved = into_a["occurrences"][1]
    assert (
        client.patch(
            f"/api/v1/bookings/{moved['id']}", json={"room_id": w["room_a"].id}, headers=w["admin"].headers
        ).status_code
        == 200
    )
    out_of_a = created(
        client,
        make.member(w["comes"]),
        payload(w["room_a"], w["comes"], 41, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}, notes="Notat A"),
    )
    away = out_of_a["occurrences"][2]
    assert (
        client.patch(
            f"/api/v1/bookings/{away['id']}",
            json={"room_id": w["room_b"].id, "notes": "Flyttet til B"},
            headers=w["admin"].headers,
        ).status_code
        == 200
    )
    db.session.commit()
    token = feeds.rotate_janitor_token(actor_for(w["janitor_a"].user), current_app.config["SECRET_KEY"])
    db.session.commit()
    feed = (
        client.get(f"/feeds/janitor/{token}.ics?to={feeds.feed_window('room').last_date}")
        .get_data(as_text=True)
        .replace("\r\n ", "")
    )
    assert "B-huset" not in feed and "Flyttet til B" not in feed
    assert "Notat A" in feed  # A's own series, less its moved date
    # Each series is written only from its first to its last date in building A (clipped to the
    # dates the feed shows, SPEC §7.7): B's as its moved-in date, A's as its first two.
    assert feed.count("RRULE:FREQ=WEEKLY") == 2 and "EXDATE" not in feed
    # The moved-in date of B's series is there, with the contact the janitor needs for it.
    assert "Bjørn B" in feed and "Rom A" in feed


# --- quotes: a category for anyone, an organisation's for its members ------------------------


def test_quotes_for_an_organisation_need_its_member_or_an_admin(client, make):
    room = make.room()
    organization = make.organization(verified=False)
    member = make.member(organization)
    start, end = slot(0)
    request = {"room_id": room.id, "organization_id": organization.id, "start": start, "end": end}

    anonymous = assert_problem(client.post("/api/v1/quotes", json=request), 401)
    assert "log in to quote for an organisation" in anonymous["detail"].lower()
    unknown = assert_problem(client.post("/api/v1/quotes", json=dict(request, organization_id=987654)), 401)
    assert unknown["detail"] == anonymous["detail"]  # nothing tells whether it exists
    assert_problem(client.post("/api/v1/quotes", json=request, headers={"Authorization": "Bearer nope"}), 401)
    for outsider in (make.member(), make.janitor(room.building)):
        assert_problem(client.post("/api/v1/quotes", json=request, headers=outsider.headers), 403)
    assert_problem(
        client.post("/api/v1/quotes", json=dict(request, organization_id=987654), headers=member.headers), 403
    )

    own = client.post("/api/v1/quotes", json=request, headers=member.headers)
    assert own.status_code == 200 and own.get_json()["category"] == "full"  # unverified: full
    by_admin = client.post("/api/v1/quotes", json=request, headers=make.admin().headers)
    assert by_admin.status_code == 200 and by_admin.get_json()["organization_id"] == organization.id


def test_anyone_quotes_a_category_and_one_of_the_two_is_needed(client, make):
    room = make.room()
    start, end = slot(0)
    request = {"room_id": room.id, "start": start, "end": end}
    for category in ("free", "reduced", "full"):
        answer = client.post("/api/v1/quotes", json=dict(request, category=category))
        assert answer.status_code == 200 and answer.get_json()["category"] == category
    member = make.member()
    assert (
        client.post(
            "/api/v1/quotes", json=dict(request, category="reduced"), headers=member.headers
        ).status_code
        == 200
    )
    missing = assert_problem(client.post("/api/v1/quotes", json=request), 422)
    assert list(missing["errors"]) == ["category"]
    assert_problem(client.post("/api/v1/quotes", json=request, headers=member.headers), 422)
    both = dict(request, category="free", organization_id=member.user.organizations[0].id)
    assert list(
        assert_problem(client.post("/api/v1/quotes", json=both, headers=member.headers), 422)["errors"]
    ) == ["category"]


def test_the_openapi_document_describes_rejection_and_quotes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/organizations/{organization_id}/reject"]["post"]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert "rejected_requests" in schemas["OrganizationRejected"]["properties"]
    assert {"rejected_at", "stated_name"} <= set(schemas["Organization"]["properties"])
    quotes = spec["paths"]["/api/v1/quotes"]["post"]
    assert {"200", "401", "403", "422"} <= set(quotes["responses"])
