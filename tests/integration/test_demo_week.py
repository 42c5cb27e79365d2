"""The demo shows the service (issue 15): from the day it is loaded there are bookings today and
on every day of the week in every building (none on a closed day), requests wait for approval in
the halls, some of them for the same time, an unverified organisation's request among them, and
every organisation has its own contact person and phone."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from booking import demo
from booking.cli import main
from booking.domain.lifecycle import Status
from booking.extensions import db
from booking.models import Booking, Building, Organization, Room
from pricing.weekly import OSLO


def load(app_ctx) -> None:
    result = app_ctx.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output


def week(status: Status) -> dict[str, dict]:
    """This week's bookings with ``status``: building name -> Oslo date -> bookings."""
    today = datetime.now(OSLO).date()
    found: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    rows = db.session.execute(
        db.select(Booking, Building.name)
        .join(Room, Room.id == Booking.room_id)
        .join(Building, Building.id == Room.building_id)
        .where(Booking.status == status)
    ).all()
    for booking, building in rows:
        day = booking.start.astimezone(OSLO).date()
        if today <= day < today + timedelta(days=7):
            found[building][day].append(booking)
    return found


def test_every_building_has_bookings_today_and_every_day_of_the_week(app_ctx):
    load(app_ctx)
    today = datetime.now(OSLO).date()
    confirmed = week(Status.CONFIRMED)
    buildings = db.session.execute(db.select(Building)).scalars().all()
    assert len(buildings) == 3
    for building in buildings:
        closed = {
            today + timedelta(days=n)
            for n in range(7)
            for c in building.closures
            if c.start_date <= today + timedelta(days=n) <= c.end_date
        }
        open_days = {today + timedelta(days=n) for n in range(7)} - closed
        assert set(confirmed[building.name]) == open_days, building.name
        # A janitor's first screen has several rooms in use, some in the evening (supervision).
        if today in open_days:
            todays = confirmed[building.name][today]
            assert len({b.room_id for b in todays}) >= 2, building.name
            assert any(b.start.astimezone(OSLO).hour >= 17 for b in todays), building.name


def test_requests_wait_in_the_halls_some_competing(app_ctx):
    load(app_ctx)
    pending = db.session.execute(db.select(Booking).where(Booking.status == Status.PENDING)).scalars().all()
    rooms = {r.id: r for r in db.session.execute(db.select(Room)).scalars()}
    organizations = {o.id: o for o in db.session.execute(db.select(Organization)).scalars()}
    in_halls = [b for b in pending if rooms[b.room_id].requires_approval]
    assert len(in_halls) >= 5 and len({b.room_id for b in in_halls}) == 2
    # Competing: pending requests for the same room whose times overlap, of different organisations.
    overlapping = defaultdict(set)
    for a in in_halls:
        for b in in_halls:
            if a.id != b.id and a.room_id == b.room_id and a.start < b.end and b.start < a.end:
                overlapping[a.id].add(b.organization_id)
    assert len(overlapping) >= 5 and max(len(orgs) for orgs in overlapping.values()) >= 2
    # An unverified organisation's booking is a request even in a room without approval.
    unverified = [b for b in pending if not organizations[b.organization_id].verified]
    assert unverified and not any(rooms[b.room_id].requires_approval for b in unverified)


def test_every_organisation_has_its_own_contact(app_ctx):
    load(app_ctx)
    organizations = db.session.execute(db.select(Organization)).scalars().all()
    assert len(organizations) == len(demo.ORGANIZATIONS)
    assert len({o.phone for o in organizations}) == len(organizations)
    assert len({o.contact_name for o in organizations}) == len(organizations)
    assert not any(o.name in o.contact_name for o in organizations)


def test_a_closed_building_gets_no_bookings_on_its_closed_days(app_ctx, monkeypatch):
    today = datetime.now(OSLO).date()
    closure = {"start_date": today, "end_date": today + timedelta(days=2), "reason": "Oppussing"}
    hauger = next(spec for spec in demo.BUILDINGS if spec["name"] == "Hauger skole")
    monkeypatch.setitem(hauger, "closures", [closure])
    load(app_ctx)
    days = week(Status.CONFIRMED)["Hauger skole"]
    assert set(days) == {today + timedelta(days=n) for n in range(3, 7)}
    assert set(week(Status.CONFIRMED)["Bekkestua kulturhus"]) >= {today, today + timedelta(days=1)}


def test_requests_move_past_a_closure_and_still_compete(app_ctx, monkeypatch):
    today = datetime.now(OSLO).date()
    closure = {"start_date": today, "end_date": today + timedelta(days=9), "reason": "Oppussing"}
    rykkinn = next(spec for spec in demo.BUILDINGS if spec["name"] == "Rykkinnhallen")
    monkeypatch.setitem(rykkinn, "closures", [closure])
    load(app_ctx)
    hall = db.session.execute(db.select(Room).filter_by(name="Hallflate")).scalar_one()
    requests = (
        db.session.execute(db.select(Booking).filter_by(room_id=hall.id, status=Status.PENDING))
        .scalars()
        .all()
    )
    assert {b.start.astimezone(OSLO).date() for b in requests} == {today + timedelta(days=10)}
    assert len(requests) == 3
    assert not week(Status.CONFIRMED)["Rykkinnhallen"]


@pytest.mark.parametrize("status", [Status.CONFIRMED, Status.PENDING])
def test_running_the_demo_again_adds_no_booking(app_ctx, status):
    load(app_ctx)
    before = {name: {d: len(b) for d, b in days.items()} for name, days in week(status).items()}
    load(app_ctx)
    after = {name: {d: len(b) for d, b in days.items()} for name, days in week(status).items()}
    assert after == before and before
