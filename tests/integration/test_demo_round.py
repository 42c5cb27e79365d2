"""The demo's application round (SPEC §14, issue 14): after ``booking demo`` a round is open for
applications with a few in already; a demo member can apply; once the window has closed the
allocation is decided by class and lottery the same way every time; the round blocks members only
in its own rooms, so the rest of the demo stays bookable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from booking.cli import main
from booking.demo import ADMIN
from booking.extensions import db
from booking.models import Application, Organization, Room, Round, User
from booking.services import rounds
from booking.services.auth import issue_token
from tests.integration.test_rounds import API, ok
from tests.integration.web_helpers import log_in, text

NAMES = ("Bekkestua Skolekorps", "Rykkinn Innebandyklubb", "Bærum Seniordans", "Nordisk Konsulentforum AS")


@pytest.fixture
def demo(app_ctx) -> Round:
    result = app_ctx.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    return db.session.execute(db.select(Round)).scalar_one()


def one(model, **where):
    return db.session.execute(db.select(model).filter_by(**where)).scalar_one()


def headers(email: str) -> dict:
    token = issue_token(one(User, email=email))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def applications(round_: Round) -> dict[tuple[str, bool], Application]:
    """The round's applications by (organisation, children and youth)."""
    names = {o.id: o.name for o in db.session.execute(db.select(Organization)).scalars()}
    rows = db.session.execute(db.select(Application).where(Application.round_id == round_.id)).scalars()
    return {(names[a.organization_id], a.children_youth): a for a in rows}


def test_the_demo_round_is_open_with_applications_of_every_class(demo, client):
    assert rounds.round_state(demo) == "open"
    assert demo.name.startswith("Sesongtildeling ")
    assert demo.season_start > demo.closes_at.date() and demo.season_start.weekday() == 0
    assert (demo.season_end - demo.season_start).days == 15 * 7 - 1
    assert demo.closes_at.date() < demo.publish_on and demo.offer_deadline.date() < demo.season_start
    assert {room.name for room in demo.rooms} == {"Musikkrommet", "Gymsal A", "Gymsal B"}
    applied = applications(demo)
    assert {name for name, _ in applied} == set(NAMES)
    assert {one(Organization, name=name).effective_category for name in NAMES} == {"free", "reduced", "full"}
    assert all(1 <= len(a.wishes) <= 3 and a.withdrawn_at is None for a in applied.values())
    # The same evening is wanted twice, in Musikkrommet and in Gymsal B.
    firsts = [(w.room_id, w.weekday) for a in applied.values() for w in a.wishes[:1]]
    assert len(firsts) > len(set(firsts))

    listed = client.get("/rounds")
    assert listed.status_code == 200 and demo.name in text(listed) and "åpen for søknader" in text(listed)
    log_in(client, one(User, email="korps@demo.test"))
    page = client.get(f"/rounds/{demo.id}")
    assert page.status_code == 200 and "Søk om en fast ukentlig tid" in text(page)

    # Running the demo again adds no second round and no application.
    again = client.application.test_cli_runner().invoke(main, ["demo"])
    assert again.exit_code == 0 and "there already" in again.output
    assert db.session.execute(db.select(db.func.count()).select_from(Round)).scalar() == 1
    assert len(applications(demo)) == len(applied)


def test_a_demo_member_applies_and_books_outside_the_round(demo, client):
    korps = one(Organization, name="Bekkestua Skolekorps")
    music = one(Room, name="Musikkrommet")
    member = headers("korps@demo.test")
    body = {
        "organization_id": korps.id,
        "attendees": 12,
        "children_youth": True,
        "wishes": [{"room_id": music.id, "weekday": 0, "start": "17:00", "end": "18:00"}],
    }
    created = ok(client.post(f"{API}/rounds/{demo.id}/applications", json=body, headers=member), 201)
    assert created["rank"] == 2  # after the demo's own application of the korps

    tuesday = demo.season_start + timedelta(days=1)

    def book(room: Room):
        start = f"{tuesday.isoformat()}T12:00"
        end = f"{tuesday.isoformat()}T13:00"
        payload = {
            "room_id": room.id,
            "organization_id": korps.id,
            "title": "Øving",
            "start": start,
            "end": end,
        }
        return client.post(f"{API}/bookings", json=payload, headers=member)

    refused = book(music)
    assert refused.status_code == 422 and refused.get_json()["rule"] == "season_allocation_pending"
    assert book(one(Room, name="Øvingsrom 2")).status_code == 201


def test_allocating_the_demo_round_decides_by_class_and_lottery(demo):
    applied = applications(demo)
    after = demo.closes_at + timedelta(minutes=1)
    first = {
        a.application_id: (a.wish_position, a.room_id)
        for a in rounds.allocate_round(ADMIN, demo.id, now=after)
    }
    db.session.commit()
    again = {
        a.application_id: (a.wish_position, a.room_id)
        for a in rounds.allocate_round(ADMIN, demo.id, now=after)
    }
    assert again == first and len(first) == len(applied)

    def given(key) -> int | None:
        return first[applied[key].id][0]

    # Class: the korps (children and youth, free) takes Tuesday evening in Musikkrommet; the
    # consultancy's choir (full price) wanted it too and gets its second wish.
    assert given(("Bekkestua Skolekorps", True)) == 1
    assert given(("Nordisk Konsulentforum AS", False)) == 2
    assert given(("Rykkinn Innebandyklubb", True)) == 1
    # Lottery: the dancers and the senior team (both in the second class, both their
    # organisation's first there) want Gymsal B on Tuesday after the youth team; the lower
    # SHA-256 of "{seed}:{application id}" gets it, the other its second wish.
    pair = [applied["Bærum Seniordans", False], applied["Rykkinn Innebandyklubb", False]]
    pair.sort(key=lambda a: hashlib.sha256(f"{demo.seed}:{a.id}".encode()).hexdigest())
    assert [given((name, False)) for name in ("Bærum Seniordans", "Rykkinn Innebandyklubb")] != [1, 1]
    winner, loser = pair
    assert first[winner.id] == (1, one(Room, name="Gymsal B").id)
    assert first[loser.id][0] == 2
