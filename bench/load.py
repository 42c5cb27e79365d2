"""A bounded load test: replays a realistic mix of what visitors, members, janitors and calendar
apps do, against a server on this machine, and reports throughput and latency percentiles.

The mix (weights): room search for a free two-hour slot 25, a room's week 20, quotes 15, member's
booking list 10, new bookings (about a third of them for a taken slot) 10, feeds 15, janitor day
schedule 5. Each client is a calendar app subscribed to five room feeds and one building feed: the
first fetch renders the feed, later polls revalidate with If-None-Match (304) nine times in ten.

Bounded by ``--seconds`` and ``--max-requests``; only loopback addresses are accepted as target.
Without ``--target`` it starts gunicorn on the given database and deletes the bookings it made
afterwards.

``--before REV`` measures the code at git revision REV beside this checkout in one run: the
revision's files are exported to a temporary folder, and the mix runs against a server of each in
turns (``--rounds`` each, the order alternating, so a change in the machine's load hits both
alike), each on the same database with the rendered feeds forgotten first (both start cold).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench.bench_create import _cleanup, _next_ids
from bench.common import (
    ROOT,
    Client,
    Timings,
    append_report,
    cpu_seconds,
    cpu_used,
    peak_rss_mb,
    require_loopback,
    server_env,
    start_gunicorn,
)
from bench.seed import token_for
from booking.config import normalize_database_url
from pricing import OSLO

MIX = (
    ("search", 25),
    ("week", 20),
    ("quote", 15),
    ("my_bookings", 10),
    ("book", 10),
    ("feed", 15),
    ("schedule", 5),
)


def _facts(url: str) -> dict:
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        facts = {
            "rooms": [r for (r,) in conn.execute(text("SELECT id FROM rooms WHERE active ORDER BY id"))],
            "buildings": conn.execute(text("SELECT count(*) FROM buildings")).scalar_one(),
            # members book for verified organisations: an unverified one only requests, at most
            # 10 open (SPEC §13)
            "organizations": conn.execute(text("SELECT id FROM organizations WHERE verified ORDER BY id"))
            .scalars()
            .all(),
        }
    engine.dispose()
    return facts


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+", "%2B")


class Visitor:
    """Makes the requests of one client thread."""

    def __init__(self, facts: dict, seed: int) -> None:
        self.facts, self.rng = facts, random.Random(seed)
        self.etags: dict[str, str] = {}
        rooms = self.rng.sample(facts["rooms"], min(5, len(facts["rooms"])))
        self.subscriptions = [f"/feeds/rooms/{r}.ics" for r in rooms] + [
            f"/feeds/buildings/{self.rng.randint(1, facts['buildings'])}.ics"
        ]
        self.kinds = [k for k, _ in MIX]
        self.weights = [w for _, w in MIX]

    def _slot(self, hours: int = 2) -> tuple[datetime, datetime]:
        day = datetime.now(OSLO).date() + timedelta(days=self.rng.randint(1, 200))
        start = datetime(
            day.year, day.month, day.day, self.rng.choice((8, 10, 12, 14, 16, 18, 20)), tzinfo=OSLO
        )
        return start, start + timedelta(hours=hours)

    def _member(self) -> tuple[int, dict]:
        organization = self.rng.choice(self.facts["organizations"])
        user = 1 + self.facts["buildings"] + organization
        return organization, {"Authorization": f"Bearer {token_for(user)}"}

    def next(self) -> tuple[str, str, str, dict | None, dict]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        room = self.rng.choice(self.facts["rooms"])
        if kind == "search":
            start, end = self._slot()
            return kind, "GET", f"/api/v1/rooms?free_from={_iso(start)}&free_to={_iso(end)}", None, {}
        if kind == "week":
            start, _ = self._slot()
            monday = datetime.combine(
                start.date() - timedelta(days=start.weekday()), datetime.min.time(), OSLO
            )
            return (
                kind,
                "GET",
                (
                    f"/api/v1/rooms/{room}/availability?from={_iso(monday)}"
                    f"&to={_iso(monday + timedelta(days=7))}"
                ),
                None,
                {},
            )
        if kind == "quote":  # a visitor's public price check, by category (SPEC §13)
            start, end = self._slot()
            return (
                kind,
                "POST",
                "/api/v1/quotes",
                {
                    "room_id": room,
                    "category": self.rng.choice(("free", "reduced", "full")),
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                },
                {},
            )
        if kind == "my_bookings":
            _, headers = self._member()
            return kind, "GET", "/api/v1/bookings", None, headers
        if kind == "book":
            organization, headers = self._member()
            start, _ = self._slot()
            if self.rng.random() < 0.65:  # after the seeded grid: usually free
                start = start.replace(hour=22)
            return (
                kind,
                "POST",
                "/api/v1/bookings",
                {
                    "room_id": room,
                    "organization_id": organization,
                    "title": "Last",
                    "attendees": 5,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                },
                headers,
            )
        if kind == "schedule":
            building = self.rng.randint(1, self.facts["buildings"])
            day = datetime.now(OSLO).date() + timedelta(days=self.rng.randint(0, 30))
            return (
                kind,
                "GET",
                f"/api/v1/buildings/{building}/schedule?date={day.isoformat()}",
                None,
                {"Authorization": f"Bearer {token_for(1 + building)}"},
            )
        # Calendar apps poll the feeds they subscribe to and revalidate with the ETag they have.
        path = self.rng.choice(self.subscriptions)
        headers = (
            {"If-None-Match": self.etags[path]} if path in self.etags and self.rng.random() < 0.9 else {}
        )
        return kind, "GET", path, None, headers


def _client_process(args) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """One process of clients. Each thread first subscribes to its feeds (the first fetch of each,
    reported apart), then runs the mix for ``seconds`` of its own or until the budget is spent."""
    base_url, facts, threads, seconds, budget, seed, hard_deadline = args
    results: list[tuple[str, int, float]] = []
    warm: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    remaining = {"n": budget}

    def timed(client, method, path, body=None, headers=None) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            status, _ = client.request(method, path, body, headers)
        except OSError:
            status = 599
        return status, (time.perf_counter() - started) * 1000

    def worker(index: int) -> None:
        visitor, client = Visitor(facts, seed * 100 + index), Client(base_url)
        for path in visitor.subscriptions:
            if time.time() > hard_deadline:
                break
            status, ms = timed(client, "GET", path)
            if status == 200 and client.last_etag:
                visitor.etags[path] = client.last_etag
            with lock:
                warm.append(("feed (first fetch)", status, ms))
        deadline = min(time.time() + seconds, hard_deadline)
        while time.time() < deadline:
            with lock:
                if remaining["n"] <= 0:
                    break
                remaining["n"] -= 1
            kind, method, path, body, headers = visitor.next()
            status, ms = timed(client, method, path, body, headers)
            if kind == "feed" and status == 200 and client.last_etag:
                visitor.etags[path] = client.last_etag
            with lock:
                results.append((kind, status, ms))
        client.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, warm


def drive(
    base_url: str, facts: dict, clients: int, seconds: float, max_requests: int, processes: int = 4
) -> tuple[float, list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """Measured seconds, the mix's results, and the first fetches of the subscribed feeds."""
    require_loopback(base_url)
    processes = max(1, min(processes, clients))
    threads = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    budgets = [
        max_requests // processes + (1 if i < max_requests % processes else 0) for i in range(processes)
    ]
    hard_deadline = time.time() + 3 * seconds + 60  # never longer than this, whatever happens
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        chunks = pool.map(
            _client_process,
            [
                (base_url, facts, threads[i], seconds, budgets[i], i + 1, hard_deadline)
                for i in range(processes)
            ],
        )
    return seconds, [r for chunk, _ in chunks for r in chunk], [w for _, warm in chunks for w in warm]


