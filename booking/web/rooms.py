"""``/rooms/<id>``: facts, prices, the week's busy and free time, and the booking form.

The same form serves three ways, so the core flow needs no JavaScript:
- "Calculate price" (``action=quote``) posts the form and shows the itemized quote, the dates, and
  any conflicts with suggestions, in the page;
- with JavaScript, ``quote.js`` fetches ``/rooms/<id>/quote?…`` (the same evaluation, rendered as
  the same HTML fragment) whenever the form changes, a live quote without a second formatter;
- "Book" (``action=book``) creates the booking or series and sends the user to ``/my``.

Those who cannot book (anonymous visitors) get the same time fields as a GET form, priced for
every category by the public quote service, with a note that booking needs a login.
"""

from __future__ import annotations

from datetime import time, timedelta

from flask import request
from flask_babel import gettext as _
from flask_babel import ngettext

from booking.domain.errors import BookingConflict, InvalidInput, RuleViolation
from booking.models import Series
from booking.services import bookings, browse, pricing
from booking.services.rooms import get_room
from booking.web import grid
from booking.web.common import (
    FIELD_OF_RULE,
    SKIP_REASONS,
    actor,
    duration_text,
    equipment_names,
    input_message,
    notice_text,
    notify,
    render,
    rule_message,
    see_other,
)
from booking.web.forms import BOOKING_LABELS, CATEGORIES, KIND_NAMES, Form, booking_form, estimate_form, today
from booking.web.i18n import day, span


def _conflict_outcome(who, conflict: BookingConflict) -> dict:
    rooms = browse.rooms_by_id(s["room_id"] for s in conflict.suggestions)
    suggestions = [dict(s, room=rooms.get(s["room_id"])) for s in conflict.suggestions]
    own = browse.own_booking_ids(who, (c.get("booking_id") for c in conflict.conflicts))
    conflicts = [dict(c, own=c.get("booking_id") in own) for c in conflict.conflicts]
    return {"kind": "conflict", "conflicts": conflicts, "suggestions": suggestions}


# Where a service's invalid-input message goes on the form, by the field it names.
_FIELD_OF_INPUT = {"recurrence": "until", "start": "date", "end": "end", "attendees": "attendees"}


def _invalid_to_form(form: Form, error: InvalidInput) -> None:
    for field, messages in error.errors.items():
        target = _FIELD_OF_INPUT.get(field.split(".")[0], "date")
        form.error(target, " ".join(dict.fromkeys(input_message(m) for m in messages)))


def can_book(who) -> bool:
    return who.is_authenticated and who.role in ("member", "admin")


def _estimate(room, source):
    """The price of a time for every category (for those who cannot book): the public quote
    service, as ``POST /quotes`` with a ``category`` answers anyone. Returns (form, outcome,
    status) like ``evaluate``."""
    form, data = estimate_form(source)
    if data is None:
        return form, None, 422
    who = actor()
    try:
        quotes = {c: pricing.quote_request(who, dict(data, room_id=room.id, category=c)) for c in CATEGORIES}
    except InvalidInput as error:
        _invalid_to_form(form, error)
        return form, None, 422
    rows = []
    for category, quote in quotes.items():
        rent = sum(line["amount_ore"] for line in quote["lines"] if line["code"].startswith("rent"))
        rows.append(
            {
                "category": category,
                "rent_ore": rent,
                "supervision_ore": quote["total_ore"] - rent,
                "total_ore": quote["total_ore"],
            }
        )
    any_quote = quotes[CATEGORIES[-1]]
    return (
        form,
        {
            "kind": "estimate",
            "rows": rows,
            "occurrences": [(o["start"], o["end"]) for o in any_quote["occurrences"]],
            "supervision_reason": any_quote["supervision_reason"],
            "price_list_version": any_quote["price_list_version"],
        },
        200,
    )


def evaluate(room, source, *, book: bool):
    """Run the booking form through the booking service: a plan (quote) or the created booking,
    a conflict with suggestions, or form errors. Returns (form, outcome, status). Without an
    organisation to book for, a price for each category (``_estimate``)."""
    who = actor()
    organizations = browse.organizations_of(who)
    if not book and not (can_book(who) and organizations):
        return _estimate(room, source)
    form, data = booking_form(
        source, [o.id for o in organizations], require_title=book, capacity=room.capacity
    )
    if data is None:
        return form, None, 422
    data["room_id"] = room.id
    wanted = bookings.BookingRequest.from_input(data)
    try:
        if book:
            return form, {"kind": "created", "created": bookings.create_booking(who, wanted)}, 201
        return form, {"kind": "plan", "plan": bookings.plan_booking(who, wanted)}, 200
    except BookingConflict as conflict:
        return form, _conflict_outcome(who, conflict), 409
    except RuleViolation as violation:
        form.error(FIELD_OF_RULE.get(violation.rule, "date"), rule_message(violation, room))
    except InvalidInput as error:
        _invalid_to_form(form, error)
    return form, None, 422


