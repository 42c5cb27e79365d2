"""Back-office pages for places (SPEC §15): buildings with opening and staffed hours and closures,
rooms with their facts, rules and parts, and price list versions. Every change goes through the
service (and so into the audit log); a wrong form comes back with its errors and what was typed
(422) and changes nothing; an edit of a building or room someone saved since is refused (409)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import AuditEntry, Booking, Building, PriceListVersion, Room
from pricing import CATEGORIES, DEFAULT_PRICE_LIST, PRICE_GROUPS
from tests.integration.live_http import call, csrf_of, page_login, running_servers
from tests.integration.test_rounds import _race
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text

EMPTY_HOURS = {
    f"{kind}_{day}": ""
    for kind in ("opening", "staffed")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


@pytest.fixture
def admin(client, make):
    login = make.admin()
    log_in(client, login.user)
    return login


def fingerprint(page) -> str:
    return re.search(r'name="fingerprint" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


def building_form(**values) -> dict:
    return {**EMPTY_HOURS, "name": "Kulturhuset", "address": "Storgata 1", **values}


def room_form(**values) -> dict:
    data = {
        "name": "Salen",
        "kind": "hall",
        "price_group": "",
        "supervision": "outside_staffed_hours",
        "capacity": "80",
        "equipment": "piano, projector",
        "description": "",
        "min_duration_minutes": "60",
        "max_duration_minutes": "240",
        "buffer_minutes": "15",
        "min_notice_hours": "24",
        "max_advance_days": "180",
        "requires_approval": "on",
        "active": "on",
    }
    data.update(values)
    return data


def audited(entity: str, entity_id, action: str) -> list[AuditEntry]:
    return list(
        db.session.execute(
            select(AuditEntry).where(
                AuditEntry.entity == entity,
                AuditEntry.entity_id == str(entity_id),
                AuditEntry.action == action,
            )
        ).scalars()
    )


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/buildings", "/admin/price-lists"])
def test_only_admins_see_the_pages(client, make, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["Location"]
    log_in(client, make.member().user)
    assert client.get(path).status_code == 403
    assert post(client, "/admin/buildings", building_form()).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Building)) == 0


def test_every_page_has_one_h1_unique_ids_a_label_for_every_field_and_csrf_tokens(client, admin, make):
    building = make.building(closures=[{"start_date": clear_weekday(1), "end_date": clear_weekday(1)}])
    room = make.room(building)
    paths = [
        "/admin/buildings",
        f"/admin/buildings/{building.id}",
        f"/admin/buildings/{building.id}/rooms",
        f"/admin/rooms/{room.id}",
        "/admin/price-lists",
    ]
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert html.count("<h1") == 1, path
        assert html.count('name="csrf_token"') == html.count('method="post"') > 1, path
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (path, sorted(i for i in ids if ids.count(i) > 1))
        labelled = set(re.findall(r'<label for="([^"]+)"', html))
        fields = re.findall(r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', html)
        assert fields and not set(fields) - labelled, (path, set(fields) - labelled)
        headings = [int(n) for n in re.findall(r"<h([1-6])", html)]
        assert all(b - a <= 1 for a, b in zip(headings, headings[1:], strict=False)), (path, headings)


def test_unknown_building_and_room_are_404_pages(client, admin):
    assert client.get("/admin/buildings/999999").status_code == 404
    assert client.get("/admin/rooms/999999").status_code == 404
    assert post(client, "/admin/buildings/999999", building_form()).status_code == 404
    assert post(client, "/admin/buildings/999999/closures", {}).status_code == 404


# --- buildings -----------------------------------------------------------------------------


def test_admin_creates_a_building_with_opening_and_staffed_hours(client, admin):
    form = building_form(
        opening_mon="08:00–12:00, 17:00-23:00", opening_sat="10.00-00:00", staffed_mon="8:00-16:00"
    )
    response = post(client, "/admin/buildings", form)
    assert response.status_code == 303
    building = db.session.execute(select(Building).where(Building.name == "Kulturhuset")).scalar_one()
    assert response.headers["Location"].endswith(f"/admin/buildings/{building.id}")
    assert building.opening_hours == [
        {"day": "mon", "start": "08:00", "end": "12:00"},
        {"day": "mon", "start": "17:00", "end": "23:00"},
        {"day": "sat", "start": "10:00", "end": "00:00"},
    ]
    assert building.staffed_hours == [{"day": "mon", "start": "08:00", "end": "16:00"}]
    [entry] = audited("buildings", building.id, "insert")
    assert entry.actor_user_id == admin.user.id and entry.origin == "POST /admin/buildings"

    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'value="08:00–12:00, 17:00–23:00"' in page.get_data(as_text=True)
    assert "Opprettet bygget Kulturhuset." in text(page)
    listed = text(client.get("/admin/buildings"))
    assert "Kulturhuset" in listed and "Storgata 1" in listed


def test_building_form_errors_keep_what_was_typed_and_create_nothing(client, admin, make):
    make.building(name="Rådhuset")
    cases = [
        ({"name": ""}, "name", "Fyll ut dette feltet."),
        ({"opening_tue": "8-16"}, "opening_tue", "Skriv tider som TT:MM–TT:MM"),
        ({"staffed_fri": "16:00-08:00"}, "staffed_fri", "16:00-08:00: slutten må være etter starten"),
        ({"opening_sun": "25:00-26:00"}, "opening_sun", "Skriv tider som TT:MM–TT:MM"),
        ({"address": "x" * 301}, "address", "Høyst 300 tegn."),
        ({"name": "Rådhuset"}, "name", "Det finnes allerede et bygg med dette navnet."),
    ]
    for values, field, message in cases:
        response = post(client, "/admin/buildings", building_form(**values))
        assert response.status_code == 422, values
        html = response.get_data(as_text=True)
        assert message in text(response), values
        assert f'id="{field}"' in html and 'aria-invalid="true"' in html
        for value in values.values():
            if len(value) < 100:
                assert f'value="{value}"' in html  # what was typed is shown again
    assert db.session.scalar(select(func.count()).select_from(Building)) == 1


def test_too_many_windows_are_refused_as_the_api_refuses_them(client, admin):
    many = ", ".join(f"{h:02d}:00-{h:02d}:30" for h in range(15))
    form = building_form(
        **{f"opening_{day}": many for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    response = post(client, "/admin/buildings", form)  # 105 windows; the API takes at most 100
    assert response.status_code == 422
    assert "Høyst 100 tidsvinduer i uka." in text(response)


def test_admin_edits_a_building_and_a_stale_form_is_refused(client, admin, make):
    building = make.building(name="Skolen")
    page = client.get(f"/admin/buildings/{building.id}")
    assert page.status_code == 200
    assert 'value="08:00–16:00"' in page.get_data(as_text=True)  # the factory's staffed hours
    old = fingerprint(page)

    saved = post(
        client,
        f"/admin/buildings/{building.id}",
        building_form(name="Nyskolen", opening_wed="18:00-22:00", fingerprint=old),
    )
    assert saved.status_code == 303
    db.session.expire_all()
    assert building.name == "Nyskolen" and building.staffed_hours == []
    assert building.opening_hours == [{"day": "wed", "start": "18:00", "end": "22:00"}]
    [entry] = audited("buildings", building.id, "update")
    assert entry.before["name"] == "Skolen" and entry.after["name"] == "Nyskolen"

    # A second form opened before that save: refused, with the saved version in view.
    stale = post(
        client, f"/admin/buildings/{building.id}", building_form(name="Gamleskolen", fingerprint=old)
    )
    assert stale.status_code == 409
    assert "Noen andre endret bygget etter at du åpnet skjemaet. Ingenting ble lagret." in text(stale)
    assert "Nyskolen" in text(stale) and 'value="Gamleskolen"' in stale.get_data(as_text=True)
    db.session.expire_all()
    assert building.name == "Nyskolen"
    # Saving again from that page (which now carries the current fingerprint) is a decision.
    again = post(
        client,
        f"/admin/buildings/{building.id}",
        building_form(name="Gamleskolen", fingerprint=fingerprint(stale)),
    )
    assert again.status_code == 303
    db.session.expire_all()
    assert building.name == "Gamleskolen"


def test_closing_a_building_cancels_its_bookings_and_reopening_keeps_them_cancelled(client, admin, make):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    day = clear_weekday(2)
    booked = api_book(client, member, room, organization, day, "18:00", "20:00")
    later = api_book(client, member, room, organization, day + timedelta(days=7), "18:00", "20:00")
    path = f"/admin/buildings/{room.building_id}/closures"

    added = post(
        client,
        path,
        {"closure_start": day.isoformat(), "closure_end": day.isoformat(), "closure_reason": "Vannlekkasje"},
    )
    assert added.status_code == 303
    db.session.expire_all()
    assert db.session.get(Booking, booked["id"]).status == "cancelled"
    assert db.session.get(Booking, later["id"]).status == "confirmed"
    page = client.get(f"/admin/buildings/{room.building_id}")
    assert "Vannlekkasje" in text(page) and "Bygget er stengt" in text(page)
    assert audited("building_closures", db.session.get(Building, room.building_id).closures[0].id, "insert")

    # A second closure keeps the first.
    assert (
        post(
            client,
            path,
            {
                "closure_start": (day + timedelta(days=30)).isoformat(),
                "closure_end": (day + timedelta(days=31)).isoformat(),
            },
        ).status_code
        == 303
    )
    db.session.expire_all()
    building = db.session.get(Building, room.building_id)
    assert [(c.start_date, c.reason) for c in building.closures] == [
        (day, "Vannlekkasje"),
        (day + timedelta(days=30), ""),
    ]

    key = f"{day.isoformat()}/{day.isoformat()}"
    assert post(client, f"{path}/remove", {"closure": key}).status_code == 303
    db.session.expire_all()
    building = db.session.get(Building, room.building_id)
    assert [c.start_date for c in building.closures] == [day + timedelta(days=30)]
    assert db.session.get(Booking, booked["id"]).status == "cancelled"
    # The same button on an older page: a message, nothing removed.
    again = post(client, f"{path}/remove", {"closure": key}, follow_redirects=True)
    assert "Den stengingen var fjernet allerede." in text(again)
    assert len(db.session.get(Building, room.building_id).closures) == 1


def test_closure_form_errors_are_shown_with_the_form(client, admin, make):
    building = make.building()
    path = f"/admin/buildings/{building.id}/closures"
    cases = [
        ({"closure_start": "", "closure_end": "2030-01-01"}, "Velg en dato."),
        (
            {"closure_start": "2030-02-01", "closure_end": "2030-01-01"},
            "Siste dag må være samme dag som eller etter første.",
        ),
        (
            {"closure_start": "1999-12-31", "closure_end": "2030-01-01"},
            "Velg en dato mellom år 2000 og 2100.",
        ),
        (
            {"closure_start": "2030-01-01", "closure_end": "2030-01-02", "closure_reason": "x" * 501},
            "Høyst 500 tegn.",
        ),
    ]
    for values, message in cases:
        response = post(client, path, values)
        assert response.status_code == 422, values
        assert message in text(response), values
        assert f'value="{values["closure_end"]}"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Building, building.id).closures == []


# --- rooms ---------------------------------------------------------------------------------


def test_admin_creates_rooms_and_a_divisible_room_of_them(client, admin, make):
    building = make.building()
    assert client.get(f"/admin/buildings/{building.id}/rooms").status_code == 200
    created = post(client, f"/admin/buildings/{building.id}/rooms", room_form(name="Halvdel A", kind="gym"))
    assert created.status_code == 303
    half_a = db.session.execute(select(Room).where(Room.name == "Halvdel A")).scalar_one()
    assert created.headers["Location"].endswith(f"/admin/rooms/{half_a.id}")
    assert (half_a.kind, half_a.price_group, half_a.capacity, half_a.equipment) == (
        "gym",
        "gym",
        80,
        ["piano", "projector"],
    )
    assert (half_a.min_duration_minutes, half_a.max_duration_minutes, half_a.buffer_minutes) == (60, 240, 15)
    assert (half_a.min_notice_hours, half_a.max_advance_days) == (24, 180)
    assert half_a.requires_approval and half_a.active and not half_a.accessible
    assert audited("rooms", half_a.id, "insert")[0].actor_user_id == admin.user.id
    half_b = make.room(building, name="Halvdel B")

    whole = post(
        client,
        f"/admin/buildings/{building.id}/rooms",
        {
            **room_form(name="Hele hallen", kind="sports_hall", price_group="gym"),
            "parts": [str(half_a.id), str(half_b.id)],
        },
    )
    assert whole.status_code == 303
    hall = db.session.execute(select(Room).where(Room.name == "Hele hallen")).scalar_one()
    assert hall.part_ids == [half_a.id, half_b.id] and hall.unit_ids == [half_a.id, half_b.id]
    assert hall.price_group == "gym"
    page = text(client.get(f"/admin/buildings/{building.id}"))
    assert "Hele hallen" in page and "Halvdel A, Halvdel B" in page
    # The divided room is no part on offer for a new room (parts must be plain rooms).
    new_page = client.get(f"/admin/buildings/{building.id}/rooms").get_data(as_text=True)
    assert f'value="{half_a.id}"' in new_page and f'value="{hall.id}"' not in new_page


def test_a_new_room_takes_the_apis_defaults_for_the_rules_left_empty(client, admin, make):
    building = make.building()
    form = {"name": "Lite rom", "kind": "classroom", "capacity": "12"}
    assert post(client, f"/admin/buildings/{building.id}/rooms", form).status_code == 303
    room = db.session.execute(select(Room).where(Room.name == "Lite rom")).scalar_one()
    assert (room.price_group, room.supervision, room.buffer_minutes) == (
        "classroom",
        "outside_staffed_hours",
        0,
    )
    assert (room.min_duration_minutes, room.max_duration_minutes) == (30, 720)
    assert (room.min_notice_hours, room.max_advance_days) == (0, 365)
    assert not room.active  # an unticked box is "no", as on the page
    refused = post(
        client,
        f"/admin/buildings/{building.id}/rooms",
        {**form, "name": "Kort", "max_duration_minutes": "20"},
    )
    assert refused.status_code == 422  # shorter than the default shortest (30)
    assert "Den lengste bookingen kan ikke være kortere enn den korteste." in text(refused)


def test_room_form_errors_keep_what_was_typed_and_create_nothing(client, admin, make):
    building = make.building()
    make.room(building, name="Finnes")
    other = make.room(name="Annet bygg")
    path = f"/admin/buildings/{building.id}/rooms"
    cases = [
        ({"name": ""}, "Fyll ut dette feltet."),
        ({"name": "Finnes"}, "Bygget har allerede et rom med dette navnet."),
        ({"capacity": "0"}, "Skriv et tall fra 1 til 100000."),
        ({"capacity": "mange"}, "Skriv et helt tall."),
        ({"min_duration_minutes": "300"}, "Den lengste bookingen kan ikke være kortere enn den korteste."),
        ({"buffer_minutes": "241"}, "Skriv et tall fra 0 til 240."),
        ({"equipment": "Piano!, ok"}, "Piano!: bruk a–z, 0–9, - og _"),
        ({"kind": "castle"}, "Velg hva slags rom det er."),
        ({"supervision": "sometimes"}, "Velg når rommet trenger tilsyn."),
        ({"price_group": "castle"}, "Velg en prisgruppe."),
        ({"parts": str(other.id)}, "Velg deler blant rommene som er listet opp."),
    ]
    for values, message in cases:
        response = post(client, path, room_form(**values))
        assert response.status_code == 422, values
        assert message in text(response), (
            values,
            re.findall(r"field-error[^<]*<", response.get_data(as_text=True)),
        )
    assert 'value="Piano!, ok"' in post(client, path, room_form(equipment="Piano!, ok")).get_data(
        as_text=True
    )
    assert (
        db.session.scalar(select(func.count()).select_from(Room).where(Room.building_id == building.id)) == 1
    )


def test_admin_edits_a_room_and_a_stale_form_is_refused(client, admin, make):
    room = make.room(name="Møterom 1", capacity=10)
    page = client.get(f"/admin/rooms/{room.id}")
    assert page.status_code == 200 and 'value="Møterom 1"' in page.get_data(as_text=True)
    old = fingerprint(page)
    form = room_form(
        name="Møterom 1", kind="meeting_room", price_group="meeting_room", capacity="12", active=""
    )
    saved = post(client, f"/admin/rooms/{room.id}", {**form, "fingerprint": old})
    assert saved.status_code == 303
    db.session.expire_all()
    assert room.capacity == 12 and not room.active and room.requires_approval
    [entry] = audited("rooms", room.id, "update")
    assert entry.before["capacity"] == 10 and entry.after["capacity"] == 12

    stale = post(client, f"/admin/rooms/{room.id}", {**form, "capacity": "99", "fingerprint": old})
    assert stale.status_code == 409
    assert "Noen andre endret rommet etter at du åpnet skjemaet. Ingenting ble lagret." in text(stale)
    assert 'value="99"' in stale.get_data(as_text=True)
    db.session.expire_all()
    assert room.capacity == 12


def test_a_part_of_a_divided_room_cannot_be_divided_itself(client, admin, make):
    building = make.building()
    half_a, half_b, spare = (make.room(building, name=n) for n in ("A", "B", "C"))
    make.room(building, name="AB", part_ids=[half_a.id, half_b.id])
    page = client.get(f"/admin/rooms/{half_a.id}")
    form = room_form(name="A", kind="meeting_room", price_group="meeting_room", fingerprint=fingerprint(page))
    refused = post(client, f"/admin/rooms/{half_a.id}", {**form, "parts": [str(spare.id)]})
    assert refused.status_code == 422
    assert "Ikke godtatt: This room is a part of another room and cannot be divided." in text(refused)
    db.session.expire_all()
    assert db.session.get(Room, half_a.id).part_ids == []


def test_new_parts_that_would_double_book_are_refused_with_the_bookings_named(client, admin, make):
    building = make.building()
    half_a, half_b, other = (make.room(building, name=n) for n in ("A", "B", "C"))
    hall = make.room(building, name="AB", part_ids=[half_a.id, half_b.id])
    organization = make.organization()
    member = make.member(organization)
    day = clear_weekday(3)
    api_book(client, member, hall, organization, day, "18:00", "20:00")
    api_book(client, member, other, organization, day, "19:00", "21:00")
    page = client.get(f"/admin/rooms/{hall.id}")
    form = room_form(
        name="AB", kind="meeting_room", price_group="meeting_room", fingerprint=fingerprint(page)
    )
    refused = post(client, f"/admin/rooms/{hall.id}", {**form, "parts": [str(half_a.id), str(other.id)]})
    assert refused.status_code == 409
    assert "1 booking av rommet ville overlappe andre bookinger på de nye delene" in text(refused)
    assert "18:00–20:00" in text(refused)
    db.session.expire_all()
    assert db.session.get(Room, hall.id).part_ids == [half_a.id, half_b.id]


# --- price lists ---------------------------------------------------------------------------


def price_form(**values) -> dict:
    data = {
        f"rate_{group}_{category}": "100"
        for group in PRICE_GROUPS
        for category in CATEGORIES
        if category != "free"
    }
    data.update(
        version="2031-1",
        valid_from="2031-01-01",
        supervision_weekday_ore="300",
        supervision_weekend_ore="450,50",
        weekend_surcharge_percent="50",
        supervision_minimum_hours="2",
    )
    data.update(values)
    return data


def test_admin_sees_the_versions_and_adds_one_in_kroner(client, admin):
    page = client.get("/admin/price-lists")
    assert page.status_code == 200
    assert f"Versjon {DEFAULT_PRICE_LIST.version}" in text(page) and "gjelder i dag" in text(page)
    html = page.get_data(as_text=True)
    rate = DEFAULT_PRICE_LIST.hourly_rates_ore["hall"]["full"]
    assert f'name="rate_hall_full" value="{rate // 100}' in html  # the form starts from the newest rates

    added = post(client, "/admin/price-lists", price_form(rate_hall_full="1250,5"))
    assert added.status_code == 303
    row = db.session.execute(
        select(PriceListVersion).where(PriceListVersion.version == "2031-1")
    ).scalar_one()
    assert row.data["hourly_rates_ore"]["hall"] == {"free": 0, "reduced": 10_000, "full": 125_050}
    assert row.data["supervision_weekend_ore"] == 45_050
    assert audited("price_lists", row.id, "insert")[0].actor_user_id == admin.user.id
    assert "Versjon 2031-1" in text(client.get("/admin/price-lists"))


def test_supervision_left_empty_takes_the_apis_defaults(client, admin):
    form = price_form(supervision_weekday_ore="", supervision_weekend_ore="", weekend_surcharge_percent="")
    assert post(client, "/admin/price-lists", form).status_code == 303
    row = db.session.execute(
        select(PriceListVersion).where(PriceListVersion.version == "2031-1")
    ).scalar_one()
    assert (row.data["supervision_weekday_ore"], row.data["supervision_weekend_ore"]) == (30_000, 45_000)
    assert row.data["weekend_surcharge_percent"] == 50 and row.data["supervision_minimum_hours"] == 2


def test_price_list_form_errors(client, admin):
    assert post(client, "/admin/price-lists", price_form()).status_code == 303
    cases = [
        (
            {"version": "2031-1", "valid_from": "2032-01-01"},
            "Det finnes allerede en versjon med dette navnet eller denne første dagen.",
        ),
        ({"version": "", "valid_from": "2033-01-01"}, "Fyll ut dette feltet."),
        ({"version": "x", "valid_from": "2033-01-01", "rate_gym_full": "-5"}, "Skriv et beløp i kroner"),
        ({"version": "x", "valid_from": "2033-01-01", "rate_gym_full": "1,005"}, "Skriv et beløp i kroner"),
        ({"version": "x", "valid_from": "2033-01-01", "rate_gym_full": "1000001"}, "Høyst 1000000 kroner."),
        ({"version": "x", "valid_from": "2033-01-01", "weekend_surcharge_percent": "1001"}, "fra 0 til 1000"),
        ({"version": "x", "valid_from": ""}, "Velg en dato."),
    ]
    for values, message in cases:
        response = post(client, "/admin/price-lists", price_form(**values))
        assert response.status_code == 422, values
        assert message in text(response), (values, text(response)[:1500])
    assert db.session.scalar(select(func.count()).select_from(PriceListVersion)) == 2


# --- races ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_races_through_two_servers_settle_in_the_database(client, make, database_url):
    """Six saves of one building form at once (the same fingerprint): exactly one is saved, the
    others are told someone else changed it. Six closures added at once: all six are kept (each
    add reads the closures under the building's lock, so none overwrites another's)."""
    admin = make.admin()
    building = make.building(name="Samfunnshuset")
    with running_servers(database_url) as urls:
        cookie = page_login(urls[0], admin.user.email, "correct horse battery")
        page = call(urls[0], "GET", f"/admin/buildings/{building.id}", cookie=cookie)
        token, old = csrf_of(page), re.search(r'name="fingerprint" value="([0-9a-f]+)"', page.body).group(1)
        saves = [
            lambda i=i: call(
                urls[i % 2],
                "POST",
                f"/admin/buildings/{building.id}",
                cookie=cookie,
                form=building_form(name=f"Samfunnshuset {i}", fingerprint=old, csrf_token=token),
            )
            for i in range(6)
        ]
        answers = _race(saves)
        assert sorted(a.status for a in answers) == [303, 409, 409, 409, 409, 409], [
            a.status for a in answers
        ]
        day = clear_weekday(0, from_days=60)
        adds = [
            lambda i=i: call(
                urls[i % 2],
                "POST",
                f"/admin/buildings/{building.id}/closures",
                cookie=cookie,
                form={
                    "closure_start": (day + timedelta(days=i)).isoformat(),
                    "closure_end": (day + timedelta(days=i)).isoformat(),
                    "csrf_token": token,
                },
            )
            for i in range(6)
        ]
        assert [a.status for a in _race(adds)] == [303] * 6
    db.session.commit()  # SQLite: leave the snapshot from before the servers wrote
    db.session.expire_all()
    saved = db.session.get(Building, building.id)
    winner = next(i for i, a in enumerate(answers) if a.status == 303)
    assert saved.name == f"Samfunnshuset {winner}"
    assert sorted(c.start_date for c in saved.closures) == [day + timedelta(days=i) for i in range(6)]
