"""The peer benchmark: booking create in-process against OneGov's ``libres`` on the same slots.

A municipality that does not run this service would run OneGov, whose reservations are
``libres``: a reservation is ``reserve`` (checks, a pending reservation) then
``approve_reservations`` (writes the reserved slots, whose unique index is what refuses a double
booking), in libres' SERIALIZABLE session, committed. This project's create use case is the
service a request runs, without HTTP: ``create_booking`` in a unit of work (rules, conflict
check under the units' locks, price quote, the booking with its occupancy, the audit entry, the
outbox event, the feed markers), committed. The floor is the least a booking can cost on the
same stack: one INSERT into a table with the same exclusion constraint as ``occupancies``
(``bench.baseline_app``), committed.

The three run on the same attempts (``bench.bench_create.plan_attempts``: a free 22:00–23:00
slot, or, for ``--conflict-share`` of them, a time overlapping a confirmed booking, which each
system must refuse), one thread, one PostgreSQL: this project and the floor on the seeded
bench database, libres on a database of its own that is reset and given, before timing, a
whole-day allocation (partly available, 15-minute raster, as OneGov's rooms) for every room and
day an attempt needs and the confirmed bookings the conflicting attempts overlap. The attempts
are cut into ``--rounds`` slices; each slice goes through all three in turn (the order rotates),
so a change in the machine's load hits them alike; figures are the medians over the rounds.
What this project and the floor add is deleted afterwards.

``--profile`` runs this project's share once more under pyinstrument and prints where the time
goes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bench import baseline_app
from bench.bench_create import Attempt, _cleanup, _hold_conflicting_slots, _next_ids, plan_attempts
from bench.common import append_report, cpu_seconds, cpu_used
from booking.config import normalize_database_url
from pricing import OSLO

TIMEZONE = "Europe/Oslo"
RASTER = 15  # minutes


@dataclass
class Tally:
    """One system's run over one slice: how long, and what each attempt got."""

    name: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process (Python, drivers)
    server_cpu_seconds: float = 0.0  # of the PostgreSQL backends serving it
    statements: int = 0
    created: int = 0
    refused: int = 0
    wrong: int = 0  # a free slot refused, or a taken one granted
    # By outcome: [wall, CPU] seconds of the created ones, of the refused ones.
    created_time: list[float] = field(default_factory=lambda: [0.0, 0.0])
    refused_time: list[float] = field(default_factory=lambda: [0.0, 0.0])

    @property
    def operations(self) -> int:
        return self.created + self.refused

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.operations if self.operations else 0.0

    @property
    def server_cpu_ms(self) -> float:
        return self.server_cpu_seconds * 1000 / self.operations if self.operations else 0.0

    @property
    def statements_each(self) -> float:
        return self.statements / self.operations if self.operations else 0.0

    def outcome_ms(self, created: bool) -> tuple[float, float]:
        """Wall and CPU milliseconds per created (or refused) attempt."""
        n, (wall, cpu) = (self.created, self.created_time) if created else (self.refused, self.refused_time)
        return (wall * 1000 / n, cpu * 1000 / n) if n else (0.0, 0.0)

    def count(self, attempt: Attempt, created: bool, wall: float, cpu: float) -> None:
        if created:
            self.created += 1
        else:
            self.refused += 1
        times = self.created_time if created else self.refused_time
        times[0] += wall
        times[1] += cpu
        if created == attempt.conflicting:
            self.wrong += 1


# --- the floor: one INSERT --------------------------------------------------------------------


class Floor:
    name = "raw exclusion INSERT"

    def __init__(self, url: str, attempts: list[Attempt]) -> None:
        baseline_app.prepare(url)
        _hold_conflicting_slots(url, attempts)
        self.engine = create_engine(url, pool_size=1)
        self.insert = text(
            f"INSERT INTO {baseline_app.TABLE} (unit_id, start, occupied_until, active) "
            "VALUES (:unit_id, :start, :until, true) RETURNING id"
        )

    def __call__(self, attempt: Attempt) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    self.insert,
                    {"unit_id": attempt.unit_ids[0], "start": attempt.start, "until": attempt.end},
                ).scalar_one()
        except IntegrityError:
            return False
        return True

    def close(self, url: str) -> None:
        self.engine.dispose()
        baseline_app.prepare(url)  # empty again


# --- the peer: libres ---------------------------------------------------------------------------


