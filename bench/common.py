"""Shared pieces of the benchmarks: timing, percentiles, loopback servers and clients, SQL
statement counting, and the BENCHMARKS.md report."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, event, text

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


# --- numbers ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Timings:
    """Latencies in milliseconds with a summary."""

    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU time per call, when measured

    def add(self, ms: float, cpu_ms: float | None = None) -> None:
        self.values.append(ms)
        if cpu_ms is not None:
            self.cpu.append(cpu_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else 0.0

    def p(self, q: float) -> float:
        return percentile(self.values, q)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else 0.0

    def summary(self) -> str:
        cpu = f" (CPU of this process: median {self.cpu_median:.2f} ms)" if self.cpu else ""
        return (
            f"n={len(self.values)} median={self.median:.2f} ms p95={self.p(95):.2f} ms "
            f"p99={self.p(99):.2f} ms max={max(self.values or [0]):.2f} ms{cpu}"
        )


def time_calls(call, repeat: int, warmup: int = 3) -> Timings:
    for _ in range(warmup):
        call()
    timings = Timings()
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        timings.add((time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000)
    return timings


class StatementCounter:
    """Counts SQL statements sent on ``engine`` while active (``with counter: ...``)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _listener(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._listener)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._listener)

    @property
    def count(self) -> int:
        return len(self.statements)


# --- servers and clients (loopback only) -----------------------------------------------------


def require_loopback(url: str) -> None:
    """Load goes to this machine only."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to send load to {host}: loopback addresses only")


def reset_database(url: str) -> None:
    """Empty the database entirely (tables, types, alembic_version): the benchmark seeder and the
    test suite start from this."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def child_pids(pid: int) -> list[int]:
    children = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children += [int(p) for p in handle.read().split()]
    return children


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> dict[int, float]:
    """User plus system CPU seconds of each process, from /proc (a process gone is left out)."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    return seconds


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (the benchmarks use a server on loopback)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().startswith("postgres"):
                        pids.append(int(entry))
    return pids


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``cpu_seconds`` readings (new processes from zero)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MiB."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def server_env(url: str, **extra: str) -> dict:
    """The environment of a benchmark's app server on ``url``: a fixed secret, no rate limits
    (the clients all come from one address), and ``extra`` settings."""
    return {
        "BOOKING_DATABASE_URL": url,
        "BOOKING_SECRET_KEY": "bench",
        "BOOKING_RATELIMIT_ENABLED": "false",
        **extra,
    }


def start_gunicorn(
    app_spec: str,
    env: dict,
    workers: int,
    *,
    worker_class: str = "sync",
    threads: int = 1,
    timeout: float = 60,
    cwd: Path = ROOT,
) -> Server:
    """Start gunicorn serving ``app_spec`` from the code in ``cwd`` (this checkout by default)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "-k",
        worker_class,
        "--threads",
        str(threads),
        app_spec,
    ]
    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {app_spec} exited with {process.returncode}")
        try:
            status, _ = request(server.url, "GET", "/healthz", timeout=2)
            if status == 200 and len(server.worker_pids()) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn {app_spec} did not come up")


class Client:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        require_loopback(base_url)
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection: http.client.HTTPConnection | None = None
        self.last_etag: str | None = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=payload, headers=all_headers)
                response = self.connection.getresponse()
                data = response.read()
                self.last_etag = response.getheader("ETag")
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def request(base_url: str, method: str, path: str, body=None, headers=None, timeout: float = 30):
    client = Client(base_url, timeout)
    try:
        return client.request(method, path, body, headers)
    finally:
        client.close()


# --- the report ------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    memory = ""
    with contextlib.suppress(OSError):
        with open("/proc/meminfo") as handle:
            memory = f", {int(handle.readline().split()[1]) / 1024 / 1024:.0f} GiB RAM"
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores {cpu}{memory}, {system}"


def database_label(url: str) -> str:
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        return f"PostgreSQL {version.split()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


SECTION = "## Booking service: speed, scale and load (`python -m bench`)"
RESULTS = "### Results"


def append_report(title: str, url: str, lines: list[str], command: str, *, save: bool = True) -> None:
    """Add a dated entry at the end of this section's results in BENCHMARKS.md (other sections,
    such as the feeds', stay as they are) and print it; with ``save=False`` only print the lines."""
    if not save:
        print("\n".join(lines))
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    section = [
        f"### {title} — {stamp}",
        "",
        f"- machine: {machine()}; load average {load:.1f} at the end",
        f"- database: {database_label(url)}",
        f"- command: `{command}`",
        *lines,
        "",
    ]
    entry = "\n".join(section).replace("### ", "#### ", 1)
    print(entry)
    document = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if SECTION not in document:
        document = document.rstrip("\n") + f"\n\n{SECTION}\n\n{RESULTS}\n"
    start = document.index(SECTION)
    following = document.find("\n## ", start + len(SECTION))
    end = len(document) if following == -1 else following + 1
    before, mine, after = document[:start], document[start:end], document[end:]
    if RESULTS not in mine:
        mine = mine.rstrip("\n") + f"\n\n{RESULTS}\n"
    mine = mine.rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n"
    BENCHMARKS_MD.write_text(before + mine + ("\n" + after if after else ""), encoding="utf-8")


def append_to_part(heading: str, introduction: str, marker: str, entry: str) -> None:
    """Add ``entry`` at the end of the part ``heading`` (``### …``) of this section of
    BENCHMARKS.md, for benchmarks with a part of their own: the part is made the first time, and
    ``introduction`` is written before the part's first entry unless ``marker`` is in it yet."""
    print(entry)
    document = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if SECTION not in document:
        document = document.rstrip("\n") + f"\n\n{SECTION}\n\n{RESULTS}\n"
    if heading not in document:
        start = document.index(SECTION)
        following = document.find("\n## ", start + len(SECTION))
        end = len(document) if following == -1 else following + 1
        before, after = document[:end].rstrip("\n"), document[end:]
        document = before + "\n\n" + heading + "\n" + ("\n" + after if after else "")
    start = document.index(heading)
    # The part ends at the next heading of its level or above.
    ends = [i for i in (document.find("\n### ", start + 1), document.find("\n## ", start + 1)) if i != -1]
    end = min(ends) + 1 if ends else len(document)
    before, mine, after = document[:start], document[start:end], document[end:]
    if marker not in mine:
        first_entry = mine.find("\n#### ")
        cut = len(mine.rstrip("\n")) if first_entry == -1 else first_entry
        mine = mine[:cut].rstrip("\n") + "\n\n" + introduction + "\n" + mine[cut:]
    mine = mine.rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n"
    BENCHMARKS_MD.write_text(before + mine + ("\n" + after if after else ""), encoding="utf-8")
