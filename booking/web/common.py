"""Helpers shared by the page views: who is logged in, flash messages, and domain errors in
words for the pages (the services speak English to API clients; pages speak the user's language)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from booking.api.context import current_actor
from booking.domain.errors import RuleViolation
from booking.services.access import Actor
from booking.services.bookings import status_reason_code
from booking.web.i18n import day

RULE_MESSAGES = {
    "outside_opening_hours": _l("The building is not open for bookings at that time."),
    "closed": _l("The building is closed on that day."),
    "too_short": _l("Too short: a booking in this room lasts at least %(duration)s."),
    "too_long": _l("Too long: a booking in this room lasts at most %(duration)s."),
    "too_little_notice": _l("That is too soon: this room must be booked at least %(notice)s ahead."),
    "too_far_ahead": _l("That is too far ahead: this room can be booked at most %(days)s days ahead."),
    "over_capacity": _l("Too many attendees: the room takes at most %(capacity)s."),
    "room_inactive": _l("The room cannot be booked at present."),
    "not_a_member": _l("You can only book for organisations you are a member of."),
    "open_request_limit": _l(
        "The organisation has as many open requests as it may have until the municipality has "
        "verified it. Wait for an answer to one of them, or withdraw one."
    ),
    "organization_rejected": _l("The municipality has rejected the organisation: it cannot book rooms."),
    "season_allocation_pending": _l(
        "Regular times in this room this season are being given out by a seasonal round: nothing "
        "can be booked here in its season until its results are published (see Seasonal rounds)."
    ),
    "season_offer_held": _l(
        "This weekly time is offered to an organisation by a seasonal round: it can be booked if "
        "the offer is declined or not answered by the deadline."
    ),
    "series_overlaps_itself": _l(
        "The dates of the series overlap each other: make each end before the next starts."
    ),
}
# Rule texts that depend on more than the rule: a start in the past (rule ``too_little_notice``
# without a limit), and a series whose every date is a holiday or a closure (``closed`` without
# the closure's dates).
IN_THE_PAST = _l("That time has passed: choose a time in the future.")
NOTHING_LEFT = _l(
    "Every date falls on a public holiday or a day the building is closed: there is nothing to book."
)
# The room's own attribute for a rule's limit, when the violation does not carry it.
_ROOM_LIMITS = {
    "too_short": "min_duration_minutes",
    "too_long": "max_duration_minutes",
    "too_little_notice": "min_notice_hours",
    "too_far_ahead": "max_advance_days",
    "over_capacity": "capacity",
}
FIELD_OF_RULE = {
    "over_capacity": "attendees",
    "too_short": "end",
    "too_long": "end",
    "outside_opening_hours": "start",
    "not_a_member": "organization_id",
    "open_request_limit": "organization_id",
    "organization_rejected": "organization_id",
}

# The services' English texts of invalid input that the booking form can meet, in the page's
# language (a pattern, and the message made of its groups). Anything else: "check this field".
_INPUT_MESSAGES = (
    (
        re.compile(r"^The end must be after the start\.$"),
        lambda m: _("The end must be after the start."),
    ),
    (
        re.compile(r"^The series runs past (\d{4})-(\d\d)-(\d\d)"),
        lambda m: _(
            "A weekly booking can run for at most a year: choose a last date on or before %(date)s.",
            date=".".join(m.group(3, 2, 1)),
        ),
    ),
    (
        re.compile(r"^The series has more than (\d+) occurrences"),
        lambda m: _("A series has at most %(num)s dates: choose an earlier last date.", num=m.group(1)),
    ),
    (
        re.compile(r"^UNTIL is before the start"),
        lambda m: _("The last date must be on or after the first."),
    ),
    (
        re.compile(r"^No price list is in force on (\d{4})-(\d\d)-(\d\d)"),
        lambda m: _(
            "There are no prices for %(date)s yet: choose an earlier date.",
            date=".".join(m.group(3, 2, 1)),
        ),
    ),
    (re.compile(r"^A quote covers at most 7 days"), lambda m: _("A booking lasts at most 7 days.")),
    (re.compile(r"^There is no "), lambda m: _("That is no longer there: please choose again.")),
    (
        re.compile(r"^The number of attendees cannot be negative"),
        lambda m: _("At least 1 person: enter how many will come."),
    ),
)


def input_message(text: str) -> str:
    """A service's message about invalid input (English) in the page's language."""
    for pattern, message in _INPUT_MESSAGES:
        match = pattern.match(text)
        if match:
            return message(match)
    return _("Please check this field.")


LINE_NAMES = {
    "rent_weekday": _l("Rent, weekday"),
    "rent_weekend": _l("Rent, weekend/holiday"),
    "supervision_weekday": _l("Supervision, weekday"),
    "supervision_weekend": _l("Supervision, weekend/holiday"),
    "cancellation_rent": _l("Cancellation, rent"),
    "cancellation_supervision": _l("Cancellation, supervision"),
}
WEEKDAY_NAMES = (  # by ISO weekday - 1 (Monday is 0)
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
UNIT_NAMES = {"half_hour": _l("half hour"), "hour": _l("hour"), "booking": _l("booking")}
STATUS_NAMES = {
    "pending": _l("awaiting approval"),
    "confirmed": _l("confirmed"),
    "rejected": _l("not approved"),
    "cancelled": _l("cancelled"),
}
SKIP_REASONS = {"conflict": _l("taken"), "holiday": _l("public holiday"), "closed": _l("building closed")}
CANCELLATION_RULES = {
    "admin": _l("Cancelled by the municipality: no fee."),
    "free_14_days": _l("Free: 14 days or more before the start."),
    "half_rent_7_days": _l("7–14 days before the start: half of the rent."),
    "full_rent": _l("Under 7 days before the start: the full rent."),
    "full_rent_and_supervision": _l("Under 48 hours before the start: the full rent and the supervision."),
    # not a pricing rule: a request never confirmed costs nothing to withdraw, whenever it starts
    "withdraw": _l("A request that is not approved yet: withdrawing it is free."),
}
# The reasons the services store as their own sentences (``bookings.status_reason_code``), in
# the reader's language; any other reason is a person's own words, shown as written.
STATUS_REASONS = {
    "overruled": _l("The time was given to another booking."),
    "closure": _l("The building is closed on that day."),
    "override": _l("The municipality needed the room for another booking."),
    "organization_rejected": _l("The municipality rejected the organisation."),
    "no_reason": _l("No reason was given."),
    "cancelled_by_organization": _l("Cancelled by your organisation."),
    "cancelled_by_municipality": _l("Cancelled by the municipality."),
    "series_cancelled": _l("The series was cancelled."),
}


def status_reason_text(reason: str | None) -> str:
    """Why a booking was declined or cancelled, in the page's language (see ``STATUS_REASONS``)."""
    code = status_reason_code(reason or "")
    return str(STATUS_REASONS[code]) if code else (reason or "").strip()


