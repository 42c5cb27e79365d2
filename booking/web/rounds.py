"""``/rounds`` and ``/rounds/<id>``: seasonal application rounds (SPEC §14) as pages.

One page per round serves everyone: the round's facts and, once published, the result per room
with the rules and the seed (public); a member's own applications with every wish's outcome in
words, the application form while the window is open, withdraw, and accept/decline of offers;
an admin's allocate and publish buttons with the full result. The services decide everything;
failures of a button come back as a message on the page (303), failures of the form as the form
with its errors (422), so nothing half-done is committed.
"""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from booking.domain.errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RuleViolation,
)
from booking.extensions import db
from booking.models import Allocation, Application, Organization
from booking.models.types import utcnow
from booking.services import browse
from booking.services import rounds as service
from booking.services.access import require_admin, require_organization
from booking.web.common import WEEKDAY_NAMES, actor, notify, render, require_login, rule_message, see_other
from booking.web.forms import Form
from pricing.weekly import OSLO

STATE_NAMES = {
    "draft": _l("not open yet"),
    "open": _l("open for applications"),
    "closed": _l("closed, awaiting allocation"),
    "allocated": _l("allocated, not published yet"),
    "published": _l("published"),
}
OFFER_NAMES = {
    "offered": _l("offered: answer by the deadline"),
    "accepted": _l("accepted"),
    "declined": _l("declined"),
    "lapsed": _l("lapsed: not answered by the deadline"),
}
ROUND_RULE_MESSAGES = {
    "unknown_room": _l("the room is not in the round"),
    "room_inactive": _l("the room cannot be booked at present"),
    "outside_opening_hours": _l("outside the building's opening hours"),
    "too_short": _l("shorter than the room allows"),
    "too_long": _l("longer than the room allows"),
    "over_capacity": _l("more attendees than the room takes"),
    "application_window_closed": _l("Applications can be made only while the round's window is open."),
    "organization_not_verified": _l(
        "The organisation must be verified by the municipality before it can apply for seasonal times."
    ),
}
# The rules of ``service.RULES_TEXT`` in the page's language (the service's text is for API clients).
RULES_TEXT = _l(
    "Applications are taken in this order, and each gets the first of its wishes that is still "
    "free. 1. Class: (1) children and youth activity of a free or reduced organisation, (2) other "
    "applications of free or reduced organisations, (3) the rest. 2. Within a class, in passes: "
    "every organisation's first application in that class (by the organisation's own ranking), "
    "then every second, and so on. 3. Within a pass, continuity first (the organisation held the "
    "same room, weekday and an overlapping time in the previous round of the same rooms), then a "
    'lottery: ascending SHA-256 of "{seed}:{application id}" in hex. A wish is free when, on '
    "every date of the season except Norwegian public holidays and the building's closures, it "
    "overlaps no confirmed booking (units and changeover buffers included) and no wish already "
    "given, and it obeys the room's rules (opening hours, duration, capacity)."
)
WISH_FIELDS = 3  # the form's wish rows: the most a round takes (``service.MAX_WISHES``)


def weekday_name(weekday: int | None) -> str:
    return str(WEEKDAY_NAMES[weekday]) if weekday is not None and 0 <= weekday <= 6 else "–"


CLASS_NAMES = {
    1: _l("children and youth"),
    2: _l("free or reduced price"),
    3: _l("other applications"),
}


def class_text(number: int | None) -> str:
    """``class 1, children and youth``: a class of SPEC §14 with its meaning."""
    if number not in CLASS_NAMES:
        return "–"
    return _("class %(number)s, %(name)s", number=number, name=CLASS_NAMES[number])


def order_text(explanation: dict) -> str:
    """Where the application stood in the order, in words, from the stored explanation."""
    if not explanation or "order" not in explanation:
        return ""
    return _(
        "Place %(place)s in the order: %(priority)s, pass %(pass_number)s, %(continuity)s, lottery "
        "number %(lottery)s",
        place=explanation["order"] + 1,
        priority=class_text(explanation.get("class")),
        pass_number=explanation.get("pass") or 1,
        continuity=_("continuity from the previous round")
        if explanation.get("continuity")
        else _("no continuity"),
        lottery=(explanation.get("lottery") or "–")[:12] + "…",
    )


