"""Accounts: confirming an e-mail address, resetting a password by e-mail, and the choices a user
makes about mail (SPEC §12, §13).

Links in mails carry signed tokens that are not stored. A token is an itsdangerous signature
(the app's ``SECRET_KEY``, one salt per purpose, so a confirmation token is no reset token) of
``[user_id, issued_at, fingerprint]``:

* ``issued_at`` (epoch seconds) is when the mail's event was made; the age is checked against it
  here, so a mail rendered twice (a retry of the worker) carries the same link, and the link's
  validity does not grow with a late delivery.
* ``fingerprint`` binds the token to the account's state, which makes it single-use without a
  table of used tokens: a reset token names the current password hash (and address), so once
  the password is changed the old link is refused; a confirmation token names the address, so
  it stops working if the address changes (confirming twice is harmless and answers the same).

Decisions: following a reset link proves the address too, so a reset confirms an unconfirmed
address. A reset revokes the user's API tokens and ends every page session started before it
(someone who learnt the old password is logged out everywhere). Asking for a reset answers the
same whether or not the address has an account, and writes the outbox event only when it has.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select, update

from booking.domain.errors import InvalidInput, InvalidLink, NotFound, PermissionDenied
from booking.extensions import db
from booking.models import Building, Organization, User
from booking.models.types import utcnow
from booking.models.user import janitor_buildings, memberships
from booking.services.access import Actor, require_user
from booking.services.auth import end_all_credentials, hash_password
from booking.services.notifications import emit_at_most_every

CONFIRM = "confirm"
RESET = "reset"
LANGUAGES = ("nb", "en")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
MIN_PASSWORD_LENGTH = 10  # as the API's schemas and the pages' forms ask
MAX_PASSWORD_LENGTH = 1024
# Clocks of app servers and the mail worker differ a little; a token from further ahead is forged
# or broken.
CLOCK_SKEW = timedelta(minutes=5)
# At most one mail with a link per user and kind in this window of the clock, however many
# clients ask (the rate limit is per client address).
LINK_MAIL_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class LinkKind:
    path: str
    valid_for: timedelta


LINKS = {
    CONFIRM: LinkKind("/confirm-email/", timedelta(hours=48)),
    RESET: LinkKind("/password-reset/", timedelta(hours=1)),
}


# --- links -----------------------------------------------------------------------------------

NOT_VALID = "The link is not valid. Use the whole link from the e-mail."


def _serializer(purpose: str) -> URLSafeSerializer:
    if purpose not in LINKS:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"booking.account-link.{purpose}")


def _fingerprint(user: User, purpose: str) -> str:
    state = f"{user.email}\n{user.password_hash or ''}" if purpose == RESET else user.email
    return hashlib.sha256(f"{purpose}\n{state}".encode()).hexdigest()[:16]


def link_token(user: User, purpose: str, issued_at: datetime) -> str:
    """The signed token of a ``purpose`` link (``"confirm"`` or ``"reset"``) for ``user``, issued
    at ``issued_at`` (aware). The same arguments give the same token."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be an aware datetime")
    payload = [user.id, int(issued_at.timestamp()), _fingerprint(user, purpose)]
    return _serializer(purpose).dumps(payload)


def mail_link(user: User, purpose: str, issued_at: datetime) -> str:
    """The absolute URL to put into a mail: ``/confirm-email/<token>`` (valid 48 hours) or
    ``/password-reset/<token>`` (valid one hour), counted from ``issued_at``. Deterministic, so a
    mail rendered twice carries the same link. Needs an app context, not a request."""
    token = link_token(user, purpose, issued_at)
    base = (current_app.config.get("BOOKING_PUBLIC_URL") or DEFAULT_BASE_URL).rstrip("/")
    return base + LINKS[purpose].path + token


def user_for_link(token: str, purpose: str, *, lock: bool = False) -> User:
    """The active user a valid, current ``purpose`` token names; ``InvalidLink`` otherwise.
    Changes nothing (the pages show a link's form with it before anything is done). ``lock``
    locks the user's row, so two uses of one reset link are one after the other and the second
    sees the first's new password (and is refused)."""
    try:
        payload = _serializer(purpose).loads(token)
    except BadData as error:
        raise InvalidLink(NOT_VALID) from error
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in payload[:2])
        or not isinstance(payload[2], str)
    ):
        raise InvalidLink(NOT_VALID)
    user_id, issued, fingerprint = payload
    now = utcnow()
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidLink(NOT_VALID) from error
    if issued_at > now + CLOCK_SKEW:
        raise InvalidLink(NOT_VALID)
    if now - issued_at > LINKS[purpose].valid_for:
        raise InvalidLink("The link has expired. Ask for a new one.", expired=True)
    user = (
        db.session.get(User, user_id, with_for_update={"key_share": True}, populate_existing=True)
        if lock
        else db.session.get(User, user_id)
    )
    if user is None or not user.active or not hmac.compare_digest(fingerprint, _fingerprint(user, purpose)):
        raise InvalidLink("The link has been used already or is no longer valid. Ask for a new one.")
    return user


# --- confirmation and reset ------------------------------------------------------------------


