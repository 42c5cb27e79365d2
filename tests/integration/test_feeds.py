"""iCal feeds through HTTP, checked on the bytes (SPEC §7, requirements 1-10; §8 feed tokens).

Each test names the requirement it checks. Expansion is cross-checked with ``icalendar`` +
``recurring-ical-events`` and with Mozilla's ``ical.js`` (``tests/js/expand.mjs``, run by Node)
against the service's own occurrence list from ``GET /api/v1/bookings?series_id=``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import event
from werkzeug.http import http_date, parse_date

from booking.extensions import db
from booking.feeds import service
from booking.feeds.markers import bump
from booking.models import Booking, FeedMarker, FeedToken, Organization, Room, User
from pricing.weekly import OSLO
from tests.ical_js import ical_js_expansion
from tests.integration.test_api_foundation import assert_problem

CALENDAR = "text/calendar; charset=utf-8"
JS_DIR = Path(__file__).resolve().parents[1] / "js"
BASE = "http://booking.test"


# --- helpers ---------------------------------------------------------------------------------


def at(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def today() -> date:
    return datetime.now(OSLO).date()


def weekday_from(days: int, weekday: int) -> date:
    """The first ``weekday`` (0 = Monday) at least ``days`` from today."""
    day = today() + timedelta(days=days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def book(client, login, room, organization, start: datetime, end: datetime, title="Øving", **extra) -> dict:
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": title,
        "start": start.isoformat(),
        "end": end.isoformat(),
        **extra,
    }
    response = client.post("/api/v1/bookings", json=payload, headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def get_feed(client, path: str, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code in (200, 304), response.get_data(as_text=True)
    return response


def content_lines(body: bytes) -> list[str]:
    """Unfolded content lines."""
    return body.decode("utf-8").replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def vevents(body: bytes) -> list[list[str]]:
    found, current = [], None
    for line in content_lines(body):
        if line == "BEGIN:VEVENT":
            current = []
        elif line == "END:VEVENT":
            found.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return found


def prop(vevent: list[str], name: str) -> str | None:
    values = [line.split(":", 1)[1] for line in vevent if re.match(rf"{name}[;:]", line)]
    assert len(values) <= 1, (name, values)
    return values[0] if values else None


def by_uid(body: bytes) -> dict[tuple[str, str | None], list[str]]:
    return {(prop(v, "UID"), prop(v, "RECURRENCE-ID")): v for v in vevents(body)}


def oslo_stamp(moment: datetime) -> str:
    return moment.astimezone(OSLO).strftime("%Y%m%dT%H%M%S")


def utc_stamp(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso_utc(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_markers(minutes: int) -> None:
    """As if every feed last changed ``minutes`` earlier: a Last-Modified from within the second
    of the last change is held at the present (RFC 9110 §8.8.2.1) and never gives a 304."""
    for marker in db.session.scalars(db.select(FeedMarker)):
        marker.changed_at -= timedelta(minutes=minutes)
    db.session.commit()


def count_statements(app):
    """Collect the SQL statements the app runs (transaction control left out)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    return statements, lambda: event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def world(make):
    building = make.building(name="Kulturhuset", address="Storgata 1, 1300 Sandvika")
    room = make.room(building, name="Storsalen", kind="hall", capacity=200)
    organization = make.organization(
        name="Sandvika Kor",
        contact_name="Kari Kontakt",
        email="kontakt@kor.example.test",
        phone="+47 912 34 567",
    )
    member = make.member(organization)
    return building, room, organization, member


def org_feed_path(client, login, organization) -> str:
    response = client.post(f"/api/v1/organizations/{organization.id}/feed-token", headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["feed_url"].removeprefix(BASE)


# --- requirement 1: status, headers, no redirects ----------------------------------------------


def test_feeds_answer_200_with_an_inline_calendar_and_cache_validators(client, world):
    building, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
    )
    for path in (
        f"/feeds/rooms/{room.id}.ics",
        f"/feeds/buildings/{building.id}.ics",
        org_feed_path(client, member, organization),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == CALENDAR
        assert "Content-Disposition" not in response.headers
        assert re.fullmatch(r'"[0-9a-f]{40}"', response.headers["ETag"])  # strong: no W/
        assert parse_date(response.headers["Last-Modified"]) is not None
        assert "no-cache" in response.headers["Cache-Control"]
        assert ("private" if "/org/" in path else "public") in response.headers["Cache-Control"]
        head = client.head(path)
        assert head.status_code == 200 and head.headers["ETag"] == response.headers["ETag"]


def test_unknown_feeds_are_404_problems_never_redirects(client, world):
    _, room, _, _ = world
    for path in (
        "/feeds/rooms/999999.ics",
        "/feeds/buildings/999999.ics",
        "/feeds/org/not-a-token.ics",
        "/feeds/janitor/not-a-token.ics",
        "/feeds/rooms/abc.ics",
        f"/feeds/rooms/{room.id}.ics/",
        f"/feeds/rooms/{room.id}",
        "/feeds/org/.ics",
    ):
        assert_problem(client.get(path), 404)


# --- requirement 2: CRLF, folding, UTF-8, escaping ---------------------------------------------


def test_bytes_are_crlf_folded_utf8_and_escaped(client, world):
    _, room, organization, member = world
    title = "Vårkonsert: æøå ÆØÅ, sopran; alt \\ tenor – " + "lang tittel " * 8
    notes = "Rigging fra kl. 16.\nNøkkel hos vakt; ring først, takk \\ hilsen"
    day = today() + timedelta(days=5)
    book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "21:00"),
        title=title,
        notes=notes,
        public_title=True,
    )
    for body in (
        get_feed(client, f"/feeds/rooms/{room.id}.ics").data,
        get_feed(client, org_feed_path(client, member, organization)).data,
    ):
        assert body.endswith(b"\r\n")
        assert body.count(b"\n") == body.count(b"\r\n") == body.count(b"\r")
        for line in body[:-2].split(b"\r\n"):
            assert len(line) <= 75, line
            line.decode("utf-8")  # a fold inside a character would raise
        escaped = title.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        assert any(line.endswith(escaped) and line.startswith("SUMMARY:") for line in content_lines(body))
        event_ = Calendar.from_ical(body).events[0]
        assert str(event_["SUMMARY"]).endswith(title)
    private = content_lines(body)  # the organisation's own feed has the notes, newline as \n
    assert any(
        line.startswith("DESCRIPTION:")
        and line.endswith(
            "Merknader: Rigging fra kl. 16.\\nNøkkel hos vakt\\; ring først\\, takk \\\\ hilsen"
        )
        for line in private
    )
    assert str(Calendar.from_ical(body).events[0]["DESCRIPTION"]).endswith("Merknader: " + notes)


