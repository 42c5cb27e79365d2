"""Seasonal rounds as pages (SPEC §9, §14): the public list and result, a member applying through
the form, the explanation of every wish in words after allocation, accepting an offer, and form
errors shown with the form (422)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.test_rounds import API, close_window, new_round, ok
from tests.integration.web_helpers import log_in, post, text


def publish(client, admin, round_) -> None:
    ok(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=admin.headers))
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))


def form(organization, small, large, **extra) -> dict:
    """Wish 1 in a room too small for the attendees, wish 2 in one that takes them."""
    data = {
        "organization_id": str(organization.id),
        "wish1_room": str(small.id),
        "wish1_weekday": "1",
        "wish1_start": "18:00",
        "wish1_end": "20:00",
        "wish2_room": str(large.id),
        "wish2_weekday": "2",
        "wish2_start": "17:00",
        "wish2_end": "19:00",
        "wish3_room": "",
        "attendees": "10",
        "description": "Korpsøving",
        "children_youth": "on",
    }
    data.update(extra)
    return data


def test_anyone_sees_the_rounds_and_a_published_result(client, make):
    admin, room = make.admin(), make.room(name="Storsalen")
    organization = make.organization(name="Korps A")
    member = make.member(organization)
    round_ = new_round(client, admin, [room], name="Høst")
    body = {
        "organization_id": organization.id,
        "attendees": 5,
        "wishes": [{"room_id": room.id, "weekday": 0, "start": "18:00", "end": "20:00"}],
    }
    ok(client.post(f"{API}/rounds/{round_['id']}/applications", json=body, headers=member.headers), 201)

    listed = client.get("/rounds")
    assert listed.status_code == 200
    assert "Høst" in text(listed) and "åpen for søknader" in text(listed)
    before = client.get(f"/rounds/{round_['id']}")
    assert before.status_code == 200 and "Korps A" not in text(before)
    assert "Søk om en fast ukentlig tid" not in text(before)  # anonymous: no form

    close_window(client, admin, round_)
    publish(client, admin, round_)
    page = text(client.get(f"/rounds/{round_['id']}"))
    seed = ok(client.get(f"{API}/rounds/{round_['id']}/result"))["seed"]
    assert "Storsalen" in page and "Korps A" in page and "mandag" in page.lower() and "18:00–20:00" in page
    assert seed and seed in page
    assert "Søknadene behandles i denne rekkefølgen" in page
    assert client.get("/rounds/999999").status_code == 404


def test_a_member_applies_sees_why_and_accepts_the_offer(client, make):
    admin = make.admin()
    building = make.building()
    small, large = make.room(building, name="Lite rom", capacity=4), make.room(building, name="Salen")
    organization = make.organization(name="Korps B")
    member = make.member(organization)
    round_ = new_round(client, admin, [small, large])
    log_in(client, member.user)

    page = client.get(f"/rounds/{round_['id']}")
    assert "Søk om en fast ukentlig tid" in text(page)
    sent = post(client, f"/rounds/{round_['id']}/applications", form(organization, small, large))
    assert sent.status_code == 303, text(sent)
    mine = text(client.get(f"/rounds/{round_['id']}"))
    assert "Korpsøving" in mine and "barn og unge" in mine and "Trekk tilbake" in mine

    close_window(client, admin, round_)
    ok(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=admin.headers))
    explained = text(client.get(f"/rounds/{round_['id']}"))
    assert "Ønske 1: flere deltakere enn rommet tar" in explained
    assert "Ønske 2: tildelt" in explained
    assert "Godta" not in explained  # not published yet

    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    offered = client.get(f"/rounds/{round_['id']}")
    html = offered.get_data(as_text=True)
    assert "tilbudt" in text(offered)
    allocation_id = int(html.split(f"/rounds/{round_['id']}/offers/")[1].split("/")[0])
    elsewhere = post(client, f"/rounds/{round_['id'] + 1000}/offers/{allocation_id}/accept")
    assert elsewhere.status_code == 404  # the offer of another round's page
    accepted = post(client, f"/rounds/{round_['id']}/offers/{allocation_id}/accept")
    assert accepted.status_code == 303
    after = text(client.get(f"/rounds/{round_['id']}"))
    assert "Du godtok tiden" in after and "Tilbud: godtatt" in after
    again = post(client, f"/rounds/{round_['id']}/offers/{allocation_id}/decline")
    assert again.status_code == 303  # answered already: a message, nothing changed
    assert "Tilbud: godtatt" in text(client.get(f"/rounds/{round_['id']}"))


def test_form_errors_are_shown_with_the_form(client, make):
    admin = make.admin()
    small, large = make.room(capacity=4), make.room()
    organization, other = make.organization(), make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [small, large])
    log_in(client, member.user)
    path = f"/rounds/{round_['id']}/applications"

    backwards = post(client, path, form(organization, small, large, wish1_end="17:00"))
    assert backwards.status_code == 422
    assert "Søk om en fast ukentlig tid" in text(backwards) and "Korpsøving" in backwards.get_data(
        as_text=True
    )
    for bad in ({"organization_id": str(other.id)}, {"wish1_room": "999999"}, {"attendees": "x"}):
        assert post(client, path, form(organization, small, large, **bad)).status_code == 422, bad

    close_window(client, admin, round_)
    closed = post(client, path, form(organization, small, large))
    assert closed.status_code == 422
    assert "mens runden er åpen for søknader" in text(closed)


def test_withdrawing_and_admin_buttons(client, make):
    admin, room = make.admin(), make.room()
    organization = make.organization()
    member = make.member(organization)
    round_ = new_round(client, admin, [room])
    log_in(client, member.user)
    body = form(organization, room, room, wish2_room="", attendees="5")
    assert post(client, f"/rounds/{round_['id']}/applications", body).status_code == 303
    html = client.get(f"/rounds/{round_['id']}").get_data(as_text=True)
    application_id = int(html.split("/applications/")[1].split("/")[0])
    assert post(client, f"/rounds/{round_['id']}/applications/{application_id}/withdraw").status_code == 303
    assert "trukket tilbake" in text(client.get(f"/rounds/{round_['id']}"))
    assert post(client, f"/rounds/{round_['id']}/allocate").status_code == 403

    log_in(client, admin.user)
    now = datetime.now(UTC)
    client.patch(
        f"{API}/rounds/{round_['id']}",
        json={
            "opens_at": (now - timedelta(hours=2)).isoformat(),
            "closes_at": (now - timedelta(minutes=1)).isoformat(),
        },
        headers=admin.headers,
    )
    assert post(client, f"/rounds/{round_['id']}/allocate").status_code == 303
    assert "fordelt, ikke publisert ennå" in text(client.get(f"/rounds/{round_['id']}"))
    assert post(client, f"/rounds/{round_['id']}/publish").status_code == 303
    assert "publisert" in text(client.get(f"/rounds/{round_['id']}"))
    again = post(client, f"/rounds/{round_['id']}/publish")
    assert again.status_code == 303  # published already: a message
