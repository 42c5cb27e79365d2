"""Quotes, price lists, snapshots and cancellation fees through HTTP (SPEC §5, §8).

Bookings are made in the future relative to the real clock (the notice rule refuses the past).
Where a price depends on the weekday, the test picks a Wednesday that is no public holiday, so
the arithmetic written in the comments holds whatever day the suite runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from booking.domain.holidays import holiday_dates
from booking.extensions import db
from booking.services.organizations import update_organization
from pricing import OSLO, PRICE_GROUPS
from tests.integration.factories import ADMIN
from tests.integration.test_api_foundation import assert_problem

WEDNESDAY = 2


# --- helpers -------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).astimezone(OSLO).date()


def plain_weekday(on_or_after: date, weekday: int = WEDNESDAY) -> date:
    """The first ``weekday`` on or after the date that is not a public holiday."""
    day = on_or_after + timedelta(days=(weekday - on_or_after.weekday()) % 7)
    while day in holiday_dates(day, day):
        day += timedelta(days=7)
    return day


def at(day: date, clock: str) -> str:
    """Local wall-clock time as the API takes it: no offset means Europe/Oslo."""
    return f"{day.isoformat()}T{clock}"


def hours_from_now(hours: float) -> datetime:
    """A whole hour at least ``hours`` from now, in UTC."""
    moment = datetime.now(UTC) + timedelta(hours=hours)
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def line(code: str, description: str, quantity: int, unit: str, unit_price_ore: int) -> dict:
    return {
        "code": code,
        "description": description,
        "quantity": quantity,
        "unit": unit,
        "unit_price_ore": unit_price_ore,
        "amount_ore": quantity * unit_price_ore,
        "tax_code": "0",
        "vat_percent": 0,
    }


def full_org(make, **overrides):
    """Neither voluntary nor local: the proposed (and verified) category is ``full``."""
    return make.organization(voluntary=False, local=False, **overrides)


def book(client, login, room, organization, start, end, **extra) -> dict:
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Øving",
        "start": start if isinstance(start, str) else start.isoformat(),
        "end": end if isinstance(end, str) else end.isoformat(),
        **extra,
    }
    response = client.post("/api/v1/bookings", json=payload, headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rates(multiplier: int = 1) -> dict:
    """Hourly rates for every price group: reduced 100 NOK × multiplier, full 300 NOK × multiplier."""
    return {
        group: {"free": 0, "reduced": 10_000 * multiplier, "full": 30_000 * multiplier}
        for group in PRICE_GROUPS
    }


def post_price_list(client, admin, version: str, valid_from: date, multiplier: int = 2) -> dict:
    response = client.post(
        "/api/v1/price-lists",
        headers=admin.headers,
        json={
            "version": version,
            "valid_from": valid_from.isoformat(),
            "hourly_rates_ore": rates(multiplier),
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


SNAPSHOT_KEYS = ("lines", "total_ore", "price_list_version", "category", "supervision_reason")


# --- quotes --------------------------------------------------------------------------------


def test_anonymous_quote_is_itemized(client, make):
    # Staffed Mon–Fri 08:00–16:00 (factory default); a meeting room; Wednesday 15:00–17:15.
    room = make.room(kind="meeting_room")
    day = plain_weekday(today() + timedelta(days=30))
    request = {"room_id": room.id, "start": at(day, "15:00"), "end": at(day, "17:15"), "category": "reduced"}
    response = client.post("/api/v1/quotes", json=request)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # Rent: 2 h 15 min = 5 started half hours × (50 NOK / 2 = 25 NOK) = 125 NOK.
    # Supervision: 16:00–17:15 unstaffed = 2 started hours × 300 NOK = 600 NOK (also the minimum).
    assert body["lines"] == [
        line("rent_weekday", "Leie, hverdag", 5, "half_hour", 2_500),
        line("supervision_weekday", "Tilsyn, hverdag", 2, "hour", 30_000),
    ]
    assert body["total_ore"] == 72_500
    assert body["price_list_version"] == "2026-1"
    assert body["category"] == "reduced"
    assert body["supervision_reason"] == "utenfor bemannet tid 16:00–17:15"
    assert body["room_id"] == room.id and body["organization_id"] is None
    [occurrence] = body["occurrences"]
    assert occurrence["start"] == datetime.fromisoformat(at(day, "15:00")).replace(tzinfo=OSLO).isoformat()
    assert occurrence["total_ore"] == 72_500 and occurrence["price_list_version"] == "2026-1"

    # Full: rent 5 × (200 NOK / 2) = 500 NOK, + 600 NOK supervision.
    request["category"] = "full"
    body = client.post("/api/v1/quotes", json=request).get_json()
    assert body["category"] == "full" and body["total_ore"] == 50_000 + 60_000

    # Own supervisor: no supervision lines, and the reason says why.
    body = client.post("/api/v1/quotes", json=dict(request, own_supervisor=True)).get_json()
    assert [item["code"] for item in body["lines"]] == ["rent_weekday"] and body["total_ore"] == 50_000
    assert body["supervision_reason"] == "egen tilsynsvakt (utenfor bemannet tid 16:00–17:15)"


def test_quote_for_an_organisation_uses_its_effective_category(client, make):
    room = make.room(kind="rehearsal_room")
    organization = make.organization(verified=False)  # voluntary and local: proposed reduced
    member = make.member(organization)
    day = plain_weekday(today() + timedelta(days=30))
    request = {
        "room_id": room.id,
        "organization_id": organization.id,
        "start": at(day, "10:00"),
        "end": at(day, "11:00"),
    }
    # Unverified: full. 1 h in staffed time = 2 half hours × 125 NOK.
    body = client.post("/api/v1/quotes", json=request, headers=member.headers).get_json()
    assert (body["category"], body["total_ore"], body["organization_id"]) == ("full", 25_000, organization.id)
    update_organization(ADMIN, organization.id, {"verified": True})
    db.session.commit()
    body = client.post("/api/v1/quotes", json=request, headers=member.headers).get_json()
    assert (body["category"], body["total_ore"]) == ("reduced", 10_000)  # 2 × 50 NOK

    errors = assert_problem(
        client.post("/api/v1/quotes", json=dict(request, category="free"), headers=member.headers), 422
    )["errors"]
    assert list(errors) == ["category"]
    unknown = client.post(
        "/api/v1/quotes", json=dict(request, organization_id=9999), headers=make.admin().headers
    )
    assert list(assert_problem(unknown, 422)["errors"]) == ["organization_id"]


@pytest.mark.parametrize("own_supervisor", [False, True])
def test_quote_and_the_booking_snapshot_agree(client, make, own_supervisor):
    room = make.room(kind="gym")
    organization = make.organization()
    member = make.member(organization)
    day = plain_weekday(today() + timedelta(days=30))
    request = {
        "room_id": room.id,
        "organization_id": organization.id,
        "start": at(day, "15:30"),
        "end": at(day, "18:45"),
        "own_supervisor": own_supervisor,
    }
    quoted = client.post("/api/v1/quotes", json=request, headers=member.headers).get_json()
    booking = book(
        client, member, room, organization, request["start"], request["end"], own_supervisor=own_supervisor
    )
    assert {k: booking["quote"][k] for k in SNAPSHOT_KEYS} == {k: quoted[k] for k in SNAPSHOT_KEYS}
    assert booking["quote"]["occurrences"][0]["lines"] == quoted["occurrences"][0]["lines"]
    # reduced gym: 3 h 15 min = 7 half hours × 75 NOK = 525 NOK; 16:00–18:45 = 3 started hours × 300 NOK.
    assert quoted["total_ore"] == 52_500 + (0 if own_supervisor else 90_000)


def test_series_quote_has_a_total_and_every_occurrence(client, make):
    room = make.room(kind="meeting_room")
    organization = make.organization()
    member = make.member(organization)
    day = plain_weekday(today() + timedelta(days=30))
    request = {
        "room_id": room.id,
        "organization_id": organization.id,
        "start": at(day, "18:00"),
        "end": at(day, "20:00"),
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
    }
    quoted = client.post("/api/v1/quotes", json=request, headers=member.headers).get_json()
    occurrences = quoted["occurrences"]
    assert [o["start"][:10] for o in occurrences] == [
        (day + timedelta(weeks=n)).isoformat() for n in range(4)
    ]
    assert (
        quoted["total_ore"]
        == sum(o["total_ore"] for o in occurrences)
        == sum(item["amount_ore"] for item in quoted["lines"])
    )
    for occurrence in occurrences:  # each occurrence costs what it costs on its own
        single = client.post(
            "/api/v1/quotes",
            json={k: v for k, v in request.items() if k != "recurrence"}
            | {"start": occurrence["start"], "end": occurrence["end"]},
            headers=member.headers,
        ).get_json()
        assert occurrence["total_ore"] == single["total_ore"] and occurrence["lines"] == single["lines"]
    # A plain Wednesday costs 4 × 25 NOK rent + 2 × 300 NOK supervision (18:00–20:00 is unstaffed).
    assert occurrences[0]["total_ore"] == 70_000

    series = client.post(
        "/api/v1/bookings", headers=member.headers, json={**request, "title": "Korpsøving"}
    ).get_json()
    assert series["quote"]["total_ore"] == quoted["total_ore"]
    assert [o["total_ore"] for o in series["quote"]["occurrences"]] == [o["total_ore"] for o in occurrences]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"room_id": 9999}, "room_id"),
        ({"room_id": "one"}, "room_id"),
        ({"end": "2026-12-01T17:00"}, "end"),  # before the start
        ({"start": "tomorrow"}, "start"),
        ({"category": "cheap"}, "category"),
        ({"recurrence": {"rrule": "FREQ=HOURLY;COUNT=3"}}, "recurrence"),
        ({"recurrence": {"rrule": "FREQ=DAILY"}}, "recurrence"),  # unbounded
        ({"start": "2025-06-04T18:00", "end": "2025-06-04T20:00"}, "start"),  # no price list in force yet
        ({"end": "2026-12-09T18:00"}, "end"),  # 8 days: longer than any room allows
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_quote_requests_are_422(client, make, change, field):
    room = make.room()
    request = {
        "room_id": room.id,
        "category": "full",
        "start": "2026-12-01T18:00",
        "end": "2026-12-01T20:00",
        **change,
    }
    body = assert_problem(client.post("/api/v1/quotes", json=request), 422)
    assert field in body["errors"], body


def test_quote_without_a_body_is_a_problem(client):
    assert_problem(client.post("/api/v1/quotes", json={}), 422)
    response = client.post("/api/v1/quotes", data="{", content_type="application/json")
    assert response.status_code == 400 and response.content_type == "application/problem+json"


# --- price lists ---------------------------------------------------------------------------


def test_anyone_reads_the_price_lists(client):
    response = client.get("/api/v1/price-lists")
    assert response.status_code == 200
    [default] = response.get_json()
    assert default["version"] == "2026-1" and default["valid_from"] == "2026-01-01" and default["in_force"]
    assert default["hourly_rates_ore"]["meeting_room"] == {"free": 0, "reduced": 5_000, "full": 20_000}
    assert default["hourly_rates_ore"]["hall"] == {"free": 0, "reduced": 30_000, "full": 70_000}
    assert (default["supervision_weekday_ore"], default["supervision_weekend_ore"]) == (30_000, 45_000)
    assert (default["weekend_surcharge_percent"], default["supervision_minimum_hours"]) == (50, 2)


def test_admin_adds_a_version_and_duplicates_are_409(client, make):
    admin = make.admin()
    valid_from = today() + timedelta(days=60)
    created = post_price_list(client, admin, "2027-1", valid_from)
    assert created["version"] == "2027-1" and created["valid_from"] == valid_from.isoformat()
    assert created["hourly_rates_ore"]["gym"] == {"free": 0, "reduced": 20_000, "full": 60_000}
    assert created["supervision_weekday_ore"] == 30_000 and not created["in_force"]  # defaults filled in
    listed = client.get("/api/v1/price-lists").get_json()
    assert [(p["version"], p["in_force"]) for p in listed] == [("2026-1", True), ("2027-1", False)]

    same_name = {
        "version": "2027-1",
        "valid_from": (valid_from + timedelta(days=1)).isoformat(),
        "hourly_rates_ore": rates(),
    }
    assert_problem(client.post("/api/v1/price-lists", json=same_name, headers=admin.headers), 409)
    same_day = dict(same_name, version="2027-2", valid_from=valid_from.isoformat())
    assert_problem(client.post("/api/v1/price-lists", json=same_day, headers=admin.headers), 409)


def _with_rate(group: str, category: str, value) -> dict:
    table = rates()
    table[group][category] = value
    return table


@pytest.mark.parametrize(
    "change,field",
    [
        ({"hourly_rates_ore": _with_rate("gym", "free", 100)}, "hourly_rates_ore.gym.free"),
        ({"hourly_rates_ore": _with_rate("gym", "full", -1)}, "hourly_rates_ore.gym.full"),
        ({"hourly_rates_ore": _with_rate("gym", "full", 99.5)}, "hourly_rates_ore.gym.full"),
        ({"hourly_rates_ore": _with_rate("gym", "vip", 1)}, "hourly_rates_ore.gym.vip"),
        ({"hourly_rates_ore": {g: r for g, r in rates().items() if g != "hall"}}, "hourly_rates_ore.hall"),
        (
            {"hourly_rates_ore": dict(rates(), castle={"free": 0, "reduced": 1, "full": 2})},
            "hourly_rates_ore.castle",
        ),
        ({"supervision_weekday_ore": "300"}, "supervision_weekday_ore"),
        ({"valid_from": "2027-02-30"}, "valid_from"),
        ({"valid_from": "1999-01-01"}, "valid_from"),
        ({"version": "  "}, "version"),
        ({"version": "x" * 41}, "version"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_price_lists_are_422_with_field_errors(client, make, change, field):
    payload = {"version": "2027-1", "valid_from": "2027-01-01", "hourly_rates_ore": rates(), **change}
    body = assert_problem(client.post("/api/v1/price-lists", json=payload, headers=make.admin().headers), 422)
    assert field in body["errors"], body["errors"]
    assert [p["version"] for p in client.get("/api/v1/price-lists").get_json()] == ["2026-1"]


def test_only_admins_add_price_lists(client, make):
    payload = {"version": "2027-1", "valid_from": "2027-01-01", "hourly_rates_ore": rates()}
    assert_problem(client.post("/api/v1/price-lists", json=payload), 401)
    assert_problem(client.post("/api/v1/price-lists", json={"version": 1}), 401)  # before the body is read
    assert_problem(client.post("/api/v1/price-lists", json=payload, headers=make.member().headers), 403)
    assert_problem(client.post("/api/v1/price-lists", json=payload, headers=make.janitor().headers), 403)
    assert len(client.get("/api/v1/price-lists").get_json()) == 1


# --- snapshots and versions ----------------------------------------------------------------


def test_a_new_price_list_never_changes_a_booking_but_prices_new_ones(client, make):
    room = make.room(kind="meeting_room")
    organization = make.organization()
    member, admin = make.member(organization), make.admin()
    day = plain_weekday(today() + timedelta(days=30))
    first = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    snapshot = first["quote"]
    # reduced meeting room: 4 half hours × 25 NOK + 2 hours supervision × 300 NOK.
    assert snapshot["total_ore"] == 70_000 and snapshot["price_list_version"] == "2026-1"

    # A version valid from a past date: in force today and on the booking's date.
    post_price_list(client, admin, "revised", today() - timedelta(days=10), multiplier=2)
    assert (
        client.get(f"/api/v1/bookings/{first['id']}", headers=member.headers).get_json()["quote"] == snapshot
    )
    listed = client.get("/api/v1/price-lists").get_json()
    assert [(p["version"], p["in_force"]) for p in listed] == [("2026-1", False), ("revised", True)]

    later = plain_weekday(day + timedelta(days=1))
    request = {
        "room_id": room.id,
        "organization_id": organization.id,
        "start": at(later, "18:00"),
        "end": at(later, "20:00"),
    }
    quoted = client.post("/api/v1/quotes", json=request, headers=member.headers).get_json()
    # revised reduced rate 200 NOK/h: 4 half hours × 100 NOK + 600 NOK supervision.
    assert (quoted["price_list_version"], quoted["total_ore"]) == ("revised", 40_000 + 60_000)
    second = book(client, member, room, organization, request["start"], request["end"])
    assert {k: second["quote"][k] for k in SNAPSHOT_KEYS} == {k: quoted[k] for k in SNAPSHOT_KEYS}
    assert (
        client.get(f"/api/v1/bookings/{first['id']}", headers=admin.headers).get_json()["quote"] == snapshot
    )
    listed = client.get(
        f"/api/v1/bookings?organization_id={organization.id}", headers=member.headers
    ).get_json()
    assert [b["quote"]["total_ore"] for b in listed] == [70_000, 100_000]


def test_the_version_in_force_at_the_start_applies(client, make):
    room = make.room(kind="meeting_room", supervision="never")
    organization = make.organization()
    member, admin = make.member(organization), make.admin()
    change_day = plain_weekday(today() + timedelta(days=40))
    post_price_list(client, admin, "from-" + change_day.isoformat(), change_day, multiplier=3)

    week_before = change_day - timedelta(days=7)
    before = book(client, member, room, organization, at(week_before, "18:00"), at(week_before, "19:00"))
    on_the_day = book(client, member, room, organization, at(change_day, "00:00"), at(change_day, "01:00"))
    assert before["quote"]["price_list_version"] == "2026-1"
    assert on_the_day["quote"]["price_list_version"] == "from-" + change_day.isoformat()
    # The change day is a plain weekday: 2 half hours × (300 NOK / 2) = 300 NOK.
    assert on_the_day["quote"]["total_ore"] == 30_000

    series = client.post(
        "/api/v1/quotes",
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "start": at(change_day - timedelta(days=7), "18:00"),
            "end": at(change_day - timedelta(days=7), "19:00"),
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=2"},
        },
        headers=member.headers,
    ).get_json()
    assert [o["price_list_version"] for o in series["occurrences"]] == [
        "2026-1",
        "from-" + change_day.isoformat(),
    ]
    assert series["price_list_version"] == "2026-1, from-" + change_day.isoformat()
    assert series["occurrences"][1]["total_ore"] == 30_000


# --- cancellation fees ---------------------------------------------------------------------


def _sum(quote: dict, prefix: str) -> int:
    return sum(item["amount_ore"] for item in quote["lines"] if item["code"].startswith(prefix))


def _fee_line(code: str, description: str, amount: int) -> dict:
    return line(code, description, 1, "booking", amount)


@pytest.mark.parametrize(
    "hours_ahead,rule",
    [
        (20 * 24, "free_14_days"),
        (10 * 24, "half_rent_7_days"),
        (4 * 24, "full_rent"),
        (30, "full_rent_and_supervision"),
    ],
)
def test_cancellation_fee_is_shown_by_a_dry_run_then_stored(client, make, hours_ahead, rule):
    room = make.room(kind="meeting_room", supervision="always")
    organization = full_org(make)
    member = make.member(organization)
    start = hours_from_now(hours_ahead)
    booking = book(client, member, room, organization, start, start + timedelta(hours=2))
    rent, supervision = _sum(booking["quote"], "rent_"), _sum(booking["quote"], "supervision_")
    assert rent > 0 and supervision > 0
    expected_lines = {
        "free_14_days": [],
        "half_rent_7_days": [
            _fee_line("cancellation_rent", "Avbestilling 7–14 dager før, 50 % av leie", rent // 2)
        ],
        "full_rent": [_fee_line("cancellation_rent", "Avbestilling under 7 dager før, full leie", rent)],
        "full_rent_and_supervision": [
            _fee_line("cancellation_rent", "Avbestilling under 7 dager før, full leie", rent),
            _fee_line("cancellation_supervision", "Avbestilling under 48 timer før, tilsyn", supervision),
        ],
    }[rule]
    expected = {
        "lines": expected_lines,
        "total_ore": sum(item["amount_ore"] for item in expected_lines),
        "rule": rule,
    }

    url = f"/api/v1/bookings/{booking['id']}"
    shown = client.post(url + "/cancel", json={"dry_run": True}, headers=member.headers)
    assert shown.status_code == 200
    assert shown.get_json()["cancellation_fee"] == expected and shown.get_json()["status"] == "confirmed"
    unchanged = client.get(url, headers=member.headers).get_json()
    assert unchanged["status"] == "confirmed" and unchanged["cancellation_fee"] is None

    cancelled = client.post(url + "/cancel", json={"reason": "Sykdom"}, headers=member.headers).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancellation_fee"] == expected
    assert client.get(url, headers=member.headers).get_json()["cancellation_fee"] == expected


def test_admin_cancellation_and_override_cost_nothing(client, make):
    room = make.room(kind="meeting_room", supervision="always")
    organization = full_org(make)
    member, admin = make.member(organization), make.admin()
    start = hours_from_now(30)  # a member would pay rent and supervision now
    first = book(client, member, room, organization, start, start + timedelta(hours=2))
    url = f"/api/v1/bookings/{first['id']}/cancel"
    nothing = {"lines": [], "total_ore": 0, "rule": "admin"}
    assert (
        client.post(url, json={"dry_run": True}, headers=admin.headers).get_json()["cancellation_fee"]
        == nothing
    )
    assert client.post(url, json={}, headers=admin.headers).get_json()["cancellation_fee"] == nothing

    second = book(client, member, room, organization, start, start + timedelta(hours=2))
    book(client, admin, room, make.organization(), start, start + timedelta(hours=1), force=True)
    displaced = client.get(f"/api/v1/bookings/{second['id']}", headers=member.headers).get_json()
    assert displaced["status"] == "cancelled" and displaced["cancellation_fee"] == nothing


def test_cancelling_a_pending_request_is_free(client, make):
    room = make.room(kind="meeting_room", supervision="always", requires_approval=True)
    organization = full_org(make)
    member = make.member(organization)
    start = hours_from_now(30)
    request = book(client, member, room, organization, start, start + timedelta(hours=2))
    assert request["status"] == "pending"
    fee = client.post(f"/api/v1/bookings/{request['id']}/cancel", json={}, headers=member.headers).get_json()
    assert fee["cancellation_fee"]["total_ore"] == 0
