"""Approving a request that competes with others (SPEC §15): /admin shows each request's
attendees, notes, category and price; approving one with competitors goes through a page that
names the requests it declines, and the approval declines exactly those or nothing, also when a
competing request arrives or is withdrawn between the page and the click (checked under the
approval's locks, and raced through two real servers)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from functools import partial

import pytest

from booking.extensions import db
from booking.models import Booking
from tests.integration.live_http import call, csrf_of, page_login, running_servers
from tests.integration.web_helpers import api_book, clear_weekday, log_in, post, text

TUESDAY = 1
CHANGED = "Forespørslene er endret siden du så dem"
HIDDEN_REJECT = re.compile(r'name="reject" value="(\d+)"')


@pytest.fixture
def hall(make):
    building = make.building(name="Bekkestua kulturhus")
    return make.room(building, name="Storsalen", kind="hall", capacity=200, requires_approval=True)


@pytest.fixture
def parties(make):
    """Three organisations with a member each: reduced, full and reduced price."""
    strings = make.organization(name="Stabekk Strykeorkester")
    firm = make.organization(name="Konsulentfirma AS", voluntary=False, local=False)
    choir = make.organization(name="Bekkestua Kammerkor")
    return [(organization, make.member(organization)) for organization in (strings, firm, choir)]


def book(client, party, hall, day, start, end, **extra):
    organization, member = party
    return api_book(client, member, hall, organization, day, start, end, **extra)


def status(booking_id: int) -> str:
    db.session.rollback()  # read what the requests (and the servers) committed
    return db.session.get(Booking, booking_id).status


def shown_rejections(page) -> list[int]:
    return [int(found) for found in HIDDEN_REJECT.findall(page.get_data(as_text=True))]


def test_admin_page_shows_attendees_notes_category_and_price(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    book(client, parties[0], hall, day, "18:00", "20:00", attendees=45, notes="Trenger flygelet")
    book(client, parties[1], hall, day, "19:00", "21:00", attendees=120, title="Kundeseminar")
    book(client, parties[2], hall, day + timedelta(days=7), "18:00", "20:00", attendees=1)
    log_in(client, make.admin().user)
    body = text(client.get("/admin"))
    assert "45 deltakere" in body and "Merknader: Trenger flygelet" in body
    assert "120 deltakere" in body and "1 deltaker ·" in body, "the request without competitors too"
    assert "kategori redusert" in body and "kategori full pris" in body
    assert len(re.findall(r"pris kr\s?[0-9]", body)) == 3, "every request shows its price"


def test_confirmation_lists_exactly_the_requests_approving_declines(client, make, hall, parties):
    """A, B, C form one group on /admin (A–B and B–C overlap), but approving A declines B only."""
    day = clear_weekday(TUESDAY)
    first = book(client, parties[0], hall, day, "17:00", "19:00", attendees=30)
    second = book(client, parties[1], hall, day, "18:00", "20:00", attendees=80, notes="Med servering")
    third = book(client, parties[2], hall, day, "19:30", "21:30", attendees=25)
    log_in(client, make.admin().user)
    admin_page = client.get("/admin").get_data(as_text=True)
    confirm_url = f"/admin/bookings/{first['id']}/approve"
    assert f'action="{confirm_url}"' in admin_page and 'method="get"' in admin_page

    page = client.get(confirm_url)
    assert page.status_code == 200
    body = text(page)
    assert "Godkjenn og avslå 1 forespørsel" in body
    assert "Konsulentfirma AS" in body and "80" in body and "Med servering" in body
    assert "Bekkestua Kammerkor" not in body, "the third does not overlap the first: not declined"
    assert shown_rejections(page) == [second["id"]]
    assert 'href="/admin"' in page.get_data(as_text=True) and "Avbryt" in body
    assert status(first["id"]) == status(second["id"]) == "pending", "showing changes nothing"

    done = post(client, confirm_url, {"shown": "1", "reject": str(second["id"])})
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin")
    assert (status(first["id"]), status(second["id"]), status(third["id"])) == (
        "confirmed",
        "rejected",
        "pending",
    )
    flashed = text(client.get("/admin"))
    assert "Godkjente «Øving» for Stabekk Strykeorkester. 1 konkurrerende forespørsel ble avslått." in flashed


def test_a_request_that_arrived_after_the_page_is_not_declined_unseen(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    winner = book(client, parties[0], hall, day, "18:00", "20:00")
    seen = book(client, parties[1], hall, day, "19:00", "21:00")
    log_in(client, make.admin().user)
    url = f"/admin/bookings/{winner['id']}/approve"
    page = client.get(url)
    assert shown_rejections(page) == [seen["id"]]
    late = book(client, parties[2], hall, day, "17:00", "18:30", title="Sent ankommet")

    refused = post(client, url, {"shown": "1", "reject": shown_rejections(page)})
    assert refused.status_code == 409
    body = text(refused)
    assert CHANGED in body and "Bekkestua Kammerkor" in body and "Godkjenn og avslå 2 forespørsler" in body
    assert [status(b["id"]) for b in (winner, seen, late)] == ["pending"] * 3, "nothing approved"
    assert sorted(shown_rejections(refused)) == sorted([seen["id"], late["id"]])

    done = post(client, url, {"shown": "1", "reject": shown_rejections(refused)})
    assert done.status_code == 303
    assert [status(b["id"]) for b in (winner, seen, late)] == ["confirmed", "rejected", "rejected"]


def test_a_withdrawn_competitor_makes_the_page_show_again(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    winner = book(client, parties[0], hall, day, "18:00", "20:00")
    withdrawn = book(client, parties[1], hall, day, "19:00", "21:00")
    log_in(client, make.admin().user)
    url = f"/admin/bookings/{winner['id']}/approve"
    page = client.get(url)
    assert shown_rejections(page) == [withdrawn["id"]]
    _, member = parties[1]
    cancelled = client.post(f"/api/v1/bookings/{withdrawn['id']}/cancel", json={}, headers=member.headers)
    assert cancelled.status_code == 200, cancelled.get_json()

    refused = post(client, url, {"shown": "1", "reject": str(withdrawn["id"])})
    assert refused.status_code == 409 and CHANGED in text(refused)
    assert "Ingen annen forespørsel konkurrerer med den" in text(refused)
    assert status(winner["id"]) == "pending" and status(withdrawn["id"]) == "cancelled"
    assert post(client, url, {"shown": "1"}).status_code == 303
    assert status(winner["id"]) == "confirmed"


def test_a_request_without_competitors_is_approved_directly(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    alone = book(client, parties[0], hall, day, "18:00", "20:00")
    log_in(client, make.admin().user)
    admin_page = client.get("/admin").get_data(as_text=True)
    url = f"/admin/bookings/{alone['id']}/approve"
    assert f'<form method="post" action="{url}"' in admin_page
    assert "Ingen annen forespørsel konkurrerer med den" in text(client.get(url))
    done = post(client, url, {"shown": "1"})
    assert done.status_code == 303 and status(alone["id"]) == "confirmed"
    assert "Godkjente «Øving» for Stabekk Strykeorkester." in text(client.get("/admin"))


def test_the_direct_approval_declines_no_competitor_that_arrived_after_the_page(client, make, hall, parties):
    """/admin showed the request alone; a competitor came before the click."""
    day = clear_weekday(TUESDAY)
    alone = book(client, parties[0], hall, day, "18:00", "20:00")
    log_in(client, make.admin().user)
    assert "Konkurrerende forespørsler" in text(client.get("/admin"))
    rival = book(client, parties[1], hall, day, "19:00", "21:00")
    refused = post(client, f"/admin/bookings/{alone['id']}/approve", {"shown": "1"})
    assert refused.status_code == 409 and CHANGED in text(refused)
    assert "Konsulentfirma AS" in text(refused)
    assert status(alone["id"]) == status(rival["id"]) == "pending"


def test_approving_a_request_that_is_no_longer_pending(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    request_ = book(client, parties[0], hall, day, "18:00", "20:00")
    admin = make.admin()
    log_in(client, admin.user)
    url = f"/admin/bookings/{request_['id']}/approve"
    assert post(client, url, {"shown": "1"}).status_code == 303
    page = client.get(url)
    assert page.status_code == 200
    assert "venter ikke lenger på godkjenning: den er bekreftet" in text(page)
    assert "Godkjenn og avslå" not in text(page) and 'name="reject"' not in page.get_data(as_text=True)
    again = post(client, url, {"shown": "1"})
    assert again.status_code == 303
    assert "Kunne ikke godkjenne forespørsel" in text(client.get("/admin"))


def test_bad_input_and_access(client, make, hall, parties):
    day = clear_weekday(TUESDAY)
    request_ = book(client, parties[0], hall, day, "18:00", "20:00")
    url = f"/admin/bookings/{request_['id']}/approve"
    assert client.get(url).status_code == 303  # to the login page
    log_in(client, parties[0][1].user)
    assert client.get(url).status_code == 403
    log_in(client, make.admin().user)
    assert client.get("/admin/bookings/999999/approve").status_code == 404
    for value in ("abc", "-1", "1" * 40, "٣"):
        assert post(client, url, {"shown": "1", "reject": value}).status_code == 422, value
    assert status(request_["id"]) == "pending"


def test_rejecting_an_organisation_says_what_it_does_and_declines_its_requests(client, make, hall):
    new = make.organization(verified=False, name="Ny forening")
    request_ = api_book(client, make.member(new), hall, new, clear_weekday(TUESDAY), "18:00", "20:00")
    log_in(client, make.admin().user)
    body = text(client.get("/admin"))
    assert "Avviser du en organisasjon, kan den ikke booke rom, og de åpne forespørslene dens avslås" in body
    assert post(client, f"/admin/organizations/{new.id}/reject").status_code == 303
    assert "Ny forening er avvist. De åpne forespørslene ble avslått." in text(client.get("/admin"))
    assert status(request_["id"]) == "rejected"


# --- a race through two real servers -------------------------------------------------------


@pytest.fixture
def servers(app_ctx, database_url):
    with running_servers(database_url, workers=2, secret="approve-race") as urls:
        yield urls


ROUNDS = 6


def at_once(*requests):
    """Run the callables in threads released together; their answers in order."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = requests[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.mark.slow
