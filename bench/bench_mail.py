"""The mail worker (SPEC §12): its throughput, and the delay from a change to its mail under load.

Both parts send to ``bench.smtp_sink.SmtpSink``, a real SMTP server (aiosmtpd) on loopback in
this process that records when it accepted each message, and run the worker as the product runs
it: ``booking worker`` processes on the bench database.

1. **Throughput.** ``--events`` ``booking_confirmed`` events for confirmed bookings of the seeded
   data are written straight into the outbox, in one transaction, while the workers are idle:
   four in five about a single booking, one in five about a whole weekly series, each mailed to
   the organisation's contact and the booker (text, HTML and an ``.ics``). The clock runs from
   that commit to the sink's acceptance of the last message, with 1 and then 2 worker processes
   (``BOOKING_MAIL_POLL_SECONDS`` 0.05, after a warm-up batch). The **baseline**, side by side:
   the very bytes the sink received from the worker run, sent again by a plain ``smtplib`` loop
   over one connection from a process of its own. worker/baseline is what rendering and the
   outbox's bookkeeping (expand, claim, lease, mark sent) cost over raw SMTP.
2. **Delay under load.** The create benchmark's request mix (``bench.bench_create``: the same
   plan, clients, seconds and share of taken slots) against gunicorn, once without a mail worker
   and once with one running (``BOOKING_MAIL_POLL_SECONDS`` as in production unless given). For
   every message of the bookings created in the second run: delay = the sink's acceptance time
   minus the event's ``created_at`` (one machine, one clock), until all are sent or
   ``drain_seconds`` after the load stopped. Reported: the distribution, the share within a
   minute (SPEC §12), and the create throughput with the worker beside it relative to without
   (the worker shares the database and, here, the cores).

Everything a run adds (events and their messages, bookings, audit entries) is deleted afterwards.
"""

from __future__ import annotations

import json
import os
import pickle
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy import create_engine, delete, func, insert, select
from sqlalchemy.engine import Engine

from bench.bench_create import _cleanup, _next_ids, _product_request, drive_measured, plan_attempts
from bench.common import (
    ROOT,
    StatementCounter,
    cpu_seconds,
    cpu_used,
    percentile,
    postgres_pids,
    server_env,
    start_gunicorn,
)
from bench.common import append_report as _append_report
from bench.smtp_sink import Received, SmtpSink
from booking.config import normalize_database_url
from booking.models import Booking, OutboxEvent, OutboxMessage
from booking.models.types import utcnow

SERIES_EVERY = 5  # one event in five confirms a whole weekly series
WITHIN = 60.0  # seconds: SPEC §12, "within a minute"
_HEADERS = BytesHeaderParser(policy=policy.default)


# --- the outbox and the sink ---------------------------------------------------------------------


def _engine(url: str) -> Engine:
    return create_engine(normalize_database_url(url))


