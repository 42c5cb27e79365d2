"""The room page's booking form in Chromium (issue 15), at 1366 and 390 px: after a form error the
focus is on the error summary, whose entries name their fields and lead into them; after a taken
time (409) the focus is on the conflict, scrolled into view on a phone; the live quote names
what is missing; anonymous visitors see the price for every category; nothing overflows a phone.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from tests.e2e.conftest import PASSWORD, shot
from tests.e2e.test_accessibility import OVERFLOW

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
MEMBER = "korps@demo.test"
ACTIVE = "() => document.activeElement && document.activeElement.id"


def _room_id(scenario, name: str) -> int:
    connection = sqlite3.connect(scenario.database_url.removeprefix("sqlite:///"))
    try:
        row = connection.execute(
            "SELECT id FROM rooms WHERE building_id = ? AND name = ?", (scenario.bekkestua_id, name)
        ).fetchone()
    finally:
        connection.close()
    assert row, name
    return row[0]


@pytest.fixture
def open_page(browser, scenario):
    """``open_page(width, member=False, javascript=True)``: a page in a fresh context (own
    cookies), logged in as a member when asked; closed after the test."""
    contexts = []

    def make(width: str, *, member: bool = False, javascript: bool = True):
        context = browser.new_context(
            base_url=scenario.base_url,
            locale="nb-NO",
            timezone_id="Europe/Oslo",
            viewport=WIDTHS[width],
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if member:
            page.goto("/login")
            page.fill("#email", MEMBER)
            page.fill("#password", PASSWORD)
            page.locator("main").get_by_role("button", name="Logg inn").click()
            page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield make
    for context in contexts:
        context.close()


def _fits(page) -> None:
    fit = page.evaluate(OVERFLOW)
    assert fit["scrollWidth"] <= fit["width"], fit


def _wait_for_focus(page, element_id: str) -> None:
    page.wait_for_function(f"() => document.activeElement && document.activeElement.id === '{element_id}'")


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", ["nb", "en"])
def test_errors_take_the_focus_and_lead_to_their_fields(open_page, scenario, width, language):
    page = open_page(width, member=True)
    room = _room_id(scenario, "Verkstedet")
    page.goto(f"/rooms/{room}?lang={language}")
    page.fill("#title", "Styremøte")
    page.fill("#date", "2020-01-07")
    page.fill("#attendees", "-3")
    with page.expect_navigation():
        page.locator("#booking-form button[value=book]").click()
    _wait_for_focus(page, "error-summary")
    summary = page.inner_text("#error-summary")
    if language == "nb":
        assert "Dato: Den datoen er passert: velg i dag eller en senere dato." in summary
        assert "Antall personer: Minst 1 person: skriv hvor mange som kommer." in summary
    else:
        assert "Date: That date has passed: choose today or a later date." in summary
        assert "Number of people: At least 1 person: enter how many will come." in summary
    assert "0 timer" not in summary and "whole number" not in summary
    box = page.locator("#error-summary").bounding_box()
    assert box and 0 <= box["y"] < WIDTHS[width]["height"], "the summary is in view"
    shot(page, f"roomform-errors-{language}-{width}")
    page.locator("#error-summary a[href='#attendees']").click()
    _wait_for_focus(page, "attendees")
    if width == "phone":
        _fits(page)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_taken_time_takes_the_focus_with_its_alternatives(open_page, scenario, width):
    page = open_page(width, member=True)
    room = _room_id(scenario, "Øvingsrom 2")
    taken = scenario.js_day + timedelta(weeks=1)  # Bærum Seniordans has 18:30–19:30 there
    page.goto(f"/rooms/{room}")
    page.fill("#title", "Korpsøvelse")
    page.fill("#date", taken.isoformat())
    page.fill("#start", "18:00")
    page.fill("#end", "20:00")
    with page.expect_navigation() as sent:
        page.locator("#booking-form button[value=book]").click()
    assert sent.value.status == 409
    _wait_for_focus(page, "conflict")
    conflict = page.locator("#conflict")
    assert "opptatt av Bærum Seniordans" in conflict.inner_text()
    assert conflict.locator(".suggestions a").count() >= 1, "free alternatives are offered"
    box = conflict.bounding_box()
    assert box and 0 <= box["y"] < WIDTHS[width]["height"], "the conflict is scrolled into view"
    shot(page, f"roomform-conflict-{width}")
    if width == "phone":
        _fits(page)
    # Changing the form: the stale conflict goes, the live quote speaks for the form as it is.
    page.fill("#start", "20:00")
    page.fill("#end", "21:00")
    page.wait_for_function("() => document.getElementById('conflict').hidden")
    page.locator("#quote table").wait_for()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_live_quote_names_what_is_missing(open_page, scenario, width):
    page = open_page(width, member=True)
    room = _room_id(scenario, "Verkstedet")
    page.goto(f"/rooms/{room}?date={scenario.nojs_day}&start=18:00&length=120")
    page.locator("#quote table").wait_for()
    _fits(page)  # the itemised quote stacks on a phone (it made the page 458 px wide)
    shot(page, f"roomform-quote-{width}")
    page.fill("#end", "")
    page.locator("#quote .missing").wait_for()
    quote = page.inner_text("#quote")
    assert "Til: Fyll ut et klokkeslett, for eksempel 18:00." in quote
    assert "Dato" not in quote and "Fyll ut dato og klokkeslett" not in quote
    shot(page, f"roomform-missing-{width}")
    page.locator("#quote .missing a").click()
    _wait_for_focus(page, "end")


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_anonymous_visitors_see_the_price_for_every_category(open_page, scenario, width, javascript):
    page = open_page(width, javascript=javascript)
    room = _room_id(scenario, "Storsalen")
    page.goto(f"/rooms/{room}")
    assert "For å booke, logg inn" in page.inner_text("#book")
    page.fill("#date", scenario.nojs_day.isoformat())
    page.fill("#start", "18:00")
    page.fill("#end", "20:00")
    if javascript:
        page.locator("#quote .estimate").wait_for()
    else:
        with page.expect_navigation():
            page.locator("#price-form button").click()
    quote = page.inner_text("#quote")
    for category in ("gratis", "redusert pris", "full pris"):
        assert category in quote
    assert "Logg inn for å booke" in quote
    shot(page, f"roomform-anonymous-{'js' if javascript else 'nojs'}-{width}")
    if width == "phone":
        _fits(page)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_errors_on_other_pages_take_the_focus_too(open_page, width):
    page = open_page(width)
    page.goto("/register")
    with page.expect_navigation():
        # The server's answer to an empty form, not the browser's own bubbles.
        page.evaluate(
            "() => { const f = document.querySelector('main form'); f.noValidate = true; f.requestSubmit(); }"
        )
    _wait_for_focus(page, "error-summary")
    summary = page.inner_text("#error-summary")
    assert "E-post: " in summary and "Organisasjonsnummer: " in summary
    shot(page, f"roomform-register-errors-{width}")
    page.locator("#error-summary a[href='#email']").click()
    _wait_for_focus(page, "email")
    if width == "phone":
        _fits(page)