# --- requirement 3: one VCALENDAR with the publishing properties -------------------------------


def test_one_vcalendar_with_the_publishing_properties(client, world):
    building, room, organization, member = world
    for path, name in (
        (f"/feeds/rooms/{room.id}.ics", "Storsalen\\, Kulturhuset"),
        (f"/feeds/buildings/{building.id}.ics", "Kulturhuset"),
        (org_feed_path(client, member, organization), "Sandvika Kor: bookinger"),
    ):
        lines = content_lines(get_feed(client, path).data)
        assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
        assert lines.count("BEGIN:VCALENDAR") == 1
        header = lines[: lines.index("BEGIN:VTIMEZONE")]
        assert not any(line.startswith(("METHOD", "ORGANIZER")) for line in lines)  # §7.12
        for expected in (
            "VERSION:2.0",
            f"NAME:{name}",
            f"X-WR-CALNAME:{name}",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
        ):
            assert expected in header, (path, expected)
        (prodid,) = [line for line in header if line.startswith("PRODID:")]
        assert prodid.isascii()


# --- requirement 4: one static VTIMEZONE, nothing floating -------------------------------------


def test_one_rrule_vtimezone_before_the_events_and_every_time_in_oslo(client, world, make):
    _, room, organization, member = world
    day = weekday_from(7, 1)
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=6"},
    )
    occurrences = series["occurrences"]
    client.post(f"/api/v1/bookings/{occurrences[1]['id']}/cancel", json={}, headers=member.headers)
    moved = at(day + timedelta(days=22), "19:00")
    client.patch(
        f"/api/v1/bookings/{occurrences[3]['id']}",
        headers=member.headers,
        json={"start": moved.isoformat(), "end": (moved + timedelta(hours=2)).isoformat()},
    )
    book(
        client,
        member,
        room,
        organization,
        at(day + timedelta(days=1), "10:00"),
        at(day + timedelta(days=1), "11:00"),
    )
    lines = content_lines(get_feed(client, f"/feeds/rooms/{room.id}.ics").data)
    assert lines.count("BEGIN:VTIMEZONE") == 1 and lines.count("TZID:Europe/Oslo") == 1
    assert lines.index("END:VTIMEZONE") < lines.index("BEGIN:VEVENT")
    assert not any(line.startswith("RDATE") for line in lines)
    assert sum(line.startswith("RRULE:FREQ=YEARLY") for line in lines) == 2  # STANDARD, DAYLIGHT
    event_lines = [line for v in vevents(get_feed(client, f"/feeds/rooms/{room.id}.ics").data) for line in v]
    times = [line for line in event_lines if re.match(r"(DTSTART|DTEND|EXDATE|RECURRENCE-ID)[;:]", line)]
    assert len(times) == 2 * 3 + 2  # 3 VEVENTs (series, override, single), one EXDATE, one RECURRENCE-ID
    for line in times:
        assert re.fullmatch(r"[A-Z-]+;TZID=Europe/Oslo:\d{8}T\d{6}(,\d{8}T\d{6})*", line), line
    stamps = [line for line in event_lines if line.startswith(("DTSTAMP", "LAST-MODIFIED"))]
    assert stamps and all(re.fullmatch(r"[A-Z-]+:\d{8}T\d{6}Z", line) for line in stamps)


# --- requirement 5: stable UIDs, stamps from the data, same bytes ------------------------------


def test_same_data_gives_the_same_bytes_with_uids_and_stamps_from_the_database(client, world):
    _, room, organization, member = world
    day = today() + timedelta(days=4)
    single = book(client, member, room, organization, at(day, "10:00"), at(day, "12:00"))
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "19:00"),
        recurrence={"rrule": "FREQ=DAILY;COUNT=3"},
    )
    first = get_feed(client, f"/feeds/rooms/{room.id}.ics")
    second = get_feed(client, f"/feeds/rooms/{room.id}.ics")
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    events = by_uid(first.data)
    assert set(events) == {
        (f"booking-{single['id']}@booking.invalid", None),
        (f"series-{series['id']}@booking.invalid", None),
    }
    vevent = events[(f"booking-{single['id']}@booking.invalid", None)]
    assert prop(vevent, "DTSTAMP") == prop(vevent, "LAST-MODIFIED") == utc_stamp(single["updated_at"])
    assert prop(vevent, "SEQUENCE") == "0"


