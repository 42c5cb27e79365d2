"""What a notification e-mail says (SPEC §12): one outbox event rendered for one recipient.

The outbox stores events (kind, ids, parameters), never text; the worker calls
:func:`render_content` when it sends a message and builds the MIME message (From, To,
Message-ID, Date) around what it returns: a subject, a plain-text body, an HTML body and any
``.ics`` attachments.

Decisions:

* Text comes from the templates ``booking/templates/mail/<kind>.txt`` and ``<kind>.html`` in the
  recipient's language (``nb`` or ``en``), with the same gettext catalogues as the pages. HTML is
  autoescaped (a title may hold ``<script>``); plain text is not escaped at all.
* Everything is read from the database when the mail is sent, so the mail tells the booking as
  it is then (its room, its title); what the database no longer knows comes from the event's
  parameters (a rejection's reason, a move's previous time). A row the event names that is gone
  raises :class:`Gone`: there is nothing sensible to send.
* Times are Europe/Oslo wall-clock time, formatted as the pages format them
  (``booking.web.i18n``); money is integer øre shown in kroner.
* A whole series is told as its first and last date and its number of dates; some occurrences
  of a series (a closure, the rest of a season cancelled) are listed date by date.
* The queries are few and do not grow with the number of occurrences (the tests count them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr

from babel.dates import format_date
from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from booking.domain.errors import DomainError
from booking.extensions import db
from booking.feeds.attachments import CANCEL_TYPE, PUBLISH_TYPE, cancel_calendar, publish_calendar
from booking.models import Booking, Building, Organization, OutboxEvent, OutboxMessage, Room, User
from booking.models.booking import SkippedOccurrence
from booking.services.access import Actor
from booking.services.accounts import CONFIRM, DEFAULT_BASE_URL, LINKS, RESET, mail_link
from booking.services.schedule import DaySchedule, day_schedule
from booking.web.common import SKIP_REASONS, category_name
from booking.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, day, language, money, span
from pricing.weekly import OSLO

DEFAULT_SENDER = "booking@localhost"


@dataclass(frozen=True)
class Attachment:
    filename: str  # e.g. "booking.ics"
    content_type: str  # "text/calendar; method=PUBLISH" or "text/calendar; method=CANCEL"
    data: bytes


@dataclass(frozen=True)
class Content:
    subject: str
    text: str  # plain text body
    html: str  # HTML body: a complete small document, inline-styled, lang attribute set
    attachments: tuple[Attachment, ...] = ()


class Gone(Exception):
    """The event's rows no longer exist (nothing sensible to send)."""


