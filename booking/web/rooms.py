"""``/rooms/<id>``: facts, prices, the week's busy and free time, and the booking form.

The same form serves three ways, so the core flow needs no JavaScript:
- "Calculate price" (``action=quote``) posts the form and shows the itemized quote, the dates, and
  any conflicts with suggestions, in the page;
- with JavaScript, ``quote.js`` fetches ``/rooms/<id>/quote?…`` (the same evaluation, rendered as
  the same HTML fragment) whenever the form changes, a live quote without a second formatter;
- "Book" (``action=book``) creates the booking or series and sends the user to ``/my``.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import request
from flask_babel import gettext as _
from flask_babel import ngettext

from booking.domain.errors import BookingConflict, InvalidInput, RuleViolation
from booking.models import Series
from booking.services import bookings, browse
from booking.services.availability import room_availability
from booking.services.rooms import get_room
from booking.web import grid
from booking.web.common import (
    FIELD_OF_RULE,
    SKIP_REASONS,
    actor,
    notify,
    render,
    rule_message,
    see_other,
)
from booking.web.forms import KIND_NAMES, Form, booking_form, today
from booking.web.i18n import day, span

# The weeks a room page shows: far beyond any booking window, and clear of the calendar's edges
# (year 1, 9999), where a week's bounds would not exist.
SHOWN_YEARS = 10


def _week_start(args) -> date:
    """The week asked for (``week`` or the form's ``date``); this week when there is none, it
    is not a date, or it is more than ``SHOWN_YEARS`` away."""
    now = today()
    for key in ("week", "date"):
        try:
            asked = date.fromisoformat(args.get(key, ""))
        except ValueError:
            continue
        if abs(asked.year - now.year) <= SHOWN_YEARS:
            return asked
    return now


def _conflict_outcome(conflict: BookingConflict) -> dict:
    rooms = browse.rooms_by_id(s["room_id"] for s in conflict.suggestions)
    suggestions = [dict(s, room=rooms.get(s["room_id"])) for s in conflict.suggestions]
    return {"kind": "conflict", "conflicts": conflict.conflicts, "suggestions": suggestions}


def _invalid_to_form(form: Form, error: InvalidInput) -> None:
    for field, messages in error.errors.items():
        target = {"recurrence": "until", "start": "start", "end": "end"}.get(field.split(".")[0], "date")
        form.error(target, _("Please check this: %(detail)s", detail="; ".join(messages)))


def evaluate(room, source, *, book: bool):
    """Run the booking form through the booking service: a plan (quote) or the created booking,
    a conflict with suggestions, or form errors. Returns (form, outcome, status)."""
    who = actor()
    organizations = browse.organizations_of(who)
    form, data = booking_form(source, [o.id for o in organizations], require_title=book)
    if data is None:
        return form, None, 422
    data["room_id"] = room.id
    wanted = bookings.BookingRequest.from_input(data)
    try:
        if book:
            return form, {"kind": "created", "created": bookings.create_booking(who, wanted)}, 201
        return form, {"kind": "plan", "plan": bookings.plan_booking(who, wanted)}, 200
    except BookingConflict as conflict:
        return form, _conflict_outcome(conflict), 409
    except RuleViolation as violation:
        form.error(FIELD_OF_RULE.get(violation.rule, "date"), rule_message(violation, room))
    except InvalidInput as error:
        _invalid_to_form(form, error)
    return form, None, 422


def _page(room, form: Form, outcome: dict | None, status: int = 200):
    who = actor()
    monday, start, end = grid.week_bounds(
        _week_start(request.args if request.method == "GET" else form.values)
    )
    busy = room_availability(room.id, start, end)["busy"]
    week = grid.build_week(monday, room.building.opening_windows, room.building.closure_ranges, busy)
    return render(
        "room.html",
        status,
        room=room,
        building=room.building,
        kind_name=KIND_NAMES.get(room.kind, room.kind),
        prices=browse.price_table(room, today()),
        week=week,
        organizations=browse.organizations_of(who),
        can_book=who.role in ("member", "admin") and who.is_authenticated,
        form=form,
        outcome=outcome,
        skip_reasons=SKIP_REASONS,
    )


def _initial_form(args) -> Form:
    """The form as the search (or a suggestion link) pre-fills it."""
    form = Form(args)
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
    """The page; coming from the search (a date in the link), the quote is shown at once."""
    room = get_room(room_id)
    form, outcome = _initial_form(request.args), None
    who = actor()
    if "date" in request.args and who.is_authenticated and who.role in ("member", "admin"):
        checked, outcome, _status = evaluate(room, form.values, book=False)
        if outcome is None:  # not enough to price yet: show the form as it came, without errors
            checked.errors.clear()
    return _page(room, form, outcome)


def room_quote(room_id: int):
    """The quote fragment for the live quote (JavaScript): the form's fields in the query."""
    room = get_room(room_id)
    form, outcome, _status = evaluate(room, request.args, book=False)
    return render(
        "_quote.html", 200, room=room, form=form, outcome=outcome, skip_reasons=SKIP_REASONS, fragment=True
    )


def _created_message(created) -> str:
    if isinstance(created, Series):
        booked = [b for b in created.occurrences]
        first = booked[0]
        message = ngettext(
            "Booked “%(title)s” in %(room)s on %(num)s date.",
            "Booked “%(title)s” in %(room)s on %(num)s dates.",
            len(booked),
            title=created.title,
            room=first.room.name,
        )
        if created.skipped:
            skipped = ", ".join(
                f"{day(s.original_start)} ({SKIP_REASONS.get(s.reason, s.reason)})" for s in created.skipped
            )
            message += " " + _("Left out: %(dates)s.", dates=skipped)
    else:
        first = created
        message = _(
            "Booked “%(title)s” in %(room)s on %(date)s, %(time)s.",
            title=created.title,
            room=created.room.name,
            date=day(created.start),
            time=span(created.start, created.end),
        )
    if first.status == "pending":
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
