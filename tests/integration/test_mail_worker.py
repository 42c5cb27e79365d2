"""The mail worker against a real SMTP server on loopback (SPEC §12): who gets what, retries and
backoff, permanent refusals listed for admins, a crash between the server's acceptance and the
marking, two workers at once, and changes that fail leaving nothing to send."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from bench.smtp_sink import SmtpSink
from booking.extensions import db
from booking.mail.transport import FileTransport, SmtpTransport, parse_mail_url
from booking.mail.worker import Worker, schedule_day_sheets
from booking.models import OutboxEvent, OutboxMessage, User, janitor_buildings, memberships
from booking.models.types import utcnow
from pricing import OSLO
from tests.integration import test_feeds, test_races
from tests.integration import web_helpers as web
from tests.integration.lifecycle_helpers import call, plain_weekday_between, race
from tests.integration.live_http import ROOT
from tests.integration.test_feeds import org_feed_path

# Fixtures shared with other modules: two gunicorn servers on the test database; Node with ical.js.
servers = test_races.servers
ical_js = test_feeds.ical_js

TODAY = datetime.now(OSLO).date()
FAR = plain_weekday_between(TODAY + timedelta(days=20), TODAY + timedelta(days=40))


def at(hhmm: str, day: date = FAR) -> str:
    return f"{day.isoformat()}T{hhmm}"


def book(client, login, room, organization, start="18:00", end="20:00", **extra):
    payload = {"room_id": room.id, "organization_id": organization.id, "title": "Korøving"}
    payload.update(start=at(start), end=at(end), **extra)
    return client.post("/api/v1/bookings", json=payload, headers=login.headers)


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture
def worker(app_ctx, sink, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "BOOKING_MAIL_RETRY_SECONDS", 0.05)
    monkeypatch.setitem(app_ctx.config, "BOOKING_MAIL_MAX_ATTEMPTS", 4)
    worker = Worker(app_ctx, transport=SmtpTransport(parse_mail_url(sink.url)))
    yield worker
    worker.transport.close()


def drain(worker: Worker, passes: int = 10) -> None:
    """Passes of the worker until nothing is due (the test's session first lets go)."""
    db.session.commit()
    for _ in range(passes):
        if not worker.step():
            break
    db.session.expire_all()


def messages(state: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(db.session.execute(query).scalars())


def outbox_event_count() -> int:
    return len(db.session.execute(select(OutboxEvent.id)).all())


@pytest.fixture
def club(make):
    """A verified organisation with two members (one the booker), and one of another club; the
    outbox empty."""
    room = make.room(name="Salen")
    organization = make.organization(email="styret@koret.test", contact_name="Kari Kontakt")
    booker, quiet = make.member(organization), make.member(organization)
    stranger = make.member(make.organization())
    db.session.execute(OutboxEvent.__table__.delete())  # the organisations' verification mails
    db.session.commit()
    return room, organization, booker, quiet, stranger


def test_a_confirmed_booking_mails_the_contact_and_the_booker_and_nobody_else(worker, sink, client, club):
    room, organization, booker, quiet, stranger = club
    created = book(client, booker, room, organization)
    assert created.status_code == 201, created.get_json()
    drain(worker)
    got = sorted(r.recipients[0] for r in sink.received)
    assert got == sorted(["styret@koret.test", booker.user.email])  # not the other member, not strangers
    assert all(len(r.recipients) == 1 for r in sink.received)  # one message per person
    mail = sink.to(booker.user.email)[0].email
    assert mail["Message-ID"] in {m.message_id for m in messages()}
    calendars = [part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    event = Calendar.from_ical(calendars[0].get_content()).walk("VEVENT")[0]
    assert str(event["UID"]) == f"booking-{created.get_json()['id']}@booking.invalid"
    assert all(m.state == "sent" and m.attempts == 1 for m in messages())


def test_a_member_who_turned_booking_mail_off_gets_none(worker, sink, client, club):
    room, organization, booker, quiet, _ = club
    db.session.execute(
        update(memberships)
        .where(memberships.c.user_id == booker.user.id, memberships.c.organization_id == organization.id)
        .values(booking_mail=False)
    )
    db.session.commit()
    assert book(client, booker, room, organization).status_code == 201
    drain(worker)
    assert [r.recipients for r in sink.received] == [("styret@koret.test",)]


def test_the_mail_is_in_the_recipients_language(worker, sink, client, club):
    room, organization, booker, *_ = club
    db.session.execute(update(User).where(User.id == booker.user.id).values(language="en"))
    db.session.commit()
    assert book(client, booker, room, organization).status_code == 201
    drain(worker)
    assert sink.to(booker.user.email)[0].email["Content-Language"] == "en"
    assert sink.to("styret@koret.test")[0].email["Content-Language"] == "nb"


def test_changes_that_fail_leave_nothing_in_the_outbox(worker, client, club, make):
    room, organization, booker, _, stranger = club
    assert book(client, booker, room, organization).status_code == 201
    before = outbox_event_count()
    assert book(client, booker, room, organization, "19:00", "21:00").status_code == 409  # taken
    assert book(client, booker, room, organization, "21:00", "20:00").status_code == 422  # ends first
    assert book(client, stranger, room, organization, "16:00", "17:00").status_code in (
        403,
        422,
    )  # not theirs
    booking_id = db.session.execute(select(OutboxEvent.params)).scalars().first()["booking_ids"][0]
    cancel = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=booker.headers)
    assert cancel.status_code == 200
    after_cancel = outbox_event_count()
    again = client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=booker.headers)
    assert again.status_code == 409  # cancelled already: no second mail
    assert (before, after_cancel, outbox_event_count()) == (before, before + 1, before + 1)


def test_the_server_down_for_a_while_delays_the_mail_and_loses_none(worker, sink, client, club):
    room, organization, booker, *_ = club
    sink.stop()
    assert book(client, booker, room, organization).status_code == 201
    drain(worker, passes=1)
    first, second = messages()
    assert first.state == second.state == "pending"
    assert (
        first.attempts == 1
        and "Connection" in first.last_error
        and first.next_attempt_at > utcnow() - timedelta(seconds=1)
    )
    assert second.attempts == 0  # not tried: the server was unreachable, it waits with the first
    sink.start()
    time.sleep(0.2)
    drain(worker)
    assert sorted(sink.message_ids()) == sorted(m.message_id for m in messages())
    assert [m.state for m in messages()] == ["sent", "sent"]


def test_a_refused_address_fails_at_once_and_is_listed_for_admins(worker, sink, client, club, make):
    room, organization, booker, *_ = club
    sink.refuse.add("styret@koret.test")
    assert book(client, booker, room, organization).status_code == 201
    drain(worker)
    (failed,) = messages("failed")
    assert failed.recipient == "styret@koret.test" and failed.attempts == 1 and "550" in failed.last_error
    assert [r.recipients for r in sink.received] == [(booker.user.email,)]  # the other one went
    admin = make.admin()
    listed = client.get("/api/v1/outbox?state=failed", headers=admin.headers)
    assert listed.status_code == 200
    body = listed.get_json()
    assert [(m["id"], m["recipient"], m["kind"]) for m in body] == [
        (failed.id, "styret@koret.test", "booking_confirmed")
    ]
    assert "550" in body[0]["last_error"]
    assert client.get("/api/v1/outbox?state=failed", headers=booker.headers).status_code == 403
    assert client.get("/api/v1/outbox?state=lost", headers=admin.headers).status_code == 422
    # the address is mended; an admin sends it again, with the same Message-ID
    sink.refuse.clear()
    assert client.post(f"/api/v1/outbox/{failed.id}/retry", headers=admin.headers).status_code == 200
    drain(worker)
    assert sink.to("styret@koret.test")[0].message_id == failed.message_id
    sent = messages("sent")
    assert len(sent) == 2
    again = client.post(f"/api/v1/outbox/{failed.id}/retry", headers=admin.headers)
    assert again.status_code == 409


def test_a_deferring_server_is_retried_with_backoff_until_the_message_fails(worker, sink, client, club):
    room, organization, booker, *_ = club
    sink.defer.add("styret@koret.test")
    assert book(client, booker, room, organization).status_code == 201
    delays = []
    db.session.commit()
    for _ in range(4):
        worker.step()
        db.session.expire_all()
        message = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == "styret@koret.test")
        ).scalar_one()
        if message.state == "failed":
            break
        delays.append((message.next_attempt_at - utcnow()).total_seconds())
        time.sleep(max(0.0, delays[-1]) + 0.01)
        db.session.commit()
    assert message.state == "failed" and message.attempts == 4 and "450" in message.last_error
    assert len(delays) == 3 and delays[0] < delays[1] < delays[2]  # 0.05, 0.1, 0.2 s: doubling


