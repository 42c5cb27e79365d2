"""End-to-end set-up: a fresh SQLite database (migrations, demo data, a few scenario bookings),
the app under gunicorn on a free loopback port, and Debian's Chromium driven by Playwright.

Chromium comes from the system (``/usr/bin/chromium``, installed by
``scripts/install-test-deps.sh``); Playwright never downloads a browser here. Screenshots and
PDFs go to ``test-output/e2e/`` (gitignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time as clock
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from bench.common import free_port

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM = os.environ.get("BOOKING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "demo-password"
SECRET_KEY = "e2e-secret-key"


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


def clear_weekday(weekday: int, weeks: int, from_days: int) -> date:
    """The first ``weekday`` at least ``from_days`` ahead whose ``weeks`` weekly dates avoid
    public holidays and the demo buildings' Christmas closures."""
    from booking.domain.holidays import holiday_dates
    from pricing.weekly import OSLO

    day = datetime.now(OSLO).date() + timedelta(days=from_days)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    while True:
        dates = [day + timedelta(weeks=i) for i in range(weeks)]
        holidays = holiday_dates(dates[0], dates[-1])
        if not any(
            d in holidays or (d.month, d.day) >= (12, 20) or (d.month, d.day) <= (1, 2) for d in dates
        ):
            return day
        day += timedelta(weeks=1)


@dataclass
class Scenario:
    """Dates and ids the tests drive the pages with."""

    base_url: str
    database_url: str = ""
    bekkestua_id: int = 0
    js_day: date | None = None  # a Wednesday: the JS flow books Øvingsrom 2 weekly from here
    nojs_day: date | None = None  # a Thursday: the no-JS flow books Verkstedet weekly from here
    competing_day: date | None = None  # a Friday with two competing requests for Storsalen
    busy_day: date | None = None  # a Monday with a typical day's bookings (the PDF test)
    ids: dict = field(default_factory=dict)


def _seed(database_url: str, scenario: Scenario) -> None:
    from flask_migrate import upgrade

    from booking import create_app
    from booking.demo import ADMIN, load_demo
    from booking.extensions import db
    from booking.models import Building, Organization, Room, User
    from booking.services.auth import actor_for
    from booking.services.bookings import BookingRequest, create_booking
    from pricing.weekly import OSLO

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "e2e-seed"})
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()

        def one(model, **where):
            return db.session.execute(db.select(model).filter_by(**where)).scalar_one()

        bekkestua = one(Building, name="Bekkestua kulturhus")
        rooms = {
            r.name: r
            for r in db.session.execute(db.select(Room).filter_by(building_id=bekkestua.id)).scalars()
        }
        org = {o.name: o for o in db.session.execute(db.select(Organization)).scalars()}

        def at(day: date, clock: str) -> datetime:
            return datetime.combine(day, time.fromisoformat(clock), OSLO)

        def book(actor, room, organization, day, start, end, **extra):
            data = {
                "room_id": rooms[room].id,
                "organization_id": org[organization].id,
                "title": extra.pop("title", "Øvelse"),
                "start": at(day, start),
                "end": at(day, end),
                "attendees": extra.pop("attendees", 10),
            }
            data.update(extra)
            return create_booking(actor, BookingRequest.from_input(data))

        scenario.bekkestua_id = bekkestua.id
        scenario.js_day = clear_weekday(2, 4, 21)
        scenario.nojs_day = clear_weekday(3, 4, 21)
        scenario.competing_day = clear_weekday(4, 1, 21)
        scenario.busy_day = clear_weekday(0, 1, 21)
        # The taken week of each flow: the series skips it.
        book(ADMIN, "Øvingsrom 2", "Bærum Seniordans", scenario.js_day + timedelta(weeks=1), "18:30", "19:30")
        book(
            ADMIN, "Verkstedet", "Bærum Seniordans", scenario.nojs_day + timedelta(weeks=1), "17:00", "18:30"
        )
        # Two competing requests for the hall: the full-price one asked first, the free one wins.
        consultant = actor_for(one(User, email="konsulent@demo.test"))
        band = actor_for(one(User, email="korps@demo.test"))
        first = book(
            consultant,
            "Storsalen",
            "Nordisk Konsulentforum AS",
            scenario.competing_day,
            "18:00",
            "21:00",
            title="Kundeseminar",
        )
        second = book(
            band,
            "Storsalen",
            "Bekkestua Skolekorps",
            scenario.competing_day,
            "19:00",
            "21:00",
            title="Vårkonsert",
        )
        scenario.ids.update(consultant_request=first.id, band_request=second.id)
        # A typical Monday: eight bookings in five rooms, some notes, one with its own supervisor.
        typical = [
            (
                "Møterom Kaffekroken",
                "Bærum Seniordans",
                "09:00",
                "11:00",
                "Styremøte",
                "Kaffe og kopper fram, takk.",
            ),
            ("Verkstedet", "Bekkestua Skolekorps", "10:00", "12:00", "Notearkiv", ""),
            (
                "Møterom Kaffekroken",
                "Nordisk Konsulentforum AS",
                "12:00",
                "14:00",
                "Lunsjmøte",
                "Prosjektor med HDMI.",
            ),
            (
                "Øvingsrom 1",
                "Bekkestua Skolekorps",
                "16:00",
                "18:00",
                "Aspirantkorps",
                "Notestativ fra lageret, 20 stoler.",
            ),
            ("Storsalen", "Bærum Seniordans", "17:00", "19:00", "Dansekurs", "Høyttaleranlegget trengs."),
            ("Øvingsrom 2", "Rykkinn Innebandyklubb", "17:30", "19:00", "Lagmøte", ""),
            ("Verkstedet", "Sandvika Sjakklubb", "18:00", "21:00", "Klubbkveld", "Bordene i rader."),
            ("Øvingsrom 1", "Bekkestua Skolekorps", "19:00", "21:30", "Korpsøvelse", "Slagverk i rom 1."),
        ]
        for room, organization, start, end, title, notes in typical:
            book(
                ADMIN,
                room,
                organization,
                scenario.busy_day,
                start,
                end,
                title=title,
                notes=notes,
                own_supervisor=title == "Klubbkveld",
            )
        db.session.commit()
    with app.app_context():
        db.engine.dispose()


