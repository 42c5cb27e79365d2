"""Seasonal rounds as pages (SPEC §9, §14): the public list and result, a member applying through
the form, the explanation of every wish in words after allocation, accepting an offer, and form
errors shown with the form (422)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Allocation, Application, AuditEntry, Round
from pricing.weekly import OSLO
from tests.integration.live_http import call, csrf_of, page_login, running_servers
from tests.integration.test_rounds import API, _race, close_window, new_round, ok
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
    unpublished = text(client.get(f"/rounds/{round_['id']}"))
    assert "Ønske 1:" not in unpublished and "Godta" not in unpublished  # the admin's until published

    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    offered = client.get(f"/rounds/{round_['id']}")
    explained = text(offered)
    assert "Ønske 1: flere deltakere enn rommet tar" in explained
    assert "Ønske 2: tildelt" in explained
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


def test_an_admin_runs_the_round_on_its_page(client, make):
    """Close the window, allocate, read the grid and the list of those who got nothing, change a
    result by hand (a conflicting change refused with a message), publish, and after a decline
    give the freed time to the next in the order: every step a button of the round's page."""
    admin, room = make.admin(), make.room(name="Salen", capacity=30)
    korps, band = make.organization(name="Korps A"), make.organization(name="Band C")
    kor = make.organization(name="Kor B", local=False, voluntary=False)
    dans = make.organization(name="Dans D", local=False, voluntary=False)
    members = {org.id: make.member(org) for org in (korps, band, kor, dans)}
    round_ = new_round(client, admin, [room])
    path = f"/rounds/{round_['id']}"
    monday = {"room_id": room.id, "weekday": 0, "start": "18:00", "end": "20:00"}
    tuesday = {**monday, "weekday": 1}
    # Class 1 Korps A and class 2 Band C (Monday taken: Tuesday) before class 3 Kor B and Dans D.
    applications = ((korps, [monday], True), (band, [monday, tuesday], False), (kor, [monday], False))
    for org, wishes, young in (*applications, (dans, [tuesday], False)):
        body = {"organization_id": org.id, "attendees": 10, "wishes": wishes, "children_youth": young}
        headers = members[org.id].headers
        ok(client.post(f"{API}/rounds/{round_['id']}/applications", json=body, headers=headers), 201)

    log_in(client, members[kor.id].user)
    assert post(client, f"{path}/close").status_code == 403
    log_in(client, admin.user)
    assert post(client, f"{path}/allocate").status_code == 303
    assert "Kunne ikke fordele runden" in text(client.get(path))  # the window is still open
    assert post(client, f"{path}/close").status_code == 303
    assert "stengt, venter på fordeling" in text(client.get(path))
    assert post(client, f"{path}/allocate").status_code == 303

    def cells(page) -> list[str]:
        """The grid's cells of the one room, Monday to Sunday."""
        grid = page.get_data(as_text=True).split('id="grid"')[1].split("</table>")[0]
        return grid.split("<td>")[1:]

    page = client.get(path)
    assert "Korps A" in cells(page)[0] and "Band C" in cells(page)[1]
    nothing = page.get_data(as_text=True).split('id="nothing"')[1].split("</ul>")[0]
    assert "Kor B" in nothing and "Dans D" in nothing and "Korps A" not in nothing
    words = text(page)
    assert "Ønske 1: tildelt Korps A (klasse 1, barn og unge), en høyere klasse" in words
    assert "Plass 1 i rekkefølgen: klasse 1, barn og unge, runde 1, ingen kontinuitet" in words

    allocations = {a.organization_id: a.id for a in db.session.scalars(select(Allocation))}
    change = f"{path}/allocations/{allocations[kor.id]}"
    taken = post(client, change, {"room": str(room.id), "weekday": "1", "start": "19:00", "end": "21:00"})
    assert taken.status_code == 303 and "Kunne ikke endre resultatet" in text(client.get(path))
    assert post(client, change, {"room": str(room.id), "weekday": "2", "start": "x"}).status_code == 303
    assert "Kunne ikke endre resultatet" in text(client.get(path))
    assert db.session.get(Allocation, allocations[kor.id]).room_id is None  # neither changed it
    wednesday = {"room": str(room.id), "weekday": "2", "start": "18:00", "end": "20:00"}
    assert post(client, change, wednesday).status_code == 303
    page = client.get(path)
    assert "Resultatet er endret" in text(page)
    assert "Kor B" in cells(page)[2] and "manuelt" in cells(page)[2]
    audited = select(AuditEntry).where(
        AuditEntry.entity == "allocations", AuditEntry.entity_id == str(allocations[kor.id])
    )
    (entry,) = db.session.scalars(audited.where(AuditEntry.action == "update"))
    assert entry.actor_user_id == admin.user.id and entry.after["weekday"] == 2

    assert post(client, f"{path}/publish").status_code == 303
    log_in(client, members[band.id].user)
    assert post(client, f"{path}/offers/{allocations[band.id]}/decline").status_code == 303
    log_in(client, admin.user)
    assert post(client, f"{path}/allocate").status_code == 303
    after = client.get(path)
    assert "De ledige tidene er fordelt og tilbudt" in text(after)
    assert "Dans D" in cells(after)[1] and "Band C" not in cells(after)[1]
    given = db.session.get(Allocation, allocations[dans.id])
    db.session.refresh(given)
    assert (given.weekday, given.offer_state) == (1, "offered")


