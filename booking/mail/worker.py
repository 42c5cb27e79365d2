"""The mail worker (``booking worker``, SPEC §12): outbox events out as e-mail.

Each pass (every ``BOOKING_MAIL_POLL_SECONDS`` while idle):

1. *Morning sheets*: from ``BOOKING_MORNING_SHEET_HOUR`` (Oslo time) on, one ``day_sheet`` event
   per building with a janitor who opted in, for tomorrow; made once per building and date
   (a unique key), however many workers run.
2. *Lapsed offers* (SPEC §14): the published rounds whose deadline for offers has passed and
   that still hold open offers are found (one statement, no lock); each round's open offers are
   stored as ``lapsed`` under the round's lock by a conditional UPDATE (an accept that locked
   the row first wins) and each organisation gets one ``offer_lapsed`` event, in the same
   transaction (see ``booking.services.rounds.lapse_round_offers``). A lapse a change of the
   round stored first (lazily) was told by that change; the sweep finds nothing left.
3. *Expand*: each new event becomes one message per recipient, with a ``Message-ID`` derived
   from the event and the address, in one transaction that also marks the event expanded.
4. *Send*: due messages are claimed with a lease (a conditional UPDATE; on PostgreSQL the rows
   are picked ``FOR UPDATE SKIP LOCKED``, so workers never wait for each other, and SQLite
   serializes the claims), rendered in the recipient's language, sent, and marked ``sent``.

Crashes: a message is marked sent only after the server accepted it. A worker that dies in
between leaves it claimed; when the lease runs out another worker (or the restarted one) sends
it again with the same ``Message-ID``, so nothing is lost and a deduplicating server delivers
it once. Two live workers never hold the same message: the claim is atomic and the lease
(``BOOKING_MAIL_LEASE_SECONDS``, default 120 s) outlasts the SMTP timeouts of a batch.

A message whose recipient is no longer one by the time it is sent (left the organisation,
turned the mail off, lost the building or the account) is ``withdrawn``, not sent.

Failures: a 5xx refusal fails the message at once; anything else (server down, timeouts, 4xx)
is retried after ``BOOKING_MAIL_RETRY_SECONDS`` x 2^(attempts-1), at most an hour apart, until
``BOOKING_MAIL_MAX_ATTEMPTS``; then the message is ``failed`` and listed for admins
(``GET /api/v1/outbox?state=failed``). When the server cannot be reached, the rest of the batch
is put back untried (no attempt counted) to wait with the first.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from flask import Flask, current_app
from sqlalchemy import literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from booking.extensions import begin_write_transaction, db, end_unit_of_work
from booking.mail.content import Content, Gone, render_content
from booking.mail.transport import DeliveryError, Outgoing, transport_for
from booking.models import OutboxEvent, OutboxMessage, janitor_buildings
from booking.models.types import utcnow
from booking.services.notifications import is_still_addressed, recipients
from booking.services.rounds import lapse_round_offers, rounds_with_lapsing_offers
from pricing.weekly import OSLO

log = logging.getLogger("booking.mail")

BATCH = 20
MAX_RETRY_DELAY = timedelta(hours=1)


def message_id(event_id: int, address: str, sender: str) -> str:
    """The same ``Message-ID`` for an event and recipient however often it is sent."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    return f"<outbox.{event_id}.{digest}@{domain}>"


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """Exponential backoff after the ``attempts``-th failed try."""
    return min(timedelta(seconds=base_seconds * 2 ** (attempts - 1)), MAX_RETRY_DELAY)


