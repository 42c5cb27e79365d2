"""The iCal renderer, checked on the bytes it produces (SPEC §7, requirements 2-6 and 10).

Expansion is compared two ways against an occurrence list computed here with
``dateutil.rrule`` in Europe/Oslo wall-clock time: ``recurring-ical-events`` (on top of
``icalendar``) and Mozilla's ``ical.js`` (through ``tests/js/expand.mjs``, run with Node).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import recurring_ical_events
from dateutil.rrule import DAILY, MONTHLY, TU, WEEKLY, rrule
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from booking.feeds.ical import (
    FeedEvent,
    FeedSeries,
    booking_uid,
    reads_alike,
    render_calendar,
    series_uid,
)
from pricing.weekly import OSLO
from tests.ical_js import ical_js_expansion

LAST_CHANGE = datetime(2026, 2, 1, 8, 15, 42, tzinfo=UTC)
JS_DIR = Path(__file__).resolve().parents[1] / "js"
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


# Tuesdays 18-20 across both DST changes (2026-03-29 and 2026-10-25); the Tuesday after
# Easter is skipped and the first Tuesday after the autumn change is moved to Thursday.
WEEKLY_SERIES = FeedSeries(
    uid=series_uid(1),
    start=oslo(2026, 3, 3, 18),
    end=oslo(2026, 3, 3, 20),
    rrule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20261110T170000Z",
    summary="Korøvelse, sopran; alt",
    sequence=4,
    last_modified=LAST_CHANGE,
    exdates=(oslo(2026, 4, 7, 18),),
    overrides=(
        FeedEvent(
            uid=series_uid(1),
            start=oslo(2026, 10, 29, 19),
            end=oslo(2026, 10, 29, 21),
            summary="Korøvelse (flyttet)",
            sequence=5,
            last_modified=LAST_CHANGE + timedelta(days=3),
            recurrence_id=oslo(2026, 10, 27, 18),
        ),
    ),
    location="Storsalen",
)
# Second Tuesday of the month, with a date-only UNTIL the renderer must turn into UTC.
MONTHLY_SERIES = FeedSeries(
    uid=series_uid(2),
    start=oslo(2026, 1, 13, 10),
    end=oslo(2026, 1, 13, 11, 30),
    rrule="FREQ=MONTHLY;BYDAY=2TU;UNTIL=20261208",
    summary="Styremøte",
    sequence=0,
    last_modified=LAST_CHANGE,
)
COUNT_SERIES = FeedSeries(
    uid=series_uid(3),
    start=oslo(2026, 3, 27, 9),
    end=oslo(2026, 3, 27, 10),
    rrule="FREQ=DAILY;COUNT=5",
    summary="Sommerskole",
    sequence=1,
    last_modified=LAST_CHANGE,
    status="TENTATIVE",
)
SINGLES = (
    FeedEvent(
        uid=booking_uid(10),
        start=oslo(2026, 6, 15, 17),
        end=oslo(2026, 6, 15, 22),
        summary="Bursdag i Blåsalen",
        sequence=2,
        last_modified=LAST_CHANGE,
        description="Rigging fra kl. 16.\nNøkkel hos vakt; ring først, takk.",
        location="Blåsalen, 2. etasje",
    ),
    # Given in UTC: must still be written in Europe/Oslo time.
    FeedEvent(
        uid=booking_uid(11),
        start=datetime(2026, 12, 31, 22, tzinfo=UTC),
        end=datetime(2027, 1, 1, 1, tzinfo=UTC),
        summary="Nyttårsfeiring",
        sequence=0,
        last_modified=LAST_CHANGE,
        status="TENTATIVE",
    ),
)
ALL_SERIES = (WEEKLY_SERIES, MONTHLY_SERIES, COUNT_SERIES)
# Every VEVENT of the test feed: the singles, the masters and their overrides.
ITEMS = (*SINGLES, *ALL_SERIES, *(override for series in ALL_SERIES for override in series.overrides))


def expected_occurrences() -> list[dict[str, str]]:
    """The occurrence list a client must see, from dateutil in Oslo wall-clock time."""

    def rule_starts(freq: int, **kwargs: object) -> list[datetime]:
        return [start.replace(tzinfo=OSLO) for start in rrule(freq, **kwargs)]

    weekly = rule_starts(
        WEEKLY, dtstart=datetime(2026, 3, 3, 18), byweekday=TU, until=datetime(2026, 11, 10, 18)
    )
    monthly = rule_starts(
        MONTHLY, dtstart=datetime(2026, 1, 13, 10), byweekday=TU(2), until=datetime(2026, 12, 8, 10)
    )
    daily = rule_starts(DAILY, dtstart=datetime(2026, 3, 27, 9), count=5)
    assert len(weekly) == 37 and len(monthly) == 12 and len(daily) == 5  # guards the setup

    rows: list[tuple[str, datetime, datetime]] = []
    moved = {o.recurrence_id: o for o in WEEKLY_SERIES.overrides}
    for start in weekly:
        if start in WEEKLY_SERIES.exdates:
            continue
        if start in moved:
            rows.append((WEEKLY_SERIES.uid, moved[start].start, moved[start].end))
        else:
            rows.append((WEEKLY_SERIES.uid, start, start + timedelta(hours=2)))
    rows += [(MONTHLY_SERIES.uid, s, s + timedelta(hours=1, minutes=30)) for s in monthly]
    rows += [(COUNT_SERIES.uid, s, s + timedelta(hours=1)) for s in daily]
    rows += [(e.uid, e.start, e.end) for e in SINGLES]
    return _as_json_rows(rows)


def _as_json_rows(rows: list[tuple[str, datetime, datetime]]) -> list[dict[str, str]]:
    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    result = [{"uid": uid, "start": iso(start), "end": iso(end)} for uid, start, end in rows]
    return sorted(result, key=lambda row: (row["start"], row["uid"]))


@pytest.fixture(scope="module")
def feed() -> bytes:
    return render_calendar("Kulturhuset – Storsalen", SINGLES, ALL_SERIES)


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def content_lines(data: bytes) -> list[str]:
    """Unfolded content lines."""
    return data.decode("utf-8").replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def unescape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT unescaping, for properties icalendar does not type as TEXT."""
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], value)


