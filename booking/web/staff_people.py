"""Back office for people and money (SPEC §15): users and their memberships, the audit log, and
the month's invoices with a CSV download. Admins only; every view calls the services, which check
the access again and do the work."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import Response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from booking.domain.errors import InvalidInput, NotFound, StateConflict
from booking.domain.organizations import is_mailable
from booking.domain.timeslots import local_day_bounds
from booking.extensions import db
from booking.models import Booking, Building, Organization, Room, User
from booking.models.audit import AUDIT_ACTIONS, AuditEntry
from booking.models.user import ROLES
from booking.schemas.common import MAX_INT  # ids are 32-bit integers on PostgreSQL
from booking.services import audit, invoices, users
from booking.services.access import Actor, require_admin
from booking.web.common import LINE_NAMES, UNIT_NAMES, notify, render, require_login, see_other
from booking.web.forms import Form, today
from booking.web.i18n import clock, day, money

ROLE_NAMES = {"admin": _l("administrator"), "janitor": _l("janitor"), "member": _l("member")}
assert set(ROLE_NAMES) == set(ROLES)
ACTION_NAMES = {"insert": _l("created"), "update": _l("changed"), "delete": _l("removed")}
assert set(ACTION_NAMES) == set(AUDIT_ACTIONS)
# The tables the audit log names (``entity``), in words; a table missing here shows its name.
ENTITY_NAMES = {
    "allocations": _l("Allocations (rounds)"),
    "api_tokens": _l("API tokens"),
    "application_wishes": _l("Wishes of applications"),
    "applications": _l("Applications (rounds)"),
    "bookings": _l("Bookings"),
    "building_closures": _l("Closures of buildings"),
    "buildings": _l("Buildings"),
    "feed_tokens": _l("Calendar feed links"),
    "janitor_buildings": _l("Janitors' buildings"),
    "memberships": _l("Memberships"),
    "organizations": _l("Organisations"),
    "price_lists": _l("Price lists"),
    "registry_units": _l("Register entries"),
    "room_parts": _l("Parts of rooms"),
    "room_units": _l("Units of rooms"),
    "rooms": _l("Rooms"),
    "round_rooms": _l("Rooms of rounds"),
    "rounds": _l("Seasonal rounds"),
    "series": _l("Weekly series"),
    "series_skipped": _l("Dates left out of series"),
    "users": _l("Users"),
    "web_sessions": _l("Log-ins (page sessions)"),
}
# Lines the web layer has no name for yet (moves, SPEC §11).
MORE_LINE_NAMES = {"move_rent": _l("Move, rent"), "move_supervision": _l("Move, supervision")}

USERS_PER_PAGE = 50
MAX_USER_PAGE = 10_000
AUDIT_PER_PAGE = 20  # each entry shows before and after side by side: a phone page stays readable
_MONTH = re.compile(r"^(20\d\d|2100)-(0[1-9]|1[0-2])$")  # as the API's InvoiceArgs
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _admin() -> Actor:
    who = require_login()
    require_admin(who)
    return who


# --- users -----------------------------------------------------------------------------------


def _user_filters(args) -> tuple[Form, dict]:
    form = Form(args)
    search = form.text("q", max_length=254)
    role = form.choice("filter_role", ROLES)
    state = form.choice("state", ("active", "deactivated"))
    page = form.integer("page", minimum=1, maximum=MAX_USER_PAGE, default=1)
    return form, {"q": search, "role": role, "state": state, "page": page or 1}


def _users_listing(filters: dict) -> tuple[list[User], bool]:
    query = select(User).options(selectinload(User.organizations), selectinload(User.buildings))
    if filters["q"]:
        needle = filters["q"].lower()
        query = query.where(
            func.lower(User.name).contains(needle, autoescape=True)
            | User.email.contains(needle, autoescape=True)
        )
    if filters["role"]:
        query = query.where(User.role == filters["role"])
    if filters["state"]:
        query = query.where(User.active.is_(filters["state"] == "active"))
    offset = (filters["page"] - 1) * USERS_PER_PAGE
    rows = list(
        db.session.execute(
            query.order_by(User.name, User.id).offset(offset).limit(USERS_PER_PAGE + 1)
        ).scalars()
    )
    return rows[:USERS_PER_PAGE], len(rows) > USERS_PER_PAGE


def _choices() -> dict:
    return {
        "organizations": list(
            db.session.execute(select(Organization.id, Organization.name).order_by(Organization.name)).all()
        ),
        "buildings": list(
            db.session.execute(select(Building.id, Building.name).order_by(Building.name)).all()
        ),
    }


def _users_page(create: Form, status: int = 200):
    filter_form, filters = _user_filters(request.args)
    found, has_more = ([], False) if not filter_form.ok else _users_listing(filters)
    if not filter_form.ok:
        status = 422
    page = filters["page"]
    args = {
        k: v
        for k, v in (("q", filters["q"]), ("filter_role", filters["role"]), ("state", filters["state"]))
        if v
    }
    return render(
        "staff_people_users.html",
        status,
        found=found,
        filters=filter_form,
        create=create,
        role_names=ROLE_NAMES,
        previous_url=url_for("web.staff_users_page", page=page - 1, **args) if page > 1 else None,
        next_url=url_for("web.staff_users_page", page=page + 1, **args) if has_more else None,
        page=page,
        **_choices(),
    )


def users_page():
    _admin()
    return _users_page(Form({}))


def _user_form(source) -> tuple[Form, dict | None]:
    """The new user, checked as the API's ``UserCreateSchema`` checks it."""
    form = Form(source)
    name = form.text("name", required=True, max_length=200)
    email = form.text("email", required=True, max_length=254).lower()
    if email and not _EMAIL.fullmatch(email):
        form.error("email", _("Please enter a valid e-mail address."))
    elif email and not is_mailable(email):
        form.error("email", _("Please write the address in plain letters a–z (a domain as xn--…)."))
    role = form.choice("role", ROLES)
    if not role:
        form.error("role", _("Please choose a role."))
    password = source.get("password", "")
    password = password if isinstance(password, str) else ""
    if password and not 10 <= len(password) <= 1024:
        form.error("password", _("Please choose a password of at least 10 characters."))
    organization = form.integer("organization_id", minimum=1, maximum=MAX_INT)
    building = form.integer("building_id", minimum=1, maximum=MAX_INT)
    if organization and role and role != "member":
        form.error("organization_id", _("Only members belong to organisations."))
    if building and role and role != "janitor":
        form.error("building_id", _("Only janitors are assigned buildings."))
    data = {
        "name": name,
        "email": email,
        "role": role,
        "password": password or None,
        "organization_ids": [organization] if organization else [],
        "building_ids": [building] if building else [],
    }
    return form, (data if form.ok else None)