def test_without_a_mail_server_messages_are_written_as_eml_files(app_ctx, client, club, tmp_path):
    room, organization, booker, *_ = club
    assert book(client, booker, room, organization).status_code == 201
    worker = Worker(app_ctx, transport=FileTransport(tmp_path))
    drain(worker)
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    mails = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(m["Message-ID"] for m in mails) == sorted(m.message_id for m in messages())
    # sent again (e.g. after a crash): the same file, not a second one
    db.session.execute(update(OutboxMessage).values(state="pending", next_attempt_at=utcnow()))
    drain(worker)
    assert sorted(tmp_path.glob("*.eml")) == files


def test_the_morning_sheet_event_is_made_once_per_building_and_day(app_ctx, make):
    building, other = make.building(), make.building()
    janitor = make.janitor(building, other)
    make.janitor(other)
    db.session.execute(
        update(janitor_buildings)
        .where(janitor_buildings.c.user_id == janitor.user.id, janitor_buildings.c.building_id == building.id)
        .values(morning_sheet=True)
    )
    db.session.commit()
    tomorrow = TODAY + timedelta(days=1)
    schedule_day_sheets(tomorrow)
    schedule_day_sheets(tomorrow)
    events = db.session.execute(select(OutboxEvent)).scalars().all()
    assert [(e.kind, e.params) for e in events] == [
        ("day_sheet", {"building_id": building.id, "date": tomorrow.isoformat()})
    ]


