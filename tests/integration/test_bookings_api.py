"""Bookings and series through HTTP: rules, conflicts, series, approval, edits, permissions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from booking.extensions import db
from booking.models import Booking, OutboxEvent
from pricing.weekly import OSLO
from tests.integration.test_api_foundation import assert_problem


def outbox_events() -> list[tuple[str, dict]]:
    """The events written into the outbox so far, oldest first."""
    rows = db.session.execute(db.select(OutboxEvent).order_by(OutboxEvent.id)).scalars()
    return [(event.kind, event.params) for event in rows]


def local(days: int, hhmm: str = "18:00") -> str:
    """An Oslo local time ``days`` from today, as the API's naive ISO form."""
    day = datetime.now(OSLO).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hhmm}"


def weekday_in(days: int, weekday: int) -> int:
    """Days from today to the first ``weekday`` (0 = Monday) at least ``days`` ahead."""
    day = datetime.now(OSLO).date() + timedelta(days=days)
    return days + (weekday - day.weekday()) % 7


@pytest.fixture
def world(make):
    building = make.building()
    room = make.room(building, name="Øvingsrom", kind="rehearsal_room", capacity=20)
    organization = make.organization()
    member = make.member(organization)
    return building, room, organization, member


def book(client, login, room, organization, start, end, **extra):
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Øving",
        "start": start,
        "end": end,
    }
    payload.update(extra)
    return client.post("/api/v1/bookings", json=payload, headers=login.headers)


# --- single bookings ----------------------------------------------------------------------------


def test_book_read_and_list(client, world):
    _, room, organization, member = world
    created = book(client, member, room, organization, local(3), local(3, "20:00"), attendees=12)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "confirmed" and body["series_id"] is None and body["sequence"] == 0
    assert body["start"].endswith(("+01:00", "+02:00")) and body["start"].startswith(local(3))
    assert body["quote"]["total_ore"] == sum(line["amount_ore"] for line in body["quote"]["lines"])
    assert created.headers["ETag"] == f'"booking-{body["id"]}-0"'
    read = client.get(f"/api/v1/bookings/{body['id']}", headers=member.headers)
    assert read.get_json() == body and read.headers["ETag"] == created.headers["ETag"]
    listed = client.get(
        f"/api/v1/bookings?room_id={room.id}&status=confirmed", headers=member.headers
    ).get_json()
    assert [b["id"] for b in listed] == [body["id"]]
    assert client.get("/api/v1/bookings?status=cancelled", headers=member.headers).get_json() == []


def test_half_open_intervals_and_buffer(client, make, world):
    building, room, organization, member = world
    assert book(client, member, room, organization, local(3), local(3, "20:00")).status_code == 201
    assert book(client, member, room, organization, local(3, "20:00"), local(3, "22:00")).status_code == 201
    buffered = make.room(building, buffer_minutes=30)
    assert book(client, member, buffered, organization, local(4), local(4, "20:00")).status_code == 201
    body = assert_problem(
        book(client, member, buffered, organization, local(4, "20:15"), local(4, "21:00")), 409
    )
    assert body["conflicts"][0]["blocking_until"].startswith(local(4, "20:30"))
    assert (
        book(client, member, buffered, organization, local(4, "20:30"), local(4, "21:00")).status_code == 201
    )


def test_divisible_room_whole_blocks_parts_and_parts_coexist(client, make, world):
    building, _, organization, member = world
    half_a = make.room(building, name="A", kind="gym")
    half_b = make.room(building, name="B", kind="gym")
    whole = make.room(building, name="A+B", kind="gym", part_ids=[half_a.id, half_b.id])
    assert book(client, member, half_a, organization, local(5), local(5, "19:00")).status_code == 201
    assert book(client, member, half_b, organization, local(5), local(5, "19:00")).status_code == 201
    body = assert_problem(
        book(client, member, whole, organization, local(5, "18:30"), local(5, "20:00")), 409
    )
    # One entry for the one requested occurrence, naming both halves in the way (SPEC §8).
    assert len(body["conflicts"]) == 1
    assert {b["room_id"] for b in body["conflicts"][0]["blocked_by"]} == {half_a.id, half_b.id}
    assert book(client, member, whole, organization, local(5, "19:00"), local(5, "20:00")).status_code == 201
    assert_problem(book(client, member, half_b, organization, local(5, "19:30"), local(5, "21:00")), 409)


