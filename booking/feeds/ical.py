"""Render bookings as an iCalendar feed (RFC 5545, RFC 7986): pure, no Flask, no database.

This is the only module of the service that imports ``icalendar``. Callers turn their rows
into the frozen dataclasses below and call :func:`render_calendar`; the result is the exact
body of a ``text/calendar; charset=utf-8`` response.

Decisions:

* UIDs come from database ids and a fixed, host-independent domain (``booking-42@booking.invalid``,
  ``series-7@booking.invalid``, see :func:`booking_uid` and :func:`series_uid`), so they do not
  change when the service moves host. A moved occurrence keeps its series' UID and is told
  apart by RECURRENCE-ID.
* DTSTAMP and LAST-MODIFIED are both the event's ``last_modified`` (the caller's last change of
  anything the event shows), never "now", so the same data always gives the same bytes (and the
  same ETag).
* Times are written in Europe/Oslo wall-clock time with ``TZID=Europe/Oslo``; the VTIMEZONE is a
  static, RRULE-based definition of today's EU rule (icalendar's generated zones list RDATEs).
* Clock changes (SPEC §7.10). RFC 5545 reads an ambiguous wall time (the repeated hour of the
  October night) as its first occurrence and a non-existent one (the March gap) with the offset
  before the gap, but readers differ (icalendar and vobject follow it, ical.js and libical do
  not always), and they differ on whether an instance lasts the master's exact or its wall-clock
  duration. So a time whose Oslo wall time is ambiguous is written in UTC (``...Z``), which
  every reader reads alike; a series' instance whose wall times are ambiguous or do not exist,
  or that spans a change, gets a RECURRENCE-ID override with its explicit times (the caller adds
  those overrides, see :func:`reads_alike`); a master whose own first instance is such a one
  carries DURATION (its wall-clock length, which is exact for every other instance) instead of
  DTEND. RECURRENCE-ID and EXDATE are written as the rule's own wall time of that day (the text
  a reader generates for the instance and matches against), not as the instant read back.
* Feeds carry no METHOD (SPEC §7.12): METHOD is an iTIP scheduling message's, and with
  ``METHOD:PUBLISH`` RFC 5546 asks an ORGANIZER on every VEVENT, ~40 bytes per event of a feed
  for nothing a subscriber uses. The calendars mailed with notifications have both.
* Feeds write STATUS only where it says something other than a booked event (``TENTATIVE``
  in an organisation's feed): ``STATUS:CONFIRMED`` is what every client assumes without it, and
  18 bytes of every VEVENT (SPEC §7.7 keeps the busiest building's feed under 1 MB). The
  calendars mailed with notifications (those with ORGANIZER) state it.
* Components are sorted by (start, UID, RECURRENCE-ID); a series' overrides follow it.
* The calendars mailed with notifications (``booking.feeds.attachments``) come from the same
  writer: ``METHOD:PUBLISH`` or ``METHOD:CANCEL``, an ORGANIZER on every VEVENT (RFC 5546), and
  no calendar name or refresh interval.
* Content lines are written here, not through icalendar's generic component serialiser, which
  costs about as much again as everything else a feed request does (see BENCHMARKS.md): the
  properties are few and fixed, and escaping (RFC 5545 §3.3.11) and folding at 75 octets
  between whole UTF-8 characters (§3.1) are a few lines each. icalendar still builds the
  VTIMEZONE (once, at import) and parses and writes RRULEs, and the unit tests parse every
  feed back with icalendar and ical.js.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vDuration, vRecur

from pricing.weekly import OSLO

TZID = OSLO.key  # "Europe/Oslo"
UID_DOMAIN = "booking.invalid"
PRODID = "-//Municipal room booking//Booking feeds 1.0//NB"
REFRESH_INTERVAL = timedelta(hours=1)
STATUSES = frozenset({"CONFIRMED", "TENTATIVE", "CANCELLED"})
METHODS = frozenset({"PUBLISH", "CANCEL"})


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
    # An occurrence sent without its series (a mailed CANCEL): the series' first start, whose
    # time of day names the instance in RECURRENCE-ID (see ``_nominal_text``).
    series_start: datetime | None = None


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


def render_calendar(
    name: str | None,
    events: Iterable[FeedEvent],
    series: Iterable[FeedSeries],
    *,
    method: str | None = None,
    organizer: str | None = None,
) -> bytes:
    """Render one VCALENDAR with the given single events and series as UTF-8 bytes with CRLF.

    Feeds use the defaults: no METHOD, no ORGANIZER. A calendar mailed as an attachment (RFC
    5546 iTIP) passes ``name=None`` (it is not a subscribed calendar: no name, no refresh
    interval), its ``method`` (``PUBLISH`` or ``CANCEL``) and the ``organizer``'s e-mail
    address, which every VEVENT then carries as ``ORGANIZER:mailto:...``.

    Raises ``ValueError`` for naive datetimes, an end not after its start, an unknown status,
    a duplicate UID, an override without RECURRENCE-ID or with another UID than its series, an
    unknown method, a method without an organizer (RFC 5546 asks one on every VEVENT), or an
    organizer address that could break a content line.
    """
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    if method is not None and organizer is None:
        raise ValueError(f"METHOD:{method} needs an ORGANIZER on every VEVENT (RFC 5546)")
    organizer_line = _organizer(organizer) if organizer is not None else None
    lines = ["BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN"]
    if method is not None:
        lines.append(f"METHOD:{method}")
    if name is not None:
        lines += (
            f"NAME:{_text(name)}",
            f"X-WR-CALNAME:{_text(name)}",
            f"REFRESH-INTERVAL;VALUE=DURATION:{_REFRESH}",
            f"X-PUBLISHED-TTL:{_REFRESH}",
        )
    lines += _VTIMEZONE_LINES
    items: list[FeedEvent | FeedSeries] = [*events, *series]
    _check_unique_uids(items)
    text = [*map(_fold, lines)]
    text += (_component_text(item, organizer_line) for item in sorted(items, key=_sort_key))
    text.append("END:VCALENDAR\r\n")
    return "".join(text).encode("utf-8")


def _component_text(item: FeedEvent | FeedSeries, organizer_line: str | None) -> str:
    """The folded content lines of one event, or of a series with its overrides. A function of
    the (frozen) component, so remembered (:class:`_TextMemo`): after a change to one booking, a
    feed's next rendering writes that booking's component and looks up the others (the busiest
    building of the benchmark: 0.98 s to render from nothing, 0.66-0.75 s again). Only components
    whose times are all in UTC are remembered (the feeds' are: they come from the database):
    Oslo times that differ only in ``fold`` (the repeated autumn hour) compare equal but are
    written differently. A refused component (``ValueError``) is not remembered."""
    key = (item, organizer_line) if _rememberable(item) else None
    text = _remembered.get(key) if key is not None else None
    if text is None:
        text = _written(item, organizer_line)
        if key is not None:
            _remembered.put(key, text)
    return text


def _rememberable(item: FeedEvent | FeedSeries) -> bool:
    """Whether every time of the component is in UTC and its collections are tuples (hashable)."""
    times = [item.start, item.end, item.last_modified]
    if isinstance(item, FeedSeries):
        if type(item.exdates) is not tuple or type(item.overrides) is not tuple:
            return False
        times += item.exdates
        if not all(isinstance(o, FeedEvent) and _rememberable(o) for o in item.overrides):
            return False
    else:
        times += (item.recurrence_id, item.series_start)
    return all(moment is None or (isinstance(moment, datetime) and moment.tzinfo is UTC) for moment in times)


class _TextMemo:
    """Texts by key, bounded by their total length: the least recently used give way."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.items, self.lock = limit, 0, OrderedDict(), threading.Lock()

    def get(self, key) -> str | None:
        with self.lock:
            text = self.items.get(key)
            if text is not None:
                self.items.move_to_end(key)
            return text

    def put(self, key, text: str) -> None:
        if len(text) > self.limit // 16:
            return  # one huge series would push out everything else
        with self.lock:
            old = self.items.pop(key, None)
            self.size += len(text) - (len(old) if old is not None else 0)
            self.items[key] = text
            while self.size > self.limit:
                _, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


# 32 million characters of text: a worker's memory grows by about 1.8 times that with the keys
# (measured: 43 MB for the 24 million characters of the feeds the load benchmark's calendar apps
# subscribe to, 16 buildings and 80 rooms). At 8 million the memo of those feeds was overwritten
# before it was read again, and a feed rendered again after a change took 25-35 % longer.
_remembered = _TextMemo(32_000_000)


def _written(item: FeedEvent | FeedSeries, organizer_line: str | None) -> str:
    lines: list[str] = []
    if isinstance(item, FeedSeries):
        _series_vevent(lines, item, organizer_line)
        _check_unique_uids(item.overrides)
        for override in sorted(item.overrides, key=_sort_key):
            if override.uid != item.uid or override.recurrence_id is None:
                raise ValueError(f"override of {item.uid} needs its UID and a recurrence_id")
            recurrence_id = _nominal_text(override.recurrence_id, item.start)
            _vevent(lines, override, organizer=organizer_line, recurrence_id=recurrence_id)
    elif item.recurrence_id is not None:  # an occurrence without its series (a mailed CANCEL)
        recurrence_id = _nominal_text(item.recurrence_id, item.series_start or item.recurrence_id)
        _vevent(lines, item, organizer=organizer_line, recurrence_id=recurrence_id)
    else:
        _vevent(lines, item, organizer=organizer_line)
    return "".join(map(_fold, lines))


def reads_alike(series_start: datetime, series_end: datetime, instance_start: datetime) -> bool:
    """Whether every RFC 5545 reader expands the instance of a series (first instance
    ``series_start``-``series_end``) that the rule gives on ``instance_start``'s day to the same
    instants as the booking service does, with no override: its wall-clock start and end (the
    rule's time of day, plus the first instance's wall-clock length) each exist exactly once in
    Oslo, with one UTC offset between them. False on the nights the clocks change, for the
    instances they touch; the caller then writes the instance as an override with explicit
    times. (The rule's instances all start at the first one's time of day: the service's rules
    have no BYHOUR.)"""
    length = series_end - series_start
    if (
        length < _QUICK_LENGTH
        and instance_start.month not in _CHANGE_MONTHS
        and (instance_start + length + timedelta(hours=3)).month not in _CHANGE_MONTHS
    ):
        return True  # Oslo changes its clocks in March and October only: most instances stop here
    return _reads_alike_at(series_start, series_end, instance_start)


_CHANGE_MONTHS = frozenset({3, 10})
_QUICK_LENGTH = timedelta(days=20)


def _reads_alike_at(series_start: datetime, series_end: datetime, instance_start: datetime) -> bool:
    first = _naive_wall(series_start)
    wall_start = datetime.combine(_local(instance_start).date(), first.time())
    wall_end = wall_start + (_naive_wall(series_end) - first)
    return _exists_once(wall_start) and _exists_once(wall_end) and _offset(wall_start) == _offset(wall_end)


def _naive_wall(moment: datetime) -> datetime:
    return _local(moment).replace(tzinfo=None, fold=0)


def _offset(wall: datetime) -> timedelta | None:
    return wall.replace(tzinfo=OSLO).utcoffset()


def _exists_once(wall: datetime) -> bool:
    """A naive Oslo wall time that is neither in the spring gap nor in the repeated autumn hour:
    zoneinfo gives both folds of it the same offset only then."""
    return wall.replace(tzinfo=OSLO, fold=0).utcoffset() == wall.replace(tzinfo=OSLO, fold=1).utcoffset()


def _text(value: str) -> str:
    """A TEXT value escaped per RFC 5545 §3.3.11 in a single pass.

    icalendar 7.3's own escaping first turns a literal backslash + "N" into a line break
    (so "C:\\Nytt" would be published as "C:", newline, "ytt"); this writer escapes backslash,
    semicolon and comma, writes any line break as "\\n", and drops the control characters TEXT
    may not contain.
    """
    text = _CONTROL_CHARS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return text.translate(_TEXT_ESCAPES)


def _organizer(address: str) -> str:
    """The ORGANIZER line of a mailed calendar. An address is not TEXT (no escaping applies),
    so one that could end the content line or is no address at all is refused."""
    if not address or "@" not in address or any(char.isspace() or char in ':;,<>"' for char in address):
        raise ValueError(f"not an e-mail address for ORGANIZER: {address!r}")
    return f"ORGANIZER:mailto:{address}"


# TEXT may hold no control characters except HTAB; newlines are written as "\n".
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})


