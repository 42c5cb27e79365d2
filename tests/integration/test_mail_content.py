"""Notification e-mails as the recipient reads them (SPEC §12): every kind in bokmål and in
English, HTML escaped and plain text not, and the ``.ics`` attachments with the UID and SEQUENCE
the organisation's feed shows for the same booking or series.

The booking events are the ones the services wrote into the outbox; the message (one recipient)
is made here by hand, as the worker will make it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from icalendar import Calendar

from booking.extensions import db
from booking.feeds import service
from booking.mail.content import Content, Gone, render_content
from booking.models import Booking, OutboxEvent, OutboxMessage, Series
from booking.services.accounts import mail_link
from booking.services.notifications import emit
from booking.web.i18n import money
from pricing.weekly import OSLO
from tests.integration.factories import ADMIN
from tests.integration.test_feeds import at, book, by_uid, count_statements, prop, weekday_from

_MESSAGE_IDS = itertools.count(1)


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def world(make):
    building = make.building(name="Kulturhuset", address="Storgata 1, 1300 Sandvika")
    room = make.room(building, name="Storsalen", kind="hall", capacity=200)
    organization = make.organization(name="Sandvika Kor", contact_name="Kari Kontakt")
    member = make.member(organization)
    return building, room, organization, member


def events(kind: str) -> list[OutboxEvent]:
    return list(
        db.session.scalars(db.select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id))
    )


def last_event(kind: str) -> OutboxEvent:
    found = events(kind)
    assert found, f"no {kind} event in the outbox"
    return found[-1]


def render(event: OutboxEvent, language: str, name: str = "Kari Kontakt") -> Content:
    message = OutboxMessage(
        event=event,
        recipient=f"reader{next(_MESSAGE_IDS)}@example.test",
        name=name,
        language=language,
        message_id=f"<test-{next(_MESSAGE_IDS)}@booking.test>",
    )
    db.session.add(message)
    db.session.flush()
    return render_content(event, message)


def hand_made(kind: str, **params) -> OutboxEvent:
    event = emit(kind, **params)
    db.session.flush()
    return event


def calendar(content: Content, method: str) -> Calendar:
    (attachment,) = content.attachments
    assert attachment.filename.endswith(".ics")
    assert attachment.content_type == f"text/calendar; method={method}"
    parsed = Calendar.from_ical(attachment.data)
    assert parsed["METHOD"] == method
    assert b"\r\n" in attachment.data
    return parsed


def vevents(parsed: Calendar) -> list:
    return [component for component in parsed.walk("VEVENT")]


def org_feed_body(organization) -> bytes:
    token = service.rotate_organization_token(ADMIN, organization.id, "test-secret")
    return service.render_feed(service.organization_feed(token))


def local_money(ore: int, language: str) -> str:
    with force_locale(language):
        return money(ore)


def both(event: OutboxEvent) -> tuple[Content, Content]:
    return render(event, "nb"), render(event, "en")


def assert_document(content: Content, language: str) -> None:
    assert content.html.startswith("<!doctype html>")
    assert f'<html lang="{language}">' in content.html
    assert "\n" not in content.subject


# --- bookings ----------------------------------------------------------------------------------


def test_a_confirmed_booking_in_bokmal_and_english_with_its_feed_event_attached(client, world):
    _, room, organization, member = world
    day = weekday_from(10, 1)  # a Tuesday
    created = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"), title="Konsert")
    event = last_event("booking_confirmed")
    assert event.params["booking_ids"] == [created["id"]]
    nb, en = both(event)
    total = db.session.get(Booking, created["id"]).quote["total_ore"]
    assert total > 0

    assert nb.subject == "Booking bekreftet: Konsert"
    assert_document(nb, "nb")
    for text in (nb.text, nb.html):
        assert "Bookingen for Sandvika Kor er bekreftet." in text
        assert "Storsalen, Kulturhuset, Storgata 1, 1300 Sandvika" in text
        assert f"tirsdag {day.day}. " in text and f"{day.year} kl. 18:00–20:00" in text
        assert local_money(total, "nb") in text
        assert "http://booking.test/my" in text
        assert "Hei Kari Kontakt," in text
    assert "Pris: kr\u00a0" in nb.text

    assert en.subject == "Booking confirmed: Konsert"
    assert_document(en, "en")
    for text in (en.text, en.html):
        assert "The booking for Sandvika Kor is confirmed." in text
        assert f"Tuesday {day.day} " in text and f"{day.year}, 18:00–20:00" in text
        assert local_money(total, "en") in text and "NOK" in text
        assert "Hello Kari Kontakt," in text

    parsed = calendar(nb, "PUBLISH")
    (vevent,) = vevents(parsed)
    feed_event = by_uid(org_feed_body(organization))[(f"booking-{created['id']}@booking.invalid", None)]
    assert str(vevent["UID"]) == prop(feed_event, "UID")
    assert str(vevent["SEQUENCE"]) == prop(feed_event, "SEQUENCE")
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["ORGANIZER"]) == "mailto:booking@localhost"
    assert vevent.decoded("DTSTART") == at(day, "18:00")
    assert nb.attachments == en.attachments  # the calendar does not depend on the language


def test_html_escapes_a_hostile_title_and_plain_text_keeps_it(client, world):
    _, room, organization, member = world
    day = weekday_from(12, 3)
    title = '<script>alert("x")</script> & Co'
    book(client, member, room, organization, at(day, "10:00"), at(day, "11:00"), title=title)
    nb = render(last_event("booking_confirmed"), "nb", name="<b>Ola</b>")
    assert "<script>" not in nb.html and "<b>Ola</b>" not in nb.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in nb.html
    assert "&lt;b&gt;Ola&lt;/b&gt;" in nb.html
    assert f"Tittel: {title}" in nb.text and "Hei <b>Ola</b>," in nb.text
    assert "&lt;" not in nb.text and "&amp;" not in nb.text
    assert nb.subject == f"Booking bekreftet: {title}"


def test_a_confirmed_series_is_told_by_its_pattern_first_and_last_date(client, world):
    _, room, organization, member = world
    day = weekday_from(9, 1)
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        title="Korøvelse",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    event = last_event("booking_confirmed")
    assert event.params["series_id"] == series["id"] and len(event.params["booking_ids"]) == 4
    nb, en = both(event)
    last = day + timedelta(weeks=3)
    assert "Den faste bookingen for Sandvika Kor er bekreftet." in nb.text
    assert "hver tirsdag kl. 18:00–20:00" in nb.text
    assert f"4 datoer fra tirsdag {day.day}." in nb.text and f"til tirsdag {last.day}." in nb.text
    assert "every Tuesday, 18:00–20:00" in en.text
    assert f"4 dates from Tuesday {day.day} " in en.text and f"to Tuesday {last.day} " in en.text
    totals = sum(b.quote["total_ore"] for b in db.session.scalars(db.select(Booking)))
    assert local_money(totals, "nb") in nb.text

    (master,) = vevents(calendar(en, "PUBLISH"))
    feed_master = by_uid(org_feed_body(organization))[(f"series-{series['id']}@booking.invalid", None)]
    assert str(master["UID"]) == prop(feed_master, "UID")
    assert str(master["SEQUENCE"]) == prop(feed_master, "SEQUENCE")
    assert master["RRULE"].to_ical().decode() == prop(feed_master, "RRULE")


def test_a_series_with_skipped_dates_lists_them(client, world, make):
    _, room, organization, member = world
    other = make.organization(name="Annen forening")
    day = weekday_from(9, 2)
    book(
        client,
        make.member(other),
        room,
        other,
        at(day + timedelta(weeks=1), "18:30"),
        at(day + timedelta(weeks=1), "19:00"),
    )
    book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
        on_conflict="skip",
    )
    nb, en = both(last_event("booking_confirmed"))
    skipped = day + timedelta(weeks=1)
    assert "Ikke booket:" in nb.text and f"- onsdag {skipped.day}. " in nb.text and "(opptatt)" in nb.text
    assert "Not booked:" in en.text and "(taken)" in en.text


def test_a_request_then_its_approval_and_a_competitor_rejected(client, world, make):
    building, _, organization, member = world
    hall = make.room(building, name="Salen", kind="hall", requires_approval=True)
    other = make.organization(name="Bærum Teater")
    other_member, admin = make.member(other), make.admin()
    day = weekday_from(14, 4)
    request = book(client, member, hall, organization, at(day, "18:00"), at(day, "21:00"), title="Vårkonsert")
    competitor = book(client, other_member, hall, other, at(day, "19:00"), at(day, "22:00"), title="Revy")

    received_nb, received_en = both(events("request_received")[0])
    assert received_nb.subject == "Forespørsel mottatt: Vårkonsert"
    assert "Vi har mottatt forespørselen fra Sandvika Kor." in received_nb.text
    assert "We have received the request from Sandvika Kor." in received_en.text
    assert received_nb.attachments == () and received_en.attachments == ()

    approved = client.post(f"/api/v1/bookings/{request['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200
    approval_nb, approval_en = both(last_event("booking_approved"))
    assert approval_nb.subject == "Forespørsel godkjent: Vårkonsert"
    assert "Forespørselen fra Sandvika Kor er godkjent, og bookingen er bekreftet." in approval_nb.text
    assert "The request from Sandvika Kor is approved, and the booking is confirmed." in approval_en.text
    (vevent,) = vevents(calendar(approval_nb, "PUBLISH"))
    feed_event = by_uid(org_feed_body(organization))[(f"booking-{request['id']}@booking.invalid", None)]
    assert str(vevent["SEQUENCE"]) == prop(feed_event, "SEQUENCE") == "1"
    assert str(vevent["STATUS"]) == "CONFIRMED"

    rejection = last_event("booking_rejected")
    assert rejection.params == {"booking_ids": [competitor["id"]], "series_id": None, "reason": "overruled"}
    rejected_nb, rejected_en = both(rejection)
    assert rejected_nb.subject == "Forespørsel ikke godkjent: Revy"
    assert "Forespørselen fra Bærum Teater ble ikke godkjent." in rejected_nb.text
    assert "Begrunnelse: Tiden ble gitt til en annen booking." in rejected_nb.text
    assert "Reason: The time was given to another booking." in rejected_en.text
    assert rejected_nb.attachments == ()


def test_a_rejection_in_the_administrators_words_and_for_a_closure(client, world, make):
    building, _, organization, member = world
    hall = make.room(building, name="Salen", kind="hall", requires_approval=True)
    admin = make.admin()
    day = weekday_from(14, 4)
    request = book(client, member, hall, organization, at(day, "18:00"), at(day, "21:00"))
    words = "Salen skal males <den uken>."
    answer = client.post(
        f"/api/v1/bookings/{request['id']}/reject", json={"reason": words}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.get_json()
    nb, en = both(last_event("booking_rejected"))
    assert f"Begrunnelse: {words}" in nb.text and f"Reason: {words}" in en.text
    assert "Salen skal males &lt;den uken&gt;." in nb.html

    closure_nb, closure_en = both(
        hand_made("booking_rejected", booking_ids=[request["id"]], series_id=None, reason="closure")
    )
    assert "Begrunnelse: Bygget er stengt den dagen." in closure_nb.text
    assert "Reason: The building is closed on that day." in closure_en.text
    silent = render(
        hand_made("booking_rejected", booking_ids=[request["id"]], series_id=None, reason=""), "en"
    )
    assert "Reason" not in silent.text


def test_a_moved_booking_tells_the_time_and_place_before_and_after(client, world, make):
    building, room, organization, member = world
    other_room = make.room(building, name="Lillesalen", kind="hall")
    day = weekday_from(20, 2)  # a Wednesday
    created = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"), title="Øving")
    new_day = day + timedelta(days=1)
    answer = client.patch(
        f"/api/v1/bookings/{created['id']}",
        headers=member.headers,
        json={
            "start": at(new_day, "19:00").isoformat(),
            "end": at(new_day, "21:00").isoformat(),
            "room_id": other_room.id,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    nb, en = both(last_event("booking_changed"))
    assert nb.subject == "Booking endret: Øving"
    assert f"Før endringen: onsdag {day.day}. " in nb.text
    assert "kl. 18:00–20:00, Storsalen, Kulturhuset" in nb.text
    assert f"Når: torsdag {new_day.day}. " in nb.text and "kl. 19:00–21:00" in nb.text
    assert "Hvor: Lillesalen, Kulturhuset" in nb.text
    assert "Before the change: Wednesday" in en.text and "When: Thursday" in en.text

    (vevent,) = vevents(calendar(nb, "PUBLISH"))
    feed_event = by_uid(org_feed_body(organization))[(f"booking-{created['id']}@booking.invalid", None)]
    assert str(vevent["SEQUENCE"]) == prop(feed_event, "SEQUENCE") != "0"
    assert vevent.decoded("DTSTART") == at(new_day, "19:00")
    assert "Lillesalen" in str(vevent["LOCATION"])


def test_a_cancellation_with_a_fee_and_one_by_the_municipality(client, world, make):
    _, room, organization, member = world
    admin = make.admin()
    soon = datetime.now(OSLO).date() + timedelta(days=3)
    created = book(client, member, room, organization, at(soon, "18:00"), at(soon, "20:00"), title="Konsert")
    feed_before = by_uid(org_feed_body(organization))[(f"booking-{created['id']}@booking.invalid", None)]
    cancelled = client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=member.headers)
    assert cancelled.status_code == 200, cancelled.get_json()
    event = last_event("booking_cancelled")
    assert event.params["by"] == "organization" and event.params["fee_ore"] > 0
    nb, en = both(event)
    assert nb.subject == "Booking avbestilt: Konsert"
    assert "Bookingen for Sandvika Kor er avbestilt." in nb.text
    assert f"Avbestillingsgebyr: {local_money(event.params['fee_ore'], 'nb')}." in nb.text
    assert f"Cancellation fee: {local_money(event.params['fee_ore'], 'en')}." in en.text

    (vevent,) = vevents(calendar(nb, "CANCEL"))
    booking = db.session.get(Booking, created["id"])
    assert str(vevent["UID"]) == prop(feed_before, "UID")
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert vevent["SEQUENCE"] == booking.sequence > int(prop(feed_before, "SEQUENCE"))
    assert str(vevent["ORGANIZER"]) == "mailto:booking@localhost"
    assert f"booking-{created['id']}@booking.invalid" not in org_feed_body(organization).decode()

    later = book(client, member, room, organization, at(soon, "21:00"), at(soon, "22:00"), title="Ekstra")
    answer = client.post(
        f"/api/v1/bookings/{later['id']}/cancel", json={"reason": "Vannlekkasje"}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.get_json()
    nb, en = both(last_event("booking_cancelled"))
    assert nb.subject == "Booking avlyst av kommunen: Ekstra"
    assert "Kommunen har avlyst bookingen for Sandvika Kor." in nb.text
    assert "Begrunnelse: Vannlekkasje" in nb.text
    assert "Kommunen avlyste bookingen, så det koster dere ingenting." in nb.text
    assert en.subject == "Booking cancelled by the municipality: Ekstra"
    assert "The municipality cancelled the booking, so there is no fee." in en.text
    assert [str(v["STATUS"]) for v in vevents(calendar(en, "CANCEL"))] == ["CANCELLED"]


def test_reason_codes_of_a_cancellation_are_translated(client, world):
    _, room, organization, member = world
    day = weekday_from(20, 0)
    created = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=member.headers)
    expected = {
        "override": (
            "Kommunen trengte lokalet til en annen booking.",
            "The municipality needed the room for another booking.",
        ),
        "closure": ("Bygget er stengt den dagen.", "The building is closed on that day."),
    }
    for code, (bokmal, english) in expected.items():
        event = hand_made(
            "booking_cancelled",
            booking_ids=[created["id"]],
            series_id=None,
            by="municipality",
            reason=code,
            fee_ore=0,
        )
        nb, en = both(event)
        assert bokmal in nb.text and english in en.text
        assert code not in nb.text.replace("http://", "")


def test_cancelled_occurrences_and_then_the_whole_series(client, world):
    _, room, organization, member = world
    day = weekday_from(20, 1)
    series = book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        title="Korøvelse",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    occurrences = series["occurrences"]
    uid = f"series-{series['id']}@booking.invalid"
    second = occurrences[1]
    client.post(f"/api/v1/bookings/{second['id']}/cancel", json={}, headers=member.headers)
    event = last_event("booking_cancelled")
    assert event.params["series_id"] == series["id"] and event.params["booking_ids"] == [second["id"]]
    nb, en = both(event)
    second_day = day + timedelta(weeks=1)
    assert f"Når: tirsdag {second_day.day}. " in nb.text
    (vevent,) = vevents(calendar(nb, "CANCEL"))
    feed_master = by_uid(org_feed_body(organization))[(uid, None)]
    assert str(vevent["UID"]) == uid
    assert vevent.decoded("RECURRENCE-ID") == at(second_day, "18:00")
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert str(vevent["SEQUENCE"]) == prop(feed_master, "SEQUENCE")
    assert "RRULE" not in vevent

    answer = client.post(f"/api/v1/series/{series['id']}/cancel", json={}, headers=member.headers)
    assert answer.status_code == 200, answer.get_json()
    event = last_event("booking_cancelled")
    assert len(event.params["booking_ids"]) == 3
    nb, en = both(event)
    assert "Datoer:" in nb.text and nb.text.count("\n- tirsdag ") == 3
    assert "Dates:" in en.text and en.text.count("\n- Tuesday ") == 3
    (master,) = vevents(calendar(en, "CANCEL"))
    series_row = db.session.get(Series, series["id"])
    expected = series_row.sequence + sum(b.sequence for b in series_row.occurrences)
    assert str(master["UID"]) == uid and "RRULE" in master and "RECURRENCE-ID" not in master
    assert str(master["STATUS"]) == "CANCELLED" and master["SEQUENCE"] == expected
    assert uid not in org_feed_body(organization).decode()


def test_a_publish_calendar_is_left_out_once_the_booking_is_cancelled(client, world):
    _, room, organization, member = world
    day = weekday_from(20, 2)
    created = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    confirmed = last_event("booking_confirmed")
    client.post(f"/api/v1/bookings/{created['id']}/cancel", json={}, headers=member.headers)
    # The cancellation mail (with METHOD:CANCEL) follows; a late confirmation must not re-add it.
    assert render(confirmed, "nb").attachments == ()


def test_the_sender_address_is_the_organizer(app_ctx, client, world):
    _, room, organization, member = world
    day = weekday_from(20, 2)
    book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    app_ctx.config["BOOKING_MAIL_FROM"] = "Kommunen <booking@kommune.example>"
    try:
        content = render(last_event("booking_confirmed"), "en")
    finally:
        app_ctx.config["BOOKING_MAIL_FROM"] = "booking@localhost"
    (vevent,) = vevents(calendar(content, "PUBLISH"))
    assert str(vevent["ORGANIZER"]) == "mailto:booking@kommune.example"


def test_rendering_a_series_costs_the_same_queries_however_long_it_is(app, client, world):
    _, room, organization, member = world
    costs = []
    for weeks, start in ((2, weekday_from(9, 1)), (12, weekday_from(9, 3))):
        book(
            client,
            member,
            room,
            organization,
            at(start, "18:00"),
            at(start, "20:00"),
            recurrence={"rrule": f"FREQ=WEEKLY;COUNT={weeks}"},
        )
        event = last_event("booking_confirmed")
        message = OutboxMessage(
            event=event, recipient="r@example.test", language="nb", message_id=f"<q{weeks}>"
        )
        db.session.add(message)
        db.session.flush()
        statements, stop = count_statements(app)
        try:
            render_content(event, message)
        finally:
            stop()
        costs.append(len(statements))
    assert costs[0] == costs[1] <= 10, costs


# --- organisations and accounts ----------------------------------------------------------------


def test_an_organisation_verified_with_its_category(make):
    organization = make.organization(verified=False, name="Hauger IL")
    from booking.services.organizations import update_organization

    update_organization(ADMIN, organization.id, {"verified": True, "price_category": "reduced"})
    db.session.flush()
    nb, en = both(last_event("organization_verified"))
    assert nb.subject == "Hauger IL er verifisert"
    assert "Kommunen har verifisert Hauger IL." in nb.text
    assert "Priskategori: redusert pris" in nb.text and "redusert timeleie" in nb.text
    assert en.subject == "Hauger IL is verified"
    assert "Price category: reduced price" in en.text and "reduced hourly rent" in en.text
    assert "http://booking.test/my" in nb.text and 'href="http://booking.test/my"' in en.html
    assert_document(en, "en")


@pytest.mark.parametrize(
    ("kind", "purpose", "nb_words", "en_words"),
    [
        ("email_confirmation", "confirm", "Lenken gjelder i 48 timer.", "The link is valid for 48 hours."),
        ("password_reset", "reset", "Lenken gjelder i 1 time.", "The link is valid for 1 hour."),
    ],
)
def test_account_mails_carry_their_link_and_how_long_it_is_valid(make, kind, purpose, nb_words, en_words):
    user = make.user(name="Ola Nordmann").user
    event = hand_made(kind, user_id=user.id)
    nb, en = both(event)
    link = mail_link(user, purpose, event.created_at)
    for content in (nb, en):
        assert link in content.text
        assert f'href="{link.replace("&", "&amp;")}"' in content.html
        assert content.attachments == ()
    assert nb_words in nb.text and en_words in en.text
    assert "Hvis det ikke var du som ba om dette, kan du se bort fra denne e-posten." in nb.text
    assert "If you did not ask for this, ignore this e-mail." in en.text


# --- the janitors' day sheet -------------------------------------------------------------------


def test_the_day_sheet_lists_the_day_for_the_janitor(client, world, make):
    building, room, organization, member = world
    janitor = make.janitor(building)
    day = weekday_from(5, 5)  # a Saturday: not staffed, so supervision is needed
    book(
        client,
        member,
        room,
        organization,
        at(day, "18:00"),
        at(day, "20:00"),
        title="Konsert",
        notes="Flygel",
    )
    event = hand_made("day_sheet", building_id=building.id, date=day.isoformat())
    message = OutboxMessage(
        event=event,
        recipient=janitor.user.email,
        user_id=janitor.user.id,
        language="nb",
        message_id="<sheet>",
    )
    db.session.add(message)
    db.session.flush()
    nb = render_content(event, message)
    en = render(event, "en")
    assert nb.subject == f"Dagsliste Kulturhuset, lørdag {day.day}. " + nb.subject.split(". ", 1)[1]
    assert "Storsalen: Låses opp 18:00" in nb.text
    assert "- 18:00–20:00 Sandvika Kor: Konsert" in nb.text and "Kontaktperson: Kari Kontakt" in nb.text
    assert "Tilsyn trengs 18:00–20:00." in nb.text and "Merknad: Flygel" in nb.text
    assert "<table" in nb.html and "Sandvika Kor" in nb.html
    assert f"http://booking.test/janitor/{building.id}?date={day.isoformat()}" in nb.text
    assert en.subject.startswith(f"Day sheet Kulturhuset, Saturday {day.day} ")
    assert "Storsalen: Unlock 18:00" in en.text and "Supervision needed 18:00–20:00." in en.text

    empty = render(
        hand_made("day_sheet", building_id=building.id, date=(day + timedelta(days=1)).isoformat()), "en"
    )
    assert "No bookings this day." in empty.text


# --- what is gone ------------------------------------------------------------------------------


def test_events_about_rows_that_are_gone_raise_gone(make):
    for kind, params in [
        ("booking_confirmed", {"booking_ids": [987654], "series_id": None}),
        (
            "booking_cancelled",
            {"booking_ids": [987654], "series_id": None, "by": "organization", "fee_ore": 0},
        ),
        ("organization_verified", {"organization_id": 987654, "category": "free"}),
        ("email_confirmation", {"user_id": 987654}),
        ("password_reset", {}),
        ("day_sheet", {"building_id": 987654, "date": "2026-12-08"}),
    ]:
        with pytest.raises(Gone):
            render(hand_made(kind, **params), "nb")


# --- the catalogue -----------------------------------------------------------------------------


def test_every_mail_text_has_a_bokmal_translation():
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    keywords = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None)
    method_map = [
        ("booking/mail/**.py", "python"),
        ("booking/templates/mail/**.html", "jinja2"),
        ("booking/templates/mail/**.txt", "jinja2"),
    ]
    used = {message[2] for message in extract_from_dir(root, method_map, keywords=keywords)}
    with (root / "booking/translations/nb/LC_MESSAGES/messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {
        m.id for m in catalogue if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    assert used and not used - translated, sorted(map(str, used - translated))