class Worker:
    """One worker process's loop; any number of them may run against one database."""

    def __init__(self, app: Flask, transport=None) -> None:
        self.app = app
        self.config = app.config
        self.transport = transport or transport_for(app.config, app.instance_path)
        self.token = secrets.token_hex(16)  # names this worker's leases
        self._sheets_checked: datetime | None = None

    def run(self, once: bool = False, should_stop=lambda: False) -> None:
        """Work until stopped; with ``once``, until nothing is left to do now."""
        try:
            while not should_stop():
                try:
                    with self.app.app_context():
                        done = self.step()
                except Exception:  # the database restarting, a lock timeout: the next pass tries again
                    if once:
                        raise
                    log.exception("a pass of the mail worker failed; trying again")
                    done = 0
                if once and not done:
                    return
                if not done:
                    time.sleep(self.config["BOOKING_MAIL_POLL_SECONDS"])
        finally:
            self.transport.close()

    def step(self, now: datetime | None = None) -> int:
        """One pass; returns how many events and messages it handled."""
        now = now or utcnow()
        self.schedule_morning_sheets(now)
        try:
            lapse_offers(now)
        except Exception:  # mail already due is sent all the same; the next pass tries again
            log.exception("storing the lapsed offers failed; trying again at the next pass")
            db.session.rollback()
        return expand_events(now) + self.send_due()

    # --- morning sheets ---------------------------------------------------------------------

    def schedule_morning_sheets(self, now: datetime) -> None:
        if self._sheets_checked and now - self._sheets_checked < timedelta(minutes=1):
            return
        self._sheets_checked = now
        local = now.astimezone(OSLO)
        if local.hour < self.config["BOOKING_MORNING_SHEET_HOUR"]:
            return
        schedule_day_sheets(local.date() + timedelta(days=1))

    # --- sending ----------------------------------------------------------------------------

    def send_due(self) -> int:
        ids = self._claim()
        # What all recipients of an event share (who they are, what the mail says in a language)
        # is read once per pass: the messages of an event are claimed together.
        shared: dict = {}
        for position, message_id_ in enumerate(ids):
            if not self._deliver(message_id_, shared):  # the server is unreachable: the rest wait too
                self._release(ids[position + 1 :])
                break
        return len(ids)

    def _claim(self) -> list[int]:
        now = utcnow()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(BATCH)
        )
        if not _any(due):
            return []
        begin_write_transaction()
        lease_until = now + timedelta(seconds=self.config["BOOKING_MAIL_LEASE_SECONDS"])
        ids = (
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.with_for_update(skip_locked=True).scalar_subquery()))
                .values(lease_until=lease_until, lease_token=self.token)
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False},
            )
            .scalars()
            .all()
        )
        end_unit_of_work(succeeded=True)
        return sorted(ids)

    def _deliver(self, id_: int, shared: dict) -> bool:
        """Render and send one claimed message; False when the server could not be reached."""
        message = db.session.get(OutboxMessage, id_)
        if not is_still_addressed(message.event, message.recipient, shared):
            # Between the event and now the person left the organisation, turned the mail off,
            # lost the building or the account: they are no longer told.
            end_unit_of_work(succeeded=True)
            self._settle(id_, state="withdrawn", last_error="no longer a recipient of this event")
            return True
        try:
            content = render_content(message.event, message, shared)
        except Gone as error:
            end_unit_of_work(succeeded=False)
            self._fail(id_, f"nothing to send: {error}", permanent=True)
            return True
        except Exception as error:  # a defect in rendering: logged, retried like a failed send
            log.exception("rendering message %s failed", id_)
            end_unit_of_work(succeeded=False)
            self._fail(id_, f"rendering failed: {type(error).__name__}: {error}", permanent=False)
            return True
        try:
            outgoing = build_email(message, content, self.config["BOOKING_MAIL_FROM"])
        except Exception as error:  # e.g. an address the mail format cannot carry: trying again won't help
            end_unit_of_work(succeeded=False)
            self._fail(id_, f"cannot be written as a mail: {type(error).__name__}: {error}", permanent=True)
            return True
        end_unit_of_work(succeeded=True)  # end the read transaction before the network
        try:
            self.transport.send(outgoing)
        except DeliveryError as error:
            log.warning("mail %s %s not sent: %s", outgoing.message_id, outgoing.summary, error.detail)
            self._fail(id_, error.detail, permanent=error.permanent)
            return not error.unreachable
        except Exception as error:  # a defect or a surprise of the mail library: the mail waits
            log.exception("sending message %s failed", id_)
            self._fail(id_, f"sending failed: {type(error).__name__}: {error}", permanent=False)
            return False
        self._settle(id_, state="sent", sent_at=utcnow(), attempts=OutboxMessage.attempts + 1, last_error="")
        return True

    def _fail(self, id_: int, detail: str, *, permanent: bool) -> None:
        attempts = db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == id_)) + 1
        end_unit_of_work(succeeded=True)
        if permanent or attempts >= self.config["BOOKING_MAIL_MAX_ATTEMPTS"]:
            self._settle(id_, state="failed", attempts=attempts, last_error=detail[:2000])
        else:
            delay = retry_delay(attempts, self.config["BOOKING_MAIL_RETRY_SECONDS"])
            self._settle(id_, attempts=attempts, next_attempt_at=utcnow() + delay, last_error=detail[:2000])

    def _settle(self, id_: int, **values) -> None:
        """Record an outcome, if this worker still holds the message's lease."""
        begin_write_transaction()
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == id_, OutboxMessage.lease_token == self.token)
            .values(lease_until=None, lease_token=None, **values),
            execution_options={"synchronize_session": False},
        )
        end_unit_of_work(succeeded=True)
        if result.rowcount == 0:
            log.warning("message %s: lease lost before its outcome was recorded", id_)

    def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        begin_write_transaction()
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_token == self.token)
            .values(lease_until=None, lease_token=None),
            execution_options={"synchronize_session": False},
        )
        end_unit_of_work(succeeded=True)


