"""Seasonal rounds (SPEC §14) under attack: hostile input to every endpoint and admin form (a
clear 4xx, never a 500), other organisations, janitors and anonymous callers kept from
applications and offers (API and pages, ids of another round in page URLs), races through two
servers that must leave no overlapping live times, no accepted offer without a series and no
duplicated rank, and the order and calendar the published rules promise."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from booking.domain.holidays import holiday_dates
from booking.extensions import db
from booking.models import Allocation, Application, Booking
from tests.integration.live_http import call, running_servers
from tests.integration.test_rounds import (
    API,
    _race,
    allocate,
    apply,
    by_application,
    close_window,
    new_round,
    ok,
    wish,
)
from tests.integration.web_helpers import log_in, post


def published_offer(client, make):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    application = ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    run = allocate(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    return admin, room, organization, member, round_, application, run["allocations"][0]


def test_hostile_wishes(client, make):
    """Weekdays out of range or of the wrong type, empty or inverted times, 24:01, NUL, rooms of
    no round or none at all, huge numbers, four wishes or none, a lone surrogate: all 422."""
    admin, room = make.admin(), make.room()
    other_room = make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    bad = [
        wish(room, weekday=7),
        wish(room, weekday=-1),
        wish(room, weekday=True),
        wish(room, weekday="1"),
        wish(room, weekday=10**30),
        wish(room, start="18:00", end="18:00"),
        wish(room, start="24:00", end="24:00"),
        wish(room, start="24:01", end="24:30"),
        wish(room, start="18:00", end="25:00"),
        wish(room, start="18:00\x00", end="19:00"),
        wish(other_room),
        {"room_id": 10**30, "weekday": 0, "start": "18:00", "end": "19:00"},
        {"room_id": -1, "weekday": 0, "start": "18:00", "end": "19:00"},
    ]
    for w in bad:
        answer = apply(client, member, round_, organization, w)
        assert answer.status_code == 422, (w, answer.status_code, answer.get_json())
    four = [wish(room, weekday=d) for d in range(4)]
    assert apply(client, member, round_, organization, *four).status_code == 422
    assert apply(client, member, round_, organization).status_code == 422
    for extra in (
        {"attendees": 10**30},
        {"attendees": 0},
        {"rank": 0},
        {"rank": 10**30},
        {"description": "x\x00y"},
        {"organization_id": 10**30},
    ):
        answer = apply(client, member, round_, organization, wish(room), **extra)
        assert answer.status_code in (403, 422), (extra, answer.status_code, answer.get_json())
    raw = (
        f'{{"organization_id": {organization.id}, "attendees": 5, "description": "\\ud800", "wishes": '
        f'[{{"room_id": {room.id}, "weekday": 0, "start": "18:00", "end": "19:00"}}]}}'
    )
    answer = client.post(
        f"{API}/rounds/{round_['id']}/applications",
        data=raw,
        content_type="application/json",
        headers={"Authorization": member.headers["Authorization"]},
    )
    assert answer.status_code in (400, 422), (answer.status_code, answer.get_json())


def test_hostile_rounds(client, make):
    """Years 1 and 9999, a season over 366 days or backwards, a window closing before it opens,
    a deadline before the window closes, bad names, unknown rooms and buildings: all 422."""
    admin, room = make.admin(), make.room()
    now = datetime.now(UTC)
    cases = [
        {"season_start": "0001-01-01", "season_end": "0001-12-31"},
        {"season_start": "9999-01-01", "season_end": "9999-12-31"},
        {"season_start": "2030-01-01", "season_end": "2031-02-04"},
        {"season_start": "2030-01-02", "season_end": "2030-01-01"},
        {"closes_at": (now - timedelta(hours=2)).isoformat()},
        {"offer_deadline": (now - timedelta(days=1)).isoformat()},
        {"name": "a\x00b"},
        {"name": ""},
        {"name": "x" * 201},
        {"room_ids": [10**30]},
        {"room_ids": []},
        {"building_ids": [10**30]},
        {"opens_at": "9999-12-31T23:59:59+00:00"},
        {"opens_at": "0001-01-01T00:00:00+00:00"},
        {"opens_at": "2030-01-01T00:00:00"},
    ]
    from tests.integration.test_rounds import round_body

    for extra in cases:
        answer = client.post(f"{API}/rounds", json=round_body([room], **extra), headers=admin.headers)
        assert answer.status_code == 422, (extra, answer.status_code, answer.get_json())


def test_other_organisations_cannot_touch_applications_or_offers(client, make):
    """A member of another organisation and a janitor can neither answer the offer nor change or
    withdraw the application, through the API or the page's buttons; admin actions are 403 to
    them; the owner cannot act on an offer through another round's URL."""
    admin, room, organization, member, round_, application, offer = published_offer(client, make)
    stranger = make.member(make.organization())
    janitor = make.janitor()
    for who in (stranger, janitor):
        for verb in ("accept", "decline"):
            answer = client.post(f"{API}/offers/{offer['id']}/{verb}", headers=who.headers)
            assert answer.status_code in (403, 404), (verb, answer.status_code)
        answer = client.patch(
            f"{API}/applications/{application['id']}", json={"attendees": 3}, headers=who.headers
        )
        assert answer.status_code in (403, 404)
        answer = client.delete(f"{API}/applications/{application['id']}", headers=who.headers)
        assert answer.status_code in (403, 404)
        for path, body in (
            (f"/rounds/{round_['id']}/allocate", None),
            (f"/rounds/{round_['id']}/publish", None),
        ):
            assert client.post(f"{API}{path}", json=body, headers=who.headers).status_code == 403
        assert (
            client.patch(
                f"{API}/allocations/{offer['id']}", json={"room_id": None}, headers=who.headers
            ).status_code
            == 403
        )
    listed = client.get(f"{API}/rounds/{round_['id']}/applications", headers=stranger.headers)
    assert listed.status_code == 200 and listed.get_json() == []
    listed = client.get(
        f"{API}/rounds/{round_['id']}/applications?organization_id={organization.id}",
        headers=stranger.headers,
    )
    assert listed.get_json() == []
    assert client.get(f"{API}/rounds/{round_['id']}/applications", headers=janitor.headers).status_code == 403
    assert client.get(f"{API}/rounds/{round_['id']}/applications").status_code == 401
    assert client.post(f"{API}/offers/{offer['id']}/accept").status_code == 401

    # pages: a stranger cannot accept, decline, withdraw or rank another organisation's things
    log_in(client, stranger.user)
    for path in (
        f"/rounds/{round_['id']}/offers/{offer['id']}/accept",
        f"/rounds/{round_['id']}/offers/{offer['id']}/decline",
        f"/rounds/{round_['id']}/applications/{application['id']}/withdraw",
        f"/rounds/{round_['id']}/applications/{application['id']}/rank",
        f"/rounds/{round_['id']}/allocations/{offer['id']}",
        f"/rounds/{round_['id']}/allocate",
        f"/rounds/{round_['id']}/publish",
        f"/rounds/{round_['id']}/close",
        f"/rounds/{round_['id']}/deadline",
    ):
        assert post(client, path, {"room": ""}).status_code in (403, 404), path
    page = client.get(f"/rounds/{round_['id']}").get_data(as_text=True)
    assert f"/offers/{offer['id']}/" not in page
    db.session.commit()
    assert db.session.get(Allocation, offer["id"]).offer_state == "offered"
    # the owner with another round's id in the URL: not found, nothing done
    other = new_round(client, admin, [make.room()])
    log_in(client, member.user)
    answer = post(client, f"/rounds/{other['id']}/offers/{offer['id']}/accept")
    assert answer.status_code == 404
    db.session.commit()
    assert db.session.get(Allocation, offer["id"]).offer_state == "offered"