def _fold(line: str) -> str:
    """One content line with its CRLF, folded at 75 octets (RFC 5545 §3.1) between whole UTF-8
    characters: each continuation starts with a space, which counts toward its 75."""
    if len(line) <= 18 or len(line.encode("utf-8")) <= 75:  # 18 characters are at most 72 octets
        return line + "\r\n"
    parts, current, size, limit = [], [], 0, 75
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74
        current.append(char)
        size += octets
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


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


# Static, so serialised once (by icalendar) when the module loads.
_VTIMEZONE_LINES = tuple(_oslo_vtimezone().to_ical().decode("ascii").removesuffix("\r\n").split("\r\n"))
_REFRESH = vDuration(REFRESH_INTERVAL).to_ical().decode("ascii")


def _vevent(
    lines: list[str],
    item: FeedEvent | FeedSeries,
    recurrence: tuple[str, ...] = (),
    organizer: str | None = None,
    recurrence_id: str | None = None,
    duration: timedelta | None = None,
) -> None:
    """Append a VEVENT: a single booking, an override (with ``recurrence_id``, the wall-clock
    text of the instance it replaces), or (with ``recurrence``) a series master, which carries
    ``duration`` instead of DTEND when given; ``organizer`` is a whole ORGANIZER line (mailed
    calendars only). A feed's event leaves out ``STATUS:CONFIRMED`` (see the module's notes)."""
    if item.end <= item.start:
        raise ValueError(f"{item.uid}: end must be after start")
    if item.status not in STATUSES:
        raise ValueError(f"{item.uid}: unknown status {item.status!r}")
    stamp = _utc_text(item.last_modified)
    lines += (
        "BEGIN:VEVENT",
        f"UID:{item.uid}",
        f"DTSTAMP:{stamp}",
        f"LAST-MODIFIED:{stamp}",
        f"SEQUENCE:{int(item.sequence)}",
        _time_line("DTSTART", item.start),
        _time_line("DTEND", item.end) if duration is None else f"DURATION:{_duration_text(duration)}",
    )
    if organizer is not None:
        lines.append(organizer)
    if recurrence_id is not None:
        lines.append(f"RECURRENCE-ID;TZID={TZID}:{recurrence_id}")
    lines += recurrence
    lines.append(f"SUMMARY:{_text(item.summary)}")
    if item.description:
        lines.append(f"DESCRIPTION:{_text(item.description)}")
    if item.location:
        lines.append(f"LOCATION:{_text(item.location)}")
    if item.status != "CONFIRMED" or organizer is not None:
        lines.append(f"STATUS:{item.status}")
    lines.append("END:VEVENT")