def summarize(elapsed: float, results: list[tuple[str, int, float]]) -> list[str]:
    lines = [
        f"- overall: {len(results):,} requests in {elapsed:.1f} s = **{len(results) / elapsed:.1f} req/s**, "
        f"{Timings([ms for *_, ms in results]).summary()}"
    ]
    lines.append("")
    lines.append("| request | count | req/s | median ms | p95 ms | p99 ms | statuses |")
    lines.append("|---|---|---|---|---|---|---|")
    for kind, _ in MIX:
        mine = [(s, ms) for k, s, ms in results if k == kind]
        if not mine:
            continue
        timings = Timings([ms for _, ms in mine])
        statuses: dict[int, int] = {}
        for status, _ in mine:
            statuses[status] = statuses.get(status, 0) + 1
        lines.append(
            f"| {kind} | {len(mine)} | {len(mine) / elapsed:.1f} | {timings.median:.1f} | "
            f"{timings.p(95):.1f} | {timings.p(99):.1f} | "
            f"{', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |"
        )
    lines.append("")
    return lines


def run(
    url: str,
    *,
    target: str | None = None,
    workers: int = 4,
    clients: int = 16,
    seconds: float = 30,
    max_requests: int = 100_000,
    report: bool = True,
    command: str = "python -m bench load",
) -> dict:
    url = _absolute(normalize_database_url(url))
    facts = _facts(url)
    server = None
    rss: list[float] = []
    first_new = _next_ids(url)
    try:
        if target is None:
            server = start_gunicorn("wsgi:app", _server_env(url), workers)
            target = server.url
        elapsed, results, first_fetches = drive(target, facts, clients, seconds, max_requests)
        if server is not None:
            rss = [peak_rss_mb(pid) for pid in server.worker_pids()]
    finally:
        if server is not None:
            server.stop()
            _cleanup(url, first_new)
    errors = sum(1 for _, status, _ in results + first_fetches if status >= 500)
    lines = [
        f"- setup: gunicorn {workers} sync workers, {clients} concurrent keep-alive clients, "
        f"{seconds:.0f} s of the mix per client or {max_requests:,} requests at most",
        f"- before the mix each client subscribed to its feeds: {len(first_fetches)} first fetches "
        f"(rendered in full), {Timings([ms for *_, ms in first_fetches]).summary()}",
        *summarize(elapsed, results),
        f"- server errors (5xx): {errors}"
        + (f"; peak RSS per worker: {', '.join(f'{m:.0f}' for m in rss)} MiB" if rss else ""),
    ]
    append_report("Load: a realistic mix", url, lines, command, save=report)
    return {"requests": len(results), "rps": len(results) / elapsed if elapsed else 0.0, "errors": errors}


