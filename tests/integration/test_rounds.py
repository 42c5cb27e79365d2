"""Seasonal application rounds (SPEC §14) through HTTP: rounds, applications and ranks, the block
on ordinary booking, allocation with explanations, changes by hand, publication, offers answered
by the deadline (the accepted one becomes a weekly series), the public result; and races through
two app servers (accept ‖ decline, admins allocating at once, the same rank twice)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Allocation, Application, AuditEntry, Booking, OutboxEvent, Round
from tests.integration.live_http import call, running_servers
from tests.integration.test_api_foundation import assert_problem

API = "/api/v1"


def next_monday(weeks: int = 3) -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def round_body(rooms, **extra) -> dict:
    now = datetime.now(UTC)
    start = next_monday()
    body = {
        "name": "Autumn",
        "season_start": start.isoformat(),
        "season_end": (start + timedelta(days=27)).isoformat(),  # four weeks
        "opens_at": iso(now - timedelta(hours=1)),
        "closes_at": iso(now + timedelta(hours=1)),
        "publish_on": (now + timedelta(days=1)).date().isoformat(),
        "offer_deadline": iso(now + timedelta(days=3)),
        "room_ids": [room.id for room in rooms],
    }
    body.update(extra)
    return body


def wish(room, weekday=0, start="18:00", end="20:00") -> dict:
    return {"room_id": room.id, "weekday": weekday, "start": start, "end": end}


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def new_round(client, admin, rooms, **extra) -> dict:
    return ok(client.post(f"{API}/rounds", json=round_body(rooms, **extra), headers=admin.headers), 201)


def apply(client, member, round_, organization, *wishes, **extra):
    body = {"organization_id": organization.id, "attendees": 10, "wishes": list(wishes), **extra}
    return client.post(f"{API}/rounds/{round_['id']}/applications", json=body, headers=member.headers)


def close_window(client, admin, round_) -> None:
    now = datetime.now(UTC)
    body = {"opens_at": iso(now - timedelta(hours=2)), "closes_at": iso(now - timedelta(minutes=1))}
    ok(client.patch(f"{API}/rounds/{round_['id']}", json=body, headers=admin.headers))


def allocate(client, admin, round_) -> dict:
    return ok(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=admin.headers))


def by_application(run: dict) -> dict[int, dict]:
    return {a["application_id"]: a for a in run["allocations"]}


# --- rounds and applications ---------------------------------------------------------------------


def test_admins_create_rounds_that_anyone_reads(client, make):
    admin, room = make.admin(), make.room()
    member = make.member()
    assert_problem(client.post(f"{API}/rounds", json=round_body([room]), headers=member.headers), 403)
    assert_problem(client.post(f"{API}/rounds", json=round_body([room])), 401)
    created = new_round(client, admin, [room])
    assert created["state"] == "open" and created["room_ids"] == [room.id]
    assert created["seed"] is None  # hidden while applications can still be made
    listed = ok(client.get(f"{API}/rounds"))
    assert [r["id"] for r in listed] == [created["id"]]
    assert ok(client.get(f"{API}/rounds/{created['id']}"))["rules"].startswith("Applications are taken")
    assert_problem(client.get(f"{API}/rounds/999999"), 404)


def test_bad_rounds_are_422(client, make):
    admin, room = make.admin(), make.room()
    start = next_monday()
    for extra, field in (
        ({"season_end": (start - timedelta(days=1)).isoformat()}, "season_end"),
        ({"season_end": (start + timedelta(days=400)).isoformat()}, "season_end"),
        ({"room_ids": [999999]}, "room_ids"),
        ({"room_ids": []}, "room_ids"),
        ({"offer_deadline": iso(datetime.now(UTC))}, "offer_deadline"),
    ):
        response = client.post(f"{API}/rounds", json=round_body([room], **extra), headers=admin.headers)
        problem = assert_problem(response, 422)
        assert field in problem["errors"], (extra, problem)


def test_members_of_verified_organisations_apply_during_the_window(client, make):
    admin, room = make.admin(), make.room()
    organization, unverified = make.organization(), make.organization(verified=False)
    member, newcomer, stranger = make.member(organization), make.member(unverified), make.member()
    round_ = new_round(client, admin, [room])
    first = ok(apply(client, member, round_, organization, wish(room)), 201)
    assert first["rank"] == 1 and first["wishes"] == [wish(room)]
    second = ok(apply(client, member, round_, organization, wish(room, 1), children_youth=True), 201)
    assert second["rank"] == 2
    assert assert_problem(apply(client, newcomer, round_, unverified, wish(room)), 422)["rule"] == (
        "organization_not_verified"
    )
    assert_problem(apply(client, stranger, round_, organization, wish(room)), 403)
    assert assert_problem(apply(client, member, round_, organization, wish(room), rank=1), 409)
    other_room = make.room()
    problem = assert_problem(apply(client, member, round_, organization, wish(other_room)), 422)
    assert "wishes.0.room_id" in problem["errors"]
    assert_problem(apply(client, member, round_, organization, wish(room, start="20:00", end="18:00")), 422)
    assert_problem(apply(client, member, round_, organization, wish(room, 7)), 422)
    assert_problem(apply(client, member, round_, organization, *[wish(room)] * 4), 422)
    # members read their own organisations' applications; admins all; janitors none
    mine = ok(client.get(f"{API}/rounds/{round_['id']}/applications", headers=member.headers))
    assert [a["id"] for a in mine] == [first["id"], second["id"]]
    assert ok(client.get(f"{API}/rounds/{round_['id']}/applications", headers=stranger.headers)) == []
    assert len(ok(client.get(f"{API}/rounds/{round_['id']}/applications", headers=admin.headers))) == 2
    janitor = make.janitor(room.building)
    assert_problem(client.get(f"{API}/rounds/{round_['id']}/applications", headers=janitor.headers), 403)
    # after the window: no more applications or changes
    close_window(client, admin, round_)
    problem = assert_problem(apply(client, member, round_, organization, wish(room)), 422)
    assert problem["rule"] == "application_window_closed"
    assert_problem(client.delete(f"{API}/applications/{first['id']}", headers=member.headers), 422)


def test_ranks_swap_and_withdrawn_applications_give_theirs_up(client, make):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    a = ok(apply(client, member, round_, organization, wish(room)), 201)
    b = ok(apply(client, member, round_, organization, wish(room, 1)), 201)
    swapped = ok(client.patch(f"{API}/applications/{b['id']}", json={"rank": 1}, headers=member.headers))
    assert swapped["rank"] == 1
    db.session.expire_all()
    assert db.session.get(Application, a["id"]).rank == 2
    changed = ok(
        client.patch(
            f"{API}/applications/{a['id']}",
            json={"wishes": [wish(room, 2), wish(room, 3)], "attendees": 12},
            headers=member.headers,
        )
    )
    assert [w["weekday"] for w in changed["wishes"]] == [2, 3] and changed["attendees"] == 12
    withdrawn = ok(client.delete(f"{API}/applications/{b['id']}", headers=member.headers))
    assert withdrawn["withdrawn_at"] is not None and withdrawn["rank"] is None
    assert_problem(client.delete(f"{API}/applications/{b['id']}", headers=member.headers), 409)
    assert ok(apply(client, member, round_, organization, wish(room), rank=1), 201)["rank"] == 1
    assert_problem(
        client.patch(f"{API}/applications/{a['id']}", json={"rank": 0}, headers=member.headers), 422
    )


# --- the block ---------------------------------------------------------------------------------------


def test_members_cannot_book_in_the_season_of_an_unpublished_round(client, make):
    admin = make.admin()
    building = make.building()
    gym = make.room(building, kind="gym")
    half = make.room(building, kind="gym")
    make_whole = client.patch(f"{API}/rooms/{gym.id}", json={"parts": [half.id]}, headers=admin.headers)
    assert make_whole.status_code == 200, make_whole.get_json()
    elsewhere = make.room(building)
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [gym])
    monday = next_monday()

    def book(login, room, day, **extra):
        body = {
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Practice",
            "start": f"{day}T10:00:00",
            "end": f"{day}T11:00:00",
            **extra,
        }
        return client.post(f"{API}/bookings", json=body, headers=login.headers)

    for room in (gym, half):  # the part shares the round's units
        problem = assert_problem(book(member, room, monday + timedelta(days=2)), 422)
        assert problem["rule"] == "season_allocation_pending"
    weekly = book(
        member, gym, monday - timedelta(days=7), recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}
    )  # its third date falls in the season
    assert assert_problem(weekly, 422)["rule"] == "season_allocation_pending"
    before = book(member, gym, monday - timedelta(days=7))  # before the season
    assert before.status_code == 201
    # a member's move into the season is blocked too; shortening what one holds is not
    booking_id = before.get_json()["id"]
    into = {
        "start": f"{monday + timedelta(days=1)}T10:00:00",
        "end": f"{monday + timedelta(days=1)}T11:00:00",
    }
    moved = client.patch(f"{API}/bookings/{booking_id}", json=into, headers=member.headers)
    assert assert_problem(moved, 422)["rule"] == "season_allocation_pending"
    shorter = {"end": f"{monday - timedelta(days=7)}T10:30:00"}
    assert (
        client.patch(f"{API}/bookings/{booking_id}", json=shorter, headers=member.headers).status_code == 200
    )
    assert book(member, gym, monday + timedelta(days=28)).status_code == 201  # after it
    assert book(member, elsewhere, monday).status_code == 201  # another room
    assert book(admin, gym, monday + timedelta(days=3)).status_code == 201  # admins can
    close_window(client, admin, round_)
    allocate(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    assert book(member, gym, monday + timedelta(days=2)).status_code == 201


# --- the whole cycle -----------------------------------------------------------------------------------


def test_allocate_adjust_publish_accept_decline_and_the_public_result(client, make):
    admin = make.admin()
    building = make.building()
    hall, small = make.room(building, capacity=50), make.room(building, capacity=5)
    free_org = make.organization(youth_activity=True, registered_in_frivillighetsregisteret=True)
    full_org = make.organization(local=False, voluntary=False)
    third_org = make.organization()
    free_member, full_member, third_member = (
        make.member(free_org),
        make.member(full_org),
        make.member(third_org),
    )
    round_ = new_round(client, admin, [hall, small])
    monday = next_monday()
    # an admin's confirmed booking on the season's second Tuesday at 18:00 takes that time
    taken = client.post(
        f"{API}/bookings",
        json={
            "room_id": hall.id,
            "organization_id": third_org.id,
            "title": "Concert",
            "start": f"{monday + timedelta(days=8)}T18:00:00",
            "end": f"{monday + timedelta(days=8)}T19:00:00",
        },
        headers=admin.headers,
    )
    booking_id = ok(taken, 201)["id"]
    youth = ok(apply(client, free_member, round_, free_org, wish(hall), children_youth=True), 201)
    rival = ok(apply(client, full_member, round_, full_org, wish(hall), wish(hall, 2)), 201)
    tuesday = ok(apply(client, third_member, round_, third_org, wish(hall, 1), wish(small, 3)), 201)
    assert_problem(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=admin.headers), 409)
    close_window(client, admin, round_)
    assert_problem(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=full_member.headers), 403)
    run = allocate(client, admin, round_)
    assert run["seed"] and run["unallocated"] == [tuesday["id"]]
    results = by_application(run)
    assert results[youth["id"]]["wish_position"] == 1 and results[youth["id"]]["explanation"]["class"] == 1
    rival_wishes = results[rival["id"]]["explanation"]["wishes"]
    assert rival_wishes[0]["outcome"] == "application"
    assert rival_wishes[0]["application_id"] == youth["id"] and rival_wishes[0]["higher_class"] is True
    assert results[rival["id"]]["weekday"] == 2 and results[rival["id"]]["explanation"]["class"] == 3
    third_wishes = results[tuesday["id"]]["explanation"]["wishes"]
    assert third_wishes[0] == {**third_wishes[0], "outcome": "booking", "booking_id": booking_id}
    assert third_wishes[1]["outcome"] == "rule" and third_wishes[1]["rule"] == "over_capacity"
    assert results[tuesday["id"]]["room_id"] is None
    again = by_application(allocate(client, admin, round_))
    assert {k: (v["room_id"], v["weekday"], v["start"]) for k, v in again.items()} == {
        k: (v["room_id"], v["weekday"], v["start"]) for k, v in results.items()
    }
    # by hand: a conflict is refused, a free time is set and audited
    third_allocation = again[tuesday["id"]]["id"]
    clash = {"room_id": hall.id, "weekday": 0, "start": "19:00", "end": "21:00"}
    assert_problem(
        client.patch(f"{API}/allocations/{third_allocation}", json=clash, headers=admin.headers), 409
    )
    closed = {"room_id": small.id, "weekday": 3, "start": "18:00", "end": "19:00"}
    assert (
        assert_problem(
            client.patch(f"{API}/allocations/{third_allocation}", json=closed, headers=admin.headers), 422
        )["rule"]
        == "over_capacity"
    )
    free = {"room_id": hall.id, "weekday": 4, "start": "17:00", "end": "18:00"}
    assert_problem(
        client.patch(f"{API}/allocations/{third_allocation}", json=free, headers=third_member.headers), 403
    )
    set_by_hand = ok(client.patch(f"{API}/allocations/{third_allocation}", json=free, headers=admin.headers))
    assert (
        set_by_hand["manual"] is True and set_by_hand["wish_position"] is None and set_by_hand["weekday"] == 4
    )
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "allocations", AuditEntry.action == "update")
    ).all()[-1]
    assert entry.entity_id == str(third_allocation) and entry.actor_user_id == admin.user.id
    assert entry.after["weekday"] == 4 and entry.after["manual"] is True
    # not public before publication
    assert ok(client.get(f"{API}/rounds/{round_['id']}/result"))["allocations"] == []
    mine = ok(client.get(f"{API}/rounds/{round_['id']}/applications", headers=free_member.headers))
    assert mine[0]["allocation"] is None
    published = ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    assert published["state"] == "published" and published["seed"] == run["seed"]
    assert_problem(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers), 409)
    kinds = db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "allocation_published")).all()
    assert sorted(e.params["organization_id"] for e in kinds) == sorted(
        [free_org.id, full_org.id, third_org.id]
    )
    result = ok(client.get(f"{API}/rounds/{round_['id']}/result"))
    assert result["seed"] == run["seed"] and len(result["allocations"]) == 3
    assert {e["organization_name"] for e in result["allocations"]} == {
        free_org.name,
        full_org.name,
        third_org.name,
    }
    # offers: accept becomes a weekly series, decline frees the time
    mine = ok(client.get(f"{API}/rounds/{round_['id']}/applications", headers=free_member.headers))
    offer = mine[0]["allocation"]
    assert offer["offer_state"] == "offered"
    assert_problem(client.post(f"{API}/offers/{offer['id']}/accept", headers=full_member.headers), 403)
    accepted = ok(client.post(f"{API}/offers/{offer['id']}/accept", headers=free_member.headers))
    assert accepted["offer_state"] == "accepted" and accepted["series_id"]
    dates = db.session.scalars(
        select(Booking.start).where(Booking.series_id == accepted["series_id"], Booking.status == "confirmed")
    ).all()
    assert len(dates) == 4 and {d.astimezone(UTC).date().weekday() for d in dates} == {0}
    assert_problem(client.post(f"{API}/offers/{offer['id']}/decline", headers=free_member.headers), 409)
    rival_offer = again[rival["id"]]["id"]
    declined = ok(client.post(f"{API}/offers/{rival_offer}/decline", headers=full_member.headers))
    assert declined["offer_state"] == "declined"
    assert_problem(client.post(f"{API}/offers/{rival_offer}/accept", headers=full_member.headers), 409)
    result = ok(client.get(f"{API}/rounds/{round_['id']}/result"))
    assert {e["organization_id"] for e in result["allocations"]} == {free_org.id, third_org.id}
    # a published round changes only its deadline
    assert_problem(
        client.patch(f"{API}/rounds/{round_['id']}", json={"name": "x"}, headers=admin.headers), 409
    )


def test_freed_times_go_to_those_that_got_nothing(client, make):
    admin, room = make.admin(), make.room()
    a_org, b_org = make.organization(), make.organization()
    a_member, b_member = make.member(a_org), make.member(b_org)
    round_ = new_round(client, admin, [room])
    a = ok(apply(client, a_member, round_, a_org, wish(room)), 201)
    b = ok(apply(client, b_member, round_, b_org, wish(room)), 201)
    close_window(client, admin, round_)
    run = by_application(allocate(client, admin, round_))
    winner, loser = (a, b) if run[a["id"]]["room_id"] else (b, a)
    assert run[loser["id"]]["room_id"] is None
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    winner_login = a_member if winner is a else b_member
    ok(client.post(f"{API}/offers/{run[winner['id']]['id']}/decline", headers=winner_login.headers))
    again = by_application(allocate(client, admin, round_))
    assert again[loser["id"]]["offer_state"] == "offered" and again[loser["id"]]["weekday"] == 0
    assert again[winner["id"]]["offer_state"] == "declined"


def test_accept_after_the_deadline_is_refused(client, make):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    (allocation,) = allocate(client, admin, round_)["allocations"]
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    past = {"offer_deadline": iso(datetime.now(UTC) - timedelta(seconds=1))}
    problem = assert_problem(
        client.patch(f"{API}/rounds/{round_['id']}", json=past, headers=admin.headers), 422
    )
    assert "offer_deadline" in problem["errors"]  # a published round's deadline moves only ahead
    stored = db.session.get(Round, round_["id"])
    stored.offer_deadline = stored.closes_at + timedelta(seconds=1)  # the deadline passes
    db.session.commit()
    problem = assert_problem(
        client.post(f"{API}/offers/{allocation['id']}/accept", headers=member.headers), 409
    )
    assert problem["offer_state"] == "lapsed"


def test_continuity_from_the_previous_round_goes_before_the_lottery(client, make):
    """An organisation that held a time (accepted) in the previous published round of the same
    rooms comes first within its pass, even where the lottery of the new round favours the
    other; its explanation says so. A time held in another room gives no continuity."""
    from booking.domain.allocation import lottery

    admin, room, other_room = make.admin(), make.room(), make.room()
    holder, newcomer = make.organization(), make.organization()
    holder_member, newcomer_member = make.member(holder), make.member(newcomer)
    first = new_round(client, admin, [room, other_room], name="Vår")
    ok(apply(client, holder_member, first, holder, wish(room)), 201)
    close_window(client, admin, first)
    allocate(client, admin, first)
    ok(client.post(f"{API}/rounds/{first['id']}/publish", headers=admin.headers))
    (offer,) = db.session.scalars(select(Allocation.id).where(Allocation.round_id == first["id"]))
    ok(client.post(f"{API}/offers/{offer}/accept", headers=holder_member.headers))

    later = next_monday(weeks=8)
    season = {"season_start": later.isoformat(), "season_end": (later + timedelta(days=27)).isoformat()}
    second = new_round(client, admin, [room], name="Høst", **season)
    held = ok(apply(client, holder_member, second, holder, wish(room, start="19:00", end="21:00")), 201)
    fresh = ok(apply(client, newcomer_member, second, newcomer, wish(room)), 201)
    close_window(client, admin, second)
    # A seed whose lottery puts the newcomer first: continuity must still win.
    seed = next(
        seed
        for seed in (f"{n:032x}" for n in range(1000))
        if lottery(seed, fresh["id"]) < lottery(seed, held["id"])
    )
    db.session.get(Round, second["id"]).seed = seed
    db.session.commit()
    run = by_application(allocate(client, admin, second))
    assert run[held["id"]]["explanation"]["continuity"] is True
    assert run[fresh["id"]]["explanation"]["continuity"] is False
    assert run[held["id"]]["room_id"] == room.id and run[fresh["id"]]["room_id"] is None
    assert run[held["id"]]["explanation"]["order"] < run[fresh["id"]]["explanation"]["order"]

    third = new_round(client, admin, [other_room], name="Vinter", **season)
    elsewhere = ok(apply(client, holder_member, third, holder, wish(other_room)), 201)
    close_window(client, admin, third)
    run = by_application(allocate(client, admin, third))
    assert run[elsewhere["id"]]["explanation"]["continuity"] is False


# --- races through two servers -------------------------------------------------------------------------


def _race(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.slow
def test_races_settle_in_the_database(client, make, database_url):
    """Through two gunicorn servers at once: the same rank asked for by eight clients (one
    wins), two admins allocating (both answer, one result stands), accept ‖ decline of one offer
    by eight clients (exactly one wins)."""
    admin, room = make.admin(), make.room()
    organization = make.organization()
    members = [make.member(organization) for _ in range(2)]
    round_ = new_round(client, admin, [room])
    path = f"{API}/rounds/{round_['id']}/applications"
    body = {"organization_id": organization.id, "attendees": 5, "rank": 1, "wishes": [wish(room)]}
    with running_servers(database_url) as urls:
        answers = _race(
            [
                lambda i=i: call(urls[i % 2], "POST", path, token=members[i % 2].token, body=body)
                for i in range(8)
            ]
        )
        assert sorted(a.status for a in answers) == [201] + [409] * 7, [(a.status, a.body) for a in answers]
        db.session.commit()  # SQLite: leave the snapshot from before the servers wrote
        close_window(client, admin, round_)
        allocate_path = f"{API}/rounds/{round_['id']}/allocate"
        answers = _race(
            [lambda i=i: call(urls[i], "POST", allocate_path, token=admin.token) for i in range(2)]
        )
        assert [a.status for a in answers] == [200, 200], [a.body for a in answers]
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Allocation)) == 1
        ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
        (allocation_id,) = db.session.scalars(select(Allocation.id)).all()
        verbs = ["accept", "decline"] * 4
        answers = _race(
            [
                lambda i=i: call(
                    urls[i % 2],
                    "POST",
                    f"{API}/offers/{allocation_id}/{verbs[i]}",
                    token=members[i % 2].token,
                )
                for i in range(8)
            ]
        )
        assert sorted(a.status for a in answers) == [200] + [409] * 7, [(a.status, a.body) for a in answers]
    db.session.commit()
    allocation = db.session.get(Allocation, allocation_id)
    winner = next(a.json() for a in answers if a.status == 200)
    assert allocation.offer_state == winner["offer_state"]
    series_count = db.session.scalar(select(func.count(func.distinct(Booking.series_id))))
    assert series_count == (1 if allocation.offer_state == "accepted" else 0)


def test_the_published_results_are_mailed_to_each_organisation(client, make):
    from tests.integration.test_mail_content import render

    admin, room = make.admin(), make.room(make.building(name="Kulturhuset"), name="Salen")
    organization = make.organization(email="kontakt@lag.test")
    member = make.member(organization)
    round_ = new_round(client, admin, [room], name="Høst <2027>")
    ok(apply(client, member, round_, organization, wish(room), description="Korpsøving"), 201)
    ok(apply(client, member, round_, organization, wish(room), description="Ekstra"), 201)
    close_window(client, admin, round_)
    allocate(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    (event,) = db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "allocation_published")).all()
    from booking.services.notifications import recipients

    assert [r.address for r in recipients(event)] == ["kontakt@lag.test"]
    english = render(event, "en")
    assert "Results of Høst <2027>" == english.subject
    assert "Korpsøving: offered Monday 18:00–20:00, Salen, Kulturhuset" in english.text
    assert "Ekstra: no time could be given" in english.text
    assert "Høst &lt;2027&gt;" in english.html and "<2027>" not in english.html
    norwegian = render(event, "nb")
    assert norwegian.subject == "Resultater av Høst <2027>"
    assert "Korpsøving: tilbudt mandag 18:00–20:00, Salen, Kulturhuset" in norwegian.text


# --- who may do what (the rows proposed for the authorization matrix) ---------------------------------

ROUND_ROUTES = {
    ("GET", "/api/v1/rounds"): (200,) * 6,
    ("POST", "/api/v1/rounds"): (401, 403, 403, 403, 403, 201),
    ("GET", "/api/v1/rounds/<int:round_id>"): (200,) * 6,
    ("PATCH", "/api/v1/rounds/<int:round_id>"): (401, 403, 403, 403, 403, 200),
    ("GET", "/api/v1/rounds/<int:round_id>/applications"): (401, 200, 200, 403, 403, 200),
    ("POST", "/api/v1/rounds/<int:round_id>/applications"): (401, 201, 403, 403, 403, 201),
    ("PATCH", "/api/v1/applications/<int:application_id>"): (401, 200, 403, 403, 403, 200),
    ("DELETE", "/api/v1/applications/<int:application_id>"): (401, 200, 403, 403, 403, 200),
    ("POST", "/api/v1/rounds/<int:round_id>/allocate"): (401, 403, 403, 403, 403, 200),
    ("PATCH", "/api/v1/allocations/<int:allocation_id>"): (401, 403, 403, 403, 403, 200),
    ("POST", "/api/v1/rounds/<int:round_id>/publish"): (401, 403, 403, 403, 403, 200),
    ("POST", "/api/v1/offers/<int:allocation_id>/accept"): (401, 200, 403, 403, 403, 200),
    ("POST", "/api/v1/offers/<int:allocation_id>/decline"): (401, 200, 403, 403, 403, 200),
    ("GET", "/api/v1/rounds/<int:round_id>/result"): (200,) * 6,
}
ROLES = ("anonymous", "member_own", "member_other", "janitor_own", "janitor_other", "admin")


def test_each_role_gets_what_the_table_says(client, make, app_ctx):
    from tests.integration.rounds_helpers import build_rounds, round_bodies, round_values

    rules = {
        (method, rule.rule): rule
        for rule in app_ctx.url_map.iter_rules()
        if rule.endpoint.startswith("rounds.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(rules) == set(ROUND_ROUTES)
    building, other_building = make.building(), make.building()
    organization, other = make.organization(), make.organization()
    logins = {
        "member_own": make.member(organization),
        "member_other": make.member(other),
        "janitor_own": make.janitor(building),
        "janitor_other": make.janitor(other_building),
        "admin": make.admin(),
    }
    answers = {}
    for n, ((method, path), expected) in enumerate(sorted(ROUND_ROUTES.items())):
        rule = rules[method, path]
        for i, role in enumerate(ROLES):
            world = build_rounds(building, organization, logins["member_own"].user, 100 * n + i)
            url = rule.build(round_values(rule.endpoint, world), append_unknown=False)[1]
            headers = logins[role].headers if role != "anonymous" else {}
            body = round_bodies(world, organization.id, 100 * n + i).get(rule.endpoint)
            response = client.open(url, method=method, json=body, headers=headers)
            answers[method, path, role] = response.status_code
            if response.status_code != expected[i]:
                raise AssertionError((method, path, role, response.status_code, response.get_json()))
    assert len(answers) == len(ROUND_ROUTES) * len(ROLES)


def test_allocation_statements_do_not_grow_with_the_round(client, make):
    """A handful of statements for the whole round: not per application, wish, room or week."""
    from tests.integration.test_query_counts import statements

    admin = make.admin()
    building = make.building()

    def run(size: int) -> list[str]:
        rooms = [make.room(building) for _ in range(size)]
        round_ = new_round(client, admin, rooms)
        monday = next_monday()
        for k, room in enumerate(rooms):  # a booking in each room, in the season
            day = monday + timedelta(days=k % 7)
            body = {"room_id": room.id, "title": "x", "start": f"{day}T09:00:00", "end": f"{day}T10:00:00"}
            ok(
                client.post(
                    f"{API}/bookings",
                    json={**body, "organization_id": make.organization().id},
                    headers=admin.headers,
                ),
                201,
            )
        for k in range(size * 2):
            organization = make.organization()
            member = make.member(organization)
            wishes = [wish(rooms[(k + j) % size], (k + j) % 7) for j in range(3)]  # three distinct
            ok(apply(client, member, round_, organization, *wishes), 201)
        close_window(client, admin, round_)
        db.session.commit()
        with statements() as seen:
            allocate(client, admin, round_)
        return seen

    small, large = run(2), run(8)
    assert len(large) == len(small), (len(small), len(large))
    assert len(large) <= 20, large


def test_an_accepted_offer_is_confirmed_whatever_the_rooms_approval_and_advance_rules(client, make):
    """The allocation gave the time: a room that requires approval and books at most 30 days
    ahead still gets the whole season confirmed, the holiday left out (Whit Monday 2027 is in
    no test season, so a closure stands in for it) and the booker the accepting member."""
    admin = make.admin()
    building = make.building()
    room = make.room(building, requires_approval=True, max_advance_days=30)
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    monday = next_monday()
    closure = {
        "closures": [
            {"start_date": str(monday + timedelta(days=7)), "end_date": str(monday + timedelta(days=7))}
        ]
    }
    ok(client.patch(f"{API}/buildings/{building.id}", json=closure, headers=admin.headers))
    ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    (allocation,) = allocate(client, admin, round_)["allocations"]
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    accepted = ok(client.post(f"{API}/offers/{allocation['id']}/accept", headers=member.headers))
    series = ok(client.get(f"{API}/series/{accepted['series_id']}", headers=member.headers))
    starts = [o["start"][:10] for o in series["occurrences"]]
    assert starts == [str(monday + timedelta(days=7 * k)) for k in (0, 2, 3)]
    assert {o["status"] for o in series["occurrences"]} == {"confirmed"}
    assert [s["reason"] for s in series["skipped"]] == ["closed"]
    booked_by = db.session.scalars(
        select(Booking.booked_by_id).where(Booking.series_id == accepted["series_id"])
    ).all()
    assert set(booked_by) == {member.user.id}
