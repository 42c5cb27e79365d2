from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from booking.domain.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from booking.domain.lifecycle import Status
from booking.domain.organizations import effective_price_category, is_valid_org_number, propose_price_category
from booking.extensions import db
from booking.models import Booking, Organization, Room, User
from booking.models.types import utcnow
from booking.services.access import Actor, can_act_for_organization, require_admin, require_role, require_user
from booking.services.auth import hash_password
from booking.services.bookings import reject_requests
from booking.services.notifications import emit, emit_at_most_every
from booking.services.pricing import price_lists, quote_occurrences
from booking.services.registry import RegistryFacts, facts_for
from pricing import PriceList, Quote
from pricing.cancellation import owed_moves, with_moves

FACTS = ("voluntary", "non_profit", "local", "registered_in_frivillighetsregisteret", "youth_activity")
EDITABLE = ("name", "contact_name", "email", "phone", *FACTS)


def get_organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organisation {organization_id}.")
    return organization


def _comes_to_janitor_buildings(actor: Actor):
    """SQL condition: the organisation has a confirmed booking, past or future, in one of the
    janitor's buildings. A janitor sees contacts only for bookings in their buildings (SPEC §2,
    §13), and the bookings they see are the confirmed ones (the day schedule and the janitor
    feed leave requests out: nobody comes for them); a past booking still counts, for the
    follow-up after an evening."""
    return (
        select(Booking.id)
        .join(Room, Room.id == Booking.room_id)
        .where(
            Booking.organization_id == Organization.id,
            Booking.status == Status.CONFIRMED,
            Room.building_id.in_(sorted(actor.building_ids)),
        )
        .exists()
    )


def read_organization(actor: Actor, organization_id: int) -> Organization:
    """Admins read every organisation; members their own; janitors those that have a confirmed
    booking in one of their buildings (403 for any other)."""
    require_user(actor)
    organization = get_organization(organization_id)
    if actor.role == "janitor":
        visible = db.session.scalar(
            select(Organization.id).where(
                Organization.id == organization_id, _comes_to_janitor_buildings(actor)
            )
        )
        if visible is None:
            raise PermissionDenied("This organisation has no booking in the buildings assigned to you.")
    elif not can_act_for_organization(actor, organization_id):
        raise PermissionDenied("You are not a member of this organisation.")
    return organization


def list_organizations(actor: Actor, verified: bool | None = None):
    """Every organisation for admins; for janitors those with a confirmed booking in one of
    their buildings (see ``read_organization``)."""
    require_role(actor, "admin", "janitor")
    query = select(Organization).order_by(Organization.name, Organization.id)
    if actor.role == "janitor":
        query = query.where(_comes_to_janitor_buildings(actor))
    if verified is not None:
        query = query.where(Organization.verified.is_(verified))
    return query


def _propose(organization: Organization) -> str:
    return propose_price_category(
        voluntary=organization.voluntary,
        local=organization.local,
        registered=organization.registered_in_frivillighetsregisteret,
        youth_activity=organization.youth_activity,
        non_profit=organization.non_profit,
    )


# --- self-registration (SPEC §13) ---------------------------------------------------------------
#
# Two doors. ``receive_registration`` is what the API and the page call: an anonymous caller gets
# the same answer (a ``RegistrationReceipt``) whether or not the organisation number or the
# address is registered already, and the address gets a mail that says so instead. A logged-in
# caller gets the organisation. ``register_organization`` is the plain verb (the command line,
# demo data, tests, and the logged-in door): it creates the organisation or raises StateConflict.

# At most one mail about a refused registration per address in this window of the clock, however
# many clients register with the address (the rate limit is per client address), as for the
# account links.
ATTEMPT_MAIL_INTERVAL = timedelta(minutes=5)
EMAIL_TAKEN = "email_taken"
ORG_NUMBER_TAKEN = "org_number_taken"