def blocks(lines: list[str], name: str) -> list[list[str]]:
    found, current = [], None
    for line in lines:
        if line == f"BEGIN:{name}":
            current = []
        elif line == f"END:{name}":
            found.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return found


# --- requirement 2: bytes, lines, escaping ---------------------------------------------


def test_every_line_ends_with_crlf_and_there_are_no_bare_cr_or_lf(feed: bytes) -> None:
    assert feed.endswith(b"\r\n")
    assert feed.count(b"\n") == feed.count(b"\r\n") == feed.count(b"\r")


def test_lines_are_at_most_75_octets_and_folds_keep_utf8_characters_whole() -> None:
    # 2-, 3- and 4-byte characters at every offset, so folds fall next to each of them.
    for prefix in range(4):
        summary = "x" * prefix + "æøå€🎉" * 40
        data = render_calendar("Sal", [replace(SINGLES[0], summary=summary)], [])
        for line in physical_lines(data):
            assert len(line) <= 75
            line.decode("utf-8")  # a split character would raise here
        assert f"SUMMARY:{summary}" in content_lines(data)


@pytest.mark.parametrize("filler", ["x", "ø", "€", "🎉"])
def test_lines_fold_only_when_longer_than_75_octets_and_fill_each_line(filler: str) -> None:
    prefix = "SUMMARY:"
    for total in range(70, 240):  # octets of the whole content line, around every fold point
        count = (total - len(prefix)) // len(filler.encode())
        summary = filler * count
        data = render_calendar("Sal", [replace(SINGLES[0], summary=summary)], [])
        lines = data.split(b"\r\n")
        start = lines.index(next(line for line in lines if line.startswith(b"SUMMARY:")))
        folded = [lines[start]]
        while lines[start + len(folded)].startswith(b" "):
            folded.append(lines[start + len(folded)])
        octets = len((prefix + summary).encode())
        assert (len(folded) == 1) == (octets <= 75)
        for line in folded:
            assert len(line) <= 75
        for line in folded[:-1]:  # a fold happens only when the next character would not fit
            assert len(line) > 75 - len(filler.encode())
        assert b"".join([folded[0], *(line[1:] for line in folded[1:])]).decode() == prefix + summary


