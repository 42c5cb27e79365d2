"""Fast, realistic benchmark data: buildings, rooms (some divisible), organisations, users and
about a million booking occurrences over two years, written with COPY on PostgreSQL and
``executemany`` on SQLite, straight into the migrated schema (no ORM, no session hooks; the
occupancy rows are derived by the database's own triggers from each booking's ``occupied_until``).

The shape follows a municipality's week: rooms open 07:00–23:00, bookings in two-hour slots from
08:00 to 22:00 (60 or 90 minutes long, so buffers of up to 30 minutes fit), weekly series over
autumn and spring seasons plus single bookings, a few pending requests and cancellations.
Building 1 has 40 rooms (the janitor benchmark); every fourth building has a gym divisible into
halves. Nothing overlaps: each atomic unit's (day, slot) cells are handed out once.

Users, all with the password ``bench-password`` and a known API token ``bench-<user id>``:
user 1 is the admin, users 2..B+1 the janitors of buildings 1..B (one each), and user
B+1+o the member of organisation o. Never point this at a database you care about: ``--reset``
drops everything in it, and it refuses a database whose name does not contain ``bench``
unless ``--force`` is given.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import reset_database
from booking.config import normalize_database_url
from booking.domain.organizations import synthetic_org_number
from booking.domain.timeslots import occupied_until
from booking.services.rooms import FIELDS as ROOM_FIELDS
from pricing import DEFAULT_PRICE_LIST, OSLO, QuoteRequest, quote
from pricing.weekly import parse_windows

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLOT_HOURS = (8, 10, 12, 14, 16, 18, 20)  # local start hours of the two-hour slots
BENCH_PASSWORD = "bench-password"
STAFFED = [{"day": d, "start": "08:00", "end": "16:00"} for d in DAYS[:5]]
OPENING = [{"day": d, "start": "07:00", "end": "23:00"} for d in DAYS]
KINDS = (  # kind, capacity range, equipment pool, weight
    ("meeting_room", (8, 30), ("projector", "screen", "whiteboard", "coffee"), 30),
    ("classroom", (20, 35), ("projector", "whiteboard", "piano"), 25),
    ("rehearsal_room", (10, 60), ("piano", "drums", "sound", "mirrors"), 20),
    ("gym", (30, 120), ("sound", "mats"), 8),
    ("sports_hall", (100, 400), ("sound", "scoreboard"), 5),
    ("hall", (80, 400), ("piano", "stage", "sound", "projector"), 12),
)
WORDS = (
    "Asker",
    "Bærum",
    "Stabekk",
    "Jar",
    "Lysaker",
    "Fornebu",
    "Sandvika",
    "Kolsås",
    "Haslum",
    "Eiksmarka",
    "Høvik",
    "Blommenholm",
    "Rykkinn",
    "Bekkestua",
    "Øverland",
    "Grav",
    "Hosle",
)
ACTIVITIES = (
    "Skolekorps",
    "Seniordans",
    "Sjakklubb",
    "Kor",
    "Bridgeklubb",
    "Turlag",
    "Idrettslag",
    "Strykeorkester",
    "Husflidslag",
    "Speidergruppe",
    "Teaterlag",
    "Musikkorps",
    "Bygdelag",
    "Pensjonistforening",
    "Ungdomsklubb",
    "Historielag",
    "Fotoklubb",
    "Bokklubb",
)
TITLES = ("Øving", "Styremøte", "Trening", "Årsmøte", "Kurs", "Konsert", "Medlemsmøte", "Dugnad")


def token_for(user_id: int) -> str:
    """The bench user's API token (only its hash is stored)."""
    return f"bench-{user_id}"


def org_number(n: int) -> str:
    """The n-th organisation number of the bench range."""
    return synthetic_org_number(90_000_000, n)


@dataclass(frozen=True)
class Size:
    buildings: int = 50
    rooms: int = 500
    organizations: int = 2000
    occurrences: int = 1_000_000
    big_building_rooms: int = 40
    days_back: int = 365
    days_ahead: int = 365


SIZES = {
    "large": Size(),
    "medium": Size(occurrences=100_000),
    "small": Size(buildings=10, rooms=80, organizations=200, occurrences=10_000, big_building_rooms=40),
    "tiny": Size(
        buildings=3,
        rooms=45,
        organizations=20,
        occurrences=1_000,
        big_building_rooms=40,
        days_back=30,
        days_ahead=60,
    ),
}