def test_admin_confirms_while_a_competing_request_arrives(servers, make, hall, parties):
    """Server 0: the admin submits the confirmation that names one competitor. Server 1, at the
    same moment: a member asks for the same time. Whichever the database settles first, no
    request is declined that the admin was not shown: either the new request was too late (409,
    the time is confirmed) or the approval is refused and shows the new request."""
    admin = make.admin()
    cookie = page_login(servers[0], admin.user.email, "correct horse battery")
    (winner_org, winner_member), (rival_org, rival_member), (late_org, late_member) = parties

    def request_(organization, member, day, start, end):
        body = {
            "room_id": hall.id,
            "organization_id": organization.id,
            "title": "Runde",
            "start": f"{day.isoformat()}T{start}",
            "end": f"{day.isoformat()}T{end}",
        }
        return partial(call, servers[1], "POST", "/api/v1/bookings", token=member.token, body=body)

    def confirmation(day):
        """Two competing requests; the admin's confirmation page for the first (server 0)."""
        winner = request_(winner_org, winner_member, day, "18:00", "20:00")().json()
        seen = request_(rival_org, rival_member, day, "19:00", "21:00")().json()
        url = f"/admin/bookings/{winner['id']}/approve"
        page = call(servers[0], "GET", url, cookie=cookie)
        assert page.status == 200, page.body[:300]
        shown = [int(found) for found in HIDDEN_REJECT.findall(page.body)]
        assert shown == [seen["id"]]
        form = [("csrf_token", csrf_of(page)), ("shown", "1")] + [("reject", str(i)) for i in shown]
        return winner, seen, partial(call, servers[0], "POST", url, cookie=page.cookie or cookie, form=form)

    def refused_for(approved, winner, seen, late):
        assert approved.status == 409 and CHANGED in approved.body, approved.body[:300]
        assert late.status == 201, (late.status, late.body[:300])
        late_id = late.json()["id"]
        assert [status(i) for i in (winner["id"], seen["id"], late_id)] == ["pending"] * 3
        named = sorted(int(found) for found in HIDDEN_REJECT.findall(approved.body))
        assert named == sorted([seen["id"], late_id]), "the page shows what approving does now"

    # In sequence: the new request between the page and the click.
    day = clear_weekday(TUESDAY)
    winner, seen, approve = confirmation(day)
    late = request_(late_org, late_member, day, "17:00", "18:30")()
    refused_for(approve(), winner, seen, late)

    # At once, a few times over: the database decides the order, each order is checked.
    for round_ in range(1, ROUNDS + 1):
        day = clear_weekday(TUESDAY, from_days=21 + 7 * round_)
        winner, seen, approve = confirmation(day)
        approved, late = at_once(approve, request_(late_org, late_member, day, "17:00", "18:30"))
        if approved.status == 303:
            assert late.status == 409, (late.status, late.body[:300])  # the time is confirmed
            assert (status(winner["id"]), status(seen["id"])) == ("confirmed", "rejected")
        else:
            refused_for(approved, winner, seen, late)
