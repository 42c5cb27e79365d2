"""Verifying an organisation re-quotes its pending requests; re-pricing its confirmed bookings
is an admin's explicit, audited action (SPEC §11), through HTTP.

Prices in the comments: a meeting room costs 200 NOK/h at ``full`` (100 NOK per started half
hour), 50 NOK/h at ``reduced``, nothing at ``free``; 10:00–12:00 on a weekday is inside the
factories' staffed hours (no supervision), 18:00–20:00 is not (2 hours × 300 NOK).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from booking.extensions import db
from booking.models import Booking
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_invoices import first_of_month, month_of
from tests.integration.test_pricing_api import at, book, full_org, hours_from_now, plain_weekday, today

RENT_CODES = ("rent_weekday", "rent_weekend")


def rent_ore(booking: dict) -> int:
    return sum(line["amount_ore"] for line in booking["quote"]["lines"] if line["code"] in RENT_CODES)


def read(client, login, booking_id: int) -> dict:
    response = client.get(f"/api/v1/bookings/{booking_id}", headers=login.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def patch_org(client, login, organization, body: dict) -> dict:
    response = client.patch(f"/api/v1/organizations/{organization.id}", json=body, headers=login.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def reprice(client, login, organization):
    return client.post(f"/api/v1/organizations/{organization.id}/reprice", headers=login.headers)


def youth_org(make, **overrides):
    """Local, voluntary, registered, youth: proposed ``free``, priced ``full`` until verified."""
    return make.organization(
        verified=False, registered_in_frivillighetsregisteret=True, youth_activity=True, **overrides
    )


# --- the scenario of the issue ---------------------------------------------------------------


def test_a_request_made_while_unverified_is_invoiced_at_the_verified_category(client, make):
    month = first_of_month(today() + timedelta(days=40))
    day = plain_weekday(month)
    room = make.room(requires_approval=True, name="Møterom")
    admin = make.admin()
    rival = full_org(make, name="Rival Korps")
    rival_request = book(client, make.member(rival), room, rival, at(day, "10:00"), at(day, "12:00"))
    newcomer = youth_org(make, name="Ny Ungdom")
    member = make.member(newcomer)
    request = book(client, member, room, newcomer, at(day, "10:00"), at(day, "12:00"))
    assert request["status"] == "pending"
    assert request["quote"]["category"] == "full" and rent_ore(request) == 4 * 10_000
    before = client.get(f"/api/v1/bookings/{request['id']}", headers=member.headers)
    # Both priced full: the earlier request is the suggested winner.
    groups = client.get("/api/v1/conflicts", headers=admin.headers).get_json()
    assert [g["suggested_winner_id"] for g in groups] == [rival_request["id"]]

    verified = patch_org(client, admin, newcomer, {"verified": True})
    assert verified["verified"] is True and verified["effective_category"] == "free"
    assert verified["repriceable_bookings"] == 0

    requoted = read(client, member, request["id"])
    assert requoted["status"] == "pending"
    assert requoted["quote"]["category"] == "free" and requoted["quote"]["total_ore"] == 0
    assert rent_ore(requoted) == 0 and any(line["code"] in RENT_CODES for line in requoted["quote"]["lines"])
    assert requoted["sequence"] == request["sequence"] + 1
    assert requoted["updated_at"] != request["updated_at"]
    after = client.get(f"/api/v1/bookings/{request['id']}", headers=member.headers)
    assert after.headers["ETag"] != before.headers["ETag"]
    # The other organisation's request is not touched.
    untouched = read(client, admin, rival_request["id"])
    assert untouched["sequence"] == rival_request["sequence"] and untouched["quote"] == rival_request["quote"]

    groups = client.get("/api/v1/conflicts", headers=admin.headers).get_json()
    assert [g["suggested_winner_id"] for g in groups] == [request["id"]]
    approved = client.post(f"/api/v1/bookings/{request['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "confirmed" and approved.get_json()["quote"]["total_ore"] == 0

    invoices = client.get(f"/api/v1/invoices?month={month_of(month)}", headers=admin.headers).get_json()
    billed = {invoice["organization_id"]: invoice for invoice in invoices["invoices"]}
    assert newcomer.id not in billed, billed.get(newcomer.id)  # nothing but 0 NOK lines
    assert invoices["total_ore"] == 0  # the rival's request was rejected: nothing at full price


def test_only_a_change_of_the_priced_category_requotes_pending_requests(client, make):
    day = plain_weekday(today() + timedelta(days=30))
    room = make.room(requires_approval=True)
    admin = make.admin()
    newcomer = youth_org(make)
    request = book(client, make.member(newcomer), room, newcomer, at(day, "10:00"), at(day, "11:00"))
    # Unverified: a new category or a new name changes nothing about the price (still full).
    answer = patch_org(client, admin, newcomer, {"price_category": "reduced", "name": "Nytt navn"})
    assert answer["effective_category"] == "full"
    same = read(client, admin, request["id"])
    assert same["sequence"] == request["sequence"] and same["quote"] == request["quote"]

    patch_org(client, admin, newcomer, {"verified": True})  # verified as reduced
    reduced = read(client, admin, request["id"])
    assert reduced["quote"]["category"] == "reduced" and rent_ore(reduced) == 2 * 2_500
    assert reduced["sequence"] == request["sequence"] + 1
    patch_org(client, admin, newcomer, {"price_category": "reduced", "phone": "+47 999 99 999"})
    assert read(client, admin, request["id"])["sequence"] == reduced["sequence"]  # nothing to re-quote
    patch_org(client, admin, newcomer, {"price_category": "free"})
    free = read(client, admin, request["id"])
    assert free["quote"]["category"] == "free" and free["quote"]["total_ore"] == 0
    assert free["sequence"] == reduced["sequence"] + 1


# --- explicit re-pricing of confirmed bookings -------------------------------------------------


@pytest.fixture
def confirmed(client, make):
    """A verified ``reduced`` organisation with confirmed bookings: a future one, one that has
    started (moved into the past in the database), a cancelled one; and one of another
    organisation."""
    day = plain_weekday(today() + timedelta(days=30))
    room = make.room()
    organization = make.organization()  # voluntary and local: reduced
    member = make.member(organization)
    other = make.organization()
    future = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    started = book(client, member, room, organization, at(day, "10:00"), at(day, "11:00"))
    cancelled = book(client, member, room, organization, at(day, "12:00"), at(day, "13:00"))
    cancel = client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=member.headers)
    assert cancel.status_code == 200, cancel.get_json()
    others = book(client, make.member(other), room, other, at(day, "14:00"), at(day, "15:00"))
    # The API refuses the past; the database does not (the occupancy follows by itself).
    row = db.session.get(Booking, started["id"])
    row.start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    row.end = row.occupied_until = row.start + timedelta(hours=1)  # the room has no buffer
    db.session.commit()
    return {
        "organization": organization,
        "member": member,
        "admin": make.admin(),
        "other": other,
        "future": future,
        "started": read(client, member, started["id"]),
        "cancelled": read(client, member, cancelled["id"]),
        "others": others,
    }


def test_verification_keeps_confirmed_prices_and_an_admin_reprices_them_explicitly(client, confirmed):
    organization, admin, member = confirmed["organization"], confirmed["admin"], confirmed["member"]
    future = confirmed["future"]
    # 18:00–20:00 reduced: 4 half hours × 25 NOK, and 2 hours of supervision × 300 NOK.
    assert future["quote"]["category"] == "reduced" and future["quote"]["total_ore"] == 10_000 + 60_000

    answer = patch_org(client, admin, organization, {"price_category": "free"})
    assert answer["effective_category"] == "free"
    assert answer["repriceable_bookings"] == 1  # not the started, the cancelled or another org's
    kept = read(client, member, future["id"])
    assert kept["quote"] == future["quote"] and kept["sequence"] == future["sequence"]

    response = reprice(client, admin, organization)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"repriced": 1, "booking_ids": [future["id"]]}
    repriced = read(client, member, future["id"])
    assert repriced["status"] == "confirmed"
    assert repriced["quote"]["category"] == "free"
    assert repriced["quote"]["total_ore"] == 60_000  # supervision is charged to every category
    assert repriced["sequence"] == future["sequence"] + 1
    for name in ("started", "cancelled", "others"):
        unchanged = read(client, admin, confirmed[name]["id"])
        assert unchanged["quote"] == confirmed[name]["quote"], name
        assert unchanged["sequence"] == confirmed[name]["sequence"], name

    # Audited: who, and the snapshot before and after.
    entries = client.get(
        f"/api/v1/audit-log?entity=bookings&entity_id={future['id']}&action=update", headers=admin.headers
    ).get_json()
    assert entries, "the re-pricing is not in the audit log"
    latest = entries[0]
    assert latest["actor_user_id"] == admin.user.id
    assert latest["origin"] == f"POST /api/v1/organizations/{organization.id}/reprice"
    assert latest["before"]["quote"]["category"] == "reduced"
    assert latest["after"]["quote"]["category"] == "free" and latest["after"]["quote"]["total_ore"] == 60_000
    assert latest["after"]["sequence"] == future["sequence"] + 1

    # Done: nothing more to re-price, and a second call changes nothing.
    assert reprice(client, admin, organization).get_json() == {"repriced": 0, "booking_ids": []}
    assert read(client, member, future["id"])["sequence"] == repriced["sequence"]
    assert patch_org(client, admin, organization, {"phone": "+47 911 11 111"})["repriceable_bookings"] == 0


def test_only_an_admin_reprices(client, make, confirmed):
    organization, future = confirmed["organization"], confirmed["future"]
    patch_org(client, confirmed["admin"], organization, {"price_category": "free"})
    assert_problem(reprice(client, confirmed["member"], organization), 403)
    assert_problem(client.post(f"/api/v1/organizations/{organization.id}/reprice"), 401)
    janitor = make.janitor(make.building())
    assert_problem(reprice(client, janitor, organization), 403)
    assert_problem(
        client.patch(
            f"/api/v1/organizations/{organization.id}",
            json={"price_category": "full"},
            headers=confirmed["member"].headers,
        ),
        403,
    )
    unchanged = read(client, confirmed["member"], future["id"])
    assert unchanged["quote"] == future["quote"] and unchanged["sequence"] == future["sequence"]


def test_reprice_keeps_what_an_earlier_move_cost(client, make):
    room = make.room()
    organization = make.organization()  # reduced
    member, admin = make.member(organization), make.admin()
    start = hours_from_now(72)
    booking = book(client, member, room, organization, start, start + timedelta(hours=1))
    later = start + timedelta(days=20)
    moved = client.patch(
        f"/api/v1/bookings/{booking['id']}",
        json={"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()},
        headers=member.headers,
    )
    assert moved.status_code == 200, moved.get_json()
    move_lines = [line for line in moved.get_json()["quote"]["lines"] if line["code"].startswith("move_")]
    assert move_lines and sum(line["amount_ore"] for line in move_lines) > 0  # under 7 days: full rent

    patch_org(client, admin, organization, {"price_category": "free"})
    assert reprice(client, admin, organization).get_json()["booking_ids"] == [booking["id"]]
    quote = read(client, member, booking["id"])["quote"]
    assert quote["category"] == "free" and rent_ore({"quote": quote}) == 0
    assert [line for line in quote["lines"] if line["code"].startswith("move_")] == move_lines
    assert quote["total_ore"] == sum(line["amount_ore"] for line in quote["lines"])


def test_reprice_of_an_unknown_organisation_is_404(client, make):
    body = assert_problem(
        client.post("/api/v1/organizations/999999/reprice", headers=make.admin().headers), 404
    )
    assert "999999" in body["detail"]  # the service's answer, not a missing route


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/organizations/0/reprice",
        "/api/v1/organizations/-1/reprice",
        "/api/v1/organizations/99999999999999999999999/reprice",
        "/api/v1/organizations/1e3/reprice",
        "/api/v1/organizations/%F0%9F%98%80/reprice",
    ],
)
def test_reprice_of_a_hostile_id_is_404(client, make, path):
    assert_problem(client.post(path, headers=make.admin().headers), 404)


@pytest.mark.parametrize(
    "body",
    [
        '{"verified": "yes please"}',
        '{"verified": null}',
        '{"price_category": "gratis"}',
        '{"price_category": null}',
        '{"price_category": ["free"]}',
        '{"price_category": "free\\ud800"}',  # a lone surrogate
        '{"repriceable_bookings": 5}',
        '{"verified": true, "price_category": "free"',  # cut off
    ],
)
def test_hostile_verification_input_is_4xx_and_changes_nothing(client, confirmed, body):
    organization, admin = confirmed["organization"], confirmed["admin"]
    response = client.patch(
        f"/api/v1/organizations/{organization.id}",
        data=body.encode(),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)
    org = client.get(f"/api/v1/organizations/{organization.id}", headers=admin.headers).get_json()
    assert org["price_category"] == "reduced" and org["verified"] is True
    assert read(client, admin, confirmed["future"]["id"])["sequence"] == confirmed["future"]["sequence"]


def test_reprice_ignores_whatever_body_is_sent(client, confirmed):
    organization, admin = confirmed["organization"], confirmed["admin"]
    patch_org(client, admin, organization, {"price_category": "free"})
    response = client.post(
        f"/api/v1/organizations/{organization.id}/reprice",
        data=b'{"booking_ids": [1, 2, "\xff',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.get_json() == {"repriced": 1, "booking_ids": [confirmed["future"]["id"]]}


def test_the_openapi_document_describes_reprice_and_the_count(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/organizations/{organization_id}/reprice"]["post"]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["403"]["content"]
    schemas = spec["components"]["schemas"]
    assert {"repriced", "booking_ids"} <= set(schemas["Repricing"]["properties"])
    assert "repriceable_bookings" in schemas["OrganizationUpdated"]["properties"]


# --- a re-pricing racing a member's change of the same booking --------------------------------


def _hold_a_change(booking_id: int, statements: list[str]):
    """Another transaction changes the booking and keeps its lock until the caller commits:
    a member's change caught in the middle."""
    connection = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    transaction = connection.begin()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT id FROM bookings WHERE id = :id FOR UPDATE"), {"id": booking_id})
    for statement in statements:
        connection.execute(text(statement), {"id": booking_id})
    return connection, transaction