def _series_vevent(lines: list[str], series: FeedSeries, organizer: str | None = None) -> None:
    recurrence = [f"RRULE:{_rrule(series.rrule, _local(series.start)).to_ical().decode('ascii')}"]
    if series.exdates:
        exdates = sorted({_nominal_text(moment, series.start) for moment in series.exdates})
        recurrence.append(f"EXDATE;TZID={TZID}:" + ",".join(exdates))
    # A first instance that readers read differently (its override says when it is) must not
    # lend its DTEND to the others: they get its wall-clock length, exact for all of them.
    duration = None
    if not reads_alike(series.start, series.end, series.start):
        duration = _naive_wall(series.end) - _naive_wall(series.start)
    _vevent(lines, series, tuple(recurrence), organizer, duration=duration)


def _duration_text(duration: timedelta) -> str:
    if duration <= timedelta(0):
        raise ValueError(f"a series' wall-clock length must be positive, got {duration}")
    return vDuration(duration).to_ical().decode("ascii")


def _time_line(name: str, moment: datetime) -> str:
    """DTSTART or DTEND: Oslo wall-clock time with its TZID, or UTC when that wall time is the
    repeated hour of the autumn night (an instant always has a wall time that exists)."""
    local = _local(moment)
    # Oslo changes its clocks between 02:00 and 03:00 only: the hour tells most times apart cheaply.
    if local.hour != 2 or _exists_once(local.replace(tzinfo=None, fold=0)):
        return f"{name};TZID={TZID}:{_wall_text(local)}"
    return f"{name}:{_utc_text(moment)}"


def _nominal_text(moment: datetime, series_start: datetime) -> str:
    """The wall-clock text of a series' instance on ``moment``'s day, as a reader generates it
    from the master's DTSTART ``series_start``: the series' time of day (02:30 for an instance
    the service moved out of the spring gap to 03:30, and for either 02:30 of the autumn night)."""
    return _wall_text(datetime.combine(_local(moment).date(), _local(series_start).time()))


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


def _wall_text(moment: datetime) -> str:
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )


def _utc_text(moment: datetime) -> str:
    """DATE-TIME in UTC with the ``Z`` suffix."""
    return _wall_text(_utc(moment)) + "Z"


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