class Peer:
    name = "libres reserve + approve"

    def __init__(self, peer_url: str, attempts: list[Attempt]) -> None:
        import libres
        from libres.context.registry import create_default_registry
        from libres.modules import errors

        self.errors = errors
        registry = create_default_registry()
        self.context = registry.register_context("booking_peer_bench")
        self.context.set_setting("dsn", peer_url)
        self.schedulers: dict[int, object] = {}
        for room_id in sorted({a.room_id for a in attempts}):
            self.schedulers[room_id] = libres.new_scheduler(self.context, f"room-{room_id}", TIMEZONE)
        self.first = next(iter(self.schedulers.values()))
        self.first.setup_database()
        self.first.session.commit()
        self.session = self.first.session
        self.engine = self.first.session_provider.engine
        # Not timed: a whole-day allocation per room and local day that an attempt (or the
        # booking a conflicting attempt overlaps) touches.
        days: dict[int, set] = {}
        for attempt in attempts:
            start = attempt.start - timedelta(minutes=30) if attempt.conflicting else attempt.start
            for moment in (start, attempt.start, attempt.end - timedelta(microseconds=1)):
                days.setdefault(attempt.room_id, set()).add(moment.astimezone(OSLO).date())
        for room_id, room_days in days.items():
            self.schedulers[room_id].allocate(
                [
                    (
                        datetime(d.year, d.month, d.day, tzinfo=OSLO),
                        datetime(d.year, d.month, d.day, 23, tzinfo=OSLO),
                    )
                    for d in sorted(room_days)
                ],
                whole_day=True,
                partly_available=True,
                raster=RASTER,
            )
        self.session.commit()
        # The confirmed bookings the conflicting attempts overlap (as seeded in the product).
        held: dict[int, list[tuple[datetime, datetime]]] = {}
        for attempt in attempts:
            if not attempt.conflicting:
                continue
            start, end = attempt.start - timedelta(minutes=30), attempt.end - timedelta(minutes=30)
            if any(s < end and start < e for s, e in held.get(attempt.room_id, ())):
                continue
            held.setdefault(attempt.room_id, []).append((start, end))
            if not self._book(attempt.room_id, attempt.organization_id, start, end):
                raise RuntimeError(f"libres refused a held booking: room {attempt.room_id} {start}–{end}")

    def _book(self, room_id: int, organization_id: int, start: datetime, end: datetime) -> bool:
        scheduler = self.schedulers[room_id]
        try:
            token = scheduler.reserve(
                f"org-{organization_id}@bench.test",
                (start, end),
                data={"title": "Benchmark", "organization_id": organization_id, "attendees": 5},
            )
            scheduler.approve_reservations(token)
            self.session.commit()
        except self.errors.LibresError:
            self.session.rollback()
            return False
        return True

    def __call__(self, attempt: Attempt) -> bool:
        return self._book(attempt.room_id, attempt.organization_id, attempt.start, attempt.end)

    def close(self) -> None:
        self.session.close()
        self.first.session_provider.stop_service()


# --- this project: the create use case ---------------------------------------------------------


class Ours:
    name = "this project: create use case"

    def __init__(self, url: str) -> None:
        from booking import create_app

        self.app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False}
        )
        self.context = self.app.app_context()
        self.context.push()
        from booking.extensions import db

        self.engine = db.engine

    def __call__(self, attempt: Attempt) -> bool:
        from booking.domain.errors import DomainError
        from booking.extensions import begin_write_transaction, unit_of_work
        from booking.services import audit
        from booking.services.access import Actor
        from booking.services.bookings import BookingRequest, create_booking

        actor = Actor(
            user_id=attempt.member_user_id,
            role="member",
            organization_ids=frozenset({attempt.organization_id}),
        )
        audit.set_acting(actor, "bench peer")
        try:
            with unit_of_work():
                begin_write_transaction()
                create_booking(
                    actor,
                    BookingRequest(
                        room_id=attempt.room_id,
                        organization_id=attempt.organization_id,
                        title="Benchmark",
                        start=attempt.start,
                        end=attempt.end,
                        attendees=5,
                    ),
                )
        except DomainError:
            return False
        finally:
            audit.clear_acting()
        return True

    def close(self) -> None:
        from booking.extensions import db

        db.session.remove()
        db.engine.dispose()
        self.context.pop()


# --- running -------------------------------------------------------------------------------------


def named(url: str, key: str) -> str:
    """``url`` whose connections carry an application name of their own, to find their backends."""
    return f"{url}{'&' if '?' in url else '?'}application_name=booking-peer-{key}"