@dataclass
class Layout:
    """Ids of what was seeded, for the benchmarks."""

    size: Size
    now: datetime
    first_day: date
    rooms: list[dict] = field(default_factory=list)
    room_units: dict[int, tuple[int, ...]] = field(default_factory=dict)
    occurrences: int = 0
    series: int = 0

    def janitor_user(self, building_id: int) -> int:
        return 1 + building_id

    def member_user(self, organization_id: int) -> int:
        return 1 + self.size.buildings + organization_id


class Rows:
    """Rows per table, in insert order."""

    def __init__(self) -> None:
        self.tables: dict[str, tuple[list[str], list[tuple]]] = {}

    def add(self, table: str, columns: list[str], row: tuple) -> None:
        self.tables.setdefault(table, (columns, []))[1].append(row)


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), OSLO).astimezone(UTC)


class QuoteCache:
    """Real quotes from ``pricing``, computed once per shape and stamped with each occurrence's
    times, so every booking carries a snapshot like one made through the API."""

    def __init__(self) -> None:
        self.templates: dict[tuple, str] = {}
        self.staffed = parse_windows(STAFFED)

    def json_for(
        self, price_group: str, category: str, supervision: str, start: datetime, end: datetime
    ) -> str:
        local = start.astimezone(OSLO)
        key = (price_group, category, supervision, local.weekday(), local.hour, local.minute, end - start)
        template = self.templates.get(key)
        if template is None:
            request = QuoteRequest(
                price_group, category, ((start, end),), supervision=supervision, staffed_hours=self.staffed
            )
            data = quote(DEFAULT_PRICE_LIST, request).to_dict()
            template = json.dumps(data, ensure_ascii=False)
            template = template.replace(local.isoformat(), "@S@").replace(
                end.astimezone(OSLO).isoformat(), "@E@"
            )
            self.templates[key] = template
        return template.replace("@S@", local.isoformat()).replace("@E@", end.astimezone(OSLO).isoformat())