def _in_background(app, method: str, path: str, headers: dict, body=None) -> tuple[threading.Thread, dict]:
    answer: dict = {}

    def run():  # its own app context, session and connection: another request, as on a server
        response = app.test_client().open(path, method=method, headers=headers, json=body)
        answer.update(status=response.status_code, body=response.get_json())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, answer


def _race(app, login, booking_id: int, statements: list[str], then: tuple[str, ...] = (), **request) -> dict:
    """``request`` (method, path, body) sent while another transaction holds a change of the
    booking; once the request waits, that transaction runs ``then`` and commits."""
    # The test's own session ends its transaction: on SQLite it would otherwise keep reading
    # the snapshot from before the change.
    db.session.commit()
    connection, transaction = _hold_a_change(booking_id, statements)
    try:
        thread, answer = _in_background(app, headers=login.headers, **request)
        time.sleep(0.5)
        assert thread.is_alive(), f"the request did not wait for the change in progress: {answer}"
        for statement in then:
            connection.execute(text(statement), {"id": booking_id})
        transaction.commit()
    finally:
        connection.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return answer


def _reprice_race(app, confirmed, statements: list[str]) -> dict:
    path = f"/api/v1/organizations/{confirmed['organization'].id}/reprice"
    return _race(app, confirmed["admin"], confirmed["future"]["id"], statements, method="POST", path=path)


