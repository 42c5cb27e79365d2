"""Helpers shared by the page views: who is logged in, flash messages, and domain errors in
words for the pages (the services speak English to API clients; pages speak the user's language)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from booking.api.context import current_actor
from booking.domain.errors import RuleViolation
from booking.services.access import Actor
from booking.web.i18n import day

RULE_MESSAGES = {
    "outside_opening_hours": _l("The building is not open for bookings at that time."),
    "closed": _l("The building is closed on that day."),
    "too_short": _l("The booking is shorter than this room allows (at least %(minutes)s minutes)."),
    "too_long": _l("The booking is longer than this room allows (at most %(minutes)s minutes)."),
    "too_little_notice": _l("That is too soon: this room must be booked at least %(hours)s hours ahead."),
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
}
FIELD_OF_RULE = {
    "over_capacity": "attendees",
    "too_short": "end",
    "too_long": "end",
    "not_a_member": "organization_id",
}

LINE_NAMES = {
    "rent_weekday": _l("Rent, weekday"),
    "rent_weekend": _l("Rent, weekend/holiday"),
    "supervision_weekday": _l("Supervision, weekday"),
    "supervision_weekend": _l("Supervision, weekend/holiday"),
    "cancellation_rent": _l("Cancellation, rent"),
    "cancellation_supervision": _l("Cancellation, supervision"),
}
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
}


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


def rule_message(violation: RuleViolation, room=None) -> str:
    template = RULE_MESSAGES.get(violation.rule)
    if template is None:
        return violation.detail
    values = {"minutes": "–", "hours": "–", "days": "–", "capacity": "–"}
    if room is not None:
        values = {
            "minutes": room.min_duration_minutes
            if violation.rule == "too_short"
            else room.max_duration_minutes,
            "hours": room.min_notice_hours,
            "days": room.max_advance_days,
            "capacity": room.capacity,
        }
    message = str(template) % values
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
            parts.append(_("the room always needs supervision"))
        elif part.startswith("egen tilsynsvakt"):
            parts.append(_("the association brings its own supervisor"))
        else:
            parts.append(part)
    return "; ".join(parts)


def category_name(category: str) -> str:
    from booking.web.forms import CATEGORY_NAMES

    return str(CATEGORY_NAMES.get(category, category))
