"""Bookings on the nights the clocks change, through the feeds (SPEC §7.10, §7.12).

On the next spring night (02:00-03:00 does not exist) and autumn night (02:00-03:00 happens
twice) after today: single bookings in the repeated hour, in either of its two offsets; a
22:00-08:00 booking over the spring night, alone and as a daily series; a daily 02:30-03:30
series over each night and a weekly Sunday one over both. Every feed that shows them is
expanded by ``icalendar`` + ``recurring-ical-events`` and by Mozilla's ``ical.js`` and must give
exactly the service's own occurrence instants; libical's validator (Debian's ``libical-dev``,
through a few lines of C compiled here) must report nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import recurring_ical_events
from icalendar import Calendar

from booking.extensions import db
from booking.models import Booking
from pricing.weekly import OSLO
from tests.ical_js import ical_js_expansion
from tests.integration import test_feeds
from tests.integration.test_feeds import (
    book,
    content_lines,
    get_feed,
    iso_utc,
    org_feed_path,
    today,
    vevents,
)

ical_js = test_feeds.ical_js  # the fixture: tests/js with ical.js installed

VALIDATOR_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <libical/ical.h>
/* Parse a calendar, run libical's RFC 5545/5546 restriction checks, print every error found. */
static int report(icalcomponent *c) {
  int n = 0;
  for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
       p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY), n++)
    printf("%s: %s\n", icalcomponent_kind_to_string(icalcomponent_isa(c)), icalproperty_get_xlicerror(p));
  for (icalcomponent *s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
       s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
    n += report(s);
  return n;
}
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  char *text = calloc(size + 1, 1);
  if (fread(text, 1, size, f) != (size_t)size) return 2;
  icalcomponent *root = icalparser_parse_string(text);
  if (!root) { puts("not parsed"); return 1; }
  icalrestriction_check(root);
  return report(root) ? 1 : 0;
}
"""


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def next_change_nights() -> tuple[date, date]:
    """The next spring and autumn change nights at least a week away (2027-03-28 and
    2027-10-31 when written), each within the room feeds' 400 days."""
    soon = today() + timedelta(days=7)
    spring = next(last_sunday(y, 3) for y in range(soon.year, soon.year + 2) if last_sunday(y, 3) >= soon)
    autumn = next(last_sunday(y, 10) for y in range(soon.year, soon.year + 2) if last_sunday(y, 10) >= soon)
    return spring, autumn


def wall(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO, fold=fold)


@pytest.fixture
def nights(client, make):
    """The bookings of both nights in four rooms of one building, with the member and
    organisation that made them."""
    spring, autumn = next_change_nights()
    building = make.building(name="Nattbygget")
    rooms = [make.room(building, name=f"Sal {n}", max_advance_days=400) for n in range(4)]
    organization = make.organization(name="Nattkoret")
    member = make.member(organization)

    def one(room, start, end, **extra):
        return book(client, member, room, organization, start, end, title="Nattøving", **extra)

    # The repeated hour of the autumn night, in its first (summer) and second (winter) offset.
    summer = wall(autumn, 2, 30, fold=0)
    winter = wall(autumn, 2, 30, fold=1)
    assert (summer.utcoffset(), winter.utcoffset()) == (timedelta(hours=2), timedelta(hours=1))
    one(rooms[0], summer, summer + timedelta(minutes=20))
    one(rooms[0], winter, winter + timedelta(minutes=30))
    # 22:00-08:00 over the spring night: nine hours, not ten.
    night = spring - timedelta(days=1)
    one(rooms[0], wall(night, 22), wall(spring, 8))
    one(
        rooms[1],
        wall(night - timedelta(days=2), 22),
        wall(night - timedelta(days=1), 8),
        recurrence={"rrule": "FREQ=DAILY;COUNT=5"},
    )
    # Daily 02:30-03:30 over each night, and on every Sunday from one night to the other.
    for change in (spring, autumn):
        first = change - timedelta(days=2)
        one(rooms[2], wall(first, 2, 30), wall(first, 3, 30), recurrence={"rrule": "FREQ=DAILY;COUNT=5"})
    sunday = spring - timedelta(days=7)
    until = (autumn + timedelta(days=7)).strftime("%Y%m%d")
    one(
        rooms[3],
        wall(sunday, 2, 30),
        wall(sunday, 3, 30),
        recurrence={"rrule": f"FREQ=WEEKLY;BYDAY=SU;UNTIL={until}"},
    )
    return building, rooms, organization, member, (spring, autumn)