def test_conflict_answer_names_what_and_suggests(client, make, world):
    building, room, organization, member = world
    twin = make.room(building, name="Tvilling", kind="rehearsal_room", capacity=30)
    make.room(building, name="Too small", kind="rehearsal_room", capacity=2)
    first = book(client, member, room, organization, local(6), local(6, "20:00")).get_json()
    body = assert_problem(
        book(client, member, room, organization, local(6, "19:00"), local(6, "21:00"), attendees=10), 409
    )
    assert body["conflicts"] == [
        {
            "start": body["conflicts"][0]["start"],
            "end": body["conflicts"][0]["end"],
            "booking_id": first["id"],
            "room_id": room.id,
            "organization_name": organization.name,
            "blocking_start": first["start"],
            "blocking_until": first["end"],
            "blocked_by": [
                {
                    "booking_id": first["id"],
                    "room_id": room.id,
                    "organization_name": organization.name,
                    "start": first["start"],
                    "until": first["end"],
                }
            ],
        }
    ]
    assert body["conflicts"][0]["start"].startswith(local(6, "19:00"))
    suggestions = body["suggestions"]
    assert 1 <= len(suggestions) <= 5
    assert {
        "room_id": twin.id,
        "start": body["conflicts"][0]["start"],
        "end": body["conflicts"][0]["end"],
    } in suggestions
    same_room = [s for s in suggestions if s["room_id"] == room.id]
    assert same_room and all(s["start"] >= first["end"] or s["end"] <= first["start"] for s in same_room)
    assert all(s["room_id"] in (room.id, twin.id) for s in suggestions)


@pytest.mark.parametrize(
    "room_overrides,start,end,extra,rule",
    [
        ({"active": False}, local(3), local(3, "20:00"), {}, "room_inactive"),
        ({"min_duration_minutes": 60}, local(3), local(3, "18:30"), {}, "too_short"),
        ({"max_duration_minutes": 60}, local(3), local(3, "20:00"), {}, "too_long"),
        ({"min_notice_hours": 24 * 7}, local(3), local(3, "20:00"), {}, "too_little_notice"),
        ({}, local(-1), local(-1, "20:00"), {}, "too_little_notice"),
        ({"max_advance_days": 10}, local(30), local(30, "20:00"), {}, "too_far_ahead"),
        ({"capacity": 5}, local(3), local(3, "20:00"), {"attendees": 6}, "over_capacity"),
    ],
)
def test_rule_violations_are_422_with_the_rule(client, make, world, room_overrides, start, end, extra, rule):
    building, _, organization, member = world
    room = make.room(building, **room_overrides)
    body = assert_problem(book(client, member, room, organization, start, end, **extra), 422)
    assert body["rule"] == rule and body["detail"]


def test_opening_hours_and_closures(client, make, world):
    _, _, organization, member = world
    day = weekday_in(3, 0)
    closed_day = datetime.now(OSLO).date() + timedelta(days=day + 7)
    building = make.building(
        opening_hours=__import__("pricing.weekly", fromlist=["parse_windows"]).parse_windows(
            [
                {"day": d, "start": "08:00", "end": "22:00"}
                for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            ]
        ),
        closures=[{"start_date": closed_day, "end_date": closed_day, "reason": "Jul"}],
    )
    room = make.room(building)
    body = assert_problem(
        book(client, member, room, organization, local(day, "21:00"), local(day, "23:00")), 422
    )
    assert body["rule"] == "outside_opening_hours"
    body = assert_problem(
        book(client, member, room, organization, local(day + 7), local(day + 7, "20:00")), 422
    )
    assert body["rule"] == "closed"