def confirmed_event_params(url: str, count: int) -> list[dict]:
    """``count`` parameter sets of ``booking_confirmed`` events for confirmed seeded bookings:
    every ``SERIES_EVERY``-th a whole series (all its confirmed occurrences), the rest single
    bookings; a data set with fewer of either repeats them (each event is mailed on its own)."""
    series_wanted = count // SERIES_EVERY
    engine = _engine(url)
    with engine.connect() as conn:
        singles = (
            conn.execute(
                select(Booking.id)
                .where(Booking.status == "confirmed", Booking.series_id.is_(None))
                .order_by(Booking.id)
                .limit(count - series_wanted)
            )
            .scalars()
            .all()
        )
        series_ids = (
            conn.execute(
                select(Booking.series_id)
                .where(Booking.status == "confirmed", Booking.series_id.is_not(None))
                .group_by(Booking.series_id)
                .order_by(Booking.series_id)
                .limit(max(series_wanted, 1))
            )
            .scalars()
            .all()
        )
        occurrences: dict[int, list[int]] = {}
        if series_ids:
            for series_id, booking_id in conn.execute(
                select(Booking.series_id, Booking.id)
                .where(Booking.status == "confirmed", Booking.series_id.in_(series_ids))
                .order_by(Booking.series_id, Booking.start)
            ):
                occurrences.setdefault(series_id, []).append(booking_id)
    engine.dispose()
    whole_series = [{"booking_ids": ids, "series_id": sid} for sid, ids in sorted(occurrences.items())]
    single = [{"booking_ids": [booking_id], "series_id": None} for booking_id in singles]
    if not whole_series and not single:
        raise SystemExit(
            "no confirmed bookings to mail about: seed the database first (python -m bench seed)"
        )
    params = []
    for i in range(count):
        if whole_series and (i % SERIES_EVERY == SERIES_EVERY - 1 or not single):
            params.append(whole_series[(i // SERIES_EVERY) % len(whole_series)])
        else:
            params.append(single[i % len(single)])
    return params


def insert_events(url: str, params: list[dict]) -> float:
    """``booking_confirmed`` events in one transaction; the time.time() of the commit."""
    engine = _engine(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(OutboxEvent),
            [{"kind": "booking_confirmed", "params": p, "created_at": now} for p in params],
        )
    committed = time.time()
    engine.dispose()
    return committed


def _unfinished(engine: Engine, first_event: int) -> int:
    """Events from ``first_event`` on not expanded yet, plus their messages still pending."""
    with engine.connect() as conn:
        unexpanded = conn.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.id >= first_event, OutboxEvent.expanded_at.is_(None))
        ).scalar_one()
        pending = conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.event_id >= first_event, OutboxMessage.state == "pending")
        ).scalar_one()
    return unexpanded + pending


def wait_until_sent(url: str, first_event: int, timeout: float, poll: float = 0.2) -> bool:
    """Poll until every event from ``first_event`` on is expanded and none of its messages is
    pending any more (sent, or given up); False when ``timeout`` seconds passed first."""
    engine = _engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if _unfinished(engine, first_event) == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
    finally:
        engine.dispose()


def outbox_messages(url: str, first_event: int) -> list[tuple[str, str, datetime]]:
    """(Message-ID, state, the event's created_at) of every message of the events from
    ``first_event`` on."""
    engine = _engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.message_id, OutboxMessage.state, OutboxEvent.created_at)
            .join(OutboxEvent, OutboxEvent.id == OutboxMessage.event_id)
            .where(OutboxMessage.event_id >= first_event)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def delete_events_from(url: str, first_event: int) -> None:
    """Remove the events from ``first_event`` on and their messages (explicitly: SQLite does not
    cascade without its foreign-keys pragma)."""
    engine = _engine(url)
    with engine.begin() as conn:
        conn.execute(delete(OutboxMessage).where(OutboxMessage.event_id >= first_event))
        conn.execute(delete(OutboxEvent).where(OutboxEvent.id >= first_event))
    engine.dispose()


def next_event_id(url: str) -> int:
    engine = _engine(url)
    with engine.connect() as conn:
        next_id = conn.execute(select(func.coalesce(func.max(OutboxEvent.id), 0) + 1)).scalar_one()
    engine.dispose()
    return next_id


def accepted(sink: SmtpSink) -> dict[str, tuple[float, Received]]:
    """The first acceptance of each Message-ID the sink received (headers parsed only)."""
    received = sink.wait_for(0)  # a copy, taken under the sink's lock (its server thread appends)
    first: dict[str, tuple[float, Received]] = {}
    for item in received:
        message_id = _HEADERS.parsebytes(item.raw)["Message-ID"]
        if message_id not in first or item.at < first[message_id][0]:
            first[message_id] = (item.at, item)
    return first


# --- worker processes ----------------------------------------------------------------------------


@dataclass
class MailWorker:
    process: subprocess.Popen
    log: Path  # its standard error

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM: the worker finishes its pass and exits."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.unlink(missing_ok=True)