def service_occurrences(room_ids) -> list[dict[str, str]]:
    """The service's own occurrences of the rooms: every confirmed booking, by the UID it has in
    the feeds."""
    rows = db.session.scalars(
        db.select(Booking).where(Booking.room_id.in_(room_ids), Booking.status == "confirmed")
    ).all()
    return sorted(
        (
            {
                "uid": f"series-{b.series_id}@booking.invalid"
                if b.series_id
                else f"booking-{b.id}@booking.invalid",
                "start": iso_utc(b.start),
                "end": iso_utc(b.end),
            }
            for b in rows
        ),
        key=_key,
    )


def _key(row: dict) -> tuple[str, str, str]:
    return row["start"], row["uid"], row["end"]


WINDOW = (datetime.now(UTC) - timedelta(days=100), datetime.now(UTC) + timedelta(days=410))


def icalendar_occurrences(body: bytes) -> list[dict[str, str]]:
    return sorted(
        (
            {"uid": str(e["UID"]), "start": iso_utc(e.decoded("DTSTART")), "end": iso_utc(e.decoded("DTEND"))}
            for e in recurring_ical_events.of(Calendar.from_ical(body)).between(*WINDOW)
        ),
        key=_key,
    )


def ical_js_occurrences(body: bytes, js_dir: Path, tmp_path: Path) -> list[dict[str, str]]:
    return sorted(ical_js_expansion(body, js_dir, tmp_path, *WINDOW), key=_key)


