"""The pages through the Flask test client: they render, check permissions and CSRF, never
redirect off-site, show form errors, and run the core flow without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.extensions import db
from booking.models import Booking, Organization, Series, User
from booking.web.security import LOGIN_KEY
from tests.integration.factories import org_number
from tests.integration.web_helpers import TOKEN, api_book, clear_weekday, log_in, post, text, with_csrf

TUESDAY = 1


@pytest.fixture
def world(make):
    building = make.building(name="Bekkestua kulturhus")
    room = make.room(building, name="Øvingsrom 1", kind="meeting_room", capacity=20, equipment=["piano"])
    organization = make.organization(name="Stabekk Strykeorkester")
    member = make.member(organization)
    return building, room, organization, member


def booking_form(organization, day, **overrides):
    data = {
        "organization_id": str(organization.id),
        "title": "Strykeøvelse",
        "date": day.isoformat(),
        "start": "18:00",
        "end": "20:00",
        "attendees": "12",
        "repeat": "once",
        "on_conflict": "skip",
    }
    data.update(overrides)
    return data


# --- language and formats ------------------------------------------------------------------


def test_pages_are_bokmal_by_default_and_english_on_request(client, world):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<html lang="nb">' in page.get_data(as_text=True)
    assert "Finn et ledig rom" in text(page)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True) and "Find a free room" in text(english)
    assert "New here?" in text(client.get("/login")), "the choice is kept for the visit"
    assert "Logg inn" in text(client.get("/login?lang=nb"))


def test_money_and_dates_follow_the_language(app_ctx):
    from datetime import date

    from flask_babel import refresh

    from booking.web.i18n import day, money

    with app_ctx.test_request_context("/"):
        assert money(125_000) == "kr\u00a01\u00a0250,00"
        assert day(date(2027, 1, 12)) == "tirsdag 12. januar"
    with app_ctx.test_request_context("/?lang=en"):
        refresh()
        assert money(125_000) == "NOK\u00a01,250.00"
        assert day(date(2027, 1, 12)) == "Tuesday 12 January"


def test_every_message_has_a_bokmal_translation_and_compiled_catalogues_are_current():
    """A fresh clone needs no build step: the .mo files are committed, and must say what the .po
    files say; every text the pages use is in the bokmål catalogue."""
    import gettext
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2] / "booking" / "translations"

    def load(path):
        with path.open("rb") as handle:
            return read_po(handle)

    for language in ("nb", "en"):
        directory = root / language / "LC_MESSAGES"
        catalogue = load(directory / "messages.po")
        with (directory / "messages.mo").open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for message in catalogue:
            if not message.id:
                continue
            singular = message.id[0] if isinstance(message.id, tuple) else message.id
            translated = message.string[0] if isinstance(message.string, tuple) else message.string
            if language == "nb":
                assert translated, f"no bokmål for {singular!r}"
            assert compiled.gettext(singular) == (translated or singular), f"stale .mo for {singular!r}"
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    keywords = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None)
    method_map = [
        ("booking/web/**.py", "python"),
        ("booking/templates/web/**.html", "jinja2"),
        ("booking/mail/**.py", "python"),
        ("booking/templates/mail/**.html", "jinja2"),
        ("booking/templates/mail/**.txt", "jinja2"),
    ]
    used = {message[2] for message in extract_from_dir(root.parents[1], method_map, keywords=keywords)}
    nb = {m.id for m in load(root / "nb" / "LC_MESSAGES" / "messages.po") if m.id}
    assert used and not used - nb, f"run `make translations` and translate: {sorted(map(str, used - nb))}"


# --- search --------------------------------------------------------------------------------


def test_search_finds_free_rooms_with_the_organisations_price(client, make, world):
    building, room, organization, member = world
    busy = make.room(building, name="Opptatt rom", kind="meeting_room", capacity=20)
    small = make.room(building, name="Lite rom", kind="meeting_room", capacity=4)
    day = clear_weekday(TUESDAY)
    api_book(client, member, busy, organization, day, "17:00", "21:00")
    log_in(client, member.user)
    page = client.get(f"/?date={day}&start=18:00&length=120&capacity=10&for=org-{organization.id}")
    assert page.status_code == 200
    body = text(page)
    assert "Øvingsrom 1" in body and "Opptatt rom" not in body and "Lite rom" not in body
    # reduced: 2 h × kr 50 rent + 2 h × kr 300 supervision after staffed hours
    assert "kr 700,00" in body
    assert (
        f'href="/rooms/{room.id}?date={day}&amp;start=18:00&amp;length=120&amp;organization_id={organization.id}"'
        in page.get_data(as_text=True)
    )
    assert small.id


def test_search_by_equipment_and_kind(client, make, world):
    building, room, _, _ = world
    make.room(building, name="Gymsalen", kind="gym", capacity=40)
    day = clear_weekday(TUESDAY)
    body = text(client.get(f"/?date={day}&start=18:00&length=60&equipment=piano&for=cat-full"))
    assert "Øvingsrom 1" in body and "Gymsalen" not in body
    body = text(client.get(f"/?date={day}&start=18:00&length=60&kind=gym&for=cat-full"))
    assert "Gymsalen" in body and "Øvingsrom 1" not in body


def test_search_form_errors_are_shown_with_the_form(client, world):
    page = client.get("/?date=2020-01-01&start=25:99&length=60")
    assert page.status_code == 422
    body = text(page)
    assert "Velg i dag eller en senere dato." in body and "Skriv klokkeslettet som TT:MM" in body
    assert 'aria-invalid="true"' in page.get_data(as_text=True)


# --- room page -----------------------------------------------------------------------------


def test_room_page_shows_facts_prices_and_busy_time_without_private_data(client, make, world):
    _, room, organization, member = world
    day = clear_weekday(TUESDAY)
    api_book(
        client,
        member,
        room,
        organization,
        day,
        "18:00",
        "20:00",
        title="Hemmelig prosjekt",
        notes="Nøkkel under matta",
    )
    page = client.get(f"/rooms/{room.id}?week={day}")
    assert page.status_code == 200
    body = text(page)
    assert "Øvingsrom 1" in body and "Bekkestua kulturhus" in body and "piano" in body
    assert "kr 50,00" in body and "kr 200,00" in body, "hourly rent per category"
    assert "Stabekk Strykeorkester" in body, "busy time names the organisation"
    for private in ("Hemmelig prosjekt", "Nøkkel under matta", organization.phone, organization.email):
        assert private not in body
    assert "For å booke, logg inn" in body and 'id="booking-form"' not in page.get_data(as_text=True)


def test_unknown_room_is_an_html_404(client, world):
    page = client.get("/rooms/999999")
    assert page.status_code == 404 and page.mimetype == "text/html" and "Fant ikke siden" in text(page)
    api = client.get("/api/v1/rooms/999999")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_calculate_price_without_javascript_shows_the_itemized_quote(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    page = post(client, f"/rooms/{room.id}", booking_form(organization, day, action="quote"))
    assert page.status_code == 200
    body = text(page)
    assert "Leie, hverdag" in body and "Tilsyn, hverdag" in body
    assert "4 × halvtime" in body and "kr 100,00" in body and "kr 600,00" in body and "kr 700,00" in body
    assert "utenfor bemannet tid 16:00–20:00" not in body  # supervision is outside 08–16 only from 18:00
    assert "utenfor bemannet tid 18:00–20:00" in body
    assert db.session.execute(db.select(Booking)).first() is None, "a quote writes nothing"


def test_live_quote_fragment_matches_the_form(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY, weeks=3)
    until = day + timedelta(weeks=2)
    fragment = client.get(
        f"/rooms/{room.id}/quote",
        query_string=booking_form(organization, day, repeat="weekly", until=until.isoformat()),
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    body = text(fragment)
    assert "3 datoer" in body and "kr 2 100,00" in body


def test_booking_a_weekly_series_skips_the_taken_date(client, make, world):
    _, room, organization, member = world
    other = make.organization(name="Haslum Husflidslag")
    other_member = make.member(other)
    day = clear_weekday(TUESDAY, weeks=4)
    api_book(client, other_member, room, other, day + timedelta(weeks=1), "19:00", "21:00")
    log_in(client, member.user)
    form = booking_form(
        organization, day, repeat="weekly", until=(day + timedelta(weeks=3)).isoformat(), on_conflict="skip"
    )
    preview = text(post(client, f"/rooms/{room.id}", dict(form, action="quote")))
    assert "3 datoer" in preview and "1 dato utelatt" in preview and "Haslum Husflidslag" in preview
    done = post(client, f"/rooms/{room.id}", dict(form, action="book"))
    assert done.status_code == 303 and done.headers["Location"] == "/my#main"
    series = db.session.execute(db.select(Series)).scalar_one()
    assert len(series.occurrences) == 3 and [s.reason for s in series.skipped] == ["conflict"]
    my = text(client.get("/my"))
    assert "Booket «Strykeøvelse» i Øvingsrom 1 på 3 datoer." in my and "Utelatt:" in my
    assert "Strykeøvelse" in my and "Avbestill hele serien" in my


def test_conflict_is_shown_in_the_form_with_suggestions(client, make, world):
    building, room, organization, member = world
    make.room(building, name="Møterom 2", kind="meeting_room", capacity=20)
    other = make.organization(name="Haslum Husflidslag")
    day = clear_weekday(TUESDAY)
    api_book(client, make.member(other), room, other, day, "18:00", "20:00")
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", booking_form(organization, day, action="book"))
    assert page.status_code == 409 and page.mimetype == "text/html"
    body = text(page)
    assert "Tiden er opptatt" in body and "opptatt av Haslum Husflidslag" in body
    assert "Ledige alternativer" in body and "Møterom 2" in body
    assert 'name="title" value="Strykeøvelse"' in page.get_data(as_text=True), "the form keeps the input"
    assert (
        db.session.execute(db.select(Booking).where(Booking.organization_id == organization.id)).first()
        is None
    )


def test_rule_violations_and_missing_fields_are_form_errors(client, world):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    page = post(client, f"/rooms/{room.id}", booking_form(organization, day, attendees="500", action="book"))
    assert page.status_code == 422
    assert "For mange deltakere: rommet tar høyst 20." in text(page)
    page = post(
        client, f"/rooms/{room.id}", booking_form(organization, day, title="", end="17:00", action="book")
    )
    assert page.status_code == 422
    body = text(page)
    assert (
        "Fyll ut dette feltet." in body and "Slutt må være etter start." in body and "Rett opp dette" in body
    )


def test_members_book_only_for_their_own_organisations(client, make, world):
    _, room, _, member = world
    stranger = make.organization(name="Fremmed forening")
    log_in(client, member.user)
    page = post(client, f"/rooms/{room.id}", booking_form(stranger, clear_weekday(TUESDAY), action="book"))
    assert page.status_code == 422 and "Velg organisasjonen du booker for." in text(page)
    assert db.session.execute(db.select(Booking)).first() is None


def test_booking_a_room_that_needs_approval_sends_a_request(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    log_in(client, member.user)
    done = post(
        client, f"/rooms/{hall.id}", booking_form(organization, clear_weekday(TUESDAY), action="book")
    )
    assert done.status_code == 303
    assert db.session.execute(db.select(Booking.status)).scalar_one() == "pending"
    assert "Rommet krever godkjenning" in text(client.get("/my"))


# --- CSRF, sessions, redirects -------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_posts_without_the_sessions_csrf_token_are_refused(client, world, token):
    _, room, organization, member = world
    log_in(client, member.user)
    data = booking_form(organization, clear_weekday(TUESDAY), action="book")
    if token:
        data["csrf_token"] = token
    page = client.post(f"/rooms/{room.id}", data=data)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Skjemaet var utløpt" in text(page)
    assert db.session.execute(db.select(Booking)).first() is None


@pytest.mark.parametrize("header", [None, "wrong-token", TOKEN])
def test_api_changes_with_the_session_cookie_need_the_csrf_header(client, world, header):
    _, room, organization, member = world
    log_in(client, member.user)
    day = clear_weekday(TUESDAY)
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Fra nettleseren",
        "start": f"{day.isoformat()}T18:00",
        "end": f"{day.isoformat()}T20:00",
    }
    headers = {"X-CSRF-Token": header} if header else {}
    response = client.post("/api/v1/bookings", json=payload, headers=headers)
    if header == TOKEN:
        assert response.status_code == 201, response.get_json()
        return
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert "X-CSRF-Token" in response.get_json()["detail"]
    assert db.session.execute(db.select(Booking)).first() is None
    assert client.get("/api/v1/me").status_code == 200  # reading needs no token


def test_a_stray_post_of_a_logged_in_browser_gets_the_error_page(client, world):
    _, _, _, member = world
    log_in(client, member.user)
    for path, status in (("/", 405), ("/no-such-page", 404)):
        page = client.post(path, data={"csrf_token": TOKEN})
        assert page.status_code == status and page.mimetype == "text/html", path


def test_every_form_carries_the_csrf_token(client, world):
    _, room, _, member = world
    log_in(client, member.user)
    for path in ("/", f"/rooms/{room.id}", "/my", "/register"):
        html = client.get(path).get_data(as_text=True)
        forms = html.count('method="post"')
        assert html.count(f'name="csrf_token" value="{TOKEN}"') >= forms, path


def test_login_logout_and_session_cookie_flags(client, world):
    _, _, _, member = world
    with_csrf(client)
    wrong = post(client, "/login", {"email": member.user.email, "password": "nope"})
    assert wrong.status_code == 401 and "Feil e-post eller passord." in text(wrong)
    good = post(client, "/login", {"email": member.user.email, "password": "correct horse battery"})
    assert good.status_code == 303 and good.headers["Location"] == "/my"
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with client.session_transaction() as session:
        assert "user_id" not in session and session["csrf_token"] != TOKEN, "fresh session"
        assert session[LOGIN_KEY] and member.user.email not in str(dict(session))
        token = session["csrf_token"]
    assert client.get("/my").status_code == 200
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert client.get("/my").status_code == 303


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/rooms/1?date=2030-01-01", "/rooms/1?date=2030-01-01"),
        ("https://evil.example/", "/my"),
        ("//evil.example/", "/my"),
        ("/\\evil.example", "/my"),
        ("javascript:alert(1)", "/my"),
        ("http:/evil.example", "/my"),
    ],
)
def test_login_follows_next_only_to_paths_on_this_site(client, world, target, expected):
    _, _, _, member = world
    with_csrf(client)
    response = post(
        client, "/login", {"email": member.user.email, "password": "correct horse battery", "next": target}
    )
    assert response.status_code == 303 and response.headers["Location"] == expected


def test_pages_for_users_send_anonymous_visitors_to_log_in(client, world):
    for path in ("/my", "/admin", "/janitor", "/janitor/1"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/login?next=")


# --- /my -----------------------------------------------------------------------------------


def test_cancel_shows_the_fee_first_then_cancels(client, world):
    _, room, organization, member = world
    soon = api_book(client, member, room, organization, clear_weekday(TUESDAY, from_days=3), "18:00", "20:00")
    log_in(client, member.user)
    confirm = client.get(f"/my/bookings/{soon['id']}/cancel")
    assert confirm.status_code == 200
    body = text(confirm)
    assert "Avbestillingsgebyr" in body
    assert db.session.get(Booking, soon["id"]).status == "confirmed", "showing the fee changes nothing"
    done = post(client, f"/my/bookings/{soon['id']}/cancel", {"reason": "Syk dirigent"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, soon["id"]).status == "cancelled"
    assert "er avbestilt. Avbestillingsgebyr:" in text(client.get("/my"))


def test_cancel_fee_depends_on_notice(client, world):
    _, room, organization, member = world
    late = api_book(client, member, room, organization, clear_weekday(TUESDAY, from_days=3), "18:00", "20:00")
    early = api_book(
        client, member, room, organization, clear_weekday(TUESDAY, from_days=30), "18:00", "20:00"
    )
    log_in(client, member.user)
    assert "Gratis: 14 dager eller mer før start." in text(client.get(f"/my/bookings/{early['id']}/cancel"))
    late_page = text(client.get(f"/my/bookings/{late['id']}/cancel"))
    assert "Under 7 dager før start: full leie." in late_page and "kr 100,00" in late_page


def test_members_cannot_cancel_other_organisations_bookings(client, make, world):
    _, room, _, member = world
    other = make.organization(name="Annen forening")
    theirs = api_book(client, make.member(other), room, other, clear_weekday(TUESDAY), "18:00", "20:00")
    log_in(client, member.user)
    page = client.get(f"/my/bookings/{theirs['id']}/cancel")
    assert page.status_code == 403 and page.mimetype == "text/html" and "Ikke tillatt" in text(page)
    assert post(client, f"/my/bookings/{theirs['id']}/cancel").status_code == 403
    assert db.session.get(Booking, theirs["id"]).status == "confirmed"


def test_series_cancel_shows_total_fee_then_cancels_the_rest(client, world):
    _, room, organization, member = world
    day = clear_weekday(TUESDAY, weeks=3, from_days=30)
    series = client.post(
        "/api/v1/bookings",
        headers=member.headers,
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Øving",
            "start": f"{day}T18:00",
            "end": f"{day}T20:00",
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
        },
    ).get_json()
    log_in(client, member.user)
    page = text(client.get(f"/my/series/{series['id']}/cancel"))
    assert "3 kommende datoer blir avbestilt" in page and "kr 0,00" in page
    assert post(client, f"/my/series/{series['id']}/cancel").status_code == 303
    statuses = db.session.execute(
        db.select(Booking.status).where(Booking.series_id == series["id"])
    ).scalars()
    assert set(statuses) == {"cancelled"}


def test_private_feed_link_is_made_shown_and_rotated(client, world):
    _, _, organization, member = world
    log_in(client, member.user)
    page = text(client.get("/my"))
    assert "Lag kalenderlenke" in page
    made = post(client, f"/my/organizations/{organization.id}/feed-token")
    assert made.status_code == 303
    html = client.get("/my").get_data(as_text=True)
    import re

    first = re.search(
        r'class="feed-url"[^>]*>(http://booking\.test/feeds/org/[^<]+\.ics)</textarea>', html
    ).group(1)
    assert f'href="webcal://{first.split("://", 1)[1]}"' in html
    assert 'class="secondary copy-button"' in html
    assert post(client, f"/my/organizations/{organization.id}/feed-token").status_code == 303
    second = re.search(
        r'class="feed-url"[^>]*>(http://booking\.test/feeds/org/[^<]+\.ics)</textarea>',
        client.get("/my").get_data(as_text=True),
    )
    assert second.group(1) != first
    assert client.get(first.replace("http://booking.test", "")).status_code == 404, (
        "the old link stops working"
    )


def test_members_cannot_rotate_another_organisations_feed(client, make, world):
    _, _, _, member = world
    other = make.organization(name="Annen forening")
    log_in(client, member.user)
    assert post(client, f"/my/organizations/{other.id}/feed-token").status_code == 403


# --- janitor -------------------------------------------------------------------------------


def test_janitor_day_sheet(client, make, world):
    building, room, organization, member = world
    day = clear_weekday(TUESDAY)
    api_book(
        client, member, room, organization, day, "18:00", "20:00", attendees=12, notes="30 stoler på rad"
    )
    janitor = make.janitor(building)
    log_in(client, janitor.user)
    assert client.get("/janitor").headers["Location"] == f"/janitor/{building.id}"
    page = client.get(f"/janitor/{building.id}?date={day}")
    assert page.status_code == 200
    html, body = page.get_data(as_text=True), text(page)
    assert "Stabekk Strykeorkester" in body and "Kari" in body and "30 stoler på rad" in body
    assert 'href="tel:+4740000000"' in html
    assert (
        "Tilsyn Trengs 18:00–20:00." in body
        and "Tilsyn Tilsyn" not in body
        and "Låses opp 18:00" in body
        and "Låses 20:00" in body
    )
    assert f"date={day - timedelta(days=1)}" in html and f"date={day + timedelta(days=1)}" in html
    assert 'media="print"' in html


def test_janitor_sheet_is_only_for_the_buildings_janitors(client, make, world):
    building, _, _, member = world
    other_janitor = make.janitor(make.building(name="Annet bygg"))
    log_in(client, other_janitor.user)
    assert client.get(f"/janitor/{building.id}").status_code == 403
    log_in(client, member.user)
    assert client.get(f"/janitor/{building.id}").status_code == 403


def test_janitor_sheet_bad_date_is_explained(client, make, world):
    building, *_ = world
    log_in(client, make.janitor(building).user)
    page = client.get(f"/janitor/{building.id}?date=31-12-2026")
    assert page.status_code == 422 and "er ikke en dato" in text(page)


# --- admin ---------------------------------------------------------------------------------


def test_admin_approves_the_suggested_winner_and_the_competitor_is_declined(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    full = make.organization(name="Konsulentfirma AS", voluntary=False, local=False)
    day = clear_weekday(TUESDAY)
    first = api_book(client, make.member(full), hall, full, day, "18:00", "20:00")
    second = api_book(client, member, hall, organization, day, "19:00", "21:00")
    admin = make.admin()
    log_in(client, admin.user)
    page = client.get("/admin")
    assert page.status_code == 200
    body = text(page)
    assert "Konkurrerende forespørsler" in body and "Foreslått vinner" in body
    assert (
        body.index("Foreslått vinner")
        < body.index("Stabekk Strykeorkester")
        < body.index("Konsulentfirma AS")
    ), "reduced beats full: the later request wins"
    # Approving declines the competitor: not without the confirmation that names it (SPEC §15).
    unconfirmed = post(client, f"/admin/bookings/{second['id']}/approve")
    assert unconfirmed.status_code == 409 and "Godkjenn og avslå 1 forespørsel" in text(unconfirmed)
    db.session.expire_all()
    assert db.session.get(Booking, second["id"]).status == "pending"
    confirmed = post(
        client, f"/admin/bookings/{second['id']}/approve", {"shown": "1", "reject": str(first["id"])}
    )
    assert confirmed.status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, second["id"]).status == "confirmed"
    assert db.session.get(Booking, first["id"]).status == "rejected"
    assert "1 konkurrerende forespørsel ble avslått" in text(client.get("/admin"))


def test_admin_declines_with_a_reason_and_verifies_organisations(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    request_ = api_book(client, member, hall, organization, clear_weekday(TUESDAY), "18:00", "20:00")
    new = make.organization(
        verified=False, name="Ny forening", registered_in_frivillighetsregisteret=True, youth_activity=True
    )
    log_in(client, make.admin().user)
    body = text(client.get("/admin"))
    assert "Ny forening" in body and "gratis (foreslått)" in body
    assert (
        post(
            client, f"/admin/bookings/{request_['id']}/reject", {"reason": "Kommunalt arrangement"}
        ).status_code
        == 303
    )
    assert (
        post(client, f"/admin/organizations/{new.id}/verify", {"price_category": "free"}).status_code == 303
    )
    db.session.expire_all()
    assert db.session.get(Booking, request_["id"]).status_reason == "Kommunalt arrangement"
    verified = db.session.get(Organization, new.id)
    assert verified.verified and verified.price_category == "free"


def test_verifying_leads_to_the_explicit_re_pricing_of_confirmed_bookings(client, make, world):
    """SPEC §11: a confirmed price keeps its category when the organisation is verified; the
    admin is shown how many bookings that is and re-prices them in one action."""
    building, room, _, _ = world
    new = make.organization(verified=False, name="Ny forening", youth_activity=True)
    admin = make.admin()
    booked = api_book(client, admin, room, new, clear_weekday(TUESDAY), "18:00", "20:00")
    assert booked["status"] == "confirmed" and booked["quote"]["category"] == "full"
    log_in(client, admin.user)
    verified = post(client, f"/admin/organizations/{new.id}/verify", {"price_category": "free"})
    assert verified.status_code == 303 and verified.headers["Location"].endswith(
        f"/admin/organizations/{new.id}/reprice"
    )
    page = text(client.get(verified.headers["Location"]))
    assert "1 bekreftet booking som ikke har startet, er priset med en annen kategori enn gratis." in page
    db.session.expire_all()
    assert db.session.get(Booking, booked["id"]).quote["category"] == "full"  # nothing by itself
    done = post(client, f"/admin/organizations/{new.id}/reprice")
    assert done.status_code == 303
    assert "1 booking er prisberegnet på nytt." in text(client.get("/admin"))
    db.session.expire_all()
    repriced = db.session.get(Booking, booked["id"])
    assert repriced.quote["category"] == "free" and repriced.sequence == booked["sequence"] + 1
    assert "0 bekreftede bookinger" in text(client.get(f"/admin/organizations/{new.id}/reprice"))


def test_admin_page_and_actions_are_for_admins_only(client, make, world):
    building, _, organization, member = world
    hall = make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)
    request_ = api_book(client, member, hall, organization, clear_weekday(TUESDAY), "18:00", "20:00")
    for who in (member, make.janitor(building)):
        log_in(client, who.user)
        assert client.get("/admin").status_code == 403
        assert (
            post(
                client, f"/admin/organizations/{organization.id}/verify", {"price_category": "free"}
            ).status_code
            == 403
        )
        assert post(client, f"/admin/bookings/{request_['id']}/approve").status_code == 403
    db.session.expire_all()
    assert db.session.get(Organization, organization.id).price_category == "reduced"
    assert db.session.get(Booking, request_["id"]).status == "pending"


# --- registration --------------------------------------------------------------------------


def registration(**overrides):
    data = {
        "name": "Stabekk Sjakklubb",
        "org_number": org_number(900),
        "contact_name": "Ola Nordmann",
        "email": "ola@example.test",
        "phone": "+47 400 00 001",
        "voluntary": "on",
        "local": "on",
        "password": "a long password",
        "password_again": "a long password",
    }
    data.update(overrides)
    return data


def test_registration_creates_the_organisation_and_asks_to_confirm_the_address(client, world):
    with_csrf(client)
    done = post(client, "/register", registration())
    assert done.status_code == 200
    page = text(done)
    assert "Sjekk e-posten din: vi har sendt en melding til ola@example.test." in page
    assert "Foreslått priskategori: redusert pris." in page
    organization = db.session.execute(
        db.select(Organization).where(Organization.name == "Stabekk Sjakklubb")
    ).scalar_one()
    assert not organization.verified and organization.proposed_category == "reduced"
    user = db.session.execute(db.select(User).where(User.email == "ola@example.test")).scalar_one()
    assert [o.id for o in user.organizations] == [organization.id]
    assert user.email_confirmed_at is None
    assert client.get("/my").status_code == 303  # not logged in: the address is confirmed first


@pytest.mark.parametrize(
    "number,message",
    [
        ("12345", "Et organisasjonsnummer har nøyaktig 9 sifre"),
        (
            "974760674",
            "974760674 er ikke et gyldig organisasjonsnummer: det siste sifferet (kontrollsifferet) "
            "stemmer ikke",
        ),
    ],
)
def test_registration_explains_a_wrong_org_number(client, world, number, message):
    with_csrf(client)
    page = post(client, "/register", registration(org_number=number))
    assert page.status_code == 422 and message in text(page)
    assert (
        db.session.execute(db.select(Organization).where(Organization.name == "Stabekk Sjakklubb")).first()
        is None
    )


def test_registration_accepts_spaces_in_the_org_number_and_tells_a_member_of_duplicates(client, world):
    _, _, organization, member = world
    spaced = (
        organization.org_number[:3] + " " + organization.org_number[3:6] + " " + organization.org_number[6:]
    )
    with_csrf(client)  # anonymous: the same page as for a new number (SPEC §13)
    page = post(client, "/register", registration(org_number=spaced))
    assert page.status_code == 200 and "Sjekk e-posten din" in text(page)
    assert organization.org_number in text(page)
    log_in(client, member.user)  # a logged-in member is told on the form
    page = post(client, "/register", registration(org_number=spaced))
    assert page.status_code == 409 and "er allerede registrert" in text(page)


def test_registration_form_errors(client, world):
    with_csrf(client)
    page = post(client, "/register", registration(name="", email="nope", password_again="different"))
    assert page.status_code == 422
    body = text(page)
    assert "Fyll ut dette feltet." in body and "Skriv en gyldig e-postadresse." in body
    assert "De to passordene er ulike." in body
