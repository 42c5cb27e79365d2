"""Benchmark of the iCal feeds: a busy room's year, rendered cold and revalidated (304).

    .venv/bin/python bench/bench_feeds.py                      # SQLite in a temporary folder
    .venv/bin/python bench/bench_feeds.py --database-url postgresql://user@127.0.0.1:5432/booking_bench_feeds
    .venv/bin/python bench/bench_feeds.py --append             # also append the results to BENCHMARKS.md

One room gets about 2,000 confirmed occurrences in the coming year, written through the booking
service (so the rows, series, skipped dates and change markers are what production makes): 35
weekly series (five two-hour slots on every day of the week, some skipping single bookings that were
there first), 180 single bookings, and edits: cancelled, moved and retitled occurrences that
become EXDATEs and RECURRENCE-ID overrides. Then, timed in-process through the Flask test client
(no network):

* ``cold``: ``GET /feeds/rooms/{id}.ics`` without validators: marker query, feed data (name,
  bookings, rooms, organisations, series), expanding the series' rules, building the components
  and rendering them, every time (the memo of rule expansions is cleared before each run);
* ``bare``: the same components serialised with ``icalendar`` directly, the way a plain
  implementation would (one ``Event`` per component, ``Calendar.to_ical()``), no database;
* ``render`` and ``load``: the two halves of ``cold``, for where the time goes;
* ``per-occurrence``: ``icalendar`` writing every occurrence as its own VEVENT (no RRULE), what a
  feed without series would cost;
* ``304``: the same GET with ``If-None-Match``: one marker query, no rendering.

The goal is ``cold / bare <= 1.5`` and a 304 in a few milliseconds. The PostgreSQL database is
emptied first; the script refuses a database whose name does not contain ``bench``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icalendar import Calendar, Event, vRecur
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from booking import create_app  # noqa: E402
from booking.config import normalize_database_url  # noqa: E402
from booking.domain.organizations import synthetic_org_number  # noqa: E402
from booking.extensions import db  # noqa: E402
from booking.feeds import service  # noqa: E402
from booking.feeds.ical import render_calendar  # noqa: E402
from booking.services import bookings  # noqa: E402
from booking.services.access import Actor  # noqa: E402
from pricing.weekly import OSLO  # noqa: E402

SLOTS = ((8, 10), (10, 12), (14, 16), (16, 18), (18, 20))
WEEKS = 52


# --- data ------------------------------------------------------------------------------------


def reset(url: str) -> None:
    if url.startswith("sqlite"):
        return
    name = make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to empty database {name!r}: its name must contain 'bench'")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def seed() -> int:
    """The busy room; returns its id. Every write goes through the booking service."""
    from booking.services.buildings import create_building
    from booking.services.organizations import register_organization, update_organization
    from booking.services.rooms import create_room
    from booking.services.users import add_user

    admin_user = add_user(
        {"email": "admin@bench.test", "name": "Admin", "role": "admin", "password": "x" * 12}
    )
    db.session.flush()
    actor = Actor(user_id=admin_user.id, role="admin")
    building = create_building(
        actor,
        {
            "name": "Kulturhuset",
            "address": "Storgata 1",
            "staffed_hours": [],
            "opening_hours": [],
            "closures": [],
        },
    )
    room = create_room(
        actor,
        {
            "building_id": building.id,
            "name": "Storsalen",
            "kind": "hall",
            "capacity": 200,
            "max_advance_days": 400,
            "min_duration_minutes": 15,
        },
    )
    organizations = []
    for n in range(10):
        org = register_organization(
            Actor(),
            {
                "name": f"Forening {n}, avd. Sandvika",
                "org_number": _org_number(n),
                "contact_name": "Kontakt",
                "email": f"org{n}@bench.test",
                "phone": "+47 400 00 000",
                "voluntary": True,
                "local": True,
            },
        )
        update_organization(actor, org.id, {"verified": True})
        organizations.append(org)
    db.session.commit()

    first = datetime.now(OSLO).date() + timedelta(days=8)
    first -= timedelta(days=first.weekday())  # a Monday
    for n in range(180):  # singles: lunch hours, and 30 inside series slots (those dates are skipped)
        day = first + timedelta(days=2 * n)
        hour = (12, 13) if n % 6 else SLOTS[n % 5]
        _book(actor, room, organizations[n % 10], f"Møte {n}", local(day, hour[0]), local(day, hour[1]))
    series = []
    for weekday in range(7):
        for index, (start_hour, end_hour) in enumerate(SLOTS):
            day = first + timedelta(days=weekday)
            created = _book(
                actor,
                room,
                organizations[(weekday + index) % 10],
                f"Øving {weekday}-{index}",
                local(day, start_hour),
                local(day, end_hour),
                public_title=bool(index % 2),
                recurrence={"rrule": f"FREQ=WEEKLY;COUNT={WEEKS}"},
                on_conflict="skip",
            )
            series.append(created)
    db.session.commit()
    occurrences = [b for s in series for b in s.occurrences]
    for n, booking in enumerate(occurrences):
        if n % 45 == 7:
            bookings.cancel_booking(actor, booking.id, "Avlyst")
        elif n % 90 == 20:
            day = booking.start.astimezone(OSLO).date()
            bookings.update_booking(
                actor,
                booking.id,
                bookings.ChangeRequest(**{"start": local(day, 7), "end": local(day, 8)}),
                None,
            )
        elif n % 45 == 30:
            bookings.update_booking(
                actor,
                booking.id,
                bookings.ChangeRequest(**{"title": f"Ekstra {n}", "public_title": True}),
                None,
            )
    db.session.commit()
    return room.id


def _book(actor, room, organization, title, start, end, **extra):
    data = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": title,
        "start": start,
        "end": end,
        "attendees": 10,
        "notes": "",
        **extra,
    }
    return bookings.create_booking(actor, bookings.BookingRequest.from_input(data))


def _org_number(n: int) -> str:
    return synthetic_org_number(70_000_000, n)


# --- the plain icalendar baselines ------------------------------------------------------------


def bare_icalendar(name: str, events, series) -> bytes:
    """The same components written with icalendar's own API and nothing else."""
    calendar = Calendar()
    calendar.add("prodid", "-//bench//bare icalendar//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for item in series:
        vevent = _bare_event(item)
        vevent.add("rrule", vRecur.from_ical(item.rrule))
        if item.exdates:
            vevent.add("exdate", [moment.astimezone(OSLO) for moment in item.exdates])
        calendar.add_component(vevent)
        for override in item.overrides:
            calendar.add_component(_bare_event(override))
    for item in events:
        calendar.add_component(_bare_event(item))
    return calendar.to_ical()


def _bare_event(item) -> Event:
    vevent = Event()
    vevent.add("uid", item.uid)
    vevent.add("dtstamp", item.last_modified)
    vevent.add("last-modified", item.last_modified)
    vevent.add("sequence", item.sequence)
    vevent.add("dtstart", item.start.astimezone(OSLO))
    vevent.add("dtend", item.end.astimezone(OSLO))
    vevent.add("summary", item.summary)
    vevent.add("status", item.status)
    if item.description:
        vevent.add("description", item.description)
    if item.location:
        vevent.add("location", item.location)
    if getattr(item, "recurrence_id", None) is not None:
        vevent.add("recurrence-id", item.recurrence_id.astimezone(OSLO))
    return vevent


def per_occurrence_icalendar(name: str, rows) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//bench//per occurrence//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for uid, start, end, summary, stamp in rows:
        vevent = Event()
        vevent.add("uid", uid)
        vevent.add("dtstamp", stamp)
        vevent.add("dtstart", start.astimezone(OSLO))
        vevent.add("dtend", end.astimezone(OSLO))
        vevent.add("summary", summary)
        calendar.add_component(vevent)
    return calendar.to_ical()


# --- timing ----------------------------------------------------------------------------------


def timed(action, repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` runs, after one warm-up run."""
    action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{model}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def run(url: str, repeat: int, repeat_304: int) -> dict:
    reset(url)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "BOOKING_PUBLIC_URL": "http://bench.test"}
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        started = time.perf_counter()
        room_id = seed()
        seeded = time.perf_counter() - started
        database = (
            f"{db.engine.dialect.name} {'.'.join(map(str, db.engine.dialect.server_version_info or ()))}"
        )
        client = app.test_client()
        path = f"/feeds/rooms/{room_id}.ics"

        db.session.remove()
        started = time.perf_counter()
        first = client.get(path)
        first_ms = (time.perf_counter() - started) * 1000
        assert first.status_code == 200, first.get_data(as_text=True)
        body = first.data
        etag = first.headers["ETag"]

        feed = service.room_feed(room_id)
        name = service.feed_name(feed)
        events, series = service.feed_components(feed)
        confirmed = db.session.execute(
            text("SELECT count(*) FROM bookings WHERE room_id = :r AND status = 'confirmed'"), {"r": room_id}
        ).scalar()
        rows = db.session.execute(
            text(
                'SELECT id, start, "end", title, updated_at FROM bookings'
                " WHERE room_id = :r AND status = 'confirmed'"
            ),
            {"r": room_id},
        ).all()
        occurrence_rows = [
            (f"booking-{r.id}@bench", _aware(r.start), _aware(r.end), r.title, _aware(r.updated_at))
            for r in rows
        ]
        db.session.remove()

        def cold():
            service.rule_instances.cache_clear()  # nothing kept from earlier requests
            response = client.get(path)
            assert response.status_code == 200

        def warm():
            response = client.get(path)  # series' rule expansions memoised, as after a change
            assert response.status_code == 200

        def revalidate():
            response = client.get(path, headers={"If-None-Match": etag})
            assert response.status_code == 304

        def load():
            service.rule_instances.cache_clear()
            service.feed_components(service.room_feed(room_id))
            db.session.remove()

        results = {
            "cold": summary(timed(cold, repeat)),
            "warm": summary(timed(warm, repeat)),
            "bare": summary(timed(lambda: bare_icalendar(name, events, series), repeat)),
            "render": summary(timed(lambda: render_calendar(name, events, series), repeat)),
            "load": summary(timed(load, repeat)),
            "per_occurrence": summary(
                timed(lambda: per_occurrence_icalendar(name, occurrence_rows), max(3, repeat // 4))
            ),
            "304": summary(timed(revalidate, repeat_304)),
        }
    return {
        "database": database,
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "confirmed": confirmed,
        "series": len(series),
        "overrides": sum(len(s.overrides) for s in series),
        "exdates": sum(len(s.exdates) for s in series),
        "singles": len(events),
        "bytes": len(body),
        "first_ms": first_ms,
        "seed_s": seeded,
        "results": results,
        "ratio": results["cold"]["median"] / results["bare"]["median"],
    }


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def report(outcome: dict) -> str:
    r = outcome["results"]
    lines = [
        f"### {outcome['date']}, {outcome['database']}",
        "",
        f"Machine: {outcome['machine']}. Room feed: {outcome['confirmed']} confirmed occurrences in "
        f"{outcome['series']} series ({outcome['exdates']} EXDATEs, {outcome['overrides']} overrides) and "
        f"{outcome['singles']} single bookings; {outcome['bytes']:,} bytes. Medians (p95) in ms.",
        "",
        "| measurement | median | p95 |",
        "|---|---:|---:|",
        f"| cold `GET`: markers, load, expand, render | {r['cold']['median']:.1f} | {r['cold']['p95']:.1f} |",
        f"| bare `icalendar` serialization of the same components | {r['bare']['median']:.1f} | "
        f"{r['bare']['p95']:.1f} |",
        f"| `GET` again, series rules' expansions memoised | {r['warm']['median']:.1f} | "
        f"{r['warm']['p95']:.1f} |",
        f"| of which: loading the feed data (5 queries, rules expanded) | {r['load']['median']:.1f} | "
        f"{r['load']['p95']:.1f} |",
        f"| of which: `render_calendar` of the components | {r['render']['median']:.1f} | "
        f"{r['render']['p95']:.1f} |",
        f"| `icalendar`, every occurrence its own VEVENT | {r['per_occurrence']['median']:.1f} | "
        f"{r['per_occurrence']['p95']:.1f} |",
        f"| `304` revalidation (`If-None-Match`) | {r['304']['median']:.2f} | {r['304']['p95']:.2f} |",
        "",
        f"**Cold / bare = {outcome['ratio']:.2f}** (goal ≤ 1.5). The very first request after start-up took "
        f"{outcome['first_ms']:.0f} ms.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL of a database whose name contains 'bench' "
        "(emptied first); default: SQLite in a temporary folder",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per measurement (default 30)")
    parser.add_argument("--repeat-304", type=int, default=300, help="timed 304 requests (default 300)")
    parser.add_argument("--append", action="store_true", help="append the results to BENCHMARKS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = (
            normalize_database_url(args.database_url)
            if args.database_url
            else f"sqlite:///{folder}/bench.sqlite"
        )
        outcome = run(url, args.repeat, args.repeat_304)
    text_ = report(outcome)
    print(text_)
    if args.append:
        append_results(ROOT / "BENCHMARKS.md", text_)
    return 0


SECTION = "## iCal feeds (`bench/bench_feeds.py`)"


def append_results(path: Path, results: str) -> None:
    """Add the results at the end of this benchmark's section of BENCHMARKS.md (made if missing)."""
    document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION not in document:
        document = (
            document.rstrip("\n")
            + f"\n\n{SECTION}\n\nRun: `.venv/bin/python bench/bench_feeds.py --append`.\n"
        )
    start = document.index(SECTION) + len(SECTION)
    following = document.find("\n## ", start)
    end = len(document) if following == -1 else following + 1
    section = document[:end].rstrip("\n") + "\n\n" + results.rstrip("\n") + "\n"
    path.write_text(section + ("\n" + document[end:] if following != -1 else ""), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
