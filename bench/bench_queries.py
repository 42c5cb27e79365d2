"""Benchmarks 2–4, in-process against a seeded database.

2. Conflict check: ``find_blocking`` (the query every booking create runs) for random rooms and
   slots, on a database of about 10,000 occurrences and on one of about 1,000,000.
3. Availability: room search over all rooms for a two-hour slot (``free_from``/``free_to``,
   ``page_size=500``) and a room's week (``/rooms/{id}/availability``), through the app.
4. The janitor's day schedule of the 40-room building and a member's own booking list, through
   the app with the seeded tokens.

Each request's SQL statements are counted with an engine listener.
"""

from __future__ import annotations

import functools
import random
from datetime import datetime, time, timedelta

from bench.common import StatementCounter, Timings, append_report, time_calls
from bench.seed import token_for
from booking.config import normalize_database_url
from pricing import OSLO

_open_apps: list = []


def _app(url: str):
    """An app on ``url``; its connections are closed when the benchmark function returns."""
    from booking import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalize_database_url(url),
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        }
    )
    _open_apps.append(app)
    return app


def _closing_apps(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            from booking.extensions import db

            while _open_apps:
                with _open_apps.pop().app_context():
                    db.session.remove()
                    db.engine.dispose()

    return wrapper


@_closing_apps
def conflict_check(url: str, repeat: int = 500, seed: int = 3) -> tuple[Timings, int, int]:
    """Timings of ``find_blocking`` for a random room and a random future two-hour slot; the
    number of occurrences in the database; statements per check."""
    from sqlalchemy import func, select

    from booking.extensions import db
    from booking.models import Booking, Room
    from booking.services.bookings import find_blocking

    app = _app(url)
    rng = random.Random(seed)
    with app.app_context():
        occurrences = db.session.scalar(select(func.count()).select_from(Booking))
        rooms = list(db.session.execute(select(Room)).scalars())
        for room in rooms:
            room.unit_ids  # noqa: B018 - load the units once, as a create request has them
        today = datetime.now(OSLO).date()

        def check():
            room = rng.choice(rooms)
            day = today + timedelta(days=rng.randint(1, 300))
            start = datetime.combine(day, time(rng.choice((8, 10, 12, 14, 16, 18, 20))), OSLO)
            find_blocking(room, [(start, start + timedelta(hours=2))])

        timings = time_calls(check, repeat, warmup=repeat)  # a warm cache, as in service
        with StatementCounter(db.engine) as counter:
            check()
        db.session.rollback()
    return timings, occurrences, counter.count


def _through_app(app, requests: list[tuple[str, dict]], repeat: int) -> tuple[Timings, int, int]:
    """Time GET requests (path, headers) round-robin; statements of the first; response size."""
    from booking.extensions import db

    client = app.test_client()
    sizes = []
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as counter:
        response = client.get(requests[0][0], headers=requests[0][1])
        assert response.status_code == 200, (requests[0][0], response.status_code, response.get_data()[:300])
        sizes.append(len(response.get_data()))
    statements = counter.count
    position = {"i": 0}

    def call():
        path, headers = requests[position["i"] % len(requests)]
        position["i"] += 1
        result = client.get(path, headers=headers)
        assert result.status_code == 200, (path, result.status_code)

    return time_calls(call, repeat, warmup=10), statements, sizes[0]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+", "%2B")


@_closing_apps
def availability(url: str, repeat: int = 50, seed: int = 5) -> dict:
    app = _app(url)
    rng = random.Random(seed)
    today = datetime.now(OSLO).date()
    searches, full_searches, weeks = [], [], []
    with app.app_context():
        from sqlalchemy import func, select

        from booking.extensions import db
        from booking.models import Room

        room_count = db.session.scalar(select(func.count()).select_from(Room))
        room_ids = list(db.session.scalars(select(Room.id)))
    for _ in range(20):
        day = today + timedelta(days=rng.randint(1, 200))
        start = datetime.combine(day, time(rng.choice((10, 14, 18))), OSLO)
        search = f"/api/v1/rooms?free_from={_iso(start)}&free_to={_iso(start + timedelta(hours=2))}"
        searches.append((search, {}))
        full_searches.append((search + "&page_size=500", {}))
        monday = day - timedelta(days=day.weekday())
        week_start = datetime.combine(monday, time(0), OSLO)
        weeks.append(
            (
                f"/api/v1/rooms/{rng.choice(room_ids)}/availability?from={_iso(week_start)}"
                f"&to={_iso(week_start + timedelta(days=7))}",
                {},
            )
        )
    search = _through_app(app, searches, repeat)
    full_search = _through_app(app, full_searches, repeat)
    week = _through_app(app, weeks, repeat)
    return {"rooms": room_count, "search": search, "full_search": full_search, "week": week}


@_closing_apps
def schedule_and_list(url: str, repeat: int = 50, seed: int = 9) -> dict:
    app = _app(url)
    rng = random.Random(seed)
    today = datetime.now(OSLO).date()
    with app.app_context():
        from sqlalchemy import func, select

        from booking.extensions import db
        from booking.models import Booking, Building, Room

        buildings = db.session.scalar(select(func.count()).select_from(Building))
        big_rooms = db.session.scalar(select(func.count()).select_from(Room).where(Room.building_id == 1))
        top_org, org_bookings = db.session.execute(
            select(Booking.organization_id, func.count())
            .group_by(Booking.organization_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        day_bookings = []
    janitor = {"Authorization": f"Bearer {token_for(2)}"}  # user 2 is the janitor of building 1
    member = {"Authorization": f"Bearer {token_for(1 + buildings + top_org)}"}
    days = [today + timedelta(days=rng.randint(1, 120)) for _ in range(20)]
    days = [d for d in days if d.weekday() < 5] or days
    schedule = _through_app(
        app, [(f"/api/v1/buildings/1/schedule?date={d.isoformat()}", janitor) for d in days], repeat
    )
    with app.app_context():
        from booking.extensions import db
        from booking.services.access import Actor
        from booking.services.schedule import day_schedule

        day_bookings = len(day_schedule(Actor(user_id=1, role="admin"), 1, days[0]).entries)
    listing = _through_app(
        app,
        [
            ("/api/v1/bookings?from=" + _iso(datetime.combine(today, time(0), OSLO)), member),
            ("/api/v1/bookings", member),
        ],
        repeat,
    )
    return {
        "big_rooms": big_rooms,
        "day_bookings": day_bookings,
        "org_bookings": org_bookings,
        "schedule": schedule,
        "list": listing,
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run_conflict(
    small_url: str,
    large_url: str,
    repeat: int = 500,
    report: bool = True,
    command: str = "python -m bench conflict",
) -> dict:
    small, small_n, small_q = conflict_check(small_url, repeat)
    large, large_n, large_q = conflict_check(large_url, repeat)
    ratio = large.median / small.median if small.median else 0.0
    lines = [
        f"- {small_n:,} occurrences: {small.summary()}, {small_q} statement(s) per check",
        f"- {large_n:,} occurrences: {large.summary()}, {large_q} statement(s) per check",
        f"- **(2) median at {large_n:,} / median at {small_n:,}: {ratio:.2f}×** (goal ≤ 2×): "
        f"{_verdict(ratio <= 2)}",
    ]
    append_report("Conflict check in-process (find_blocking)", large_url, lines, command, save=report)
    return {"small_ms": small.median, "large_ms": large.median, "ratio": ratio}


def run_availability(
    url: str, repeat: int = 50, report: bool = True, command: str = "python -m bench availability"
) -> dict:
    result = availability(url, repeat)
    search, search_q, search_bytes = result["search"]
    week, week_q, week_bytes = result["week"]
    full, full_q, full_bytes = result["full_search"]
    lines = [
        f"- room search over all {result['rooms']} rooms, 2-hour slot, first page (50 rooms): "
        f"{search.summary()}, "
        f"{search_q} statements, {search_bytes:,} bytes",
        f"- the same search with page_size=500 (every free room in one answer): {full.summary()}, "
        f"{full_q} statements, {full_bytes:,} bytes",
        f"- one room's week (busy and free): {week.summary()}, {week_q} statements, {week_bytes:,} bytes",
        f"- **(3) search median {search.median:.1f} ms, p95 {search.p(95):.1f} ms; "
        f"week median {week.median:.1f} ms, "
        f"p95 {week.p(95):.1f} ms** (goal < 50 ms): {_verdict(search.median < 50 and week.median < 50)}",
    ]
    append_report("Availability: room search and a room's week", url, lines, command, save=report)
    return {
        "search_ms": search.median,
        "search_statements": search_q,
        "week_ms": week.median,
        "week_statements": week_q,
    }


def run_schedule(
    url: str, repeat: int = 50, report: bool = True, command: str = "python -m bench schedule"
) -> dict:
    result = schedule_and_list(url, repeat)
    schedule, schedule_q, schedule_bytes = result["schedule"]
    listing, list_q, list_bytes = result["list"]
    lines = [
        f"- janitor day schedule, building of {result['big_rooms']} rooms "
        f"(~{result['day_bookings']} bookings a "
        f"day): {schedule.summary()}, {schedule_q} statements, {schedule_bytes:,} bytes",
        f"- member's own booking list (organisation with {result['org_bookings']:,} bookings, "
        "first page of 50): "
        f"{listing.summary()}, {list_q} statements, {list_bytes:,} bytes",
        f"- **(4) schedule median {schedule.median:.1f} ms, list median {listing.median:.1f} ms** "
        "(goal < 50 ms): "
        f"{_verdict(schedule.median < 50 and listing.median < 50)}",
    ]
    append_report("Janitor day schedule and a member's booking list", url, lines, command, save=report)
    return {
        "schedule_ms": schedule.median,
        "schedule_statements": schedule_q,
        "list_ms": listing.median,
        "list_statements": list_q,
    }
