"""What people are told (SPEC §12): events into the transactional outbox, and who receives them.

A service that changes something calls one of the ``*_event`` helpers below in the same unit of
work: an ``OutboxEvent`` row with the kind, the ids and the few parameters the mail needs that
the database will not keep (a rejection's reason is kept; a move's previous time is not).
Nothing is rendered here; the worker renders each event per recipient when it sends it, so a
change that rolls back leaves nothing to send.

Kinds and parameters (ids are the rows' ids):

=======================  ==========================================  =========================
kind                     params                                      recipients
=======================  ==========================================  =========================
email_confirmation       user_id                                     the user
password_reset           user_id                                     the user
booking_confirmed        booking_ids (one, or a series' occurrences), the organisation's
                         series_id (or null)                         contact and the booker
request_received         booking_ids, series_id                      (booking mail on)
booking_approved         booking_ids, series_id
booking_rejected         booking_ids, series_id, reason
booking_changed          booking_ids, series_id, previous
                         {start, end, room_id}
booking_cancelled        booking_ids, series_id, by
                         (organization | municipality), reason,
                         fee_ore
organization_verified    organization_id, category                   the contact
organization_rejected    organization_id, booking_ids (the open      the contact and every
                         requests it rejected)                       active member
day_sheet                building_id, date                           the building's janitors
                                                                     who opted in
registration_attempt     email, reasons (email_taken,                the address (may be
                         org_number_taken), org_number, language     nobody's account)
allocation_published     round_id, organization_id, allocation_ids   the contact
                         (every application's result; publication)
allocation_offered       round_id, organization_id, allocation_ids   the contact
                         (times offered after publication: freed
                         times allocated, a time set by hand)
offer_lapsed             round_id, organization_id, allocation_ids   the contact
                         (offers not answered by the deadline),
                         times [[id, room_id, weekday, start, end]]
                         and deadline as they were; once per lapse
                         (a unique key)
=======================  ==========================================  =========================

Decisions: the booker is mailed only while a member of the organisation (an administrator
booking on an organisation's behalf is not); a member who turned booking mail off for the
organisation is not mailed, also when the organisation's contact address is theirs; the
contact address gets the mail in the language of the user with that address, else bokmål.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from booking.domain.errors import NotFound, StateConflict
from booking.extensions import db
from booking.models import (
    Booking,
    Organization,
    OutboxEvent,
    OutboxMessage,
    User,
    janitor_buildings,
    memberships,
)
from booking.models.types import NEW_ID, json_around_new_id, text_around, utcnow
from booking.services.access import Actor, require_admin

KINDS = (
    "email_confirmation",
    "password_reset",
    "booking_confirmed",
    "request_received",
    "booking_approved",
    "booking_rejected",
    "booking_changed",
    "booking_cancelled",
    "organization_verified",
    "organization_rejected",
    "day_sheet",
    "registration_attempt",
    "allocation_published",
    "allocation_offered",
    "offer_lapsed",
)
ROUND_KINDS = frozenset({"allocation_published", "allocation_offered", "offer_lapsed"})
BOOKING_KINDS = frozenset(KINDS[2:8])


def emit(kind: str, **params) -> OutboxEvent:
    """Write an event into the outbox in the current transaction (not flushed here)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    event = OutboxEvent(kind=kind, params=_jsonable(params))
    db.session.add(event)
    return event