# --- requirement 6: series, overrides, SEQUENCE ------------------------------------------------


def test_series_is_an_rrule_with_exdates_for_skipped_and_cancelled_and_overrides(client, world, make):
    _, room, organization, member = world
    other = make.organization(name="Annen forening")
    other_member = make.member(other)
    day = weekday_from(7, 2)  # a Wednesday
    book(
        client,
        other_member,
        room,
        other,
        at(day + timedelta(weeks=1), "18:30"),
        at(day + timedelta(weeks=1), "19:00"),
    )
    last = day + timedelta(weeks=7)
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        title="Korøvelse",
        recurrence={"rrule": f"FREQ=WEEKLY;UNTIL={last:%Y%m%d}"},
        on_conflict="skip",
    )
    assert [s["start"][:10] for s in series["skipped"]] == [(day + timedelta(weeks=1)).isoformat()]
    occurrences = series["occurrences"]  # weeks 0, 2, 3, 4, 5, 6, 7
    cancelled, moved, retitled = occurrences[1], occurrences[2], occurrences[3]
    client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=member.headers)
    new_start = at(day + timedelta(weeks=3, days=1), "17:00")
    client.patch(
        f"/api/v1/bookings/{moved['id']}",
        headers=member.headers,
        json={"start": new_start.isoformat(), "end": (new_start + timedelta(hours=2)).isoformat()},
    )
    client.patch(f"/api/v1/bookings/{retitled['id']}", json={"title": "Ekstraøvelse"}, headers=member.headers)

    body = get_feed(client, org_feed_path(client, member, organization)).data
    uid = f"series-{series['id']}@booking.invalid"
    events = by_uid(body)
    master = events[(uid, None)]
    # A date UNTIL means through that day in Oslo; the feed writes it in UTC with Z.
    until = (
        (at(last + timedelta(days=1), "00:00") - timedelta(seconds=1))
        .astimezone(UTC)
        .strftime("%Y%m%dT%H%M%SZ")
    )
    assert prop(master, "RRULE") == f"FREQ=WEEKLY;UNTIL={until}"
    assert prop(master, "DTSTART;TZID=Europe/Oslo") == oslo_stamp(at(day, "18:00"))
    exdates = prop(master, "EXDATE;TZID=Europe/Oslo").split(",")
    assert exdates == [
        oslo_stamp(at(day + timedelta(weeks=1), "18:00")),
        oslo_stamp(datetime.fromisoformat(cancelled["start"])),
    ]
    assert prop(master, "SUMMARY") == "Korøvelse"
    override = events[(uid, oslo_stamp(datetime.fromisoformat(moved["start"])))]
    assert prop(override, "DTSTART;TZID=Europe/Oslo") == oslo_stamp(new_start)
    assert prop(override, "SUMMARY") == "Korøvelse"
    renamed = events[(uid, oslo_stamp(datetime.fromisoformat(retitled["start"])))]
    assert prop(renamed, "SUMMARY") == "Ekstraøvelse"
    assert prop(renamed, "DTSTART;TZID=Europe/Oslo") == oslo_stamp(datetime.fromisoformat(retitled["start"]))
    assert len(events) == 3  # occurrence bookings never appear under their own UID
    assert {prop(v, "SEQUENCE") for v in events.values()} == {"3"}  # 1 cancel + 1 move + 1 retitle


def test_sequence_and_etag_change_on_an_edit_and_not_otherwise(client, world, make):
    _, room, organization, member = world
    elsewhere = make.room(make.building(), name="Annet rom")
    day = today() + timedelta(days=6)
    single = book(client, member, room, organization, at(day, "10:00"), at(day, "11:00"))
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "19:00"),
        recurrence={"rrule": "FREQ=DAILY;COUNT=4"},
    )
    path = f"/feeds/rooms/{room.id}.ics"
    before = get_feed(client, path)
    assert get_feed(client, path).headers["ETag"] == before.headers["ETag"]  # reading changes nothing
    book(client, member, elsewhere, organization, at(day, "10:00"), at(day, "11:00"))
    assert get_feed(client, path).headers["ETag"] == before.headers["ETag"]  # nor another room's booking
    # The window moves at midnight, and the ETag with it.
    assert service.room_feed(room.id).etag == before.headers["ETag"]
    assert (
        service.room_feed(room.id, now=datetime.now(UTC) + timedelta(days=1)).etag != before.headers["ETag"]
    )
    single_uid, series_uid = (
        f"booking-{single['id']}@booking.invalid",
        f"series-{series['id']}@booking.invalid",
    )

    edited = client.patch(f"/api/v1/bookings/{single['id']}", json={"attendees": 30}, headers=member.headers)
    assert edited.status_code == 200
    after = get_feed(client, path)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert prop(by_uid(after.data)[(single_uid, None)], "SEQUENCE") == "1"
    assert prop(by_uid(after.data)[(single_uid, None)], "LAST-MODIFIED") == utc_stamp(
        edited.get_json()["updated_at"]
    )
    assert prop(by_uid(after.data)[(series_uid, None)], "SEQUENCE") == "0"

    occurrence = series["occurrences"][2]
    client.patch(
        f"/api/v1/bookings/{occurrence['id']}", json={"title": "Annen tittel"}, headers=member.headers
    )
    later = get_feed(client, path)
    assert later.headers["ETag"] != after.headers["ETag"]
    # Public feed: the title is not shown, so the occurrence still reads like the series.
    assert set(by_uid(later.data)) == {(single_uid, None), (series_uid, None)}
    assert prop(by_uid(later.data)[(series_uid, None)], "SEQUENCE") == "1"


