""" "My bookings" in real Chromium at 1366 and 390 px (issue 15): each date's price opens into
its lines, totals, a series with its weekday, the private feed link that wraps and copies, why a
request was declined, and a series' cancellation fee date by date. Nothing here changes what the
other browser tests rely on: the requests it declines are its own, and no series is cancelled."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest

from tests.e2e.conftest import SECRET_KEY, clear_weekday, shot
from tests.e2e.test_accessibility import AXE, RUN_AXE, WCAG_AA
from tests.e2e.test_browser import log_in

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
AMOUNT = r"kr\u00a0[\d\u00a0]+,\d\d"

FITS = """() => ({page: document.documentElement.scrollWidth, window: window.innerWidth})"""


def ore(amount: str) -> int:
    """``kr 1 250,00`` as øre."""
    return int(re.sub(r"\D", "", amount))


def assert_fits_and_passes_axe(page, where: str) -> None:
    """No wider than the window, and axe-core (WCAG 2.1 A and AA) finds nothing, in the state the
    page is in (a price opened, the feed link shown): states the page-by-page check never sees."""
    fit = page.evaluate(FITS)
    assert fit["page"] <= fit["window"], f"{where}: {fit['page']} px wide in a {fit['window']} px window"
    violations = page.evaluate(RUN_AXE, WCAG_AA)
    assert not violations, f"{where}: {violations}"


def open_page(new_page, width: str):
    page = new_page(phone=width == "phone")
    page.set_viewport_size(WIDTHS[width])
    page.context.add_init_script(path=str(AXE))
    return page


def _declined_requests(scenario) -> None:
    """Two requests of the band for the hall on a Saturday of their own: one overruled by the
    dancers' approved request, one declined in the administrator's words."""
    from booking import create_app
    from booking.demo import ADMIN
    from booking.extensions import db
    from booking.models import Organization, Room, User
    from booking.services.auth import actor_for
    from booking.services.bookings import BookingRequest, approve_booking, create_booking, reject_booking
    from pricing.weekly import OSLO

    app = create_app({"SQLALCHEMY_DATABASE_URI": scenario.database_url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():

        def one(model, **where):
            return db.session.execute(db.select(model).filter_by(**where)).scalar_one()

        hall = one(Room, name="Storsalen")
        saturday = clear_weekday(5, 2, 50)

        def ask(email, organization, day, start, end, title):
            data = {
                "room_id": hall.id,
                "organization_id": one(Organization, name=organization).id,
                "title": title,
                "start": datetime.combine(day, time.fromisoformat(start), OSLO),
                "end": datetime.combine(day, time.fromisoformat(end), OSLO),
                "attendees": 40,
            }
            return create_booking(actor_for(one(User, email=email)), BookingRequest.from_input(data))

        ask("korps@demo.test", "Bekkestua Skolekorps", saturday, "12:00", "14:00", "Sommerkonsert")
        winner = ask("dans@demo.test", "Bærum Seniordans", saturday, "13:00", "15:00", "Sommerdans")
        approve_booking(ADMIN, winner.id)
        worded = ask("korps@demo.test", "Bekkestua Skolekorps", saturday, "16:00", "18:00", "Jubileum")
        reject_booking(ADMIN, worded.id, "Salen pusses opp den dagen.")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def declined(scenario):
    _declined_requests(scenario)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_my_page_prices_series_feed_and_reasons(new_page, scenario, declined, width):
    page = open_page(new_page, width)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=scenario.base_url)
    log_in(page, "korps@demo.test")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/my")
    main = page.locator("main")

    series = page.locator("article.series", has_text="Korpsøvelse")
    summary = series.locator(".series-summary").inner_text()
    assert re.fullmatch(
        r"hver tirsdag 18:00–20:00, \d\d\.\d\d\.(\d{4})?–\d\d\.\d\d\.\d{4} \((\d+) kommende datoer\)", summary
    ), summary
    dates = int(re.search(r"\((\d+) kommende", summary).group(1))
    price = series.locator(".series-price").inner_text()
    each = re.search(rf"({AMOUNT}) per dato \(leie ({AMOUNT}) og tilsyn ({AMOUNT})\)", price)
    assert each, price
    assert ore(each.group(1)) == ore(each.group(2)) + ore(each.group(3))
    total = re.search(rf"({AMOUNT}) for {dates} kommende datoer", price)
    assert total and ore(total.group(1)) == dates * ore(each.group(1)), price

    # A date's price opens into its lines, which add up to it.
    first = series.locator("li.booking-row").first
    first.locator("summary").click()
    lines = first.locator("table.quote-lines")
    lines.wait_for()
    amounts = [ore(a) for a in lines.locator("tbody td.num").all_inner_texts()]
    assert "Tilsyn, hverdag" in lines.inner_text() and sum(amounts) == ore(each.group(1))
    overall = re.search(rf"Kommende: (\d+) datoer, ({AMOUNT}) i alt", main.inner_text())
    assert overall and int(overall.group(1)) >= dates

    # The private feed link: made, shown whole (wrapped on a phone), copied, and webcal://.
    make = page.get_by_role("button", name="Lag kalenderlenke")
    if make.count():
        make.first.click()
        page.wait_for_url("**/my#feed-*")
    feed = page.locator("section.feed").first
    field = feed.get_by_label("Privat kalenderlenke")
    url = field.input_value()
    assert url.startswith(scenario.base_url + "/feeds/org/") and url.endswith(".ics")
    fit = field.evaluate(
        "el => ({sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight})"
    )
    assert fit["sw"] <= fit["cw"] and fit["sh"] <= fit["ch"] + 1, f"the whole link shows: {fit}"
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS[width]["width"]
    feed.get_by_role("button", name="Kopier").click()
    feed.get_by_text("Kopiert").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url
    webcal = feed.get_by_role("link", name="Åpne i kalenderappen")
    assert webcal.get_attribute("href") == "webcal://" + url.split("://", 1)[1]
    answer = page.request.get(url)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/calendar")

    # Why the band's requests were declined, in Norwegian and in the administrator's own words.
    decided = page.locator("#decided")
    overruled = decided.locator("li", has_text="Sommerkonsert")
    assert "Begrunnelse: Tiden ble gitt til en annen booking." in overruled.inner_text()
    assert (
        "Begrunnelse: Salen pusses opp den dagen." in decided.locator("li", has_text="Jubileum").inner_text()
    )
    opened = page.locator("article.series li.booking-row details").first
    if opened.get_attribute("open") is None:  # closed again when the feed link was made
        opened.locator("summary").click()
    assert_fits_and_passes_axe(page, f"/my {width}")
    shot(page, f"my-{width}-nb")

    page.goto("/my?lang=en")
    english = page.locator("main").inner_text()
    assert re.search(r"every Tuesday 18:00–20:00, .+ \(\d+ upcoming dates\)", english)
    assert "Reason: The time was given to another booking." in english
    assert re.search(r"NOK\s[\d,]+\.\d\d per date \(rent NOK\s[\d,]+\.\d\d and supervision", english)
    assert_fits_and_passes_axe(page, f"/my?lang=en {width}")
    shot(page, f"my-{width}-en")
    page.goto("/my?lang=nb")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_series_cancel_shows_each_dates_fee_and_rule_then_the_total(new_page, scenario, width):
    page = open_page(new_page, width)
    log_in(page, "korps@demo.test")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/my")
    series = page.locator("article.series", has_text="Korpsøvelse")
    dates = int(re.search(r"\((\d+) kommende", series.locator(".series-summary").inner_text()).group(1))
    series.get_by_role("link", name="Avbestill hele serien").click()
    page.wait_for_url("**/my/series/*/cancel")
    table = page.get_by_role("table", name="Avbestillingsgebyr per dato")
    rows = table.locator("tbody tr")
    assert rows.count() == dates
    fees = []
    for text in rows.all_inner_texts():
        assert re.search(r"18:00–20:00\s+(Gratis: 14 dager|7–14 dager|Under 7 dager|Under 48 timer)", text), (
            text
        )
        fee = re.search(rf"({AMOUNT}|gratis)\s*$", text)
        assert fee, text
        fees.append(0 if fee.group(1) == "gratis" else ore(fee.group(1)))
    total = table.locator("tfoot td").inner_text()
    assert ore(total) == sum(fees)
    assert page.get_by_role("button", name=re.compile("Avbestill disse datoene")).inner_text().endswith(total)
    assert_fits_and_passes_axe(page, f"series cancel {width}")
    shot(page, f"my-series-cancel-{width}")
    page.goto(page.url + "?lang=en")
    assert page.get_by_role("table", name="Cancellation fee per date").locator("tbody tr").count() == dates
    shot(page, f"my-series-cancel-{width}-en")
    page.goto("/my?lang=nb")
