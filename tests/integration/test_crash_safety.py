"""Crash safety: in the middle of a booking load, ``kill -9`` a gunicorn worker, let the master
replace it, then ``kill -9`` the master and the workers left. After a restart every booking that
got a 201 is there and confirmed, every series is complete (all of its occurrences, or none of
it), nothing is double-booked, and the service answers again. Runs on the suite's database
(SQLite by default, PostgreSQL with BOOKING_TEST_DATABASE_URL). Bounded: at most
``MAX_REQUESTS`` per client and ``MAX_SECONDS`` of load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.common import child_pids, free_port
from booking.extensions import db
from booking.models import Booking, Occupancy, Series
from tests.integration.live_http import ROOT, wait_until_up
from tests.integration.live_http import stop as stop_servers
from tests.integration.test_no_double_booking import overlapping_active_pairs
from tests.integration.test_races import post_booking

pytestmark = pytest.mark.slow
CLIENTS = 4
MAX_REQUESTS = 150
MAX_SECONDS = 40
SERIES_COUNT = 4  # occurrences per series


def _start(database_url: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, BOOKING_DATABASE_URL=database_url, BOOKING_SECRET_KEY="crash-test")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "critical",
            "--graceful-timeout",
            "2",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process, timeout=60)
    deadline = time.monotonic() + 30
    while len(child_pids(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    return process


def _slots(single_rooms: list[int], series_room: int, base: datetime):
    """Distinct free slots: singles in their rooms, series (4 weekly occurrences) in another."""

    def single(n: int) -> dict:
        start = base + timedelta(days=3 + n // 6, hours=2 * (n % 6))
        return {
            "room_id": single_rooms[n % len(single_rooms)],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }

    def series(k: int) -> dict:
        block, hour = divmod(k, 6)
        start = base + timedelta(days=3 + 28 * (block // 7) + block % 7, hours=2 * hour)
        return {
            "room_id": series_room,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": f"FREQ=WEEKLY;COUNT={SERIES_COUNT}"},
        }

    return single, series


def test_kill_9_worker_then_master_loses_no_confirmed_booking(app_ctx, make, database_url):
    building = make.building()
    single_rooms = [make.room(building, name=f"Enkel {i}", max_advance_days=365) for i in range(3)]
    series_room = make.room(building, name="Serie", max_advance_days=365)
    organization = make.organization()
    token = make.user("member", organizations=[organization], password=None).token
    organization_id, series_room_id = organization.id, series_room.id  # plain values for the threads
    base = (datetime.now(UTC) + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    single, series = _slots([r.id for r in single_rooms], series_room_id, base)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start(database_url, port)
    created: list[tuple[str, dict]] = []
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + MAX_SECONDS

    def client(i: int) -> None:
        for j in range(MAX_REQUESTS):
            if stop.is_set() or time.monotonic() > deadline:
                return
            n = i * MAX_REQUESTS + j
            kind = "series" if n % 3 == 0 else "single"
            slot = series(n // 3) if kind == "series" else single(n)
            status, body = post_booking(
                url, token, {"organization_id": organization_id, "title": f"Last {n}", **slot}, timeout=15
            )
            with lock:
                statuses.append(status)
            if status == 201:
                with lock:
                    created.append((kind, body))
            elif status == 0:
                time.sleep(0.05)

    def wait_for(count: int, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            with lock:
                if len(created) >= count:
                    return
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    processes = [server]
    try:
        for thread in threads:
            thread.start()
        wait_for(15, 20)
        first_workers = child_pids(server.pid)
        assert first_workers, "gunicorn has no workers"
        os.kill(first_workers[0], signal.SIGKILL)
        after_worker_kill = len(created)
        wait_for(after_worker_kill + 15, 20)  # the master replaced the worker; the load goes on
        assert len(created) > after_worker_kill, f"no booking succeeded after a worker was killed: {statuses}"
        workers = child_pids(server.pid)
        os.kill(server.pid, signal.SIGKILL)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.wait(timeout=10)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)

    restarted = _start(database_url, free_port())
    processes.append(restarted)
    try:
        db.session.rollback()  # end the test's read snapshot (taken before the load) and look afresh
        singles = [body for kind, body in created if kind == "single"]
        series_bodies = [body for kind, body in created if kind == "series"]
        assert singles and series_bodies, "the load made no bookings"
        for body in singles:
            booking = db.session.get(Booking, body["id"])
            assert booking is not None and booking.status == "confirmed", (
                body,
                booking and (booking.status, booking.title, booking.start),
            )
            assert booking.title == body["title"]
        for body in series_bodies:
            stored = db.session.get(Series, body["id"])
            assert stored is not None, body["id"]
            assert sorted(b.id for b in stored.occurrences) == sorted(o["id"] for o in body["occurrences"])
        # All or nothing, also for requests whose answer was lost in the crash.
        for stored in db.session.scalars(select(Series).where(Series.room_id == series_room_id)):
            assert len(stored.occurrences) == SERIES_COUNT, stored.id
        confirmed = db.session.scalar(
            select(func.count()).select_from(Booking).where(Booking.status == "confirmed")
        )
        with_occupancy = db.session.scalar(select(func.count(func.distinct(Occupancy.booking_id))))
        assert confirmed == with_occupancy  # no booking without its hold, no hold without a booking
        assert overlapping_active_pairs() == []
        # and the service answers again
        status, body = post_booking(
            f"http://127.0.0.1:{restarted.args[6].rsplit(':', 1)[1]}",
            token,
            {"organization_id": organization_id, "title": "Etter krasj", **single(2_000)},
            timeout=15,
        )
        assert status == 201, status
    finally:
        stop_servers(processes)