def wish_text(entry: dict) -> str:
    """One wish's outcome in words, from the stored explanation: ``given``, or what took it
    (``given to Korps A (class 1, children and youth), a higher class``)."""
    kind = entry.get("outcome")
    if kind == "given":
        return _("given")
    if kind == "application":
        other = entry.get("organization_name") or "–"
        if entry.get("other_class") in CLASS_NAMES:
            other = f"{other} ({class_text(entry['other_class'])})"
        if entry.get("higher_class"):
            return _("given to %(organization)s, a higher class", organization=other)
        if entry.get("other_continuity"):
            return _("given to %(organization)s, earlier in the order by continuity", organization=other)
        return _("given to %(organization)s, earlier in the order (pass or lottery)", organization=other)
    if kind == "booking":
        return _("taken by a booking")
    if kind == "rule":
        return str(ROUND_RULE_MESSAGES.get(entry.get("rule"), entry.get("rule") or "–"))
    return _("not considered: an earlier wish was given")


def list_page():
    """Every round with its state and dates."""
    now = utcnow()
    rounds = list(db.session.execute(service.list_rounds()).scalars())
    states = {r.id: service.round_state(r, now) for r in rounds}
    return render("rounds.html", rounds=rounds, states=states, state_names=STATE_NAMES)


def _parse_minutes(form: Form, name: str) -> int | None:
    clock = form.time(name)
    return None if clock is None else clock.hour * 60 + clock.minute


def application_form(source, round_, organization_ids: list[int]) -> tuple[Form, dict | None]:
    """The application: organisation, up to three wishes (a wish row left without a room is
    skipped), attendees, description, children and youth. Returns the service's data when valid."""
    form = Form(source)
    choices = [str(i) for i in organization_ids]
    organization = form.raw("organization_id") or (choices[0] if len(choices) == 1 else "")
    form.values["organization_id"] = organization
    if organization not in choices:
        form.error("organization_id", _("Please choose the organisation you apply for."))
    rooms = [str(i) for i in round_.room_ids]
    wishes = []
    for n in range(1, WISH_FIELDS + 1):
        room = form.raw(f"wish{n}_room")
        if not room and n > 1:
            for part in ("weekday", "start", "end"):
                form.raw(f"wish{n}_{part}")
            continue
        if room not in rooms:
            form.error(f"wish{n}_room", _("Please choose a room of the round."))
        weekday = form.integer(f"wish{n}_weekday", minimum=0, maximum=6, required=True)
        start = _parse_minutes(form, f"wish{n}_start")
        end = _parse_minutes(form, f"wish{n}_end")
        if start is not None and end is not None and end <= start:
            form.error(f"wish{n}_end", _("The end must be after the start."))
        if room in rooms and weekday is not None and start is not None and end is not None:
            wishes.append({"room_id": int(room), "weekday": weekday, "start": start, "end": end})
    attendees = form.integer("attendees", minimum=1, maximum=100_000, required=True)
    description = form.text("description", max_length=2000)
    children_youth = form.boolean("children_youth")
    if not form.ok:
        return form, None
    return form, {
        "organization_id": int(organization),
        "attendees": attendees,
        "description": description,
        "children_youth": children_youth,
        "wishes": wishes,
    }


def _blank_form() -> Form:
    form = Form({})
    form.values.update({"wish1_weekday": "0", "wish1_start": "18:00", "wish1_end": "20:00"})
    return form


def _my_applications(who, round_id: int) -> list[dict]:
    """The applications the actor may read, each with its allocation and outcome words."""
    if not who.is_authenticated or who.role not in ("member", "admin"):
        return []
    applications = list(db.session.execute(service.list_applications(who, round_id)).scalars())
    # Results are the admin's until published (as in the API: ``allocation`` is null before).
    shown = who.is_admin or service.get_round(round_id).published_at is not None
    allocations = service.allocations_by_application([a.id for a in applications]) if shown else {}
    names = dict(
        db.session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_({a.organization_id for a in applications})
            )
        ).all()
    )
    return [
        {
            "application": a,
            "organization": names.get(a.organization_id, "–"),
            "allocation": allocations.get(a.id),
        }
        for a in applications
    ]