# --- requirement 7: cancellations leave, the window --------------------------------------------


def test_a_cancelled_single_booking_leaves_the_feed(client, world):
    _, room, organization, member = world
    day = today() + timedelta(days=3)
    kept = book(client, member, room, organization, at(day, "10:00"), at(day, "11:00"))
    gone = book(client, member, room, organization, at(day, "12:00"), at(day, "13:00"))
    path = f"/feeds/rooms/{room.id}.ics"
    before = get_feed(client, path)
    assert len(vevents(before.data)) == 2
    assert (
        client.post(f"/api/v1/bookings/{gone['id']}/cancel", json={}, headers=member.headers).status_code
        == 200
    )
    after = get_feed(client, path)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert set(by_uid(after.data)) == {(f"booking-{kept['id']}@booking.invalid", None)}
    assert f"booking-{gone['id']}@".encode() not in after.data


def test_the_window_is_90_days_back_to_400_days_ahead(client, world):
    _, room, organization, member = world
    made = [
        book(
            client,
            member,
            room,
            organization,
            at(today() + timedelta(days=2), f"{h}:00"),
            at(today() + timedelta(days=2), f"{h}:30"),
        )
        for h in (10, 11, 12, 13)
    ]
    placed = {-91: made[0], -90: made[1], 400: made[2], 401: made[3]}
    for days, booking in placed.items():  # as time passes; the API refuses the past and beyond a year
        row = db.session.get(Booking, booking["id"])
        row.start, row.end = (
            at(today() + timedelta(days=days), "10:00"),
            at(today() + timedelta(days=days), "10:30"),
        )
        row.occupied_until = row.end  # the room has no buffer
        row.touch()
    db.session.commit()
    uids = {uid for uid, _ in by_uid(get_feed(client, f"/feeds/rooms/{room.id}.ics").data)}
    assert uids == {f"booking-{placed[d]['id']}@booking.invalid" for d in (-90, 400)}


# --- requirement 8: conditional GET ------------------------------------------------------------


def test_if_none_match_is_a_304_from_one_query_without_rendering(client, app, world, make, monkeypatch):
    building, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
    )
    paths = [
        f"/feeds/rooms/{room.id}.ics",
        f"/feeds/buildings/{building.id}.ics",
        org_feed_path(client, member, organization),
    ]
    janitor = client.post("/api/v1/me/feed-token", headers=make.janitor(building).headers)
    paths.append(janitor.get_json()["feed_url"].removeprefix(BASE))
    etags = {path: get_feed(client, path).headers["ETag"] for path in paths}

    def no_rendering(*args, **kwargs):
        raise AssertionError("a 304 must not render")

    monkeypatch.setattr(service, "render_feed", no_rendering)
    statements, stop = count_statements(app)
    try:
        for path, etag in etags.items():
            statements.clear()
            for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                response = client.get(path, headers={"If-None-Match": header})
                assert response.status_code == 304, (path, header)
                assert response.data == b"" and response.headers["ETag"] == etag
                assert "no-cache" in response.headers["Cache-Control"]
            assert len(statements) == 4, statements  # one query per request
    finally:
        stop()
    monkeypatch.undo()
    assert client.get(paths[0], headers={"If-None-Match": '"stale"'}).status_code == 200


def test_if_modified_since_is_a_304_unless_if_none_match_disagrees(client, world):
    _, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
    )
    path = f"/feeds/rooms/{room.id}.ics"
    age_markers(10)
    first = get_feed(client, path)
    last_modified = first.headers["Last-Modified"]
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    later = http_date(parse_date(last_modified) + timedelta(hours=1))
    assert client.get(path, headers={"If-Modified-Since": later}).status_code == 304
    earlier = http_date(parse_date(last_modified) - timedelta(seconds=1))
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent (RFC 9110 §13.2.2).
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"stale"'}
    assert client.get(path, headers=both).status_code == 200
    assert client.get(path, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_deleting_a_booking_row_moves_etag_and_last_modified_forward(client, world):
    _, room, organization, member = world
    day = today() + timedelta(days=3)
    single = book(client, member, room, organization, at(day, "10:00"), at(day, "11:00"))
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "19:00"),
        recurrence={"rrule": "FREQ=DAILY;COUNT=3"},
    )
    path = f"/feeds/rooms/{room.id}.ics"
    uid = f"series-{series['id']}@booking.invalid"
    age_markers(10)
    before = get_feed(client, path)
    sequence_before = int(prop(by_uid(before.data)[(uid, None)], "SEQUENCE"))

    db.session.delete(db.session.get(Booking, single["id"]))
    db.session.delete(db.session.get(Booking, series["occurrences"][1]["id"]))
    db.session.commit()
    after = get_feed(client, path)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert parse_date(after.headers["Last-Modified"]) > parse_date(before.headers["Last-Modified"])
    assert client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]}).status_code == 200
    assert client.get(path, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    events = by_uid(after.data)
    assert set(events) == {(uid, None)}
    assert prop(events[(uid, None)], "EXDATE;TZID=Europe/Oslo") == oslo_stamp(
        at(day + timedelta(days=1), "18:00")
    )
    assert int(prop(events[(uid, None)], "SEQUENCE")) > sequence_before


def test_changes_within_one_second_still_move_last_modified_which_is_never_ahead(client, world):
    _, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
    )
    path = f"/feeds/rooms/{room.id}.ics"
    marker = db.session.get(FeedMarker, f"room:{room.id}")
    last_change = datetime.now(UTC).replace(microsecond=200_000) - timedelta(minutes=5)
    marker.changed_at = last_change
    db.session.commit()
    before = get_feed(client, path).headers["Last-Modified"]
    # The whole second after the change: a copy from within the change's second is not current.
    assert parse_date(before) == last_change.replace(microsecond=0) + timedelta(seconds=1)
    assert client.get(path, headers={"If-Modified-Since": before}).status_code == 304
    within_the_second = http_date(last_change.replace(microsecond=0))
    assert client.get(path, headers={"If-Modified-Since": within_the_second}).status_code == 200

    bump(db.session, {f"room:{room.id}"}, now=last_change + timedelta(milliseconds=500))  # same second
    db.session.commit()
    after = get_feed(client, path)
    assert parse_date(after.headers["Last-Modified"]) == parse_date(before)
    # A client that fetched within that second (its date is the change's second) still gets 200.
    assert client.get(path, headers={"If-Modified-Since": within_the_second}).status_code == 200

    bump(db.session, {f"room:{room.id}"}, now=datetime.now(UTC) + timedelta(hours=1))  # a clock ahead
    db.session.commit()
    assert parse_date(get_feed(client, path).headers["Last-Modified"]) <= datetime.now(UTC)


