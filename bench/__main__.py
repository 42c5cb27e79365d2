"""``python -m bench COMMAND``: seed, the benchmarks, and the load tool (see BENCHMARKS.md).

Databases default to ``BENCH_DATABASE_URL`` (large, about 1,000,000 occurrences) and
``BENCH_SMALL_DATABASE_URL`` (about 10,000), both PostgreSQL on 127.0.0.1; ``history`` resets
``BENCH_HISTORY_DATABASE_URL``, ``registry`` resets ``BENCH_REGISTRY_DATABASE_URL``,
``allocation-db`` resets ``BENCH_ROUNDS_DATABASE_URL``, ``peer`` resets ``BENCH_PEER_DATABASE_URL``
(OneGov's libres, from the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import sys

LARGE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench")
SMALL_URL = os.environ.get(
    "BENCH_SMALL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench_small"
)
# The history benchmark resets its database: one of its own.
HISTORY_URL = os.environ.get(
    "BENCH_HISTORY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench_history"
)
# The register import benchmark resets its database too.
REGISTRY_URL = os.environ.get(
    "BENCH_REGISTRY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench_registry"
)
# And the allocation benchmark with a database (it seeds its rounds afresh).
ROUNDS_URL = os.environ.get(
    "BENCH_ROUNDS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench_rounds"
)

# OneGov's libres, the peer of ``bench peer``, on a database of its own (reset on every run).
PEER_URL = os.environ.get(
    "BENCH_PEER_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/booking_bench_peer"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    seed = sub.add_parser("seed", help="reset a database and fill it with bench data")
    seed.add_argument("--url", default=LARGE_URL)
    seed.add_argument("--size", default="large", choices=("large", "medium", "small", "tiny"))
    seed.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")

    create = sub.add_parser("create", help="(1)+(5) booking create over HTTP vs baseline; worker RSS")
    create.add_argument("--url", default=LARGE_URL)
    create.add_argument("--workers", type=int, default=4)
    create.add_argument("--clients", type=int, default=16)
    create.add_argument("--seconds", type=float, default=30)
    create.add_argument("--conflict-share", type=float, default=0.3)

    cost = sub.add_parser("create-cost", help="(1) in-process: CPU and statements per create request")
    cost.add_argument("--url", default=LARGE_URL)
    cost.add_argument("--count", type=int, default=400)
    cost.add_argument("--conflict-share", type=float, default=0.3)

    conflict = sub.add_parser("conflict", help="(2) conflict check at ~10k and ~1M occurrences")
    conflict.add_argument("--small-url", default=SMALL_URL)
    conflict.add_argument("--url", default=LARGE_URL)
    conflict.add_argument("--repeat", type=int, default=500)

    for name, text in (
        ("availability", "(3) room search and a room's week"),
        ("schedule", "(4) janitor day schedule and a member's booking list"),
    ):
        parser_ = sub.add_parser(name, help=text)
        parser_.add_argument("--url", default=LARGE_URL)
        parser_.add_argument("--repeat", type=int, default=50)

    load = sub.add_parser("load", help="replay a realistic mix against a server (loopback only)")
    load.add_argument("--url", default=LARGE_URL, help="database to serve (a server is started on it)")
    load.add_argument("--target", default=None, help="an already running server, e.g. http://127.0.0.1:8000")
    load.add_argument("--workers", type=int, default=4)
    load.add_argument("--clients", type=int, default=16)
    load.add_argument("--seconds", type=float, default=30)
    load.add_argument("--max-requests", type=int, default=100_000)
    load.add_argument("--before", default=None, help="a git revision: run its code beside this one, in turns")
    load.add_argument("--rounds", type=int, default=2, help="with --before: rounds of each")

    history = sub.add_parser("history", help="concurrent lifecycle histories, checked (resets the database)")
    history.add_argument("--url", default=HISTORY_URL)
    history.add_argument("--histories", type=int, default=10)
    history.add_argument("--ops", type=int, default=100, help="operations per client and history")
    history.add_argument("--clients", type=int, default=16)
    history.add_argument("--workers", type=int, default=4, help="per server (two servers)")
    history.add_argument("--seed", type=int, default=1)
    history.add_argument("--max-seconds", type=float, default=900)
    history.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    history.add_argument("--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is")

    mail = sub.add_parser(
        "mail", help="mail worker (SPEC §12): throughput vs smtplib; delay under create load"
    )
    mail.add_argument("--url", default=SMALL_URL)
    mail.add_argument("--events", type=int, default=200, help="outbox events for the throughput part")
    mail.add_argument("--workers", type=int, default=4, help="gunicorn workers for the load part")
    mail.add_argument("--clients", type=int, default=16)
    mail.add_argument("--seconds", type=float, default=30)
    mail.add_argument("--conflict-share", type=float, default=0.3)
    mail.add_argument(
        "--poll-seconds", type=float, default=None, help="the mail worker's poll interval under load"
    )
    mail.add_argument("--drain-seconds", type=float, default=120, help="how long to wait for the last mail")
    mail.add_argument("--mail-workers", type=int, default=1, help="mail worker processes under load")

    registry = sub.add_parser(
        "registry", help="import of a synthetic Enhetsregisteret bulk file (SPEC §13) vs parsing it"
    )
    registry.add_argument("--url", default=REGISTRY_URL, help="reset and migrated: its own database")
    registry.add_argument("--units", type=int, default=1_000_000)
    registry.add_argument("--file", default=None, help="keep the generated file here (reused if there)")
    registry.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    registry.add_argument("--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is")

    allocation = sub.add_parser(
        "allocation", help="seasonal allocation (SPEC §14) vs first come, first served; no database"
    )
    allocation.add_argument("--applications", type=int, default=2000)
    allocation.add_argument("--rooms", type=int, default=500)
    allocation.add_argument("--weeks", type=int, default=15, help="length of the season")
    allocation.add_argument("--repeat", type=int, default=5, help="runs of each, the median reported")
    allocation.add_argument("--seed", type=int, default=14, help="the synthetic round's random seed")
    allocation.add_argument("--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is")

    allocation_db = sub.add_parser(
        "allocation-db",
        help="seasonal allocation (SPEC §14) through the database vs allocate alone (resets the database)",
    )
    allocation_db.add_argument("--url", default=ROUNDS_URL, help="reset and seeded: its own database")
    allocation_db.add_argument("--applications", type=int, default=2000)
    allocation_db.add_argument("--rooms", type=int, default=500)
    allocation_db.add_argument("--small-applications", type=int, default=500, help="the smaller round")
    allocation_db.add_argument("--small-rooms", type=int, default=125, help="the smaller round's rooms")
    allocation_db.add_argument("--weeks", type=int, default=15, help="length of the season")
    allocation_db.add_argument("--repeat", type=int, default=5, help="runs of each, the median reported")
    allocation_db.add_argument("--seed", type=int, default=14, help="the seeded round's random seed")
    allocation_db.add_argument(
        "--force", action="store_true", help="allow a database whose name lacks 'bench'"
    )
    allocation_db.add_argument(
        "--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is"
    )

    feed_cache = sub.add_parser(
        "feed-cache", help="(SPEC §7.11) the busiest building feed: cold render vs stored, bytes with gzip"
    )
    feed_cache.add_argument("--url", default=LARGE_URL, help="a seeded database at the current migration")
    feed_cache.add_argument("--cache", default="", help="the store: empty for the database, or redis://...")
    feed_cache.add_argument("--repeat", type=int, default=50, help="cached GETs timed")
    feed_cache.add_argument("--cold-repeat", type=int, default=5, help="cold renders timed")
    feed_cache.add_argument("--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is")

    peer = sub.add_parser(
        "peer", help="create in-process vs OneGov's libres (reserve + approve) and the raw INSERT floor"
    )
    peer.add_argument("--url", default=LARGE_URL, help="this project's seeded database (and the floor's)")
    peer.add_argument("--peer-url", default=PEER_URL, help="libres' database: reset, its own")
    peer.add_argument("--count", type=int, default=300, help="attempts per round")
    peer.add_argument("--rounds", type=int, default=3)
    peer.add_argument("--conflict-share", type=float, default=0.3)
    peer.add_argument("--profile", action="store_true", help="profile this project's create (pyinstrument)")
    peer.add_argument("--force", action="store_true", help="allow a peer database whose name lacks 'bench'")
    peer.add_argument("--no-save", action="store_true", help="print only; leave BENCHMARKS.md as it is")

    sub.add_parser("all", help="conflict, availability, schedule, create and load with the defaults")

    args = parser.parse_args(argv)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.command == "seed":
        from bench.seed import SIZES
        from bench.seed import seed as do_seed

        do_seed(args.url, SIZES[args.size], force=args.force)
    elif args.command == "create":
        from bench.bench_create import run

        run(
            args.url,
            workers=args.workers,
            clients=args.clients,
            seconds=args.seconds,
            conflict_share=args.conflict_share,
            command=command,
        )
    elif args.command == "create-cost":
        from bench.bench_create import run_cost

        run_cost(args.url, count=args.count, conflict_share=args.conflict_share, command=command)
    elif args.command == "conflict":
        from bench.bench_queries import run_conflict

        run_conflict(args.small_url, args.url, args.repeat, command=command)
    elif args.command == "availability":
        from bench.bench_queries import run_availability

        run_availability(args.url, args.repeat, command=command)
    elif args.command == "schedule":
        from bench.bench_queries import run_schedule

        run_schedule(args.url, args.repeat, command=command)
    elif args.command == "load":
        from bench.load import run as run_load
        from bench.load import run_beside

        if args.before:
            run_beside(
                args.url,
                args.before,
                workers=args.workers,
                clients=args.clients,
                seconds=args.seconds,
                max_requests=args.max_requests,
                rounds=args.rounds,
                command=command,
            )
        else:
            run_load(
                args.url,
                target=args.target,
                workers=args.workers,
                clients=args.clients,
                seconds=args.seconds,
                max_requests=args.max_requests,
                command=command,
            )
    elif args.command == "feed-cache":
        from bench.bench_feed_cache import run as run_feed_cache

        run_feed_cache(
            args.url,
            args.cache,
            repeat=args.repeat,
            cold_repeat=args.cold_repeat,
            command=command,
            save=not args.no_save,
        )
    elif args.command == "history":
        from bench.bench_history import run as run_history

        violations = run_history(
            args.url,
            histories=args.histories,
            operations=args.ops,
            clients=args.clients,
            workers=args.workers,
            seed=args.seed,
            max_seconds=args.max_seconds,
            force=args.force,
            command=command,
            save=not args.no_save,
        )
        if violations:
            sys.exit(1)
    elif args.command == "mail":
        from bench.bench_mail import run as run_mail

        run_mail(
            args.url,
            events=args.events,
            workers=args.workers,
            clients=args.clients,
            seconds=args.seconds,
            conflict_share=args.conflict_share,
            poll_seconds=args.poll_seconds,
            drain_seconds=args.drain_seconds,
            mail_workers_under_load=args.mail_workers,
            command=command,
        )
    elif args.command == "registry":
        from bench.bench_registry import run as run_registry

        run_registry(
            args.url,
            units=args.units,
            file=args.file,
            force=args.force,
            command=command,
            save=not args.no_save,
        )
    elif args.command == "allocation":
        from bench.bench_allocation import run as run_allocation

        run_allocation(
            applications=args.applications,
            rooms=args.rooms,
            weeks=args.weeks,
            repeat=args.repeat,
            seed=args.seed,
            command=command,
            save=not args.no_save,
        )
    elif args.command == "allocation-db":
        from bench.bench_allocation_db import run as run_allocation_db

        run_allocation_db(
            args.url,
            applications=args.applications,
            rooms=args.rooms,
            small_applications=args.small_applications,
            small_rooms=args.small_rooms,
            weeks=args.weeks,
            repeat=args.repeat,
            seed=args.seed,
            force=args.force,
            command=command,
            save=not args.no_save,
        )
    elif args.command == "peer":
        from bench.bench_peer import run as run_peer

        run_peer(
            args.url,
            peer_url=args.peer_url,
            count=args.count,
            rounds=args.rounds,
            conflict_share=args.conflict_share,
            force=args.force,
            profile=args.profile,
            command=command,
            save=not args.no_save,
        )
    elif args.command == "all":
        for sub_args in (["conflict"], ["availability"], ["schedule"], ["create-cost"], ["create"], ["load"]):
            main(sub_args)


if __name__ == "__main__":
    main()
