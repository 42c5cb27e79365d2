"""Raw HTTP against real servers: two gunicorn servers on the test database, and a browser's
cookie as a header, so a test can carry it from one server to the other or replay it after
logging out."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.common import free_port

ROOT = Path(__file__).resolve().parents[2]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def stop(processes: list[subprocess.Popen], grace: float = 30) -> None:
    """SIGTERM, then SIGKILL for a server that has not stopped within ``grace`` seconds (gunicorn
    waits for its workers, which a loaded machine makes slow); always reaped."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up")


@contextmanager
def running_servers(database_url: str, count: int = 2, workers: int = 2, secret: str = "live-http-test"):
    """``count`` gunicorn servers on ``database_url`` (``workers`` each); yields their base URLs."""
    env = dict(os.environ, BOOKING_DATABASE_URL=database_url, BOOKING_SECRET_KEY=secret)
    processes, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
            processes.append(
                subprocess.Popen(
                    [*command, "--log-level", "warning", "wsgi:app"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_until_up(url, process)
        yield urls
    finally:
        stop(processes)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def json(self):
        return json.loads(self.body)

    @property
    def cookie(self) -> str | None:
        """The session cookie this answer sets, as a ``Cookie`` header value."""
        for value in self.headers.get_all("Set-Cookie") or []:
            if value.startswith("session="):
                return value.split(";", 1)[0]
        return None


def call(
    base_url: str, method: str, path: str, *, cookie=None, token=None, form=None, body=None, headers=None
):
    """One request, redirects not followed."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    sent = dict(headers or {})
    payload = None
    if cookie:
        sent["Cookie"] = cookie
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if form is not None:
        payload = urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        payload = json.dumps(body)
        sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


def csrf_of(answer: Answer) -> str:
    found = CSRF.search(answer.body)
    assert found, answer.body[:300]
    return found.group(1)


def page_login(base_url: str, email: str, password: str) -> str:
    """Log in with the login form as a browser does; the session cookie it gets."""
    form_page = call(base_url, "GET", "/login")
    cookie = form_page.cookie
    done = call(
        base_url,
        "POST",
        "/login",
        cookie=cookie,
        form={"email": email, "password": password, "csrf_token": csrf_of(form_page)},
    )
    assert done.status == 303 and done.cookie, (done.status, done.body[:300])
    return done.cookie


def page_logout(base_url: str, cookie: str) -> None:
    """Press the page's log-out button (its form carries the session's CSRF token)."""
    my = call(base_url, "GET", "/my", cookie=cookie)
    assert my.status == 200, my.status
    out = call(base_url, "POST", "/logout", cookie=my.cookie or cookie, form={"csrf_token": csrf_of(my)})
    assert out.status == 303, (out.status, out.body[:300])
