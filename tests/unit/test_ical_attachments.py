"""The calendars mailed with notifications come from the feed writer (``render_calendar``) with
an iTIP method and an ORGANIZER (RFC 5546); the feeds' own bytes do not change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from booking.feeds.ical import FeedEvent, FeedSeries, booking_uid, render_calendar, series_uid
from pricing.weekly import OSLO

CHANGED = datetime(2026, 2, 1, 8, 15, 42, tzinfo=UTC)
SINGLE = FeedEvent(
    uid=booking_uid(7),
    start=datetime(2026, 12, 8, 18, tzinfo=OSLO),
    end=datetime(2026, 12, 8, 20, tzinfo=OSLO),
    summary="Konsert",
    sequence=2,
    last_modified=CHANGED,
)
SERIES = FeedSeries(
    uid=series_uid(3),
    start=datetime(2026, 12, 1, 18, tzinfo=OSLO),
    end=datetime(2026, 12, 1, 20, tzinfo=OSLO),
    rrule="FREQ=WEEKLY;COUNT=4",
    summary="Korøvelse",
    sequence=5,
    last_modified=CHANGED,
    overrides=(
        FeedEvent(
            uid=series_uid(3),
            start=datetime(2026, 12, 9, 19, tzinfo=OSLO),
            end=datetime(2026, 12, 9, 21, tzinfo=OSLO),
            summary="Korøvelse",
            sequence=5,
            last_modified=CHANGED,
            recurrence_id=datetime(2026, 12, 8, 18, tzinfo=OSLO),
        ),
    ),
)


def lines(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")


def test_the_defaults_write_the_feed_as_before():
    body = render_calendar("Sandvika Kor: bookinger", [SINGLE], [SERIES])
    assert body == render_calendar("Sandvika Kor: bookinger", [SINGLE], [SERIES], method="PUBLISH")
    text = lines(body)
    assert "METHOD:PUBLISH" in text and "NAME:Sandvika Kor: bookinger" in text
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in text
    assert not any(line.startswith("ORGANIZER") for line in text)


def test_a_mailed_calendar_has_its_method_and_an_organizer_on_every_vevent_and_no_feed_name():
    body = render_calendar(
        None, [replace(SINGLE, status="CANCELLED")], [], method="CANCEL", organizer="a@b.no"
    )
    text = lines(body)
    assert "METHOD:CANCEL" in text
    assert not any(
        line.startswith(("NAME", "X-WR-CALNAME", "REFRESH-INTERVAL", "X-PUBLISHED-TTL")) for line in text
    )
    parsed = Calendar.from_ical(body)
    (vevent,) = parsed.walk("VEVENT")
    assert str(vevent["ORGANIZER"]) == "mailto:a@b.no"
    assert str(vevent["STATUS"]) == "CANCELLED" and vevent["SEQUENCE"] == 2

    published = Calendar.from_ical(render_calendar(None, [], [SERIES], organizer="a@b.no"))
    vevents = published.walk("VEVENT")
    assert len(vevents) == 2  # the master and its override
    assert {str(v["ORGANIZER"]) for v in vevents} == {"mailto:a@b.no"}


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@b.no\r\nX-EVIL:1", "Name <a@b.no>", "a@b.no;x"])
def test_an_organizer_that_is_no_bare_address_is_refused(address):
    with pytest.raises(ValueError):
        render_calendar(None, [SINGLE], [], organizer=address)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError):
        render_calendar(None, [SINGLE], [], method="REQUEST")
