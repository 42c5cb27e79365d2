"""The janitor's pages (SPEC §6, §9; issue 15): the date picker and the print button of the day
sheet, the day's bookings per building on the list of buildings, all buildings' sheets on one
page (who may see which), and the janitor's private calendar link made and renewed from the page."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from html import unescape

import pytest

from booking.services.auth import actor_for
from booking.services.schedule import day_counts
from pricing.weekly import OSLO
from tests.integration.test_query_counts import statements
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text, today, with_csrf

TUESDAY = 1


@pytest.fixture
def town(client, make):
    """A janitor of two buildings with bookings on a Tuesday (one confirmed at Hauger, three at
    Bekkestua besides a pending request and a cancelled booking), and a third building, not
    theirs, with a booking the same evening."""
    day = clear_weekday(TUESDAY)
    bekkestua = make.building(name="Bekkestua kulturhus")
    hauger = make.building(name="Hauger skole")
    elsewhere = make.building(name="Rykkinn bydelshus")
    hall = make.room(bekkestua, name="Storsalen", capacity=100)
    music = make.room(bekkestua, name="Musikkrommet", capacity=30)
    gallery = make.room(bekkestua, name="Galleriet", requires_approval=True)
    gym = make.room(hauger, name="Gymsal A", kind="gym", capacity=60)
    lounge = make.room(elsewhere, name="Peisestua")
    choir = make.organization(name="Bekkestua Kammerkor")
    chess = make.organization(name="Sandvika Sjakklubb")
    singer, player = make.member(choir), make.member(chess)
    api_book(client, singer, hall, choir, day, "17:30", "19:00", title="Konsertøving")
    api_book(client, singer, music, choir, day, "19:00", "21:00", title="Stemmeprøve")
    api_book(client, player, hall, chess, day, "10:15", "12:00", title="Seniorsjakk")
    api_book(client, player, gallery, chess, day, "08:00", "09:00", title="Forespørsel")  # pending
    cancelled = api_book(client, player, music, chess, day, "07:00", "08:00", title="Avlyst")
    assert (
        client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", headers=player.headers).status_code == 200
    )
    api_book(client, player, gym, chess, day, "18:00", "20:00", title="Turnering")
    api_book(client, player, lounge, chess, day, "18:00", "20:00", title="Hemmelig møte")
    return {
        "day": day,
        "bekkestua": bekkestua,
        "hauger": hauger,
        "elsewhere": elsewhere,
        "hall": hall,
        "singer": singer,
        "janitor": make.janitor(bekkestua, hauger),
    }


def _sections(html: str) -> dict[str, str]:
    """The text of each building's section of the all-buildings page, by the building's name."""
    parts = re.split(r'<section class="sheet-building"', html)[1:]
    found = {}
    for part in parts:
        name = re.search(r'<h2 id="building-\d+"><a [^>]*>([^<]+)</a>', part).group(1)
        found[unescape(name)] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", part))
    return found


def _static(client, path: str) -> str:
    response = client.get(path)
    try:
        assert response.status_code == 200, path
        return response.get_data(as_text=True)
    finally:
        response.close()


# --- the day sheet: date picker, print button ---------------------------------------------------


def test_the_day_sheet_has_a_date_picker_that_works_without_javascript(client, town):
    day, building = town["day"], town["bekkestua"]
    log_in(client, town["janitor"].user)
    html = client.get(f"/janitor/{building.id}?date={day}").get_data(as_text=True)
    form = re.search(r'<form method="get" action="([^"]+)" class="day-picker">(.*?)</form>', html, re.S)
    assert form and form.group(1) == f"/janitor/{building.id}"
    assert f'<input type="date" id="sheet-date" name="date" value="{day}"' in form.group(2)
    assert '<label for="sheet-date">Dato</label>' in form.group(2)
    # What the form sends is the sheet of that day; the neighbours are a click away.
    other = day + timedelta(days=7)
    page = client.get(form.group(1), query_string={"date": other.isoformat()})
    assert page.status_code == 200
    assert f'value="{other}"' in page.get_data(as_text=True) and "Konsertøving" not in text(page)
    assert f"/janitor/{building.id}?date={day - timedelta(days=1)}" in html
    assert f"/janitor/{building.id}?date={day + timedelta(days=1)}" in html
    assert "Konsertøving" in text(client.get(f"/janitor/{building.id}?date={day}"))


def test_the_print_button_waits_for_javascript_and_is_not_printed(client, town, app):
    log_in(client, town["janitor"].user)
    html = client.get(f"/janitor/{town['bekkestua'].id}?date={town['day']}").get_data(as_text=True)
    button = re.search(r"<button [^>]*data-print[^>]*>([^<]+)</button>", html)
    assert button and button.group(1) == "Skriv ut"
    assert "hidden" in button.group(0) and 'type="button"' in button.group(0)
    assert "js/janitor.js" in html
    script = _static(client, "/static/js/janitor.js")
    assert "window.print()" in script and "hidden = false" in script
    printed = _static(client, "/static/css/print.css")
    hidden_in_print = printed.split("{ display: none !important; }")[0]
    for selector in (".sheet-tools", ".print-button", ".janitor-feed", "form"):
        assert selector in hidden_in_print


@pytest.mark.parametrize(
    "given, message",
    [
        ("31-12-2026", "«31-12-2026» er ikke en dato (ÅÅÅÅ-MM-DD); viser i dag."),
        ("0001-01-01", "Velg en dato fra 1900-01-01 til 2999-12-31; viser i dag."),
        ("9999-12-31", "Velg en dato fra 1900-01-01 til 2999-12-31; viser i dag."),
    ],
)
def test_a_date_the_sheet_cannot_show_is_explained(client, town, given, message):
    log_in(client, town["janitor"].user)
    for path in (f"/janitor/{town['bekkestua'].id}", "/janitor", "/janitor/all"):
        page = client.get(path, query_string={"date": given})
        assert page.status_code == 422, path
        assert message in text(page), path
        assert f'value="{today()}"' in page.get_data(as_text=True), path


def test_the_pages_speak_english_too(client, town):
    log_in(client, town["janitor"].user)
    page = text(client.get(f"/janitor/all?date={town['day']}&lang=en"))
    assert "All my buildings" in page and "4 bookings · 2 buildings" in page and "Print" in page
    index = text(client.get(f"/janitor?date={town['day']}"))
    assert "3 bookings · first at 10:15" in index and "Make a calendar link" in index


# --- the list of buildings: the day's bookings ----------------------------------------------------


def test_the_list_of_buildings_counts_the_days_bookings(client, town):
    day = town["day"]
    log_in(client, town["janitor"].user)
    page = client.get(f"/janitor?date={day}")
    assert page.status_code == 200
    rows = re.findall(
        r'<a href="([^"]+)">([^<]+)</a>\s*<span class="muted">[^<]*</span>\s*'
        r'<span class="day-count[^"]*">([^<]+)</span>',
        page.get_data(as_text=True),
    )
    listed = {name: (href, re.sub(r"\s+", " ", count).strip()) for href, name, count in rows}
    # Confirmed bookings only (not the request, not the cancelled one); the first one's start.
    assert listed["Bekkestua kulturhus"][1] == "3 bookinger · første kl. 10:15"
    assert listed["Hauger skole"][1] == "1 booking · første kl. 18:00"
    assert "Rykkinn bydelshus" not in listed
    assert listed["Hauger skole"][0] == f"/janitor/{town['hauger'].id}?date={day}"
    # Another day: nothing there.
    quiet = text(client.get(f"/janitor?date={day + timedelta(days=1)}"))
    assert quiet.count("Ingen bookinger") == 2


def test_the_list_of_today_links_the_sheets_without_a_date(client, town):
    log_in(client, town["janitor"].user)
    html = client.get("/janitor").get_data(as_text=True)
    assert f'href="/janitor/{town["hauger"].id}"' in html and f'value="{today()}"' in html


def test_a_janitor_of_one_building_goes_to_its_sheet_of_the_chosen_day(client, make, town):
    log_in(client, make.janitor(town["hauger"]).user)
    day = town["day"]
    assert (
        client.get(f"/janitor?date={day}").headers["Location"] == f"/janitor/{town['hauger'].id}?date={day}"
    )
    assert client.get("/janitor").headers["Location"] == f"/janitor/{town['hauger'].id}"


def test_day_counts_follow_the_day_schedule_across_midnight(client, make):
    """A booking from 22:00 to 02:00 counts on both days, from midnight on the second."""
    building = make.building()
    room = make.room(building, max_duration_minutes=720)
    organization = make.organization()
    member = make.member(organization)
    day = clear_weekday(TUESDAY)
    night = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Nattøving",
        "start": f"{day}T22:00",
        "end": f"{day + timedelta(days=1)}T02:00",
    }
    assert client.post("/api/v1/bookings", json=night, headers=member.headers).status_code == 201
    janitor = actor_for(make.janitor(building).user)
    first, second = (
        day_counts(janitor, [building.id], d)[building.id] for d in (day, day + timedelta(days=1))
    )
    assert (first.bookings, first.first_start) == (1, datetime.combine(day, time(22), OSLO))
    assert (second.bookings, second.first_start) == (
        1,
        datetime.combine(day + timedelta(days=1), time(0), OSLO),
    )
    other = actor_for(make.janitor(make.building()).user)
    assert day_counts(other, [building.id], day) == {}


# --- all buildings on one page --------------------------------------------------------------------


def test_a_janitor_sees_all_their_buildings_on_one_page_and_nothing_else(client, town):
    day = town["day"]
    log_in(client, town["janitor"].user)
    page = client.get(f"/janitor/all?date={day}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sections = _sections(html)
    assert list(sections) == ["Bekkestua kulturhus", "Hauger skole"]
    assert (
        "Seniorsjakk" in sections["Bekkestua kulturhus"] and "Konsertøving" in sections["Bekkestua kulturhus"]
    )
    assert "Turnering" in sections["Hauger skole"] and "Konsertøving" not in sections["Hauger skole"]
    assert "Hemmelig møte" not in text(page) and "Forespørsel" not in text(page)
    assert "4 bookinger · 2 bygg" in text(page)
    # Room headings one level under the building's.
    assert re.search(r'<h3 id="room-\d+">Storsalen', html)
    assert f"/janitor/all?date={day + timedelta(days=1)}" in html
    assert 'class="day-picker"' in html and "data-print" in html


def test_an_admin_sees_every_building_and_members_and_strangers_do_not(client, make, town):
    day = town["day"]
    log_in(client, make.admin().user)
    admin_page = client.get(f"/janitor/all?date={day}")
    assert admin_page.status_code == 200
    assert list(_sections(admin_page.get_data(as_text=True))) == [
        "Bekkestua kulturhus",
        "Hauger skole",
        "Rykkinn bydelshus",
    ]
    assert "Hemmelig møte" in text(admin_page) and "Kalender" not in text(admin_page)
    log_in(client, town["singer"].user)
    assert client.get(f"/janitor/all?date={day}").status_code == 403
    anonymous = client.application.test_client()
    answer = anonymous.get(f"/janitor/all?date={day}")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login?next=")


def test_a_janitor_without_buildings_is_told_so(client, make):
    log_in(client, make.janitor().user)
    page = client.get("/janitor/all")
    assert page.status_code == 200 and "Du har ingen bygg tildelt." in text(page)


def test_all_buildings_page_sends_a_fixed_number_of_statements(client, make, town):
    day = town["day"]
    admin = make.admin()
    log_in(client, admin.user)
    path = f"/janitor/all?date={day}"
    client.get(path)
    with statements() as few:
        assert client.get(path).status_code == 200
    for n in range(3):
        building = make.building(name=f"Nytt bygg {n}")
        room = make.room(building)
        api_book(client, town["singer"], room, town["singer"].user.organizations[0], day, "12:00", "13:00")
    with statements() as many:
        assert client.get(path).status_code == 200
    assert len(few) == len(many), (len(few), len(many))


# --- the private calendar link --------------------------------------------------------------------


def _feed_url(html: str) -> str | None:
    found = re.search(r'id="janitor-feed-url" class="feed-url"[^>]*>([^<]+)</textarea>', html)
    return found and found.group(1)


def test_a_janitor_makes_and_renews_the_private_calendar_link_from_the_page(client, town):
    building, day = town["bekkestua"], town["day"]
    log_in(client, town["janitor"].user)
    before = client.get(f"/janitor/{building.id}?date={day}").get_data(as_text=True)
    assert _feed_url(before) is None and "Lag kalenderlenke" in before
    made = post(client, "/janitor/feed-token", {"back": str(building.id)})
    assert made.status_code == 303 and made.headers["Location"] == f"/janitor/{building.id}#calendar-feed"
    html = client.get(made.headers["Location"]).get_data(as_text=True)
    url = _feed_url(html)
    assert url and url.startswith("http://booking.test/feeds/janitor/") and url.endswith(".ics")
    assert f'href="webcal://{url.removeprefix("http://")}"' in html
    assert 'data-copy="janitor-feed-url"' in html and "js/copy.js" in html
    feed = client.get(url.removeprefix("http://booking.test"))
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert "Konsertøving" in feed.get_data(as_text=True)
    # Renewing it: the old link stops working, the new one works; the page shows the new one.
    renewed = post(client, "/janitor/feed-token", {"back": "all"})
    assert renewed.headers["Location"] == "/janitor/all#calendar-feed"
    new_url = _feed_url(client.get("/janitor/all").get_data(as_text=True))
    assert new_url and new_url != url
    assert client.get(url.removeprefix("http://booking.test")).status_code == 404
    assert client.get(new_url.removeprefix("http://booking.test")).status_code == 200
    assert _feed_url(client.get("/janitor").get_data(as_text=True)) == new_url


@pytest.mark.parametrize(
    "back", ["", "index", "999999", "https://evil.example/", "//evil.example", "²", "\uff12", "-1"]
)
def test_the_calendar_link_form_goes_back_to_the_janitors_own_pages_only(client, town, back):
    log_in(client, town["janitor"].user)
    answer = post(client, "/janitor/feed-token", {"back": back})
    assert answer.status_code == 303 and answer.headers["Location"] == "/janitor#calendar-feed"


def test_only_janitors_have_a_calendar_link(client, make, town):
    log_in(client, make.admin().user)
    assert post(client, "/janitor/feed-token").status_code == 403
    assert 'id="calendar-feed"' not in client.get(f"/janitor/{town['bekkestua'].id}").get_data(as_text=True)
    log_in(client, town["singer"].user)
    assert post(client, "/janitor/feed-token").status_code == 403
    anonymous = client.application.test_client()
    with_csrf(anonymous)
    answer = post(anonymous, "/janitor/feed-token", {"back": "all"})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login?next=")


def test_the_calendar_link_form_needs_the_csrf_token(client, town):
    log_in(client, town["janitor"].user)
    assert client.post("/janitor/feed-token", data={"back": "all"}).status_code == 400
    assert _feed_url(client.get("/janitor").get_data(as_text=True)) is None