def generate(size: Size, seed: int = 7, now: datetime | None = None) -> tuple[Rows, Layout]:
    """Every row of the bench data set, deterministic for a given ``seed`` and ``now``."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    today = now.astimezone(OSLO).date()
    first_day = today - timedelta(days=size.days_back)
    n_days = size.days_back + size.days_ahead
    layout = Layout(size, now, first_day)
    rows = Rows()
    password_hash = _password_hash()
    created = now - timedelta(days=size.days_back + 30)

    # buildings, closures
    for b in range(1, size.buildings + 1):
        name = (
            "Storhaug skole"
            if b == 1
            else f"{WORDS[b % len(WORDS)]} {('skole', 'kulturhus', 'bibliotek', 'flerbrukshus')[b % 4]} {b}"
        )
        rows.add(
            "buildings",
            ["id", "name", "address", "staffed_hours", "opening_hours", "created_at", "updated_at"],
            (
                b,
                name,
                f"Skoleveien {b}, 13{b % 100:02d} Bærum",
                json.dumps(STAFFED),
                json.dumps(OPENING),
                created,
                created,
            ),
        )
    closure_id = 0
    for b in range(1, size.buildings + 1):
        for year in sorted({first_day.year, today.year, (today + timedelta(days=size.days_ahead)).year}):
            closure_id += 1
            rows.add(
                "building_closures",
                ["id", "building_id", "start_date", "end_date", "reason"],
                (closure_id, b, date(year, 12, 24), date(year, 12, 26), "Jul"),
            )

    # rooms: building 1 is big; every fourth building has a gym divisible into halves A and B
    per_building = _rooms_per_building(size)
    room_id = 0
    kinds, weights = [k for k in KINDS], [k[3] for k in KINDS]
    # The rooms table as the room service writes it (same order), plus keys and stamps.
    room_cols = ["id", "building_id", *ROOM_FIELDS, "created_at", "updated_at"]

    def add_room(room_id, building_id, name, kind, capacity, equipment, accessible, approval, buffer, units):
        rows.add(
            "rooms",
            room_cols,
            (
                room_id,
                building_id,
                name,
                kind,
                capacity,
                json.dumps(equipment),
                accessible,
                "",
                kind,
                approval,
                "outside_staffed_hours",
                buffer,
                30,
                720,
                0,
                365,
                True,
                created,
                created,
            ),
        )
        layout.rooms.append(
            {
                "id": room_id,
                "building_id": building_id,
                "kind": kind,
                "requires_approval": approval,
                "buffer": buffer,
                "supervision": "outside_staffed_hours",
            }
        )
        layout.room_units[room_id] = units

    for b in range(1, size.buildings + 1):
        count = per_building[b - 1]
        divisible = b % 4 == 2 and count >= 4
        plain = count - (3 if divisible else 0)
        for i in range(plain):
            room_id += 1
            kind, (low, high), pool, _ = rng.choices(kinds, weights)[0]
            approval = kind in ("hall", "sports_hall") and rng.random() < 0.5
            buffer = rng.choice((0, 0, 15, 30))
            capacity = rng.randint(low, high)
            equipment = sorted(rng.sample(pool, rng.randint(0, len(pool))))
            accessible = rng.random() < 0.6
            name = f"{kind.replace('_', ' ').capitalize()} {i + 1}"
            add_room(room_id, b, name, kind, capacity, equipment, accessible, approval, buffer, (room_id,))
        if divisible:
            half_ids = []
            for label in ("A", "B"):
                room_id += 1
                half_ids.append(room_id)
                add_room(room_id, b, f"Gymsal {label}", "gym", 40, ["mats"], True, False, 15, (room_id,))
            room_id += 1
            add_room(room_id, b, "Gymsal A+B", "gym", 80, ["mats", "sound"], True, False, 15, tuple(half_ids))
            for part in half_ids:
                rows.add("room_parts", ["room_id", "part_id"], (room_id, part))
    for rid, units in layout.room_units.items():
        for unit in units:
            rows.add("room_units", ["room_id", "unit_id"], (rid, unit))

    # organisations, users, memberships, tokens
    categories = []
    for o in range(1, size.organizations + 1):
        category = rng.choices(("free", "reduced", "full"), (40, 45, 15))[0]
        verified = rng.random() < 0.95
        categories.append(category if verified else "full")
        name = f"{WORDS[o % len(WORDS)]} {ACTIVITIES[(o * 7) % len(ACTIVITIES)]} {o}"
        rows.add(
            "organizations",
            [
                "id",
                "name",
                "org_number",
                "voluntary",
                "non_profit",
                "local",
                "registered_in_frivillighetsregisteret",
                "youth_activity",
                "contact_name",
                "email",
                "phone",
                "proposed_category",
                "price_category",
                "verified",
                "created_at",
                "updated_at",
            ],
            (
                o,
                name,
                org_number(o),
                category != "full",
                category != "full",
                True,
                category == "free",
                category == "free",
                f"Kontakt {o}",
                f"org{o}@bench.test",
                f"+47 4{o:07d}",
                category,
                category,
                verified,
                created,
                created,
            ),
        )
    user_cols = ["id", "email", "name", "role", "password_hash", "active", "created_at"]
    token_cols = ["id", "user_id", "token_hash", "created_at", "expires_at", "revoked_at"]

    def user(uid: int, email: str, role: str) -> None:
        rows.add("users", user_cols, (uid, email, email.split("@")[0], role, password_hash, True, created))
        rows.add(
            "api_tokens",
            token_cols,
            (uid, uid, hashlib.sha256(token_for(uid).encode()).hexdigest(), created, None, None),
        )

    user(1, "admin@bench.test", "admin")
    for b in range(1, size.buildings + 1):
        user(layout.janitor_user(b), f"janitor{b}@bench.test", "janitor")
        rows.add("janitor_buildings", ["user_id", "building_id"], (layout.janitor_user(b), b))
    for o in range(1, size.organizations + 1):
        user(layout.member_user(o), f"member{o}@bench.test", "member")
        rows.add("memberships", ["user_id", "organization_id"], (layout.member_user(o), o))

    # bookings: weekly series per (room, weekday, slot, season), then single bookings
    _bookings(rows, layout, rng, categories, n_days, today)
    return rows, layout


def _rooms_per_building(size: Size) -> list[int]:
    big = min(size.big_building_rooms, size.rooms - (size.buildings - 1))
    rest = size.rooms - big
    others = size.buildings - 1
    counts = (
        [big] + [rest // others + (1 if i < rest % others else 0) for i in range(others)] if others else [big]
    )
    return counts


def _password_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(BENCH_PASSWORD)


def _seasons(first_day: date, last_day: date) -> list[tuple[date, date]]:
    seasons = []
    for year in range(first_day.year - 1, last_day.year + 1):
        seasons += [(date(year, 8, 17), date(year, 12, 18)), (date(year + 1, 1, 5), date(year + 1, 6, 19))]
    return [(max(a, first_day), min(b, last_day)) for a, b in seasons if b >= first_day and a <= last_day]


def _bookings(
    rows: Rows, layout: Layout, rng: random.Random, categories: list[str], n_days: int, today: date
) -> None:
    size = layout.size
    first_day = layout.first_day
    last_day = first_day + timedelta(days=n_days - 1)
    slots = len(SLOT_HOURS)
    taken = {unit: bytearray(n_days * slots) for units in layout.room_units.values() for unit in units}
    quotes = QuoteCache()
    booking_cols = [
        "id",
        "room_id",
        "organization_id",
        "booked_by_id",
        "series_id",
        "original_start",
        "title",
        "start",
        "end",
        "occupied_until",
        "attendees",
        "status",
        "status_reason",
        "notes",
        "public_title",
        "own_supervisor",
        "quote",
        "cancellation_fee",
        "cancelled_at",
        "sequence",
        "created_at",
        "updated_at",
    ]
    series_cols = [
        "id",
        "room_id",
        "organization_id",
        "booked_by_id",
        "title",
        "rrule",
        "start",
        "end",
        "sequence",
        "created_at",
        "updated_at",
    ]
    counter = {"booking": 0, "series": 0}
    now = layout.now
    seasons = _seasons(first_day, last_day)
    # Series fill a share of the weekly cells; singles top up to the target count.
    total_cells = len(layout.room_units) * n_days * slots
    season_days = sum((b - a).days + 1 for a, b in seasons)
    series_share = min(0.35, 0.7 * size.occurrences / max(1, total_cells * season_days / n_days))

    def free(units, day_index: int, slot: int) -> bool:
        return all(not taken[u][day_index * slots + slot] for u in units)

    def book(
        room: dict,
        organization: int,
        day: date,
        slot: int,
        minutes: int,
        title: str,
        series_id: int | None,
        status: str,
    ) -> None:
        units = layout.room_units[room["id"]]
        day_index = (day - first_day).days
        for u in units:
            taken[u][day_index * slots + slot] = 1
        start = _utc(day, SLOT_HOURS[slot])
        end = start + timedelta(minutes=minutes)
        counter["booking"] += 1
        bid = counter["booking"]
        category = categories[organization - 1]
        created_at = min(start - timedelta(days=rng.randint(1, 60)), now)
        cancelled = status == "cancelled"
        rows.add(
            "bookings",
            booking_cols,
            (
                bid,
                room["id"],
                organization,
                layout.member_user(organization),
                series_id,
                start if series_id else None,
                title,
                start,
                end,
                # the service's one buffer rule; the database derives the occupancy rows from it
                occupied_until(end, room["buffer"]),
                rng.randint(3, 40),
                status,
                "Cancelled" if cancelled else "",
                "Nøkkel hentes hos vaktmester" if bid % 9 == 0 else "",
                bid % 5 == 0,
                bid % 11 == 0,
                quotes.json_for(room["kind"], category, room["supervision"], start, end),
                json.dumps({"lines": [], "total_ore": 0, "reason": "free_14_days"}) if cancelled else None,
                created_at if cancelled else None,
                1 if cancelled else 0,
                created_at,
                created_at,
            ),
        )

    def status_for(room: dict, day: date) -> str:
        roll = rng.random()
        if roll < 0.03:
            return "cancelled"
        if room["requires_approval"] and day > today and roll < 0.15:
            return "pending"
        return "confirmed"

    # Whole divisible rooms first, so their halves fill around them.
    ordered = sorted(layout.rooms, key=lambda r: -len(layout.room_units[r["id"]]))
    for room in ordered:
        units = layout.room_units[room["id"]]
        for weekday in range(7):
            for slot in range(slots):
                for season_start, season_end in seasons:
                    if rng.random() >= series_share:
                        continue
                    first = season_start + timedelta(days=(weekday - season_start.weekday()) % 7)
                    days = []
                    day = first
                    while day <= season_end:
                        if not (day.month == 12 and 24 <= day.day <= 26):
                            days.append(day)
                        day += timedelta(weeks=1)
                    days = [d for d in days if free(units, (d - first_day).days, slot)]
                    if len(days) < 2:
                        continue
                    organization = rng.randint(1, size.organizations)
                    minutes = rng.choice((60, 90))
                    counter["series"] += 1
                    sid = counter["series"]
                    start = _utc(days[0], SLOT_HOURS[slot])
                    title = f"{rng.choice(TITLES)} {ACTIVITIES[organization % len(ACTIVITIES)].lower()}"
                    until = _utc(days[-1], SLOT_HOURS[slot]).strftime("%Y%m%dT%H%M%SZ")
                    created_at = min(start - timedelta(days=14), now)
                    rows.add(
                        "series",
                        series_cols,
                        (
                            sid,
                            room["id"],
                            organization,
                            layout.member_user(organization),
                            title,
                            f"FREQ=WEEKLY;UNTIL={until}",
                            start,
                            start + timedelta(minutes=minutes),
                            0,
                            created_at,
                            created_at,
                        ),
                    )
                    for day in days:
                        book(room, organization, day, slot, minutes, title, sid, status_for(room, day))
    series_count = counter["booking"]
    free_cells = sum(
        n_days * slots - sum(taken[r["id"]]) for r in layout.rooms if len(layout.room_units[r["id"]]) == 1
    )
    single_share = max(0.0, min(1.0, (size.occurrences - series_count) / max(1, free_cells)))
    for room in ordered:
        units = layout.room_units[room["id"]]
        for day_index in range(n_days):
            day = first_day + timedelta(days=day_index)
            if day.month == 12 and 24 <= day.day <= 26:
                continue
            for slot in range(slots):
                if rng.random() < single_share and free(units, day_index, slot):
                    organization = rng.randint(1, size.organizations)
                    book(
                        room,
                        organization,
                        day,
                        slot,
                        rng.choice((60, 90)),
                        rng.choice(TITLES),
                        None,
                        status_for(room, day),
                    )
    layout.occurrences = counter["booking"]
    layout.series = counter["series"]


# --- writing ---------------------------------------------------------------------------------


def reset_and_migrate(url: str) -> None:
    """Empty the database and build the schema with the project's migrations."""
    from flask_migrate import upgrade

    from booking import create_app

    _drop_everything(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        from booking.extensions import db

        db.engine.dispose()


def _drop_everything(url: str) -> None:
    if not url.startswith("sqlite"):
        _create_database_if_missing(url)
    reset_database(url)


def _create_database_if_missing(url: str) -> None:
    """A fresh machine has no bench databases: create the named one through the server's
    ``postgres`` maintenance database."""
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def check_target(url: str, force: bool) -> None:
    name = make_url(url).database or ""
    if "bench" not in name.rsplit("/", 1)[-1] and not force:
        raise SystemExit(f"refusing to seed {name!r}: its name does not contain 'bench' (use --force)")


def write(url: str, rows: Rows) -> None:
    if url.startswith("postgresql"):
        _write_postgres(url, rows)
    else:
        _write_sqlite(url, rows)


def _write_postgres(url: str, rows: Rows) -> None:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur:
            for table, (columns, data) in rows.tables.items():
                quoted = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
                if "id" in columns:
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _write_sqlite(url: str, rows: Rows) -> None:
    conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN IMMEDIATE")
    for table, (columns, data) in rows.tables.items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO {table} ({quoted}) VALUES ({marks})",
            ([_sqlite_value(v) for v in row] for row in data),
        )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def seed(url: str, size: Size, *, force: bool = False, seed_value: int = 7, quiet: bool = False) -> Layout:
    """Reset ``url``, migrate it and fill it; returns what was seeded."""
    url = normalize_database_url(url)
    check_target(url, force)
    started = clock.monotonic()
    reset_and_migrate(url)
    rows, layout = generate(size, seed_value)
    generated = clock.monotonic()
    write(url, rows)
    done = clock.monotonic()
    if not quiet:
        counts = ", ".join(f"{t}: {len(d):,}" for t, (_, d) in rows.tables.items())
        print(
            f"seeded {url.split('@')[-1]} in {done - started:.1f} s "
            f"(generate {generated - started:.1f} s, write {done - generated:.1f} s)\n  {counts}"
        )
    return layout
