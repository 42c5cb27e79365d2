"""Feed windows and validators (SPEC §7.7, §7.11): each kind's default window, ``?from&to``
inside the long window, series clipped to the window, the hard size limit, and a Last-Modified
that moves with the body."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import recurring_ical_events
from icalendar import Calendar
from werkzeug.http import http_date, parse_date

from booking.feeds import service
from booking.feeds.service import DEFAULT_WINDOWS, MAX_FEED_EVENTS
from pricing.weekly import OSLO
from tests.ical_js import ical_js_expansion
from tests.integration import test_feed_clock_changes, test_feeds
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_feed_clock_changes import service_occurrences
from tests.integration.test_feeds import (
    BASE,
    at,
    book,
    by_uid,
    count_statements,
    get_feed,
    iso_utc,
    org_feed_path,
    oslo_stamp,
    prop,
    today,
    vevents,
    weekday_from,
)

ical_js = test_feeds.ical_js  # the fixture: tests/js with ical.js installed
nights = test_feed_clock_changes.nights  # the fixture: bookings on both clock-change nights


def summaries(body: bytes) -> set[str]:
    return {prop(vevent, "SUMMARY") for vevent in vevents(body)}


@pytest.fixture
def spread(client, make):
    """Bookings 10 days back (made then, via the database), 30, 100 and 300 days ahead in one
    room; the paths of the room, building, organisation and janitor feeds."""
    building = make.building(name="Kulturhuset")
    room = make.room(building, name="Storsalen")
    organization = make.organization(name="Sandvika Kor")
    member = make.member(organization)
    for days in (30, 100, 300):
        day = today() + timedelta(days=days)
        book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"), title=f"Om {days} dager")
    janitor = make.janitor(building)
    token = client.post("/api/v1/me/feed-token", headers=janitor.headers)
    assert token.status_code == 201
    return {
        "room": f"/feeds/rooms/{room.id}.ics",
        "building": f"/feeds/buildings/{building.id}.ics",
        "organization": org_feed_path(client, member, organization),
        "janitor": token.get_json()["feed_url"].removeprefix(BASE),
    }


def test_each_kind_has_its_default_window(client, spread):
    near_and_far = {"Om 30 dager", "Om 100 dager", "Om 300 dager"}
    public = {"Sandvika Kor"}  # public feeds show the organisation, not the title
    assert summaries(get_feed(client, spread["room"]).data) == public
    assert len(vevents(get_feed(client, spread["room"]).data)) == 3
    assert summaries(get_feed(client, spread["organization"]).data) == near_and_far
    assert len(vevents(get_feed(client, spread["building"]).data)) == 1  # 30 days only
    janitor = summaries(get_feed(client, spread["janitor"]).data)
    assert janitor == {"Sandvika Kor: Om 30 dager"}
    for kind, (back, ahead) in DEFAULT_WINDOWS.items():
        window = service.feed_window(kind)
        assert (today() - window.first_date, window.last_date - today()) == (
            timedelta(days=back),
            timedelta(days=ahead),
        )
    assert DEFAULT_WINDOWS["building"] == DEFAULT_WINDOWS["janitor"] == (7, 60)
    assert DEFAULT_WINDOWS["room"] == DEFAULT_WINDOWS["organization"] == (90, 400)


def test_from_and_to_choose_the_dates_inside_the_long_window(client, spread):
    first, last = today() + timedelta(days=90), today() + timedelta(days=310)
    query = f"?from={first.isoformat()}&to={last.isoformat()}"
    ranged = get_feed(client, spread["building"] + query)
    assert len(vevents(ranged.data)) == 2  # 100 and 300 days ahead
    assert ranged.headers["ETag"] != get_feed(client, spread["building"]).headers["ETag"]
    assert summaries(get_feed(client, spread["janitor"] + query).data) == {
        "Sandvika Kor: Om 100 dager",
        "Sandvika Kor: Om 300 dager",
    }
    only_from = get_feed(
        client, spread["organization"] + f"?from={(today() + timedelta(days=200)).isoformat()}"
    )
    assert summaries(only_from.data) == {"Om 300 dager"}  # to: the kind's default end
    only_to = get_feed(client, spread["room"] + f"?to={(today() + timedelta(days=50)).isoformat()}")
    assert len(vevents(only_to.data)) == 1
    # The limits themselves are accepted.
    edge = (
        f"?from={(today() - timedelta(days=90)).isoformat()}&to={(today() + timedelta(days=400)).isoformat()}"
    )
    assert len(vevents(get_feed(client, spread["building"] + edge).data)) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=2026-13-01", "from"),
        ("?from=yesterday", "from"),
        ("?to=20270101", "to"),
        ("?from=2027-1-01", "from"),
        ("?from=%d", "from"),
        ("?from={back91}", "from"),
        ("?to={ahead401}", "to"),
        ("?from={ahead10}&to={ahead5}", "to"),
    ],
)
def test_bad_or_out_of_range_dates_are_clear_422_problems(client, spread, query, field):
    query = query.format(
        back91=(today() - timedelta(days=91)).isoformat(),
        ahead401=(today() + timedelta(days=401)).isoformat(),
        ahead10=(today() + timedelta(days=10)).isoformat(),
        ahead5=(today() + timedelta(days=5)).isoformat(),
    )
    for path in spread.values():
        response = client.get(path + query)
        body = assert_problem(response, 422)
        assert list(body["errors"]) == [field], body
        assert "from" in body["detail"] and "to" in body["detail"]


def test_wrong_tokens_are_404_before_the_dates_are_looked_at(client, spread):
    assert_problem(client.get("/feeds/org/not-a-token.ics?from=yesterday"), 404)
    assert_problem(client.get("/feeds/rooms/999999.ics?from=yesterday"), 404)


def test_a_feed_over_the_hard_limit_is_refused_with_a_clear_message_not_cut(client, spread, monkeypatch):
    monkeypatch.setattr(service, "MAX_FEED_EVENTS", 2)
    assert MAX_FEED_EVENTS > 2
    body = assert_problem(client.get(spread["room"]), 422)  # three events
    assert body["type"].endswith("/feed-too-large")
    assert body["events"] == 3 and body["limit"] == 2
    assert "?from=YYYY-MM-DD&to=YYYY-MM-DD" in body["detail"]
    assert len(vevents(get_feed(client, spread["building"]).data)) == 1  # within the limit: served
    shorter = f"?to={(today() + timedelta(days=150)).isoformat()}"
    assert len(vevents(get_feed(client, spread["room"] + shorter).data)) == 2


def test_a_refusal_is_remembered_until_the_feed_changes(client, app, spread, make, monkeypatch):
    """Asking again for a feed refused as too large loads no booking; a change to it (a new
    ETag) is counted afresh."""
    monkeypatch.setattr(service, "MAX_FEED_EVENTS", 2)
    statements, stop = count_statements(app)
    try:
        for _ in range(2):
            statements.clear()
            assert assert_problem(client.get(spread["room"]), 422)["events"] == 3
            reads = [s for s in statements if "FROM bookings" in s]
        assert reads == []  # the second refusal: markers only, no booking read
        room = SimpleNamespace(id=int(spread["room"].split("/")[-1].removesuffix(".ics")))
        organization = make.organization()
        day = today() + timedelta(days=5)
        book(client, make.member(organization), room, organization, at(day, "08:00"), at(day, "09:00"))
        statements.clear()
        assert assert_problem(client.get(spread["room"]), 422)["events"] == 4
        assert [s for s in statements if "FROM bookings" in s]
    finally:
        stop()


def test_last_modified_moves_when_the_window_moves_at_midnight(client, spread):
    now = datetime.now(UTC)
    feed = service.room_feed(int(spread["room"].split("/")[-1].removesuffix(".ics")), now=now)
    tomorrow = service.room_feed(feed.subject_id, now=now + timedelta(days=1))
    assert tomorrow.etag != feed.etag
    midnight = datetime.combine(now.astimezone(OSLO).date() + timedelta(days=1), datetime.min.time(), OSLO)
    assert tomorrow.last_modified == midnight.astimezone(UTC) > feed.last_modified
    # An unchanged feed asked with yesterday's Last-Modified is sent again after midnight...
    assert feed.last_modified < midnight
    # ...and today, the Last-Modified it was given answers 304.
    stamp = get_feed(client, spread["room"]).headers["Last-Modified"]
    if parse_date(stamp) < datetime.now(UTC).replace(microsecond=0):
        assert client.get(spread["room"], headers={"If-Modified-Since": stamp}).status_code == 304
    # A fixed window does not move at midnight: its Last-Modified is its data's.
    fixed = {"first_date": today() + timedelta(days=1), "last_date": today() + timedelta(days=200)}
    at_noon = service.room_feed(feed.subject_id, now=now, **fixed)
    next_day = service.room_feed(feed.subject_id, now=now + timedelta(days=1), **fixed)
    assert at_noon.last_modified == next_day.last_modified and at_noon.etag == next_day.etag
    assert at_noon.last_modified < midnight
    assert http_date(at_noon.last_modified)


# --- series clipped to the window ------------------------------------------------------------

# Wider than any feed's window: what a reader shows of a feed anywhere.
EVERYWHERE = (datetime.now(UTC) - timedelta(days=100), datetime.now(UTC) + timedelta(days=410))


def _key(row: tuple[str, str, str]) -> tuple[str, str, str]:
    return row[1], row[0], row[2]


def icalendar_rows(body: bytes) -> list[tuple[str, str, str]]:
    """(UID, start, end) in UTC of every occurrence icalendar + recurring-ical-events expands."""
    events = recurring_ical_events.of(Calendar.from_ical(body)).between(*EVERYWHERE)
    rows = ((str(e["UID"]), iso_utc(e.decoded("DTSTART")), iso_utc(e.decoded("DTEND"))) for e in events)
    return sorted(rows, key=_key)


def ical_js_rows(body: bytes, js_dir: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
    rows = ical_js_expansion(body, js_dir, tmp_path, *EVERYWHERE)
    return sorted(((r["uid"], r["start"], r["end"]) for r in rows), key=_key)


def inside(rows, first: date, last: date):
    """The rows that overlap the local dates ``first``..``last``."""
    start, end = iso_utc(at(first, "00:00")), iso_utc(at(last + timedelta(days=1), "00:00"))
    return [row for row in rows if row[1] < end and row[2] > start]


def end_of_day_utc(day: date) -> str:
    return (
        (at(day + timedelta(days=1), "00:00") - timedelta(seconds=1))
        .astimezone(UTC)
        .strftime("%Y%m%dT%H%M%SZ")
    )


@pytest.fixture
def long_series(client, make):
    """A weekly series of 16 Wednesdays from at least 14 days ahead (past the building feeds' 60
    days), with: week 1 cancelled, week 2 moved out to the Thursday of week 13, week 9 moved in
    to the Thursday of week 5, week 10 retitled and week 12 cancelled. With its member."""
    building = make.building(name="Idrettshallen")
    room = make.room(building, name="Hallen", max_advance_days=400)
    organization = make.organization(name="Bærum Basket")
    member = make.member(organization)
    first = weekday_from(14, 2)
    series = book(
        client,
        member,
        room,
        organization,
        at(first, "18:00"),
        at(first, "20:00"),
        title="Trening",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=16"},
    )
    weeks = series["occurrences"]
    assert len(weeks) == 16
    for week in (1, 12):
        assert (
            client.post(
                f"/api/v1/bookings/{weeks[week]['id']}/cancel", json={}, headers=member.headers
            ).status_code
            == 200
        )
    for week, to_week in ((2, 13), (9, 5)):
        start = at(first + timedelta(weeks=to_week, days=1), "17:00")
        moved = client.patch(
            f"/api/v1/bookings/{weeks[week]['id']}",
            json={"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
            headers=member.headers,
        )
        assert moved.status_code == 200, moved.get_json()
    retitled = client.patch(
        f"/api/v1/bookings/{weeks[10]['id']}", json={"title": "Kamp"}, headers=member.headers
    )
    assert retitled.status_code == 200, retitled.get_json()
    listed = client.get(f"/api/v1/bookings?series_id={series['id']}&status=confirmed", headers=member.headers)
    uid = f"series-{series['id']}@booking.invalid"
    occurrences = sorted(((uid, iso_utc(b["start"]), iso_utc(b["end"])) for b in listed.get_json()), key=_key)
    assert len(occurrences) == 14
    return building, room, first, uid, occurrences, member


def test_a_series_is_clipped_to_the_window_and_every_reader_sees_its_occurrences_there(
    client, long_series, ical_js, tmp_path
):
    building, room, first, uid, occurrences, _ = long_series
    week = {n: first + timedelta(weeks=n) for n in range(16)}
    windows = {
        # the default window (7 days back to 60 ahead): it starts before the series, ends in week 5 or 6
        "": (today() - timedelta(days=7), today() + timedelta(days=60)),
        # weeks 3 to 6 only: the master starts at week 3
        f"?from={week[3].isoformat()}&to={week[6].isoformat()}": (week[3], week[6]),
    }
    for query, (window_first, window_last) in windows.items():
        body = get_feed(client, f"/feeds/buildings/{building.id}.ics{query}").data
        events = {rid: vevent for (event_uid, rid), vevent in by_uid(body).items() if event_uid == uid}
        master = events.pop(None)
        written_first = week[0] if not query else week[3]
        # The master starts at the first instance the window shows and ends on the day of the
        # last: week 9's instance, moved into the window (same UID, no COUNT).
        assert prop(master, "DTSTART;TZID=Europe/Oslo") == oslo_stamp(at(written_first, "18:00"))
        assert prop(master, "RRULE") == f"FREQ=WEEKLY;UNTIL={end_of_day_utc(week[9])}"
        # Only the skipped instances between the two (week 1 if written), no override beyond.
        exdates = prop(master, "EXDATE;TZID=Europe/Oslo")
        assert exdates == (None if query else oslo_stamp(at(week[1], "18:00")))
        moved_in = oslo_stamp(at(week[9], "18:00"))
        moved_out = oslo_stamp(at(week[2], "18:00"))
        assert set(events) == ({moved_in} if query else {moved_in, moved_out})
        # Every reader: exactly the service's occurrences in the window; outside it, only true
        # ones (week 2 at its new time in week 13 in the default window), nothing after week 9.
        for rows in (icalendar_rows(body), ical_js_rows(body, ical_js, tmp_path)):
            assert inside(rows, window_first, window_last) == inside(occurrences, window_first, window_last)
            assert inside(rows, window_first, window_last)
            assert set(rows) <= set(occurrences)
            assert all(
                row[1] < iso_utc(at(week[10], "00:00"))
                or row[1].startswith((week[13] + timedelta(days=1)).isoformat())
                for row in rows
            )
            assert (iso_utc(at(week[13] + timedelta(days=1), "17:00")) in {row[1] for row in rows}) == (
                not query
            )
    # The room's feed (90 days back, 400 ahead) holds the whole series: its stored rule, both
    # cancelled weeks, every override.
    body = get_feed(client, f"/feeds/rooms/{room.id}.ics").data
    master = by_uid(body)[(uid, None)]
    assert prop(master, "RRULE") == "FREQ=WEEKLY;COUNT=16"
    assert prop(master, "EXDATE;TZID=Europe/Oslo").split(",") == [
        oslo_stamp(at(week[n], "18:00")) for n in (1, 12)
    ]
    assert icalendar_rows(body) == occurrences == ical_js_rows(body, ical_js, tmp_path)


def test_a_clipped_feed_is_the_same_bytes_for_the_same_data_and_window(client, long_series):
    building = long_series[0]
    path = f"/feeds/buildings/{building.id}.ics"
    first = get_feed(client, path)
    again = get_feed(client, path)
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    ranged = get_feed(client, f"{path}?from={today().isoformat()}")
    assert ranged.headers["ETag"] != first.headers["ETag"]  # the window is part of the ETag


@pytest.mark.parametrize("night", ["spring", "autumn"])
def test_a_window_that_starts_on_a_clock_change_night_starts_the_master_the_day_before(
    client, nights, night, ical_js, tmp_path
):
    _, rooms, _, _, (spring, autumn) = nights
    change = spring if night == "spring" else autumn
    room = rooms[2]  # a daily 02:30-03:30 series from two days before each night, five days long
    query = f"?from={change.isoformat()}&to={(change + timedelta(days=1)).isoformat()}"
    body = get_feed(client, f"/feeds/rooms/{room.id}.ics{query}").data
    masters = [v for v in vevents(body) if prop(v, "RRULE")]
    assert len(masters) == 1
    (master,) = masters
    # The night's own instance is one readers expand differently: the master starts at the
    # instance before it (which exists once), and the night's instance is an override.
    assert prop(master, "DTSTART;TZID=Europe/Oslo") == oslo_stamp(at(change - timedelta(days=1), "02:30"))
    assert prop(master, "RRULE") == f"FREQ=DAILY;UNTIL={end_of_day_utc(change + timedelta(days=1))}"
    expected = sorted(
        ((row["uid"], row["start"], row["end"]) for row in service_occurrences([room.id])), key=_key
    )
    window_first, window_last = change, change + timedelta(days=1)
    for rows in (icalendar_rows(body), ical_js_rows(body, ical_js, tmp_path)):
        assert inside(rows, window_first, window_last) == inside(expected, window_first, window_last)
        assert len(inside(rows, window_first, window_last)) == 2
        assert set(rows) <= set(expected) and len(rows) == 3  # the day before, outside, is true too


def test_a_clipped_series_is_stamped_by_all_its_occurrences_also_those_it_does_not_write(client, long_series):
    """A building's feed reads only the occurrences it writes, but SEQUENCE and DTSTAMP count
    them all: the same as in the room's feed, which writes the whole series, and raised by a
    change to an occurrence far outside the window."""
    building, room, first, uid, _, member = long_series

    def stamps(path):
        master = by_uid(get_feed(client, path).data)[(uid, None)]
        return prop(master, "SEQUENCE"), prop(master, "DTSTAMP")

    building_path, room_path = f"/feeds/buildings/{building.id}.ics", f"/feeds/rooms/{room.id}.ics"
    before = stamps(building_path)
    assert before == stamps(room_path)
    series_id = int(uid.removeprefix("series-").split("@")[0])
    last = client.get(
        f"/api/v1/bookings?series_id={series_id}&status=confirmed", headers=member.headers
    ).get_json()[-1]
    assert date.fromisoformat(last["start"][:10]) > today() + timedelta(days=60)  # beyond the window
    retitled = client.patch(f"/api/v1/bookings/{last['id']}", json={"title": "Cup"}, headers=member.headers)
    assert retitled.status_code == 200, retitled.get_json()
    after = stamps(building_path)
    assert after == stamps(room_path)
    assert int(after[0]) > int(before[0]) and after[1] >= before[1]
