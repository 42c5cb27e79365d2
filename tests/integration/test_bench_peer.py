"""Smoke version of ``python -m bench peer`` (this project's create use case against OneGov's
libres and the raw INSERT floor) on a tiny seeded database and a libres database of its own,
both next to the suite's PostgreSQL database and dropped afterwards. libres runs on PostgreSQL
only, so on SQLite this skips. The figures come from the big runs recorded in BENCHMARKS.md;
this proves the three systems get the same attempts and answer each as they must, and that the
run cleans up after itself."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.seed import SIZES, seed

pytestmark = pytest.mark.slow


@pytest.fixture
def peer_urls(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("libres runs on PostgreSQL only (set BOOKING_TEST_DATABASE_URL)")
    pytest.importorskip("libres", reason="the peer benchmark's extra: pip install -e '.[bench]'")
    parsed = make_url(database_url)
    names = [f"{parsed.database}_peer_bench", f"{parsed.database}_peer_bench_libres"]
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{names[0]}"'))
    urls = [parsed.set(database=name).render_as_string(hide_password=False) for name in names]
    try:
        seed(urls[0], SIZES["tiny"], quiet=True)
        yield urls
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(text(table))).scalar_one()
    engine.dispose()
    return count


def test_peer_benchmark_answers_the_same_attempts_alike_and_cleans_up(peer_urls):
    from bench import bench_peer

    url, libres_url = peer_urls
    before = {table: _count(url, table) for table in ("bookings", "audit_log", "outbox_events")}
    figures = bench_peer.run(
        url, peer_url=libres_url, count=20, rounds=2, warmup=5, conflict_share=0.3, profile=True, save=False
    )
    # Every free slot granted and every taken one refused, by each of the three.
    assert figures["wrong"] == {"floor": 0, "libres": 0, "ours": 0}
    rounds = figures["rounds"]
    assert rounds["ours"] == rounds["libres"] == rounds["floor"]
    assert all(created > 0 and refused > 0 for created, refused in rounds["ours"])
    assert figures["ours_per_second"] > 0 and figures["libres_per_second"] > 0
    assert figures["ratio"] == pytest.approx(figures["ours_per_second"] / figures["libres_per_second"])
    assert "create_booking" in figures["profile"]
    # libres wrote its reservations to its own database; ours and the floor's are gone again.
    assert _count(libres_url, "reserved_slots") > 0
    assert {table: _count(url, table) for table in before} == before
    assert _count(url, "bench_baseline_holds") == 0
