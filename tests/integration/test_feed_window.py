"""Feed windows and validators (SPEC §7.7, §7.11): each kind's default window, ``?from&to``
inside the long window, the hard size limit, and a Last-Modified that moves with the body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.http import http_date, parse_date

from booking.feeds import service
from booking.feeds.service import DEFAULT_WINDOWS, MAX_FEED_EVENTS
from pricing.weekly import OSLO
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_feeds import BASE, at, book, get_feed, org_feed_path, prop, today, vevents


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