def test_last_modified_is_the_change_not_now_after_a_burst_of_changes(client, world):
    """Many changes in one second used to push the marker a second ahead each, leaving
    Last-Modified at "now" (and If-Modified-Since useless) for minutes."""
    _, room, organization, member = world
    path = f"/feeds/rooms/{room.id}.ics"
    day = today() + timedelta(days=5)
    for hour in range(8, 20):
        book(client, member, room, organization, at(day, f"{hour}:00"), at(day, f"{hour}:30"))
    changed = db.session.get(FeedMarker, f"room:{room.id}").changed_at
    assert changed <= datetime.now(UTC)
    last_modified = parse_date(get_feed(client, path).headers["Last-Modified"])
    # The second after the change, or (answered within the change's second) the present one.
    second = changed.replace(microsecond=0)
    assert last_modified in (second, second + timedelta(seconds=1))
    age_markers(1)
    stamp = get_feed(client, path).headers["Last-Modified"]
    assert client.get(path, headers={"If-Modified-Since": stamp}).status_code == 304


def test_a_change_touching_many_feeds_moves_every_marker_once(client, world, make):
    building, room, _, _ = world
    organizations = [make.organization() for _ in range(40)]  # more than one statement's worth
    scopes = {f"organization:{o.id}" for o in organizations}
    before = {m.scope: m.version for m in db.session.query(FeedMarker)}
    bump(db.session, scopes, rooms={room.id})
    db.session.commit()
    db.session.expire_all()
    after = {m.scope: m.version for m in db.session.query(FeedMarker)}
    moved = {scope for scope in after if after[scope] != before.get(scope)}
    assert moved == scopes | {f"room:{room.id}", f"building:{building.id}"}
    assert all(after[scope] == before.get(scope, 0) + 1 for scope in moved)


def test_a_feed_is_rendered_from_a_fixed_number_of_queries(client, app, world, make):
    building, room, organization, member = world
    day = weekday_from(7, 0)
    building_id = building.id
    path = f"/feeds/buildings/{building_id}.ics"
    statements, stop = count_statements(app)
    try:
        counts = []
        for n in range(3):  # more rooms, organisations, series and bookings: the same queries
            other = make.organization()
            target = make.room(building, name=f"Rom {n}")
            for hour in (10, 14):
                book(
                    client,
                    make.member(other),
                    target,
                    other,
                    at(day, f"{hour}:00"),
                    at(day, f"{hour + 1}:00"),
                    recurrence={"rrule": "FREQ=WEEKLY;COUNT=5"},
                )
            book(client, member, target, organization, at(day, "18:00"), at(day, "19:00"))
            assert len(vevents(get_feed(client, path).data)) == 3 * (n + 1)
            statements.clear()
            # The rendering itself (a GET may also read and write the rendered-feed store).
            assert len(vevents(service.render_feed(service.building_feed(building_id)))) == 3 * (n + 1)
            counts.append(len(statements))
    finally:
        stop()
    # markers, name, the window's bookings, their series, the rest of the series' written
    # occurrences, the series' stamps, rooms (with their labels), organisations (with theirs)
    assert counts == [8, 8, 8]


# --- requirement 9: no personal data in public feeds -------------------------------------------


def test_public_feeds_carry_no_personal_data(client, world, make):
    building, room, organization, member = world
    hall = make.room(building, name="Lillesalen", requires_approval=True)
    day = today() + timedelta(days=3)
    book(
        client,
        member,
        room,
        organization,
        at(day, "10:00"),
        at(day, "11:00"),
        title="Hemmelig styremøte",
        notes="Dørkode 1234",
        attendees=12,
        own_supervisor=True,
    )
    book(
        client,
        member,
        room,
        organization,
        at(day, "12:00"),
        at(day, "13:00"),
        title="Åpen konsert",
        public_title=True,
        notes="Bakdøren er åpen",
    )
    book(client, member, hall, organization, at(day, "14:00"), at(day, "15:00"), title="Ventende forespørsel")
    private = get_feed(client, org_feed_path(client, member, organization)).data.decode()
    for path in (
        f"/feeds/rooms/{room.id}.ics",
        f"/feeds/buildings/{building.id}.ics",
        f"/feeds/rooms/{hall.id}.ics",
    ):
        body = get_feed(client, path).data.decode()
        unfolded = "".join(content_lines(body.encode()))
        for secret in (
            "Kari Kontakt",
            "kontakt@kor.example.test",
            "912 34 567",
            "Dørkode",
            "Bakdøren",
            "Hemmelig",
            "Ventende",
            "Deltakere",
            "tilsynsvakt",
            member.user.email,
        ):
            assert secret not in unfolded, (path, secret)
    summaries = [
        prop(v, "SUMMARY") for v in vevents(get_feed(client, f"/feeds/buildings/{building.id}.ics").data)
    ]
    assert summaries == ["Sandvika Kor", "Åpen konsert"]
    assert "Dørkode 1234" in "".join(content_lines(private.encode()))  # the private feed has it all


