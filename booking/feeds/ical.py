"""Render bookings as an iCalendar feed (RFC 5545, RFC 7986): pure, no Flask, no database.

This is the only module of the service that imports ``icalendar``. Callers turn their rows
into the frozen dataclasses below and call :func:`render_calendar`; the result is the exact
body of a ``text/calendar; charset=utf-8`` response.

Decisions:

* UIDs come from database ids and a fixed, host-independent domain (``booking-42@booking.invalid``,
  ``series-7@booking.invalid``, see :func:`booking_uid` and :func:`series_uid`), so they do not
  change when the service moves host. A moved occurrence keeps its series' UID and is told
  apart by RECURRENCE-ID.
* DTSTAMP and LAST-MODIFIED are both the booking's last change, never "now", so the same data
  always gives the same bytes (and the same ETag).
* Times are written in Europe/Oslo wall-clock time with ``TZID=Europe/Oslo``; the VTIMEZONE is a
  static, RRULE-based definition of today's EU rule (icalendar's generated zones list RDATEs).
* Components are sorted by (start, UID, RECURRENCE-ID); a series' overrides follow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDuration,
    vRecur,
    vText,
)

TZID = "Europe/Oslo"
OSLO = ZoneInfo(TZID)
UID_DOMAIN = "booking.invalid"
PRODID = "-//Municipal room booking//Booking feeds 1.0//NB"
REFRESH_INTERVAL = timedelta(hours=1)
STATUSES = frozenset({"CONFIRMED", "TENTATIVE", "CANCELLED"})


@dataclass(frozen=True)
class FeedEvent:
    """One booking, or one moved/retitled occurrence of a series when ``recurrence_id`` is set."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    sequence: int
    last_modified: datetime
    description: str | None = None
    location: str | None = None
    status: str = "CONFIRMED"
    recurrence_id: datetime | None = None


@dataclass(frozen=True)
class FeedSeries:
    """A recurring booking: its first original occurrence, an RRULE, skipped dates, overrides."""

    uid: str
    start: datetime
    end: datetime
    rrule: str
    summary: str
    sequence: int
    last_modified: datetime
    exdates: tuple[datetime, ...] = ()
    overrides: tuple[FeedEvent, ...] = ()
    description: str | None = None
    location: str | None = None
    status: str = "CONFIRMED"


def booking_uid(booking_id: int, domain: str = UID_DOMAIN) -> str:
    """Return the feed UID of a single booking, stable for the life of its database row."""
    return f"booking-{booking_id}@{domain}"


def series_uid(series_id: int, domain: str = UID_DOMAIN) -> str:
    """Return the feed UID of a recurring series (shared by its RECURRENCE-ID overrides)."""
    return f"series-{series_id}@{domain}"


def render_calendar(name: str, events: Iterable[FeedEvent], series: Iterable[FeedSeries]) -> bytes:
    """Render one VCALENDAR with the given single events and series as UTF-8 bytes with CRLF.

    Raises ``ValueError`` for naive datetimes, an end not after its start, an unknown status,
    a duplicate UID, or an override without RECURRENCE-ID or with another UID than its series.
    """
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", _Text(name))
    calendar.add("X-WR-CALNAME", _Text(name))
    calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    calendar.add_component(_oslo_vtimezone())

    items: list[FeedEvent | FeedSeries] = [*events, *series]
    _check_unique_uids(items)
    for item in sorted(items, key=_sort_key):
        if isinstance(item, FeedSeries):
            calendar.add_component(_series_vevent(item))
            _check_unique_uids(item.overrides)
            for override in sorted(item.overrides, key=_sort_key):
                if override.uid != item.uid or override.recurrence_id is None:
                    raise ValueError(f"override of {item.uid} needs its UID and a recurrence_id")
                calendar.add_component(_vevent(override))
        else:
            calendar.add_component(_vevent(item))
    return calendar.to_ical()


class _Text(vText):
    """A TEXT value escaped per RFC 5545 §3.3.11 in a single pass.

    icalendar 7.3's own escaping first turns a literal backslash + "N" into a line break
    (so "C:\\Nytt" would be published as "C:", newline, "ytt"). Otherwise the rules are the
    same: escape backslash, semicolon and comma, write any line break as "\\n"; and drop
    the control characters TEXT may not contain.
    """

    def to_ical(self) -> bytes:
        text = _CONTROL_CHARS.sub("", self.replace("\r\n", "\n").replace("\r", "\n"))
        return text.translate(_TEXT_ESCAPES).encode("utf-8")