def _admin_view(applications: list[dict]) -> dict:
    """The admin's result: every application in the order with what it got, the grid of given
    times per room and weekday, and the applications that got nothing (SPEC §14)."""
    rows = sorted(
        (entry for entry in applications if entry["allocation"] is not None),
        key=lambda entry: (entry["allocation"].order_index, entry["allocation"].id),
    )
    grid: dict[int, dict[int, list[dict]]] = {}
    for entry in rows:
        allocation = entry["allocation"]
        if allocation.room_id is not None and allocation.offer_state not in ("declined", "lapsed"):
            grid.setdefault(allocation.room_id, {}).setdefault(allocation.weekday, []).append(entry)
    for days in grid.values():
        for entries in days.values():
            entries.sort(key=lambda entry: entry["allocation"].start_minute)
    nothing = [entry for entry in rows if entry["allocation"].room_id is None]
    return {"rows": rows, "grid": grid, "nothing": nothing}


def _page(round_id: int, form: Form | None = None, status: int = 200):
    who = actor()
    now = utcnow()
    round_ = service.get_round(round_id)
    state = service.round_state(round_, now)
    organizations = browse.organizations_of(who)  # a member's own; an admin's all
    result = service.round_result(round_id, now) if state == "published" else None
    applications = _my_applications(who, round_id)
    admin = None
    if who.is_authenticated and who.is_admin and state in ("allocated", "published"):
        admin = _admin_view(applications)
    return render(
        "rounds_round.html",
        status,
        round=round_,
        state=state,
        state_name=STATE_NAMES.get(state, state),
        rooms={room.id: room for room in round_.rooms},
        result=result,
        seed=service.public_seed(round_, now),
        rules=RULES_TEXT,
        applications=applications,
        organizations=organizations,
        form=form or _blank_form(),
        can_apply=bool(organizations) and (state == "open" or form is not None and not form.ok),
        admin=admin,
        offer_state=lambda allocation: service.offer_state(allocation, round_, now),
        offer_names=OFFER_NAMES,
        weekday_name=weekday_name,
        wish_text=wish_text,
        order_text=order_text,
        class_text=class_text,
        minutes_text=service.minutes_text,
        weekdays=WEEKDAY_NAMES,
        wish_fields=WISH_FIELDS,
    )


def round_page(round_id: int):
    return _page(round_id)


def _invalid_to_form(form: Form, error: InvalidInput) -> None:
    for field, messages in error.errors.items():
        parts = field.split(".")
        if parts[0] == "wishes" and len(parts) == 3 and parts[1].isdigit():
            target = f"wish{int(parts[1]) + 1}_{ {'room_id': 'room'}.get(parts[2], parts[2]) }"
        else:
            target = "organization_id" if parts[0] in ("organization_id", "wishes") else parts[0]
        form.error(target, _("Please check this: %(detail)s", detail="; ".join(messages)))


def apply_submit(round_id: int):
    """Submit an application (a member, during the window)."""
    who = require_login()
    round_ = service.get_round(round_id)
    organizations = browse.organizations_of(who)  # a member's own; an admin's all
    form, data = application_form(request.form, round_, [o.id for o in organizations])
    if data is not None:
        try:
            service.submit_application(who, round_id, data)
        except RuleViolation as violation:
            message = ROUND_RULE_MESSAGES.get(violation.rule)
            form.error("organization_id", str(message) if message else rule_message(violation))
        except InvalidInput as error:
            _invalid_to_form(form, error)
        except DomainError as error:
            if isinstance(error, (PermissionDenied, NotAuthenticated)):
                raise
            form.error("organization_id", error.detail)
        else:
            notify(_("Your application was sent."))
            return see_other("web.round_page", round_id=round_id, _anchor="applications")
    return _page(round_id, form, 422)


def _act(round_id: int, action, done: str, failed: str, anchor: str = "applications"):
    """Run a button's service call: a message and back to the round's page either way."""
    try:
        action()
    except DomainError as error:
        if isinstance(error, (PermissionDenied, NotAuthenticated)):
            raise
        detail = ROUND_RULE_MESSAGES.get(error.rule) if isinstance(error, RuleViolation) else None
        notify(_("%(what)s: %(detail)s", what=failed, detail=detail or error.detail), "error")
    else:
        notify(done)
    return see_other("web.round_page", round_id=round_id, _anchor=anchor)


def _of_round(model, object_id: int, round_id: int) -> None:
    """The application or offer in the URL must be of the round in the URL (the page the user
    comes back to): another round's is not found here."""
    found = db.session.get(model, object_id)
    if found is None or found.round_id != round_id:
        raise NotFound(f"There is no such item in round {round_id}.")


def withdraw_submit(round_id: int, application_id: int):
    who = require_login()
    _of_round(Application, application_id, round_id)
    return _act(
        round_id,
        lambda: service.withdraw_application(who, application_id),
        _("The application was withdrawn."),
        _("Could not withdraw the application"),
    )


