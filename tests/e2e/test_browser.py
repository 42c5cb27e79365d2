"""Real Chromium against gunicorn: the association's core flow (with and without JavaScript),
the janitor's day sheet (on a phone and printed to one A4 page), and the admin's approvals."""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel.dates import format_date
from pypdf import PdfReader

from tests.e2e.conftest import OUTPUT, PASSWORD, confirmation_link, shot

UNLABELLED_AND_SKIPPED_HEADINGS = """() => {
  const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !el.labels.length && !el.getAttribute('aria-label')).map(el => el.name || el.id);
  const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
  const skipped = levels.filter((level, i) => i > 0 && level > levels[i - 1] + 1);
  return {unlabelled, skipped, first: levels[0], h1: levels.filter(l => l === 1).length};
}"""


def check_accessible(page) -> None:
    """Every field has a label, one h1 comes first, and no heading level is skipped."""
    found = page.evaluate(UNLABELLED_AND_SKIPPED_HEADINGS)
    assert found["unlabelled"] == [] and found["skipped"] == [], (page.url, found)
    assert found["first"] == 1 and found["h1"] == 1, (page.url, found)


def long_day(day: date) -> str:
    return format_date(day, "EEEE d. MMMM", locale="nb")


def register(page, name: str, org_number: str, email: str) -> None:
    page.goto("/register")
    page.fill("#name", name)
    page.fill("#org_number", org_number)
    page.check("#voluntary")
    page.check("#local")
    page.fill("#contact_name", "Kari Nordmann")
    page.fill("#email", email)
    page.fill("#phone", "+47 400 11 222")
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    check_accessible(page)
    page.get_by_role("button", name="Registrer", exact=True).click()
    page.get_by_role("heading", name="Registreringen er mottatt").wait_for()
    main = page.inner_text("main")
    assert f"Sjekk e-posten din: vi har sendt en melding til {email}." in main
    assert "Foreslått priskategori: redusert pris." in main and name in main
    check_accessible(page)


def confirm_address(page, scenario, email: str) -> None:
    """Follow the link of the confirmation mail, as the registrant does before logging in."""
    page.goto(confirmation_link(scenario, email))
    page.get_by_role("button", name="Bekreft adressen").click()
    page.wait_for_url("**/login?email=*")


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main").get_by_role("button", name="Logg inn").click()


def log_out(page) -> None:
    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url("**/")


def core_flow(
    page, scenario, *, name, org_number, email, day: date, room: str, kind: str, javascript: bool, tag: str
) -> None:
    """Register, confirm the address with the mailed link, log in, find the room, see the quote,
    book weekly (the taken week skipped), see the series under /my, cancel one date, log out."""
    register(page, name, org_number, email)
    shot(page, f"{tag}-1-registered")
    confirm_address(page, scenario, email)
    log_in(page, email)
    page.wait_for_url("**/my")

    page.goto("/")
    page.fill("#date", day.isoformat())
    page.fill("#start", "18:00")
    page.select_option("#length", "120")
    page.fill("#capacity", "10")
    page.select_option("#kind", kind)
    page.get_by_role("button", name="Søk").click()
    results = page.locator(".results")
    assert room in results.inner_text()
    shot(page, f"{tag}-2-search")
    check_accessible(page)
    results.get_by_role("link", name=room).click()
    page.wait_for_url(re.compile(r".*/rooms/\d+\?.*"))

    page.fill("#title", "Strykeøvelse")
    page.fill("#attendees", "12")
    page.check("#repeat-weekly")
    last = day + timedelta(weeks=3)
    page.fill("#until", last.isoformat())
    page.check("#skip_holidays")
    quote = page.locator("#quote")
    if javascript:  # the live quote follows the form by itself
        quote.get_by_text("1 dato utelatt").wait_for()
    else:
        page.get_by_role("button", name="Beregn pris").click()
    text = quote.inner_text()
    assert "3 datoer" in text and "1 dato utelatt" in text and "Bærum Seniordans" in text
    assert "Leie, hverdag" in text and "Tilsyn, hverdag" in text and "Pris: kr\u00a0" in text
    shot(page, f"{tag}-3-quote")
    check_accessible(page)

    page.get_by_role("button", name="Book", exact=True).click()
    page.wait_for_url("**/my#main")
    assert "på 3 datoer" in page.inner_text(".flashes")
    series = page.locator("article.series", has_text="Strykeøvelse")
    assert series.locator("li.booking-row").count() == 3
    assert "Utelatt:" in series.inner_text()
    shot(page, f"{tag}-4-my")
    check_accessible(page)

    series.locator("li.booking-row", has_text=long_day(last)).get_by_role(
        "link", name=re.compile("Avbestill")
    ).click()
    assert "Hva det koster å avbestille nå" in page.inner_text("main")
    assert "Gratis: 14 dager eller mer før start." in page.inner_text("main")
    shot(page, f"{tag}-5-cancel-fee")
    page.get_by_role("button", name=re.compile("Avbestill, gebyr")).click()
    page.wait_for_url("**/my")
    assert "er avbestilt. Avbestillingsgebyr: kr\u00a00,00." in page.inner_text(".flashes")
    assert page.locator("article.series", has_text="Strykeøvelse").locator("li.booking-row").count() == 2
    shot(page, f"{tag}-6-cancelled")
    log_out(page)