def test_text_escaping_round_trips_through_icalendar() -> None:
    summary = "Møte: æøå ÆØÅ, a;b \\ C:\\Nytt\\notater"
    description = "Linje 1\nLinje 2, med komma; og semikolon\r\nLinje 3\\n er ikke linjeskift"
    event = replace(SINGLES[0], summary=summary, description=description, location="A, B; C")
    data = render_calendar("Kor; øving, \\ alt", [event], [])

    lines = content_lines(data)
    assert "SUMMARY:Møte: æøå ÆØÅ\\, a\\;b \\\\ C:\\\\Nytt\\\\notater" in lines
    assert "LOCATION:A\\, B\\; C" in lines
    assert "NAME:Kor\\; øving\\, \\\\ alt" in lines
    assert "X-WR-CALNAME:Kor\\; øving\\, \\\\ alt" in lines

    parsed = Calendar.from_ical(data)
    vevent = parsed.events[0]
    assert str(vevent["SUMMARY"]) == summary
    assert str(vevent["DESCRIPTION"]) == description.replace("\r\n", "\n")
    assert str(vevent["LOCATION"]) == "A, B; C"
    # icalendar 7.3 reads NAME and X-WR-CALNAME as unknown values and leaves them escaped.
    for raw in (parsed["NAME"], parsed["X-WR-CALNAME"]):
        assert unescape_text(str(raw)) == "Kor; øving, \\ alt"


@given(st.text(st.characters(codec="utf-8"), max_size=300))
def test_any_text_gives_valid_lines_and_round_trips(text: str) -> None:
    data = render_calendar("Sal", [replace(SINGLES[0], summary=text, description=None)], [])
    for line in physical_lines(data):
        assert len(line) <= 75
        line.decode("utf-8")
    # Line breaks become "\n"; other control characters but tab are not allowed: dropped.
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = re.sub("[\x00-\x08\x0b-\x1f\x7f]", "", lines)
    assert str(Calendar.from_ical(data).events[0]["SUMMARY"]) == kept


# --- requirement 3: the calendar object ------------------------------------------------


def test_one_vcalendar_with_the_publishing_properties(feed: bytes) -> None:
    lines = content_lines(feed)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert lines.count("BEGIN:VCALENDAR") == 1
    header = lines[: lines.index("BEGIN:VTIMEZONE")]
    for expected in (
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "NAME:Kulturhuset – Storsalen",
        "X-WR-CALNAME:Kulturhuset – Storsalen",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ):
        assert expected in header
    (prodid,) = [line for line in header if line.startswith("PRODID:")]
    assert prodid.isascii() and len(prodid) > len("PRODID:")
    # SPEC §7.12: a feed is no iTIP message; with METHOD:PUBLISH RFC 5546 would ask an ORGANIZER
    # on every VEVENT.
    assert not any(line.startswith(("METHOD", "ORGANIZER")) for line in lines)


def test_a_method_needs_an_organizer_on_every_event() -> None:
    with pytest.raises(ValueError, match="ORGANIZER"):
        render_calendar(None, SINGLES, ALL_SERIES, method="PUBLISH")
    data = render_calendar(None, SINGLES, ALL_SERIES, method="PUBLISH", organizer="booking@kommune.example")
    vevents = blocks(content_lines(data), "VEVENT")
    assert len(vevents) == 6
    assert all(vevent.count("ORGANIZER:mailto:booking@kommune.example") == 1 for vevent in vevents)
    assert content_lines(data).count("METHOD:PUBLISH") == 1


# --- requirement 4: time zone ----------------------------------------------------------


