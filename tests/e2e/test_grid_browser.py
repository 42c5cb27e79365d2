"""The room page's week grid in real Chromium (issue 15), at 1366 and 390 px: choosing a free
hour fills the booking form (in place with JavaScript, by a link without), typing a date moves
the grid to its week, all seven days are there on a phone, the user's own booking reads as
theirs; the room's and the building's public feed links copy and open as webcal://; nothing is
wider than the phone, and axe-core finds nothing on the pages this part changed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from pricing.weekly import OSLO
from tests.e2e.conftest import clear_weekday, shot
from tests.e2e.test_accessibility import AXE, OVERFLOW, RUN_AXE, WCAG_AA
from tests.e2e.test_browser import log_in

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
MEMBER = "korps@demo.test"

# The right edge of every element inside the selector (what this part draws), the widest first.
RIGHT_EDGE = """(selector) => Math.max(0, ...[...document.querySelectorAll(selector + ', ' + selector + ' *')]
  .filter(el => el.getClientRects().length).map(el => el.getBoundingClientRect().right))"""


def _query(scenario, sql: str, *args):
    connection = sqlite3.connect(scenario.database_url.removeprefix("sqlite:///"))
    try:
        row = connection.execute(sql, args).fetchone()
    finally:
        connection.close()
    assert row, sql
    return row


def _room_id(scenario, name: str) -> int:
    return _query(
        scenario,
        "SELECT r.id FROM rooms r JOIN buildings b ON b.id = r.building_id"
        " WHERE r.name = ? AND b.name = 'Bekkestua kulturhus'",
        name,
    )[0]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _page(browser, scenario, width: str, *, login: str | None = MEMBER, javascript: bool = True):
    context = browser.new_context(
        base_url=scenario.base_url,
        java_script_enabled=javascript,
        locale="nb-NO",
        timezone_id="Europe/Oslo",
        viewport=WIDTHS[width],
    )
    context.set_default_timeout(15_000)
    if javascript:
        context.add_init_script(path=str(AXE))
    page = context.new_page()
    if login:
        log_in(page, login)
        page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def _pick(page, width: str, day: date, start: str):
    """The free hour's link as the width shows it: in the table, or in the phone's day list."""
    where = "table.week-grid" if width == "desktop" else "ol.week-days"
    return page.locator(f'{where} a.pick[data-date="{day.isoformat()}"][data-start="{start}"]')


def _fits(page, selector: str, width: int) -> None:
    right = page.evaluate(RIGHT_EDGE, selector)
    assert right <= width + 0.5, f"{selector} reaches {right} px in a {width} px window"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_choosing_a_free_hour_fills_the_form_and_typing_a_date_moves_the_grid(browser, scenario, width):
    room = _room_id(scenario, "Verkstedet")
    day = clear_weekday(2, 1, 49)  # a Wednesday seven weeks ahead: nothing booked there
    context, page = _page(browser, scenario, width)
    try:
        page.goto(f"/rooms/{room}?week={day.isoformat()}")
        heading = page.locator("#week-heading")
        assert page.locator(".week-head").get_attribute("data-week") == _monday(day).isoformat()
        choice = _pick(page, width, day, "17:00")
        choice.scroll_into_view_if_needed()
        assert choice.is_visible()
        address = page.url
        choice.click()
        assert page.input_value("#date") == day.isoformat()
        assert page.input_value("#start") == "17:00"
        assert page.input_value("#end") == "19:00", "the form's two hours are kept"
        assert page.url == address, "filled in place, no page load"
        assert page.evaluate("document.activeElement.id") == "title", "on to what is missing"
        page.locator("#quote").get_by_text("17:00–19:00").first.wait_for()
        assert choice.get_attribute("aria-current") == "true"
        shot(page, f"grid-chosen-{width}")

        # A date typed in another week: the grid shows that week.
        later = day + timedelta(weeks=3)
        page.fill("#date", later.isoformat())
        page.locator(f'.week-head[data-week="{_monday(later).isoformat()}"]').wait_for()
        assert "Uken fra mandag" in heading.inner_text()
        assert _pick(page, width, later, "17:00").get_attribute("aria-current") == "true"
        shot(page, f"grid-followed-date-{width}")

        # The week links swap the grid in place and keep what the form holds.
        page.fill("#title", "Dugnad")
        page.get_by_role("link", name="Neste uke").click()
        page.locator(f'.week-head[data-week="{_monday(later + timedelta(weeks=1)).isoformat()}"]').wait_for()
        assert page.url == address and page.input_value("#title") == "Dugnad"
        assert page.evaluate("document.activeElement.id") == "week-heading"

        # A past hour is not a link.
        page.goto(f"/rooms/{room}?week={(datetime.now(OSLO).date() - timedelta(days=7)).isoformat()}")
        assert page.locator("a.pick").count() == 0
        _fits(page, "#week", WIDTHS[width]["width"])
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_without_javascript_a_free_hour_is_a_link_to_the_filled_in_form(browser, scenario, width):
    room = _room_id(scenario, "Verkstedet")
    day = clear_weekday(3, 1, 56)
    context, page = _page(browser, scenario, width, javascript=False)
    try:
        page.goto(f"/rooms/{room}?week={day.isoformat()}")
        _pick(page, width, day, "18:00").click()
        page.wait_for_url(f"**date={day.isoformat()}&start=18:00*")
        assert page.input_value("#date") == day.isoformat() and page.input_value("#start") == "18:00"
        assert page.locator(".week-head").get_attribute("data-week") == _monday(day).isoformat()
        assert "18:00–20:00" in page.inner_text("#quote"), "the quote of the chosen time at once"
        shot(page, f"grid-nojs-chosen-{width}")
    finally:
        context.close()


def test_all_seven_days_are_on_a_phone_and_the_own_booking_reads_as_ours(browser, scenario):
    room = _room_id(scenario, "Øvingsrom 1")
    (start,) = _query(
        scenario,
        "SELECT b.start FROM bookings b JOIN organizations o ON o.id = b.organization_id"
        " WHERE o.name = 'Bekkestua Skolekorps' AND b.room_id = ? AND b.status = 'confirmed'"
        " AND b.start > ? ORDER BY b.start",
        room,
        (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None).isoformat(sep=" "),
    )
    day = date.fromisoformat(start[:10])
    for width in WIDTHS:
        context, page = _page(browser, scenario, width)
        try:
            page.goto(f"/rooms/{room}?week={day.isoformat()}")
            days = page.locator("ol.week-days > li")
            if width == "phone":
                assert page.locator("table.week-grid").is_hidden()
                assert days.count() == 7
                for n in range(7):
                    assert days.nth(n).locator("h3").is_visible()
                _fits(page, "#week", 390)
            else:
                assert page.locator("table.week-grid").is_visible() and days.first.is_hidden()
                assert page.locator("table.week-grid thead th").count() == 8
            own = page.locator("#week a.own-link:visible").first
            assert own.inner_text() == "Din booking" and own.get_attribute("href") == "/my"
            assert "Bekkestua Skolekorps" not in page.inner_text("#week"), "not as someone else's"
            shot(page, f"grid-own-booking-{width}")
        finally:
            context.close()
    context, page = _page(browser, scenario, "desktop", login="dans@demo.test")
    try:
        page.goto(f"/rooms/{room}?week={day.isoformat()}")
        assert "Bekkestua Skolekorps" in page.inner_text("#week"), "another member sees whose it is"
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_room_and_building_feed_links_copy_and_open_as_webcal(browser, scenario, width):
    room = _room_id(scenario, "Storsalen")
    context, page = _page(browser, scenario, width, login=None)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=scenario.base_url)
    try:
        for path, feed, name in (
            (f"/rooms/{room}", "room-feed", "room"),
            (f"/buildings/{scenario.bekkestua_id}", "building-feed", "building"),
        ):
            page.goto(path)
            url = page.input_value(f"#{feed}")
            assert url.startswith(scenario.base_url) and url.endswith(".ics")
            webcal = page.locator(f"#{feed}-heading").locator("xpath=..").locator("a.webcal-link")
            assert webcal.get_attribute("href") == "webcal://" + url.split("://", 1)[1]
            page.locator(f'button[data-copy="{feed}"]').click()
            page.locator(f"#{feed}-heading").locator("xpath=..").get_by_text("Kopiert").wait_for()
            assert page.evaluate("navigator.clipboard.readText()") == url
            assert page.request.get(url).status == 200, "the feed answers"
            fit = page.evaluate(OVERFLOW)
            if width == "phone":
                _fits(page, ".public-feed", 390)
                if name == "building":
                    assert fit["scrollWidth"] <= fit["width"], fit
            violations = page.evaluate(RUN_AXE, WCAG_AA)
            assert violations == [], violations
            shot(page, f"grid-feed-{name}-{width}")
        # The building page is reached from the room page.
        page.goto(f"/rooms/{room}")
        page.get_by_role("link", name="Bygget: rom, åpningstider, kalender").click()
        page.wait_for_url(f"**/buildings/{scenario.bekkestua_id}")
        page.get_by_role("link", name="Storsalen").click()
        page.wait_for_url(f"**/rooms/{room}")
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_search_card_itemises_its_price_and_the_grid_pages_pass_axe(browser, scenario, width):
    day = clear_weekday(1, 1, 63)
    context, page = _page(browser, scenario, width, login=None)
    try:
        page.goto(f"/?date={day.isoformat()}&start=18:00&length=120&for=cat-free")
        card = page.locator("li.card").filter(has_text="Storsalen")
        price = card.locator(".search-price").inner_text().replace("\xa0", " ")
        assert "Leie kr 0,00 + tilsyn kr 600,00" in price and "= kr 600,00" in price
        fit = page.evaluate(OVERFLOW)
        assert width == "desktop" or fit["scrollWidth"] <= fit["width"], fit
        assert page.evaluate(RUN_AXE, WCAG_AA) == []
        shot(page, f"grid-search-card-{width}")
        card.get_by_role("link", name="Bekkestua kulturhus").click()
        page.wait_for_url(f"**/buildings/{scenario.bekkestua_id}")
        for language in ("nb", "en"):
            page.goto(f"/rooms/{_room_id(scenario, 'Storsalen')}?week={day.isoformat()}&lang={language}")
            violations = page.evaluate(RUN_AXE, WCAG_AA)
            assert violations == [], (language, violations)
            page.goto(f"/buildings/{scenario.bekkestua_id}?lang={language}")
            assert page.evaluate(RUN_AXE, WCAG_AA) == [], language
    finally:
        context.close()


def test_those_who_cannot_book_choose_a_free_hour_into_the_price_form(browser, scenario):
    room = _room_id(scenario, "Verkstedet")
    day = clear_weekday(4, 1, 49)
    context, page = _page(browser, scenario, "phone", login=None)
    try:
        page.goto(f"/rooms/{room}?week={day.isoformat()}")
        _pick(page, "phone", day, "19:00").click()
        assert page.input_value("#price-form [name=date]") == day.isoformat()
        assert page.input_value("#price-form [name=start]") == "19:00"
        assert page.evaluate("document.activeElement.name") == "start"
        _fits(page, "#week", 390)
        shot(page, "grid-visitor-chosen-phone")
    finally:
        context.close()