class Backends:
    """The PostgreSQL backends of one system (by application name) and their CPU time."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)

    def pids(self, key: str) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": f"booking-peer-{key}"},
                ).scalars()
            )

    def reading(self, key: str) -> dict[int, float]:
        return cpu_seconds(self.pids(key))


def count_statements(system) -> None:
    """Count the SQL statements ``system`` sends (``system.statements``), on its engine."""
    system.statements = 0

    def counted(*_args) -> None:
        system.statements += 1

    event.listen(system.engine, "before_cursor_execute", counted)


def _timed(
    system, name: str, attempts: list[Attempt], backends: Backends | None = None, key: str = ""
) -> Tally:
    tally = Tally(name)
    statements = system.statements
    server = backends.reading(key) if backends else {}
    started, cpu = time.perf_counter(), time.process_time()
    for attempt in attempts:
        one_started, one_cpu = time.perf_counter(), time.process_time()
        created = system(attempt)
        tally.count(attempt, created, time.perf_counter() - one_started, time.process_time() - one_cpu)
    tally.seconds = time.perf_counter() - started
    tally.cpu_seconds = time.process_time() - cpu
    tally.statements = system.statements - statements
    if backends:
        tally.server_cpu_seconds = cpu_used(server, backends.reading(key))
    return tally


def reset_peer_database(peer_url: str, force: bool) -> None:
    """Drop and create the peer's database (its name must contain 'bench' unless forced)."""
    url = make_url(peer_url)
    if "bench" not in (url.database or "") and not force:
        raise SystemExit(f"refusing to reset {url.database!r}: its name lacks 'bench' (use --force)")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def run(
    url: str,
    *,
    peer_url: str,
    count: int = 300,
    rounds: int = 3,
    warmup: int = 30,
    conflict_share: float = 0.3,
    force: bool = False,
    profile: bool = False,
    command: str = "python -m bench peer",
    save: bool = True,
) -> dict:
    url, peer_url = normalize_database_url(url), normalize_database_url(peer_url)
    if not (url.startswith("postgresql") and peer_url.startswith("postgresql")):
        raise SystemExit("the peer benchmark needs PostgreSQL (libres runs on nothing else)")
    extra = count if profile else 0
    attempts = plan_attempts(
        url, count=warmup + rounds * count + extra, conflict_share=conflict_share, seed=16
    )
    warm, timed = attempts[:warmup], attempts[warmup : warmup + rounds * count]
    slices = [timed[i * count : (i + 1) * count] for i in range(rounds)]

    reset_peer_database(peer_url, force)
    started = time.perf_counter()
    peer = Peer(named(peer_url, "libres"), attempts)
    peer_setup = time.perf_counter() - started
    floor = Floor(named(url, "floor"), attempts)
    first_new = _next_ids(url)
    ours = Ours(named(url, "ours"))
    backends = Backends(url)
    systems = [("floor", floor), ("libres", peer), ("ours", ours)]
    for _, system in systems:
        count_statements(system)
    results: dict[str, list[Tally]] = {key: [] for key, _ in systems}
    profile_text = ""
    try:
        for _, system in systems:
            _timed(system, system.name, warm)
        for index, part in enumerate(slices):
            order = systems[index % 3 :] + systems[: index % 3]
            for key, system in order:
                results[key].append(_timed(system, system.name, part, backends, key))
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            _timed(ours, ours.name, attempts[warmup + rounds * count :])
            profiler.stop()
            profile_text = profiler.output_text(unicode=True, color=False, show_all=False)
    finally:
        try:
            ours.close()
            floor.close(url)
            peer.close()
        finally:  # whatever failed, what this project's share added goes
            backends.engine.dispose()
            _cleanup(url, first_new)

    median = {key: statistics.median(t.per_second for t in tallies) for key, tallies in results.items()}
    wrong = {key: sum(t.wrong for t in tallies) for key, tallies in results.items()}
    ratio = median["ours"] / median["libres"] if median["libres"] else 0.0
    per_round = [o.per_second / p.per_second for o, p in zip(results["ours"], results["libres"], strict=True)]
    lines = [
        f"- setup: {rounds} rounds of {count} attempts after {warmup} warm-up attempts, "
        f"{conflict_share:.0%} for a taken time, one thread, in-process; each round through all "
        f"three in turn (order rotating); libres {_libres_version()} on its own database "
        f"({peer_setup:.0f} s to allocate and hold the taken times), raster {RASTER} min",
    ]
    for key, _ in systems:
        tallies = results[key]
        lines.append(
            f"- {tallies[0].name}: median {median[key]:.1f} operations/s "
            f"(rounds: {', '.join(f'{t.per_second:.1f}' for t in tallies)}), "
            f"CPU per operation: this process {statistics.median(t.cpu_ms for t in tallies):.2f} ms, "
            f"PostgreSQL {statistics.median(t.server_cpu_ms for t in tallies):.2f} ms; "
            f"{statistics.median(t.statements_each for t in tallies):.1f} SQL statements per operation; "
            f"each created {_outcome(tallies, True)}, each refused {_outcome(tallies, False)}; "
            f"{sum(t.created for t in tallies)} created, {sum(t.refused for t in tallies)} refused, "
            f"wrong answers {wrong[key]}"
        )
    lines += [
        f"- **this project / libres: {ratio:.2f}×** (rounds: {', '.join(f'{r:.2f}' for r in per_round)}; "
        f"goal ≥ 2×): {'met' if ratio >= 2 else 'NOT met'}",
        f"- this project / floor: {median['ours'] / median['floor']:.1%}; "
        f"libres / floor: {median['libres'] / median['floor']:.1%}",
    ]
    append_report("Booking create in-process vs OneGov's libres (peer)", url, lines, command, save=save)
    if profile_text:
        print(profile_text)
    return {
        "ours_per_second": median["ours"],
        "libres_per_second": median["libres"],
        "floor_per_second": median["floor"],
        "ratio": ratio,
        "wrong": wrong,
        "rounds": {key: [(t.created, t.refused) for t in tallies] for key, tallies in results.items()},
        "profile": profile_text,
    }


def _outcome(tallies: list[Tally], created: bool) -> str:
    wall = statistics.median(t.outcome_ms(created)[0] for t in tallies)
    cpu = statistics.median(t.outcome_ms(created)[1] for t in tallies)
    return f"{wall:.1f} ms ({cpu:.1f} ms CPU)"


def _libres_version() -> str:
    from importlib.metadata import version

    return version("libres")