def confirmation_link(scenario: Scenario, email: str) -> str:
    """The link of the confirmation mail to ``email`` (SPEC §13), made as the mail worker makes
    it, with the server's key (no worker runs in these tests)."""
    from booking import create_app
    from booking.extensions import db
    from booking.models import User
    from booking.models.types import utcnow
    from booking.services import accounts

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scenario.database_url,
            "SECRET_KEY": SECRET_KEY,
            "BOOKING_PUBLIC_URL": scenario.base_url,
        }
    )
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
        link = accounts.mail_link(user, accounts.CONFIRM, utcnow())
        db.session.remove()
        db.engine.dispose()
    return link


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            clock.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start in time:\n{log.read_text()}")


@pytest.fixture(scope="package")  # stopped when the browser tests are done, not at the end of the run
def scenario(tmp_path_factory) -> Scenario:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    database = tmp_path_factory.mktemp("e2e") / "booking.sqlite"
    database_url = f"sqlite:///{database}"
    port = free_port()
    scenario = Scenario(base_url=f"http://127.0.0.1:{port}", database_url=database_url)
    _seed(database_url, scenario)
    env = dict(
        os.environ,
        BOOKING_DATABASE_URL=database_url,
        BOOKING_SECRET_KEY=SECRET_KEY,
        BOOKING_PUBLIC_URL=scenario.base_url,
        # The browser tests log in a few hundred times from one address within minutes: the
        # default login limit (10 a minute, 100 an hour) answered 429 and left them on /login.
        BOOKING_RATELIMIT_LOGIN="1000 per minute",
    )
    env.pop("BOOKING_TEST_DATABASE_URL", None)
    log = OUTPUT / "gunicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(scenario.base_url, process, log)
            yield scenario
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `bash scripts/install-test-deps.sh` (apt-get install "
            "chromium), or deselect the browser tests with -m 'not e2e'."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, scenario, request):
    """``new_page(javascript=True, phone=False)``: a page in a fresh context (its own cookies),
    Norwegian locale; closed after the test."""
    contexts = []

    def make(javascript: bool = True, phone: bool = False):
        viewport = {"width": 390, "height": 844} if phone else {"width": 1200, "height": 900}
        context = browser.new_context(
            base_url=scenario.base_url,
            java_script_enabled=javascript,
            locale="nb-NO",
            timezone_id="Europe/Oslo",
            viewport=viewport,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for number, context in enumerate(contexts):
        if getattr(request.node, "failed_call", False):  # what the user saw when it failed
            for page in context.pages:
                page.screenshot(path=str(OUTPUT / f"FAILED-{request.node.name}-{number}.png"), full_page=True)
        context.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as test-output/e2e/NAME.png."""
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
