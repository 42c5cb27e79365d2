"""The room page's booking form through the Flask test client (issue 15): errors that name their
field and say what to do, in bokmål and English; the quote box that says what is missing; a
taken time shown before the form; a request to an approval room that says it awaits approval;
the price for every category for anonymous visitors; equipment and lengths in words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask_babel import force_locale

from booking.domain.errors import InvalidInput, RuleViolation
from booking.extensions import db
from booking.models import Booking
from booking.web.common import input_message, rule_message
from booking.web.i18n import money
from pricing.weekly import OSLO
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text, today, with_csrf

TUESDAY = 1


@pytest.fixture
def world(make):
    building = make.building(name="Bekkestua kulturhus")
    room = make.room(
        building,
        name="Øvingsrom 2",
        kind="rehearsal_room",
        capacity=20,
        equipment=["amplifier", "wall-bars", "theremin-x"],
        min_duration_minutes=30,
        max_duration_minutes=720,
    )
    organization = make.organization(name="Stabekk Strykeorkester")
    member = make.member(organization)
    return building, room, organization, member


def form(organization, day, **overrides):
    data = {
        "organization_id": str(organization.id),
        "title": "Strykeøvelse",
        "date": day.isoformat(),
        "start": "18:00",
        "end": "20:00",
        "attendees": "12",
        "repeat": "once",
        "on_conflict": "skip",
        "action": "book",
    }
    data.update(overrides)
    return data


def summary(page) -> list[tuple[str, str]]:
    """The error summary's entries: (link target, text)."""
    html = page.get_data(as_text=True)
    block = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert block, "no error summary"
    return [
        (href, re.sub(r"\s+", " ", label).strip())
        for href, label in re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', block.group(0), re.S)
    ]


# --- errors that say what to do ------------------------------------------------------------


