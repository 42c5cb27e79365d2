"""Renames through the feeds (SPEC §7.5): a change of a room's, building's or organisation's name
(or, for janitors, an organisation's contacts) raises SEQUENCE and moves DTSTAMP/LAST-MODIFIED
of exactly the events that show it; SEQUENCE never goes back, also when a booking moves to a
room with fewer renames or an occurrence of a series is deleted; the same data gives the same
bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking.extensions import db
from booking.feeds import service
from booking.models import Booking
from tests.integration.test_feeds import BASE, at, book, get_feed, org_feed_path, prop, today, vevents


def stamps(body: bytes) -> dict[str, tuple[int, str, str | None]]:
    """UID (+ RECURRENCE-ID) -> (SEQUENCE, DTSTAMP, LOCATION) of each VEVENT."""
    result = {}
    for vevent in vevents(body):
        assert prop(vevent, "DTSTAMP") == prop(vevent, "LAST-MODIFIED")
        key = prop(vevent, "UID") + (prop(vevent, "RECURRENCE-ID") or "")
        result[key] = (int(prop(vevent, "SEQUENCE")), prop(vevent, "DTSTAMP"), prop(vevent, "LOCATION"))
    return result


def stamp_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def janitor_feed_path(client, janitor) -> str:
    response = client.post("/api/v1/me/feed-token", headers=janitor.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["feed_url"].removeprefix(BASE)


def setting(make, client):
    building = make.building(name="Kulturhuset", address="Storgata 1")
    hall, studio = make.room(building, name="Storsalen"), make.room(building, name="Studio")
    organization = make.organization(name="Sandvika Kor", contact_name="Kari", phone="+47 912 34 567")
    member = make.member(organization)
    day = today() + timedelta(days=3)
    single = book(client, member, hall, organization, at(day, "18:00"), at(day, "20:00"), title="Konsert")
    series = book(
        client,
        member,
        hall,
        organization,
        at(day + timedelta(days=1), "10:00"),
        at(day + timedelta(days=1), "11:00"),
        title="Korøvelse",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    other = book(client, member, studio, organization, at(day, "18:00"), at(day, "20:00"), title="Studio")
    uids = {
        "single": f"booking-{single['id']}@booking.invalid",
        "series": f"series-{series['id']}@booking.invalid",
        "other": f"booking-{other['id']}@booking.invalid",
    }
    paths = {
        "hall": f"/feeds/rooms/{hall.id}.ics",
        "studio": f"/feeds/rooms/{studio.id}.ics",
        "building": f"/feeds/buildings/{building.id}.ics",
        "organization": org_feed_path(client, member, organization),
        "janitor": janitor_feed_path(client, make.janitor(building)),
    }
    return building, hall, studio, organization, member, series, uids, paths


def read(client, paths) -> dict[str, dict]:
    return {name: stamps(get_feed(client, path).data) for name, path in paths.items()}


def test_a_room_rename_raises_sequence_and_dtstamp_of_its_events_only(client, make):
    building, hall, studio, organization, member, series, uids, paths = setting(make, client)
    before = read(client, paths)
    renamed_at = datetime.now(UTC).replace(microsecond=0)
    hall.name = "Store sal"
    db.session.commit()
    after = read(client, paths)
    for feed in ("hall", "building", "organization", "janitor"):
        for uid in (uids["single"], uids["series"]):
            sequence, dtstamp, location = after[feed][uid]
            # A series' SEQUENCE sums its occurrences': each of the four shows the new name.
            assert sequence == before[feed][uid][0] + (1 if uid == uids["single"] else 4), (feed, uid)
            assert stamp_time(dtstamp) >= renamed_at > stamp_time(before[feed][uid][1]) - timedelta(seconds=1)
            assert location.startswith("Store sal")
        assert after[feed].get(uids["other"]) == before[feed].get(uids["other"])  # the studio's
    assert after["studio"] == before["studio"]
    # The same data gives the same bytes.
    feed = service.room_feed(hall.id)
    assert service.render_feed(feed) == service.render_feed(feed)


def test_organisation_and_building_changes_raise_the_events_that_show_them(client, make):
    building, hall, studio, organization, member, series, uids, paths = setting(make, client)
    before = read(client, paths)

    organization.name = "Sandvika Kammerkor"  # public SUMMARY, janitor SUMMARY; not the own feed's events
    db.session.commit()
    renamed = read(client, paths)
    for feed in ("hall", "studio", "building", "janitor"):
        assert {uid: s[0] for uid, s in renamed[feed].items()} == {
            uid: s[0] + (4 if uid == uids["series"] else 1) for uid, s in before[feed].items()
        }, feed
    assert renamed["organization"] == before["organization"]

    organization.phone = "+47 400 00 001"  # shown to janitors only
    db.session.commit()
    called = read(client, paths)
    assert {uid: s[0] for uid, s in called["janitor"].items()} == {
        uid: s[0] + (4 if uid == uids["series"] else 1) for uid, s in renamed["janitor"].items()
    }
    for feed in ("hall", "studio", "building", "organization"):
        assert called[feed] == renamed[feed], feed

    building.address = "Torget 2"  # every event's LOCATION
    db.session.commit()
    moved = read(client, paths)
    for feed in paths:
        for uid, (sequence, _, location) in moved[feed].items():
            raised = 4 if uid == uids["series"] else 1
            assert sequence == called[feed][uid][0] + raised and location.endswith("Torget 2"), (feed, uid)


def test_sequence_never_goes_back_when_a_booking_moves_or_an_occurrence_goes(client, make):
    building, hall, studio, organization, member, series, uids, paths = setting(make, client)
    for name in ("Sal A", "Sal B", "Sal C"):  # three renames of the hall, none of the studio
        hall.name = name
        db.session.commit()
    before = read(client, paths)
    single_id = int(uids["single"].split("-")[1].split("@")[0])
    later = today() + timedelta(days=5)
    moved = client.patch(
        f"/api/v1/bookings/{single_id}",
        json={
            "room_id": studio.id,
            "start": at(later, "18:00").isoformat(),
            "end": at(later, "20:00").isoformat(),
        },
        headers=member.headers,
    )
    assert moved.status_code == 200, moved.get_json()
    after = read(client, paths)
    for feed in ("building", "organization", "janitor"):
        assert after[feed][uids["single"]][0] > before[feed][uids["single"]][0], feed
    assert after["studio"][uids["single"]][0] > before["hall"][uids["single"]][0]

    # A deleted occurrence of the series takes its renames with it: the series' SEQUENCE rises.
    occurrence = db.session.scalars(
        db.select(Booking).where(Booking.series_id == series["id"]).order_by(Booking.start.desc())
    ).first()
    db.session.delete(occurrence)
    db.session.commit()
    gone = read(client, paths)
    for feed in ("hall", "building", "organization", "janitor"):
        assert gone[feed][uids["series"]][0] > after[feed][uids["series"]][0], feed


def test_sequence_never_goes_back_when_a_room_moves_to_another_building(client, make):
    building, hall, studio, organization, member, series, uids, paths = setting(make, client)
    for address in ("Torget 2", "Torget 3", "Torget 4"):  # three renames of the old building
        building.address = address
        db.session.commit()
    before = stamps(get_feed(client, paths["hall"]).data)
    hall.building_id = make.building(name="Nybygget").id
    db.session.commit()
    after = stamps(get_feed(client, paths["hall"]).data)
    assert set(after) == set(before)
    for uid, (sequence, _, location) in after.items():
        assert sequence > before[uid][0] and "Nybygget" in location, uid
