"""The calendars mailed with notifications come from the feed writer (``render_calendar``) with
an iTIP method and an ORGANIZER (RFC 5546); feeds have neither (SPEC §7.12)."""

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


def test_the_defaults_write_a_feed_without_method_or_organizer():
    text = lines(render_calendar("Sandvika Kor: bookinger", [SINGLE], [SERIES]))
    assert "NAME:Sandvika Kor: bookinger" in text
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in text
    assert not any(line.startswith(("METHOD", "ORGANIZER")) for line in text)


@pytest.mark.parametrize("method", ["PUBLISH", "CANCEL"])
def test_a_method_without_an_organizer_is_refused(method):
    with pytest.raises(ValueError, match="ORGANIZER"):
        render_calendar(None, [SINGLE], [SERIES], method=method)


def test_a_cancelled_occurrence_sent_alone_names_the_instance_the_series_rule_gives():
    # A daily 02:30 series: on the spring night the service holds that day's instance at 03:30
    # (02:30 does not exist); a reader generates "02:30" from the master, which the RECURRENCE-ID
    # must name to cancel it.
    first = datetime(2027, 3, 26, 2, 30, tzinfo=OSLO)
    moved_out_of_the_gap = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST
    cancelled = FeedEvent(
        uid=series_uid(4),
        start=moved_out_of_the_gap,
        end=moved_out_of_the_gap + (SERIES.end - SERIES.start),
        summary="Nattøvelse",
        sequence=3,
        last_modified=CHANGED,
        status="CANCELLED",
        recurrence_id=moved_out_of_the_gap,
        series_start=first,
    )
    text = lines(render_calendar(None, [cancelled], [], method="CANCEL", organizer="a@b.no"))
    assert "RECURRENCE-ID;TZID=Europe/Oslo:20270328T023000" in text
    assert "DTSTART;TZID=Europe/Oslo:20270328T033000" in text
    without_series = lines(render_calendar(None, [replace(cancelled, series_start=None)], []))
    assert "RECURRENCE-ID;TZID=Europe/Oslo:20270328T033000" in without_series  # the instant read back


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

    published = Calendar.from_ical(render_calendar(None, [], [SERIES], method="PUBLISH", organizer="a@b.no"))
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
