"""The mails of seasonal rounds (SPEC §12, §14): the results at publication, an offer made
after it (freed times allocated, a time set by hand), and offers that lapse unanswered, told
once per round and organisation whichever path stores the lapse (the mail worker's sweep on
its own, or a change of the round first), also when an accept races the sweep."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from booking.extensions import db
from booking.mail.worker import Worker, lapse_offers
from booking.models import Allocation, OutboxEvent, OutboxMessage, Round
from booking.services import rounds
from booking.services.access import Actor
from booking.services.notifications import recipients
from tests.integration.test_mail_content import render
from tests.integration.test_rounds import (
    API,
    allocate,
    apply,
    by_application,
    close_window,
    new_round,
    ok,
    wish,
)


class Outbox:
    """A transport that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, outgoing) -> None:
        self.sent.append(outgoing)

    def close(self) -> None:
        pass


@pytest.fixture
def worker(app_ctx):
    return Worker(app_ctx, transport=Outbox())


def tick(worker: Worker) -> None:
    """One pass of the worker and whatever it leaves to do now (the test's session lets go first)."""
    db.session.commit()
    while worker.step():
        pass
    db.session.expire_all()


def kinds(kind: str) -> list[OutboxEvent]:
    return list(
        db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id))
    )


def sent(kind: str, worker: Worker) -> list[str]:
    """The recipients of the ``kind`` messages sent, each as often as the transport got it."""
    ids = dict(
        db.session.execute(
            select(OutboxMessage.message_id, OutboxMessage.recipient)
            .join(OutboxEvent, OutboxEvent.id == OutboxMessage.event_id)
            .where(OutboxEvent.kind == kind, OutboxMessage.state == "sent")
        ).all()
    )
    return sorted(ids[o.message_id] for o in worker.transport.sent if o.message_id in ids)


def lapse_now(round_id: int) -> None:
    """The deadline passes (just after the window closed, as the round's rules require)."""
    round_ = db.session.get(Round, round_id)
    round_.offer_deadline = round_.closes_at + timedelta(seconds=1)
    db.session.commit()


@pytest.fixture
def published(client, make):
    """A published round of one room: ``club`` (priority: children and youth) got two times,
    one per application; ``rival`` asked for the club's first time and got nothing."""
    admin = make.admin()
    room = make.room(make.building(name="Kulturhuset"), name="Salen", capacity=30)
    club = make.organization(
        youth_activity=True,
        registered_in_frivillighetsregisteret=True,
        email="styret@koret.test",
        contact_name="Kari Kontakt",
    )
    rival = make.organization(local=False, voluntary=False, email="leder@laget.test")
    club_member, rival_member = make.member(club), make.member(rival)
    round_ = new_round(client, admin, [room], name="Høst <2027>")
    first = ok(
        apply(client, club_member, round_, club, wish(room), description="Korøving", children_youth=True), 201
    )
    second = ok(apply(client, club_member, round_, club, wish(room, 2), description="Stemmeprøve"), 201)
    loser = ok(apply(client, rival_member, round_, rival, wish(room), description="Trening"), 201)
    close_window(client, admin, round_)
    run = by_application(allocate(client, admin, round_))
    assert run[first["id"]]["weekday"] == 0 and run[second["id"]]["weekday"] == 2
    assert run[loser["id"]]["room_id"] is None
    ok(client.post(f"{API}/rounds/{round_['id']}/publish", headers=admin.headers))
    return {
        "admin": admin,
        "room": room,
        "round": round_,
        "club": club,
        "rival": rival,
        "club_member": club_member,
        "rival_member": rival_member,
        "offers": [run[first["id"]]["id"], run[second["id"]]["id"]],
        "nothing": run[loser["id"]]["id"],
    }


# --- publication, then offers made later ----------------------------------------------------------


