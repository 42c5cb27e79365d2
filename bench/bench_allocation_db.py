"""``python -m bench allocation-db``: the seasonal allocation of SPEC §14 through the database,
``allocate_round`` of ``booking.services.rounds``, against the pure ``allocate`` on the same facts.

Its own database (``--url``; reset and migrated, the name must contain ``bench``), PostgreSQL by
default or a SQLite file, seeded with bulk inserts (COPY on PostgreSQL, ``executemany`` on
SQLite, straight into the migrated schema; the database's triggers derive the occupancy):
- ``--rooms`` rooms (500) in buildings of 3 to 14 rooms, every third building with a divisible
  gym (the whole gym and its two halves, sharing units); every sixth building a sports hall
  open weekdays 16:00-23:00 and weekends 09:00-18:00, the rest open 07:00-23:00 every day;
  changeovers of 0 to 30 minutes, some rooms with a shortest (60) or longest (240 min) booking.
- Bookings in the round's ``--weeks`` (15) week season and in the season before it: 0-3 weekly
  series per room (one booking per week, as the service stores them) and 0-8 single bookings per
  room and season, 60 or 90 minutes in two-hour slots, 3 % cancelled; the schools closed for the
  winter break (week 8), which no booking uses; public holidays in the season (Easter).
- Verified organisations with 1-5 applications each (ranked), ``--applications`` (2,000) in all
  with three wishes each, demand skewed to a third of the rooms and weekday evenings (wish 2 the
  same room another weekday, wish 3 a room of the same building); about 25 % class 1, 35 %
  class 2, 40 % class 3.
- The round (window closed, not allocated) over every room, and the published round before it
  over the same rooms, in which about 15 % of the applications' organisations held (accepted)
  the time of their first wish: continuity.

Measured in one process, in an app context per run like a request's: ``allocate_round`` with its
COMMIT (the first run, then the median of ``--repeat`` more; each replaces the previous
result, as an admin's repeated allocation before publication does), the SQL statements it
sends (an engine listener) and the time spent inside them; beside it, the baseline: ``allocate``
alone on the same facts, read with the service's own readers (their private helpers, so the
input is exactly the service's; each reader timed alone as well), median of ``--repeat``. The
results of both are compared. The same is run at a smaller size first (``--small-applications``
over ``--small-rooms``): the statement count must not grow with the round.
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench.common import StatementCounter, append_to_part, database_label, machine
from bench.seed import (
    KINDS,
    SLOT_HOURS,
    WORDS,
    QuoteCache,
    Rows,
    _utc,
    check_target,
    reset_and_migrate,
    write,
)
from booking.domain.organizations import synthetic_org_number
from booking.domain.timeslots import occupied_until
from booking.services.rooms import FIELDS as ROOM_FIELDS

SEASON_START = date(2027, 1, 4)  # a Monday
ROUND_ID, PREVIOUS_ROUND_ID = 2, 1
ADMIN_USER = 1
EVENING_STARTS = (17 * 60, 17 * 60 + 30, 18 * 60, 18 * 60 + 30, 19 * 60, 20 * 60)
EVERY_DAY = [
    {"day": d, "start": "07:00", "end": "23:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]
HALL_HOURS = [{"day": d, "start": "16:00", "end": "23:00"} for d in ("mon", "tue", "wed", "thu", "fri")] + [
    {"day": d, "start": "09:00", "end": "18:00"} for d in ("sat", "sun")
]
TABLES = (  # in the order they are written
    "users",
    "buildings",
    "building_closures",
    "rooms",
    "room_parts",
    "room_units",
    "organizations",
    "rounds",
    "round_rooms",
    "applications",
    "application_wishes",
    "allocations",
    "series",
    "bookings",
)
HEADING = "### Seasonal allocation (SPEC §14)"
MARKER = "`python -m bench allocation-db`"
INTRODUCTION = f"""\
Through the database ({MARKER}, `bench/bench_allocation_db.py`): a
round of the same shape seeded into a database of its own (rooms in buildings with divisible
gyms, closures, weekly series and single bookings in the season and the one before, verified
organisations with 1-5 applications, the previous round's accepted times for continuity), then
`allocate_round` of `booking/services/rounds.py` in an app context with its COMMIT (the first
run, then the median of a few more: it is repeatable until published), the SQL statements it
sends, and, side by side, `allocate` alone on the same facts (the baseline: the ratio is what
reading, projecting and writing cost). Run at two sizes: the statement count must not grow with
applications × weeks."""


@dataclass
class Seeded:
    rooms: int
    divisible: int
    buildings: int
    organizations: int
    applications: int
    occurrences: int  # bookings seeded, both seasons
    continuity_offers: int  # accepted times of the previous round
    seconds: float


# --- the data --------------------------------------------------------------------------------


def _buildings(rnd: random.Random, rooms: int) -> list[dict]:
    """Buildings with their rooms' shapes, until ``rooms`` rooms."""
    buildings: list[dict] = []
    count = 0
    while count < rooms:
        number = len(buildings) + 1
        hall = number % 6 == 0
        divisible = (hall or number % 3 == 0) and rooms - count >= 3
        plain = 0 if hall else rnd.randint(3, 14) - (3 if divisible else 0)
        plain = max(0, min(plain, rooms - count - (3 if divisible else 0)))
        if not divisible and not plain:
            plain = rooms - count
        buildings.append({"id": number, "hall": hall, "divisible": divisible, "plain": plain})
        count += plain + (3 if divisible else 0)
    return buildings


def generate(*, applications: int, rooms: int, weeks: int, seed: int) -> tuple[Rows, Seeded]:
    """Every row of the bench round (deterministic for the same arguments)."""
    rnd = random.Random(seed)
    rows = Rows()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    season_end = SEASON_START + timedelta(weeks=weeks) - timedelta(days=1)
    previous_start = SEASON_START - timedelta(weeks=weeks + 1)
    previous_end = previous_start + timedelta(weeks=weeks) - timedelta(days=1)
    winter_break = (SEASON_START + timedelta(weeks=7), SEASON_START + timedelta(weeks=7, days=6))

    rows.add(
        "users",
        ["id", "email", "name", "role", "password_hash", "active", "created_at"],
        (ADMIN_USER, "admin@bench.test", "admin", "admin", "!no-login", True, created),
    )

    # buildings, closures, rooms and their units
    room_cols = ["id", "building_id", *ROOM_FIELDS, "created_at", "updated_at"]
    building_cols = ["id", "name", "address", "staffed_hours", "opening_hours", "created_at", "updated_at"]
    room_list: list[dict] = []
    units: dict[int, tuple[int, ...]] = {}
    building_rooms: dict[int, list[int]] = {}
    closed: dict[int, tuple[date, date]] = {}
    kinds, weights = list(KINDS), [k[3] for k in KINDS]

    def add_room(building: int, name: str, kind: str, capacity: int, buffer: int, parts=()) -> int:
        room_id = len(room_list) + 1
        values = {
            "name": name,
            "kind": kind,
            "capacity": capacity,
            "equipment": "[]",
            "accessible": True,
            "description": "",
            "price_group": kind,
            "requires_approval": False,
            "supervision": "outside_staffed_hours",
            "buffer_minutes": buffer,
            "min_duration_minutes": rnd.choice((30, 30, 60)),
            "max_duration_minutes": rnd.choice((720, 720, 240)),
            "min_notice_hours": 0,
            "max_advance_days": 365,
            "active": True,
        }
        rows.add("rooms", room_cols, (room_id, building, *(values[f] for f in ROOM_FIELDS), created, created))
        room_list.append(
            {"id": room_id, "building": building, "kind": kind, "buffer": buffer, "capacity": capacity}
        )
        units[room_id] = tuple(parts) or (room_id,)
        building_rooms.setdefault(building, []).append(room_id)
        return room_id

    buildings = _buildings(rnd, rooms)
    for b in buildings:
        kind = "flerbrukshall" if b["hall"] else ("skole", "kulturhus", "bibliotek")[b["id"] % 3]
        rows.add(
            "buildings",
            building_cols,
            (
                b["id"],
                f"{WORDS[b['id'] % len(WORDS)]} {kind} {b['id']}",
                f"Skoleveien {b['id']}, 13{b['id'] % 100:02d} Bærum",
                "[]",
                json.dumps(HALL_HOURS if b["hall"] else EVERY_DAY),
                created,
                created,
            ),
        )
        if not b["hall"]:
            closed[b["id"]] = winter_break
            rows.add(
                "building_closures",
                ["id", "building_id", "start_date", "end_date", "reason"],
                (len(closed), b["id"], *winter_break, "Vinterferie"),
            )
        if b["divisible"]:
            buffer = rnd.choice((0, 15))
            halves = [add_room(b["id"], f"Gymsal {x}", "gym", 60, buffer) for x in ("A", "B")]
            whole = add_room(b["id"], "Gymsal A+B", "gym", 120, buffer, parts=halves)
            for half in halves:
                rows.add("room_parts", ["room_id", "part_id"], (whole, half))
        for i in range(b["plain"]):
            kind, (low, high), _, _ = rnd.choices(kinds, weights)[0]
            add_room(
                b["id"],
                f"{kind.replace('_', ' ').capitalize()} {i + 1}",
                kind,
                rnd.randint(10, 80),
                rnd.choice((0, 15, 30)),
            )
    for room_id, parts in units.items():
        for unit in parts:
            rows.add("room_units", ["room_id", "unit_id"], (room_id, unit))

    # organisations and their applications
    org_cols = [
        "id", "name", "org_number", "voluntary", "non_profit", "local",
        "registered_in_frivillighetsregisteret", "youth_activity", "contact_name", "email", "phone",
        "proposed_category", "price_category", "verified", "created_at", "updated_at",
    ]  # fmt: skip
    app_cols = [
        "id", "round_id", "organization_id", "submitted_by_id", "rank", "attendees", "description",
        "children_youth", "withdrawn_at", "created_at", "updated_at",
    ]  # fmt: skip
    wish_cols = ["id", "application_id", "position", "room_id", "weekday", "start_minute", "end_minute"]
    by_id = {room["id"]: room for room in room_list}
    room_ids = [room["id"] for room in room_list]
    popular = room_ids[: max(1, len(room_ids) // 3)]
    opened = datetime(2026, 9, 1, 8, tzinfo=UTC)
    apps: list[tuple[int, int, tuple]] = []  # (application id, organisation, first wish)
    organization = 0
    wish_id = 0
    while len(apps) < applications:
        organization += 1
        category = rnd.choices(("free", "reduced", "full"), (30, 30, 40))[0]
        rows.add(
            "organizations",
            org_cols,
            (
                organization,
                f"{WORDS[organization % len(WORDS)]} forening {organization}",
                synthetic_org_number(91_000_000, organization),
                category != "full",
                category != "full",
                True,
                category == "free",
                category != "full",
                f"Kontakt {organization}",
                f"org{organization}@bench.test",
                "",
                category,
                category,
                True,
                created,
                created,
            ),
        )
        for rank in range(1, min(rnd.randint(1, 5), applications - len(apps)) + 1):
            app_id = len(apps) + 1
            first_room = rnd.choice(popular) if rnd.random() < 0.7 else rnd.choice(room_ids)
            capacity = by_id[first_room]["capacity"]
            attendees = max(5, min(capacity, int(rnd.gauss(20, 10))))
            if rnd.random() < 0.05:
                attendees = capacity + 10  # too many for the room wanted first
            weekday = rnd.choice((0, 1, 2, 3, 3, 2, 1, 0, 4, 5, 6))
            start = rnd.choice(EVENING_STARTS)
            end = start + rnd.choice((60, 90, 120))
            other_day = rnd.choice([d for d in range(5) if d != weekday])
            neighbours = [r for r in building_rooms[by_id[first_room]["building"]] if r != first_room]
            wishes = (
                (first_room, weekday, start, end),
                (first_room, other_day, start, end),
                (rnd.choice(neighbours or room_ids), weekday, start, end),
            )
            submitted = opened + timedelta(seconds=rnd.uniform(0, 29 * 24 * 3600))
            children = category != "full" and rnd.random() < 0.25 / 0.60
            rows.add(
                "applications",
                app_cols,
                (
                    app_id,
                    ROUND_ID,
                    organization,
                    None,
                    rank,
                    attendees,
                    "",
                    children,
                    None,
                    submitted,
                    submitted,
                ),
            )
            for position, wish in enumerate(wishes, start=1):
                wish_id += 1
                rows.add("application_wishes", wish_cols, (wish_id, app_id, position, *wish))
            apps.append((app_id, organization, wishes[0]))

    # the rounds: the previous one (published; some of these organisations held their first
    # wish's time in it) and this one (window closed, not allocated)
    round_cols = [
        "id", "name", "season_start", "season_end", "opens_at", "closes_at", "publish_on",
        "offer_deadline", "seed", "allocated_at", "published_at", "created_at", "updated_at",
    ]  # fmt: skip
    rows.add(
        "rounds",
        round_cols,
        (
            PREVIOUS_ROUND_ID,
            "Høstsesongen 2026",
            previous_start,
            previous_end,
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 4, 1, tzinfo=UTC),
            date(2026, 4, 15),
            datetime(2026, 5, 1, tzinfo=UTC),
            "bench-previous-round-0001",
            datetime(2026, 4, 10, tzinfo=UTC),
            datetime(2026, 4, 15, tzinfo=UTC),
            created,
            created,
        ),
    )
    rows.add(
        "rounds",
        round_cols,
        (
            ROUND_ID,
            "Vårsesongen 2027",
            SEASON_START,
            season_end,
            opened,
            datetime(2026, 10, 1, tzinfo=UTC),
            date(2026, 10, 15),
            datetime(2026, 11, 1, tzinfo=UTC),
            f"bench-round-{seed:04d}-allocation",
            None,
            None,
            created,
            created,
        ),
    )
    for round_id in (PREVIOUS_ROUND_ID, ROUND_ID):
        for room_id in room_ids:
            rows.add("round_rooms", ["round_id", "room_id"], (round_id, room_id))
    previous_ranks: Counter = Counter()
    allocation_cols = [
        "id", "round_id", "application_id", "organization_id", "wish_position", "room_id", "weekday",
        "start_minute", "end_minute", "explanation", "order_index", "pass_number", "manual",
        "offer_state", "series_id", "decided_at", "created_at", "updated_at",
    ]  # fmt: skip
    held = 0
    for _, org, (room_id, weekday, start, end) in apps:
        if rnd.random() >= 0.15:
            continue
        held += 1
        previous_ranks[org] += 1
        app_id = applications + held
        stamp = datetime(2026, 3, 15, tzinfo=UTC)
        rows.add(
            "applications",
            app_cols,
            (app_id, PREVIOUS_ROUND_ID, org, None, previous_ranks[org], 10, "", False, None, stamp, stamp),
        )
        wish_id += 1
        rows.add("application_wishes", wish_cols, (wish_id, app_id, 1, room_id, weekday, start, end))
        decided = datetime(2026, 4, 20, tzinfo=UTC)
        rows.add(
            "allocations",
            allocation_cols,
            (
                held, PREVIOUS_ROUND_ID, app_id, org, 1, room_id, weekday, start, end,
                json.dumps({"given": 1}), held, 1, False, "accepted", None, decided, stamp, decided,
            ),
        )  # fmt: skip

    occurrences = _bookings(rows, rnd, room_list, units, closed, organization, created, weeks)
    assert set(rows.tables) <= set(TABLES)
    rows.tables = {table: rows.tables[table] for table in TABLES if table in rows.tables}  # referenced first
    seeded = Seeded(
        rooms=len(room_list),
        divisible=sum(len(u) > 1 for u in units.values()),
        buildings=len(buildings),
        organizations=organization,
        applications=len(apps),
        occurrences=occurrences,
        continuity_offers=held,
        seconds=0.0,
    )
    return rows, seeded


def _bookings(
    rows: Rows,
    rnd: random.Random,
    room_list: list[dict],
    units: dict[int, tuple[int, ...]],
    closed: dict[int, tuple[date, date]],
    organizations: int,
    created: datetime,
    weeks: int,
) -> int:
    """Weekly series and single bookings in this season and the one before; nothing overlaps
    (each unit's (day, two-hour slot) cells are handed out once) and nothing falls on a closure."""
    booking_cols = [
        "id", "room_id", "organization_id", "booked_by_id", "series_id", "original_start", "title",
        "start", "end", "occupied_until", "attendees", "status", "status_reason", "notes",
        "public_title", "own_supervisor", "quote", "cancellation_fee", "cancelled_at", "sequence",
        "created_at", "updated_at",
    ]  # fmt: skip
    series_cols = [
        "id", "room_id", "organization_id", "booked_by_id", "title", "rrule", "start", "end",
        "sequence", "created_at", "updated_at",
    ]  # fmt: skip
    first_day = SEASON_START - timedelta(weeks=weeks + 1)
    seasons = (first_day, SEASON_START)
    taken: set[tuple[int, date, int]] = set()
    quotes = QuoteCache()
    counter = {"booking": 0, "series": 0}
    evening = (3, 4, 5, 6, 6, 5, 4, 0, 1, 2)  # slot indexes, evenings weighted

    def free(room: dict, day: date, slot: int) -> bool:
        window = closed.get(room["building"])
        if window and window[0] <= day <= window[1]:
            return False
        return not any((unit, day, slot) in taken for unit in units[room["id"]])

    def book(room: dict, org: int, day: date, slot: int, minutes: int, title: str, series_id) -> None:
        for unit in units[room["id"]]:
            taken.add((unit, day, slot))
        start = _utc(day, SLOT_HOURS[slot])
        end = start + timedelta(minutes=minutes)
        counter["booking"] += 1
        cancelled = rnd.random() < 0.03
        booked = min(start - timedelta(days=30), created)
        rows.add(
            "bookings",
            booking_cols,
            (
                counter["booking"], room["id"], org, None, series_id, start if series_id else None,
                title, start, end, occupied_until(end, room["buffer"]), rnd.randint(5, 40),
                "cancelled" if cancelled else "confirmed", "Cancelled" if cancelled else "", "",
                False, False, quotes.json_for(room["kind"], "reduced", "outside_staffed_hours", start, end),
                json.dumps({"lines": [], "total_ore": 0, "reason": "free_14_days"}) if cancelled else None,
                booked if cancelled else None, 1 if cancelled else 0, booked, booked,
            ),
        )  # fmt: skip

    # whole gyms first, so their halves fill around them
    ordered = sorted(room_list, key=lambda r: -len(units[r["id"]]))
    for season_start in seasons:
        for room in ordered:
            for _ in range(rnd.choice((0, 1, 1, 2, 2, 3))):
                weekday, slot = rnd.randrange(7), rnd.choice(evening)
                days = [season_start + timedelta(weeks=w, days=weekday) for w in range(weeks)]
                days = [d for d in days if free(room, d, slot)]
                if len(days) < 2:
                    continue
                org = rnd.randint(1, organizations)
                minutes = rnd.choice((60, 90))
                counter["series"] += 1
                start = _utc(days[0], SLOT_HOURS[slot])
                until = _utc(days[-1], SLOT_HOURS[slot]).strftime("%Y%m%dT%H%M%SZ")
                rows.add(
                    "series",
                    series_cols,
                    (
                        counter["series"], room["id"], org, None, "Trening", f"FREQ=WEEKLY;UNTIL={until}",
                        start, start + timedelta(minutes=minutes), 0, created, created,
                    ),
                )  # fmt: skip
                for day in days:
                    book(room, org, day, slot, minutes, "Trening", counter["series"])
            for _ in range(rnd.randint(0, 8)):
                day = season_start + timedelta(days=rnd.randrange(weeks * 7))
                slot = rnd.randrange(len(SLOT_HOURS))
                if free(room, day, slot):
                    book(room, rnd.randint(1, organizations), day, slot, rnd.choice((60, 90)), "Møte", None)
    return counter["booking"]


def seed_round(url: str, *, applications: int, rooms: int, weeks: int, seed: int, force: bool) -> Seeded:
    """Reset ``url``, migrate it and fill it with the round."""
    check_target(url, force)
    started = time.perf_counter()
    reset_and_migrate(url)
    rows, seeded = generate(applications=applications, rooms=rooms, weeks=weeks, seed=seed)
    write(url, rows)
    seeded.seconds = time.perf_counter() - started
    return seeded


# --- measuring -------------------------------------------------------------------------------


class SqlTime:
    """Statements and the wall time spent inside them (cursor execute) on ``engine``."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.event, self.engine, self.seconds, self._started = event, engine, 0.0, []

    def _before(self, *args):
        self._started.append(time.perf_counter())

    def _after(self, *args):
        self.seconds += time.perf_counter() - self._started.pop()

    def __enter__(self):
        self.seconds, self._started = 0.0, []
        self.event.listen(self.engine, "before_cursor_execute", self._before)
        self.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        self.event.remove(self.engine, "before_cursor_execute", self._before)
        self.event.remove(self.engine, "after_cursor_execute", self._after)


def _kinds(statements: list[str]) -> dict[str, int]:
    return dict(Counter(s.lstrip().split(None, 1)[0].upper() for s in statements))


def measure(url: str, *, repeat: int) -> dict:
    """Time ``allocate_round`` (first run, then the median of ``repeat``) with its statements,
    and ``allocate`` alone on the same facts; compare their results."""
    from booking import create_app
    from booking.domain import allocation as algo
    from booking.extensions import db, end_unit_of_work
    from booking.models import Round
    from booking.services import rounds
    from booking.services.access import Actor

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    admin = Actor(user_id=ADMIN_USER, role="admin")
    with app.app_context():
        # The baseline's input, read with the service's own readers (what the service reads in
        # each run): the rooms' facts with the projected bookings, the applications; each of
        # these steps timed alone too (median of ``repeat``).
        round_ = db.session.get(Round, ROUND_ID)
        now = round_.closes_at + timedelta(days=1)
        seed, occupancy = round_.seed, _season_occupancy(round_)
        steps: dict[str, list[float]] = {"facts": [], "applications": [], "pure": []}
        for _ in range(max(repeat, 1)):
            started = time.perf_counter()
            facts = rounds.read_round_facts(round_)
            steps["facts"].append(time.perf_counter() - started)
            started = time.perf_counter()
            applications = rounds._applications(ROUND_ID)
            steps["applications"].append(time.perf_counter() - started)
            organizations = rounds._organizations(a.organization_id for a in applications)
            held = rounds._previous_times(round_)
            started = time.perf_counter()
            pure = {a.id: rounds._pure(a, organizations[a.organization_id], held) for a in applications}
            steps["pure"].append(time.perf_counter() - started)
            db.session.expunge_all()
        db.session.rollback()
    baseline_times, baseline_cpu, outcomes = [], [], []
    for _ in range(max(repeat, 1)):
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = algo.allocate(list(pure.values()), facts.facts, facts.busy, seed)
        baseline_times.append(time.perf_counter() - started)
        baseline_cpu.append(time.process_time() - cpu)
    expected = {
        o.application_id: None if o.given is None else _time(pure[o.application_id].wishes[o.given])
        for o in outcomes
    }

    runs, cpus, statements, sql_seconds, result = [], [], [], [], {}
    for attempt in range(repeat + 1):
        with app.app_context():
            with StatementCounter(db.engine) as counter, SqlTime(db.engine) as sql:
                started, cpu = time.perf_counter(), time.process_time()
                allocations = rounds.allocate_round(admin, ROUND_ID, now + timedelta(minutes=attempt))
                end_unit_of_work(succeeded=True)
                runs.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
            statements.append(counter.statements)
            sql_seconds.append(sql.seconds)
            result = {a.application_id: _given(a) for a in allocations}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    counts = [len(s) for s in statements]
    return {
        "applications": len(pure),
        "continuity": sum(p.continuity for p in pure.values()),
        "busy": len(facts.busy),
        "busy_distinct": len({(b.unit, b.weekday, b.start, b.end) for b in facts.busy}),
        "season_occupancy": occupancy,
        "read_facts_seconds": statistics.median(steps["facts"]),
        "read_applications_seconds": statistics.median(steps["applications"]),
        "pure_seconds": statistics.median(steps["pure"]),
        "held": len(held),
        "baseline_seconds": statistics.median(baseline_times),
        "baseline_cpu_seconds": statistics.median(baseline_cpu),
        "service_cpu_seconds": statistics.median(cpus[1:]) if repeat else cpus[0],
        "first_seconds": runs[0],
        "service_seconds": statistics.median(runs[1:]) if repeat else runs[0],
        "sql_seconds": statistics.median(sql_seconds[1:]) if repeat else sql_seconds[0],
        "statements": counts[-1],
        "statement_counts": counts,
        "statement_kinds": _kinds(statements[-1]),
        "given": sum(v is not None for v in result.values()),
        "same_result": result == expected,
    }


def _time(wish) -> tuple[int, int, int, int]:
    return (wish.room_id, wish.weekday, wish.start, wish.end)


def _given(allocation) -> tuple[int, int, int, int] | None:
    if allocation.room_id is None:
        return None
    return (allocation.room_id, allocation.weekday, allocation.start_minute, allocation.end_minute)


def _season_occupancy(round_) -> int:
    """Active occupancy rows in the round's season (every seeded room is in the round)."""
    from sqlalchemy import func, select

    from booking.domain.timeslots import local_day_bounds
    from booking.extensions import db
    from booking.models import Occupancy

    first, after = local_day_bounds(round_.season_start, round_.season_end)
    return db.session.scalar(
        select(func.count())
        .select_from(Occupancy)
        .where(Occupancy.active.is_(True), Occupancy.start < after, Occupancy.occupied_until > first)
    )


# --- the benchmark ---------------------------------------------------------------------------


def run(
    url: str,
    *,
    applications: int = 2000,
    rooms: int = 500,
    small_applications: int = 500,
    small_rooms: int = 125,
    weeks: int = 15,
    repeat: int = 5,
    seed: int = 14,
    force: bool = False,
    command: str = "python -m bench allocation-db",
    report: bool = True,
    save: bool = True,
) -> dict:
    """Seed and measure the small round, then the large one (the database reset before each);
    returns the figures of both."""
    from booking.config import normalize_database_url

    url = normalize_database_url(url)
    figures = {}
    for label, apps, room_count in (
        ("small", small_applications, small_rooms),
        ("large", applications, rooms),
    ):
        seeded = seed_round(url, applications=apps, rooms=room_count, weeks=weeks, seed=seed, force=force)
        figures[label] = {"seeded": seeded, **measure(url, repeat=repeat)}
        print(f"{label}: {_summary(figures[label])}", flush=True)
    if report:
        lines = _lines(figures, weeks, repeat)
        if save:
            save_report(lines, url, command)
        else:
            print("\n".join(lines))
    return figures


def _summary(f: dict) -> str:
    return (
        f"{f['applications']} applications, {f['seeded'].rooms} rooms: allocate_round "
        f"{f['service_seconds'] * 1000:.0f} ms ({f['statements']} statements), allocate "
        f"{f['baseline_seconds'] * 1000:.0f} ms, same result: {f['same_result']}"
    )


def _lines(figures: dict, weeks: int, repeat: int) -> list[str]:
    small, large = figures["small"], figures["large"]

    def column(f: dict) -> list[str]:
        s: Seeded = f["seeded"]
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(f["statement_kinds"].items()))
        return [
            f"{f['applications']:,} × 3 wishes over {s.rooms} rooms",
            f"{s.buildings} buildings, {s.divisible} divisible gyms (the whole and two halves)",
            f"{s.organizations:,} ({f['continuity']} applications with continuity)",
            f"{s.occurrences:,} in two seasons; {f['season_occupancy']:,} occupancy rows in the season → "
            f"{f['busy']:,} busy intervals ({f['busy_distinct']:,} distinct weekly times)",
            f"{s.seconds:.1f} s",
            f"**{f['service_seconds'] * 1000:.0f} ms**",
            f"{f['first_seconds'] * 1000:.0f} ms",
            f"{f['sql_seconds'] * 1000:.0f} ms",
            f"{f['read_facts_seconds'] * 1000:.0f} ms",
            f"{f['read_applications_seconds'] * 1000:.0f} ms",
            f"{f['pure_seconds'] * 1000:.0f} ms ({f['held']} times held before)",
            f"{f['baseline_seconds'] * 1000:.0f} ms",
            f"**{f['service_seconds'] / f['baseline_seconds']:.1f}×**" if f["baseline_seconds"] else "-",
            f"{f['service_cpu_seconds'] * 1000:.0f} ms / {f['baseline_cpu_seconds'] * 1000:.0f} ms = "
            f"{f['service_cpu_seconds'] / f['baseline_cpu_seconds']:.1f}×"
            if f["baseline_cpu_seconds"]
            else "-",
            f"**{f['statements']}** ({kinds})",
            f"{f['given']:,}; {'the same' if f['same_result'] else '**DIFFERENT**'}",
        ]

    labels = [
        "round",
        "rooms",
        "organisations",
        "bookings seeded",
        "seeded in (reset, migrate, bulk insert; not counted)",
        f"`allocate_round` with COMMIT (median of {repeat} repeated runs)",
        "its first run (no earlier result to replace)",
        "of which inside SQL statements (execute; SQLite steps its rows on fetch, left out)",
        f"`read_round_facts` alone: rooms, closures, occupancy, projection (median of {repeat})",
        f"reading the applications with their wishes alone, `_applications` (median of {repeat})",
        f"their classes and continuity alone, `_pure` for each (median of {repeat})",
        f"baseline: `allocate` on the same facts (median of {repeat})",
        "ratio `allocate_round` / `allocate`",
        "the same in CPU time of this process (the database server's left out)",
        "SQL statements per `allocate_round`",
        "applications given a time; result against the baseline",
    ]
    rows = [
        f"| {label} | {a} | {b} |" for label, a, b in zip(labels, column(small), column(large), strict=True)
    ]
    bounded = (
        f"the same count at {large['applications'] / small['applications']:.0f}× the applications"
        if small["statements"] == large["statements"]
        else f"{small['statements']} → {large['statements']} at "
        f"{large['applications'] / small['applications']:.0f}× the applications"
    )
    return [
        f"- season: {weeks} weeks from {SEASON_START:%Y-%m-%d} (Easter and a closed winter-break week "
        f"in it); the previous season's bookings and its published round in the same database",
        "",
        "| | smaller round | the issue's round |",
        "|---|---:|---:|",
        *rows,
        "",
        f"- **statements: {bounded}**; none per application, none per week",
    ]


def save_report(lines: list[str], url: str, command: str) -> None:
    """Print the entry and add it at the end of the "Seasonal allocation" part of BENCHMARKS.md,
    the database run's paragraph written after the part's introduction the first time."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    entry = "\n".join(
        [
            f"#### Seasonal allocation through the database (SPEC §14) — {stamp}",
            "",
            f"- machine: {machine()}; load average {load:.1f} at the end",
            f"- database: {database_label(url)}",
            # A SQLite file by its name only: no machine's folders in the document.
            f"- command: `{re.sub(r'sqlite:///+[^ ]*/', 'sqlite:///', command)}`",
            *lines,
            "",
        ]
    )
    append_to_part(HEADING, INTRODUCTION, MARKER, entry)
