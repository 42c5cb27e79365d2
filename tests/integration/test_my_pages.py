"""``/my`` and the cancel pages (issue 15): each booking's stored price and the totals, a series
described with its weekday, why a booking was declined or cancelled in the reader's language,
a series' cancellation fee date by date, and the private feed link."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from flask_babel import refresh

from booking.extensions import db
from booking.models import Booking, Series
from booking.services.bookings import approve_booking, reject_booking, status_reason_code
from booking.services.buildings import update_building
from booking.services.organizations import REJECTED_REQUEST_REASON, reject_and_count
from booking.services.pricing import create_price_list, quote_occurrences
from booking.web.my import repeat_pattern
from pricing import DEFAULT_PRICE_LIST
from pricing.weekly import OSLO
from tests.integration.factories import ADMIN
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text, today

TUESDAY, WEDNESDAY, THURSDAY = 1, 2, 3


@pytest.fixture
def place(make):
    """A building staffed on weekdays 08–16, a meeting room (reduced: kr 50 an hour; supervision
    kr 300 an hour outside staffed time, at least two hours), a hall that needs approval, and a
    member of a verified organisation in the reduced category."""
    building = make.building(name="Bekkestua kulturhus")
    room = make.room(building, name="Øvingsrom 1", kind="meeting_room", capacity=20)
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    organization = make.organization(name="Stabekk Strykeorkester")
    assert organization.effective_category == "reduced"
    member = make.member(organization)
    return building, room, hall, organization, member


def book_series(
    client, login, room, organization, day: date, count: int, start="18:00", end="20:00", **extra
):
    answer = client.post(
        "/api/v1/bookings",
        headers=login.headers,
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": extra.pop("title", "Strykeøvelse"),
            "start": f"{day}T{start}",
            "end": f"{day}T{end}",
            "recurrence": {"rrule": extra.pop("rrule", f"FREQ=WEEKLY;COUNT={count}")},
            **extra,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def kr(ore: int) -> str:
    """Øre as the bokmål pages write them once ``text`` has made the spaces plain: ``kr 2 750,00``."""
    whole, part = divmod(ore, 100)
    return f"kr {whole:,}".replace(",", " ") + f",{part:02d}"


def soon_weekday() -> date:
    """A weekday 4 to 6 days ahead that is no public holiday (weekday rates, over 48 hours)."""
    from booking.domain.holidays import holiday_dates

    day = today() + timedelta(days=4)
    while day.weekday() >= 5 or day in holiday_dates(day, day):
        day += timedelta(days=1)
    return day


def numeric(day: date, year: bool = True) -> str:
    return day.strftime("%d.%m.%Y" if year else "%d.%m.")


# --- prices and totals ------------------------------------------------------------------------


def test_my_page_shows_each_bookings_stored_price_and_the_totals(client, place):
    _, room, _, organization, member = place
    tuesday = clear_weekday(TUESDAY, weeks=3, from_days=30)
    thursday = clear_weekday(THURSDAY, from_days=30)
    book_series(client, member, room, organization, tuesday, 3)
    api_book(client, member, room, organization, thursday, "18:00", "19:00", title="Styremøte")
    # A dearer price list in force from today: the bookings keep the price they were booked at.
    dearer = DEFAULT_PRICE_LIST.to_dict()
    dearer.update(version="test-dearer", valid_from=today().isoformat(), supervision_weekday_ore=90_000)
    dearer["hourly_rates_ore"]["meeting_room"]["reduced"] = 40_000
    create_price_list(ADMIN, dearer)
    db.session.commit()
    start = datetime.combine(tuesday, time(18), OSLO)
    assert (
        quote_occurrences(room, "reduced", [(start, start + timedelta(hours=2))], False)[0].total_ore
        == 260_000
    )

    log_in(client, member.user)
    page = text(client.get("/my"))
    # 2 hours at kr 50 and 2 hours of supervision at kr 300 (18:00–20:00 is outside staffed time)
    assert "kr 700,00 per dato (leie kr 100,00 og tilsyn kr 600,00)" in page
    assert "kr 2 100,00 for 3 kommende datoer" in page
    # one hour of rent and the two hours' minimum of supervision
    assert re.search(r"Styremøte Øvingsrom 1, Bekkestua kulturhus Pris: kr 650,00", page)
    assert "Kommende: 4 datoer, kr 2 750,00 i alt." in page
    assert "Leie, hverdag (4 × halvtime) kr 100,00" in page
    assert "Tilsyn, hverdag (2 × time) kr 600,00" in page
    assert "kr 2 600,00" not in page, "never priced again by today's list"

    months: dict[tuple[int, int], list[int]] = {}
    for day, amount in [(tuesday + timedelta(weeks=i), 70_000) for i in range(3)] + [(thursday, 65_000)]:
        months.setdefault((day.year, day.month), []).append(amount)
    if len(months) > 1:  # a table of months, each with its dates and their sum
        assert "Kommende bookinger per måned" in page
        for amounts in months.values():
            assert re.search(rf"\w+ \d{{4}} {len(amounts)} {kr(sum(amounts))}", page)
        assert f"Sum 4 {kr(275_000)}" in page
    else:
        assert "Kommende bookinger per måned" not in page

    english = text(client.get("/my?lang=en"))
    assert "NOK 700.00 per date (rent NOK 100.00 and supervision NOK 600.00)" in english
    assert "Upcoming: 4 dates, NOK 2,750.00 in total." in english


def test_requests_awaiting_approval_are_counted_apart(client, place):
    _, _, hall, organization, member = place
    day = clear_weekday(WEDNESDAY, from_days=30)
    api_book(client, member, hall, organization, day, "10:00", "12:00", title="Vårkonsert")
    soon = api_book(
        client, member, hall, organization, soon_weekday(), "10:00", "11:00", title="Generalprøve"
    )
    log_in(client, member.user)
    page = text(client.get("/my"))
    # a hall at kr 300 an hour for the reduced category, inside staffed time: no supervision
    assert "Vårkonsert Storsalen, Bekkestua kulturhus venter på godkjenning Pris: kr 600,00" in page
    assert "Kommende: 2 datoer, kr 900,00 i alt (herav kr 900,00 for forespørsler som venter" in page
    # withdrawing a request is free, also under 14 days before its start
    withdraw = text(client.get(f"/my/bookings/{soon['id']}/cancel"))
    assert "En forespørsel som ikke er godkjent ennå: det er gratis å trekke den tilbake." in withdraw
    assert "Gratis: 14 dager" not in withdraw and "Pris kr 300,00 (leie kr 300,00)" in withdraw


# --- a series in words -------------------------------------------------------------------------


def test_a_series_is_shown_with_its_weekday_time_and_dates(client, place):
    _, room, _, organization, member = place
    tuesday = clear_weekday(TUESDAY, weeks=4, from_days=30)
    book_series(client, member, room, organization, tuesday, 4)
    last = tuesday + timedelta(weeks=3)
    log_in(client, member.user)
    first = numeric(tuesday, year=tuesday.year != last.year)
    assert f"hver tirsdag 18:00–20:00, {first}–{numeric(last)} (4 kommende datoer)" in text(client.get("/my"))
    english = text(client.get("/my?lang=en"))
    assert "every Tuesday 18:00–20:00, " in english and "(4 upcoming dates)" in english


@pytest.mark.parametrize(
    "rrule, start, nb, en",
    [
        ("FREQ=WEEKLY;COUNT=3", date(2027, 1, 12), "hver tirsdag", "every Tuesday"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=4",
            date(2027, 1, 11),
            "annenhver mandag og torsdag",
            "every other Monday and Thursday",
        ),
        (
            "FREQ=WEEKLY;INTERVAL=3;COUNT=3",
            date(2027, 1, 13),
            "hver 3. uke: onsdag",
            "every 3 weeks on Wednesday",
        ),
        ("FREQ=DAILY;COUNT=3", date(2027, 1, 11), "hver dag", "every day"),
        (
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=3",
            date(2027, 1, 12),
            "andre tirsdag i hver måned",
            "the second Tuesday of every month",
        ),
        (
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            date(2027, 1, 29),
            "siste fredag i hver måned",
            "the last Friday of every month",
        ),
        ("FREQ=MONTHLY;COUNT=3", date(2027, 1, 14), "den 14. i hver måned", "on day 14 of every month"),
    ],
)
def test_the_repeat_pattern_in_both_languages(app_ctx, rrule, start, nb, en):
    begin = datetime.combine(start, time(18), OSLO)
    series = Series(rrule=rrule, start=begin, end=begin + timedelta(hours=2))
    for language, expected in (("nb", nb), ("en", en)):
        with app_ctx.test_request_context(f"/?lang={language}"):
            refresh()  # the locale is kept per app context, not per request
            assert repeat_pattern(series) == expected


# --- why it was declined or cancelled ---------------------------------------------------------


def test_the_service_reasons_are_known_and_a_persons_words_are_not():
    assert status_reason_code("The time was given to another booking (#12).") == "overruled"
    assert status_reason_code("The time was given to other bookings (#12 and more).") == "overruled"
    assert status_reason_code("The building is closed on this date.") == "closure"
    assert status_reason_code("Displaced by an administrator's booking: Valg") == "override"
    assert status_reason_code(REJECTED_REQUEST_REASON) == "organization_rejected"
    assert status_reason_code("Not approved") == status_reason_code("Rejected") == "no_reason"
    assert status_reason_code("Cancelled") == "cancelled_by_organization"
    assert status_reason_code("Cancelled by the municipality") == "cancelled_by_municipality"
    assert status_reason_code("Series cancelled") == "series_cancelled"
    assert status_reason_code("Cancelled because of the weather") is None
    assert status_reason_code("Salen er opptatt") is None


def test_declined_and_cancelled_bookings_show_why_in_the_readers_language(client, make, place):
    building, room, hall, organization, member = place
    other = make.organization(name="Bærum Seniordans")
    day = clear_weekday(WEDNESDAY, weeks=3, from_days=30)
    # Overruled: the municipality gives the time to a competing request.
    api_book(client, member, hall, organization, day, "18:00", "20:00", title="Vårkonsert")
    theirs = api_book(client, make.member(other), hall, other, day, "19:00", "21:00", title="Dansefest")
    approve_booking(ADMIN, theirs["id"])
    # Declined with the administrator's own words, and without any.
    worded = api_book(
        client, member, hall, organization, day + timedelta(days=1), "18:00", "20:00", title="Konsert"
    )
    reject_booking(ADMIN, worded["id"], "Salen pusses opp den uka.")
    bare = api_book(
        client, member, hall, organization, day + timedelta(days=2), "18:00", "20:00", title="Prøve"
    )
    reject_booking(ADMIN, bare["id"], "")
    # Displaced by a closure of the building.
    closed_day = day + timedelta(weeks=1)
    api_book(client, member, room, organization, closed_day, "18:00", "20:00", title="Seminar")
    update_building(
        ADMIN,
        building.id,
        {"closures": [{"start_date": closed_day, "end_date": closed_day, "reason": "Lekkasje"}]},
    )
    db.session.commit()
    # Cancelled by the member: without a reason (free, a month ahead) and with one (a fee).
    log_in(client, member.user)
    free = api_book(
        client, member, room, organization, day + timedelta(weeks=2), "18:00", "20:00", title="Dugnad"
    )
    assert post(client, f"/my/bookings/{free['id']}/cancel").status_code == 303
    soon = api_book(client, member, room, organization, soon_weekday(), "18:00", "20:00", title="Kurs")
    assert post(client, f"/my/bookings/{soon['id']}/cancel", {"reason": "Syk dirigent"}).status_code == 303

    page = text(client.get("/my"))
    assert "Vårkonsert Storsalen ikke godkjent Begrunnelse: Tiden ble gitt til en annen booking." in page
    assert "Konsert Storsalen ikke godkjent Begrunnelse: Salen pusses opp den uka." in page
    assert "Prøve Storsalen ikke godkjent Begrunnelse: Ingen begrunnelse er oppgitt." in page
    assert (
        "Seminar Øvingsrom 1 avbestilt Begrunnelse: Bygget er stengt den dagen. Ingen avbestillingsgebyr"
        in page
    )
    assert (
        "Dugnad Øvingsrom 1 avbestilt Begrunnelse: Avbestilt av organisasjonen deres. "
        "Ingen avbestillingsgebyr" in page
    )
    # under 7 days before the start: the full rent (kr 100); the supervision only under 48 hours
    assert "Kurs Øvingsrom 1 avbestilt Begrunnelse: Syk dirigent Avbestillingsgebyr: kr 100,00" in page
    assert "The time was given" not in page and "closed on this date" not in page

    english = text(client.get("/my?lang=en"))
    assert "Reason: The time was given to another booking." in english
    assert "Reason: Salen pusses opp den uka." in english
    assert "Reason: The building is closed on that day." in english
    assert "Reason: Cancelled by your organisation." in english
    assert "Reason: Syk dirigent Cancellation fee: NOK 100.00" in english


def test_a_rejected_organisations_series_is_one_entry_with_its_weekday(client, make, place):
    _, _, hall, organization, member = place
    second = make.organization(verified=False, name="Sandvika Sjakklubb")
    both = make.user("member", organizations=[organization, second])
    wednesday = clear_weekday(WEDNESDAY, weeks=3, from_days=30)
    book_series(client, both, hall, second, wednesday, 3, title="Klubbkveld")
    reject_and_count(ADMIN, second.id)
    db.session.commit()
    log_in(client, both.user)
    page = text(client.get("/my"))
    last = wednesday + timedelta(weeks=2)
    first = numeric(wednesday, year=wednesday.year != last.year)
    entry = f"hver onsdag 18:00–20:00, {first}–{numeric(last)} (3 datoer) Klubbkveld Storsalen ikke godkjent"
    assert f"{entry} Begrunnelse: Kommunen har avvist organisasjonen." in page
    assert page.count("Klubbkveld") == 1


# --- a series' cancellation, date by date ------------------------------------------------------


def _expected_fee(day: date) -> tuple[int, str]:
    """The fee (rent kr 100 an occurrence) and rule of SPEC §5 for an occurrence at 18:00 on
    ``day``, cancelled today (never within 48 hours here)."""
    ahead = (day - today()).days
    if ahead >= 15:
        return 0, "Gratis: 14 dager eller mer før start."
    if ahead >= 8:
        return 5_000, "7–14 dager før start: halve leien."
    return 10_000, "Under 7 dager før start: full leie."


def test_series_cancel_lists_each_dates_fee_and_rule_then_the_total(client, place):
    _, room, _, organization, member = place
    first = soon_weekday()  # 4–6 days ahead, then 11–13, 18–20, 25–27: full, half, free, free
    series = book_series(client, member, room, organization, first, 4, on_conflict="skip", skip_holidays=True)
    dates = list(
        db.session.execute(
            db.select(Booking).where(Booking.series_id == series["id"]).order_by(Booking.start)
        ).scalars()
    )
    assert dates, "the series has dates"
    log_in(client, member.user)
    page = text(client.get(f"/my/series/{series['id']}/cancel"))
    total = 0
    for booking in dates:
        fee, rule = _expected_fee(booking.start.astimezone(OSLO).date())
        total += fee
        when = f"{booking.start.astimezone(OSLO).day}\\."
        row = re.search(rf"\w+ {when} \w+ 18:00–20:00 {re.escape(rule)} (kr [\d ]+,\d\d|gratis)", page)
        assert row, (rule, page)
        assert row.group(1) == (kr(fee) if fee else "gratis")
    assert f"Avbestillingsgebyr til sammen {kr(total)}" in page
    assert f"Avbestill disse datoene, gebyr {kr(total)}" in page
    english = text(client.get(f"/my/series/{series['id']}/cancel?lang=en"))
    assert "Cancellation fee per date" in english and "free of charge" in english

    assert post(client, f"/my/series/{series['id']}/cancel").status_code == 303
    db.session.expire_all()
    stored = [db.session.get(Booking, b.id) for b in dates]
    assert {b.status for b in stored} == {"cancelled"}
    assert [b.cancellation_fee["total_ore"] for b in stored] == [
        _expected_fee(b.start.astimezone(OSLO).date())[0] for b in stored
    ], "each date is charged what the page said"
    # One entry for the cancelled series, with its fees added up.
    decided = text(client.get("/my?lang=nb")).split("Avslått og avbestilt", 1)[1]
    assert re.search(
        rf"hver \w+ 18:00–20:00, [\d.–]+ \({len(dates)} datoer?\) Strykeøvelse Øvingsrom 1 avbestilt "
        rf"Begrunnelse: Serien ble avbestilt\. "
        + (f"Avbestillingsgebyr: {kr(total)}" if total else "Ingen avbestillingsgebyr"),
        decided,
    ), decided


# --- the private feed link ---------------------------------------------------------------------


def test_the_private_feed_link_is_shown_whole_with_copy_and_webcal(client, place):
    _, _, _, organization, member = place
    log_in(client, member.user)
    assert post(client, f"/my/organizations/{organization.id}/feed-token").status_code == 303
    html = client.get("/my").get_data(as_text=True)
    found = re.search(
        r'<textarea id="feed-url-(\d+)" class="feed-url"[^>]*readonly[^>]*>(http://booking\.test/feeds/org/[^<]+\.ics)</textarea>',
        html,
    )
    assert found and int(found.group(1)) == organization.id
    url = found.group(2)
    assert f'href="webcal://{url.split("://", 1)[1]}"' in html
    assert f'data-copy="feed-url-{organization.id}"' in html
    assert client.get(url.removeprefix("http://booking.test")).status_code == 200