def render_content(event: OutboxEvent, message: OutboxMessage, shared: dict | None = None) -> Content:
    """Render ``event`` for one recipient in ``message.language``, inside an app context.
    ``shared`` keeps what the mail says in a language (all but the greeting) for the event's
    other recipients.

    Raises :class:`Gone` when a row the event names no longer exists, ``ValueError`` for an
    unknown kind."""
    build = _KINDS.get(event.kind)
    if build is None:
        raise ValueError(f"no mail for events of kind {event.kind!r}")
    language = message.language if message.language in LANGUAGES else DEFAULT_LANGUAGE
    key = ("content", event.id, language)
    with force_locale(language):
        mail = shared.get(key) if shared is not None else None
        if mail is None:
            mail = build(event, message)
            if shared is not None:
                shared[key] = mail
        context = {
            **mail.context,
            "subject": mail.subject,
            "recipient_name": message.name,
            "home_url": public_url("web.search_page"),
        }
        text = _tidy(render_template(f"mail/{event.kind}.txt", **context))
        html = render_template(f"mail/{event.kind}.html", **context)
    return Content(subject=mail.subject, text=text, html=html, attachments=mail.attachments)


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of a page for a mail (no request to take the host from):
    ``BOOKING_PUBLIC_URL``, or the development server when that is not set (as the accounts
    service's links)."""
    base = (current_app.config.get("BOOKING_PUBLIC_URL") or DEFAULT_BASE_URL).rstrip("/")
    return base + current_app.url_map.bind("localhost").build(endpoint, values)


@dataclass(frozen=True)
class _Mail:
    subject: str
    context: dict
    attachments: tuple[Attachment, ...] = ()


def _one_line(value: str) -> str:
    """A subject is one header line, however the title was typed."""
    return " ".join(value.split())


def _tidy(text: str) -> str:
    """Plain text as written by a template: no trailing blanks, at most one empty line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def when(start: datetime, end: datetime) -> str:
    """``tirsdag 8. desember 2026 kl. 18:00–20:00`` / ``Tuesday 8 December 2026, 18:00–20:00``."""
    return _("%(day)s, %(time)s", day=day(start, "full"), time=span(start, end))


# --- bookings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    room: str
    building: str
    address: str

    def __str__(self) -> str:
        return ", ".join(part for part in (self.room, self.building, self.address) if part)


@dataclass(frozen=True)
class Occurrence:
    start: datetime
    end: datetime
    when: str
    place: Place | None  # only when it differs from the booking's place


@dataclass(frozen=True)
class SeriesSummary:
    """A whole series: its first and last date, how many, and the weekly pattern if it has one."""

    count: int
    first: str
    last: str
    pattern: str | None  # "every Tuesday, 18:00–20:00" when every date shares weekday and time
    skipped: tuple[tuple[str, str], ...] = ()  # (date, why) of the rule's dates not booked


@dataclass
class BookingView:
    organization: str
    title: str
    place: Place
    occurrences: list[Occurrence]  # the event's bookings in time order
    series: SeriesSummary | None = None  # set when the event is about a whole series
    price_ore: int | None = None
    reason: str = ""
    fee_note: str = ""
    previous: str = ""  # booking_changed: the time (and room) before the change
    by_municipality: bool = False  # booking_cancelled: by the municipality, not the organisation
    calendar: str = ""  # the attachment: "publish", "cancel" or none
    my_url: str = ""


_BOOKING_COLUMNS = (
    Booking.id,
    Booking.series_id,
    Booking.organization_id,
    Booking.room_id,
    Booking.title,
    Booking.start,
    Booking.end,
    Booking.status,
    Booking.quote,
)

# The reasons the services give as codes; anything else is an administrator's own words.
REASONS = {
    "overruled": _l("The time was given to another booking."),
    "closure": _l("The building is closed on that day."),
    "override": _l("The municipality needed the room for another booking."),
}

_SUBJECTS = {
    "booking_confirmed": _l("Booking confirmed: %(title)s"),
    "request_received": _l("Request received: %(title)s"),
    "booking_approved": _l("Request approved: %(title)s"),
    "booking_rejected": _l("Request not approved: %(title)s"),
    "booking_changed": _l("Booking changed: %(title)s"),
    "booking_cancelled": _l("Booking cancelled: %(title)s"),
}


def _booking_mail(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    params = event.params or {}
    booking_ids = [int(i) for i in params.get("booking_ids") or ()]
    series_id = params.get("series_id")
    condition = Booking.series_id == series_id if series_id is not None else Booking.id.in_(booking_ids)
    rows = db.session.execute(select(*_BOOKING_COLUMNS).where(condition).order_by(Booking.start)).all()
    wanted = set(booking_ids)
    mine = [row for row in rows if row.id in wanted]
    if not mine:
        raise Gone(f"{event.kind} {event.id}: the bookings are gone")
    first = mine[0]
    organization = db.session.scalar(
        select(Organization.name).where(Organization.id == first.organization_id)
    )
    previous = params.get("previous") or {}
    places = _places(
        {row.room_id for row in mine} | ({previous["room_id"]} if previous.get("room_id") else set())
    )
    if first.room_id not in places or organization is None:
        raise Gone(f"{event.kind} {event.id}: the room or organisation is gone")
    place = places[first.room_id]
    view = BookingView(
        organization=organization,
        title=first.title,
        place=place,
        occurrences=[
            Occurrence(
                row.start,
                row.end,
                when(row.start, row.end),
                places[row.room_id] if row.room_id != first.room_id else None,
            )
            for row in mine
        ],
        my_url=public_url("web.my_page"),
    )
    whole_series = series_id is not None and wanted >= {row.id for row in rows} and len(mine) > 1
    if whole_series:
        skipped = ()
        if event.kind in ("booking_confirmed", "request_received"):
            skipped = _skipped(series_id)
        view.series = _summary(mine, skipped)
    if event.kind in ("booking_confirmed", "booking_approved"):
        view.price_ore = sum(int((row.quote or {}).get("total_ore") or 0) for row in mine)
    if event.kind in ("booking_rejected", "booking_cancelled"):
        view.reason = _reason(params.get("reason") or "")
    if event.kind == "booking_cancelled":
        view.by_municipality = params.get("by") == "municipality"
        view.fee_note = _fee_note(params.get("by"), int(params.get("fee_ore") or 0))
    if event.kind == "booking_changed" and previous:
        view.previous = _previous(previous, places, first.room_id)
    attachments = _calendar(event.kind, booking_ids, series_id)
    if attachments:
        view.calendar = "cancel" if attachments[0].content_type == CANCEL_TYPE else "publish"
    subject = _SUBJECTS[event.kind]
    if view.by_municipality:
        subject = _l("Booking cancelled by the municipality: %(title)s")
    return _Mail(str(subject % {"title": _one_line(first.title)}), {"booking": view}, attachments)


def _places(room_ids: set[int]) -> dict[int, Place]:
    if not room_ids:
        return {}
    query = (
        select(Room.id, Room.name, Building.name, Building.address)
        .join(Building, Building.id == Room.building_id)
        .where(Room.id.in_(room_ids))
    )
    return {
        room_id: Place(room, building, address or "")
        for room_id, room, building, address in db.session.execute(query)
    }


def _skipped(series_id: int) -> tuple[tuple[str, str], ...]:
    query = (
        select(SkippedOccurrence.original_start, SkippedOccurrence.reason)
        .where(SkippedOccurrence.series_id == series_id)
        .order_by(SkippedOccurrence.original_start)
    )
    return tuple(
        (day(start, "full"), str(SKIP_REASONS.get(reason, reason)))
        for start, reason in db.session.execute(query)
    )


def _summary(rows, skipped) -> SeriesSummary:
    local = [(row.start.astimezone(OSLO), row.end.astimezone(OSLO)) for row in rows]
    first_start, first_end = local[0]
    shape = {(start.weekday(), start.time(), end - start) for start, end in local}
    pattern = None
    if len(shape) == 1:
        # booking.web.i18n has no weekday-only format; the day name alone, as Babel writes it
        weekday = format_date(first_start.date(), "EEEE", locale=language())
        pattern = _("every %(weekday)s, %(time)s", weekday=weekday, time=span(first_start, first_end))
    return SeriesSummary(
        count=len(rows),
        first=day(local[0][0], "full"),
        last=day(local[-1][0], "full"),
        pattern=pattern,
        skipped=skipped,
    )


def _reason(reason: str) -> str:
    coded = REASONS.get(reason)
    return str(coded) if coded is not None else reason.strip()


def _fee_note(by: str | None, fee_ore: int) -> str:
    if by == "municipality":
        return _("The municipality cancelled the booking, so there is no fee.")
    if fee_ore > 0:
        return _("Cancellation fee: %(fee)s.", fee=money(fee_ore))
    return _("There is no cancellation fee.")


def _previous(previous: dict, places: dict[int, Place], room_id: int) -> str:
    """The time before a change, and the place when the booking moved to another room."""
    try:
        start = datetime.fromisoformat(previous["start"])
        end = datetime.fromisoformat(previous["end"])
    except (KeyError, TypeError, ValueError):
        return ""
    if start.utcoffset() is None or end.utcoffset() is None:
        return ""  # the service writes aware times; a naive one would be shown an hour off
    place = places.get(previous.get("room_id")) if previous.get("room_id") != room_id else None
    return f"{when(start, end)}, {place}" if place else when(start, end)


def _calendar(kind: str, booking_ids: list[int], series_id: int | None) -> tuple[Attachment, ...]:
    if kind not in ("booking_confirmed", "booking_approved", "booking_changed", "booking_cancelled"):
        return ()
    organizer = _sender_address()
    if kind == "booking_cancelled":
        data = cancel_calendar(booking_ids, series_id, organizer)
        return (Attachment("cancellation.ics", CANCEL_TYPE, data),) if data else ()
    data = publish_calendar(booking_ids, series_id, organizer)
    return (Attachment("booking.ics", PUBLISH_TYPE, data),) if data else ()


def _sender_address() -> str:
    """The bare address of ``BOOKING_MAIL_FROM`` (which may read ``Name <address>``)."""
    return parseaddr(current_app.config.get("BOOKING_MAIL_FROM") or DEFAULT_SENDER)[1] or DEFAULT_SENDER


# --- accounts and organisations ----------------------------------------------------------------


def _user(event: OutboxEvent) -> User:
    user_id = (event.params or {}).get("user_id")
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise Gone(f"{event.kind} {event.id}: the user is gone")
    return user


def _link_mail(purpose: str, subject, action) -> Callable[[OutboxEvent, OutboxMessage], _Mail]:
    def build(event: OutboxEvent, message: OutboxMessage) -> _Mail:
        user = _user(event)
        # The accounts service checks the link, so its validity is read from there, not restated.
        hours = int(LINKS[purpose].valid_for.total_seconds() // 3600)
        context = {
            "link": mail_link(user, purpose, event.created_at),
            "action": str(action),
            "validity": ngettext(
                "The link is valid for %(num)s hour.", "The link is valid for %(num)s hours.", hours
            ),
        }
        return _Mail(str(subject), context)

    return build


CATEGORY_MEANINGS = {
    "free": _l(
        "You pay no rent for the rooms. Supervision outside the building's staffed hours is still "
        "charged, unless you bring your own supervisor."
    ),
    "reduced": _l(
        "You pay the reduced hourly rent of the price list (for local voluntary and non-profit "
        "organisations), and supervision where it is needed."
    ),
    "full": _l("You pay the full hourly rent of the price list, and supervision where it is needed."),
}


def _organization_verified(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    params = event.params or {}
    organization_id = params.get("organization_id")
    organization = db.session.get(Organization, organization_id) if organization_id is not None else None
    if organization is None:
        raise Gone(f"{event.kind} {event.id}: the organisation is gone")
    category = params.get("category") or organization.price_category
    context = {
        "organization": organization.name,
        "category": category_name(category),
        "meaning": str(CATEGORY_MEANINGS.get(category, "")),
        "my_url": public_url("web.my_page"),
    }
    subject = _("%(name)s is verified", name=_one_line(organization.name))
    return _Mail(subject, context)


@dataclass(frozen=True)
class RejectedRequest:
    """One request a rejection of its organisation rejected: a single booking, or a series told
    by its first date and its number of dates."""

    title: str
    when: str
    dates: int


def _organization_rejected(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    params = event.params or {}
    organization_id = params.get("organization_id")
    organization = db.session.get(Organization, organization_id) if organization_id is not None else None
    if organization is None:
        raise Gone(f"{event.kind} {event.id}: the organisation is gone")
    booking_ids = [int(i) for i in params.get("booking_ids") or ()]
    rows = (
        db.session.execute(
            select(Booking.id, Booking.series_id, Booking.title, Booking.start, Booking.end)
            .where(Booking.id.in_(booking_ids))
            .order_by(Booking.start, Booking.id)
        ).all()
        if booking_ids
        else []
    )
    requests: dict[int, list] = {}  # one per single booking or series, by its first date
    for row in rows:
        requests.setdefault(row.series_id or -row.id, []).append(row)
    context = {
        "organization": organization.name,
        "requests": [
            RejectedRequest(group[0].title, when(group[0].start, group[0].end), len(group))
            for group in requests.values()
        ],
        "my_url": public_url("web.my_page"),
    }
    subject = _("The registration of %(name)s is rejected", name=_one_line(organization.name))
    return _Mail(subject, context)


def _registration_attempt(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    """A registration that registered nothing (SPEC §13): the address typed in is told why,
    as the answer to the registrant does not say. Only our own words, the number and the
    registered organisation's public name: the rest of what was typed is anyone's."""
    params = event.params or {}
    reasons = [reason for reason in params.get("reasons") or () if reason in _ATTEMPT_REASONS]
    if not reasons:
        raise Gone(f"{event.kind} {event.id}: no reason")
    org_number = str(params.get("org_number") or "")
    registered = (
        db.session.scalar(select(Organization.name).where(Organization.org_number == org_number))
        if "org_number_taken" in reasons
        else None
    )
    address = params.get("email") or message.recipient
    context = {
        "reasons": reasons,
        "email": address,
        "org_number": org_number,
        "registered_name": registered or "",
        # the pages fill the address in
        "login_url": public_url("web.login", email=address),
        "reset_url": public_url("web.password_reset_page", email=address),
    }
    return _Mail(_("Your registration was not completed"), context)


_ATTEMPT_REASONS = ("email_taken", "org_number_taken")


# --- the janitors' day sheet -------------------------------------------------------------------


def _day_sheet(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    params = event.params or {}
    building_id = params.get("building_id")
    try:
        sheet_date = date.fromisoformat(params.get("date") or "")
    except (TypeError, ValueError) as error:
        raise Gone(f"{event.kind} {event.id}: no date") from error
    # The worker chose the recipients (the building's janitors who asked for the sheet); the
    # schedule service wants an actor who may read the building.
    staff = Actor(user_id=message.user_id or 0, role="janitor", building_ids=frozenset({building_id}))
    try:
        schedule = day_schedule(staff, building_id, sheet_date)
    except DomainError as error:  # NotFound: the building is gone
        raise Gone(f"{event.kind} {event.id}: {error}") from error
    context = {
        "schedule": schedule,
        "closure": _closure_text(schedule),
        "sheet_url": public_url("web.janitor_day", building_id=building_id, date=sheet_date.isoformat()),
        "supervised": [
            e for e in schedule.entries if e.supervision.needed and not e.supervision.own_supervisor
        ],
    }
    subject = _(
        "Day sheet %(building)s, %(date)s",
        building=_one_line(schedule.building.name),
        date=day(sheet_date, "long"),
    )
    return _Mail(subject, context)


def _closure_text(schedule: DaySchedule) -> str:
    if schedule.closure_reason is None:
        return ""
    if schedule.closure_reason == "closed":  # the service's word when the closure gives none
        return _("The building is closed on that day.")
    return _("Closed: %(reason)s", reason=schedule.closure_reason)


@dataclass(frozen=True)
class RoundResult:
    """One application's result in a round's mail: the time offered (or lapsed), or none."""

    description: str
    offered: str  # "Monday 18:00–20:00, Hall, Building" or "" when nothing was given
    state: str  # the offer's state when the mail is rendered


def _round_mail(event: OutboxEvent):
    """The round, the organisation and the allocations an event of a round names (SPEC §14),
    in the organisation's order of its applications; ``times`` in the parameters (a lapse's
    times, which a later change by hand may overwrite) are told instead of the rows' own."""
    from booking.models import Allocation, Application, Round

    params = event.params or {}
    round_ = db.session.get(Round, params.get("round_id") or 0)
    organization = db.session.get(Organization, params.get("organization_id") or 0)
    if round_ is None or organization is None:
        raise Gone(f"{event.kind} {event.id}: the round or the organisation is gone")
    ids = [int(i) for i in params.get("allocation_ids") or ()]
    rows = (
        db.session.execute(
            select(Allocation, Application.description)
            .join(Application, Application.id == Allocation.application_id)
            .where(Allocation.id.in_(ids))
            .order_by(Application.rank, Allocation.id)
        ).all()
        if ids
        else []
    )
    told = {int(t[0]): tuple(t[1:]) for t in params.get("times") or () if len(t) == 5}
    times = {a.id: told.get(a.id) or (a.room_id, a.weekday, a.start_minute, a.end_minute) for a, _d in rows}
    places = _places({room_id for room_id, *_rest in times.values() if room_id is not None})
    weekdays = _weekdays()
    results = [
        RoundResult(
            description or round_.name, _weekly_time(times[a.id], places, weekdays), a.offer_state or ""
        )
        for a, description in rows
    ]
    return round_, organization, results


