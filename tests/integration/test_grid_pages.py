"""The room page's week grid (issue 15): free hours choose a time in the form, the week follows
the form's date, the user's own bookings read as theirs; the public feed links of rooms and
buildings and the building page; the search card's price itemised as rent + supervision."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest

from booking.extensions import db
from booking.web import grid
from pricing.weekly import OSLO, parse_windows
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text, today

TUESDAY = 1


@pytest.fixture
def world(make):
    building = make.building(name="Bekkestua kulturhus", address="Gamle Ringeriksvei 40")
    room = make.room(building, name="Øvingsrom 1", kind="meeting_room", capacity=20)
    organization = make.organization(name="Stabekk Strykeorkester")
    member = make.member(organization)
    return building, room, organization, member


def picks(page) -> set[tuple[str, str]]:
    """The (date, start) of every free hour the page lets one choose."""
    html = page.get_data(as_text=True)
    return set(re.findall(r'class="pick" href="[^"]*"\s+data-date="([\d-]+)" data-start="([\d:]+)"', html))


def test_a_free_hour_links_to_the_form_with_its_date_and_time_and_busy_hours_do_not(client, make, world):
    _, room, organization, member = world
    day = clear_weekday(TUESDAY)
    api_book(client, member, room, organization, day, "18:00", "20:00")
    page = client.get(f"/rooms/{room.id}?week={day}")
    assert page.status_code == 200
    chosen = picks(page)
    assert (day.isoformat(), "17:00") in chosen and (day.isoformat(), "21:00") in chosen
    assert (day.isoformat(), "18:00") not in chosen and (day.isoformat(), "19:00") not in chosen
    assert len({d for d, _ in chosen}) == 7, "every day of the week has free hours"
    html = page.get_data(as_text=True)
    assert f'href="/rooms/{room.id}?date={day.isoformat()}&amp;start=17:00#book"' in html
    # The link opens the form filled in with that date and time (no JavaScript needed).
    log_in(client, member.user)
    form = client.get(f"/rooms/{room.id}?date={day.isoformat()}&start=17:00").get_data(as_text=True)
    assert f'name="date" value="{day.isoformat()}"' in form and 'name="start" value="17:00"' in form


def test_past_hours_are_not_choosable(client, world):
    _, room, _, _ = world
    last_week = today() - timedelta(days=7)
    assert picks(client.get(f"/rooms/{room.id}?week={last_week}")) == set()
    now = datetime.now(OSLO)
    for day, start in picks(client.get(f"/rooms/{room.id}")):
        assert datetime.combine(datetime.fromisoformat(day).date(), time.fromisoformat(start), OSLO) >= now


def test_build_week_marks_past_busy_own_and_the_first_free_quarter():
    monday = datetime(2030, 3, 4).date()
    opening = parse_windows([{"day": "mon", "start": "07:30", "end": "22:00"}])
    at = lambda hour, minute=0: datetime.combine(monday, time(hour, minute), OSLO)  # noqa: E731
    busy = [
        {
            "start": at(10),
            "end": at(11),
            "occupied_until": at(11, 15),
            "organization_name": "Korpset",
            "title": None,
        },
        {
            "start": at(14),
            "end": at(15),
            "occupied_until": at(15),
            "organization_name": "Oss",
            "own": "Øvelse",
        },
    ]
    week = grid.build_week(monday, opening, [], busy, now=at(8, 40))
    cells = {hour: row[0] for hour, row in zip(week.hours, week.rows, strict=True)}
    assert week.hours[0] == 7 and cells[7].state == "free" and cells[7].start is None, "past and half open"
    assert cells[8].start == at(8, 45), "the current hour from its next quarter"
    assert cells[9].choosable and cells[9].start == at(9)
    assert cells[10].state == "busy" and cells[10].labels == ["Korpset"] and not cells[10].choosable
    assert cells[11].state == "partly" and not cells[11].choosable
    assert cells[14].own == ["Øvelse"] and cells[14].labels == [] and week.has_own
    assert all(row[1].state == "closed" for row in week.rows), "Tuesday is not open"
    runs = dict(week.days_view())[monday]
    assert [(r.first, r.until, r.cell.state) for r in runs][:4] == [
        (7, 8, "free"),
        (8, 10, "free"),
        (10, 11, "busy"),
        (11, 12, "partly"),
    ]


def test_the_users_own_booking_reads_as_theirs_with_a_link_to_my_page(client, make, world):
    _, room, organization, member = world
    day = clear_weekday(TUESDAY)
    api_book(client, member, room, organization, day, "18:00", "20:00", title="Hemmelig prosjekt")
    log_in(client, member.user)
    mine = client.get(f"/rooms/{room.id}?week={day}")
    html = mine.get_data(as_text=True)
    assert 'href="/my" class="own-link">Din booking</a>: Hemmelig prosjekt' in html
    assert "cell-own" in html and "din booking" in text(mine), "in the legend too"
    grid_html = html[html.index('id="week"') : html.index('id="book"')]
    assert "Stabekk Strykeorkester" not in grid_html, "not as someone else's"
    other = make.member(make.organization(name="Haslum Husflidslag"))
    log_in(client, other.user)
    theirs = client.get(f"/rooms/{room.id}?week={day}").get_data(as_text=True)
    assert "Din booking" not in theirs and "Hemmelig prosjekt" not in theirs
    assert "Stabekk Strykeorkester" in theirs
    client.post("/logout", data={"csrf_token": "test-csrf-token"})
    assert "Din booking" not in client.get(f"/rooms/{room.id}?week={day}").get_data(as_text=True)


def test_the_week_follows_the_date_asked_and_the_date_sent_with_the_form(client, world):
    _, room, organization, member = world
    day = clear_weekday(TUESDAY, from_days=40)
    monday = day - timedelta(days=day.weekday())
    heading = f"Uken fra mandag {monday.day}."
    assert heading in text(client.get(f"/rooms/{room.id}?date={day}"))
    log_in(client, member.user)
    form = {
        "organization_id": str(organization.id),
        "title": "Øvelse",
        "date": day.isoformat(),
        "start": "18:00",
        "end": "20:00",
        "repeat": "once",
        "on_conflict": "skip",
        "action": "quote",
    }
    assert heading in text(post(client, f"/rooms/{room.id}", form))
    shown = post(client, f"/rooms/{room.id}", dict(form, title="", action="book"))
    assert shown.status_code == 422 and heading in text(shown), "an error keeps the form's week"


def test_the_week_fragment_for_javascript(client, world):
    _, room, organization, _ = world
    day = clear_weekday(TUESDAY, from_days=40)
    monday = day - timedelta(days=day.weekday())
    fragment = client.get(
        f"/rooms/{room.id}/week",
        query_string={
            "date": day.isoformat(),
            "start": "18:00",
            "end": "19:30",
            "organization_id": organization.id,
        },
    )
    assert fragment.status_code == 200 and fragment.mimetype == "text/html"
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and f'data-week="{monday.isoformat()}"' in html
    assert f"Uken fra mandag {monday.day}." in text(fragment)
    assert (
        f"date={day.isoformat()}&amp;start=18:00&amp;organization_id={organization.id}&amp;length=90#book"
        in html
    )
    assert client.get(f"/rooms/{room.id}/week?week={monday + timedelta(days=7)}").status_code == 200
    for nonsense in ("not-a-date", "99999-01-01", "0001-01-01", "9999-12-31", "", "\u0661\u0662"):
        answer = client.get(
            f"/rooms/{room.id}/week", query_string={"date": nonsense, "end": "x", "start": "25:00"}
        )
        assert answer.status_code == 200, nonsense
        this_monday = today() - timedelta(days=today().weekday())
        assert f'data-week="{this_monday.isoformat()}"' in answer.get_data(as_text=True)
    assert client.get("/rooms/999999/week").status_code == 404


def test_on_a_phone_the_week_is_also_a_list_day_by_day(client, world):
    _, room, _, _ = world
    day = clear_weekday(TUESDAY)
    html = client.get(f"/rooms/{room.id}?week={day}").get_data(as_text=True)
    days = html[
        html.index('<ol class="week-days">') : html.index("</ol>", html.index('<ol class="week-days">'))
    ]
    assert days.count("<h3>") == 7
    assert f'data-date="{day.isoformat()}" data-start="18:00"' in days


def test_room_and_building_pages_show_their_public_feed(client, make, world):
    building, room, _, _ = world
    make.room(building, name="Lageret", active=False)
    page = client.get(f"/rooms/{room.id}")
    html = page.get_data(as_text=True)
    feed = re.search(rf'class="feed-url"[^>]*>https?://([^"/<]+)/feeds/rooms/{room.id}\.ics</textarea>', html)
    assert feed, "the URL to copy"
    assert f'href="webcal://{feed.group(1)}/feeds/rooms/{room.id}.ics"' in html
    assert 'class="secondary copy-button" data-copy="room-feed"' in html and "js/copy.js" in html
    assert f'href="/buildings/{building.id}"' in html
    page = client.get(f"/buildings/{building.id}")
    assert page.status_code == 200
    html, body = page.get_data(as_text=True), text(page)
    feed = re.search(
        rf'class="feed-url"[^>]*>https?://([^"/<]+)/feeds/buildings/{building.id}\.ics</textarea>', html
    )
    assert feed and f'href="webcal://{feed.group(1)}/feeds/buildings/{building.id}.ics"' in html
    assert f'href="/rooms/{room.id}"' in html and "Øvingsrom 1" in body and "Lageret" not in body
    assert "Gamle Ringeriksvei 40" in body and "mandag 08:00–16:00" not in body
    assert "hele døgnet 08:00–16:00" in body, "open all day, staffed 08–16 on Monday"
    assert "The building’s calendar" in text(client.get(f"/buildings/{building.id}?lang=en"))
    assert client.get("/buildings/999999").status_code == 404
    assert client.get(f"/feeds/buildings/{building.id}.ics").status_code == 200


def test_the_building_page_shows_opening_hours_and_closures(client, make):
    closes = today() + timedelta(days=30)
    building = make.building(
        name="Hauger skole",
        opening_hours=parse_windows([{"day": "sat", "start": "10:00", "end": "00:00"}]),
        closures=[{"start_date": closes, "end_date": closes, "reason": "Maling"}],
    )
    body = text(client.get(f"/buildings/{building.id}"))
    assert "lørdag 10:00–24:00" in body and "mandag stengt" in body and "Maling" in body


def test_the_search_card_itemises_rent_and_supervision(client, world):
    building, room, _, _ = world
    day = clear_weekday(TUESDAY)
    evening = client.get(f"/?date={day}&start=18:00&length=120&for=cat-free")
    assert evening.status_code == 200
    body = text(evening)
    assert "Leie kr 0,00 + tilsyn kr 600,00 (2 × kr 300,00) = kr 600,00" in body
    assert f'href="/buildings/{building.id}"' in evening.get_data(as_text=True)
    full = text(client.get(f"/?date={day}&start=18:00&length=120&for=cat-full"))
    rent, total = re.search(
        r"Leie kr ([\d ,]+) \+ tilsyn kr 600,00 \(2 × kr 300,00\) = kr ([\d ,]+)", full
    ).groups()
    kroner = lambda amount: int(amount.replace(" ", "").replace(",", ""))  # noqa: E731
    assert kroner(rent) > 0 and kroner(rent) + 60000 == kroner(total)
    assert f"Pris kr {total}" in full, "the card's total is the itemised sum"
    daytime = text(client.get(f"/?date={day}&start=10:00&length=120&for=cat-free"))
    assert "Bare leie: ikke tilsyn på det tidspunktet" in daytime
    # The room page's rent table says the same: rent only, supervision on top.
    page = text(client.get(f"/rooms/{room.id}"))
    assert "Tilsyn kommer i tillegg der det trengs" in page and "kr 300,00 per time" in page
    db.session.rollback()