@dataclass(frozen=True)
class RegistrationReceipt:
    """A registration as received and proposed: what was typed, with the register's facts where
    it knows the number. It is made from the input and the register (public open data) only,
    never from what is registered with the service, so it is the same whether the registration
    created anything or the address got a mail instead; it has no id for that reason."""

    org_number: str
    name: str  # the registered name when the register knows the number, else as typed
    stated_name: str  # as typed
    contact_name: str
    email: str
    phone: str
    voluntary: bool
    non_profit: bool
    local: bool
    registered_in_frivillighetsregisteret: bool
    youth_activity: bool
    proposed_category: str
    register: RegistryFacts | None
    verified: bool = False

    @property
    def price_category(self) -> str:
        return self.proposed_category

    @property
    def effective_category(self) -> str:
        return effective_price_category(self.price_category, self.verified)

    def columns(self) -> dict:
        """The organisation's columns as proposed (unverified)."""
        return {
            key: getattr(self, key)
            for key in ("org_number", "stated_name", "proposed_category", "price_category", "verified")
            + EDITABLE
        }


@dataclass(frozen=True)
class Registration:
    """What a registration through the API or the page answers: always the receipt; the
    organisation only for a logged-in caller."""

    receipt: RegistrationReceipt
    organization: Organization | None


def propose_registration(data: dict) -> RegistrationReceipt:
    """The organisation as it would be registered (SPEC §13). When the register knows the number,
    ``local`` and ``registered_in_frivillighetsregisteret`` are the register's, whatever was
    ticked, ``name`` is the registered name (the public one) and ``stated_name`` the typed one;
    the category is proposed from the facts that result. When it does not, everything is as
    typed and ``stated_name`` is the typed name too: what the organisation said is kept either
    way, so a register imported later can show the admin a mismatch."""
    org_number = data["org_number"]
    if not is_valid_org_number(org_number):
        raise InvalidInput({"org_number": ["Not a valid Norwegian organisation number (9 digits, mod-11)."]})
    typed = {key: data.get(key, False if key in FACTS else "") for key in EDITABLE}
    register = facts_for(org_number)
    if register is not None:
        # Organisation names are 200 characters here; the register allows longer ones.
        typed["name"] = register.name.strip()[:200] or typed["name"]
        typed["local"] = register.local
        typed["registered_in_frivillighetsregisteret"] = register.registered_in_frivillighetsregisteret
    category = propose_price_category(
        voluntary=typed["voluntary"],
        local=typed["local"],
        registered=typed["registered_in_frivillighetsregisteret"],
        youth_activity=typed["youth_activity"],
        non_profit=typed["non_profit"],
    )
    return RegistrationReceipt(
        org_number=org_number,
        stated_name=data["name"],
        proposed_category=category,
        register=register,
        **typed,
    )


def register_organization(actor: Actor, data: dict, language: str = "nb") -> Organization:
    """Create an organisation from a registration (``propose_registration``): unverified, priced
    ``full`` until an admin verifies it. A logged-in member becomes a member of it; an anonymous
    registrant who gives a password gets a member account for the contact address,
    unconfirmed, with mails in ``language`` and a mail with the link that confirms the address.

    A number registered already is a StateConflict (409), also when two registrations race (the
    unique constraint decides). That is the answer for a logged-in caller: their address is
    confirmed and they are accountable, and the organisations using the service are no secret
    (their bookings show their names publicly). Anonymous HTTP callers come through
    ``receive_registration``, which never tells."""
    proposal = propose_registration(data)
    if actor.role == "member":
        _require_a_verified_organization(actor)
    password_hash = None
    if not actor.is_authenticated and data.get("password"):
        password_hash = hash_password(data["password"])
        if _address_taken(proposal.email):
            raise StateConflict(f"A user with the e-mail {_address(proposal.email)} exists already.")
    if _org_number_taken(proposal.org_number):
        raise StateConflict(f"Organisation number {proposal.org_number} is registered already.")
    try:
        return _create(actor, proposal, password_hash, language)
    except IntegrityError as error:
        raise StateConflict(
            f"Organisation number {proposal.org_number} or the address was registered meanwhile."
        ) from error