def test_one_static_oslo_vtimezone_from_rrules_before_the_first_vevent(feed: bytes) -> None:
    lines = content_lines(feed)
    assert lines.count("BEGIN:VTIMEZONE") == 1
    assert lines.index("END:VTIMEZONE") < lines.index("BEGIN:VEVENT")
    assert not any(line.startswith("RDATE") for line in lines)
    (vtimezone,) = blocks(lines, "VTIMEZONE")
    assert "TZID:Europe/Oslo" in vtimezone
    (standard,) = blocks(vtimezone, "STANDARD")
    (daylight,) = blocks(vtimezone, "DAYLIGHT")
    assert sorted(standard) == sorted(
        [
            "DTSTART:19701025T030000",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0100",
            "TZNAME:CET",
            "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
        ]
    )
    assert sorted(daylight) == sorted(
        [
            "DTSTART:19700329T020000",
            "TZOFFSETFROM:+0100",
            "TZOFFSETTO:+0200",
            "TZNAME:CEST",
            "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        ]
    )


def test_the_vtimezone_agrees_with_the_tz_database(feed: bytes) -> None:
    # Built from our VTIMEZONE, not looked up by its TZID. Changes happen at 01:00 UTC on a
    # Sunday: check each hour around that on every Sunday, and noon on every day, 2025-2034.
    ours = Calendar.from_ical(feed).walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    day = datetime(2025, 1, 1, tzinfo=UTC)
    while day.year < 2035:
        hours = (0, 1, 2, 3, 12) if day.weekday() == 6 else (12,)
        for instant in (day + timedelta(hours=hour) for hour in hours):
            assert instant.astimezone(ours).utcoffset() == instant.astimezone(OSLO).utcoffset()
        day += timedelta(days=1)


def test_every_event_time_is_in_oslo_time_and_stamps_are_utc(feed: bytes) -> None:
    lines = content_lines(feed)
    event_lines = [line for vevent in blocks(lines, "VEVENT") for line in vevent]
    times = [line for line in event_lines if re.match(r"(DTSTART|DTEND|EXDATE|RECURRENCE-ID)[;:]", line)]
    assert len(times) == 2 * 6 + 2  # DTSTART/DTEND of 6 VEVENTs, one EXDATE, one RECURRENCE-ID
    for line in times:
        assert re.fullmatch(r"[A-Z-]+;TZID=Europe/Oslo:\d{8}T\d{6}(,\d{8}T\d{6})*", line), line
    stamps = [line for line in event_lines if line.startswith(("DTSTAMP", "LAST-MODIFIED"))]
    assert len(stamps) == 2 * 6
    assert all(re.fullmatch(r"[A-Z-]+:\d{8}T\d{6}Z", line) for line in stamps), stamps
    # A UTC input is converted, not copied: 22:00 UTC on New Year's Eve is 23:00 in Oslo.
    assert "DTSTART;TZID=Europe/Oslo:20261231T230000" in lines


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        render_calendar("Sal", [replace(SINGLES[0], start=datetime(2026, 6, 15, 17))], [])


# --- requirements 5 and 6: identity, stamps, series ------------------------------------


def test_same_data_gives_the_same_bytes_whatever_the_order_or_input_zone(feed: bytes) -> None:
    assert render_calendar("Kulturhuset – Storsalen", SINGLES, ALL_SERIES) == feed
    shuffled = render_calendar(
        "Kulturhuset – Storsalen", tuple(reversed(SINGLES)), tuple(reversed(ALL_SERIES))
    )
    assert shuffled == feed
    in_utc = replace(SINGLES[0], start=SINGLES[0].start.astimezone(UTC))
    assert render_calendar("Kulturhuset – Storsalen", (in_utc, SINGLES[1]), ALL_SERIES) == feed


def test_stamps_uids_sequence_and_status_come_from_the_data(feed: bytes) -> None:
    vevents = blocks(content_lines(feed), "VEVENT")
    assert len(vevents) == 6
    by_key = {}
    for vevent in vevents:
        uid = next(line for line in vevent if line.startswith("UID:"))
        rid = next((line for line in vevent if line.startswith("RECURRENCE-ID")), None)
        by_key[(uid, rid)] = vevent
        assert sum(line.startswith("SEQUENCE:") for line in vevent) == 1
    weekly = by_key[("UID:series-1@booking.invalid", None)]
    assert {"SEQUENCE:4", "DTSTAMP:20260201T081542Z", "LAST-MODIFIED:20260201T081542Z"} <= set(weekly)
    moved = by_key[("UID:series-1@booking.invalid", "RECURRENCE-ID;TZID=Europe/Oslo:20261027T180000")]
    assert {"SEQUENCE:5", "DTSTAMP:20260204T081542Z", "SUMMARY:Korøvelse (flyttet)"} <= set(moved)
    assert "STATUS:TENTATIVE" in by_key[("UID:series-3@booking.invalid", None)]
    assert "UID:booking-10@booking.invalid" in {uid for uid, _ in by_key}
    # A feed states STATUS only where it is not CONFIRMED (what clients assume without it)...
    given = sorted(item.status for item in ITEMS)
    assert given.count("CONFIRMED") == 4 and given.count("TENTATIVE") == 2
    statuses = [line for vevent in vevents for line in vevent if line.startswith("STATUS")]
    assert statuses == ["STATUS:TENTATIVE"] * 2
    # ...and icalendar reads the rest as the booked events they are.
    parsed = Calendar.from_ical(feed).walk("VEVENT")
    assert sorted(str(event.get("STATUS", "CONFIRMED")) for event in parsed) == given


def test_a_mailed_calendar_states_every_status() -> None:
    mailed = render_calendar(None, SINGLES, ALL_SERIES, method="PUBLISH", organizer="booking@kommune.test")
    vevents = blocks(content_lines(mailed), "VEVENT")
    statuses = [next(line for line in vevent if line.startswith("STATUS:")) for vevent in vevents]
    assert sorted(statuses) == sorted(f"STATUS:{item.status}" for item in ITEMS)


def test_series_master_carries_rrule_and_exdate(feed: bytes) -> None:
    lines = content_lines(feed)
    assert "RRULE:FREQ=WEEKLY;UNTIL=20261110T170000Z;BYDAY=TU" in lines
    assert "EXDATE;TZID=Europe/Oslo:20260407T180000" in lines
    assert "RRULE:FREQ=DAILY;COUNT=5" in lines


@pytest.mark.parametrize(
    ("given_rule", "written_rule"),
    [
        # Already UTC: kept.
        ("FREQ=WEEKLY;UNTIL=20261110T170000Z", "FREQ=WEEKLY;UNTIL=20261110T170000Z"),
        # Date only: that day's occurrence is included (18:00 CET is 17:00 UTC).
        ("FREQ=WEEKLY;UNTIL=20261110", "FREQ=WEEKLY;UNTIL=20261110T170000Z"),
        # Floating local time read as Oslo time, in summer time here (18:00 CEST).
        ("FREQ=WEEKLY;UNTIL=20260609T180000", "FREQ=WEEKLY;UNTIL=20260609T160000Z"),
        ("FREQ=WEEKLY;COUNT=3", "FREQ=WEEKLY;COUNT=3"),
    ],
)
def test_until_is_written_in_utc(given_rule: str, written_rule: str) -> None:
    series = replace(WEEKLY_SERIES, rrule=given_rule, exdates=(), overrides=())
    assert f"RRULE:{written_rule}" in content_lines(render_calendar("Sal", [], [series]))


def test_an_override_must_share_its_series_uid() -> None:
    stray = replace(WEEKLY_SERIES.overrides[0], uid=booking_uid(99))
    with pytest.raises(ValueError, match="override"):
        render_calendar("Sal", [], [replace(WEEKLY_SERIES, overrides=(stray,))])


# --- requirement 10: other parsers expand to the same occurrences ----------------------


def test_icalendar_and_recurring_ical_events_expand_to_the_expected_occurrences(
    feed: bytes,
) -> None:
    calendar = Calendar.from_ical(feed)
    rows = [
        (str(event["UID"]), event.decoded("DTSTART"), event.decoded("DTEND"))
        for event in recurring_ical_events.of(calendar).between(*WINDOW)
    ]
    assert _as_json_rows(rows) == expected_occurrences()


@pytest.fixture(scope="module")
def ical_js() -> Path:
    """tests/js with ical.js installed (npm install on first use)."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not on PATH: the ical.js cross-check needs `node` and `npm`")
    if not (JS_DIR / "node_modules" / "ical.js").is_dir():
        # No lock file: it would name the registry; package.json pins the exact version.
        npm = ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"]
        installed = subprocess.run(npm, cwd=JS_DIR, capture_output=True, text=True)
        if installed.returncode != 0:
            pytest.fail(f"npm install in tests/js failed:\n{installed.stderr}")
    return JS_DIR


def test_ical_js_expands_to_the_expected_occurrences(feed: bytes, ical_js: Path, tmp_path: Path) -> None:
    assert ical_js_expansion(feed, ical_js, tmp_path, *WINDOW) == expected_occurrences()


# --- requirement 10: the nights the clocks change ----------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "alike"),
    [
        # An ordinary evening, and the evenings before and after the changes.
        (oslo(2027, 3, 10, 18), oslo(2027, 3, 10, 20), True),
        (oslo(2027, 3, 27, 18), oslo(2027, 3, 27, 20), True),
        (oslo(2027, 10, 31, 18), oslo(2027, 10, 31, 20), True),
        # 02:30 on the spring night does not exist; 01:30-02:30 ends in the gap.
        (oslo(2027, 3, 28, 2, 30), oslo(2027, 3, 28, 3, 30), False),
        (oslo(2027, 3, 28, 1, 30), oslo(2027, 3, 28, 2, 30), False),
        # 22:00-08:00 over either night: nine or eleven hours, not ten.
        (oslo(2027, 3, 27, 22), oslo(2027, 3, 28, 8), False),
        (oslo(2027, 10, 30, 22), oslo(2027, 10, 31, 8), False),
        # 02:30 on the autumn night happens twice.
        (oslo(2027, 10, 31, 2, 30), oslo(2027, 10, 31, 3, 30), False),
        (oslo(2027, 10, 31, 0, 30), oslo(2027, 10, 31, 1, 30), True),
    ],
)
def test_reads_alike_is_false_only_for_instances_a_change_touches(start, end, alike) -> None:
    assert reads_alike(start, end, start) is alike
    # The same time of day in another week of a series that starts elsewhere in the year.
    first = start - timedelta(weeks=5)
    assert reads_alike(first, first + (end.replace(tzinfo=None) - start.replace(tzinfo=None)), start) is alike


def test_an_ambiguous_wall_time_is_written_in_utc() -> None:
    summer = datetime(2027, 10, 31, 2, 30, tzinfo=OSLO, fold=0)  # 00:30 UTC
    winter = datetime(2027, 10, 31, 2, 30, tzinfo=OSLO, fold=1)  # 01:30 UTC
    events = [
        replace(SINGLES[0], uid=booking_uid(1), start=summer, end=summer + timedelta(minutes=20)),
        replace(SINGLES[0], uid=booking_uid(2), start=winter, end=winter + timedelta(minutes=30)),
    ]
    lines = content_lines(render_calendar("Sal", events, []))
    assert "DTSTART:20271031T003000Z" in lines and "DTEND:20271031T005000Z" in lines
    assert "DTSTART:20271031T013000Z" in lines
    assert "DTEND;TZID=Europe/Oslo:20271031T030000" in lines  # 03:00 CET exists once
    starts = sorted(event.decoded("DTSTART") for event in Calendar.from_ical("\r\n".join(lines)).events)
    assert starts == [summer.astimezone(UTC), winter.astimezone(UTC)]


def test_exdate_and_recurrence_id_name_the_rules_wall_time_and_a_spanning_master_has_duration() -> None:
    # Daily 22:00-08:00 from the spring night: the first instance is nine hours long, the
    # others ten; the second night's instance is skipped, the third moved.
    first = oslo(2027, 3, 27, 22)
    series = FeedSeries(
        uid=series_uid(9),
        start=first,
        end=oslo(2027, 3, 28, 8),
        rrule="FREQ=DAILY;COUNT=4",
        summary="Overnatting",
        sequence=0,
        last_modified=LAST_CHANGE,
        exdates=(oslo(2027, 3, 28, 22),),
        overrides=(
            FeedEvent(
                uid=series_uid(9),
                start=first,
                end=oslo(2027, 3, 28, 8),
                summary="Overnatting",
                sequence=0,
                last_modified=LAST_CHANGE,
                recurrence_id=first,
            ),
        ),
    )
    lines = content_lines(render_calendar("Sal", [], [series]))
    master = blocks(lines, "VEVENT")[0]
    assert "DURATION:PT10H" in master and not any(line.startswith("DTEND") for line in master)
    assert "EXDATE;TZID=Europe/Oslo:20270328T220000" in lines
    assert "RECURRENCE-ID;TZID=Europe/Oslo:20270327T220000" in lines
    rows = [
        (event.decoded("DTSTART"), event.decoded("DTEND"))
        for event in recurring_ical_events.of(Calendar.from_ical("\r\n".join(lines))).between(*WINDOW_2027)
    ]
    assert sorted(rows) == [
        (first, oslo(2027, 3, 28, 8)),
        (oslo(2027, 3, 29, 22), oslo(2027, 3, 30, 8)),
        (oslo(2027, 3, 30, 22), oslo(2027, 3, 31, 8)),
    ]


WINDOW_2027 = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def test_each_component_is_written_for_what_it_is_now_also_when_remembered():
    """Components are remembered by value: the same component gives the same bytes, a changed
    one its new text, an override changed inside a series the series' new text, and a refused
    component is refused every time."""
    single = FeedEvent(
        uid=booking_uid(9),
        start=oslo(2026, 5, 5, 10),
        end=oslo(2026, 5, 5, 12),
        summary="Styremøte",
        sequence=0,
        last_modified=LAST_CHANGE,
    )
    first = render_calendar("Rom", [single], [WEEKLY_SERIES])
    assert render_calendar("Rom", [single], [WEEKLY_SERIES]) == first
    renamed = replace(single, summary="Årsmøte", sequence=1)
    moved = replace(WEEKLY_SERIES.overrides[0], summary="Konsert")
    changed = render_calendar("Rom", [renamed], [replace(WEEKLY_SERIES, overrides=(moved,))])
    assert b"SUMMARY:" + "Årsmøte".encode() in changed and b"SUMMARY:Styrem" not in changed
    assert b"SUMMARY:Konsert" in changed
    assert changed.count(b"BEGIN:VEVENT") == first.count(b"BEGIN:VEVENT")
    assert render_calendar("Rom", [single], [WEEKLY_SERIES]) == first
    same_instant = replace(single, start=single.start.astimezone(UTC), end=single.end.astimezone(UTC))
    assert render_calendar("Rom", [same_instant], [WEEKLY_SERIES]) == first
    for _ in range(2):
        with pytest.raises(ValueError, match="end must be after start"):
            render_calendar("Rom", [replace(single, end=single.start)], [])


def test_oslo_times_of_the_repeated_hour_are_never_taken_for_each_other():
    """02:30 on the autumn night twice (fold 0 and 1) compare equal in Python but are different
    instants: each is written as itself, whichever was rendered first."""
    first_half_hour = datetime(2026, 10, 25, 2, 30, tzinfo=OSLO, fold=0)  # 00:30Z
    second = first_half_hour.replace(fold=1)  # 01:30Z
    end = oslo(2026, 10, 25, 4)

    def event(start):
        return FeedEvent(
            uid=booking_uid(3), start=start, end=end, summary="Natt", sequence=0, last_modified=LAST_CHANGE
        )

    render_calendar("Rom", [event(first_half_hour)], [])
    assert b"DTSTART:20261025T013000Z" in render_calendar("Rom", [event(second)], [])
    assert b"DTSTART:20261025T003000Z" in render_calendar("Rom", [event(first_half_hour)], [])


def test_a_series_given_lists_is_written_as_with_tuples():
    listed = replace(
        WEEKLY_SERIES, exdates=list(WEEKLY_SERIES.exdates), overrides=list(WEEKLY_SERIES.overrides)
    )
    assert render_calendar("Rom", [], [listed]) == render_calendar("Rom", [], [WEEKLY_SERIES])