def _weekdays() -> list[str]:
    """Monday to Sunday in the mail's language, as Babel writes them."""
    return [format_date(date(2024, 1, 1 + d), "EEEE", locale=language()) for d in range(7)]


def _weekly_time(time: tuple, places: dict[int, Place], weekdays: list[str]) -> str:
    """``Monday 18:00–20:00, Hall, Building``, or "" for no time (or a room that is gone)."""
    from booking.services.rounds import minutes_text

    room_id, weekday, start, end = time
    if room_id is None or room_id not in places:
        return ""
    return f"{weekdays[weekday]} {minutes_text(start)}–{minutes_text(end)}, {places[room_id]}"


def _deadline(round_) -> str:
    return round_.offer_deadline.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def _lapse_deadline(event: OutboxEvent) -> str:
    try:
        moment = datetime.fromisoformat((event.params or {}).get("deadline") or "")
    except (TypeError, ValueError):
        return ""
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if moment.utcoffset() is not None else ""


def _allocation_published(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    """SPEC §14: a round's results for one organisation, each offer to accept by the deadline."""
    round_, organization, results = _round_mail(event)
    context = {
        "organization": organization.name,
        "round": round_.name,
        "results": results,
        "deadline": _deadline(round_),
        "my_url": public_url("web.my_page"),
    }
    subject = _("Results of %(round)s", round=_one_line(round_.name))
    return _Mail(subject, context)


def _allocation_offered(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    """SPEC §14: times offered after publication (freed times allocated, a time set by hand),
    to accept or decline by the deadline on the round's page."""
    round_, organization, results = _round_mail(event)
    offered = [result for result in results if result.offered]
    if not offered:
        raise Gone(f"{event.kind} {event.id}: the offers have no time any more")
    context = {
        "organization": organization.name,
        "round": round_.name,
        "results": offered,
        "deadline": _deadline(round_),
        "round_url": public_url("web.round_page", round_id=round_.id),
    }
    subject = ngettext(
        "New offer in %(round)s", "New offers in %(round)s", len(offered), round=_one_line(round_.name)
    )
    return _Mail(subject, context)


def _offer_lapsed(event: OutboxEvent, message: OutboxMessage) -> _Mail:
    """SPEC §14: offers not answered by the deadline have lapsed; their times are free."""
    round_, organization, results = _round_mail(event)
    lapsed = [result for result in results if result.offered]
    if not lapsed:
        raise Gone(f"{event.kind} {event.id}: the lapsed offers are gone")
    context = {
        "organization": organization.name,
        "round": round_.name,
        "results": lapsed,
        # the deadline they lapsed at (the round's may have moved since, for later offers)
        "deadline": _lapse_deadline(event) or _deadline(round_),
        "round_url": public_url("web.round_page", round_id=round_.id),
    }
    subject = ngettext(
        "Offer lapsed in %(round)s", "Offers lapsed in %(round)s", len(lapsed), round=_one_line(round_.name)
    )
    return _Mail(subject, context)


_KINDS: dict[str, Callable[[OutboxEvent, OutboxMessage], _Mail]] = {
    "email_confirmation": _link_mail(
        CONFIRM, _l("Confirm your e-mail address"), _l("Confirm your e-mail address by opening this link:")
    ),
    "password_reset": _link_mail(
        RESET, _l("Choose a new password"), _l("Choose a new password by opening this link:")
    ),
    **dict.fromkeys(_SUBJECTS, _booking_mail),
    "organization_verified": _organization_verified,
    "organization_rejected": _organization_rejected,
    "day_sheet": _day_sheet,
    "registration_attempt": _registration_attempt,
    "allocation_published": _allocation_published,
    "allocation_offered": _allocation_offered,
    "offer_lapsed": _offer_lapsed,
}