def _require_a_verified_organization(actor: Actor) -> None:
    """A member registers a further organisation only once one of theirs is verified: anyone can
    become a member of an unverified organisation (register, confirm the address), and such a
    member would otherwise learn from the 409 which numbers are registered and, after a
    rejection, carry on under a new number with ten fresh open requests."""
    verified = db.session.scalar(
        select(Organization.id)
        .where(Organization.id.in_(sorted(actor.organization_ids)), Organization.verified.is_(True))
        .limit(1)
    )
    if verified is None:
        raise PermissionDenied(
            "You can register a further organisation once the municipality has verified one of yours."
        )


def receive_registration(actor: Actor, data: dict, language: str = "nb") -> Registration:
    """A registration through the API or the page (SPEC §13).

    Logged in: ``register_organization`` (a taken number is a 409; see there). Anonymous: the
    answer is the receipt whatever happens, and it never tells whether the number or the
    address is registered already:

    * nothing taken: the organisation is created (with the account when a password is given);
    * the number is registered already, or a password is given and a user has the address:
      nothing is created, and the address gets a ``registration_attempt`` mail saying why (at
      most one per address in ``ATTEMPT_MAIL_INTERVAL``);
    * a registration of the same number or address committed meanwhile (a race): the unique
      constraints refuse the insert, the savepoint is rolled back, and it is the case above.

    The password is hashed first on every path, so the time of the answer does not tell either.
    Without a password nobody gets an account (an admin can add members later); the address is
    then taken only by an organisation number, not by a user with it."""
    proposal = propose_registration(data)
    if actor.is_authenticated:
        return Registration(proposal, register_organization(actor, data, language))
    password_hash = hash_password(data["password"]) if data.get("password") else None
    reasons = _taken(proposal, wants_account=password_hash is not None)
    if not reasons:
        try:
            _create(actor, proposal, password_hash, language)
            return Registration(proposal, None)
        except IntegrityError:
            reasons = _taken(proposal, wants_account=password_hash is not None)
            if not reasons:
                raise  # another constraint: not a duplicate (a 409 all the same, errors.py)
    _mail_the_address(proposal, reasons, language)
    return Registration(proposal, None)


def _address(email: str) -> str:
    return email.strip().lower()


def _address_taken(email: str) -> bool:
    return db.session.execute(select(User.id).where(User.email == _address(email))).first() is not None


def _org_number_taken(org_number: str) -> bool:
    found = db.session.execute(select(Organization.id).where(Organization.org_number == org_number)).first()
    return found is not None


def _taken(proposal: RegistrationReceipt, *, wants_account: bool) -> list[str]:
    """Why the registration cannot be made: the address (only when it would get an account) and
    the number, in that order."""
    reasons = []
    if wants_account and _address_taken(proposal.email):
        reasons.append(EMAIL_TAKEN)
    if _org_number_taken(proposal.org_number):
        reasons.append(ORG_NUMBER_TAKEN)
    return reasons


def _create(
    actor: Actor, proposal: RegistrationReceipt, password_hash: str | None, language: str
) -> Organization:
    """Insert the organisation, the membership or the registrant's account, and the confirmation
    mail, inside a savepoint: when a registration of the same number or address commits first,
    its unique constraint refuses this insert (IntegrityError), and rolling back to the savepoint
    leaves the request's transaction usable for the answer."""
    with db.session.begin_nested():
        organization = Organization(**proposal.columns())
        db.session.add(organization)
        db.session.flush()
        if actor.role == "member":
            member = db.session.get(User, actor.user_id)  # held: the session keeps it weakly
            member.organizations.append(organization)
        elif not actor.is_authenticated and password_hash is not None:
            user = User(
                email=_address(proposal.email),
                name=proposal.contact_name,
                role="member",
                password_hash=password_hash,
                language=language,
                email_confirmed_at=None,
                organizations=[organization],
            )
            db.session.add(user)
            db.session.flush()
            emit("email_confirmation", user_id=user.id)
        db.session.flush()
    return organization


