"""The janitor's pages in Chromium (issue 15), at 1366 and 390 px, in bokmål and English: the
list of buildings with the day's bookings, the date picker (with and without JavaScript), the
print button, the private calendar link (made, copied, opened as webcal://), all buildings' sheets
on one page, printed to A4; axe-core finds nothing and nothing is wider than the phone."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.e2e.conftest import OUTPUT, shot
from tests.e2e.test_accessibility import AXE, OVERFLOW, RUN_AXE, WCAG_AA
from tests.e2e.test_browser import long_day

JANITOR = "vaktmester@demo.test"
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
A4 = (595.3, 841.9)  # points


def _log_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", "demo-password")
    page.locator("main").get_by_role("button", name="Logg inn").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _janitor(new_page, width: str, javascript: bool = True):
    page = new_page(javascript=javascript, phone=width == "phone")
    page.set_viewport_size(WIDTHS[width])
    page.context.add_init_script(path=str(AXE))
    _log_in(page, JANITOR)
    return page


def _fits_and_passes_axe(page, where: str) -> None:
    violations = page.evaluate(RUN_AXE, WCAG_AA)
    assert violations == [], (where, violations)
    fit = page.evaluate(OVERFLOW)
    assert fit["scrollWidth"] <= fit["width"], (where, fit)


def _pdf(page, name: str) -> PdfReader:
    data = page.pdf(format="A4", print_background=True)
    (OUTPUT / f"{name}.pdf").write_bytes(data)
    reader = PdfReader(io.BytesIO(data))
    for number, sheet in enumerate(reader.pages, 1):
        size = (float(sheet.mediabox.width), float(sheet.mediabox.height))
        assert abs(size[0] - A4[0]) < 1.5 and abs(size[1] - A4[1]) < 1.5, (name, number, size)
    return reader


def _printed_text(reader: PdfReader) -> str:
    return " ".join(sheet.extract_text() for sheet in reader.pages)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_list_of_buildings_shows_where_the_work_is(new_page, scenario, width):
    page = _janitor(new_page, width)
    day = scenario.busy_day
    page.goto(f"/janitor?date={day.isoformat()}")
    assert long_day(day) in page.locator("h1").inner_text()
    row = page.locator(".building-days li", has_text="Bekkestua kulturhus")
    count = row.locator(".day-count").inner_text()
    found = re.fullmatch(r"(\d+) bookinger? · første kl\. (\d\d:\d\d)", count)
    assert found, count
    shot(page, f"janitor-index-{width}")
    _fits_and_passes_axe(page, f"index {width}")
    # The count is the sheet's: as many bookings, the first starting then.
    row.get_by_role("link", name="Bekkestua kulturhus").click()
    page.wait_for_url(f"**/janitor/{scenario.bekkestua_id}?date={day.isoformat()}")
    assert page.locator("li.sheet-entry").count() == int(found.group(1))
    first_times = [t.split("–")[0] for t in page.locator(".sheet-time").all_inner_texts()]
    assert min(first_times) == found.group(2)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_date_picker_and_the_print_button(new_page, scenario, width):
    page = _janitor(new_page, width)
    page.goto(f"/janitor/{scenario.bekkestua_id}")
    day = scenario.busy_day
    page.fill("#sheet-date", day.isoformat())
    page.get_by_role("button", name="Vis", exact=True).click()
    page.wait_for_url(f"**/janitor/{scenario.bekkestua_id}?date={day.isoformat()}")
    assert long_day(day) in page.locator("h1").inner_text()
    assert page.locator("li.sheet-entry", has_text="Korpsøvelse").count() == 1
    page.get_by_role("link", name=re.compile("→$")).click()
    page.wait_for_url(f"**date={(day + timedelta(days=1)).isoformat()}")
    assert page.input_value("#sheet-date") == (day + timedelta(days=1)).isoformat()
    page.get_by_role("link", name=re.compile("^←")).click()
    page.wait_for_url(f"**date={day.isoformat()}")
    # The print button asks the browser to print (window.print is replaced to count the calls).
    page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    button = page.get_by_role("button", name="Skriv ut")
    assert button.is_visible()
    button.click()
    assert page.evaluate("window.printed") == 1
    shot(page, f"janitor-day-tools-{width}")
    _fits_and_passes_axe(page, f"day sheet {width}")
    # Printed: one A4 page, without the tools, the calendar link or the menus.
    reader = _pdf(page, f"janitor-day-{width}")
    assert len(reader.pages) == 1, f"the day sheet takes {len(reader.pages)} pages"
    printed = _printed_text(reader)
    assert "Korpsøvelse" in printed and "Klubbkveld" in printed
    for tool in ("Skriv ut", "Logg ut", "Kalender", "Alle mine bygg", "Dato"):
        assert not re.search(rf"\b{tool}\b", printed), tool
    page.emulate_media(media="print")
    shot(page, f"janitor-day-print-preview-{width}")


def test_without_javascript_the_date_picker_works_and_the_print_button_is_not_offered(new_page, scenario):
    page = _janitor(new_page, "phone", javascript=False)
    page.goto(f"/janitor/{scenario.bekkestua_id}")
    assert page.get_by_role("button", name="Skriv ut").count() == 0  # hidden: no script to print
    page.fill("#sheet-date", scenario.busy_day.isoformat())
    page.get_by_role("button", name="Vis", exact=True).click()
    page.wait_for_url(f"**date={scenario.busy_day.isoformat()}")
    assert page.locator("li.sheet-entry", has_text="Klubbkveld").count() == 1
    shot(page, "janitor-day-no-js-phone")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_private_calendar_link(new_page, scenario, width):
    page = _janitor(new_page, width)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/janitor/{scenario.bekkestua_id}?lang=en")
    feed = page.locator("#calendar-feed")
    if feed.locator("#janitor-feed-url").count() == 0:
        feed.get_by_role("button", name="Make a calendar link").click()
    else:  # the other width's test made one: a new one replaces it
        feed.get_by_role("button", name="Make a new link").click()
    page.wait_for_url("**#calendar-feed")
    url = page.input_value("#janitor-feed-url")
    assert re.fullmatch(re.escape(scenario.base_url) + r"/feeds/janitor/[A-Za-z0-9_-]{40,}\.ics", url), url
    webcal = feed.get_by_role("link", name="Open in my calendar app").get_attribute("href")
    assert webcal == "webcal://" + url.split("://", 1)[1]
    answer = page.request.get(url)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in answer.text()
    feed.get_by_role("button", name="Copy").click()
    feed.locator(".copy-status").get_by_text("Copied", exact=True).wait_for()  # the clipboard answers async
    assert page.evaluate("navigator.clipboard.readText()") == url
    shot(page, f"janitor-calendar-link-{width}")
    _fits_and_passes_axe(page, f"calendar link {width}")
    # A new link: the old one stops working.
    feed.get_by_role("button", name="Make a new link").click()
    page.wait_for_url("**#calendar-feed")
    assert page.input_value("#janitor-feed-url") != url
    assert page.request.get(url).status == 404
    page.goto("/?lang=nb")


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", ["nb", "en"])
def test_all_buildings_on_one_page(new_page, scenario, width, language):
    page = _janitor(new_page, width)
    day = scenario.busy_day
    page.goto(f"/janitor?date={day.isoformat()}&lang={language}")
    listed = {
        li.locator("a").inner_text(): li.locator(".day-count").inner_text()
        for li in page.locator(".building-days li").all()
    }
    assert len(listed) >= 2
    page.get_by_role(
        "link", name="All my buildings on one page" if language == "en" else "Alle mine bygg på én side"
    ).click()
    page.wait_for_url(f"**/janitor/all?date={day.isoformat()}")
    sections = page.locator("section.sheet-building")
    names = [s.locator("h2").inner_text() for s in sections.all()]
    assert names == sorted(listed)
    for section in sections.all():
        entries = section.locator("li.sheet-entry").count()
        count = listed[section.locator("h2").inner_text()]
        assert (count.split(" ")[0] == str(entries)) if entries else not re.match(r"\d", count), (
            count,
            entries,
        )
    shot(page, f"janitor-all-{language}-{width}")
    _fits_and_passes_axe(page, f"all buildings {language} {width}")
    reader = _pdf(page, f"janitor-all-{language}-{width}")
    printed = _printed_text(reader)
    assert all(name in printed for name in names)
    for tool in ("Print", "Skriv ut", "Log out", "Logg ut", "Calendar", "Kalender"):
        assert not re.search(rf"\b{tool}\b", printed), tool
    page.goto("/?lang=nb")


def test_an_admin_sees_every_building_on_one_page_and_a_member_is_refused(new_page, scenario):
    admin = new_page()
    admin.set_viewport_size(WIDTHS["desktop"])
    admin.context.add_init_script(path=str(AXE))
    _log_in(admin, "admin@demo.test")
    admin.goto(f"/janitor?date={scenario.busy_day.isoformat()}")
    buildings = admin.locator(".building-days li a").all_inner_texts()
    admin.get_by_role("link", name="Alle bygg på én side").click()
    assert admin.locator("section.sheet-building h2").all_inner_texts() == buildings
    assert admin.locator("#calendar-feed").count() == 0  # the janitor feed is a janitor's
    shot(admin, "janitor-all-admin-desktop")
    _fits_and_passes_axe(admin, "all buildings as admin")
    member = new_page(phone=True)
    _log_in(member, "korps@demo.test")
    assert member.goto("/janitor/all").status == 403