def request_email_confirmation(user: User) -> None:
    """Mail ``user`` a link to confirm the address (nothing when it is confirmed already)."""
    if user.email_confirmed_at is None:
        emit_at_most_every(LINK_MAIL_INTERVAL, "email_confirmation", f"user-{user.id}", user_id=user.id)
        db.session.flush()


def confirm_email(token: str) -> User:
    """Mark the address a confirmation link names as confirmed; following the link again is
    harmless (the first confirmation time stays)."""
    user = user_for_link(token, CONFIRM)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        db.session.flush()
    return user


def request_password_reset(email: str) -> None:
    """Mail a reset link to the active user with this address. For an unknown address nothing is
    written, and the caller answers the same (no enumeration of accounts)."""
    address = email.strip().lower()
    user = db.session.execute(
        select(User).where(User.email == address, User.active.is_(True))
    ).scalar_one_or_none()
    if user is not None:
        emit_at_most_every(LINK_MAIL_INTERVAL, "password_reset", f"user-{user.id}", user_id=user.id)
        db.session.flush()


def check_password(password: str, field: str = "password") -> None:
    """The one password rule: 10 to 1024 characters."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput({field: [f"Between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters."]})


def reset_password(token: str, password: str) -> User:
    """Set a new password with a reset link; the link (and any other reset link sent before)
    stops working, the user's API tokens are revoked and page sessions ended, and the address
    counts as confirmed."""
    check_password(password)
    user = user_for_link(token, RESET, lock=True)
    user.password_hash = hash_password(password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    end_all_credentials(user.id)
    db.session.flush()
    return user


# --- preferences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationMail:
    """A member's organisation and whether the member gets its booking mails."""

    id: int
    name: str
    booking_mail: bool


@dataclass(frozen=True)
class BuildingMail:
    """A janitor's building and whether the janitor gets its day sheet each morning."""

    id: int
    name: str
    morning_sheet: bool


@dataclass(frozen=True)
class Profile:
    """The calling user with their mail choices (``GET /me``)."""

    id: int
    email: str
    name: str
    role: str
    language: str
    email_confirmed: bool
    organizations: list[OrganizationMail]
    buildings: list[BuildingMail]

    @property
    def mail(self) -> Profile:
        """The mail choices per organisation and building (``mail`` in ``GET /me``)."""
        return self


def _user(actor: Actor) -> User:
    require_user(actor)
    user = db.session.get(User, actor.user_id)
    if user is None:
        raise NotFound("There is no such user.")
    return user


def organization_mail(user_id: int) -> list[OrganizationMail]:
    rows = db.session.execute(
        select(Organization.id, Organization.name, memberships.c.booking_mail)
        .join(memberships, memberships.c.organization_id == Organization.id)
        .where(memberships.c.user_id == user_id)
        .order_by(Organization.id)
    )
    return [OrganizationMail(row.id, row.name, row.booking_mail) for row in rows]


def building_mail(user_id: int) -> list[BuildingMail]:
    rows = db.session.execute(
        select(Building.id, Building.name, janitor_buildings.c.morning_sheet)
        .join(janitor_buildings, janitor_buildings.c.building_id == Building.id)
        .where(janitor_buildings.c.user_id == user_id)
        .order_by(Building.id)
    )
    return [BuildingMail(row.id, row.name, row.morning_sheet) for row in rows]


def profile(actor: Actor) -> Profile:
    """The calling user: role, language of mails, whether the address is confirmed, and per
    organisation and building the mail choices."""
    user = _user(actor)
    return Profile(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        language=user.language,
        email_confirmed=user.email_confirmed_at is not None,
        organizations=organization_mail(user.id),
        buildings=building_mail(user.id),
    )


def set_language(actor: Actor, language: str) -> User:
    """The language of the caller's mails (``nb`` or ``en``)."""
    if language not in LANGUAGES:
        raise InvalidInput({"language": [f"One of: {', '.join(LANGUAGES)}."]})
    user = _user(actor)
    user.language = language
    db.session.flush()
    return user


def set_booking_mail(actor: Actor, organization_id: int, on: bool) -> OrganizationMail:
    """Whether the caller gets booking mails about an organisation they are a member of."""
    require_user(actor)
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organisation {organization_id}.")
    mine = memberships.c.organization_id == organization_id
    _set_own_choice(actor, memberships, mine, booking_mail=on)
    return OrganizationMail(organization.id, organization.name, on)


def set_morning_sheet(actor: Actor, building_id: int, on: bool) -> BuildingMail:
    """Whether the caller gets the day sheet of a building they are the janitor of by mail each
    morning."""
    require_user(actor)
    building = db.session.get(Building, building_id)
    if building is None:
        raise NotFound(f"There is no building {building_id}.")
    mine = janitor_buildings.c.building_id == building_id
    _set_own_choice(actor, janitor_buildings, mine, morning_sheet=on)
    return BuildingMail(building.id, building.name, on)


_NOT_YOURS = {
    "memberships": "You are not a member of this organisation.",
    "janitor_buildings": "This building is not assigned to you.",
}


def _set_own_choice(actor: Actor, table, row, **choice) -> None:
    """Set a choice on the caller's own membership or building in one statement; no such row
    of theirs: 403."""
    updated = db.session.execute(update(table).where(table.c.user_id == actor.user_id, row).values(**choice))
    if updated.rowcount == 0:
        raise PermissionDenied(_NOT_YOURS[table.name])