# --- requirement 10: icalendar and ical.js expand to the service's occurrences -----------------


def next_dst_change(after: date) -> date:
    day = after
    while at(day, "12:00").utcoffset() == at(day + timedelta(days=1), "12:00").utcoffset():
        day += timedelta(days=1)
    return day + timedelta(days=1)


@pytest.fixture(scope="module")
def ical_js() -> Path:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not on PATH: the ical.js cross-check needs `node` and `npm`")
    if not (JS_DIR / "node_modules" / "ical.js").is_dir():
        npm = ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"]
        installed = subprocess.run(npm, cwd=JS_DIR, capture_output=True, text=True)
        if installed.returncode != 0:
            pytest.fail(f"npm install in tests/js failed:\n{installed.stderr}")
    return JS_DIR


def test_a_dst_series_expands_in_icalendar_and_ical_js_to_the_service_occurrences(
    client, world, make, ical_js, tmp_path
):
    building, room, organization, member = world
    change = next_dst_change(today() + timedelta(days=21))
    first = change - timedelta(days=20)
    first += timedelta(days=(1 - first.weekday()) % 7)  # a Tuesday, about three weeks before
    other = make.organization(name="Annen forening")
    book(
        client,
        make.member(other),
        room,
        other,
        at(first + timedelta(weeks=1), "19:00"),
        at(first + timedelta(weeks=1), "19:30"),
    )
    series = book(
        client,
        member,
        room,
        organization,
        at(first, "18:00"),
        at(first, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=8"},
        on_conflict="skip",
        title="Korøvelse",
    )
    assert len(series["skipped"]) == 1 and len(series["occurrences"]) == 7
    occurrences = series["occurrences"]
    after_change = [o for o in occurrences if datetime.fromisoformat(o["start"]).date() > change]
    moved = after_change[0]
    moved_start = at(datetime.fromisoformat(moved["start"]).date() + timedelta(days=2), "19:00")
    response = client.patch(
        f"/api/v1/bookings/{moved['id']}",
        headers=member.headers,
        json={"start": moved_start.isoformat(), "end": (moved_start + timedelta(hours=2)).isoformat()},
    )
    assert response.status_code == 200, response.get_json()
    client.post(f"/api/v1/bookings/{after_change[1]['id']}/cancel", json={}, headers=member.headers)

    listed = client.get(f"/api/v1/bookings?series_id={series['id']}&status=confirmed", headers=member.headers)
    uid = f"series-{series['id']}@booking.invalid"
    expected = sorted(
        ({"uid": uid, "start": iso_utc(b["start"]), "end": iso_utc(b["end"])} for b in listed.get_json()),
        key=_key,
    )
    assert len(expected) == 6
    offsets = {datetime.fromisoformat(b["start"]).utcoffset() for b in listed.get_json()}
    assert len(offsets) == 2  # the series does cross a DST change
    window = (datetime.now(UTC) - timedelta(days=90), datetime.now(UTC) + timedelta(days=400))

    for path in (f"/feeds/rooms/{room.id}.ics", org_feed_path(client, member, organization)):
        body = get_feed(client, path).data
        rows = [
            {"uid": str(e["UID"]), "start": iso_utc(e.decoded("DTSTART")), "end": iso_utc(e.decoded("DTEND"))}
            for e in recurring_ical_events.of(Calendar.from_ical(body)).between(*window)
        ]
        assert sorted((r for r in rows if r["uid"] == uid), key=_key) == sorted(expected, key=_key), path

        js_rows = [r for r in ical_js_expansion(body, ical_js, tmp_path, *window) if r["uid"] == uid]
        assert sorted(js_rows, key=_key) == sorted(expected, key=_key), path


def _key(row: dict) -> tuple[str, str]:
    return row["start"], row["uid"]


# --- private feeds and their tokens (SPEC §8) --------------------------------------------------


def test_members_get_absolute_feed_urls_and_rotation_retires_the_old_one(client, world, make):
    _, room, organization, member = world
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
        title="Korøvelse",
        notes="Ta med noter",
    )
    url = f"/api/v1/organizations/{organization.id}/feed-token"
    assert_problem(client.get(url, headers=member.headers), 404)  # none issued yet
    issued = client.post(url, headers=member.headers)
    assert issued.status_code == 201
    links = issued.get_json()
    assert re.fullmatch(BASE + r"/feeds/org/[A-Za-z0-9_-]{43}\.ics", links["feed_url"])
    assert links["webcal_url"] == "webcal://" + links["feed_url"].removeprefix("http://")
    assert client.get(url, headers=member.headers).get_json() == links  # shown again, unchanged
    old_path = links["feed_url"].removeprefix(BASE)
    body = get_feed(client, old_path).data.decode()
    assert "SUMMARY:Korøvelse" in body and "Ta med noter" in body

    rotated = client.post(url, headers=make.admin().headers).get_json()  # admins may too
    assert rotated["feed_url"] != links["feed_url"]
    assert_problem(client.get(old_path), 404)
    assert get_feed(client, rotated["feed_url"].removeprefix(BASE)).status_code == 200
    assert client.delete(url, headers=member.headers).status_code == 204
    assert_problem(client.get(rotated["feed_url"].removeprefix(BASE)), 404)
    assert_problem(client.get(url, headers=member.headers), 404)