def test_admin_page_forms_with_hostile_input(client, make):
    """The admin's change-by-hand and deadline forms answer bad fields with a message."""
    admin, room, organization, member, round_, application, offer = published_offer(client, make)
    ok(client.post(f"{API}/offers/{offer['id']}/decline", headers=member.headers))
    log_in(client, admin.user)
    for body in (
        {"room": "9" * 40, "weekday": "0", "start": "18:00", "end": "19:00"},
        {"room": str(room.id), "weekday": "7", "start": "18:00", "end": "19:00"},
        {"room": str(room.id), "weekday": "0", "start": "18:00\x00", "end": "19:00"},
    ):
        answer = post(client, f"/rounds/{round_['id']}/allocations/{offer['id']}", body)
        assert answer.status_code in (303, 422), (body, answer.status_code)
    for body in (
        {},
        {"deadline_date": "9999-12-31"},
        {"deadline_date": "2020-01-01"},
        {"deadline_date": "x"},
    ):
        answer = post(client, f"/rounds/{round_['id']}/deadline", body)
        assert answer.status_code in (303, 422), (body, answer.status_code)


def test_api_allocation_patch_hostile(client, make):
    """A change by hand with half a time, a bad weekday, an inverted time or a room outside the
    round is refused (409 or 422)."""
    admin, room, organization, member, round_, application, offer = published_offer(client, make)
    ok(client.post(f"{API}/offers/{offer['id']}/decline", headers=member.headers))
    for body in (
        {"room_id": room.id},
        {"room_id": room.id, "weekday": 7, "start": "18:00", "end": "19:00"},
        {"room_id": room.id, "weekday": 0, "start": "19:00", "end": "18:00"},
        {"room_id": 10**30, "weekday": 0, "start": "18:00", "end": "19:00"},
        {"room_id": make.room().id, "weekday": 0, "start": "18:00", "end": "19:00"},
        {},
    ):
        answer = client.patch(f"{API}/allocations/{offer['id']}", json=body, headers=admin.headers)
        assert answer.status_code in (409, 422), (body, answer.status_code, answer.get_json())


