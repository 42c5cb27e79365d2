"""The production set-up of SPEC §16, for real: Debian's nginx with deploy/nginx.conf in front of
gunicorn with deploy/gunicorn.conf.py (both on free loopback ports, everything else in a
temporary folder, no root needed), and a non-editable ``pip install .`` into a fresh venv that
can migrate.

The stall test first shows the problem on gunicorn alone (clients that send headers with
``Content-Length: 100000`` and a few bytes of body hold its sync workers, so ``/healthz`` goes
unanswered), then that through nginx the same clients, four times as many, change nothing.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import venv
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from bench.common import free_port
from booking import MIGRATIONS_DIR
from pricing.weekly import OSLO
from tests.integration.live_http import stop, wait_until_up

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GUNICORN_WORKERS = 2
STALLED_BODY = b'{"email": "'


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(path, os.X_OK)), None
    )


needs_nginx = pytest.mark.skipif(
    _nginx() is None,
    reason="nginx is not installed: scripts/install-test-deps.sh installs Debian's nginx package "
    "when run as root (make test runs it); or apt-get install nginx",
)


# --- servers ---------------------------------------------------------------------------------


@contextmanager
def gunicorn_with_config(database_url: str, workdir: Path):
    """gunicorn as production runs it: the repository's configuration file, only the address
    and the number of workers given on the command line; started outside the checkout."""
    port = free_port()
    env = dict(
        os.environ,
        BOOKING_DATABASE_URL=database_url,
        BOOKING_SECRET_KEY="production-test",
        BOOKING_RATELIMIT_ENABLED="false",
        BOOKING_TRUSTED_PROXIES="1",
    )
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(DEPLOY / "gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(GUNICORN_WORKERS),
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield port
    finally:
        stop([process])
        log.close()


def site_config(upstream_port: int, listen_port: int, workdir: Path) -> str:
    """deploy/nginx.conf with only its addresses and paths replaced (each must be there)."""
    config = (DEPLOY / "nginx.conf").read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("listen [::]:80;", ""),
        ("server 127.0.0.1:8000 fail_timeout=0;", f"server 127.0.0.1:{upstream_port} fail_timeout=0;"),
        ("alias /srv/booking/static/;", f"alias {ROOT / 'booking' / 'static'}/;"),
        (
            "access_log /var/log/nginx/booking.access.log booking;",
            f"access_log {workdir}/access.log booking;",
        ),
    ):
        assert config.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}: update this test"
        config = config.replace(old, new)
    return config


def main_config(workdir: Path, site: Path) -> str:
    """A whole nginx.conf around the site: pid, logs and temporary files in ``workdir``."""
    mime = Path("/etc/nginx/mime.types")
    types = f"include {mime};" if mime.exists() else "types { text/css css; text/html html; }"
    # As root, nginx's workers would switch to nobody, who cannot write the temporary folder.
    user = "user root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {workdir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 512; }}
http {{
  {types}
  default_type application/octet-stream;
{temp}
  include {site};
}}
"""