def user_create_submit():
    who = _admin()
    form, data = _user_form(request.form)
    if data is None:
        return _users_page(form, 422)
    try:
        with db.session.begin_nested():  # a concurrent create of the address: its unique key
            user = users.create_user(who, data)
    except (IntegrityError, StateConflict):
        form.error("email", _("A user with this e-mail address exists already."))
        return _users_page(form, 409)
    except InvalidInput as error:
        for field in error.errors:
            form.error(field.removesuffix("s"), _("Please choose one from the list."))
        return _users_page(form, 422)
    notify(_("Created the user %(name)s (%(email)s).", name=user.name, email=user.email))
    return see_other("web.staff_user_page", user_id=user.id)


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


def _user_page(who: Actor, user: User, form: Form | None = None, status: int = 200):
    choices = _choices()
    held_organizations = {o.id for o in user.organizations}
    held_buildings = {b.id for b in user.buildings}
    return render(
        "staff_people_user.html",
        status,
        user=user,
        form=form or Form({}),
        role_names=ROLE_NAMES,
        is_self=user.id == who.user_id,
        organizations=[o for o in choices["organizations"] if o.id not in held_organizations],
        buildings=[b for b in choices["buildings"] if b.id not in held_buildings],
    )


def user_page(user_id: int):
    who = _admin()
    return _user_page(who, _load_user(user_id))