def test_a_reprice_waits_for_a_members_change_and_keeps_it(app, client, confirmed):
    organization, admin, member = confirmed["organization"], confirmed["admin"], confirmed["member"]
    future = confirmed["future"]
    patch_org(client, admin, organization, {"price_category": "free"})
    answer = _reprice_race(
        app,
        confirmed,
        [
            "UPDATE bookings SET own_supervisor = true, title = 'Changed', sequence = sequence + 1 "
            "WHERE id = :id"
        ],
    )
    assert answer["status"] == 200 and answer["body"] == {"repriced": 1, "booking_ids": [future["id"]]}
    final = read(client, member, future["id"])
    assert final["title"] == "Changed" and final["own_supervisor"] is True  # the member's change kept
    # ... and the re-pricing made after it: free, and no supervision (the association brings its own).
    assert final["quote"]["category"] == "free" and final["quote"]["total_ore"] == 0
    assert final["sequence"] == future["sequence"] + 2


def test_a_reprice_waits_for_a_cancel_and_leaves_the_cancelled_booking_alone(app, client, confirmed):
    organization, admin, member = confirmed["organization"], confirmed["admin"], confirmed["member"]
    future = confirmed["future"]
    patch_org(client, admin, organization, {"price_category": "free"})
    answer = _reprice_race(
        app,
        confirmed,
        [
            "UPDATE bookings SET status = 'cancelled', sequence = sequence + 1 WHERE id = :id",
        ],
    )
    assert answer["status"] == 200 and answer["body"] == {"repriced": 0, "booking_ids": []}
    final = read(client, member, future["id"])
    assert final["status"] == "cancelled" and final["quote"] == future["quote"]
    assert final["sequence"] == future["sequence"] + 1