def test_publication_mails_the_results_and_a_later_offer_is_an_offer_mail(client, published):
    world = published
    admin, round_ = world["admin"], world["round"]
    results = kinds("allocation_published")
    assert sorted(e.params["organization_id"] for e in results) == sorted(
        [world["club"].id, world["rival"].id]
    )
    assert kinds("allocation_offered") == []
    # the club declines its first time: allocating the freed times offers it to the rival
    ok(client.post(f"{API}/offers/{world['offers'][0]}/decline", headers=world["club_member"].headers))
    again = by_application(allocate(client, admin, round_))
    rival_offer = next(a for a in again.values() if a["id"] == world["nothing"])
    assert rival_offer["offer_state"] == "offered"
    (offered,) = kinds("allocation_offered")
    assert offered.params == {
        "round_id": round_["id"],
        "organization_id": world["rival"].id,
        "allocation_ids": [world["nothing"]],
    }
    assert [r.address for r in recipients(offered)] == ["leder@laget.test"]
    assert len(kinds("allocation_published")) == 2  # publication is told once
    # a time set by hand after publication is an offer too
    ok(client.post(f"{API}/offers/{world['nothing']}/decline", headers=world["rival_member"].headers))
    by_hand = {"room_id": world["room"].id, "weekday": 4, "start": "17:00", "end": "18:00"}
    ok(client.patch(f"{API}/allocations/{world['nothing']}", json=by_hand, headers=admin.headers))
    assert [e.params["allocation_ids"] for e in kinds("allocation_offered")] == [
        [world["nothing"]],
        [world["nothing"]],
    ]
    assert len(kinds("allocation_published")) == 2


def test_the_offer_mail_names_the_time_the_deadline_and_the_rounds_page(client, published):
    world = published
    ok(client.post(f"{API}/offers/{world['offers'][0]}/decline", headers=world["club_member"].headers))
    allocate(client, world["admin"], world["round"])
    (event,) = kinds("allocation_offered")
    deadline = datetime.fromisoformat(world["round"]["offer_deadline"]).astimezone(rounds.OSLO)
    english = render(event, "en")
    assert english.subject == "New offer in Høst <2027>"
    assert "Trening: Monday 18:00–20:00, Salen, Kulturhuset" in english.text
    assert f"Accept or decline each offer by {deadline:%Y-%m-%d %H:%M}" in english.text
    assert f"http://booking.test/rounds/{world['round']['id']}" in english.text
    assert f'href="http://booking.test/rounds/{world["round"]["id"]}"' in english.html
    assert "Høst &lt;2027&gt;" in english.html and "<2027>" not in english.html
    norwegian = render(event, "nb")
    assert norwegian.subject == "Nytt tilbud i Høst <2027>"
    assert "Trening: mandag 18:00–20:00, Salen, Kulturhuset" in norwegian.text
    assert f"Takk ja eller nei til hvert tilbud innen {deadline:%Y-%m-%d %H:%M}" in norwegian.text
    assert "Gå til runden" in norwegian.html


# --- lapses -------------------------------------------------------------------------------------


def test_a_lapse_is_mailed_by_the_worker_once_per_organisation_and_round(client, published, worker):
    world = published
    ok(client.post(f"{API}/offers/{world['offers'][1]}/accept", headers=world["club_member"].headers))
    lapse_now(world["round"]["id"])
    tick(worker)
    states = dict(db.session.execute(select(Allocation.id, Allocation.offer_state)).all())
    assert states[world["offers"][0]] == "lapsed" and states[world["offers"][1]] == "accepted"
    (event,) = kinds("offer_lapsed")
    assert event.params["organization_id"] == world["club"].id
    assert event.params["allocation_ids"] == [world["offers"][0]]
    assert event.dedupe_key.startswith(f"offer_lapsed:{world['round']['id']}:{world['club'].id}:")
    assert sent("offer_lapsed", worker) == ["styret@koret.test"]
    tick(worker)  # a second pass, and a second worker: nothing more
    tick(Worker(client.application, transport=worker.transport))
    assert len(kinds("offer_lapsed")) == 1 and sent("offer_lapsed", worker) == ["styret@koret.test"]
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == len(worker.transport.sent)