def expand_events(now: datetime | None = None, limit: int = 100) -> int:
    """Turn new events into messages, one per recipient; returns how many events it expanded."""
    now = now or utcnow()
    sender = current_app.config["BOOKING_MAIL_FROM"]
    new = select(OutboxEvent).where(OutboxEvent.expanded_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
    if not _any(new):
        return 0
    begin_write_transaction()
    events = db.session.execute(new.with_for_update(skip_locked=True)).scalars().all()
    for event in events:
        for recipient in recipients(event):
            db.session.add(
                OutboxMessage(
                    event_id=event.id,
                    recipient=recipient.address,
                    name=recipient.name,
                    user_id=recipient.user_id,
                    language=recipient.language,
                    message_id=message_id(event.id, recipient.address, sender),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        event.expanded_at = now
    end_unit_of_work(succeeded=True)
    return len(events)


def _any(query) -> bool:
    """Whether ``query`` finds a row, read without taking a lock: an idle worker never takes
    SQLite's write lock (nor row locks on PostgreSQL) just to find that there is nothing to do."""
    found = db.session.execute(query.with_only_columns(literal(1)).limit(1)).first() is not None
    end_unit_of_work(succeeded=True)
    return found


def lapse_offers(now: datetime | None = None) -> int:
    """Store the offers past their round's deadline as lapsed and write their mails, one
    transaction per round; how many offers lapsed. Idle, it only reads."""
    now = now or utcnow()
    round_ids = db.session.execute(rounds_with_lapsing_offers(now)).scalars().all()
    end_unit_of_work(succeeded=True)
    lapsed = 0
    for round_id in round_ids:
        try:
            lapsed += lapse_round_offers(round_id, now)
        except BaseException:
            end_unit_of_work(succeeded=False)
            raise
        end_unit_of_work(succeeded=True)
    return lapsed


def schedule_day_sheets(day) -> None:
    """The ``day_sheet`` events for ``day``, once per building (a second call adds nothing)."""
    begin_write_transaction()
    buildings = db.session.execute(
        select(janitor_buildings.c.building_id)
        .where(janitor_buildings.c.morning_sheet.is_(True))
        .distinct()
        .order_by(janitor_buildings.c.building_id)
    ).scalars()
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    for building_id in list(buildings):
        db.session.execute(
            dialect.insert(OutboxEvent)
            .values(
                kind="day_sheet",
                params={"building_id": building_id, "date": day.isoformat()},
                dedupe_key=f"day_sheet:{building_id}:{day.isoformat()}",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
    end_unit_of_work(succeeded=True)


def build_email(message: OutboxMessage, content: Content, sender: str) -> Outgoing:
    """The MIME message (text and HTML alternatives, then the attachments), written out once.
    Its Date is the event's, so a message sent again is the same message."""
    email = EmailMessage()
    email["Subject"] = header_text(content.subject)
    email["From"] = sender
    email["To"] = Address(display_name=header_text(message.name or ""), addr_spec=message.recipient)
    email["Date"] = format_datetime(message.event.created_at)
    email["Message-ID"] = message.message_id
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(content.text)
    email.add_alternative(content.html, subtype="html")
    for attachment in content.attachments:
        kind, _, rest = attachment.content_type.partition(";")
        maintype, _, subtype = kind.strip().partition("/")
        params = dict(
            (key.strip(), value.strip()) for key, _, value in (p.partition("=") for p in rest.split(";") if p)
        )
        email.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename, params=params
        )
    email["Content-Language"] = message.language  # last: making the parts moves Content-* headers
    return Outgoing(
        message_id=message.message_id,
        sender=parseaddr(sender)[1] or sender,
        recipient=message.recipient,
        data=email.as_bytes(policy=SMTP),  # what cannot be written (a non-ASCII local part) fails here
        summary=f"to {message.recipient}: {email['Subject']}",
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_text(value: str) -> str:
    """Text people typed (a title, a name), safe in a header: one line without control
    characters, and no ``=?`` that could start an encoded word. Python's email package before
    3.11.10 decodes an encoded word's line break into the header it writes (CVE-2024-6923):
    a title like ``=?utf-8?q?x=0D=0ABcc:_...?=`` would add headers or end them."""
    return " ".join(_CONTROL.sub(" ", value).split()).replace("=?", "= ?")