def test_a_verification_racing_an_approval_of_its_request_waits_and_counts_it(app, client, make):
    """The approval (a transaction holding the request and writing its outbox event) and the
    verification (holding the organisation, then wanting the request) must not deadlock: the
    verification waits, finds the request confirmed at full price, leaves its snapshot and
    counts it as re-priceable."""
    day = plain_weekday(today() + timedelta(days=30))
    room = make.room(requires_approval=True)
    admin = make.admin()
    newcomer = youth_org(make)
    request = book(client, make.member(newcomer), room, newcomer, at(day, "10:00"), at(day, "11:00"))
    answer = _race(
        app,
        admin,
        request["id"],
        ["UPDATE bookings SET status = 'confirmed', sequence = sequence + 1 WHERE id = :id"],
        then=(
            "INSERT INTO outbox_events (kind, params, created_at) "
            "VALUES ('booking_approved', '{}', CURRENT_TIMESTAMP)",
        ),
        method="PATCH",
        path=f"/api/v1/organizations/{newcomer.id}",
        body={"verified": True},
    )
    assert answer["status"] == 200, answer
    assert answer["body"]["effective_category"] == "free" and answer["body"]["repriceable_bookings"] == 1
    final = read(client, admin, request["id"])
    assert final["status"] == "confirmed" and final["quote"] == request["quote"]  # full, kept
    assert final["sequence"] == request["sequence"] + 1