def user_deactivate_submit(user_id: int):
    who = _admin()
    user = _load_user(user_id)
    try:
        users.deactivate_user(who, user_id)
    except StateConflict:
        notify(_("You cannot deactivate your own account; another administrator can."), "error")
        return see_other("web.staff_user_page", user_id=user_id)
    notify(
        _(
            "Deactivated %(name)s: the user can no longer log in, and every log-in and API token "
            "of theirs has ended.",
            name=user.name,
        )
    )
    return see_other("web.staff_user_page", user_id=user_id)


def _add_submit(user_id: int, *, field: str, role: str, model, add, wrong_role: str, already: str, done):
    """Give the user an organisation or a building chosen in the form: the form again (422) when
    the choice is missing or does not fit the user's role, 409 when the user has it already."""
    who = _admin()
    user = _load_user(user_id)
    form = Form(request.form)
    ref_id = form.integer(field, minimum=1, maximum=MAX_INT, required=True)
    added = db.session.get(model, ref_id) if ref_id is not None else None
    if ref_id is not None and added is None:
        form.error(field, _("Please choose one from the list."))
    if user.role != role:
        form.error(field, wrong_role)
    if not form.ok:
        return _user_page(who, user, form, 422)
    try:
        add(who, user.id, ref_id)
        db.session.expire(user)
    except StateConflict:
        form.error(field, already)
        return _user_page(who, user, form, 409)
    notify(done(added.name))
    return see_other("web.staff_user_page", user_id=user_id)


def membership_add_submit(user_id: int):
    return _add_submit(
        user_id,
        field="organization_id",
        role="member",
        model=Organization,
        add=users.add_membership,
        wrong_role=_("Only members belong to organisations."),
        already=_("The user is a member of this organisation already."),
        done=lambda name: _("The user is now a member of %(name)s.", name=name),
    )


def building_add_submit(user_id: int):
    return _add_submit(
        user_id,
        field="building_id",
        role="janitor",
        model=Building,
        add=users.add_building,
        wrong_role=_("Only janitors are assigned buildings."),
        already=_("The building is assigned to this janitor already."),
        done=lambda name: _("The janitor now has %(name)s.", name=name),
    )


def membership_remove_submit(user_id: int, organization_id: int):
    who = _admin()
    _load_user(user_id)
    try:
        users.remove_membership(who, user_id, organization_id)
    except NotFound:
        notify(_("The user was not a member of that organisation (any more)."), "error")
    else:
        notify(_("Removed the membership. The user no longer acts for the organisation."))
    return see_other("web.staff_user_page", user_id=user_id)


def building_remove_submit(user_id: int, building_id: int):
    who = _admin()
    _load_user(user_id)
    try:
        users.remove_building(who, user_id, building_id)
    except NotFound:
        notify(_("That building was not assigned to the user (any more)."), "error")
    else:
        notify(_("Took the building from the janitor."))
    return see_other("web.staff_user_page", user_id=user_id)


# --- the audit log ---------------------------------------------------------------------------


def _audit_form(args) -> tuple[Form, dict, dict]:
    """The filters (who, what, when) as the service takes them, and the keyset position."""
    form = Form(args)
    filters: dict = {}
    who = form.text("who", max_length=254)
    if who.isascii() and who.isdigit():
        filters["actor_user_id"] = form.integer("who", minimum=1, maximum=MAX_INT)
    elif who:
        found = db.session.execute(select(User.id).where(User.email == who.lower())).scalar()
        if found is None:
            form.error("who", _("No user has this e-mail address."))
        filters["actor_user_id"] = found
    entity = form.choice("entity", ENTITY_NAMES)
    filters["entity"] = entity or None
    entity_id = form.text("entity_id", max_length=60)
    filters["entity_id"] = entity_id or None
    action = form.choice("action", AUDIT_ACTIONS)
    filters["action"] = action or None
    first = form.date("from", required=False)
    last = form.date("to", required=False)
    if first and last and last < first:
        form.error("to", _("The last date must be on or after the first."))
    filters["from"] = local_day_bounds(first)[0] if first else None
    filters["to"] = local_day_bounds(last)[1] if last else None
    position = {
        "before": form.integer("before", minimum=1, maximum=MAX_INT),
        "after": form.integer("after", minimum=1, maximum=MAX_INT),
    }
    return form, filters, position