def test_a_past_date_says_it_has_passed_and_the_summary_names_the_field(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", form(organization, today() - timedelta(days=3)))
    assert page.status_code == 422
    assert ("date", "Dato: Den datoen er passert: velg i dag eller en senere dato.") in summary(page)
    body = text(page)
    assert "0 timer" not in body and "forveien" not in body
    html = page.get_data(as_text=True)
    assert 'id="error-summary"' in html and 'tabindex="-1"' in html
    assert html.index('id="error-summary"') < html.index('id="booking-form"'), "the summary comes first"
    assert db.session.execute(db.select(Booking)).first() is None


def test_a_passed_time_today_says_so_at_the_start_field(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", form(organization, today(), start="00:00", end="00:30"))
    assert page.status_code == 422
    assert ("start", "Fra: Det klokkeslettet er passert: velg et senere klokkeslett.") in summary(page)


@pytest.mark.parametrize(
    ("attendees", "message"),
    [
        ("-3", "Antall personer: Minst 1 person: skriv hvor mange som kommer."),
        ("0", "Antall personer: Minst 1 person: skriv hvor mange som kommer."),
        ("500", "Antall personer: For mange deltakere: rommet tar høyst 20."),
        ("mange", "Antall personer: Skriv et helt tall."),
    ],
)
def test_the_number_of_people_says_its_bounds(client, world, attendees, message):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    page = post(client, f"/rooms/{room.id}", form(organization, day, attendees=attendees))
    assert page.status_code == 422
    assert ("attendees", message) in summary(page)
    assert 'max="20"' in page.get_data(as_text=True), "the field knows the room's capacity"


def test_a_series_over_a_year_is_explained_in_the_pages_language(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    last = day + timedelta(days=366)
    data = form(organization, day, repeat="weekly", until=(day + timedelta(days=400)).isoformat())
    page = post(client, f"/rooms/{room.id}", data)
    assert page.status_code == 422
    expected = (
        f"Siste dato: En ukentlig booking kan vare i høyst ett år: velg en siste dato senest {last:%d.%m.%Y}."
    )
    assert ("until", expected) in summary(page)
    assert "The series runs past" not in text(page)
    english = post(client, f"/rooms/{room.id}?lang=en", data)
    assert (
        "until",
        "Last date: A weekly booking can run for at most a year: "
        f"choose a last date on or before {last:%d.%m.%Y}.",
    ) in summary(english)
    ok = post(client, f"/rooms/{room.id}", dict(data, until=last.isoformat(), action="quote"))
    assert "until" not in dict(summary(ok)), "a year to the day is allowed (if the room allows it)"


def test_weekly_without_a_last_date_asks_for_it(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", form(organization, clear_weekday(TUESDAY), repeat="weekly"))
    assert ("until", "Siste dato: Velg siste dato for den ukentlige bookingen.") in summary(page)


def test_every_service_text_the_form_can_meet_has_bokmal(app):
    cases = {
        "The end must be after the start.": "Slutt må være etter start.",
        "The series runs past 2027-03-02: the last occurrence may start at most 366 days after the "
        "first. Use an earlier UNTIL or a smaller COUNT.": "velg en siste dato senest 02.03.2027.",
        "The series has more than 200 occurrences; at most 200 are allowed.": "høyst 200 datoer",
        "UNTIL is before the start of the series.": "Siste dato må være samme dag som",
        "No price list is in force on 2031-01-05.": "Det finnes ingen priser for 05.01.2031 ennå",
        "A quote covers at most 7 days per occurrence.": "høyst 7 dager",
        "There is no room 12.": "Det finnes ikke lenger",
        "Something nobody foresaw.": "Kontroller dette feltet.",
    }
    with app.test_request_context("/"), force_locale("nb"):
        for english, bokmal in cases.items():
            message = input_message(english)
            assert bokmal in message, (english, message)
            assert english not in message


def test_rule_texts_say_limits_in_words_and_a_past_time_plainly(app, make):
    room = make.room(min_notice_hours=48, min_duration_minutes=30, max_duration_minutes=720, capacity=8)
    with app.test_request_context("/"), force_locale("nb"):
        past = rule_message(RuleViolation("too_little_notice", "The booking starts in the past."), room)
        assert past == "Det tidspunktet er passert: velg et tidspunkt fram i tid."
        notice = rule_message(RuleViolation("too_little_notice", "…", limit=48), room)
        assert "minst 2 dager i forveien" in notice
        assert "høyst 12 timer" in rule_message(RuleViolation("too_long", "…", limit=720), room)
        assert "minst 30 minutter" in rule_message(RuleViolation("too_short", "…", limit=30), room)
        series = rule_message(
            RuleViolation("series_overlaps_itself", "Occurrences of the series overlap each other"), room
        )
        assert "overlapper" in series
        nothing = rule_message(
            RuleViolation("closed", "Every occurrence falls on a holiday or a closure"), room
        )
        assert "ingenting å booke" in nothing
        unknown = rule_message(RuleViolation("brand_new_rule", "English detail."), room)
        assert "English" not in unknown
    with app.test_request_context("/"), force_locale("en"):
        assert "at most 12 hours" in rule_message(RuleViolation("too_long", "…", limit=720), room)


def test_the_error_summary_names_fields_on_other_pages_too(client, world):
    with_csrf(client)
    page = post(client, "/register", {"name": "", "org_number": "", "email": "not-an-address"})
    assert page.status_code == 422
    entries = dict(summary(page))
    assert entries["email"].startswith("E-post: ")
    assert entries["org_number"].startswith("Organisasjonsnummer: ")


# --- the quote box -------------------------------------------------------------------------


def test_the_live_quote_says_exactly_what_is_missing(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    fragment = client.get(f"/rooms/{room.id}/quote", query_string=form(organization, day, start="", title=""))
    assert fragment.status_code == 200
    body = text(fragment)
    assert "For å se prisen, rett opp dette:" in body
    assert '<a href="#start">Fra</a>: Fyll ut et klokkeslett, for eksempel 18:00.' in fragment.get_data(
        as_text=True
    )
    assert "Dato" not in body and "Til:" not in body, "only what is missing"
    assert "Fyll ut dato og klokkeslett" not in body
    priced = text(client.get(f"/rooms/{room.id}/quote", query_string=form(organization, day, title="")))
    assert "Pris:" in priced and "rett opp" not in priced


def test_the_supervision_note_is_not_doubled(client, make, world):
    building, _, organization, member = world
    always = make.room(building, name="Gymsal", kind="gym", supervision="always")
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    body = text(post(client, f"/rooms/{always.id}", form(organization, day, action="quote")))
    assert "Tilsyn: trengs alltid i dette rommet." in body
    own = text(
        post(client, f"/rooms/{always.id}", form(organization, day, action="quote", own_supervisor="on"))
    )
    assert "Tilsyn: faktureres ikke, laget stiller med egen godkjent tilsynsvakt." in own


# --- a taken time, a request, anonymous visitors ---------------------------------------------


def test_a_taken_time_comes_first_and_is_focusable(client, make, world):
    building, room, organization, member = world
    other = make.organization(name="Haslum Husflidslag")
    day = clear_weekday(TUESDAY)
    api_book(client, make.member(other), room, other, day, "18:00", "20:00")
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", form(organization, day))
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert 'id="conflict" tabindex="-1"' in html
    assert html.index('id="conflict"') < html.index('id="booking-form"'), "the conflict before the form"
    assert html.count("opptatt av Haslum Husflidslag") == 1, "shown once, not again in the quote box"
    assert "Tiden er opptatt: de ledige alternativene står ovenfor." in text(page)
    linked = client.get(f"/rooms/{room.id}?date={day}&start=18:00&end=20:00")
    assert linked.status_code == 200, "a link to a taken time is a page, with the conflict on it"
    assert 'id="conflict"' in linked.get_data(as_text=True)


def test_a_time_taken_by_the_users_own_booking_says_so(client, make, world):
    building, room, organization, member = world
    day = clear_weekday(TUESDAY)
    api_book(client, make.member(organization), room, organization, day, "18:00", "20:00")
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", form(organization, day))
    assert page.status_code == 409
    body = text(page)
    assert "deres egen booking" in body and "opptatt av Stabekk Strykeorkester" not in body
    assert 'href="/my"' in page.get_data(as_text=True)


def test_a_single_booking_on_a_public_holiday_is_booked(client, make, world):
    building, room, organization, member = world
    log_in(client, member.user)
    christmas = today().replace(month=12, day=25)
    if christmas <= today() + timedelta(days=2):
        christmas = christmas.replace(year=christmas.year + 1)
    # The form ticks "skip holidays" by default; for one date it does not refuse the holiday.
    page = post(client, f"/rooms/{room.id}", form(organization, christmas, skip_holidays="on"))
    assert page.status_code == 303, text(page)
    booked = db.session.query(Booking).filter_by(room_id=room.id).one()
    assert booked.start.astimezone(OSLO).date() == christmas


def test_a_request_to_an_approval_room_says_it_awaits_approval(client, make, world):
    building, room, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    done = post(client, f"/rooms/{hall.id}", form(organization, day))
    assert done.status_code == 303
    my = text(client.get("/my"))
    assert "Forespørsel sendt om «Strykeøvelse» i Storsalen" in my and "ingenting er booket ennå" in my
    assert "Rommet krever godkjenning" in my
    assert "Booket «Strykeøvelse»" not in my
    booked = post(client, f"/rooms/{room.id}", form(organization, day))
    assert booked.status_code == 303
    mine = text(client.get("/my"))
    assert "Booket «Strykeøvelse» i Øvingsrom 2" in mine and "Forespørsel sendt" not in mine


def test_a_weekly_request_to_an_approval_room_says_it_awaits_approval(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    log_in(client, member.user)
    day = clear_weekday(TUESDAY, weeks=2)
    data = form(organization, day, repeat="weekly", until=(day + timedelta(weeks=1)).isoformat())
    assert post(client, f"/rooms/{hall.id}", data).status_code == 303
    my = text(client.get("/my"))
    assert "Forespørsel sendt om «Strykeøvelse» i Storsalen på 2 datoer: ingenting er booket ennå." in my


def test_anonymous_visitors_see_the_price_for_every_category(client, world):
    _, room, _, _ = world
    day = clear_weekday(TUESDAY)
    page = client.get(f"/rooms/{room.id}?date={day}&start=18:00&length=120")
    assert page.status_code == 200
    html, body = page.get_data(as_text=True), text(page)
    assert 'id="price-form"' in html and 'method="get"' in html and "Logg inn for å booke" in body
    assert "Pris for hver kategori" in body
    start = datetime.combine(day, datetime.min.time().replace(hour=18), OSLO)
    for category, name in (("free", "gratis"), ("reduced", "redusert pris"), ("full", "full pris")):
        quote = client.post(
            "/api/v1/quotes",
            json={
                "room_id": room.id,
                "category": category,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            },
        ).get_json()
        rent = sum(line["amount_ore"] for line in quote["lines"] if line["code"].startswith("rent"))
        amounts = (money(rent), money(quote["total_ore"] - rent), money(quote["total_ore"]))
        row = " ".join((name, *amounts)).replace("\xa0", " ")
        assert row in body, (row, body)
    fragment = client.get(
        f"/rooms/{room.id}/quote", query_string={"date": day.isoformat(), "start": "18:00", "end": "19:00"}
    )
    assert fragment.status_code == 200 and "Pris for hver kategori" in text(fragment)


def test_an_anonymous_price_form_with_errors_is_shown_again(client, world):
    _, room, _, _ = world
    page = client.get(f"/rooms/{room.id}?estimate=1&date=2020-01-01&start=18:00&end=17:00")
    assert page.status_code == 422
    entries = summary(page)
    assert ("date", "Dato: Den datoen er passert: velg i dag eller en senere dato.") in entries
    assert ("end", "Til: Slutt må være etter start.") in entries


# --- facts in words ------------------------------------------------------------------------


def test_room_facts_name_equipment_and_lengths_in_words(client, world):
    _, room, _, _ = world
    body = text(client.get(f"/rooms/{room.id}"))
    assert "Utstyr forsterker, ribbevegg, theremin x" in body
    assert "amplifier" not in body and "wall-bars" not in body
    assert "Lengde fra 30 minutter til 12 timer" in body
    english = text(client.get(f"/rooms/{room.id}?lang=en"))
    assert "amplifier, wall bars, theremin x" in english and "from 30 minutes to 12 hours" in english
    api = client.get(f"/api/v1/rooms/{room.id}").get_json()
    assert api["equipment"] == ["amplifier", "wall-bars", "theremin-x"], "the API keeps the codes"


def test_search_names_equipment_and_price_choices_once(client, world):
    day = clear_weekday(TUESDAY)
    page = client.get(f"/?date={day}&start=18:00&length=120")
    html, body = page.get_data(as_text=True), text(page)
    assert '<label for="equipment-amplifier">forsterker</label>' in html
    assert '<label for="equipment-wall-bars">ribbevegg</label>' in html
    assert "Utstyr forsterker, ribbevegg, theremin x" in body, "the card names the equipment"
    assert 'value="amplifier"' in html, "the filter still sends the code"
    options = re.findall(r'<option value="cat-[a-z]+"[^>]*>([^<]*)</option>', html)
    assert options == ["Full pris", "Redusert pris", "Gratis"], options
    assert "Priskategori:" not in body


# --- the error page ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            InvalidInput(
                {"recurrence": ["The series has more than 200 occurrences; at most 200 are allowed."]}
            ),
            "En serie kan ha høyst 200 datoer: velg en tidligere siste dato.",
        ),
        (
            RuleViolation("too_little_notice", "The booking starts in the past."),
            "Det tidspunktet er passert: velg et tidspunkt fram i tid.",
        ),
    ],
)
def test_the_422_page_says_what_was_wrong_in_the_pages_language(app, error, expected):
    from booking.errors import handle_domain_error
    from booking.web.errors import render_error_page

    with app.test_request_context("/rooms/1", method="POST"), force_locale("nb"):
        page = render_error_page(error, handle_domain_error(error))
    assert page.status_code == 422 and page.mimetype == "text/html"
    body = text(page)
    assert expected in body and error.detail not in body
