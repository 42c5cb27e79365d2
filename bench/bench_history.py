"""``python -m bench history``: the concurrent-history check of the booking lifecycle (SPEC §11),
bigger than the one CI runs (``tests/integration/test_lifecycle_history.py``).

Resets the database (its name must contain ``bench`` unless ``--force``), migrates it, starts
two gunicorn servers on it (loopback only) and plays ``--histories`` histories one after the
other, each in a building of its own: ``--clients`` threads doing ``--operations`` random
lifecycle actions each (create, approve, reject, cancel, move, edit, an admin's force, with
fresh, stale or no ``If-Match``). After each, the checker holds the record against the database
and the API. Reports the operations and histories checked and the violations found, by kind;
the first violations of a history are explained request by request.

Bounded in time: no history starts after ``--max-seconds``, and the clients of a running one
stop starting actions then (every request has its own 60-second timeout).
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.common import append_report, start_gunicorn
from bench.seed import check_target, reset_and_migrate
from booking.config import normalize_database_url
from tests.integration.lifecycle_checker import build_world, check_history, explain, run_history


def _require_loopback_database(url: str) -> None:
    """The benchmark's database is on this machine too (SQLite, or a server on loopback)."""
    host = make_url(url).host
    if host in (None, "", "localhost"):
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to use a database on {host}: loopback addresses only")


def run(
    url: str,
    *,
    histories: int,
    operations: int,
    clients: int,
    workers: int,
    seed: int,
    max_seconds: float,
    force: bool,
    command: str,
    save: bool = True,
) -> int:
    """Play and check the histories; returns the number of violations found."""
    url = normalize_database_url(url)
    _require_loopback_database(url)
    check_target(url, force)
    started = time.monotonic()
    deadline = started + max_seconds
    reset_and_migrate(url)

    from booking import create_app
    from booking.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    env = {"BOOKING_DATABASE_URL": url, "BOOKING_SECRET_KEY": "bench-history"}
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_gunicorn, "wsgi:app", env, workers) for _ in range(2)]
    servers = [future.result() for future in starting if future.exception() is None]
    engine = create_engine(url)
    checked, actions, requests, statuses = 0, 0, 0, Counter()
    tried: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    try:
        for future in starting:
            if future.exception() is not None:
                raise future.exception()
        urls = [server.url for server in servers]
        for number in range(1, histories + 1):
            if time.monotonic() > deadline:
                print(f"stopped after {checked} histories: --max-seconds {max_seconds:g} reached")
                break
            with app.app_context():
                world = build_world(number, clients)
                db.session.remove()
            history = run_history(
                urls, world, clients=clients, operations=operations, seed=seed + number, deadline=deadline
            )
            violations, final = check_history(history, world, engine, urls[0])
            checked += 1
            actions += sum(not op.auxiliary for op in history.ops)
            requests += len(history.ops)
            statuses.update(op.status for op in history.ops)
            tried.update(op.action for op in history.ops if not op.auxiliary)
            succeeded.update(op.action for op in history.ops if not op.auxiliary and op.ok)
            kinds.update(v.kind for v in violations)
            print(
                f"history {number}: {len(history.ops)} requests, {len(final.bookings)} bookings, "
                f"{len(violations)} violations"
            )
            if violations:
                print(explain(violations, history, final, limit=3))
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.stop(), servers))
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
    found = sum(kinds.values())
    by_kind = ", ".join(f"{kind} x{n}" for kind, n in kinds.most_common()) or "none"
    answers = ", ".join(f"{status or 'none'}: {n}" for status, n in sorted(statuses.items()))
    lines = [
        f"- histories checked: {checked} of {histories}, each {clients} clients x {operations} "
        f"operations through two gunicorn servers x {workers} workers",
        f"- operations: {actions} ({requests} requests with the reads for a fresh If-Match); "
        f"answers by status: {answers}",
        "- succeeded of tried, by action: "
        + ", ".join(f"{action} {succeeded[action]}/{n}" for action, n in sorted(tried.items())),
        f"- violations found: {found} ({by_kind})",
        f"- time: {time.monotonic() - started:.1f} s",
    ]
    append_report("Lifecycle histories (SPEC §11)", url, lines, command, save=save)
    return found