def _audit_rows(who: Actor, filters: dict, position: dict) -> tuple[list[AuditEntry], bool, bool]:
    """One page, newest first, by id (keyset: a page deep in a large log costs what the first
    does). Returns the entries and whether there are newer and older ones."""
    query = audit.audit_entries(who, filters)
    if position["after"] is not None:
        # Newer than ``after``: the oldest of them first, then turned around.
        query = query.where(AuditEntry.id > position["after"]).order_by(None).order_by(AuditEntry.id)
        rows = list(db.session.execute(query.limit(AUDIT_PER_PAGE + 1)).scalars())
        more_newer = len(rows) > AUDIT_PER_PAGE
        rows = rows[:AUDIT_PER_PAGE][::-1]
        return rows, more_newer, True
    if position["before"] is not None:
        query = query.where(AuditEntry.id < position["before"])
    rows = list(db.session.execute(query.limit(AUDIT_PER_PAGE + 1)).scalars())
    return rows[:AUDIT_PER_PAGE], position["before"] is not None, len(rows) > AUDIT_PER_PAGE


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
_MAX_DEPTH = 6


def readable(key: str, value, depth: int = 0) -> Markup:
    """A logged value in words for the page (never raw JSON): instants in local time, amounts
    in øre as money, lists joined, nested objects as nested lists of their fields."""
    if value is None or value == [] or value == {}:
        return Markup("–")
    if isinstance(value, bool):
        return escape(_("yes") if value else _("no"))
    if isinstance(value, int) and key.endswith("_ore"):
        return escape(money(value))
    if isinstance(value, (int, float)):
        return escape(str(value))
    if isinstance(value, str):
        if value == audit.REDACTED:
            return Markup('<span class="muted">{}</span>').format(_("hidden"))
        if _INSTANT.match(value):
            try:
                instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return escape(value)
            return escape(f"{day(instant, 'plain')} {clock(instant)}")
        return escape(value)
    if depth >= _MAX_DEPTH:
        return escape(str(value))
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            return Markup(", ").join(readable(key, v, depth + 1) for v in value)
        return Markup('<ol class="audit-value">{}</ol>').format(
            Markup("").join(Markup("<li>{}</li>").format(readable(key, v, depth + 1)) for v in value)
        )
    if isinstance(value, dict):
        return Markup('<dl class="audit-value">{}</dl>').format(
            Markup("").join(
                Markup("<dt>{}</dt><dd>{}</dd>").format(str(k), readable(str(k), v, depth + 1))
                for k, v in value.items()
            )
        )
    return escape(str(value))


def side_by_side(entry: AuditEntry) -> list[dict]:
    """One row per field the entry names: the field, its value before and after, and whether it
    changed."""
    before, after = entry.before or {}, entry.after or {}
    names = list(after) + [name for name in before if name not in after]
    return [
        {
            "field": name,
            "before": readable(name, before.get(name)) if name in before else Markup("–"),
            "after": readable(name, after.get(name)) if name in after else Markup("–"),
            "changed": name in before and name in after and before[name] != after[name],
        }
        for name in names
    ]


def audit_page():
    who = _admin()
    form, filters, position = _audit_form(request.args)
    entries, has_newer, has_older = ([], False, False)
    if form.ok:
        entries, has_newer, has_older = _audit_rows(who, filters, position)
    actor_ids = {e.actor_user_id for e in entries if e.actor_user_id is not None}
    actors = (
        {u.id: u for u in db.session.execute(select(User).where(User.id.in_(actor_ids))).scalars()}
        if actor_ids
        else {}
    )
    kept = {
        k: form.values[k]
        for k in ("who", "entity", "entity_id", "action", "from", "to")
        if form.values.get(k)
    }
    return render(
        "staff_people_audit.html",
        200 if form.ok else 422,
        form=form,
        entries=entries,
        rows={e.id: side_by_side(e) for e in entries},
        actors=actors,
        entity_names=ENTITY_NAMES,
        action_names=ACTION_NAMES,
        role_names=ROLE_NAMES,
        newer_url=url_for("web.staff_audit_page", after=entries[0].id, **kept)
        if has_newer and entries
        else None,
        older_url=url_for("web.staff_audit_page", before=entries[-1].id, **kept)
        if has_older and entries
        else None,
        newest_url=url_for("web.staff_audit_page", **kept)
        if position["before"] or position["after"]
        else None,
    )