def test_feed_tokens_are_for_members_and_admins_and_stored_hashed(client, world, make):
    building, _, organization, member = world
    url = f"/api/v1/organizations/{organization.id}/feed-token"
    assert_problem(client.post(url), 401)
    assert_problem(client.post(url, headers=make.member().headers), 403)  # another organisation's member
    assert_problem(client.post(url, headers=make.janitor(building).headers), 403)
    assert_problem(client.post("/api/v1/organizations/999999/feed-token", headers=make.admin().headers), 404)
    token = (
        client.post(url, headers=member.headers).get_json()["feed_url"].rsplit("/", 1)[1].removesuffix(".ics")
    )
    rows = db.session.execute(db.select(FeedToken.token_hash, FeedToken.nonce)).all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in row.nonce for row in rows)


def test_organisation_feed_shows_own_pending_requests_as_tentative(client, world, make):
    building, room, organization, member = world
    hall = make.room(building, name="Lillesalen", requires_approval=True)
    other = make.organization(name="Annen forening")
    day = today() + timedelta(days=3)
    request_ = book(client, member, hall, organization, at(day, "18:00"), at(day, "20:00"), title="Julebord")
    book(client, make.member(other), room, other, at(day, "10:00"), at(day, "11:00"), title="Ikke vår")
    path = org_feed_path(client, member, organization)
    (pending,) = vevents(get_feed(client, path).data)
    assert prop(pending, "STATUS") == "TENTATIVE" and prop(pending, "SUMMARY") == "Forespørsel: Julebord"
    assert get_feed(client, f"/feeds/rooms/{hall.id}.ics").data.count(b"BEGIN:VEVENT") == 0
    assert (
        client.post(f"/api/v1/bookings/{request_['id']}/approve", headers=make.admin().headers).status_code
        == 200
    )
    (confirmed,) = vevents(get_feed(client, path).data)
    # Approved: a booked event, which a feed writes without STATUS (CONFIRMED is what clients assume).
    assert prop(confirmed, "STATUS") is None and prop(confirmed, "SUMMARY") == "Julebord"
    assert int(prop(confirmed, "SEQUENCE")) > int(prop(pending, "SEQUENCE"))


def test_janitor_feed_has_contacts_and_notes_for_assigned_buildings_only(client, world, make):
    building, room, organization, member = world
    elsewhere = make.room(make.building(name="Skolen"), name="Gymsal", kind="gym")
    janitor = make.janitor(building)
    day = today() + timedelta(days=3)
    book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        title="Korøvelse",
        notes="Trenger flygel",
        own_supervisor=True,
    )
    book(client, member, elsewhere, organization, at(day, "18:00"), at(day, "20:00"), title="Annet bygg")
    assert_problem(client.post("/api/v1/me/feed-token", headers=member.headers), 403)
    assert_problem(client.get("/api/v1/me/feed-token", headers=janitor.headers), 404)
    links = client.post("/api/v1/me/feed-token", headers=janitor.headers)
    assert links.status_code == 201
    path = links.get_json()["feed_url"].removeprefix(BASE)
    assert path.startswith("/feeds/janitor/")
    first = get_feed(client, path)
    assert "private" in first.headers["Cache-Control"]
    (vevent,) = vevents(first.data)
    assert prop(vevent, "SUMMARY") == "Sandvika Kor: Korøvelse"
    description = str(Calendar.from_ical(first.data).events[0]["DESCRIPTION"])
    for expected in (
        "Kari Kontakt",
        "+47 912 34 567",
        "kontakt@kor.example.test",
        "Trenger flygel",
        "egen tilsynsvakt",
    ):
        assert expected in description

    # Assigning another building (no API for it yet: through the model) adds its bookings.
    user = db.session.get(User, janitor.user.id)
    user.buildings = [building, db.session.get(Room, elsewhere.id).building]
    db.session.commit()
    second = get_feed(client, path)
    assert second.headers["ETag"] != first.headers["ETag"] and len(vevents(second.data)) == 2
    rotated = client.post("/api/v1/me/feed-token", headers=janitor.headers).get_json()
    assert_problem(client.get(path), 404)
    assert get_feed(client, rotated["feed_url"].removeprefix(BASE)).status_code == 200


# --- change markers: what moves a feed's ETag ---------------------------------------------------