def test_offers_of_two_organisations_lapse_into_one_mail_each(client, published, worker):
    world = published
    ok(client.post(f"{API}/offers/{world['offers'][0]}/decline", headers=world["club_member"].headers))
    allocate(client, world["admin"], world["round"])  # the rival is offered the freed time
    lapse_now(world["round"]["id"])
    tick(worker)
    lapses = kinds("offer_lapsed")
    assert sorted((e.params["organization_id"], tuple(e.params["allocation_ids"])) for e in lapses) == sorted(
        [(world["club"].id, (world["offers"][1],)), (world["rival"].id, (world["nothing"],))]
    )
    assert sent("offer_lapsed", worker) == ["leder@laget.test", "styret@koret.test"]


def test_a_lapse_stored_by_a_change_of_the_round_is_mailed_once(client, published, worker):
    world = published
    lapse_now(world["round"]["id"])
    path = f"{API}/rounds/{world['round']['id']}"
    # past the deadline, no more offers: allocating the freed times waits for a new deadline
    assert client.post(f"{path}/allocate", headers=world["admin"].headers).status_code == 409
    assert kinds("offer_lapsed") == []  # the refused request stored nothing
    # a new deadline stores the lapses of the old one first (the lazy path) and tells them
    later = {"offer_deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    ok(client.patch(path, json=later, headers=world["admin"].headers))
    (event,) = kinds("offer_lapsed")
    assert event.params["organization_id"] == world["club"].id
    assert event.params["allocation_ids"] == world["offers"]
    allocate(client, world["admin"], world["round"])
    assert [e.params["allocation_ids"] for e in kinds("allocation_offered")] == [[world["nothing"]]]
    # the worker's passes find nothing more to lapse: the rival's offer is open until the new deadline
    tick(worker)
    tick(worker)
    assert [e.params["organization_id"] for e in kinds("offer_lapsed")] == [world["club"].id]
    assert sent("offer_lapsed", worker) == ["styret@koret.test"]
    assert sent("allocation_offered", worker) == ["leder@laget.test"]


def test_the_lapse_mail_lists_the_times_in_bokmal_and_english(client, published, worker):
    world = published
    lapse_now(world["round"]["id"])
    assert lapse_offers() == 2
    db.session.commit()
    (event,) = kinds("offer_lapsed")
    deadline = db.session.get(Round, world["round"]["id"]).offer_deadline.astimezone(rounds.OSLO)
    # a change by hand after the lapse (a new deadline first) gives the allocation another time:
    # the mail tells the lapsed one
    later = {"offer_deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    ok(client.patch(f"{API}/rounds/{world['round']['id']}", json=later, headers=world["admin"].headers))
    by_hand = {"room_id": world["room"].id, "weekday": 4, "start": "17:00", "end": "18:00"}
    ok(client.patch(f"{API}/allocations/{world['offers'][0]}", json=by_hand, headers=world["admin"].headers))
    english = render(event, "en")
    assert english.subject == "Offers lapsed in Høst <2027>"
    assert (
        f"{world['club'].name} did not answer these offers in Høst <2027> by the deadline "
        f"({deadline:%Y-%m-%d %H:%M}), so they have lapsed:" in english.text
    )
    assert "- Korøving: Monday 18:00–20:00, Salen, Kulturhuset" in english.text
    assert "- Stemmeprøve: Wednesday 18:00–20:00, Salen, Kulturhuset" in english.text
    assert "Friday" not in english.text
    assert f"http://booking.test/rounds/{world['round']['id']}" in english.text
    assert "Høst &lt;2027&gt;" in english.html and "<2027>" not in english.html
    norwegian = render(event, "nb")
    assert norwegian.subject == "Tilbud bortfalt i Høst <2027>"
    assert "- Korøving: mandag 18:00–20:00, Salen, Kulturhuset" in norwegian.text
    assert "svarte ikke på disse tilbudene" in norwegian.text
    assert "Gå til runden" in norwegian.html


# --- races (PostgreSQL: two connections) ------------------------------------------------------------


def _in_context(app, work, results: dict, key: str) -> threading.Thread:
    def run() -> None:
        with app.app_context():
            try:
                results[key] = work()
            except BaseException as error:  # reported by the test
                results[key] = error
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _someone_waits_for_a_lock() -> bool:
    waiting = db.session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
    db.session.commit()
    return bool(waiting)


def test_an_accept_that_locked_the_offer_first_is_never_lapsed_nor_told(app, client, published, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL (SQLite serializes the writers)")
    world = published
    round_ = db.session.get(Round, world["round"]["id"])
    deadline = round_.offer_deadline
    member = world["club_member"]
    actor = Actor(user_id=member.user.id, role="member", organization_ids=frozenset({world["club"].id}))
    db.session.commit()
    accepted, release = threading.Event(), threading.Event()
    results: dict = {}

    def accept():
        # just before the deadline; the transaction stays open (the row locked) until released
        allocation = rounds.accept_offer(actor, world["offers"][0], now=deadline - timedelta(minutes=1))
        accepted.set()
        release.wait(60)
        db.session.commit()
        return allocation.offer_state

    def sweep():  # a worker's pass just after the deadline
        return lapse_offers(deadline + timedelta(minutes=1))

    accepting = _in_context(app, accept, results, "accept")
    assert accepted.wait(60), results
    sweeping = _in_context(app, sweep, results, "sweep")
    waited = False
    for _ in range(6000):  # the sweep reaches the locked row and waits for the accept
        waited = _someone_waits_for_a_lock()
        if waited or not sweeping.is_alive():
            break
        time.sleep(0.01)
    release.set()
    accepting.join(60)
    sweeping.join(60)
    assert waited and results == {"accept": "accepted", "sweep": 1}, results
    db.session.expire_all()
    states = dict(db.session.execute(select(Allocation.id, Allocation.offer_state)).all())
    assert states[world["offers"][0]] == "accepted" and states[world["offers"][1]] == "lapsed"
    (event,) = kinds("offer_lapsed")
    assert event.params["allocation_ids"] == [world["offers"][1]]


def test_two_workers_sweeping_at_once_write_one_mail(app, client, published, is_postgres):
    if not is_postgres:
        pytest.skip("two connections at once: PostgreSQL")
    world = published
    deadline = db.session.get(Round, world["round"]["id"]).offer_deadline
    db.session.commit()
    barrier = threading.Barrier(2)
    results: dict = {}

    def sweep():
        barrier.wait(60)
        return lapse_offers(deadline + timedelta(minutes=1))

    threads = [_in_context(app, sweep, results, key) for key in ("a", "b")]
    for thread in threads:
        thread.join(60)
    assert sorted(results.values()) == [0, 2], results
    db.session.expire_all()
    (event,) = kinds("offer_lapsed")
    assert event.params["allocation_ids"] == world["offers"]


def test_offers_before_their_deadline_are_left_alone(client, published, worker):
    world = published
    tick(worker)
    assert kinds("offer_lapsed") == []
    assert lapse_offers(datetime.now(UTC)) == 0
    states = dict(db.session.execute(select(Allocation.id, Allocation.offer_state)).all())
    assert states[world["offers"][0]] == "offered"


def test_mails_about_a_round_that_is_gone_raise_gone(make):
    from booking.mail.content import Gone
    from tests.integration.test_mail_content import hand_made

    organization = make.organization()
    for kind in ("allocation_offered", "offer_lapsed"):
        with pytest.raises(Gone):
            render(
                hand_made(kind, round_id=987654, organization_id=organization.id, allocation_ids=[1]), "nb"
            )
