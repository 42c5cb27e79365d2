"""The size bound of a default feed window (SPEC §7.7): a feed whose default window would be
larger than ``MAX_DEFAULT_FEED_BYTES`` ends on an earlier day, chosen so that the feed fits,
never before today; it is then the same bytes as asking for that shorter window with
``?from&to``; a feed that fits is served whole, and a window asked with ``?from&to`` as asked."""

from __future__ import annotations

from datetime import datetime, timedelta

import recurring_ical_events
from icalendar import Calendar

from booking.feeds import service
from pricing.weekly import OSLO
from tests.integration import test_feed_window
from tests.integration.test_feeds import at, book, get_feed, today, vevents

long_series = test_feed_window.long_series  # the fixture: a clipped, moved and retitled series


def last_day_shown(body: bytes):
    """The local date of the last occurrence any reader expands from the feed."""
    calendar = Calendar.from_ical(body)
    starts = [
        component.decoded("DTSTART")
        for component in recurring_ical_events.of(calendar).between(
            datetime.now(OSLO) - timedelta(days=100), datetime.now(OSLO) + timedelta(days=410)
        )
    ]
    return max(start.astimezone(OSLO).date() for start in starts)


def assert_ends_early_as_if_asked(client, path: str, kind: str, subject_id: int, monkeypatch) -> bytes:
    """Render the default window whole, lower the bound to two thirds of it, and check what is
    served: within the bound, fewer events, and the same bytes as the window asked up to its last
    day; the whole window asked with from/to is still served whole."""
    make_feed = {"room": service.room_feed, "building": service.building_feed}[kind]
    window = make_feed(subject_id).window
    whole = service.render_feed(make_feed(subject_id))
    bound = len(whole) * 2 // 3
    monkeypatch.setattr(service, "MAX_DEFAULT_FEED_BYTES", bound)
    served = get_feed(client, path).data
    assert len(served) <= bound < len(whole)
    assert 0 < len(vevents(served)) < len(vevents(whole))
    last = last_day_shown(served)
    assert today() <= last < window.last_date
    asked = get_feed(client, f"{path}?from={window.first_date.isoformat()}&to={last.isoformat()}").data
    assert served == asked
    # What the shorter window leaves out is the later days only: everything up to its last day is there.
    assert last_day_shown(whole) > last
    full = f"{path}?from={window.first_date.isoformat()}&to={window.last_date.isoformat()}"
    assert get_feed(client, full).data == whole  # asked with from/to: never cut
    return served


def seventy_bookings(client, make):
    """A building whose one room has seventy single bookings over the next 55 days."""
    building = make.building(name="Samfunnshuset")
    room = make.room(building, name="Salen")
    organization = make.organization(name="Asker Musikklag")
    member = make.member(organization)
    for n in range(70):
        start = at(today() + timedelta(days=1 + n % 55), f"{8 + 2 * (n // 55)}:00")
        book(client, member, room, organization, start, start + timedelta(hours=1), title=f"Øving {n}")
    return building


def test_a_default_window_over_the_bound_ends_on_an_earlier_day_as_if_asked(client, long_series, monkeypatch):
    _, room, *_ = long_series
    assert_ends_early_as_if_asked(client, f"/feeds/rooms/{room.id}.ics", "room", room.id, monkeypatch)


def test_a_feed_of_many_events_is_bounded_by_its_estimate_in_one_or_more_tries(client, make, monkeypatch):
    """Seventy single bookings, estimated from every eighth of them (from 64 here)."""
    monkeypatch.setattr(service, "ESTIMATE_FROM_ITEMS", 64)
    building = seventy_bookings(client, make)
    assert_ends_early_as_if_asked(
        client, f"/feeds/buildings/{building.id}.ics", "building", building.id, monkeypatch
    )


def test_a_feed_that_fits_is_served_whole_also_when_its_estimate_is_close(client, make, monkeypatch):
    """Seventy bookings (estimated from every eighth, from 64 here) and a bound of exactly the
    whole feed's size, and a bound just under it."""
    monkeypatch.setattr(service, "ESTIMATE_FROM_ITEMS", 64)
    building = seventy_bookings(client, make)
    whole = service.render_feed(service.building_feed(building.id))
    monkeypatch.setattr(service, "MAX_DEFAULT_FEED_BYTES", len(whole))
    assert service.render_feed(service.building_feed(building.id)) == whole
    monkeypatch.setattr(service, "MAX_DEFAULT_FEED_BYTES", len(whole) - 1)
    shorter = service.render_feed(service.building_feed(building.id))
    assert len(shorter) < len(whole) and len(vevents(shorter)) < len(vevents(whole))


def test_no_day_before_today_is_cut_off(client, long_series, monkeypatch):
    """A bound nothing fits in leaves the window ending today (this series starts later), and the
    feed is still a calendar with its time zone."""
    _, room, *_ = long_series
    monkeypatch.setattr(service, "MAX_DEFAULT_FEED_BYTES", 1)
    served = get_feed(client, f"/feeds/rooms/{room.id}.ics").data
    assert vevents(served) == []
    assert b"BEGIN:VTIMEZONE" in served and served.endswith(b"END:VCALENDAR\r\n")