def rank_submit(round_id: int, application_id: int):
    """Move an application one place up the organisation's own ranking (it swaps with the one
    above): the member's way to say which of its applications matters most."""
    who = require_login()
    _of_round(Application, application_id, round_id)
    application = db.session.get(Application, application_id)
    require_organization(who, application.organization_id)

    def move_up():
        if not application.rank or application.rank <= 1:
            raise InvalidInput({"rank": ["The application is first in its organisation's ranking already."]})
        service.change_application(who, application_id, {"rank": application.rank - 1})

    return _act(
        round_id,
        move_up,
        _("The application was moved up in your ranking."),
        _("Could not change the ranking"),
    )


def accept_submit(round_id: int, allocation_id: int):
    who = require_login()
    _of_round(Allocation, allocation_id, round_id)
    return _act(
        round_id,
        lambda: service.accept_offer(who, allocation_id),
        _("You accepted the time: it is booked weekly for the season."),
        _("Could not accept the offer"),
    )


def decline_submit(round_id: int, allocation_id: int):
    who = require_login()
    _of_round(Allocation, allocation_id, round_id)
    return _act(
        round_id,
        lambda: service.decline_offer(who, allocation_id),
        _("You declined the time."),
        _("Could not decline the offer"),
    )


def allocate_submit(round_id: int):
    """Allocate (before publication), or give the freed times to the applications that got
    nothing (after it): the service decides which by the round's state."""
    who = require_login()
    published = service.get_round(round_id).published_at is not None
    return _act(
        round_id,
        lambda: service.allocate_round(who, round_id),
        _("The freed times were allocated and offered.")
        if published
        else _("The round was allocated. Check the result, then publish it."),
        _("Could not allocate the round"),
        "admin",
    )


def close_submit(round_id: int):
    who = require_login()
    return _act(
        round_id,
        lambda: service.close_window(who, round_id),
        _("The application window was closed. The round can be allocated now."),
        _("Could not close the application window"),
        "admin",
    )


def deadline_submit(round_id: int):
    """A new deadline for answering offers (admin, published round): offers made from now on
    (freed times, times set by hand) can be answered until then; lapsed offers stay lapsed."""
    who = require_login()
    require_admin(who)
    form = Form(request.form)
    day = form.date("deadline_date")
    clock = form.time("deadline_time", default="23:59")
    if not form.ok:
        failed = _("Could not change the deadline")
        notify(_("%(what)s: %(detail)s", what=failed, detail=next(iter(form.errors.values()))), "error")
        return see_other("web.round_page", round_id=round_id, _anchor="admin")
    deadline = datetime.combine(day, clock, OSLO)
    return _act(
        round_id,
        lambda: service.update_round(who, round_id, {"offer_deadline": deadline}),
        _("The deadline for answering offers was changed."),
        _("Could not change the deadline"),
        "admin",
    )


def allocation_submit(round_id: int, allocation_id: int):
    """Change one result by hand (admin): a time (room, weekday, start, end) or, with no room,
    nothing. The service checks the time like a wish and audits the change."""
    who = require_login()
    require_admin(who)
    _of_round(Allocation, allocation_id, round_id)
    form = Form(request.form)
    data: dict = {"room_id": None}
    if form.raw("room"):
        room = form.integer("room", minimum=1, maximum=2**31 - 1, required=True)
        weekday = form.integer("weekday", minimum=0, maximum=6, required=True)
        start = _parse_minutes(form, "start")
        end = _parse_minutes(form, "end")
        if room is None or start is None or end is None:
            form.error("room", _("Please give a room, a weekday, a start and an end."))
        elif end <= start:
            form.error("end", _("The end must be after the start."))
        else:
            data = {"room_id": room, "weekday": weekday, "start": start, "end": end}
    if not form.ok:
        failed = _("Could not change the result")
        notify(_("%(what)s: %(detail)s", what=failed, detail=next(iter(form.errors.values()))), "error")
        return see_other("web.round_page", round_id=round_id, _anchor="admin")
    return _act(
        round_id,
        lambda: service.change_allocation(who, allocation_id, data),
        _("The result was changed."),
        _("Could not change the result"),
        "admin",
    )


def publish_submit(round_id: int):
    who = require_login()
    return _act(
        round_id,
        lambda: service.publish_round(who, round_id),
        _("The round was published: the offers were sent."),
        _("Could not publish the round"),
        "admin",
    )