def test_not_a_member_and_permissions(client, make, world):
    building, room, organization, member = world
    other_org = make.organization()
    body = assert_problem(book(client, member, room, other_org, local(3), local(3, "20:00")), 422)
    assert body["rule"] == "not_a_member"
    assert_problem(client.post("/api/v1/bookings", json={}), 401)
    janitor = make.janitor(building)
    assert_problem(book(client, janitor, room, organization, local(3), local(3, "20:00")), 422)
    created = book(client, member, room, organization, local(3), local(3, "20:00")).get_json()
    stranger = make.member(other_org)
    assert_problem(client.get(f"/api/v1/bookings/{created['id']}", headers=stranger.headers), 403)
    assert_problem(
        client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=stranger.headers), 403
    )
    assert client.get("/api/v1/bookings", headers=stranger.headers).get_json() == []
    assert_problem(client.get("/api/v1/bookings", headers=janitor.headers), 403)
    assert_problem(client.get("/api/v1/bookings/999999", headers=member.headers), 404)


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"start": "tomorrow"}, "start"),
        ({"start": "9999-01-01T10:00"}, "start"),
        ({"end": "2026-13-01T10:00"}, "end"),
        ({"attendees": -1}, "attendees"),
        ({"attendees": 10**12}, "attendees"),
        ({"room_id": "x"}, "room_id"),
        ({"on_conflict": "maybe"}, "on_conflict"),
        ({"recurrence": {"rrule": "FREQ=SECONDLY;COUNT=5"}}, "recurrence"),
        ({"recurrence": {"rrule": "FREQ=DAILY;COUNT=1000000000"}}, "recurrence"),
        ({"recurrence": {"rrule": "FREQ=WEEKLY"}}, "recurrence"),
        ({"recurrence": {"rrule": "FREQ=DAILY;COUNT=400"}}, "recurrence"),
        ({"title": ""}, "title"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_booking_input_is_422_and_stores_nothing(client, world, payload, field):
    _, room, organization, member = world
    data = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "x",
        "start": local(3),
        "end": local(3, "20:00"),
    }
    data.update(payload)
    body = assert_problem(client.post("/api/v1/bookings", json=data, headers=member.headers), 422)
    assert any(key.startswith(field) for key in body["errors"]), body["errors"]
    assert db.session.execute(db.select(db.func.count(Booking.id))).scalar() == 0


def test_end_before_start_and_unknown_room(client, world):
    _, room, organization, member = world
    body = assert_problem(book(client, member, room, organization, local(3, "20:00"), local(3, "18:00")), 422)
    assert "end" in body["errors"]
    body = assert_problem(
        client.post(
            "/api/v1/bookings",
            json={
                "room_id": 999999,
                "organization_id": organization.id,
                "title": "x",
                "start": local(3),
                "end": local(3, "20:00"),
            },
            headers=member.headers,
        ),
        422,
    )
    assert "room_id" in body["errors"]


# --- series -------------------------------------------------------------------------------------


def test_series_reject_lists_every_conflict_and_creates_nothing(client, world):
    _, room, organization, member = world
    day = weekday_in(7, 1)
    for week in (1, 3):
        assert (
            book(
                client, member, room, organization, local(day + 7 * week), local(day + 7 * week, "19:00")
            ).status_code
            == 201
        )
    body = assert_problem(
        book(
            client,
            member,
            room,
            organization,
            local(day),
            local(day, "20:00"),
            recurrence={"rrule": "FREQ=WEEKLY;COUNT=6"},
        ),
        409,
    )
    assert [c["start"][:10] for c in body["conflicts"]] == [local(day + 7)[:10], local(day + 21)[:10]]
    assert db.session.execute(db.select(db.func.count(Booking.id))).scalar() == 2