def _page(room, form: Form, outcome: dict | None, status: int = 200):
    who = actor()
    week = grid.room_week(room, request.args if request.method == "GET" else form.values, who)
    return render(
        "room.html",
        status,
        room=room,
        building=room.building,
        kind_name=KIND_NAMES.get(room.kind, room.kind),
        equipment=equipment_names(room.equipment),
        shortest=duration_text(room.min_duration_minutes) if room.min_duration_minutes else None,
        longest=duration_text(room.max_duration_minutes) if room.max_duration_minutes else None,
        notice=notice_text(room.min_notice_hours) if room.min_notice_hours else None,
        prices=browse.price_table(room, today()),
        week=week,
        organizations=browse.organizations_of(who),
        can_book=can_book(who),
        form=form,
        outcome=outcome,
        skip_reasons=SKIP_REASONS,
    )


def _initial_form(args) -> Form:
    """The form as the search (or a suggestion link) pre-fills it."""
    form = Form(args, BOOKING_LABELS)
    for name in ("organization_id", "title", "date", "start", "end", "attendees", "notes", "until"):
        form.raw(name)
    if not form.values.get("date"):
        form.values["date"] = (today() + timedelta(days=1)).isoformat()
    if not form.values.get("start"):
        form.values["start"] = "18:00"
    if not form.values.get("end"):
        length = args.get("length", "")
        try:
            begin = time.fromisoformat(form.values["start"])
        except ValueError:
            begin = time(18)
        # Minutes as ASCII digits; four are plenty (the end is capped to the day below).
        is_length = length.isascii() and length.isdigit() and len(length) <= 4
        minutes = begin.hour * 60 + begin.minute + (int(length) if is_length else 120)
        minutes = min(minutes, 24 * 60 - 1)  # the form books within one day
        form.values["end"] = f"{minutes // 60:02d}:{minutes % 60:02d}"
    form.values["repeat"] = "weekly" if args.get("repeat") == "weekly" else "once"
    form.values["on_conflict"] = "skip"
    form.values["skip_holidays"] = "on"
    if not form.values.get("attendees"):
        form.values["attendees"] = ""
    return form


def room_page(room_id: int):
    """The page; coming from the search (a date in the link), the quote is shown at once. The
    price form of those who cannot book is sent here too (``estimate=1``): then its errors show."""
    room = get_room(room_id)
    form, outcome, status = _initial_form(request.args), None, 200
    if "date" in request.args:
        sent = "estimate" in request.args and not can_book(actor())
        checked, outcome, checked_status = evaluate(room, request.args if sent else form.values, book=False)
        if sent:  # the price form sent with errors is shown again as such
            form, status = checked, 422 if checked_status == 422 else 200
    return _page(room, form, outcome, status)


def room_quote(room_id: int):
    """The quote fragment for the live quote (JavaScript): the form's fields in the query."""
    room = get_room(room_id)
    form, outcome, _status = evaluate(room, request.args, book=False)
    return render(
        "_quote.html", 200, room=room, form=form, outcome=outcome, skip_reasons=SKIP_REASONS, fragment=True
    )


def _created_message(created) -> str:
    """What the flash says: booked, or (a room that needs approval) a request sent that awaits
    the municipality's answer."""
    first = created.occurrences[0] if isinstance(created, Series) else created
    pending = first.status == "pending"
    if isinstance(created, Series):
        values = {"title": created.title, "room": first.room.name}
        count = len(created.occurrences)
        if pending:
            message = ngettext(
                "Request sent for “%(title)s” in %(room)s on %(num)s date: nothing is booked yet.",
                "Request sent for “%(title)s” in %(room)s on %(num)s dates: nothing is booked yet.",
                count,
                **values,
            )
        else:
            message = ngettext(
                "Booked “%(title)s” in %(room)s on %(num)s date.",
                "Booked “%(title)s” in %(room)s on %(num)s dates.",
                count,
                **values,
            )
        if created.skipped:
            skipped = ", ".join(
                f"{day(s.original_start)} ({SKIP_REASONS.get(s.reason, s.reason)})" for s in created.skipped
            )
            message += " " + _("Left out: %(dates)s.", dates=skipped)
    else:
        values = {
            "title": created.title,
            "room": created.room.name,
            "date": day(created.start),
            "time": span(created.start, created.end),
        }
        if pending:
            message = _(
                "Request sent for “%(title)s” in %(room)s on %(date)s, %(time)s: nothing is booked yet.",
                **values,
            )
        else:
            message = _("Booked “%(title)s” in %(room)s on %(date)s, %(time)s.", **values)
    if pending:
        message += " " + _("The room needs approval: the municipality will confirm or decline the request.")
    return message


def room_submit(room_id: int):
    room = get_room(room_id)
    book = request.form.get("action") == "book"
    form, outcome, status = evaluate(room, request.form, book=book)
    if outcome and outcome["kind"] == "created":
        notify(_created_message(outcome["created"]))
        # An explicit fragment: the browser would otherwise carry the form's "#book" over.
        return see_other("web.my_page", _anchor="main")
    return _page(room, form, outcome, status)