# --- invoices --------------------------------------------------------------------------------


def _month_form(args) -> tuple[Form, tuple[int, int] | None]:
    form = Form(args)
    now = today()
    value = form.raw("month", f"{now.year:04d}-{now.month:02d}")
    if not _MONTH.match(value):
        form.error("month", _("Please enter a month as YYYY-MM, e.g. 2026-05."))
        return form, None
    year, month = (int(part) for part in value.split("-"))
    return form, (year, month)


def _shift(year: int, month: int, by: int) -> str | None:
    index = year * 12 + month - 1 + by
    shifted = date(index // 12, index % 12 + 1, 1)
    return f"{shifted:%Y-%m}" if 2000 <= shifted.year <= 2100 else None


def _line_name(code: str, description: str) -> str:
    name = LINE_NAMES.get(code) or MORE_LINE_NAMES.get(code)
    return str(name) if name else description


def invoices_page():
    who = _admin()
    form, picked = _month_form(request.args)
    if picked is None:
        return render("staff_people_invoices.html", 422, form=form, result=None, bookings={})
    result = invoices.monthly_invoices(who, *picked)
    booking_ids = {line["booking_id"] for invoice in result["invoices"] for line in invoice["lines"]}
    bookings = (
        {
            row.id: row
            for row in db.session.execute(
                select(Booking.id, Booking.start, Booking.end, Room.name.label("room_name"))
                .join(Room, Room.id == Booking.room_id)
                .where(Booking.id.in_(booking_ids))
            )
        }
        if booking_ids
        else {}
    )
    return render(
        "staff_people_invoices.html",
        form=form,
        result=result,
        bookings=bookings,
        month_start=date(*picked, 1),
        previous_month=_shift(*picked, -1),
        next_month=_shift(*picked, 1),
        line_name=_line_name,
        unit_names=UNIT_NAMES,
    )


def invoices_csv():
    """The month's invoices as the API's CSV, as a file to save (a plain link: no Accept header
    needed)."""
    who = _admin()
    form, picked = _month_form(request.args)
    if picked is None:
        return render("staff_people_invoices.html", 422, form=form, result=None, bookings={})
    result = invoices.monthly_invoices(who, *picked)
    return Response(
        invoices.invoices_csv(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="invoices-{result["month"]}.csv"'},
    )


URLS: list[tuple] = [  # path, endpoint, view, methods (added to the pages' blueprint)
    ("/admin/users", "staff_users_page", users_page, ["GET"]),
    ("/admin/users", "staff_user_create_submit", user_create_submit, ["POST"]),
    ("/admin/users/<int:user_id>", "staff_user_page", user_page, ["GET"]),
    (
        "/admin/users/<int:user_id>/deactivate",
        "staff_user_deactivate_submit",
        user_deactivate_submit,
        ["POST"],
    ),
    (
        "/admin/users/<int:user_id>/organizations",
        "staff_membership_add_submit",
        membership_add_submit,
        ["POST"],
    ),
    (
        "/admin/users/<int:user_id>/organizations/<int:organization_id>/remove",
        "staff_membership_remove_submit",
        membership_remove_submit,
        ["POST"],
    ),
    ("/admin/users/<int:user_id>/buildings", "staff_building_add_submit", building_add_submit, ["POST"]),
    (
        "/admin/users/<int:user_id>/buildings/<int:building_id>/remove",
        "staff_building_remove_submit",
        building_remove_submit,
        ["POST"],
    ),
    ("/admin/audit", "staff_audit_page", audit_page, ["GET"]),
    ("/admin/invoices", "staff_invoices_page", invoices_page, ["GET"]),
    ("/admin/invoices.csv", "staff_invoices_csv", invoices_csv, ["GET"]),
]