# --- separate worker processes ------------------------------------------------------------------


def _start_worker(database_url: str, sink: SmtpSink, *extra: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        BOOKING_DATABASE_URL=database_url,
        BOOKING_SECRET_KEY="test-secret",
        BOOKING_MAIL_URL=sink.url,
        BOOKING_MAIL_LEASE_SECONDS="2",
        BOOKING_MAIL_POLL_SECONDS="0.05",
    )
    return subprocess.Popen(
        [sys.executable, "-c", "from booking.cli import main; main()", "worker", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_all_sent(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.commit()
        states = db.session.execute(select(OutboxMessage.state)).scalars().all()
        if len(states) == count and all(state == "sent" for state in states):
            return
        time.sleep(0.1)
    raise AssertionError(f"not all sent: {states}")


def _verify_organizations(make, count: int) -> int:
    """``count`` organisations verified by an admin: one mail each."""
    for _ in range(count):
        make.organization()  # verified through the service: it writes the event
    assert outbox_event_count() == count
    return count


@pytest.mark.slow
def test_a_worker_killed_between_acceptance_and_marking_sends_again_with_the_same_message_id(
    app_ctx, database_url, sink, make
):
    _verify_organizations(make, 3)
    first = _start_worker(database_url, sink)
    killed = []

    def kill_once(received):
        if not killed:
            killed.append(received.message_id)
            os.kill(first.pid, signal.SIGKILL)  # the server has the message; the worker never hears so

    sink.on_data = kill_once
    assert first.wait(timeout=60) == -signal.SIGKILL
    db.session.commit()
    (stuck,) = [m for m in messages() if m.message_id == killed[0]]
    assert stuck.state == "pending"  # not marked: it may or may not have arrived, as far as the worker knows
    second = _start_worker(database_url, sink)
    try:
        _wait_all_sent(3)
    finally:
        second.terminate()
        second.wait(timeout=30)
    ids = sink.message_ids()
    assert ids.count(killed[0]) == 2  # sent again, under the same Message-ID
    assert sorted(set(ids)) == sorted(m.message_id for m in messages()) and len(ids) == 4


@pytest.mark.slow
def test_two_workers_at_once_never_send_a_message_twice(app_ctx, database_url, sink, make):
    count = _verify_organizations(make, 40)
    sink.on_data = lambda received: time.sleep(0.01)  # a server that takes a moment per message
    workers = [_start_worker(database_url, sink) for _ in range(2)]
    try:
        _wait_all_sent(count)
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            assert process.wait(timeout=30) == 0  # SIGTERM: the worker finishes its pass and exits
    ids = sink.message_ids()
    assert len(ids) == count and len(set(ids)) == count


# --- lost races write nothing -------------------------------------------------------------------


@pytest.mark.slow
def test_racing_clients_leave_one_event_per_change_that_happened(servers, make):
    """Through two servers: ten creates of one slot give one booking and one confirmation
    event; approvals and cancellations of one request racing each other leave exactly the
    events of the answers that succeeded."""
    room = make.room(name="Salen")
    approval_room = make.room(name="Storsalen", requires_approval=True)
    organization = make.organization()
    member, admin = make.member(organization), make.admin()
    db.session.execute(OutboxEvent.__table__.delete())
    db.session.commit()
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Korøving",
        "start": at("18:00"),
        "end": at("20:00"),
    }
    creates = race(
        [lambda i=i: call(servers[i % 2], "POST", "/bookings", member.token, payload) for i in range(10)]
    )
    winners = [a.body["id"] for a in creates if a.status == 201]
    assert len(winners) == 1 and sorted({a.status for a in creates}) == [201, 409]
    db.session.commit()  # read afresh (SQLite keeps a read transaction's snapshot)
    events = db.session.execute(select(OutboxEvent.kind, OutboxEvent.params)).all()
    assert [(kind, params["booking_ids"]) for kind, params in events] == [("booking_confirmed", winners)]

    request = call(
        servers[0], "POST", "/bookings", member.token, dict(payload, room_id=approval_room.id)
    ).body
    assert request["status"] == "pending"
    db.session.commit()
    db.session.execute(OutboxEvent.__table__.delete())
    db.session.commit()
    path = f"/bookings/{request['id']}"
    answers = race(
        [
            lambda: call(servers[0], "POST", path + "/approve", admin.token),
            lambda: call(servers[1], "POST", path + "/approve", admin.token),
            lambda: call(servers[0], "POST", path + "/cancel", member.token),
            lambda: call(servers[1], "POST", path + "/cancel", member.token),
        ]
    )
    succeeded = sorted(
        ("booking_approved" if "approve" in kind else "booking_cancelled")
        for kind, answer in zip(["approve", "approve", "cancel", "cancel"], answers, strict=True)
        if answer.ok
    )
    assert all(a.ok or a.status in (409, 412) for a in answers), [a.status for a in answers]
    db.session.commit()
    kinds = sorted(db.session.execute(select(OutboxEvent.kind)).scalars())
    assert kinds == succeeded and 1 <= len(kinds) <= 2


# --- calendar attachments: the feed's UID and SEQUENCE, read by icalendar and ical.js ------------


def _attachment(received) -> bytes:
    (part,) = [p for p in received.email.iter_attachments() if p.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True)


def _identities_by_icalendar(data: bytes) -> tuple[str, list[tuple]]:
    calendar = Calendar.from_ical(data)
    return str(calendar.get("METHOD", "")), sorted(
        (
            str(e["UID"]),
            e.decoded("RECURRENCE-ID").astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if "RECURRENCE-ID" in e
            else None,
            int(e["SEQUENCE"]),
            str(e.get("STATUS", "CONFIRMED")),  # a feed states STATUS only where it is not CONFIRMED
        )
        for e in calendar.walk("VEVENT")
    )


def _identities_by_ical_js(data: bytes, ical_js, tmp_path) -> tuple[str, list[tuple]]:
    path = tmp_path / "attachment.ics"
    path.write_bytes(data)
    result = subprocess.run(
        ["node", "components.mjs", str(path)], cwd=ical_js, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    return parsed["method"], sorted(
        (e["uid"], e["recurrenceId"], e["sequence"], e["status"]) for e in parsed["events"]
    )


def test_calendar_attachments_carry_the_feeds_uid_and_sequence_in_both_parsers(
    worker,
    sink,
    client,
    club,
    ical_js,
    tmp_path,
):
    room, organization, booker, *_ = club
    feed = org_feed_path(client, booker, organization)

    def mails_so_far() -> list:
        drain(worker)
        return [r for r in sink.received if r.recipients == (booker.user.email,)]

    def feed_identities() -> list[tuple]:
        return _identities_by_icalendar(client.get(feed).data)[1]

    def check(received, method: str, expected: list[tuple]) -> None:
        data = _attachment(received)
        assert _identities_by_icalendar(data) == (method, expected)
        assert _identities_by_ical_js(data, ical_js, tmp_path) == (method, expected)

    created = book(client, booker, room, organization).get_json()
    (confirmed,) = mails_so_far()
    check(confirmed, "PUBLISH", feed_identities())
    etag = client.get(f"/api/v1/bookings/{created['id']}", headers=booker.headers).headers["ETag"]
    moved = client.patch(
        f"/api/v1/bookings/{created['id']}",
        json={"start": at("17:00"), "end": at("19:00")},
        headers=dict(booker.headers, **{"If-Match": etag}),
    )
    assert moved.status_code == 200, moved.get_json()
    changed = mails_so_far()[-1]
    check(changed, "PUBLISH", feed_identities())
    assert feed_identities()[0][2] == 1  # SEQUENCE raised by the move
    assert client.post(f"/api/v1/bookings/{created['id']}/cancel", headers=booker.headers).status_code == 200
    cancelled = mails_so_far()[-1]
    check(cancelled, "CANCEL", [(f"booking-{created['id']}@booking.invalid", None, 2, "CANCELLED")])

    # a weekly series, then one of its dates cancelled: the series' UID with RECURRENCE-ID
    series = book(
        client, booker, room, organization, "10:00", "11:00", recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}
    ).get_json()
    check(mails_so_far()[-1], "PUBLISH", [i for i in feed_identities() if i[0].startswith("series-")])
    second = series["occurrences"][1]
    assert client.post(f"/api/v1/bookings/{second['id']}/cancel", headers=booker.headers).status_code == 200
    (master,) = [i for i in feed_identities() if i[0].startswith("series-")]
    recurrence_id = datetime.fromisoformat(second["start"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    check(mails_so_far()[-1], "CANCEL", [(master[0], recurrence_id, master[2], "CANCELLED")])


# --- STARTTLS and AUTH ------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), as a private mail relay might use."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return key, cert


def test_mail_goes_over_starttls_with_a_login_and_waits_while_the_login_is_refused(
    app_ctx, client, club, certificate, monkeypatch
):
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    room, organization, booker, *_ = club
    assert book(client, booker, room, organization).status_code == 201
    monkeypatch.setitem(app_ctx.config, "BOOKING_MAIL_RETRY_SECONDS", 0.01)
    with SmtpSink(tls_context=context, credentials=("mailer", "s3cret:/@%")) as sink:
        base = f"smtp://mailer:{{}}@127.0.0.1:{sink.port}?starttls=1&cafile={cert}&timeout=5"
        wrong = Worker(app_ctx, transport=SmtpTransport(parse_mail_url(base.format("wrong"))))
        drain(wrong, passes=1)
        assert sink.received == []
        assert [(m.state, m.attempts) for m in messages()] == [("pending", 1), ("pending", 0)]  # they wait
        assert "Authentication" in messages()[0].last_error
        time.sleep(0.05)
        right = Worker(app_ctx, transport=SmtpTransport(parse_mail_url(base.format("s3cret%3A%2F%40%25"))))
        drain(right)
        right.transport.close()
    assert len(sink.received) == 2 and [m.state for m in messages()] == ["sent", "sent"]
    with pytest.raises(ValueError, match="ASCII"):
        parse_mail_url("smtp://mailer:s%C3%A6cret@127.0.0.1:587?starttls=1")


def test_the_admin_page_lists_undeliverable_mail_and_sends_it_again(worker, sink, client, club, make):
    room, organization, booker, *_ = club
    sink.refuse.add("styret@koret.test")
    assert book(client, booker, room, organization).status_code == 201
    drain(worker)
    (failed,) = messages("failed")
    admin = make.admin()
    web.log_in(client, admin.user)
    page = web.text(client.get("/admin?lang=en"))
    assert "E-mail that could not be delivered" in page and "styret@koret.test" in page and "550" in page
    assert "E-post som ikke kom fram" in web.text(client.get("/admin?lang=nb"))
    sink.refuse.clear()
    assert web.post(client, f"/admin/outbox/{failed.id}/retry").status_code == 303
    drain(worker)
    assert sink.to("styret@koret.test")[0].message_id == failed.message_id
    assert "Every e-mail was delivered" in web.text(client.get("/admin?lang=en"))


def test_a_connection_the_server_closed_meanwhile_is_opened_again(worker, sink, client, club):
    room, organization, booker, *_ = club
    assert book(client, booker, room, organization).status_code == 201
    drain(worker)
    assert len(sink.received) == 2 and worker.transport._smtp is not None  # kept open for the next
    sink.stop()  # the server restarts: the kept connection is dead
    sink.start()
    assert book(client, booker, room, organization, "10:00", "11:00").status_code == 201
    drain(worker)
    assert len(sink.received) == 4 and all(m.state == "sent" and m.attempts == 1 for m in messages())