def start_mail_worker(url: str, sink: SmtpSink, poll_seconds: float | None) -> MailWorker:
    """``booking worker`` on ``url`` sending to ``sink``; returns once its app is built."""
    env = {
        **os.environ,
        "BOOKING_DATABASE_URL": normalize_database_url(url),
        "BOOKING_SECRET_KEY": "bench",
        "BOOKING_MAIL_URL": sink.url,
    }
    if poll_seconds is not None:
        env["BOOKING_MAIL_POLL_SECONDS"] = str(poll_seconds)
    descriptor, name = tempfile.mkstemp(prefix="bench-mail-worker-", suffix=".log")
    os.close(descriptor)
    with open(name, "ab") as log:  # appending: the worker writes while this process reads
        process = subprocess.Popen(
            [sys.executable, "-c", "from booking.cli import main; main()", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    worker = MailWorker(process, Path(name))
    deadline = time.monotonic() + 60
    while "Mail worker:" not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            output = worker.output()
            worker.stop()
            raise RuntimeError(f"the mail worker did not start:\n{output}")
        time.sleep(0.05)
    return worker


# --- 1. throughput -------------------------------------------------------------------------------


@dataclass
class Batch:
    name: str
    messages: int
    seconds: float
    cpu_ms: dict[str, float]  # per message, by process kind
    bytes_median: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        cpu = ", ".join(f"{side} {ms:.2f} ms" for side, ms in self.cpu_ms.items())
        return (
            f"{self.name}: {self.messages} messages in {self.seconds:.2f} s = **{self.rate:.1f} messages/s**"
            f" (CPU per message: {cpu})"
        )


def worker_batch(url: str, warm: list[dict], measured: list[dict], processes: int) -> tuple[Batch, list]:
    """Send the ``measured`` events' mail with ``processes`` idle workers, after the ``warm``
    events' (every worker connects and loads its templates and catalogues before the clock
    runs); the batch, and what the sink received for it in order of acceptance."""
    first_event = next_event_id(url)
    workers: list[MailWorker] = []
    try:
        with SmtpSink() as sink:
            workers = [start_mail_worker(url, sink, poll_seconds=0.05) for _ in range(processes)]
            insert_events(url, warm)
            if not wait_until_sent(url, first_event, timeout=120):
                raise RuntimeError(f"the warm-up mail was not sent:\n{workers[0].output()}")
            measured_from = next_event_id(url)
            pids = [worker.process.pid for worker in workers]
            workers_before, postgres_before = cpu_seconds(pids), cpu_seconds(postgres_pids())
            committed = insert_events(url, measured)
            if not wait_until_sent(url, measured_from, timeout=600):
                raise RuntimeError(f"the mail was not all sent in 10 minutes:\n{workers[0].output()}")
            workers_after, postgres_after = cpu_seconds(pids), cpu_seconds(postgres_pids())
            messages = outbox_messages(url, measured_from)
            states = {state for _, state, _ in messages}
            if states != {"sent"}:
                raise RuntimeError(f"messages not sent ({states}):\n{workers[0].output()}")
            got = accepted(sink)
            mine = sorted((got[message_id] for message_id, _, _ in messages), key=lambda pair: pair[0])
    finally:
        for worker in workers:
            worker.stop()
        delete_events_from(url, first_event)
    count = len(mine)
    sizes = sorted(len(item.raw) for _, item in mine)
    cpu_ms = {"workers": cpu_used(workers_before, workers_after) * 1000 / count}
    if url.startswith("postgresql"):
        cpu_ms["PostgreSQL"] = cpu_used(postgres_before, postgres_after) * 1000 / count
    batch = Batch(
        f"worker, {processes} process{'es' if processes > 1 else ''}",
        count,
        mine[-1][0] - committed,
        cpu_ms,
        bytes_median=sizes[len(sizes) // 2],
    )
    return batch, [item for _, item in mine]


def _send_plain(
    host: str, port: int, envelopes: list[tuple[str, tuple[str, ...], bytes]]
) -> tuple[float, float]:
    """The baseline: one connection, ``sendmail`` per message; wall seconds from connecting to
    the last reply, and this process's CPU seconds."""
    started, cpu_started = time.time(), time.process_time()
    smtp = smtplib.SMTP(host, port, timeout=30)
    try:
        for mail_from, recipients, raw in envelopes:
            smtp.sendmail(mail_from, list(recipients), raw)
    finally:
        smtp.quit()
    return time.time() - started, time.process_time() - cpu_started


def _send_plain_process() -> None:
    """Entry of the baseline's own process: ``envelopes.pickle host port`` in ``sys.argv``."""
    path, host, port = sys.argv[1:4]
    envelopes = pickle.loads(Path(path).read_bytes())
    print(json.dumps(_send_plain(host, int(port), envelopes)))


def baseline_batch(received: list[Received]) -> Batch:
    """The same messages, byte for byte, through plain ``smtplib`` to a fresh sink, from a
    process of its own like the worker (the sink's thread would share this one's GIL)."""
    envelopes = [(item.mail_from, item.recipients, item.raw) for item in received]
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as folder, SmtpSink() as sink:
        path = Path(folder) / "envelopes.pickle"
        path.write_bytes(pickle.dumps(envelopes))
        output = subprocess.run(
            [
                sys.executable,
                "-c",
                "from bench.bench_mail import _send_plain_process; _send_plain_process()",
                str(path),
                "127.0.0.1",
                str(sink.port),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout
        seconds, cpu = json.loads(output.strip().splitlines()[-1])
        if len(sink.received) != len(envelopes):
            raise RuntimeError(
                f"the baseline sent {len(envelopes)} messages, the sink has {len(sink.received)}"
            )
    count = len(envelopes)
    return Batch("baseline (smtplib, one connection)", count, seconds, {"sender": cpu * 1000 / count})


def run_throughput(
    url: str, *, events: int = 200, processes: tuple[int, ...] = (1, 2), warmup_per_process: int = 30
) -> dict:
    """Part 1: the worker with each number of ``processes``, then the plain-SMTP baseline with
    the first run's messages."""
    url = normalize_database_url(url)
    warmup = warmup_per_process * max(processes)  # by default a batch of messages or more for each
    params = confirmed_event_params(url, events + warmup)
    measured, warm = params[:events], params[events:]
    batches, received = [], []
    for count in processes:
        batch, got = worker_batch(url, warm, measured, count)
        batches.append(batch)
        received = received or got
    return {"batches": batches, "baseline": baseline_batch(received), "events": events}


class _CountingTransport:
    """Instead of SMTP: nothing but a count (the worker hands over the message written out as
    bytes already, so everything but the network is measured)."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, outgoing) -> None:
        self.sent += 1

    def close(self) -> None:
        pass


def worker_cost(url: str, events: int = 100) -> dict:
    """In-process, SMTP left out: SQL statements and this process's CPU per event expanded and
    per message rendered and settled (the figures that explain the throughput)."""
    from booking import create_app
    from booking.extensions import db
    from booking.mail.worker import Worker, expand_events

    url = normalize_database_url(url)
    params = confirmed_event_params(url, events + 20)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    transport = _CountingTransport()
    worker = Worker(app, transport=transport)
    first_event = next_event_id(url)
    try:
        insert_events(url, params[events:])
        worker.run(once=True)  # warm-up: templates, catalogues, connections
        insert_events(url, params[:events])
        with app.app_context():
            counter = StatementCounter(db.engine)
            with counter:
                started = time.process_time()
                expanded = 0
                while batch := expand_events():
                    expanded += batch
                expand_cpu = time.process_time() - started
            expand_statements = counter.count
            sent_before = transport.sent
            with counter:
                started = time.process_time()
                while worker.send_due():
                    pass
                send_cpu = time.process_time() - started
            sent = transport.sent - sent_before
            send_statements = counter.count
            db.engine.dispose()
    finally:
        delete_events_from(url, first_event)
    return {
        "events": expanded,
        "messages": sent,
        "expand_statements": expand_statements / max(expanded, 1),
        "expand_cpu_ms": expand_cpu * 1000 / max(expanded, 1),
        "send_statements": send_statements / max(sent, 1),
        "send_cpu_ms": send_cpu * 1000 / max(sent, 1),
    }


# --- 2. delay under the create benchmark's load ------------------------------------------------


def _remove_run(url: str, first_new: dict[str, int]) -> None:
    delete_events_from(url, first_new["outbox_events"])
    _cleanup(url, first_new)


def run_delay(
    url: str,
    *,
    workers: int = 4,
    clients: int = 16,
    seconds: float = 30,
    conflict_share: float = 0.3,
    processes: int = 4,
    poll_seconds: float | None = None,
    drain_seconds: float = 120,
    mail_workers: int = 1,
) -> dict:
    """Part 2: the create mix without and then with ``mail_workers`` mail worker processes, and
    the delay of each mail of the second run (``poll_seconds`` None: the worker's default)."""
    url = normalize_database_url(url)
    # Room for 400 requests a second, twice the best create rate measured so far: the create
    # benchmark's own 2,000 a second need more free room-days than the small seed has (planning
    # would never end there).
    attempts = plan_attempts(url, count=int(seconds * 400) + 100, conflict_share=conflict_share)
    requests = [(a.conflicting, _product_request(a)) for a in attempts]
    env = server_env(url)

    # The same plan twice: each run's bookings are deleted before the next, so its free slots
    # are free again.
    first_new = _next_ids(url)
    server = start_gunicorn("wsgi:app", env, workers)
    try:
        alone = drive_measured(server, requests, clients, seconds, processes)
    finally:
        server.stop()
        _remove_run(url, first_new)
    alone.name = "create, no mail worker"

    first_new = _next_ids(url)
    first_event = first_new["outbox_events"]
    server, mail = None, []
    try:
        with SmtpSink() as sink:
            for _ in range(mail_workers):
                mail.append(start_mail_worker(url, sink, poll_seconds))
            server = start_gunicorn("wsgi:app", env, workers)
            pids = [worker.process.pid for worker in mail]
            worker_cpu = cpu_seconds(pids)
            shared = drive_measured(server, requests, clients, seconds, processes)
            load_ended = time.time()
            worker_cpu_load = cpu_used(worker_cpu, cpu_seconds(pids))
            server.stop()  # the load is over; the worker sends what is left
            drained = wait_until_sent(url, first_event, timeout=drain_seconds)
            stopped_waiting = time.time()
            messages = outbox_messages(url, first_event)
            got = accepted(sink)
    finally:
        if server is not None:
            server.stop()
        for worker in mail:
            worker.stop()
        _remove_run(url, first_new)
    shared.name = "create, mail worker beside it"

    delays, unsent, sent_during_load, last = [], [], 0, 0.0
    for message_id, _, created_at in messages:
        if message_id not in got:  # its delay is at least the time waited for it
            unsent.append(stopped_waiting - created_at.timestamp())
            continue
        at = got[message_id][0]
        delays.append(at - created_at.timestamp())
        sent_during_load += at <= load_ended
        last = max(last, at)
    created = shared.statuses().get(201, 0)
    return {
        "alone": alone,
        "shared": shared,
        "ratio": shared.throughput / alone.throughput if alone.throughput else 0.0,
        "created": created,
        "messages": len(messages),
        "delays": delays,
        "missing": len(unsent),
        "unsent_waited": unsent,
        "drained": drained,
        "sent_during_load": sent_during_load,
        "drain_seconds": max(last - load_ended, 0.0),
        # the worker's pace once the load had stopped, comparable with part 1
        "drain_rate": (len(delays) - sent_during_load) / (last - load_ended) if last > load_ended else 0.0,
        "drain_limit": drain_seconds,
        "worker_cpu_share": worker_cpu_load / shared.seconds,  # of one core, while the load ran
        "mail_workers": mail_workers,
        "setup": {"workers": workers, "clients": clients, "seconds": seconds, "processes": processes},
        "conflict_share": conflict_share,
        "poll_seconds": poll_seconds,
    }


# --- the whole benchmark -------------------------------------------------------------------------


def run(
    url: str,
    *,
    events: int = 200,
    mail_processes: tuple[int, ...] = (1, 2),
    workers: int = 4,
    clients: int = 16,
    seconds: float = 30,
    conflict_share: float = 0.3,
    processes: int = 4,
    poll_seconds: float | None = None,
    drain_seconds: float = 120,
    mail_workers_under_load: int = 1,
    report: bool = True,
    command: str = "python -m bench mail",
) -> dict:
    """Both parts, and their entry in BENCHMARKS.md (printed only without ``report``)."""
    url = normalize_database_url(url)
    cost = worker_cost(url, events=min(events, 100))
    throughput = run_throughput(
        url, events=events, processes=mail_processes, warmup_per_process=min(30, max(events // 4, 5))
    )
    delay = run_delay(
        url,
        workers=workers,
        clients=clients,
        seconds=seconds,
        conflict_share=conflict_share,
        processes=processes,
        poll_seconds=poll_seconds,
        drain_seconds=drain_seconds,
        mail_workers=mail_workers_under_load,
    )
    lines = _throughput_lines(throughput, cost) + _delay_lines(delay)
    _append_report(
        "Mail worker (SPEC §12): throughput, and delay from change to mail under load",
        url,
        lines,
        command,
        save=report,
    )
    return {"cost": cost, "throughput": throughput, "delay": delay}


def _throughput_lines(figures: dict, cost: dict) -> list[str]:
    baseline, batches = figures["baseline"], figures["batches"]
    first = batches[0]
    ratios = "; ".join(f"{batch.name}: {batch.rate / baseline.rate:.1%}" for batch in batches)
    return [
        f"- (a) throughput: {figures['events']} `booking_confirmed` events written into the outbox at once "
        f"(1 in {SERIES_EVERY} a whole weekly series), {first.messages} messages to contact and booker, "
        f"median {first.bytes_median / 1024:.1f} KiB each (text, HTML, `.ics`); from the commit to the "
        "sink's acceptance of the last message, workers idle and warmed up, poll 0.05 s",
        f"- {baseline.line()}",
        *(f"- {batch.line()}" for batch in batches),
        f"- **worker/baseline throughput: {ratios}**",
        f"- in-process, without SMTP (the message written out, not sent; {cost['events']} events, "
        f"{cost['messages']} messages): expanding {cost['expand_statements']:.1f} SQL statements and "
        f"{cost['expand_cpu_ms']:.1f} ms CPU per event; rendering, building and settling "
        f"{cost['send_statements']:.1f} statements and {cost['send_cpu_ms']:.1f} ms CPU per message",
    ]


def _delay_lines(figures: dict) -> list[str]:
    setup, total = figures["setup"], figures["messages"]
    # A message still unsent when the bench stopped waiting counts with the time waited for it,
    # so with any of those the figures are lower bounds.
    delays = figures["delays"] + figures["unsent_waited"]
    at_least = "≥ " if figures["unsent_waited"] else ""
    within = sum(1 for d in figures["delays"] if d <= WITHIN)
    poll = figures["poll_seconds"]
    workers = figures["mail_workers"]
    mail = f"{workers} `booking worker` process{'es' if workers > 1 else ''}"
    poll_text = "its default poll interval" if poll is None else f"poll {poll:g} s"
    unsent = (
        f"; **{figures['missing']} not sent when the bench stopped waiting, {figures['drain_limit']:.0f} s "
        "after the load**"
        if figures["missing"]
        else ""
    )
    return [
        f"- (b) delay under load: gunicorn {setup['workers']} sync workers, {setup['clients']} keep-alive "
        f"clients in {setup['processes']} processes, {setup['seconds']:.0f} s, "
        f"{figures['conflict_share']:.0%} of requests for a taken slot (the create benchmark's mix), run "
        f"without and then with {mail} ({poll_text})",
        f"- {figures['alone'].line()}",
        f"- {figures['shared'].line()}; the mail worker meanwhile used "
        f"{figures['worker_cpu_share']:.0%} of one core",
        f"- **create throughput with the mail worker / without: {figures['ratio']:.1%}**",
        f"- mail of the run: {figures['created']} bookings created, {total} messages "
        f"({total / setup['seconds']:.1f}/s while the load ran); {figures['sent_during_load']} accepted "
        f"meanwhile ({figures['sent_during_load'] / setup['seconds']:.1f}/s), the last "
        f"{figures['drain_seconds']:.1f} s after the load ended ({figures['drain_rate']:.1f}/s after the "
        f"load){unsent}",
        f"- **delay from change to mail: n={total}, median {at_least}{_seconds(delays, 50)}, "
        f"p95 {at_least}{_seconds(delays, 95)}, p99 {at_least}{_seconds(delays, 99)}, "
        f"max {at_least}{max(delays or [0]):.2f} s; within a minute: {within} of {total}** (SPEC §12): "
        f"{'met' if within == total and total else 'NOT met'}",
    ]


def _seconds(values: list[float], p: float) -> str:
    return f"{percentile(values, p):.2f} s"
