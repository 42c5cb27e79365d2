"""Calendars mailed with booking notifications (SPEC §12): ``.ics`` attachments, RFC 5546 iTIP.

One place writes iCalendar: these calendars are made by the organisation feed's own machinery
(``booking.feeds.service``: the same rows, looks, series and overrides) and the same writer
(``booking.feeds.ical``), so a client that subscribes to the feed and also opens the mail sees
one event with one UID and SEQUENCE, never two.

* ``PUBLISH`` (confirmed, approved, changed): a single booking as its VEVENT in the
  organisation feed (``booking-N@...``, SEQUENCE = the booking's); an occurrence of a series as
  the whole series the feed shows (``series-N@...``, SEQUENCE = the series' own plus its
  occurrences', with its EXDATEs and overrides). Nothing when the feed no longer shows the
  booking (cancelled or rejected since the event): the mail about that comes after.
* ``CANCEL``: a cancelled single booking as its VEVENT with ``STATUS:CANCELLED`` and its raised
  SEQUENCE; cancelled occurrences of a series that still has open ones as one VEVENT each with
  the series' UID, ``RECURRENCE-ID`` = the instance it stood for and the series' SEQUENCE; a
  series with no open occurrence left as its master with ``STATUS:CANCELLED``.

Every VEVENT carries ``ORGANIZER:mailto:`` the sender's address (RFC 5546 asks it for both
methods); the feeds carry neither METHOD nor ORGANIZER (see ``booking.feeds.ical``). Each
function reads the rows in at most five queries, however many occurrences a series has.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from sqlalchemy import select

from booking.extensions import db
from booking.feeds.ical import FeedEvent, FeedSeries, booking_uid, render_calendar, series_uid
from booking.feeds.service import (
    _COLUMNS,
    Feed,
    _BookingRow,
    _event,
    _instances,
    _Looks,
    _series,
    _visible_statuses,
    feed_window,
)
from booking.models import Booking, Series

PUBLISH_TYPE = "text/calendar; method=PUBLISH"
CANCEL_TYPE = "text/calendar; method=CANCEL"


def publish_calendar(booking_ids: Collection[int], series_id: int | None, organizer: str) -> bytes | None:
    """The ``METHOD:PUBLISH`` calendar of the bookings (or the series) as the organisation feed
    shows them now; None when the feed shows none of them."""
    loaded = _load(booking_ids, series_id)
    if loaded is None:
        return None
    feed, rows, series_row = loaded
    looks = _Looks(feed, rows)
    statuses = _visible_statuses(feed)
    if series_row is None:
        events = [_event(row, booking_uid(row.id), looks) for row in rows if row.status in statuses]
        series = []
    else:
        item, events = _series(series_row, rows, statuses, looks)
        series = [item] if item is not None else []
    if not events and not series:
        return None
    return render_calendar(None, events, series, method="PUBLISH", organizer=organizer)


def cancel_calendar(booking_ids: Collection[int], series_id: int | None, organizer: str) -> bytes | None:
    """The ``METHOD:CANCEL`` calendar of the cancelled bookings among ``booking_ids``; None when
    none of them is cancelled."""
    loaded = _load(booking_ids, series_id)
    if loaded is None:
        return None
    feed, rows, series_row = loaded
    wanted = set(booking_ids)
    cancelled = [row for row in rows if row.id in wanted and row.status == "cancelled"]
    if not cancelled:
        return None
    looks = _Looks(feed, rows)
    if series_row is None:
        events = [_cancelled(_event(row, booking_uid(row.id), looks)) for row in cancelled]
        return render_calendar(None, events, [], method="CANCEL", organizer=organizer)
    statuses = _visible_statuses(feed)
    if not any(row.status in statuses for row in rows):
        # Nothing of the series is left: cancel it whole. The master is the one the feed last
        # showed, computed as if every occurrence were still visible.
        every_status = {row.status for row in rows}
        item, strays = _series(series_row, rows, every_status, looks)
        series = [replace(item, status="CANCELLED", overrides=())] if item is not None else []
        events = [_cancelled(event) for event in strays]
        return render_calendar(None, events, series, method="CANCEL", organizer=organizer)
    instances = _instances(series_row, rows)
    # The series' SEQUENCE and DTSTAMP as the feed shows them (see service._series).
    stamps = [looks.stamp(row) for row in rows]
    of_series = (
        series_row.sequence + sum(own for own, _ in stamps),
        max([series_row.updated_at, *(changed for _, changed in stamps)]),
    )
    uid = series_uid(series_row.id)
    events = [
        _cancelled(
            replace(
                _event(row, uid, looks, of_series=of_series, recurrence_id=row.original_start),
                series_start=series_row.start,
            )
            if row.original_start in instances
            # an occurrence that stands for no instance of the rule is a single event in the feed
            else _event(row, booking_uid(row.id), looks)
        )
        for row in cancelled
    ]
    return render_calendar(None, events, [], method="CANCEL", organizer=organizer)


def _cancelled(event: FeedEvent | FeedSeries) -> FeedEvent | FeedSeries:
    return replace(event, status="CANCELLED")


def _load(booking_ids: Collection[int], series_id: int | None):
    """The organisation feed (for its looks), the rows and the series row: a series is read
    whole, as the feed reads it (EXDATEs and SEQUENCE depend on all its occurrences)."""
    if series_id is not None:
        rows = _rows(Booking.series_id == series_id)
        series_row = db.session.execute(
            select(
                Series.id, Series.rrule, Series.start, Series.end, Series.sequence, Series.updated_at
            ).where(Series.id == series_id)
        ).one_or_none()
        if series_row is None:
            return None
    else:
        rows = _rows(Booking.id.in_(list(booking_ids)))
        series_row = None
    if not rows:
        return None
    # Only the kind matters to the looks; the window and validators are a served feed's concern.
    feed = Feed(
        "organization", rows[0].organization_id, feed_window("organization"), etag="", last_modified=None
    )
    return feed, rows, series_row


def _rows(condition) -> list[_BookingRow]:
    query = select(*_COLUMNS).where(condition).order_by(Booking.start, Booking.id)
    return [_BookingRow._make(row) for row in db.session.execute(query)]