@contextmanager
def nginx_in_front(upstream_port: int, workdir: Path):
    port = free_port()
    site = workdir / "booking.conf"
    site.write_text(site_config(upstream_port, port, workdir))
    conf = workdir / "nginx.conf"
    conf.write_text(main_config(workdir, site))
    command = [_nginx(), "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, timeout=20)
        yield port
    finally:
        stop([process], grace=10)


# --- clients ---------------------------------------------------------------------------------


def stalled_client(port: int) -> socket.socket:
    """Headers of a 100,000-byte body, then a few bytes of it, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /api/v1/tokens HTTP/1.1\r\nHost: booking.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n" + STALLED_BODY
    )
    return sock


def still_open(sock: socket.socket) -> bool:
    """Nothing answered and not closed by the other side."""
    sock.setblocking(False)
    try:
        return not sock.recv(1)  # b"" is a close
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def health(port: int, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


# --- the stall ---------------------------------------------------------------------------------


@needs_nginx
def test_stalled_bodies_hold_bare_gunicorn_but_not_gunicorn_behind_nginx(app, database_url, tmp_path):
    with gunicorn_with_config(database_url, tmp_path) as gunicorn_port:
        # Without nginx: one stalled client per worker, and the service does not answer.
        stalled = [stalled_client(gunicorn_port) for _ in range(GUNICORN_WORKERS)]
        try:
            with pytest.raises(TimeoutError):
                health(gunicorn_port, timeout=3)
        finally:
            for sock in stalled:
                sock.close()
        assert health(gunicorn_port, timeout=20)[0] == 200  # the workers are free again

        with nginx_in_front(gunicorn_port, tmp_path) as nginx_port:
            stalled = [stalled_client(nginx_port) for _ in range(4 * GUNICORN_WORKERS)]
            try:
                for _ in range(5):
                    status, seconds = health(nginx_port, timeout=10)
                    assert status == 200 and seconds < 2, (status, seconds)
                # The stalled clients were held all along, neither answered nor dropped.
                assert all(still_open(sock) for sock in stalled)
                # And gunicorn, asked directly, has every worker free.
                assert health(gunicorn_port, timeout=5)[0] == 200
            finally:
                for sock in stalled:
                    sock.close()


@needs_nginx
def test_nginx_passes_a_slow_whole_body_serves_static_files_compresses_and_hides_tokens(
    app, make, client, database_url, tmp_path
):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    day = datetime.now(OSLO).date() + timedelta(days=3)
    for offset in range(8):  # a feed of a few kilobytes
        start = _at(day + timedelta(days=offset), 18)
        answer = client.post(
            "/api/v1/bookings",
            json={
                "room_id": room.id,
                "organization_id": organization.id,
                "title": f"Korpsøving {offset}",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            },
            headers=member.headers,
        )
        assert answer.status_code == 201, answer.get_json()

    with (
        gunicorn_with_config(database_url, tmp_path) as gunicorn_port,
        nginx_in_front(gunicorn_port, tmp_path) as nginx_port,
    ):
        # A body sent in pieces with pauses shorter than client_body_timeout arrives whole.
        body = b'{"email": "nobody@example.test", "password": "wrong password"}'
        sock = socket.create_connection(("127.0.0.1", nginx_port), timeout=10)
        try:
            sock.sendall(
                b"POST /api/v1/tokens HTTP/1.1\r\nHost: booking.test\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
            )
            time.sleep(1)
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert b"application/problem+json" in answer

        css = get(nginx_port, "/static/css/site.css")
        assert css.status == 200
        assert css.body == (ROOT / "booking" / "static" / "css" / "site.css").read_bytes()
        assert css.getheader("Cache-Control") == "max-age=3600"

        path = f"/feeds/buildings/{room.building_id}.ics"
        plain = get(nginx_port, path)
        assert plain.status == 200 and plain.getheader("Content-Encoding") is None
        assert plain.body.count(b"BEGIN:VEVENT") == 8
        packed = get(nginx_port, path, {"Accept-Encoding": "gzip"})
        assert packed.status == 200 and packed.getheader("Content-Encoding") == "gzip"
        assert "Accept-Encoding" in (packed.getheader("Vary") or "")
        assert gzip.decompress(packed.body) == plain.body
        assert len(packed.body) < len(plain.body) / 3

        assert get(nginx_port, "/feeds/org/s3cret-token-value.ics").status == 404
        # nginx writes the log line after it has answered: wait for it a moment.
        deadline = time.monotonic() + 5
        while "/feeds/org/" not in (logged := (tmp_path / "access.log").read_text()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert "/feeds/org/-.ics" in logged and "s3cret-token-value" not in logged
        assert f'"GET {path}" 200' in logged


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=OSLO)


# --- packaging ---------------------------------------------------------------------------------

# Lines of pip's output that are no packaging warning: index locations of this machine's pip
# configuration that do not exist, network retries, setuptools' note that it leaves byte-code
# to the installer.
NOT_OURS = re.compile(r"Location '.*' is ignored|Retrying \(|byte-compiling is disabled")
# What a checkout has that a source tree does not (a build/ left by an earlier build could put
# files into the wheel that the configuration no longer names).
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "node_modules", "instance", "test-output"
)


def test_a_non_editable_install_into_a_fresh_venv_migrates_and_installs_without_warnings(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # -v shows the build backend's own output, where setuptools writes its warnings.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-v", "--no-input", "--no-compile", str(source)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = install.stdout + install.stderr
    assert install.returncode == 0, output[-3000:]
    warnings = [
        line.strip()
        for line in output.splitlines()
        if re.search(r"(?i)warning|would be ignored|absent from", line) and not NOT_OURS.search(line)
    ]
    assert warnings == [], "\n".join(warnings[:20])

    # Installed, not linked to the checkout; templates, static files, catalogues and migrations
    # in the package.
    where = subprocess.run(
        [str(python), "-c", "import booking, os; print(os.path.dirname(booking.__file__))"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = Path(where)
    assert package.is_relative_to(environment), package
    for data in (
        "templates/web/base.html",
        "static/css/site.css",
        "translations/nb/LC_MESSAGES/messages.mo",
        "migrations/alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
    ):
        assert (package / data).is_file(), data
    shipped = sorted(p.name for p in (package / "migrations" / "versions").glob("*.py"))
    assert shipped == sorted(p.name for p in Path(MIGRATIONS_DIR, "versions").glob("*.py"))

    database = tmp_path / "installed.sqlite"
    upgrade = subprocess.run(
        [str(environment / "bin" / "booking"), "db", "upgrade"],
        cwd=tmp_path,
        env=dict(env, BOOKING_DATABASE_URL=f"sqlite:///{database}", BOOKING_SECRET_KEY="x"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
        assert conn.execute(text("SELECT count(*) FROM buildings")).scalar_one() == 0
    engine.dispose()


def _alembic_config() -> Config:
    config = Config(os.path.join(MIGRATIONS_DIR, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return config
