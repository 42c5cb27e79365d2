"""Real Chromium against gunicorn: an administrator does every back-office task of SPEC §15 in
the browser, on a desktop (1366 px) and on a phone (390 px): a building's hours and a closure, a
room, a price list version, a user with a membership who is then deactivated, the audit log
filtered, invoices and the support report with their CSV downloads, organisations verified and
rejected, and a request approved over its competitors through the confirmation page. Every page
is asserted to fit the phone, and a screenshot of each step goes to ``test-output/e2e/admin-*``.

Also the site's frame (issue 15): the favicon, the login page's "forgot password" link, and no
frame around the whole page after a redirect to ``#main``.

One browser context per width, logged in once. The tests change only what they make themselves
or what the other browser tests do not use (Rykkinnhallen, far-off dates, the demo's own
competing requests), so the rest of the e2e package can run after them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from pricing.weekly import OSLO
from tests.e2e.conftest import OUTPUT, shot
from tests.e2e.test_accessibility import OVERFLOW
from tests.e2e.test_browser import log_in, register

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
# Org numbers that pass the mod-11 check, one pair per width: (verified, rejected).
ORG_NUMBERS = {"desktop": ("960001001", "970001018"), "phone": ("980001008", "990001006")}


@dataclass
class Admin:
    page: object
    width: str

    def open(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)

    def done(self, name: str) -> None:
        """The page fits the window (asserted on the phone) and is saved as a screenshot."""
        if self.width == "phone":
            fit = self.page.evaluate(OVERFLOW)
            assert fit["scrollWidth"] <= fit["width"], (self.page.url, fit)
        shot(self.page, f"admin-{self.width}-{name}")

    def submit(self, control) -> None:
        """Click ``control`` and wait for the page it leads to (often the same URL again)."""
        with self.page.expect_navigation():
            control.click()

    def flash(self) -> str:
        return self.page.inner_text(".flashes")


@pytest.fixture(scope="module", params=list(WIDTHS))
def admin(request, browser, scenario):
    context = browser.new_context(
        base_url=scenario.base_url,
        locale="nb-NO",
        timezone_id="Europe/Oslo",
        viewport=WIDTHS[request.param],
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, "admin@demo.test")
    page.wait_for_url("**/admin")
    yield Admin(page, request.param)
    context.close()


def today() -> date:
    return datetime.now(OSLO).date()


def test_building_hours_and_a_closure(admin):
    page = admin.page
    admin.open("/admin/buildings")
    admin.submit(page.locator("main").get_by_role("link", name="Rykkinnhallen"))
    page.wait_for_url(re.compile(r".*/admin/buildings/\d+$"))
    admin.done("building")
    hours = "09:00–21:00" if admin.width == "desktop" else "10:00–20:00"
    page.fill("#opening_sun", hours)
    admin.submit(page.get_by_role("button", name="Lagre", exact=True))
    page.wait_for_url(re.compile(r".*/admin/buildings/\d+(#.*)?$"))
    assert "Lagret bygget Rykkinnhallen." in admin.flash()
    assert page.input_value("#opening_sun") == hours
    # A closure far ahead, where no booking of the other tests lies; one per width.
    first = today() + timedelta(days=200 if admin.width == "desktop" else 210)
    last = first + timedelta(days=2)
    page.fill("#closure_start", first.isoformat())
    page.fill("#closure_end", last.isoformat())
    page.fill("#closure_reason", f"Vedlikehold ({admin.width})")
    admin.submit(page.get_by_role("button", name="Legg til stengingen"))
    page.wait_for_url(re.compile(r".*/admin/buildings/\d+(#.*)?$"))
    assert admin.flash().startswith("Bygget er stengt ") and "ble avlyst" in admin.flash()
    row = page.locator("section", has=page.locator("#closures-heading")).locator(
        "tr", has_text=f"Vedlikehold ({admin.width})"
    )
    assert row.count() == 1 and str(first.year) in row.inner_text()
    admin.done("building-saved")


def test_edit_a_room(admin):
    page = admin.page
    admin.open("/admin/buildings")
    admin.submit(page.locator("main").get_by_role("link", name="Rykkinnhallen"))
    admin.submit(page.locator("main").get_by_role("link", name="Styrerommet"))
    page.wait_for_url(re.compile(r".*/admin/rooms/\d+$"))
    admin.done("room")
    capacity = "12" if admin.width == "desktop" else "11"
    description = f"Styrerom med skjerm og langbord ({admin.width})."
    page.fill("#capacity", capacity)
    page.fill("#description", description)
    admin.submit(page.get_by_role("button", name="Lagre", exact=True))
    page.wait_for_url(re.compile(r".*/admin/rooms/\d+(#.*)?$"))
    assert "Lagret rommet Styrerommet." in admin.flash()
    assert page.input_value("#capacity") == capacity and page.input_value("#description") == description
    admin.done("room-saved")
    # The public room page says so too.
    admin.submit(page.get_by_role("link", name="Rommets offentlige side"))
    page.wait_for_url(re.compile(r".*/rooms/\d+"))
    assert description in page.inner_text("main")


def test_add_a_price_list_version(admin):
    page = admin.page
    admin.open("/admin/price-lists")
    # Far ahead, so no booking of the other tests is priced by it.
    valid_from = date(today().year + 2, 1, 1 if admin.width == "desktop" else 2)
    version = f"{valid_from.year}-{admin.width}"
    page.fill("#version", version)
    page.fill("#valid_from", valid_from.isoformat())
    page.fill("#rate_hall_full", "750")
    admin.submit(page.get_by_role("button", name="Legg til versjonen"))
    page.wait_for_url(re.compile(r".*/admin/price-lists(#.*)?$"))
    assert f"La til prislisten {version}" in admin.flash()
    added = page.locator("main article", has=page.get_by_role("heading", name=f"Versjon {version}"))
    assert added.count() == 1
    assert "750,00" in added.get_by_role("row", name=re.compile("^Sal ")).inner_text()
    admin.done("price-lists")


def test_create_a_user_add_a_membership_and_deactivate(admin):
    page = admin.page
    admin.open("/admin/users")
    email = f"frivillig-{admin.width}@example.test"
    name = f"Frivillig {admin.width.title()}"
    form = page.locator("form[method=post][action$='/admin/users']")
    form.locator("#name").fill(name)
    form.locator("#email").fill(email)
    form.locator("#role").select_option("member")
    form.locator("#organization_id").select_option(label="Bærum Seniordans")
    admin.submit(form.get_by_role("button", name="Opprett brukeren"))
    page.wait_for_url(re.compile(r".*/admin/users/\d+(#.*)?$"))
    assert f"Opprettet brukeren {name} ({email})." in admin.flash()
    memberships = page.locator("main table", has_text="Organisasjonsnummer").locator("tbody th")
    assert memberships.all_inner_texts() == ["Bærum Seniordans"]
    page.select_option("form[action$='/organizations'] select", label="Rykkinn Innebandyklubb")
    admin.submit(page.locator("form[action$='/organizations']").get_by_role("button", name="Legg til"))
    page.wait_for_url(re.compile(r".*/admin/users/\d+(#.*)?$"))
    assert "Brukeren er nå medlem av Rykkinn Innebandyklubb." in admin.flash()
    assert memberships.all_inner_texts() == ["Bærum Seniordans", "Rykkinn Innebandyklubb"]
    admin.done("user")
    admin.submit(page.get_by_role("button", name=f"Deaktiver {name}"))
    page.wait_for_url(re.compile(r".*/admin/users/\d+(#.*)?$"))
    assert f"Deaktiverte {name}: brukeren kan ikke lenger logge inn" in admin.flash()
    assert "deaktivert" in page.locator("main dl").inner_text()
    assert page.get_by_role("button", name=f"Deaktiver {name}").count() == 0
    admin.done("user-deactivated")
    # The list of deactivated users has them.
    admin.open("/admin/users?state=inactive")
    assert email in page.inner_text("main")


def test_filter_the_audit_log(admin):
    """Made after the changes above: who (the admin), what (buildings), when (today)."""
    page = admin.page
    admin.open("/admin/audit")
    page.fill("#who", "admin@demo.test")
    page.select_option("#entity", label="Bygg")
    page.select_option("#action", label="endret")
    page.fill("#from", today().isoformat())
    page.fill("#to", today().isoformat())
    admin.submit(page.get_by_role("button", name="Vis", exact=True))
    page.wait_for_url(re.compile(r".*/admin/audit\?.*who=admin.*"))
    entries = page.locator("section.audit-entry")
    assert entries.count() >= 1
    headings = entries.locator("h2, h3").all_inner_texts()
    assert headings and all(re.match(r"Bygg, nr\. \d+: endret", h) for h in headings), headings
    assert all("Demo Admin" in t or "admin@demo.test" in t for t in entries.all_inner_texts())
    # Before and after side by side: the opening hours changed above.
    changed = entries.locator("table.audit-changes tr.changed", has_text="opening_hours")
    assert changed.count() >= 1 and "sun" in changed.first.inner_text()
    admin.done("audit")


def _download(page, link_name: str):
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(link_name)).click()
    download = info.value
    path = OUTPUT / f"admin-{download.suggested_filename}"
    download.save_as(path)
    return download.suggested_filename, path.read_text(encoding="utf-8-sig")


def test_invoices_and_their_csv(admin):
    page = admin.page
    admin.open("/admin/invoices")
    month = today().strftime("%Y-%m")
    main = page.inner_text("main")
    # The demo's week: this month's bookings are invoiced per organisation.
    assert "Bekkestua Skolekorps" in main and "Sum" in main
    admin.done("invoices")
    name, body = _download(page, "Last ned CSV")
    assert name == f"invoices-{month}.csv"
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert len(rows) > 2 and any("Bekkestua Skolekorps" in cell for row in rows for cell in row)


def test_support_report_and_its_csv(admin):
    page = admin.page
    admin.open("/admin/support")
    first, last = today().replace(day=1), today() + timedelta(days=7)
    page.fill("#from", first.isoformat())
    page.fill("#to", last.isoformat())
    admin.submit(page.get_by_role("button", name="Vis", exact=True))
    page.wait_for_url(re.compile(r".*/admin/support\?.*"))
    table = page.locator("main table").first
    assert "Bekkestua Skolekorps" in table.inner_text() and "Bærum Seniordans" in table.inner_text()
    assert "Støtte i alt" in page.inner_text("main")
    admin.done("support")
    name, body = _download(page, "Last ned CSV")
    assert name.endswith(".csv")
    assert "Bekkestua Skolekorps" in body and len(body.splitlines()) >= 3


def test_verify_and_reject_organisations(admin, browser, scenario):
    verified_number, rejected_number = ORG_NUMBERS[admin.width]
    names = (f"Høvik Historielag {admin.width}", f"Jar Bridgeklubb {admin.width}")
    registrant = browser.new_context(base_url=scenario.base_url, locale="nb-NO", viewport=WIDTHS[admin.width])
    try:
        for name, number in zip(names, (verified_number, rejected_number), strict=True):
            register(registrant.new_page(), name, number, f"post@{number}.example.test")
    finally:
        registrant.close()
    page = admin.page
    admin.open("/admin")
    admin.done("organisations")
    admin.submit(page.get_by_role("button", name=f"Verifiser {names[0]}"))
    page.wait_for_url(re.compile(r".*/admin(#.*)?$"))
    assert f"{names[0]} er verifisert." in admin.flash()
    admin.submit(page.get_by_role("button", name=f"Avvis {names[1]}"))
    page.wait_for_url(re.compile(r".*/admin(#.*)?$"))
    assert f"{names[1]} er avvist." in admin.flash()
    assert (
        page.get_by_role("button", name=re.compile(f"(Verifiser|Avvis) ({names[0]}|{names[1]})")).count() == 0
    )
    admin.done("organisations-done")


def test_approve_a_request_over_its_competitors(admin):
    """The demo's competing requests (the other browser tests use the scenario's "Vårkonsert"):
    the desktop approves the first group's suggested winner, the phone the next one's."""
    page = admin.page
    admin.open("/admin")
    groups = page.locator("article.group").filter(has_not_text="Vårkonsert")
    assert groups.count() >= 1
    group = groups.first
    winner = group.locator("li.request.winner")
    winner_text = winner.inner_text()
    competitors = group.locator("li.request:not(.winner)").count()
    assert competitors >= 1
    admin.done("competing")
    admin.submit(winner.get_by_role("button", name=re.compile("^Godkjenn")))
    page.wait_for_url(re.compile(r".*/admin/bookings/\d+/approve"))
    declined = page.locator("table.rejections tbody tr")
    assert declined.count() == competitors
    admin.done("approve-confirm")
    admin.submit(page.get_by_role("button", name=re.compile(r"^Godkjenn og avslå \d+ forespørs")))
    page.wait_for_url(re.compile(r".*/admin(#.*)?$"))
    flash = admin.flash()
    assert flash.startswith("Godkjente «") and "konkurrerende forespørs" in flash
    title = re.search(r"«(.+?)»", flash).group(1)
    assert title in winner_text
    assert page.locator("article.group", has_text=title).count() == 0
    admin.done("approved")


def test_site_frame_favicon_forgot_password_and_no_frame_around_main(browser, scenario):
    context = browser.new_context(base_url=scenario.base_url, locale="nb-NO", viewport=WIDTHS["phone"])
    try:
        page = context.new_page()
        page.goto("/login")
        icon = page.locator("link[rel=icon]")
        assert icon.get_attribute("type") == "image/svg+xml"
        for path in (icon.get_attribute("href"), "/favicon.ico"):
            answer = page.request.get(path)
            assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml"), path
            assert "<svg" in answer.text()
        page.get_by_role("link", name="Glemt passordet?").click()
        page.wait_for_url("**/password-reset*")
        assert page.get_by_role("heading", level=1).count() == 1
        # A redirect to #main focuses <main> (the skip target): no frame around the whole page.
        page.goto("/rounds#main")
        page.keyboard.press("Tab")  # a keyboard user, so :focus-visible rules apply
        page.goto("/#main")
        main = page.evaluate(
            """() => { const m = document.querySelector('main'); m.focus(); const s = getComputedStyle(m);
              return {focused: document.activeElement === m, outline: s.outlineStyle,
                      shadow: s.boxShadow}; }"""
        )
        assert main == {"focused": True, "outline": "none", "shadow": "none"}, main
        # Controls keep a visible focus ring.
        page.keyboard.press("Tab")
        ring = page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
              return {tag: document.activeElement.tagName, outline: s.outlineStyle}; }"""
        )
        assert ring["tag"] != "MAIN" and ring["outline"] != "none", ring
        shot(page, "admin-site-frame-focus")
    finally:
        context.close()
