"""Benchmark 1 and 5: booking create over HTTP against a baseline, and the workers' peak memory.

``run_cost`` measures the same requests in-process (Flask's test client, no HTTP): this
process's CPU time and the SQL statements of each request, by outcome; the figures that explain
the HTTP result and show what a change to the create path saved.

Two gunicorn servers on the same database, one after the other, with the same clients: the
product (``wsgi:app``, ``POST /api/v1/bookings`` as a member with a bearer token) and the
baseline (``bench.baseline_app``: one INSERT into a table with the same exclusion constraint).
The request mix is the same for both: ``--conflict-share`` of the requests ask for a time that
is taken (409), the rest for a free one (201). Clients are separate processes with keep-alive
connections, ``--clients`` requests in flight at any time, for ``--seconds`` each.

The bookings a run creates are deleted afterwards, so runs can be repeated on one seeded
database. Peak RSS (VmHWM) of each product worker is read from /proc after its run.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import create_engine, select, text

from bench import baseline_app
from bench.common import (
    Client,
    Timings,
    append_report,
    cpu_seconds,
    cpu_used,
    peak_rss_mb,
    postgres_pids,
    server_env,
    start_gunicorn,
)
from bench.seed import token_for
from booking.config import normalize_database_url
from booking.models import Booking, Occupancy, Room
from pricing import OSLO


@dataclass(frozen=True)
class Attempt:
    room_id: int
    unit_ids: tuple[int, ...]
    organization_id: int
    member_user_id: int
    start: datetime
    end: datetime
    conflicting: bool


def plan_attempts(url: str, count: int, conflict_share: float, seed: int = 1) -> list[Attempt]:
    """Free and taken slots in the future: free ones at 22:00–23:00 local (after the seeded
    grid, one per room and day, never reused), taken ones overlapping a confirmed booking."""
    rng = random.Random(seed)
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        buildings = conn.execute(text("SELECT count(*) FROM buildings")).scalar_one()
        rooms = conn.execute(
            text(
                "SELECT r.id, array_agg(u.unit_id) FROM rooms r JOIN room_units u ON u.room_id = r.id "
                "WHERE r.active GROUP BY r.id ORDER BY r.id"
                if engine.dialect.name == "postgresql"
                else "SELECT r.id, group_concat(u.unit_id) FROM rooms r "
                "JOIN room_units u ON u.room_id = r.id "
                "WHERE r.active GROUP BY r.id ORDER BY r.id"
            )
        ).all()
        # Verified organisations: an unverified one only requests, at most 10 open (SPEC §13).
        organizations = (
            conn.execute(text("SELECT id FROM organizations WHERE verified ORDER BY id")).scalars().all()
        )
        building_of = dict(conn.execute(text("SELECT id, building_id FROM rooms")).all())
        closures = conn.execute(text("SELECT building_id, start_date, end_date FROM building_closures")).all()
        now = datetime.now(OSLO)
        taken = conn.execute(
            select(Booking.room_id, Booking.start, Booking.end)
            .join(Room, Room.id == Booking.room_id)
            .where(
                Booking.status == "confirmed",
                Booking.start > now + timedelta(days=2),
                Booking.start < now + timedelta(days=300),
                Room.requires_approval.is_(False),
            )
            .order_by(Booking.id)
            .limit(20000)
        ).all()
    units = {
        room_id: tuple(int(u) for u in (ids if isinstance(ids, list) else str(ids).split(",")))
        for room_id, ids in rooms
    }
    room_ids = sorted(units)
    used: set[tuple[int, int]] = set()
    attempts = []
    for _ in range(count):
        organization = rng.choice(organizations)
        member = 1 + buildings + organization
        if taken and rng.random() < conflict_share:
            room_id, start, end = rng.choice(taken)
            start = start + timedelta(minutes=30)
            attempts.append(
                Attempt(
                    room_id, units[room_id], organization, member, start, end + timedelta(minutes=30), True
                )
            )
            continue
        while True:  # a day the room is free at 22:00 and its building is not closed
            room_id, day = rng.choice(room_ids), rng.randint(3, 300)
            local_day = (now + timedelta(days=day)).date()
            start = datetime(local_day.year, local_day.month, local_day.day, 22, tzinfo=OSLO)
            if (
                all((u, day) not in used for u in units[room_id])
                and not any(
                    b == building_of[room_id] and _as_date(first) <= local_day <= _as_date(last)
                    for b, first, last in closures
                )
                and _free(engine, units[room_id], start, start + timedelta(hours=1))
            ):
                break
        for u in units[room_id]:
            used.add((u, day))
        attempts.append(
            Attempt(room_id, units[room_id], organization, member, start, start + timedelta(hours=1), False)
        )
    engine.dispose()
    return attempts


def _free(engine, unit_ids, start: datetime, end: datetime) -> bool:
    """Whether no booking holds any of the units in [start, end): the seeded grid ends before
    22:00, but bookings a load run left there (``bench load --target`` keeps its own) would
    make a planned free attempt a refusal, counted as a wrong answer of every system."""
    with engine.connect() as conn:
        found = conn.execute(
            select(Occupancy.id)
            .where(Occupancy.unit_id.in_(unit_ids), Occupancy.start < end, Occupancy.occupied_until > start)
            .limit(1)
        ).first()
    return found is None


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _hold_conflicting_slots(url: str, attempts: list[Attempt]) -> None:
    """In the baseline table, hold the time each conflicting attempt asks for (as the seeded
    bookings do in the product's tables), without overlaps among the holds themselves."""
    held: dict[int, list[tuple[datetime, datetime]]] = {}
    rows = []
    for attempt in attempts:
        if not attempt.conflicting:
            continue
        unit, start, end = attempt.unit_ids[0], attempt.start - timedelta(minutes=30), attempt.end
        if any(s < end and start < e for s, e in held.get(unit, ())):
            continue
        held.setdefault(unit, []).append((start, end))
        rows.append({"u": unit, "s": start, "e": end})
    if not url.startswith("postgresql"):
        rows = [{"u": r["u"], "s": r["s"].isoformat(), "e": r["e"].isoformat()} for r in rows]
    engine = create_engine(url)
    with engine.begin() as conn:
        if rows:
            conn.execute(
                text(
                    f"INSERT INTO {baseline_app.TABLE} (unit_id, start, occupied_until, active) "
                    "VALUES (:u, :s, :e, true)"
                ),
                rows,
            )
    engine.dispose()


def _product_request(attempt: Attempt) -> tuple[str, str, dict, dict]:
    body = {
        "room_id": attempt.room_id,
        "organization_id": attempt.organization_id,
        "title": "Benchmark",
        "start": attempt.start.isoformat(),
        "end": attempt.end.isoformat(),
        "attendees": 5,
    }
    return "POST", "/api/v1/bookings", body, {"Authorization": f"Bearer {token_for(attempt.member_user_id)}"}


def _baseline_request(attempt: Attempt) -> tuple[str, str, dict, dict]:
    body = {
        "unit_id": attempt.unit_ids[0],
        "start": attempt.start.isoformat(),
        "end": attempt.end.isoformat(),
    }
    return "POST", "/holds", body, {}


def _client_process(args) -> list[tuple[bool, int, float]]:
    base_url, requests, threads, deadline = args
    results: list[tuple[bool, int, float]] = []
    lock = threading.Lock()
    queue = list(reversed(requests))

    def worker() -> None:
        client = Client(base_url)
        while time.time() < deadline:
            with lock:
                if not queue:
                    return
                conflicting, (method, path, body, headers) = queue.pop()
            started = time.perf_counter()
            try:
                status, _ = client.request(method, path, body, headers)
            except OSError:
                status = 599
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                results.append((conflicting, status, elapsed))
        client.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


@dataclass
class Run:
    name: str
    seconds: float
    results: list[tuple[bool, int, float]]
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request: workers, postgres

    @property
    def throughput(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0

    @property
    def timings(self) -> Timings:
        return Timings([ms for _, _, ms in self.results])

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for _, status, _ in self.results:
            counts[status] = counts.get(status, 0) + 1
        return dict(sorted(counts.items()))

    def line(self) -> str:
        t = self.timings
        cpu = (
            f", CPU per request: workers {self.cpu_ms['workers']:.2f} ms, "
            f"PostgreSQL {self.cpu_ms['postgres']:.2f} ms"
            if self.cpu_ms
            else ""
        )
        return (
            f"{self.name}: {self.throughput:.1f} req/s, median {t.median:.1f} ms, p95 {t.p(95):.1f} ms, "
            f"p99 {t.p(99):.1f} ms, statuses {self.statuses()}{cpu}"
        )


def drive_measured(server, requests: list, clients: int, seconds: float, processes: int) -> Run:
    """``drive`` against a started server, also reading the CPU time its workers and the
    PostgreSQL server spent meanwhile (``Run.cpu_ms``: per request, by side)."""

    def reading():
        return cpu_seconds(server.worker_pids()), cpu_seconds(postgres_pids())

    workers, postgres = reading()
    result = drive(server.url, requests, clients, seconds, processes)
    workers_after, postgres_after = reading()
    count = max(len(result.results), 1)
    result.cpu_ms = {
        "workers": cpu_used(workers, workers_after) * 1000 / count,
        "postgres": cpu_used(postgres, postgres_after) * 1000 / count,
    }
    return result


def drive(base_url: str, requests: list, clients: int, seconds: float, processes: int) -> Run:
    """``clients`` concurrent keep-alive clients spread over ``processes`` processes."""
    per_process = [requests[i::processes] for i in range(processes)]
    threads = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    started = time.time()
    deadline = started + seconds
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        chunks = pool.map(
            _client_process, [(base_url, per_process[i], threads[i], deadline) for i in range(processes)]
        )
    elapsed = min(time.time() - started, seconds) if all(len(c) for c in chunks) else time.time() - started
    return Run(base_url, max(elapsed, 1e-9), [r for chunk in chunks for r in chunk])


def _cleanup(url: str, first_new: dict[str, int]) -> None:
    """Delete what a run added: rows of these tables from the ids ``_next_ids`` gave."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as conn:
        for table in ("outbox_events", "bookings", "audit_log"):
            conn.execute(text(f"DELETE FROM {table} WHERE id >= :id"), {"id": first_new[table]})
    engine.dispose()


def _next_ids(url: str) -> dict[str, int]:
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        ids = {
            table: conn.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one()
            for table in ("outbox_events", "bookings", "audit_log")
        }
    engine.dispose()
    return ids


def run(
    url: str,
    *,
    workers: int = 4,
    clients: int = 16,
    seconds: float = 30,
    conflict_share: float = 0.3,
    processes: int = 4,
    report: bool = True,
    command: str = "python -m bench create",
) -> dict:
    url = normalize_database_url(url)
    attempts = plan_attempts(url, count=int(seconds * 2000) + 100, conflict_share=conflict_share)
    env = server_env(url)

    # Baseline: the conflicting slots are held already, like the seeded bookings in the product.
    baseline_app.prepare(url)
    _hold_conflicting_slots(url, attempts)
    baseline = start_gunicorn("bench.baseline_app:app", env, workers)
    try:
        base_run = drive_measured(
            baseline,
            [(a.conflicting, _baseline_request(a)) for a in attempts],
            clients,
            seconds,
            processes,
        )
    finally:
        baseline.stop()
    base_run.name = "baseline (raw INSERT)"
    baseline_app.prepare(url)  # empty it again

    first_new = _next_ids(url)
    product = start_gunicorn("wsgi:app", env, workers)
    try:
        product_run = drive_measured(
            product, [(a.conflicting, _product_request(a)) for a in attempts], clients, seconds, processes
        )
        rss = [peak_rss_mb(pid) for pid in product.worker_pids()]
    finally:
        product.stop()
        _cleanup(url, first_new)
    product_run.name = "product (POST /api/v1/bookings)"

    ratio = product_run.throughput / base_run.throughput if base_run.throughput else 0.0
    p99 = product_run.timings.p(99)
    free = [ms for c, s, ms in product_run.results if not c]
    taken = [ms for c, s, ms in product_run.results if c]
    figures = {
        "baseline_rps": base_run.throughput,
        "product_rps": product_run.throughput,
        "ratio": ratio,
        "product_p99_ms": p99,
        "baseline_p99_ms": base_run.timings.p(99),
        "peak_rss_mb": max(rss or [0]),
        "product_statuses": product_run.statuses(),
        "baseline_statuses": base_run.statuses(),
        "product_cpu_ms": product_run.cpu_ms,
        "baseline_cpu_ms": base_run.cpu_ms,
    }
    lines = [
        f"- setup: gunicorn {workers} sync workers each, {clients} concurrent keep-alive clients "
        f"in {processes} "
        f"processes, {seconds:.0f} s per server, {conflict_share:.0%} of requests for a taken slot",
        f"- {base_run.line()}",
        f"- {product_run.line()}",
        f"- product free slot (201): median {Timings(free).median:.1f} ms, p99 {Timings(free).p(99):.1f} ms; "
        f"taken slot (409 with suggestions): median {Timings(taken).median:.1f} ms, "
        f"p99 {Timings(taken).p(99):.1f} ms",
        f"- **(1) throughput ratio product/baseline: {ratio:.1%}** (goal ≥ 50 %): "
        f"{'met' if ratio >= 0.5 else 'NOT met'}; **product p99 {p99:.1f} ms** (goal < 100 ms): "
        f"{'met' if p99 < 100 else 'NOT met'}",
        f"- **(5) peak RSS per product worker: {', '.join(f'{m:.0f}' for m in rss)} MiB** (goal < 150 MB): "
        f"{'met' if max(rss or [0]) < 150 else 'NOT met'}",
    ]
    append_report(
        "Booking create over HTTP vs raw INSERT baseline; worker memory", url, lines, command, save=report
    )
    return figures


def run_cost(
    url: str, *, count: int = 400, conflict_share: float = 0.3, command: str = "", report: bool = True
):
    """CPU time of this process and SQL statements per create request, in-process, by status."""
    from sqlalchemy import event

    from booking import create_app
    from booking.extensions import db

    url = normalize_database_url(url)
    attempts = plan_attempts(url, count=count + 30, conflict_share=conflict_share, seed=5)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    client = app.test_client()
    first_new = _next_ids(url)
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    cpu: dict[int, list[float]] = {}
    sql: dict[int, list[int]] = {}
    try:
        for i, attempt in enumerate(attempts):
            method, path, body, headers = _product_request(attempt)
            statements.clear()
            started = time.process_time()
            status = client.open(path, method=method, json=body, headers=headers).status_code
            if i >= 30:  # the first requests warm the caches
                cpu.setdefault(status, []).append((time.process_time() - started) * 1000)
                sql.setdefault(status, []).append(len(statements))
    finally:
        with app.app_context():
            db.engine.dispose()
        _cleanup(url, first_new)
    lines = [
        f"- setup: {count} requests in-process (Flask test client), {conflict_share:.0%} for a taken slot"
    ]
    for status in sorted(cpu):
        timings = Timings(cpu[status])
        lines.append(
            f"- {status}: n={len(timings.values)}, CPU of this process per request "
            f"median {timings.median:.2f} ms (p95 {timings.p(95):.2f} ms), "
            f"SQL statements median {statistics.median(sql[status]):g} (max {max(sql[status])})"
        )
    append_report(
        "Booking create in-process: CPU and statements per request", url, lines, command, save=report
    )
    return {status: (Timings(v).median, statistics.median(sql[status])) for status, v in cpu.items()}