def test_a_member_moves_an_application_up_the_ranking(client, make):
    admin, room = make.admin(), make.room()
    organization, other = make.organization(), make.organization()
    member, stranger = make.member(organization), make.member(other)
    round_ = new_round(client, admin, [room])
    log_in(client, member.user)
    for weekday in ("0", "1"):
        body = form(organization, room, room, wish1_weekday=weekday, wish2_room="", attendees="5")
        assert post(client, f"/rounds/{round_['id']}/applications", body).status_code == 303
    first, second = sorted(db.session.scalars(select(Application)), key=lambda a: a.id)
    assert (first.rank, second.rank) == (1, 2)
    html = client.get(f"/rounds/{round_['id']}").get_data(as_text=True)
    assert f"/applications/{second.id}/rank" in html and f"/applications/{first.id}/rank" not in html

    log_in(client, stranger.user)
    assert post(client, f"/rounds/{round_['id']}/applications/{second.id}/rank").status_code == 403
    log_in(client, member.user)
    assert post(client, f"/rounds/{round_['id']}/applications/{second.id}/rank").status_code == 303
    db.session.expire_all()
    assert (first.rank, second.rank) == (2, 1)
    assert "Søknaden ble flyttet opp" in text(client.get(f"/rounds/{round_['id']}"))
    assert post(client, f"/rounds/{round_['id']}/applications/{second.id}/rank").status_code == 303
    assert "Kunne ikke endre prioriteringen" in text(client.get(f"/rounds/{round_['id']}"))
    db.session.expire_all()
    assert (first.rank, second.rank) == (2, 1)