def actor() -> Actor:
    return current_actor()


def login_url(next_path: str | None = None) -> str:
    return url_for("web.login") + "?" + urlencode({"next": next_path or request.full_path.rstrip("?")})


def require_login() -> Actor:
    """The logged-in actor, or a redirect to the login page that comes back here."""
    who = actor()
    if not who.is_authenticated:
        abort(redirect(login_url(), 303))
    return who


def render(template: str, status: int = 200, **context):
    return render_template(f"web/{template}", **context), status


def see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


def notify(message: str, category: str = "success") -> None:
    flash(message, category)


def duration_text(minutes: int) -> str:
    """A length in words: "30 minutes", "1 hour 30 minutes", "12 hours"."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return ngettext("%(num)s minute", "%(num)s minutes", rest)
    text = ngettext("%(num)s hour", "%(num)s hours", hours)
    if rest:
        text += " " + ngettext("%(num)s minute", "%(num)s minutes", rest)
    return text


def notice_text(hours: int) -> str:
    """A notice in words: "48 hours", "3 days" (whole days when it is a number of days)."""
    if hours >= 48 and hours % 24 == 0:
        return ngettext("%(num)s day", "%(num)s days", hours // 24)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


def rule_message(violation: RuleViolation, room=None) -> str:
    """A broken booking rule in the page's language, with the room's limit in words (the limit
    the rule reports, else the room's own)."""
    limit = violation.extra.get("limit")
    # A start in the past breaks the notice rule without a limit, whatever the room's notice.
    past = violation.rule == "too_little_notice" and not limit
    if limit is None and room is not None and violation.rule in _ROOM_LIMITS:
        limit = getattr(room, _ROOM_LIMITS[violation.rule])
    if past:
        message = str(IN_THE_PAST)
    elif violation.rule == "closed" and "closed_from" not in violation.extra:
        message = str(NOTHING_LEFT)
    elif violation.rule not in RULE_MESSAGES:
        message = _("This time cannot be booked in this room.")
    else:
        shown = "–" if limit is None else limit
        values = {
            "duration": "–" if limit is None else duration_text(limit),
            "notice": "–" if limit is None else notice_text(limit),
            "days": shown,
            "capacity": shown,
        }
        message = str(RULE_MESSAGES[violation.rule]) % values
    occurrence = violation.extra.get("occurrence")
    if occurrence is not None:
        return _("%(date)s: %(message)s", date=day(occurrence), message=message)
    return message


_UNSTAFFED = re.compile(r"^utenfor bemannet tid (.+)$")


def supervision_text(reason: str | None) -> str:
    """The price snapshot's supervision reason (bokmål, from ``pricing``) in the page's language."""
    if not reason:
        return ""
    parts = []
    for part in reason.split("; "):
        match = _UNSTAFFED.match(part)
        if match:
            parts.append(_("outside staffed hours %(times)s", times=match.group(1)))
        elif part == "rommet krever alltid tilsyn":
            parts.append(_("always needed in this room"))
        elif part.startswith("egen tilsynsvakt"):
            parts.append(_("not charged, the association brings its own certified supervisor"))
        else:
            parts.append(part)
    return "; ".join(parts)


def category_name(category: str) -> str:
    from booking.web.forms import CATEGORY_NAMES

    return str(CATEGORY_NAMES.get(category, category))


# Equipment tags (the API's codes) by their names on the pages.
EQUIPMENT_NAMES = {
    "amplifier": _l("amplifier"),
    "chairs": _l("chairs"),
    "coffee": _l("coffee machine"),
    "drums": _l("drum kit"),
    "flipchart": _l("flip chart"),
    "kitchen": _l("kitchen"),
    "mats": _l("gym mats"),
    "microphone": _l("microphone"),
    "mirrors": _l("mirror wall"),
    "piano": _l("piano"),
    "projector": _l("projector"),
    "scoreboard": _l("scoreboard"),
    "screen": _l("screen"),
    "sound": _l("sound system"),
    "stage": _l("stage"),
    "tables": _l("tables"),
    "wall-bars": _l("wall bars"),
    "whiteboard": _l("whiteboard"),
    "wifi": _l("wireless network"),
}


def equipment_name(tag: str) -> str:
    """An equipment tag's name in the page's language (an unknown tag as written, without dashes)."""
    name = EQUIPMENT_NAMES.get(tag)
    return str(name) if name is not None else tag.replace("-", " ").replace("_", " ")


def equipment_names(tags) -> str:
    """A room's equipment as a list in words, e.g. "piano, stage, sound system"."""
    return ", ".join(equipment_name(tag) for tag in tags or ())