def test_core_flow_with_javascript_and_the_janitor_sees_it(new_page, scenario):
    page = new_page()
    core_flow(
        page,
        scenario,
        name="Stabekk Strykeorkester",
        org_number="940000009",
        email="stryk@example.test",
        day=scenario.js_day,
        room="Øvingsrom 2",
        kind="rehearsal_room",
        javascript=True,
        tag="js",
    )
    # A newly registered organisation is not verified yet: its bookings are requests (SPEC §11)
    # until the municipality approves them.
    admin = new_page()
    log_in(admin, "admin@demo.test")
    admin.wait_for_url("**/admin")
    request = admin.locator("li.request", has_text="Stabekk Strykeorkester").filter(
        has_text=long_day(scenario.js_day)
    )
    request.get_by_role("button", name=re.compile("^Godkjenn")).click()
    admin.wait_for_url("**/admin")
    assert "Godkjente «Strykeøvelse» for Stabekk Strykeorkester." in admin.inner_text(".flashes")
    # Verified now: the confirmed booking keeps its full price until the admin re-prices it.
    admin.get_by_role("button", name="Verifiser Stabekk Strykeorkester").click()
    admin.wait_for_url("**/reprice")
    assert "1 bekreftet booking som ikke har startet" in admin.inner_text("main")
    shot(admin, "js-7-reprice")
    check_accessible(admin)
    admin.get_by_role("button", name=re.compile("^Prisberegn 1 booking")).click()
    admin.wait_for_url("**/admin")
    assert "1 booking er prisberegnet på nytt." in admin.inner_text(".flashes")

    janitor = new_page(phone=True)
    log_in(janitor, "vaktmester@demo.test")
    janitor.goto(f"/janitor/{scenario.bekkestua_id}?date={scenario.js_day.isoformat()}")
    entry = janitor.locator("li.sheet-entry", has_text="Stabekk Strykeorkester")
    assert entry.count() == 1
    assert "needs-supervision" in entry.get_attribute("class")
    text = entry.inner_text()
    assert (
        "18:00–20:00" in text
        and "Trengs 18:00–20:00." in text
        and "Tilsyn Tilsyn" not in text
        and "Kari Nordmann" in text
    )
    assert entry.get_by_role("link", name="+47 400 11 222").get_attribute("href") == "tel:+4740011222"
    shot(janitor, "js-7-janitor-phone")
    check_accessible(janitor)


def test_core_flow_without_javascript(new_page, scenario):
    page = new_page(javascript=False)
    core_flow(
        page,
        scenario,
        name="Haslum Husflidslag",
        org_number="950000007",
        email="husflid@example.test",
        day=scenario.nojs_day,
        room="Verkstedet",
        kind="classroom",
        javascript=False,
        tag="nojs",
    )


def test_admin_approves_the_suggested_winner_and_the_competitor_is_rejected(new_page, scenario):
    page = new_page()
    log_in(page, "admin@demo.test")
    page.wait_for_url("**/admin")
    group = page.locator("article.group", has_text="Vårkonsert")
    winner = group.locator("li.request.winner")
    assert "Bekkestua Skolekorps" in winner.inner_text() and "Foreslått vinner" in winner.inner_text()
    assert "Nordisk Konsulentforum AS" in group.inner_text()
    shot(page, "admin-1-competing")
    check_accessible(page)
    winner.get_by_role("button", name=re.compile("^Godkjenn")).click()
    # Approving declines the competitor: a page names it and asks to confirm (SPEC §15).
    page.wait_for_url(re.compile(r"/admin/bookings/\d+/approve"))
    declined = page.locator("table.rejections tbody tr")
    assert declined.count() == 1 and "Nordisk Konsulentforum AS" in declined.inner_text()
    check_accessible(page)
    shot(page, "admin-1-confirm")
    page.get_by_role("button", name="Godkjenn og avslå 1 forespørsel").click()
    page.wait_for_url("**/admin")
    assert (
        "Godkjente «Vårkonsert» for Bekkestua Skolekorps. 1 konkurrerende forespørsel ble avslått."
        in page.inner_text(".flashes")
    )
    assert page.locator("article.group", has_text="Vårkonsert").count() == 0
    shot(page, "admin-2-approved")

    consultant = new_page()
    log_in(consultant, "konsulent@demo.test")
    declined = consultant.locator("li.booking-row", has_text="Kundeseminar")
    assert "ikke godkjent" in declined.inner_text()
    shot(consultant, "admin-3-declined-seen-by-member")


def test_day_sheet_prints_on_one_a4_page(new_page, scenario):
    page = new_page()
    log_in(page, "vaktmester@demo.test")
    page.goto(f"/janitor/{scenario.bekkestua_id}?date={scenario.busy_day.isoformat()}")
    assert page.locator("li.sheet-entry").count() == 8
    assert "Egen tilsynsvakt" in page.locator("li.sheet-entry", has_text="Sandvika Sjakklubb").inner_text()
    shot(page, "janitor-1-day-sheet")
    pdf = OUTPUT / "janitor-day-sheet.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == 1, f"the day sheet takes {len(reader.pages)} pages"
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width - 595.3) < 1.5 and abs(height - 841.9) < 1.5, (
        f"A4 portrait in points, not {width} × {height}"
    )
    printed = reader.pages[0].extract_text()
    assert "Korpsøvelse" in printed and "Klubbkveld" in printed and "Logg ut" not in printed
    page.emulate_media(media="print")
    shot(page, "janitor-2-print-preview")