def _server_env(url: str) -> dict:
    # The rendered feeds in the database, whatever the caller's environment says: they are
    # forgotten between rounds there (``_forget_rendered_feeds``).
    return server_env(url, BOOKING_FEED_CACHE_URL="database")


def _absolute(url: str) -> str:
    """A relative SQLite path made absolute: servers started in another folder (and the app,
    which reads relative paths in its instance folder) then open the same file as this process."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_absolute():
            return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(False)
    return url


def _database_backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (the servers' connections);
    none on SQLite. Their CPU counts from their start, which is the server's."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalars()
        pids = list(pids)
    engine.dispose()
    return pids


def _forget_rendered_feeds(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if inspect(conn).has_table("feed_cache"):  # (the code before may have none)
            conn.execute(text("DELETE FROM feed_cache"))
    engine.dispose()


def run_beside(
    url: str,
    before: str,
    *,
    workers: int = 4,
    clients: int = 16,
    seconds: float = 30,
    max_requests: int = 100_000,
    rounds: int = 2,
    report: bool = True,
    command: str = "python -m bench load --before REV",
) -> dict:
    """The mix against the code at git revision ``before`` and against this checkout, in turns
    (see the module's notes); the figures of each over all its rounds, and their ratio."""
    url = _absolute(normalize_database_url(url))
    facts = _facts(url)
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", before], capture_output=True, text=True, check=True
    )
    labels = (f"before ({commit.stdout.strip()})", "now")
    runs: dict[str, list] = {label: [] for label in labels}
    served_from: dict[str, str] = {}  # the folder a worker of each side runs in
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        files = subprocess.run([*git, "archive", before], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=files, check=True)
        code = {labels[0]: Path(folder), labels[1]: ROOT}
        for round_ in range(rounds):
            for label in labels if round_ % 2 == 0 else labels[::-1]:
                _forget_rendered_feeds(url)
                first_new = _next_ids(url)
                server = start_gunicorn("wsgi:app", _server_env(url), workers, cwd=code[label])
                try:
                    served_from[label] = os.readlink(f"/proc/{server.worker_pids()[0]}/cwd")
                    app_cpu = cpu_seconds(server.worker_pids())
                    elapsed, results, first_fetches = drive(server.url, facts, clients, seconds, max_requests)
                    used = (
                        cpu_used(app_cpu, cpu_seconds(server.worker_pids())),
                        sum(cpu_seconds(_database_backends(url)).values()),
                    )
                    runs[label].append((elapsed, results, first_fetches, used))
                finally:
                    server.stop()
                    _cleanup(url, first_new)
    lines = [
        f"- setup: gunicorn {workers} sync workers, {clients} concurrent keep-alive clients, "
        f"{seconds:.0f} s of the mix per client and round, {rounds} rounds each, the order alternating; "
        "the rendered feeds forgotten before each round"
    ]
    figures = {}
    for label in labels:  # each run: (seconds, the mix's results, first fetches, (app, PostgreSQL) CPU)
        elapsed = sum(run[0] for run in runs[label])
        results = [r for run in runs[label] for r in run[1]]
        first_fetches = [f for run in runs[label] for f in run[2]]
        errors = sum(1 for _, status, _ in results + first_fetches if status >= 500)
        requests = len(results) + len(first_fetches)
        app_ms, database_ms = (
            sum(run[3][i] for run in runs[label]) * 1000 / requests if requests else 0.0 for i in (0, 1)
        )
        everything = Timings([ms for *_, ms in results])
        first = Timings([ms for *_, ms in first_fetches]).summary()
        figures[label] = (len(results) / elapsed if elapsed else 0.0, everything.p(99), errors)
        lines += [
            "",
            f"**{label}**: first fetches of the subscribed feeds {first}; server errors (5xx): {errors}; "
            f"CPU per request, first fetches included: app workers {app_ms:.1f} ms"
            + (f", PostgreSQL (this database's backends) {database_ms:.1f} ms" if database_ms else ""),
            "",
            *summarize(elapsed, results),
        ]
    (rps_before, p99_before, errors_before), (rps_now, p99_now, errors_now) = (
        figures[label] for label in labels
    )
    ratio = rps_now / rps_before if rps_before else float("inf")
    lines.append(
        f"- **now / before: {ratio:.2f}x the throughput ({rps_now:.1f} vs {rps_before:.1f} req/s); "
        f"p99 {p99_now:.0f} ms vs {p99_before:.0f} ms**"
    )
    append_report("Load: a realistic mix, beside the code before", url, lines, command, save=report)
    return {
        "ratio": ratio,
        "rps": rps_now,
        "p99_ms": p99_now,
        "before_rps": rps_before,
        "errors": errors_before + errors_now,
        "served_from": served_from,
    }