def _mail_the_address(proposal: RegistrationReceipt, reasons: list[str], language: str) -> None:
    """Tell the address typed in why nothing was registered (``registration_attempt``). The
    address is in the event, as it may be nobody's account; the dedupe key names it by a hash."""
    address = _address(proposal.email)
    emit_at_most_every(
        ATTEMPT_MAIL_INTERVAL,
        "registration_attempt",
        hashlib.sha256(address.encode()).hexdigest()[:32],
        email=address,
        reasons=reasons,
        org_number=proposal.org_number,
        language=language,
    )


def update_organization(actor: Actor, organization_id: int, data: dict) -> Organization:
    """Admin edits, including verification and the price category (SPEC §11).

    When the category prices are computed with changes (verified, or re-categorised while
    verified), the organisation's pending requests are re-quoted at the new category in the same
    transaction, as a new request would be: an admin choosing between competing requests sees
    the price the winner will pay. Confirmed bookings keep their snapshots (a confirmed price
    never changes by itself); ``count_repriceable`` tells how many ``reprice_bookings`` would
    change."""
    require_admin(actor)
    organization = _lock_organization(organization_id)
    was_verified = organization.verified
    for key in (*EDITABLE, "price_category", "verified"):
        if key in data:
            setattr(organization, key, data[key])
    if data.get("verified") is True:
        organization.rejected_at = None  # verifying a rejected organisation lifts the rejection
    if any(key in data for key in FACTS):
        organization.proposed_category = _propose(organization)
    if "verified" in data or "price_category" in data:
        category = organization.effective_category
        pending = _lock_bookings(
            organization.id, Booking.status == Status.PENDING, _priced_otherwise(category)
        )
        _requote(pending, category)
    if organization.verified and not was_verified:
        emit("organization_verified", organization_id=organization.id, category=organization.price_category)
    db.session.flush()
    return organization


# --- rejection (SPEC §13) ---------------------------------------------------------------------

# The reason each open request of a rejected organisation gets (``status_reason``, as the other
# rejections' reasons are stored); the notification carries the code ``organization_rejected``.
REJECTED_REQUEST_REASON = "The municipality rejected the organisation."


@dataclass(frozen=True)
class OrganizationRejection:
    """An organisation after an admin rejected it, with how many open requests that rejected
    (a series counts once; 0 when it was rejected already)."""

    organization: Organization
    rejected_requests: int


def reject_organization(actor: Actor, organization_id: int) -> Organization:
    """The admin rejects an organisation (SPEC §13); see ``reject_and_count``."""
    return reject_and_count(actor, organization_id).organization


def reject_and_count(
    actor: Actor, organization_id: int, now: datetime | None = None
) -> OrganizationRejection:
    """Reject the organisation: ``rejected_at`` set, no longer verified, every open request
    (``pending``) rejected, and its contact and members told in one mail (``organization_rejected``,
    not one mail per request). It can then book nothing (``booking.services.bookings``) until an
    admin verifies it, which lifts the rejection. Confirmed bookings stay: an admin cancels them
    one by one if they must go.

    Idempotent: rejecting a rejected organisation changes nothing and mails nobody. Lock order as
    ``update_organization``: the organisation row, then its requests by id; a create of the
    organisation holds the row FOR SHARE, so it commits before (its request is rejected here) or
    waits and is refused; a verification takes effect wholly before or after."""
    require_admin(actor)
    organization = _lock_organization(organization_id)
    if organization.rejected_at is not None:
        return OrganizationRejection(organization, 0)
    now = now or utcnow()
    organization.rejected_at = now
    organization.verified = False
    requests = _lock_bookings(organization.id, Booking.status == Status.PENDING)
    rejected = reject_requests(requests, REJECTED_REQUEST_REASON, now)
    emit("organization_rejected", organization_id=organization.id, booking_ids=[b.id for b in rejected])
    db.session.flush()
    # Requests as the limit of open requests counts them: a series once.
    return OrganizationRejection(organization, len({b.series_id or -b.id for b in rejected}))


