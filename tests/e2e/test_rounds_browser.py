"""Real Chromium against gunicorn: the demo's seasonal round (SPEC §14) run end to end on its
pages, as a newcomer would: a member applies, the admin closes the window, allocates, changes a
result by hand and publishes; one organisation declines, one accepts (a weekly series in its
calendar feed and on the janitor's sheet), and the freed time goes to the application that got
nothing."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from booking.demo import round_dates
from booking.domain.holidays import holiday_dates
from pricing.weekly import OSLO
from tests.e2e.conftest import shot
from tests.e2e.test_browser import check_accessible, log_in


def first_open(weekday: int, season_start: date) -> date:
    """The season's first ``weekday`` that is no public holiday and not in the demo buildings'
    Christmas closure (the series skips those)."""
    day = season_start + timedelta(days=(weekday - season_start.weekday()) % 7)
    while (
        day in holiday_dates(day, day) or (day.month, day.day) >= (12, 20) or (day.month, day.day) <= (1, 2)
    ):
        day += timedelta(weeks=1)
    return day


def logged_in(page, email: str) -> None:
    """Log in and wait until the login has landed (a goto straight after could beat it)."""
    log_in(page, email)
    page.wait_for_url(lambda url: "/login" not in url)


def flash(page) -> str:
    return page.inner_text(".flashes")


def open_round(page) -> None:
    page.goto("/rounds")
    page.locator("main").get_by_role("link", name=re.compile("^Sesongtildeling ")).click()
    page.wait_for_url(re.compile(r".*/rounds/\d+$"))


def test_the_demo_round_end_to_end(new_page, scenario):
    season_start = round_dates(datetime.now(OSLO).date())["season_start"]

    # A member applies for the music room on Tuesday evening, which the korps (class 1) wants too.
    dancer = new_page()
    log_in(dancer, "dans@demo.test")
    dancer.wait_for_url("**/my")
    open_round(dancer)
    assert "åpen for søknader" in dancer.inner_text("#round-state")
    dancer.select_option("#wish1_room", label="Musikkrommet")
    dancer.select_option("#wish1_weekday", "1")
    dancer.fill("#wish1_start", "18:00")
    dancer.fill("#wish1_end", "20:00")
    dancer.fill("#attendees", "12")
    dancer.fill("#description", "Seniordans med musikk")
    check_accessible(dancer)
    dancer.get_by_role("button", name="Send søknad").click()
    dancer.wait_for_url(re.compile(r".*/rounds/\d+#applications$"))
    assert "Søknaden er sendt." in flash(dancer)
    mine = dancer.locator("article.application", has_text="Seniordans med musikk")
    assert "prioritet 2" in mine.inner_text()
    mine.get_by_role("button", name=re.compile("^Flytt opp")).click()
    dancer.wait_for_url(re.compile(r".*#applications$"))
    assert (
        "prioritet 1" in dancer.locator("article.application", has_text="Seniordans med musikk").inner_text()
    )
    shot(dancer, "round-1-applied")

    # The admin closes the window, allocates, reads the grid and the list of those left out.
    admin = new_page()
    log_in(admin, "admin@demo.test")
    admin.wait_for_url("**/admin")
    open_round(admin)
    round_url = admin.url
    admin.get_by_role("button", name="Steng søknadsvinduet nå").click()
    admin.wait_for_url(re.compile(r".*#admin$"))
    assert "Søknadsvinduet er stengt" in flash(admin)
    admin.get_by_role("button", name="Fordel", exact=True).click()
    admin.wait_for_url(re.compile(r".*#admin$"))
    assert "Runden ble fordelt" in flash(admin)
    grid = admin.locator("#grid")
    music = grid.locator("tr", has_text="Musikkrommet")
    cells = music.locator("td")
    assert "Bekkestua Skolekorps" in cells.nth(1).inner_text()  # Tuesday
    assert "Nordisk Konsulentforum AS" in cells.nth(2).inner_text()  # Wednesday: its wish 2
    assert "Bærum Seniordans" in admin.inner_text("#nothing")
    application = admin.locator("article.application", has_text="Seniordans med musikk")
    assert "Ønske 1: tildelt Bekkestua Skolekorps (klasse 1, barn og unge), en høyere klasse" in (
        application.inner_text()
    )
    shot(admin, "round-2-allocated")
    check_accessible(admin)

    # By hand: the consultancy's choir moves from Wednesday to Thursday 19:00-21:00.
    row = admin.locator("#allocation tr", has_text="Nordisk Konsulentforum AS")
    row.locator("summary").click()
    row.get_by_label("Ukedag").select_option("3")
    row.get_by_label("Start").fill("19:00")
    row.get_by_label("Slutt").fill("21:00")
    row.get_by_role("button", name="Lagre resultatet").click()
    admin.wait_for_url(re.compile(r".*#admin$"))
    assert "Resultatet er endret." in flash(admin)
    thursday = admin.locator("#grid tr", has_text="Musikkrommet").locator("td").nth(3)
    assert "Nordisk Konsulentforum AS" in thursday.inner_text() and "manuelt" in thursday.inner_text()
    admin.get_by_role("button", name="Publiser og send tilbud").click()
    admin.wait_for_url(re.compile(r".*#admin$"))
    assert "Runden ble publisert" in flash(admin)
    assert "publisert" in admin.inner_text("#round-state")

    # Anyone reads the published result per room, with the seed.
    anonymous = new_page()
    anonymous.goto(round_url)
    result = anonymous.inner_text("#result")
    assert "Musikkrommet" in result and "Bekkestua Skolekorps" in result and "19:00–21:00" in result
    assert len(anonymous.inner_text("#seed")) == 32

    # The korps declines its Tuesday; the choir accepts its Thursday.
    korps = new_page()
    logged_in(korps, "korps@demo.test")
    korps.goto(round_url)
    offer = korps.locator("article.application", has_text="Hovedkorpset")
    assert "tilbudt: svar innen fristen" in offer.inner_text()
    offer.get_by_role("button", name="Avslå").click()
    korps.wait_for_url(re.compile(r".*#applications$"))
    assert "Du avslo tiden." in flash(korps)

    choir = new_page()
    logged_in(choir, "konsulent@demo.test")
    choir.goto(round_url)
    choir.locator("article.application", has_text="Bedriftskoret").get_by_role("button", name="Godta").click()
    choir.wait_for_url(re.compile(r".*#applications$"))
    assert "Du godtok tiden" in flash(choir)
    accepted = choir.locator("article.application", has_text="Bedriftskoret").inner_text()
    assert "Tildelt: Musikkrommet, torsdag 19:00–21:00 (satt manuelt av kommunen)" in accepted
    shot(choir, "round-3-accepted")

    # The accepted time is a weekly series: under /my and in the organisation's calendar feed.
    choir.goto("/my")
    series = choir.locator("article.series", has_text="Bedriftskoret")
    assert series.locator("li.booking-row").count() >= 10
    if choir.locator("section.feed .feed-url").count() == 0:
        choir.get_by_role("button", name="Lag kalenderlenke").click()
        choir.wait_for_url(re.compile(r".*/my#feed-\d+$"))
    url = choir.locator("section.feed .feed-url").input_value()
    calendar = choir.request.get(url)
    assert calendar.ok and "text/calendar" in calendar.headers["content-type"]
    body = calendar.text()
    assert "Bedriftskoret" in body and "RRULE:FREQ=WEEKLY" in body

    # The freed Tuesday goes to the application that got nothing, in the same order.
    admin.goto(round_url)
    admin.get_by_role("button", name="Fordel ledige tider").click()
    admin.wait_for_url(re.compile(r".*#admin$"))
    assert "De ledige tidene er fordelt og tilbudt." in flash(admin)
    tuesday = admin.locator("#grid tr", has_text="Musikkrommet").locator("td").nth(1)
    assert "Bærum Seniordans" in tuesday.inner_text() and "Bekkestua Skolekorps" not in tuesday.inner_text()
    shot(admin, "round-4-freed-times")
    dancer.goto(round_url)
    offered = dancer.locator("article.application", has_text="Seniordans med musikk")
    assert "tilbudt: svar innen fristen" in offered.inner_text()

    # The janitor's sheet for Hauger skole shows the choir on the season's first Thursday.
    janitor = new_page(phone=True)
    logged_in(janitor, "vaktmester@demo.test")
    janitor.goto("/janitor")
    href = janitor.get_by_role("link", name="Hauger skole").get_attribute("href")
    day = first_open(3, season_start)
    janitor.goto(f"{href}?date={day.isoformat()}")
    entry = janitor.locator("li.sheet-entry", has_text="Nordisk Konsulentforum AS")
    assert entry.count() == 1 and "19:00–21:00" in entry.inner_text()
    shot(janitor, "round-5-janitor")
    check_accessible(janitor)