@pytest.fixture(scope="module")
def libical_validator(tmp_path_factory) -> Path:
    """libical's validator as a small program; skipped where libical-dev or a C compiler is missing."""
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        pytest.skip("the libical check needs gcc and pkg-config")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libical"], capture_output=True, text=True)
    if flags.returncode != 0:
        pytest.skip("the libical check needs libical-dev (apt-get install libical-dev)")
    folder = tmp_path_factory.mktemp("libical")
    (folder / "check.c").write_text(VALIDATOR_SOURCE)
    program = folder / "check"
    built = subprocess.run(
        ["gcc", str(folder / "check.c"), "-o", str(program), *flags.stdout.split()],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return program


def libical_errors(program: Path, body: bytes, tmp_path: Path) -> str:
    path = tmp_path / "validate.ics"
    path.write_bytes(body)
    result = subprocess.run([str(program), str(path)], capture_output=True, text=True)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_every_reader_gets_the_service_instants_on_both_change_nights(
    client, nights, ical_js, libical_validator, tmp_path
):
    building, rooms, organization, member, _ = nights
    expected = service_occurrences([room.id for room in rooms])
    assert len(expected) == 2 + 1 + 5 + 5 + 5 + 34  # the nights' bookings, as the service made them
    paths = [f"/feeds/rooms/{room.id}.ics" for room in rooms] + [org_feed_path(client, member, organization)]
    for path in paths:
        body = get_feed(client, path).data
        shown = {row["uid"] for row in icalendar_occurrences(body)}
        wanted = [row for row in expected if row["uid"] in shown]
        assert wanted, path
        assert icalendar_occurrences(body) == wanted, path
        assert ical_js_occurrences(body, ical_js, tmp_path) == wanted, path
        assert libical_errors(libical_validator, body, tmp_path) == "", path
    # Between them, the feeds show every occurrence.
    every = [row for path in paths for row in icalendar_occurrences(get_feed(client, path).data)]
    assert {tuple(row.values()) for row in every} == {tuple(row.values()) for row in expected}


def test_ambiguous_wall_times_are_written_in_utc_and_the_rest_in_oslo_time(client, nights):
    _, rooms, _, _, (spring, autumn) = nights
    lines = content_lines(get_feed(client, f"/feeds/rooms/{rooms[0].id}.ics").data)
    times = [line for line in lines if line.startswith(("DTSTART", "DTEND"))]
    # 02:30 CEST = 00:30 UTC and 02:30 CET = 01:30 UTC; both ends are in the repeated hour too.
    day = autumn.strftime("%Y%m%d")
    assert {f"DTSTART:{day}T003000Z", f"DTEND:{day}T005000Z", f"DTSTART:{day}T013000Z"} <= set(times)
    assert f"DTEND;TZID=Europe/Oslo:{day}T030000" in times  # 03:00 CET exists once
    night = (spring - timedelta(days=1)).strftime("%Y%m%d")
    assert f"DTSTART;TZID=Europe/Oslo:{night}T220000" in times
    assert f"DTEND;TZID=Europe/Oslo:{spring.strftime('%Y%m%d')}T080000" in times
    utc_times = [line for line in times if line.endswith("Z")]
    assert len(utc_times) == 3  # nothing else leaves Oslo time


def test_series_over_a_change_get_overrides_only_for_the_instances_readers_disagree_on(client, nights):
    _, rooms, _, _, (spring, autumn) = nights
    body = get_feed(client, f"/feeds/rooms/{rooms[2].id}.ics").data
    overrides = {}
    for vevent in vevents(body):
        recurrence_id = next((line for line in vevent if line.startswith("RECURRENCE-ID")), None)
        if recurrence_id:
            overrides[recurrence_id] = [line for line in vevent if line.startswith(("DTSTART", "DTEND"))]
    # The daily 02:30-03:30 series: on the spring night 02:30 does not exist (the service holds
    # 03:30-04:30 CEST); on the autumn night 02:30 is the first one (CEST) and 03:30 is CET.
    gap = spring.strftime("%Y%m%d")
    twice = autumn.strftime("%Y%m%d")
    assert overrides == {
        f"RECURRENCE-ID;TZID=Europe/Oslo:{gap}T023000": [
            f"DTSTART;TZID=Europe/Oslo:{gap}T033000",
            f"DTEND;TZID=Europe/Oslo:{gap}T043000",
        ],
        f"RECURRENCE-ID;TZID=Europe/Oslo:{twice}T023000": [
            f"DTSTART:{twice}T003000Z",
            f"DTEND;TZID=Europe/Oslo:{twice}T033000",
        ],
    }


def test_a_master_whose_first_instance_spans_the_change_lends_its_wall_clock_length(
    client, make, ical_js, tmp_path
):
    spring, _ = next_change_nights()
    room = make.room(name="Sovesal", max_advance_days=400)
    organization = make.organization()
    member = make.member(organization)
    night = spring - timedelta(days=1)
    book(
        client,
        member,
        room,
        organization,
        wall(night, 22),
        wall(spring, 8),
        title="Overnatting",
        recurrence={"rrule": "FREQ=DAILY;COUNT=3"},
    )
    body = get_feed(client, f"/feeds/rooms/{room.id}.ics").data
    master = next(v for v in vevents(body) if any(line.startswith("RRULE") for line in v))
    assert "DURATION:PT10H" in master and not any(line.startswith("DTEND") for line in master)
    expected = service_occurrences([room.id])
    assert [row["end"] for row in expected][:2] == [
        iso_utc(wall(spring, 8)),
        iso_utc(wall(spring + timedelta(days=1), 8)),
    ]
    assert icalendar_occurrences(body) == expected
    assert ical_js_occurrences(body, ical_js, tmp_path) == expected