def _next_easter_monday():
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        for day in sorted(holiday_dates(date(year, 3, 1), date(year, 5, 1))):
            if day.weekday() == 0 and day - today > timedelta(days=30):
                return day
    raise AssertionError("no Easter Monday ahead")


def test_a_holiday_neither_blocks_the_wish_nor_gets_a_date_of_the_series(client, make):
    """Easter Monday is in the season: a booking on it does not take the Monday wish, the
    accepted series leaves the holiday out, and the room's feed shows the series."""
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    holiday = _next_easter_monday()
    first, last = holiday - timedelta(days=7), holiday + timedelta(days=13)
    round_ = new_round(client, admin, [room], season_start=str(first), season_end=str(last))
    holiday_booking = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Paaskemoete",
        "start": f"{holiday}T18:30:00",
        "end": f"{holiday}T19:30:00",
    }
    ok(client.post(f"{API}/bookings", json=holiday_booking, headers=admin.headers), 201)
    ok(apply(client, member, round_, organization, wish(room, weekday=0)), 201)
    close_window(client, admin, round_)
    (allocation,) = allocate(client, admin, round_)["allocations"]
    assert allocation["wish_position"] == 1, allocation["explanation"]
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    accepted = ok(client.post(f"{API}/offers/{allocation['id']}/accept", headers=member.headers))
    series = ok(client.get(f"{API}/series/{accepted['series_id']}", headers=member.headers))
    assert [o["start"][:10] for o in series["occurrences"]] == [str(first), str(holiday + timedelta(days=7))]
    feed = client.get(f"/feeds/rooms/{room.id}.ics?from={first}&to={last}")
    assert feed.status_code == 200
    body = feed.get_data(as_text=True)
    assert "RRULE:FREQ=WEEKLY" in body and "EXDATE" in body and holiday.strftime("%Y%m%d") in body


