"""Smoke versions of every benchmark and of the load tool, on a tiny seeded database of their own
(next to the suite's: a file on SQLite, ``<test database>_bench`` on PostgreSQL). They prove the
tools run and keep their promises (bounded queries, no server errors, cleanup); the figures
themselves come from the big runs recorded in BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench import bench_create, bench_mail, bench_peer, bench_queries, bench_registry, load
from bench.common import ROOT
from bench.seed import SIZES, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_url(database_url, tmp_path_factory):
    if database_url.startswith("sqlite"):
        url = "sqlite:///" + str(tmp_path_factory.mktemp("bench") / "bench_smoke.sqlite")
    else:
        parsed = make_url(database_url)
        name = f"{parsed.database}_bench"
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = parsed.set(database=name).render_as_string(hide_password=False)
    layout = seed(url, SIZES["tiny"], quiet=True)
    assert layout.occurrences > 500
    return url


def _bookings(url: str) -> int:
    from booking.models import Booking

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Booking)).scalar_one()
    engine.dispose()
    return count


def test_conflict_check_is_one_statement(bench_url):
    figures = bench_queries.run_conflict(bench_url, bench_url, repeat=20, report=False)
    assert figures["small_ms"] > 0 and figures["ratio"] > 0
    timings, occurrences, statements = bench_queries.conflict_check(bench_url, repeat=5)
    assert statements == 1 and occurrences > 500


def test_availability_and_schedule_queries_are_bounded(bench_url):
    availability = bench_queries.run_availability(bench_url, repeat=3, report=False)
    assert availability["search_statements"] <= 7 and availability["week_statements"] <= 6
    schedule = bench_queries.run_schedule(bench_url, repeat=3, report=False)
    assert schedule["schedule_statements"] <= 8 and schedule["list_statements"] <= 7


def test_create_benchmark_runs_both_servers_and_cleans_up(bench_url):
    before = _bookings(bench_url)
    figures = bench_create.run(bench_url, workers=2, clients=2, seconds=3, processes=1, report=False)
    assert set(figures["product_statuses"]) <= {201, 409} and 201 in figures["product_statuses"]
    assert set(figures["baseline_statuses"]) <= {201, 409} and 201 in figures["baseline_statuses"]
    assert figures["baseline_rps"] > 0 and figures["product_rps"] > 0
    assert 30 < figures["peak_rss_mb"] < 1000
    assert figures["product_cpu_ms"]["workers"] > 0 and figures["baseline_cpu_ms"]["workers"] > 0
    assert _bookings(bench_url) == before


def test_create_cost_counts_statements_per_outcome_and_cleans_up(bench_url):
    before = _bookings(bench_url)
    figures = bench_create.run_cost(bench_url, count=60, report=False)
    assert 201 in figures and set(figures) <= {201, 409, 422}
    # A single create: the actor; the room with its building, closures and units, and the
    # organisation; the conflict check (which also reads pending requests); the price lists; the
    # booking, its audit entry, its occupancy; the feed markers. A change that adds a round trip
    # to every booking shows up here. SQLite counts its explicit BEGIN IMMEDIATE as one more.
    begin = 1 if bench_url.startswith("sqlite") else 0
    assert figures[201][1] <= 8 + begin
    assert 409 not in figures or figures[409][1] <= 6 + begin
    assert _bookings(bench_url) == before


def test_planned_free_attempts_avoid_bookings_left_at_their_times(bench_url):
    """A booking at a planned free slot (a load run with ``--target`` leaves its own at 22:00)
    makes the planner pick another time, so no system is counted wrong for refusing it."""
    first = [a for a in bench_create.plan_attempts(bench_url, 40, 0.0, seed=5) if not a.conflicting]
    left = first[::2]
    first_new = bench_create._next_ids(bench_url)
    try:
        ours = bench_peer.Ours(bench_url)
        try:
            assert all(ours(attempt) for attempt in left)
        finally:
            ours.close()
        again = [a for a in bench_create.plan_attempts(bench_url, 40, 0.0, seed=5) if not a.conflicting]
        assert again and not {(a.unit_ids, a.start) for a in left} & {(a.unit_ids, a.start) for a in again}
        engine = create_engine(bench_url)
        assert all(bench_create._free(engine, a.unit_ids, a.start, a.end) for a in again)
        engine.dispose()
    finally:
        bench_create._cleanup(bench_url, first_new)


def test_load_tool_replays_the_mix_without_server_errors(bench_url):
    before = _bookings(bench_url)
    figures = load.run(bench_url, workers=2, clients=2, seconds=3, max_requests=80, report=False)
    assert 0 < figures["requests"] <= 80
    assert figures["errors"] == 0
    assert _bookings(bench_url) == before


def test_load_tool_runs_a_revision_beside_this_checkout(bench_url):
    before = _bookings(bench_url)
    figures = load.run_beside(
        bench_url, "HEAD", workers=1, clients=2, seconds=2, max_requests=40, rounds=1, report=False
    )
    assert figures["rps"] > 0 and figures["before_rps"] > 0  # both servers answered the mix
    assert figures["errors"] == 0
    # the revision was served from its exported folder, this checkout from its own
    before_folder, now_folder = figures["served_from"].values()
    assert Path(now_folder) == ROOT and Path(before_folder) != ROOT
    assert Path(before_folder).name.startswith("bench-before-")  # (removed after the run)
    assert _bookings(bench_url) == before


def _outbox_events(url: str) -> int:
    from booking.models import OutboxEvent

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(OutboxEvent)).scalar_one()
    engine.dispose()
    return count


def test_mail_benchmark_sends_every_message_and_cleans_up(bench_url):
    bookings, events = _bookings(bench_url), _outbox_events(bench_url)
    figures = bench_mail.run(
        bench_url,
        events=10,
        mail_processes=(1,),
        workers=2,
        clients=2,
        seconds=1.5,
        processes=1,
        poll_seconds=0.2,
        report=False,
    )
    cost = figures["cost"]
    assert cost["events"] == 10 and cost["messages"] >= 10  # the contact, and the booker if a member
    assert cost["send_statements"] > 0 and cost["send_cpu_ms"] > 0
    (batch,) = figures["throughput"]["batches"]
    baseline = figures["throughput"]["baseline"]
    assert batch.messages == baseline.messages == cost["messages"]  # the same bytes, resent
    assert batch.rate > 0 and baseline.rate > 0 and batch.bytes_median > 1000  # text, HTML and .ics
    delay = figures["delay"]
    assert 201 in delay["shared"].statuses() and 201 in delay["alone"].statuses()
    assert set(delay["shared"].statuses()) <= {201, 409}
    assert delay["messages"] >= delay["created"] > 0 and delay["missing"] == 0 and delay["drained"]
    assert len(delay["delays"]) == delay["messages"]
    assert all(0 < seconds < bench_mail.WITHIN for seconds in delay["delays"])
    assert _bookings(bench_url) == bookings and _outbox_events(bench_url) == events


@pytest.fixture(scope="module")
def registry_bench_url(database_url, tmp_path_factory):
    """The register benchmark resets its database: one of its own, beside the seeded one."""
    if database_url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path_factory.mktemp("bench") / "bench_registry_smoke.sqlite")
    parsed = make_url(database_url)
    return parsed.set(database=f"{parsed.database}_bench_registry").render_as_string(hide_password=False)


def test_registry_benchmark_imports_the_synthetic_file_streaming(registry_bench_url):
    figures = bench_registry.run(registry_bench_url, units=3_000, malformed_every=1_000, report=False)
    assert figures["units"] == 3_000 and figures["skipped"] == figures["expected_skipped"] == 3
    assert figures["imported"] == 2_997 and figures["import_seconds"] > 0 and figures["parse_seconds"] > 0
    # Each phase measured in a process of its own: the app's modules, not the file, fill it.
    assert 30 < figures["import_rss_mb"] < figures["idle_rss_mb"] + 100


def test_load_goes_to_loopback_only():
    from bench.common import require_loopback

    require_loopback("http://127.0.0.1:8000")
    require_loopback("http://localhost:8000")
    for url in ("http://192.0.2.1:8000", "http://10.0.0.1", "http://[2001:db8::1]:80"):
        with pytest.raises(SystemExit):
            require_loopback(url)


def test_allocation_benchmark_compares_the_rule_with_first_come_first_served():
    from bench import bench_allocation

    figures = bench_allocation.run(applications=150, rooms=40, weeks=3, repeat=1, report=False)
    assert figures["applications"] == 150 and figures["rooms"] == 40 and figures["busy"] > 0
    rule, fcfs = figures["rule"], figures["fcfs"]
    assert sum(rule["per_class"].values()) == 150 and rule["per_class"] == fcfs["per_class"]
    assert 0 < rule["given"] <= 150 and 0 < fcfs["given"] <= 150
    # Class 1 goes first under the rule: on this round it gets its first wish more often.
    assert rule["first_wish"][1] >= rule["first_wish"][3]
    assert figures["rule_seconds"] > 0 and figures["fcfs_seconds"] > 0


@pytest.fixture(scope="module")
def rounds_bench_url(database_url, tmp_path_factory):
    """The database allocation benchmark resets its database: one of its own."""
    if database_url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path_factory.mktemp("bench") / "bench_rounds_smoke.sqlite")
    parsed = make_url(database_url)
    return parsed.set(database=f"{parsed.database}_bench_rounds").render_as_string(hide_password=False)


def test_allocation_through_the_database_sends_as_many_statements_at_either_size(rounds_bench_url):
    from bench import bench_allocation_db

    figures = bench_allocation_db.run(
        rounds_bench_url,
        applications=120,
        rooms=30,
        small_applications=30,
        small_rooms=8,
        weeks=4,
        repeat=1,
        report=False,
    )
    small, large = figures["small"], figures["large"]
    assert small["applications"] == 30 and large["applications"] == 120
    assert large["seeded"].rooms == 30 and large["busy"] > small["busy"] > 0
    assert large["continuity"] > 0 and 0 < large["given"] < 120
    # The service's result is the pure allocation's on the facts it reads.
    assert small["same_result"] and large["same_result"]
    # Four times the applications and rooms: not one statement more (none per application or
    # per week), in every run, the first (nothing to replace) as the repeated one.
    assert small["statement_counts"] == large["statement_counts"]
    assert max(large["statement_counts"]) <= 18