@pytest.mark.slow
def test_closing_and_changes_by_hand_race_through_two_servers(client, make, database_url):
    """Through two gunicorn servers at once: the admin's "close now" against six applications
    (each is either in, made before the window's stored close, or refused; none is made after
    it), and two admins giving two applications the same time by hand (one wins, the other is
    told the time is taken)."""
    admin, room = make.admin(), make.room()
    organizations = [make.organization() for _ in range(3)]
    members = [make.member(organization) for organization in organizations]
    round_ = new_round(client, admin, [room])
    applications = f"{API}/rounds/{round_['id']}/applications"
    room_id, organization_ids = room.id, [o.id for o in organizations]  # read here, not in threads
    tokens = [m.token for m in members]

    def body(i: int) -> dict:
        wishes = [{"room_id": room_id, "weekday": i % 7, "start": "18:00", "end": "20:00"}]
        return {"organization_id": organization_ids[i % 3], "attendees": 5, "wishes": wishes}

    with running_servers(database_url) as urls:
        for i in (0, 7):  # two before the race: the changes by hand below need two results
            before = call(urls[0], "POST", applications, token=tokens[i % 3], body=body(i))
            assert before.status == 201, before.body
        cookie = page_login(urls[1], admin.user.email, "correct horse battery")
        token = csrf_of(call(urls[1], "GET", f"/rounds/{round_['id']}", cookie=cookie))
        close = lambda: call(  # noqa: E731
            urls[1], "POST", f"/rounds/{round_['id']}/close", cookie=cookie, form={"csrf_token": token}
        )
        apply_ = [
            lambda i=i: call(urls[i % 2], "POST", applications, token=tokens[i % 3], body=body(i))
            for i in range(1, 7)
        ]
        answers = _race([close, *apply_])
        assert answers[0].status == 303
        assert {a.status for a in answers[1:]} <= {201, 422}, [(a.status, a.body) for a in answers]
        db.session.commit()  # SQLite: leave the snapshot from before the servers wrote
        closed = db.session.get(Round, round_["id"])
        db.session.refresh(closed)
        made = db.session.scalars(select(Application).where(Application.round_id == round_["id"])).all()
        assert len(made) == 2 + sum(a.status == 201 for a in answers[1:])
        assert all(a.created_at <= closed.closes_at for a in made)

        ok(client.post(f"{API}/rounds/{round_['id']}/allocate", headers=admin.headers))
        db.session.commit()
        second_admin = make.admin()
        targets = db.session.scalars(select(Allocation.id).order_by(Allocation.id).limit(2)).all()
        same_time = {"room_id": room_id, "weekday": 0, "start": "20:30", "end": "21:30"}
        admin_tokens = [admin.token, second_admin.token]
        answers = _race(
            [
                lambda i=i: call(
                    urls[i], "PATCH", f"{API}/allocations/{targets[i]}", token=admin_tokens[i], body=same_time
                )
                for i in range(2)
            ]
        )
        assert sorted(a.status for a in answers) == [200, 409], [(a.status, a.body) for a in answers]
    db.session.commit()
    moved = db.session.scalars(select(Allocation).where(Allocation.start_minute == 20 * 60 + 30)).all()
    assert len(moved) == 1 and moved[0].manual


def test_past_the_deadline_the_admin_sets_a_new_one_before_offering_freed_times(client, make):
    admin, room = make.admin(), make.room()
    organization, other = make.organization(), make.organization(local=False, voluntary=False)
    member, rival = make.member(organization), make.member(other)
    round_ = new_round(client, admin, [room])
    path = f"/rounds/{round_['id']}"
    for who, org in ((member, organization), (rival, other)):
        body = {
            "organization_id": org.id,
            "attendees": 5,
            "wishes": [{"room_id": room.id, "weekday": 0, "start": "18:00", "end": "20:00"}],
        }
        ok(client.post(f"{API}/rounds/{round_['id']}/applications", json=body, headers=who.headers), 201)
    close_window(client, admin, round_)
    publish(client, admin, round_)
    stored = db.session.get(Round, round_["id"])
    stored.offer_deadline = stored.closes_at + timedelta(seconds=1)  # the deadline passes unanswered
    db.session.commit()

    log_in(client, admin.user)
    assert post(client, f"{path}/allocate").status_code == 303
    assert "Kunne ikke fordele runden" in text(client.get(path))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert (
        post(client, f"{path}/deadline", {"deadline_date": yesterday, "deadline_time": "12:00"}).status_code
        == 303
    )
    assert "Kunne ikke endre fristen" in text(client.get(path))
    assert post(client, f"{path}/deadline", {"deadline_date": "x"}).status_code == 303
    assert "Kunne ikke endre fristen" in text(client.get(path))
    later = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    assert (
        post(client, f"{path}/deadline", {"deadline_date": later, "deadline_time": "20:00"}).status_code
        == 303
    )
    page = text(client.get(path))
    assert "Fristen for å svare på tilbud er endret" in page and "bortfalt" in page  # lapsed stays lapsed
    db.session.expire_all()
    assert db.session.get(Round, round_["id"]).offer_deadline.astimezone(OSLO).strftime("%H:%M") == "20:00"
    assert post(client, f"{path}/allocate").status_code == 303
    assert "De ledige tidene er fordelt og tilbudt" in text(client.get(path))
    states = sorted(a.offer_state for a in db.session.scalars(select(Allocation)))
    assert states == ["lapsed", "offered"]
