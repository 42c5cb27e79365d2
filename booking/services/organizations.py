from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from booking.domain.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from booking.domain.lifecycle import Status
from booking.domain.organizations import is_valid_org_number, propose_price_category
from booking.extensions import db
from booking.models import Booking, Organization, User
from booking.models.types import utcnow
from booking.services.access import Actor, can_act_for_organization, require_admin, require_role, require_user
from booking.services.notifications import emit
from booking.services.pricing import price_lists, quote_occurrences
from booking.services.users import add_user
from pricing import PriceList, Quote
from pricing.cancellation import owed_moves, with_moves

FACTS = ("voluntary", "non_profit", "local", "registered_in_frivillighetsregisteret", "youth_activity")
EDITABLE = ("name", "contact_name", "email", "phone", *FACTS)


def get_organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organisation {organization_id}.")
    return organization


def read_organization(actor: Actor, organization_id: int) -> Organization:
    """Admins and janitors read every organisation (contacts are their daily work); members
    only their own."""
    require_user(actor)
    organization = get_organization(organization_id)
    if actor.role not in ("admin", "janitor") and not can_act_for_organization(actor, organization_id):
        raise PermissionDenied("You are not a member of this organisation.")
    return organization


def list_organizations(actor: Actor, verified: bool | None = None):
    require_role(actor, "admin", "janitor")
    query = select(Organization).order_by(Organization.name, Organization.id)
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


def register_organization(actor: Actor, data: dict, language: str = "nb") -> Organization:
    """Self-registration: anyone may register; the category is proposed from the facts and the
    organisation stays unverified (priced ``full``) until an admin verifies it. A logged-in
    member becomes a member of it; an anonymous registrant who gives a password gets a member
    account for the contact e-mail, unconfirmed, with mails in ``language`` and a mail with the
    link that confirms the address (SPEC §13)."""
    if not is_valid_org_number(data["org_number"]):
        raise InvalidInput({"org_number": ["Not a valid Norwegian organisation number (9 digits, mod-11)."]})
    if db.session.execute(
        select(Organization.id).where(Organization.org_number == data["org_number"])
    ).first():
        raise StateConflict(f"Organisation number {data['org_number']} is registered already.")
    organization = Organization(org_number=data["org_number"], verified=False)
    for key in EDITABLE:
        setattr(organization, key, data.get(key, False if key in FACTS else ""))
    organization.proposed_category = organization.price_category = _propose(organization)
    db.session.add(organization)
    db.session.flush()
    if actor.role == "member":
        db.session.get(User, actor.user_id).organizations.append(organization)
    elif not actor.is_authenticated and data.get("password"):
        user = add_user(
            {
                "email": organization.email,
                "name": organization.contact_name,
                "role": "member",
                "password": data["password"],
                "organization_ids": [organization.id],
                "language": language,
            },
            email_confirmed=False,
        )
        emit("email_confirmation", user_id=user.id)
    db.session.flush()
    return organization


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