def test_renaming_a_room_or_an_organisation_moves_the_feeds_that_show_it(client, world, make):
    building, room, organization, member = world
    unrelated = make.room(make.building(), name="Annet rom")
    book(
        client,
        member,
        room,
        organization,
        at(today() + timedelta(days=3), "18:00"),
        at(today() + timedelta(days=3), "20:00"),
    )
    paths = [
        f"/feeds/rooms/{room.id}.ics",
        f"/feeds/buildings/{building.id}.ics",
        org_feed_path(client, member, organization),
    ]
    etags = {path: get_feed(client, path).headers["ETag"] for path in paths}
    quiet = get_feed(client, f"/feeds/rooms/{unrelated.id}.ics").headers["ETag"]
    admin = make.admin()

    assert (
        client.patch(
            f"/api/v1/rooms/{room.id}", json={"name": "Store sal"}, headers=admin.headers
        ).status_code
        == 200
    )
    for path in paths:
        response = get_feed(client, path)
        assert response.headers["ETag"] != etags[path], path
        assert "LOCATION:Store sal\\, Kulturhuset\\, Storgata 1\\, 1300 Sandvika" in content_lines(
            response.data
        )
        etags[path] = response.headers["ETag"]

    response = client.patch(
        f"/api/v1/organizations/{organization.id}", json={"name": "Sandvika Damekor"}, headers=admin.headers
    )
    assert response.status_code == 200
    for path in paths:
        response = get_feed(client, path)
        assert response.headers["ETag"] != etags[path], path
        assert "Sandvika Damekor" in response.data.decode()
    assert get_feed(client, f"/feeds/rooms/{unrelated.id}.ics").headers["ETag"] == quiet
    assert db.session.get(Organization, organization.id).name == "Sandvika Damekor"


def test_a_divisible_room_feed_shows_what_occupies_its_units(client, world, make):
    building, _, organization, member = world
    half_a = make.room(building, name="Hall A", kind="gym")
    half_b = make.room(building, name="Hall B", kind="gym")
    whole = make.room(building, name="Hele hallen", kind="gym", part_ids=[half_a.id, half_b.id])
    day = today() + timedelta(days=3)
    on_whole = book(client, member, whole, organization, at(day, "10:00"), at(day, "11:00"))
    on_a = book(client, member, half_a, organization, at(day, "12:00"), at(day, "13:00"))

    def uids(room):
        return {uid for uid, _ in by_uid(get_feed(client, f"/feeds/rooms/{room.id}.ics").data)}

    whole_uid, a_uid = f"booking-{on_whole['id']}@booking.invalid", f"booking-{on_a['id']}@booking.invalid"
    assert uids(whole) == {whole_uid, a_uid}
    assert uids(half_a) == {whole_uid, a_uid}
    assert uids(half_b) == {whole_uid}
    before = get_feed(client, f"/feeds/rooms/{half_b.id}.ics").headers["ETag"]
    client.post(f"/api/v1/bookings/{on_whole['id']}/cancel", json={}, headers=member.headers)
    assert get_feed(client, f"/feeds/rooms/{half_b.id}.ics").headers["ETag"] != before
    assert uids(half_b) == set()


def test_a_booking_moves_the_markers_of_every_feed_that_shows_it_and_no_other(client, world, make):
    building, _, organization, member = world
    half_a = make.room(building, name="Sal A", kind="gym")
    half_b = make.room(building, name="Sal B", kind="gym")
    whole = make.room(building, name="Hele salen", kind="gym", part_ids=[half_a.id, half_b.id])
    elsewhere = make.room(make.building(), name="Annet sted")
    day = today() + timedelta(days=3)
    book(client, member, whole, organization, at(day, "08:00"), at(day, "09:00"))  # every marker exists

    def versions():
        db.session.expire_all()
        return {m.scope: m.version for m in db.session.query(FeedMarker)}

    before = versions()
    book(client, member, half_a, organization, at(day, "12:00"), at(day, "13:00"))
    after = versions()
    moved = {scope for scope in after if after[scope] != before.get(scope)}
    assert moved == {
        f"room:{half_a.id}",
        f"room:{whole.id}",
        f"building:{building.id}",
        f"organization:{organization.id}",
    }
    assert all(after[scope] == before[scope] + 1 for scope in moved)
    assert f"room:{elsewhere.id}" not in moved and f"room:{half_b.id}" not in moved


def test_a_part_taken_out_of_a_divisible_room_no_longer_shows_its_bookings(client, world, make):
    building, _, organization, member = world
    admin = make.admin()
    half_a = make.room(building, name="Sal A", kind="gym")
    half_b = make.room(building, name="Sal B", kind="gym")
    whole = make.room(building, name="Hele salen", kind="gym", part_ids=[half_a.id, half_b.id])
    day = today() + timedelta(days=3)
    on_whole = book(client, member, whole, organization, at(day, "08:00"), at(day, "09:00"))
    path = f"/feeds/rooms/{half_b.id}.ics"
    uid = f"booking-{on_whole['id']}@booking.invalid"
    before = get_feed(client, path)
    assert uid in {found for found, _ in by_uid(before.data)}
    response = client.patch(f"/api/v1/rooms/{whole.id}", json={"parts": [half_a.id]}, headers=admin.headers)
    assert response.status_code == 200, response.get_json()
    after = get_feed(client, path)
    assert after.headers["ETag"] != before.headers["ETag"]  # the removed part's feed changed
    assert uid not in {found for found, _ in by_uid(after.data)}


def test_public_feed_addresses_are_in_the_api(client, world):
    building, room, _, _ = world
    assert client.get(f"/api/v1/rooms/{room.id}/feed").get_json() == {
        "feed_url": f"{BASE}/feeds/rooms/{room.id}.ics",
        "webcal_url": f"webcal://booking.test/feeds/rooms/{room.id}.ics",
    }
    assert client.get(f"/api/v1/buildings/{building.id}/feed").get_json()["feed_url"] == (
        f"{BASE}/feeds/buildings/{building.id}.ics"
    )
    assert_problem(client.get("/api/v1/rooms/999999/feed"), 404)