# --- prices of an organisation's bookings (SPEC §11) ------------------------------------------
#
# Lock order: the organisation row, then its bookings by id. A verification or re-pricing that
# races a member's move or cancel of one of the bookings then takes effect before or after it,
# never in between: the row lock waits for the other transaction and re-reads the row it
# committed (PostgreSQL re-checks the WHERE on that version, so a booking cancelled meanwhile
# drops out); SQLite serializes write transactions with BEGIN IMMEDIATE and ignores row locks.
#
# The locks are FOR NO KEY UPDATE (``key_share=True``), the lock an UPDATE of non-key columns
# takes, not FOR UPDATE: inserting a row that refers to the organisation (a notification of an
# approval, a booking) takes FOR KEY SHARE on it, which FOR UPDATE would block. An approval
# holding one of the organisation's requests and notifying the organisation would then wait for
# a verification that waits for that request: a deadlock (tests/integration/test_org_reprice.py).


def _lock_organization(organization_id: int) -> Organization:
    organization = db.session.execute(
        select(Organization)
        .where(Organization.id == organization_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if organization is None:
        raise NotFound(f"There is no organisation {organization_id}.")
    return organization


def _lock_bookings(organization_id: int, *conditions) -> list[Booking]:
    return list(
        db.session.execute(
            select(Booking)
            .where(Booking.organization_id == organization_id, *conditions)
            .order_by(Booking.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _priced_otherwise(category: str):
    """Bookings whose snapshot was priced with another category than ``category``."""
    return Booking.quote["category"].as_string() != category


def _repriceable(category: str, now: datetime) -> tuple:
    """Confirmed bookings that have not started and were priced with another category."""
    return (Booking.status == Status.CONFIRMED, Booking.start > now, _priced_otherwise(category))


def _requote(bookings: list[Booking], category: str, lists: list[PriceList] | None = None) -> None:
    """A new snapshot for each booking at ``category``, by the price list in force on its date.
    What earlier moves of a booking cost stays in its snapshot: that is owed whatever its time
    is priced at now."""
    if not bookings:
        return
    lists = price_lists() if lists is None else lists
    for booking in bookings:
        fresh = quote_occurrences(
            booking.room, category, [(booking.start, booking.end)], booking.own_supervisor, lists
        )[0]
        booking.quote = with_moves(fresh, owed_moves(Quote.from_dict(booking.quote))).to_dict()
        booking.touch()


@dataclass(frozen=True)
class OrganizationUpdate:
    """An organisation after an admin's change, with what an explicit re-pricing would change."""

    organization: Organization
    repriceable_bookings: int


def change_organization(actor: Actor, organization_id: int, data: dict) -> OrganizationUpdate:
    """``update_organization``, answered with the number of bookings ``reprice_bookings`` would
    re-price (the admin is shown it, SPEC §11)."""
    organization = update_organization(actor, organization_id, data)
    return OrganizationUpdate(organization, count_repriceable(organization))


def count_repriceable(organization: Organization, now: datetime | None = None) -> int:
    """How many confirmed bookings of the organisation that have not started are priced with
    another category than its current one (what ``reprice_bookings`` would change)."""
    now = now or utcnow()
    conditions = _repriceable(organization.effective_category, now)
    query = select(func.count(Booking.id)).where(Booking.organization_id == organization.id, *conditions)
    return db.session.scalar(query) or 0


def reprice_bookings(actor: Actor, organization_id: int, now: datetime | None = None) -> list[Booking]:
    """The admin's explicit re-pricing (SPEC §11): every confirmed booking of the organisation
    that has not started and was priced with another category gets a new snapshot at the
    current category, by the price list in force on its date. Each change raises the booking's
    sequence and is in the audit log (before and after) like any other change. Returns the
    re-priced bookings, by id."""
    require_admin(actor)
    organization = _lock_organization(organization_id)
    now = now or utcnow()
    category = organization.effective_category
    bookings = _lock_bookings(organization.id, *_repriceable(category, now))
    _requote(bookings, category)
    db.session.flush()
    return bookings