# TEXT may hold no control characters except HTAB; newlines are written as "\n".
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})


def _oslo_vtimezone() -> Timezone:
    """Europe/Oslo as the EU rule since 1996; feeds only cover a window around today."""
    # RFC 5545 §3.6.5: onsets are local times, so these two datetimes are deliberately naive.
    standard = TimezoneStandard()
    standard.add("DTSTART", datetime(1970, 10, 25, 3, 0))  # noqa: DTZ001
    standard.add("TZOFFSETFROM", timedelta(hours=2))
    standard.add("TZOFFSETTO", timedelta(hours=1))
    standard.add("TZNAME", "CET")
    standard.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"})

    daylight = TimezoneDaylight()
    daylight.add("DTSTART", datetime(1970, 3, 29, 2, 0))  # noqa: DTZ001
    daylight.add("TZOFFSETFROM", timedelta(hours=1))
    daylight.add("TZOFFSETTO", timedelta(hours=2))
    daylight.add("TZNAME", "CEST")
    daylight.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"})

    vtimezone = Timezone()
    vtimezone.add("TZID", TZID)
    vtimezone.add_component(standard)
    vtimezone.add_component(daylight)
    return vtimezone


def _vevent(item: FeedEvent | FeedSeries) -> Event:
    """The properties a single booking, an override and a series master share."""
    if item.end <= item.start:
        raise ValueError(f"{item.uid}: end must be after start")
    if item.status not in STATUSES:
        raise ValueError(f"{item.uid}: unknown status {item.status!r}")
    event = Event()
    event.add("UID", item.uid)
    event.add("DTSTAMP", _utc(item.last_modified))
    event.add("LAST-MODIFIED", _utc(item.last_modified))
    event.add("SEQUENCE", item.sequence)
    event.add("DTSTART", _local(item.start))
    event.add("DTEND", _local(item.end))
    event.add("SUMMARY", _Text(item.summary))
    event.add("STATUS", item.status)
    if item.description:
        event.add("DESCRIPTION", _Text(item.description))
    if item.location:
        event.add("LOCATION", _Text(item.location))
    if isinstance(item, FeedEvent) and item.recurrence_id is not None:
        event.add("RECURRENCE-ID", _local(item.recurrence_id))
    return event


def _series_vevent(series: FeedSeries) -> Event:
    event = _vevent(series)
    event.add("RRULE", _rrule(series.rrule, _local(series.start)))
    if series.exdates:
        event.add("EXDATE", sorted({_local(moment) for moment in series.exdates}))
    return event


def _rrule(rule: str, first_start: datetime) -> vRecur:
    """Parse an RRULE and write its UNTIL in UTC, as RFC 5545 requires with a TZID DTSTART.

    A date-only UNTIL includes that day's occurrence (the date at the series' local start
    time); a floating UNTIL is read as Europe/Oslo wall-clock time.
    """
    recur = vRecur.from_ical(rule)
    if "UNTIL" in recur:
        until = recur["UNTIL"][0]
        if not isinstance(until, datetime):
            until = datetime.combine(until, first_start.time())
        if until.tzinfo is None:
            until = until.replace(tzinfo=OSLO)
        recur["UNTIL"] = [_utc(until)]
    return recur


def _local(moment: datetime) -> datetime:
    return _aware(moment).astimezone(OSLO).replace(microsecond=0)


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC).replace(microsecond=0)


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"feed times must be aware datetimes, got {moment!r}")
    return moment


def _sort_key(item: FeedEvent | FeedSeries) -> tuple[datetime, str, datetime]:
    recurrence_id = getattr(item, "recurrence_id", None)
    return (_utc(item.start), item.uid, _utc(recurrence_id or item.start))


def _check_unique_uids(items: Iterable[FeedEvent | FeedSeries]) -> None:
    # Clients merge components by (UID, RECURRENCE-ID); a repeated pair would hide a booking.
    seen: set[tuple[str, datetime | None]] = set()
    for item in items:
        key = (item.uid, getattr(item, "recurrence_id", None))
        if key in seen:
            raise ValueError(f"duplicate UID in feed: {item.uid}")
        seen.add(key)