def emit_at_most_every(interval: timedelta, kind: str, subject: str, **params) -> None:
    """Like :func:`emit`, but at most one such event per ``subject`` and ``interval`` (a
    window of the clock, by a unique key; a second request in the window writes nothing):
    links asked for by mail cannot flood a mailbox, however many clients ask."""
    window = int(utcnow().timestamp() // interval.total_seconds())
    emit_once(f"{kind}:{subject}:{window}", kind, **params)


def emit_once(dedupe_key: str, kind: str, **params) -> bool:
    """Like :func:`emit`, but once per ``dedupe_key`` (a unique key, at most 120 characters):
    a second event with the key, from this transaction or another, writes nothing. Whether
    this one was written."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    result = db.session.execute(
        dialect.insert(OutboxEvent)
        .values(kind=kind, params=_jsonable(params), dedupe_key=dedupe_key, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return result.rowcount == 1


def booking_event(kind: str, bookings: Iterable[Booking], **params) -> list[OutboxEvent]:
    """One event per organisation and series (or single booking) among ``bookings``: a closure
    that displaces eight occurrences of a weekly series sends one mail about the eight."""
    groups: dict[tuple[int, int | None], list[int]] = {}
    for booking in bookings:
        key = (booking.organization_id, booking.series_id or -booking.id)
        groups.setdefault(key, []).append(booking.id)
    return [
        emit(kind, booking_ids=sorted(ids), series_id=series if series > 0 else None, **params)
        for (_, series), ids in sorted(groups.items())
    ]


def new_booking_event(new_row):
    """PostgreSQL: ``booking_event`` for the one single booking that the data-modifying CTE
    ``new_row`` (with an ``id`` column) inserts, as a data-modifying CTE of the same statement;
    its parameters come from ``new_booking_event_parameters``."""
    events = OutboxEvent.__table__
    rows = select(
        bindparam("event_kind", type_=events.c.kind.type),
        text_around("event_params_head", new_row.c.id, "event_params_tail"),
        bindparam("event_created_at", type_=events.c.created_at.type),
    )
    return insert(events).from_select(["kind", "params", "created_at"], rows).cte("event")


def new_booking_event_parameters(kind: str, **params) -> dict:
    """The parameters of ``new_booking_event``: the event ``booking_event(kind, [booking],
    **params)`` writes for a single booking, with the params' text as the ORM writes it."""
    if kind not in BOOKING_KINDS:
        raise ValueError(f"not a booking event: {kind!r}")
    head, tail = json_around_new_id(_jsonable(dict(booking_ids=[NEW_ID], series_id=None, **params)))
    return {
        "event_kind": kind,
        "event_params_head": head,
        "event_params_tail": tail,
        "event_created_at": utcnow(),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --- recipients (the worker expands each event once) ------------------------------------------


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    language: str
    user_id: int | None


def recipients(event: OutboxEvent) -> list[Recipient]:
    """Who gets ``event``, each address once, in the order contact, booker (SPEC §12)."""
    params = event.params
    if event.kind in ("email_confirmation", "password_reset"):
        user = db.session.get(User, params["user_id"])
        return [_user_recipient(user)] if user is not None and user.active else []
    if event.kind == "organization_verified":
        organization = db.session.get(Organization, params["organization_id"])
        return _unique([_contact(organization)]) if organization is not None else []
    if event.kind == "organization_rejected":
        return _organization_recipients(params["organization_id"])
    if event.kind in ROUND_KINDS:  # SPEC §14: results, offers and lapses, to the contact
        organization = db.session.get(Organization, params["organization_id"])
        return _unique([_contact(organization)]) if organization is not None else []
    if event.kind == "registration_attempt":
        return [_address_recipient(params["email"], params.get("language"))]
    if event.kind == "day_sheet":
        janitors = db.session.execute(
            select(User)
            .join(janitor_buildings, janitor_buildings.c.user_id == User.id)
            .where(
                janitor_buildings.c.building_id == params["building_id"],
                janitor_buildings.c.morning_sheet.is_(True),
                User.active.is_(True),
            )
            .order_by(User.id)
        ).scalars()
        return _unique([_user_recipient(user) for user in janitors])
    return _booking_recipients(params["booking_ids"])


def is_still_addressed(event: OutboxEvent, address: str, shared: dict | None = None) -> bool:
    """Whether ``address`` is still among the event's recipients (checked again when sending:
    a message may wait for a retry while people leave, turn the mail off or lose access).
    ``shared`` keeps the answer for the event's other messages of the same pass."""
    key = ("recipients", event.id)
    addresses = shared.get(key) if shared is not None else None
    if addresses is None:
        addresses = {recipient.address for recipient in recipients(event)}
        if shared is not None:
            shared[key] = addresses
    return address in addresses


def _booking_recipients(booking_ids: list[int]) -> list[Recipient]:
    """The organisation's contact and the booker, less members who turned booking mail off for
    the organisation; nobody outside it."""
    booking = db.session.get(Booking, booking_ids[0])
    if booking is None:
        return []
    organization = db.session.get(Organization, booking.organization_id)
    members = {
        user.id: (user, booking_mail)
        for user, booking_mail in db.session.execute(
            select(User, memberships.c.booking_mail)
            .join(memberships, memberships.c.user_id == User.id)
            .where(memberships.c.organization_id == organization.id, User.active.is_(True))
        )
    }
    silenced = {user.email for user, booking_mail in members.values() if not booking_mail}
    wanted = [_contact(organization)]
    if booking.booked_by_id in members:
        wanted.append(_user_recipient(members[booking.booked_by_id][0]))
    return [r for r in _unique(wanted) if r.address not in silenced]


def _organization_recipients(organization_id: int) -> list[Recipient]:
    """The contact and every active member, each once: news about the organisation itself (not
    a booking mail, so the members' booking-mail choice does not silence it)."""
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        return []
    members = db.session.execute(
        select(User)
        .join(memberships, memberships.c.user_id == User.id)
        .where(memberships.c.organization_id == organization.id, User.active.is_(True))
        .order_by(User.id)
    ).scalars()
    return _unique([_contact(organization), *(_user_recipient(user) for user in members)])


def _contact(organization: Organization) -> Recipient | None:
    """The organisation's contact address, in the language of the user with that address."""
    address = (organization.email or "").strip().lower()
    if not address:
        return None
    user = db.session.execute(select(User).where(User.email == address)).scalar_one_or_none()
    language = user.language if user is not None else "nb"
    return Recipient(address, organization.contact_name, language, user.id if user is not None else None)


def _address_recipient(address: str, language: str | None) -> Recipient:
    """An address typed into a registration: the user's name and language when it is a user's
    (an active one), else no name (the name typed with it is anyone's words) and the language
    of the registration."""
    address = address.strip().lower()
    user = db.session.execute(
        select(User).where(User.email == address, User.active.is_(True))
    ).scalar_one_or_none()
    if user is not None:
        return _user_recipient(user)
    return Recipient(address, "", language if language in ("nb", "en") else "nb", None)


def _user_recipient(user: User) -> Recipient:
    return Recipient(user.email, user.name, user.language, user.id)


def _unique(candidates: Iterable[Recipient | None]) -> list[Recipient]:
    seen, result = set(), []
    for recipient in candidates:
        if recipient is not None and recipient.address not in seen:
            seen.add(recipient.address)
            result.append(recipient)
    return result


# --- the outbox for admins ----------------------------------------------------------------------


def outbox_messages(actor: Actor, state: str):
    """Messages in ``state``, newest first (admin)."""
    require_admin(actor)
    return (
        select(OutboxMessage)
        .where(OutboxMessage.state == state)
        .options(joinedload(OutboxMessage.event))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )


def retry_message(actor: Actor, message_id: int) -> OutboxMessage:
    """Send a failed or waiting message again at the next pass, with the same Message-ID."""
    require_admin(actor)
    message = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    ).scalar_one_or_none()
    if message is None:
        raise NotFound(f"There is no message {message_id}.")
    if message.state == "sent":
        raise StateConflict("The message was sent already.")
    message.state, message.next_attempt_at, message.attempts = "pending", utcnow(), 0
    db.session.flush()
    return message