def _overlapping(allocations) -> list:
    live = [
        a for a in allocations if a.room_id is not None and a.offer_state in ("offered", "accepted", None)
    ]
    clashes = []
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            same = a.room_id == b.room_id and a.weekday == b.weekday
            if same and a.start_minute < b.end_minute and b.start_minute < a.end_minute:
                clashes.append((a.id, b.id))
    return clashes


def test_decline_reallocate_changes_by_hand_and_answers_race_through_two_servers(client, make, database_url):
    """At once, through two servers: the holder of the contested Monday declines it, one admin
    gives the freed times out, two admins set the Monday by hand for the two that got nothing,
    and another organisation both accepts and declines its Tuesday. Whatever wins, no two live
    times overlap, the Tuesday is answered once, and a series exists exactly for an accept."""
    admin, second_admin, third_admin, room = make.admin(), make.admin(), make.admin(), make.room()
    organizations = [make.organization() for _ in range(4)]
    members = [make.member(o) for o in organizations]
    round_ = new_round(client, admin, [room])
    for i in range(3):
        ok(apply(client, members[i], round_, organizations[i], wish(room, weekday=0)), 201)
    ok(apply(client, members[3], round_, organizations[3], wish(room, weekday=1)), 201)
    close_window(client, admin, round_)
    run = allocate(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    by_org = {a["organization_id"]: a for a in run["allocations"]}
    monday = next(a for a in run["allocations"] if a["weekday"] == 0)
    losers = [a for a in run["allocations"] if a["room_id"] is None]
    tuesday = by_org[organizations[3].id]
    holder = members[[o.id for o in organizations].index(monday["organization_id"])]
    tokens = {
        "holder": holder.token,
        "tuesday": members[3].token,
        "admins": [admin.token, second_admin.token, third_admin.token],
    }
    monday_time = {"room_id": room.id, "weekday": 0, "start": "18:00", "end": "20:00"}
    inner_time = {"room_id": room.id, "weekday": 0, "start": "18:30", "end": "19:30"}
    allocate_path = f"{API}/rounds/{round_['id']}/allocate"
    with running_servers(database_url) as urls:
        calls = [
            lambda: call(urls[0], "POST", f"{API}/offers/{monday['id']}/decline", token=tokens["holder"]),
            lambda: call(urls[1], "POST", allocate_path, token=tokens["admins"][0]),
            lambda: call(
                urls[0],
                "PATCH",
                f"{API}/allocations/{losers[0]['id']}",
                token=tokens["admins"][1],
                body=monday_time,
            ),
            lambda: call(
                urls[1],
                "PATCH",
                f"{API}/allocations/{losers[1]['id']}",
                token=tokens["admins"][2],
                body=inner_time,
            ),
            lambda: call(urls[0], "POST", f"{API}/offers/{tuesday['id']}/accept", token=tokens["tuesday"]),
            lambda: call(urls[1], "POST", f"{API}/offers/{tuesday['id']}/decline", token=tokens["tuesday"]),
        ]
        answers = _race(calls)
    assert all(a.status in (200, 409) for a in answers), [(a.status, a.body) for a in answers]
    assert answers[0].status == 200 and answers[1].status == 200
    assert sorted(a.status for a in answers[4:]) == [200, 409]
    db.session.commit()
    allocations = db.session.scalars(select(Allocation).where(Allocation.round_id == round_["id"])).all()
    assert _overlapping(allocations) == []
    for allocation in allocations:
        series = (
            db.session.scalar(
                select(func.count()).select_from(Booking).where(Booking.series_id == allocation.series_id)
            )
            if allocation.series_id
            else 0
        )
        assert (allocation.offer_state == "accepted") == (series > 0), allocation.id


def test_members_ranking_one_organisations_applications_at_once_keep_ranks_unique(client, make, database_url):
    """Two members of one organisation reorder its four applications at once through two
    servers: the ranks stay 1..4, each once."""
    admin, room = make.admin(), make.room()
    organization = make.organization()
    members = [make.member(organization), make.member(organization)]
    round_ = new_round(client, admin, [room])
    ids = [
        ok(apply(client, members[0], round_, organization, wish(room, weekday=d)), 201)["id"]
        for d in range(4)
    ]
    tokens = [m.token for m in members]
    moves = [
        (ids[3], 1),
        (ids[0], 4),
        (ids[2], 1),
        (ids[1], 3),
        (ids[3], 2),
        (ids[0], 1),
        (ids[2], 4),
        (ids[1], 1),
    ]
    with running_servers(database_url) as urls:
        answers = _race(
            [
                lambda i=i: call(
                    urls[i % 2],
                    "PATCH",
                    f"{API}/applications/{moves[i][0]}",
                    token=tokens[i % 2],
                    body={"rank": moves[i][1]},
                )
                for i in range(len(moves))
            ]
        )
    assert all(a.status == 200 for a in answers), [(a.status, a.body) for a in answers]
    db.session.commit()
    ranks = db.session.scalars(
        select(Application.rank)
        .where(Application.round_id == round_["id"])
        .execution_options(populate_existing=True)
    ).all()
    assert sorted(ranks) == [1, 2, 3, 4]


def test_the_allocation_order_is_the_one_the_rules_publish(client, make):
    """Recomputed from the published rules alone (class, pass by the organisation's own ranking
    within the class, lottery of the published seed), with a withdrawn application leaving a gap
    in one organisation's ranking: the allocation's order is the same."""
    admin, room = make.admin(), make.room(capacity=500)
    organizations = [
        make.organization(),
        make.organization(voluntary=False, local=False),
        make.organization(),
    ]
    members = [make.member(o) for o in organizations]
    round_ = new_round(client, admin, [room])
    made = []
    slot = 0
    for i, organization in enumerate(organizations):
        for k in range(4):
            slot += 1
            body = wish(
                room, weekday=slot % 7, start=f"{8 + slot // 7:02d}:00", end=f"{8 + slot // 7:02d}:45"
            )
            made.append(
                ok(apply(client, members[i], round_, organization, body, children_youth=k % 2 == 1), 201)
            )
    withdrawn = made[1]
    ok(client.delete(f"{API}/applications/{withdrawn['id']}", headers=members[0].headers))
    close_window(client, admin, round_)
    run = allocate(client, admin, round_)
    db.session.commit()
    categories = {o.id: db.session.get(type(o), o.id).effective_category for o in organizations}
    assert len(set(categories.values())) > 1  # a priority class and the rest

    def klass(application):
        if categories[application["organization_id"]] in ("free", "reduced"):
            return 1 if application["children_youth"] else 2
        return 3

    live = [a for a in made if a["id"] != withdrawn["id"]]
    passes, seen = {}, {}
    for application in sorted(live, key=lambda a: (a["rank"], a["id"])):
        group = (klass(application), application["organization_id"])
        seen[group] = seen.get(group, 0) + 1
        passes[application["id"]] = seen[group]
    expected = sorted(
        live,
        key=lambda a: (
            klass(a),
            passes[a["id"]],
            hashlib.sha256(f"{run['seed']}:{a['id']}".encode()).hexdigest(),
        ),
    )
    assert [a["application_id"] for a in run["allocations"]] == [a["id"] for a in expected]
    assert all(a["wish_position"] == 1 for a in run["allocations"])


# --- the findings of the attack, fixed: each a regression guard -------------------------------------


def test_an_open_offer_holds_its_time_from_members_until_it_is_answered(client, make):
    admin, room, organization, member, round_, _, offer = published_offer(client, make)
    rival_org = make.organization()
    rival = make.member(rival_org)
    day = date.fromisoformat(round_["season_start"])  # a Monday: the offer's weekday
    body = {
        "room_id": room.id,
        "organization_id": rival_org.id,
        "title": "Tatt",
        "start": f"{day}T19:00:00",
        "end": f"{day}T21:00:00",
    }
    problem = client.post(f"{API}/bookings", json=body, headers=rival.headers)
    assert problem.status_code == 422 and problem.json["rule"] == "season_offer_held", problem.json
    other_time = {**body, "start": f"{day}T08:00:00", "end": f"{day}T09:00:00"}
    ok(client.post(f"{API}/bookings", json=other_time, headers=rival.headers), 201)  # the rest is free
    ok(client.post(f"{API}/offers/{offer['id']}/decline", headers=member.headers))
    ok(client.post(f"{API}/bookings", json=body, headers=rival.headers), 201)  # declined: free


def test_a_change_of_the_round_after_allocating_clears_the_result_and_a_closed_window_stays_closed(
    client, make
):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    allocate(client, admin, round_)
    path = f"{API}/rounds/{round_['id']}"
    reopen = {"closes_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    assert client.patch(path, json=reopen, headers=admin.headers).status_code == 409  # the seed is public
    later = date.fromisoformat(round_["season_end"]) + timedelta(days=7)
    ok(client.patch(path, json={"season_end": later.isoformat()}, headers=admin.headers))
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 0
    assert client.post(f"{path}/publish", headers=admin.headers).status_code == 409  # allocate again first
    allocate(client, admin, round_)
    ok(client.post(f"{path}/publish", headers=admin.headers))


def test_publishing_past_the_offers_deadline_is_refused(client, make):
    from booking.models import Round

    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    allocate(client, admin, round_)
    stored = db.session.get(Round, round_["id"])
    stored.offer_deadline = stored.closes_at + timedelta(seconds=1)
    db.session.commit()
    refused = client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers)
    assert refused.status_code == 409 and "offer_deadline" in refused.json


def test_repeated_wishes_and_backwards_changes_by_hand_are_refused_not_500(client, make):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    same = apply(client, member, round_, organization, wish(room), wish(room))
    assert same.status_code == 422 and "wishes.1" in same.json["errors"]
    ok(apply(client, member, round_, organization, wish(room)), 201)
    close_window(client, admin, round_)
    (allocation,) = allocate(client, admin, round_)["allocations"]
    log_in(client, admin.user)
    path = f"/rounds/{round_['id']}/allocations/{allocation['id']}"
    for bad in (
        {"room": str(room.id), "weekday": "0", "start": "19:00", "end": "18:00"},
        {"room": "²", "weekday": "0", "start": "18:00", "end": "19:00"},
        {"room": "9" * 5000, "weekday": "0", "start": "18:00", "end": "19:00"},
    ):
        assert post(client, path, bad).status_code == 303, bad
    db.session.expire_all()
    assert db.session.get(Allocation, allocation["id"]).start_minute == 18 * 60  # unchanged


def test_a_cancelled_accepted_series_frees_its_time_for_the_freed_allocation(client, make):
    admin, room = make.admin(), make.room()
    holder_org, waiting_org = make.organization(), make.organization(local=False, voluntary=False)
    holder, waiting = make.member(holder_org), make.member(waiting_org)
    round_ = new_round(client, admin, [room])
    ok(apply(client, holder, round_, holder_org, wish(room)), 201)
    left_out = ok(apply(client, waiting, round_, waiting_org, wish(room)), 201)
    close_window(client, admin, round_)
    allocate(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    offer = db.session.scalar(select(Allocation).where(Allocation.organization_id == holder_org.id))
    accepted = ok(client.post(f"{API}/offers/{offer.id}/accept", headers=holder.headers))
    ok(client.post(f"{API}/series/{accepted['series_id']}/cancel", json={}, headers=admin.headers))
    run = by_application(allocate(client, admin, round_))
    assert run[left_out["id"]]["room_id"] == room.id and run[left_out["id"]]["offer_state"] == "offered"