def test_series_skip_creates_the_rest_and_reports_skipped(client, world):
    _, room, organization, member = world
    day = weekday_in(7, 1)
    blocker = book(client, member, room, organization, local(day + 14), local(day + 14, "19:00")).get_json()
    response = book(
        client,
        member,
        room,
        organization,
        local(day),
        local(day, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=5"},
        on_conflict="skip",
    )
    assert response.status_code == 201, response.get_json()
    series = response.get_json()
    assert len(series["occurrences"]) == 4 and series["rrule"] == "FREQ=WEEKLY;COUNT=5"
    assert all(o["series_id"] == series["id"] for o in series["occurrences"])
    assert [s["reason"] for s in series["skipped"]] == ["conflict"]
    assert series["skipped"][0]["start"].startswith(local(day + 14))
    assert series["skipped"][0]["conflicts"][0]["booking_id"] == blocker["id"]
    assert series["quote"]["total_ore"] == sum(o["quote"]["total_ore"] for o in series["occurrences"])
    read = client.get(f"/api/v1/series/{series['id']}", headers=member.headers)
    assert read.status_code == 200 and read.get_json()["skipped"] == series["skipped"]


def test_series_keeps_local_time_across_both_dst_changes(client, make, world):
    building, _, organization, member = world
    room = make.room(building, max_advance_days=1000)
    # The next 1 March after today + a week: a weekly series to mid-November crosses the end of
    # March and the end of October.
    today = datetime.now(OSLO).date()
    year = today.year + (1 if (today.month, today.day) >= (2, 20) else 0)
    first = date(year, 3, 2)
    first += timedelta(days=(1 - first.weekday()) % 7)  # a Tuesday
    days = (first - today).days
    response = book(
        client,
        member,
        room,
        organization,
        local(days),
        local(days, "20:00"),
        recurrence={"rrule": f"FREQ=WEEKLY;UNTIL={year}1110"},
    )
    assert response.status_code == 201, response.get_json()
    occurrences = response.get_json()["occurrences"]
    assert len(occurrences) > 34
    offsets = {o["start"][-6:] for o in occurrences}
    assert offsets == {"+01:00", "+02:00"}
    assert {o["start"][11:19] for o in occurrences} == {"18:00:00"}
    assert {o["end"][11:19] for o in occurrences} == {"20:00:00"}


def test_skip_holidays_leaves_out_public_holidays(client, make, world):
    building, _, organization, member = world
    room = make.room(building, max_advance_days=1000)
    today = datetime.now(OSLO).date()
    year = today.year + 1
    # Daily around 17 May (Constitution Day) and Ascension Day 2027-05-06 / 2028-05-25.
    start = date(year, 5, 15)
    days = (start - today).days
    response = book(
        client,
        member,
        room,
        organization,
        local(days),
        local(days, "19:00"),
        recurrence={"rrule": "FREQ=DAILY;COUNT=5"},
        skip_holidays=True,
    )
    assert response.status_code == 201, response.get_json()
    skipped = response.get_json()["skipped"]
    assert date(year, 5, 17).isoformat() in [s["start"][:10] for s in skipped]
    assert all(s["reason"] == "holiday" for s in skipped)


def test_dry_run_answers_and_writes_nothing(client, world):
    _, room, organization, member = world
    day = weekday_in(7, 2)
    book(client, member, room, organization, local(day + 7), local(day + 7, "19:00"))
    response = book(
        client,
        member,
        room,
        organization,
        local(day),
        local(day, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
        on_conflict="skip",
        dry_run=True,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["dry_run"] is True and body["outcome"] == "created" and body["status"] == "confirmed"
    assert len(body["occurrences"]) == 2 and body["skipped"][0]["reason"] == "conflict"
    assert body["quote"]["total_ore"] >= 0
    conflict = book(client, member, room, organization, local(day + 7), local(day + 7, "20:00"), dry_run=True)
    assert conflict.status_code == 200 and conflict.get_json()["outcome"] == "conflict"
    assert db.session.execute(db.select(db.func.count(Booking.id))).scalar() == 1


def test_cancel_series_from_a_date(client, world):
    _, room, organization, member = world
    day = weekday_in(30, 3)
    series = book(
        client,
        member,
        room,
        organization,
        local(day),
        local(day, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    ).get_json()
    cut = (datetime.now(OSLO).date() + timedelta(days=day + 14)).isoformat()
    response = client.post(
        f"/api/v1/series/{series['id']}/cancel", json={"from_date": cut}, headers=member.headers
    )
    assert response.status_code == 200
    assert [o["status"] for o in response.get_json()["occurrences"]] == [
        "confirmed",
        "confirmed",
        "cancelled",
        "cancelled",
    ]
    # the freed time can be booked again
    assert (
        book(client, member, room, organization, local(day + 14), local(day + 14, "20:00")).status_code == 201
    )


# --- approval, override --------------------------------------------------------------------------


def test_competing_requests_and_approval(client, make, world):
    building, _, _, _ = world
    hall = make.room(building, name="Salen", kind="hall", requires_approval=True)
    free_org = make.organization(price_category="free")
    full_org = make.organization(local=False, voluntary=False)
    free_member, full_member, admin = make.member(free_org), make.member(full_org), make.admin()
    early = book(client, full_member, hall, full_org, local(9), local(9, "21:00")).get_json()
    late = book(client, free_member, hall, free_org, local(9, "19:00"), local(9, "22:00")).get_json()
    assert early["status"] == late["status"] == "pending"
    groups = client.get("/api/v1/conflicts", headers=admin.headers).get_json()
    assert len(groups) == 1
    assert {r["id"] for r in groups[0]["requests"]} == {early["id"], late["id"]}
    assert groups[0]["suggested_winner_id"] == late["id"]  # free before full, even though later
    assert_problem(client.get("/api/v1/conflicts", headers=free_member.headers), 403)
    assert_problem(client.post(f"/api/v1/bookings/{late['id']}/approve", headers=free_member.headers), 403)
    approved = client.post(f"/api/v1/bookings/{late['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200 and approved.get_json()["status"] == "confirmed"
    loser = client.get(f"/api/v1/bookings/{early['id']}", headers=full_member.headers).get_json()
    assert loser["status"] == "rejected" and f"#{late['id']}" in loser["status_reason"]
    assert client.get("/api/v1/conflicts", headers=admin.headers).get_json() == []
    # a new request may not overlap the confirmed booking
    assert_problem(book(client, full_member, hall, full_org, local(9, "20:00"), local(9, "23:00")), 409)
    assert_problem(client.post(f"/api/v1/bookings/{late['id']}/approve", headers=admin.headers), 409)
    told = {(kind, tuple(params.get("booking_ids", ()))) for kind, params in outbox_events()}
    assert ("booking_rejected", (early["id"],)) in told and ("booking_approved", (late["id"],)) in told


def test_a_confirmed_booking_rejects_the_pending_requests_it_overlaps_and_no_others(client, make, world):
    building, _, organization, member = world
    half_a = make.room(building, name="Hall A", kind="gym", requires_approval=True)
    half_b = make.room(building, name="Hall B", kind="gym", requires_approval=True)
    whole = make.room(building, name="Hele hallen", kind="gym", part_ids=[half_a.id, half_b.id])
    other_org = make.organization()
    other = make.member(other_org)
    on_a = book(client, other, half_a, other_org, local(9, "18:00"), local(9, "20:00")).get_json()
    on_b = book(client, other, half_b, other_org, local(9, "18:00"), local(9, "20:00")).get_json()
    before = book(client, other, half_a, other_org, local(9, "16:00"), local(9, "18:00")).get_json()
    assert on_a["status"] == on_b["status"] == before["status"] == "pending"

    created = book(client, member, whole, organization, local(9, "18:00"), local(9, "19:00")).get_json()
    assert created["status"] == "confirmed"

    def status(booking):
        return client.get(f"/api/v1/bookings/{booking['id']}", headers=other.headers).get_json()

    for loser in (on_a, on_b):
        assert status(loser)["status"] == "rejected"
        assert f"#{created['id']}" in status(loser)["status_reason"]
    assert status(before)["status"] == "pending"  # ends when the confirmed booking starts
    rejected = [params["booking_ids"] for kind, params in outbox_events() if kind == "booking_rejected"]
    assert sorted(rejected) == sorted([[on_a["id"]], [on_b["id"]]])  # one mail per request


def test_reject_request(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, requires_approval=True)
    request_ = book(client, member, hall, organization, local(9), local(9, "21:00")).get_json()
    admin = make.admin()
    rejected = client.post(
        f"/api/v1/bookings/{request_['id']}/reject", json={"reason": "Stengt for vask"}, headers=admin.headers
    )
    assert (
        rejected.get_json()["status"] == "rejected"
        and rejected.get_json()["status_reason"] == "Stengt for vask"
    )
    assert_problem(
        client.post(f"/api/v1/bookings/{request_['id']}/reject", json={}, headers=admin.headers), 409
    )


def test_admin_override_displaces_at_no_fee_and_notifies(client, make, world):
    _, room, organization, member = world
    victim = book(client, member, room, organization, local(2), local(2, "20:00")).get_json()
    assert_problem(book(client, member, room, organization, local(2), local(2, "20:00"), force=True), 403)
    admin = make.admin()
    forced = book(
        client,
        admin,
        room,
        organization,
        local(2, "19:00"),
        local(2, "21:00"),
        force=True,
        title="Valglokale",
    )
    assert forced.status_code == 201, forced.get_json()
    displaced = client.get(f"/api/v1/bookings/{victim['id']}", headers=member.headers).get_json()
    assert displaced["status"] == "cancelled" and "Valglokale" in displaced["status_reason"]
    assert displaced["cancellation_fee"]["total_ore"] == 0
    cancelled = [params for kind, params in outbox_events() if kind == "booking_cancelled"]
    assert cancelled == [
        {
            "booking_ids": [victim["id"]],
            "series_id": None,
            "by": "municipality",
            "reason": "override",
            "fee_ore": 0,
        }
    ]


# --- edits, cancel, idempotency ------------------------------------------------------------------


def test_reschedule_with_if_match(client, world):
    _, room, organization, member = world
    created = book(client, member, room, organization, local(4), local(4, "20:00"))
    booking_id, etag = created.get_json()["id"], created.headers["ETag"]
    moved = client.patch(
        f"/api/v1/bookings/{booking_id}",
        json={"start": local(5), "end": local(5, "21:00")},
        headers=dict(member.headers, **{"If-Match": etag}),
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["sequence"] == 1 and moved.headers["ETag"] != etag
    assert moved.get_json()["quote"]["lines"][0]["quantity"] == 6  # 3 hours, 6 half hours
    assert_problem(
        client.patch(
            f"/api/v1/bookings/{booking_id}",
            json={"title": "Stale"},
            headers=dict(member.headers, **{"If-Match": etag}),
        ),
        412,
    )
    # the old time is free again, the new one taken
    assert book(client, member, room, organization, local(4), local(4, "20:00")).status_code == 201
    assert_problem(book(client, member, room, organization, local(5, "20:00"), local(5, "22:00")), 409)
    retitled = client.patch(
        f"/api/v1/bookings/{booking_id}", json={"title": "Ny tittel"}, headers=member.headers
    )
    assert retitled.get_json()["title"] == "Ny tittel" and retitled.get_json()["sequence"] == 2


def test_a_check_made_blind_is_still_refused_by_the_database_and_writes_nothing(client, world, monkeypatch):
    """Under the units' locks the friendly check is exact; should it ever miss a booking (here
    made blind on purpose), the database refuses the occupancy it derives: a 409, nothing stored."""
    from booking.models import AuditEntry, FeedMarker
    from booking.services import bookings as service

    _, room, organization, member = world
    first = book(client, member, room, organization, local(5), local(5, "20:00")).get_json()
    counts = (db.session.query(Booking).count(), db.session.query(AuditEntry).count())
    markers = {m.scope: m.version for m in db.session.query(FeedMarker)}
    real = service.find_blocking
    calls = []

    def blind_check(*args, **kwargs):
        calls.append(args)
        return {}

    monkeypatch.setattr(service, "find_blocking", blind_check)
    assert_problem(book(client, member, room, organization, local(5, "19:00"), local(5, "21:00")), 409)
    assert len(calls) == 1
    monkeypatch.setattr(service, "find_blocking", real)
    body = assert_problem(book(client, member, room, organization, local(5, "19:00"), local(5, "21:00")), 409)
    assert [c["booking_id"] for c in body["conflicts"]] == [first["id"]] and body["suggestions"]
    db.session.expire_all()
    assert (db.session.query(Booking).count(), db.session.query(AuditEntry).count()) == counts
    assert {m.scope: m.version for m in db.session.query(FeedMarker)} == markers


def test_reschedule_into_a_conflict_is_409_and_changes_nothing(client, world):
    _, room, organization, member = world
    first = book(client, member, room, organization, local(4), local(4, "20:00")).get_json()
    second = book(client, member, room, organization, local(4, "20:00"), local(4, "22:00")).get_json()
    assert_problem(
        client.patch(
            f"/api/v1/bookings/{second['id']}", json={"start": local(4, "19:00")}, headers=member.headers
        ),
        409,
    )
    again = client.get(f"/api/v1/bookings/{second['id']}", headers=member.headers).get_json()
    assert again["start"] == second["start"] and again["sequence"] == 0
    assert first["id"] != second["id"]


def test_cancel_is_a_state_change_that_frees_the_time(client, world):
    _, room, organization, member = world
    created = book(client, member, room, organization, local(20), local(20, "20:00")).get_json()
    preview = client.post(
        f"/api/v1/bookings/{created['id']}/cancel", json={"dry_run": True}, headers=member.headers
    )
    assert (
        preview.get_json()["status"] == "confirmed"
        and preview.get_json()["cancellation_fee"]["total_ore"] == 0
    )
    cancelled = client.post(
        f"/api/v1/bookings/{created['id']}/cancel", json={"reason": "Syk"}, headers=member.headers
    )
    assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["sequence"] == 1
    assert_problem(
        client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=member.headers), 409
    )
    assert_problem(
        client.patch(f"/api/v1/bookings/{created['id']}", json={"title": "x"}, headers=member.headers), 409
    )
    assert book(client, member, room, organization, local(20), local(20, "20:00")).status_code == 201


def test_idempotency_key_returns_the_first_answer(client, world):
    _, room, organization, member = world
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Øving",
        "start": local(3),
        "end": local(3, "20:00"),
    }
    headers = dict(member.headers, **{"Idempotency-Key": "abc-123"})
    first = client.post("/api/v1/bookings", json=payload, headers=headers)
    again = client.post("/api/v1/bookings", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert db.session.execute(db.select(db.func.count(Booking.id))).scalar() == 1
    body = assert_problem(
        client.post("/api/v1/bookings", json=dict(payload, title="Other"), headers=headers), 422
    )
    assert "Idempotency-Key" in body["errors"]


# --- availability and search ---------------------------------------------------------------------


def test_availability_shows_organisation_names_only(client, make, world):
    building, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        local(3),
        local(3, "20:00"),
        notes="Nøkkel hos Kari",
        title="Hemmelig",
    )
    response = client.get(
        f"/api/v1/rooms/{room.id}/availability?from={local(3, '00:00')}&to={local(4, '00:00')}"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [(b["organization_name"], b["title"]) for b in body["busy"]] == [(organization.name, None)]
    assert "Hemmelig" not in response.get_data(as_text=True) and "Kari" not in response.get_data(as_text=True)
    assert [(f["start"][11:16], f["end"][11:16]) for f in body["free"]] == [
        ("00:00", "18:00"),
        ("20:00", "00:00"),
    ]
    assert_problem(client.get(f"/api/v1/rooms/{room.id}/availability?from={local(4)}&to={local(3)}"), 422)
    assert_problem(client.get(f"/api/v1/rooms/{room.id}/availability?from={local(1)}&to={local(200)}"), 422)


def test_room_search_free_filter(client, make, world):
    building, room, organization, member = world
    other = make.room(building, name="Annet", kind="rehearsal_room")
    book(client, member, room, organization, local(3), local(3, "20:00"))
    free = client.get(
        f"/api/v1/rooms?kind=rehearsal_room&free_from={local(3, '19:00')}&free_to={local(3, '21:00')}"
    )
    assert [r["id"] for r in free.get_json()] == [other.id]
    later = client.get(
        f"/api/v1/rooms?kind=rehearsal_room&free_from={local(3, '20:00')}&free_to={local(3, '21:00')}"
    )
    assert sorted(r["id"] for r in later.get_json()) == sorted([room.id, other.id])
    assert_problem(client.get(f"/api/v1/rooms?free_from={local(3)}"), 422)


def test_a_started_booking_cannot_be_cancelled_by_its_member(client, make, world):
    _, room, organization, member = world
    created = book(client, member, room, organization, local(3), local(3, "20:00")).get_json()
    booking = db.session.get(Booking, created["id"])
    booking.start = datetime.now(OSLO) - timedelta(minutes=5)
    db.session.commit()
    body = assert_problem(
        client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=member.headers), 409
    )
    assert "started" in body["detail"]
    admin = make.admin()
    assert (
        client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=admin.headers).status_code
        == 200
    )


def test_a_new_closure_displaces_the_bookings_on_its_dates_at_no_fee(client, make, world):
    """SPEC §11: displaced by a closure -> cancelled, no fee, organisation notified; a request on
    that date is declined; bookings on other dates stay; the freed time holds nothing."""
    building, room, organization, member = world
    approval = make.room(building, name="Salen", kind="hall", requires_approval=True)
    admin = make.admin()
    on_day = book(client, member, room, organization, local(10), local(10, "20:00")).get_json()
    request = book(client, member, approval, organization, local(10), local(10, "20:00")).get_json()
    other_day = book(client, member, room, organization, local(11), local(11, "20:00")).get_json()
    closed = (datetime.now(OSLO).date() + timedelta(days=10)).isoformat()
    answer = client.patch(
        f"/api/v1/buildings/{building.id}",
        json={"closures": [{"start_date": closed, "end_date": closed, "reason": "Vannlekkasje"}]},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.get_json()
    read = {
        b["id"]: client.get(f"/api/v1/bookings/{b['id']}", headers=member.headers).get_json()
        for b in (on_day, request, other_day)
    }
    assert read[on_day["id"]]["status"] == "cancelled"
    assert read[on_day["id"]]["cancellation_fee"]["total_ore"] == 0
    assert read[request["id"]]["status"] == "rejected"
    assert read[other_day["id"]]["status"] == "confirmed"
    told = {
        (kind, params["booking_ids"][0], params["reason"])
        for kind, params in outbox_events()
        if "reason" in params
    }
    assert {
        ("booking_cancelled", on_day["id"], "closure"),
        ("booking_rejected", request["id"], "closure"),
    } <= told
    held = db.session.execute(
        db.text("SELECT count(*) FROM occupancies WHERE booking_id IN (:a, :b)"),
        {"a": on_day["id"], "b": request["id"]},
    ).scalar_one()
    assert held == 0


def test_a_booking_moves_between_a_divided_room_and_its_part_at_the_same_time(client, make, world):
    """The unit they share stays held through the move; the other half is freed or taken."""
    building, _, organization, member = world
    half_a = make.room(building, name="A", kind="gym")
    half_b = make.room(building, name="B", kind="gym")
    whole = make.room(building, name="A+B", kind="gym", part_ids=[half_a.id, half_b.id])
    booking = book(client, member, whole, organization, local(5), local(5, "20:00")).get_json()
    for room, units in ((half_a, [half_a.id]), (whole, [half_a.id, half_b.id])):
        moved = client.patch(
            f"/api/v1/bookings/{booking['id']}", json={"room_id": room.id}, headers=member.headers
        )
        assert moved.status_code == 200, moved.get_json()
        held = db.session.execute(
            db.text("SELECT unit_id FROM occupancies WHERE booking_id = :id AND active ORDER BY unit_id"),
            {"id": booking["id"]},
        ).scalars()
        assert list(held) == units
        if room is half_a:  # the other half is free meanwhile
            assert book(client, member, half_b, organization, local(5), local(5, "20:00")).status_code == 201
            break


def test_a_move_onto_a_pending_request_declines_it(client, make, world):
    """Requests may overlap each other, never a confirmed booking: moving a confirmed booking
    onto a request's time declines the request, as creating it there would."""
    building, room, organization, member = world
    unverified = make.organization(verified=False)
    requester = make.member(unverified)
    request = book(client, requester, room, unverified, local(6), local(6, "20:00")).get_json()
    assert request["status"] == "pending"
    booking = book(client, member, room, organization, local(7), local(7, "20:00")).get_json()
    moved = client.patch(
        f"/api/v1/bookings/{booking['id']}",
        json={"start": local(6), "end": local(6, "20:00")},
        headers=member.headers,
    )
    assert moved.status_code == 200, moved.get_json()
    declined = client.get(f"/api/v1/bookings/{request['id']}", headers=requester.headers).get_json()
    assert declined["status"] == "rejected" and f"#{booking['id']}" in declined["status_reason"]
