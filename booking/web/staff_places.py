"""Back-office pages for places (SPEC §15): buildings with their opening and staffed hours and
closures, rooms with their facts, rules and parts, and price list versions with their rates.

The forms accept what the API accepts (the limits of ``booking.schemas``), say what is wrong per
field in the page's language, and hand the service the data the API would: every change goes
through a service, which checks it and is audited. A refused form comes back with what was typed
(422, nothing committed); a refused button comes back as a message (303).

An edit form carries a fingerprint of what it showed; if the building or room changed since (a
second admin, the API), the save is refused with both versions' facts in view rather than one
edit silently undoing the other. The check reads the row under a lock (``FOR UPDATE``; SQLite's
write transactions are serialized), so two saves of the same old form cannot both pass it. A
post without a fingerprint (a script, not the page) changes the row as the API's PATCH would.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.domain.errors import BookingConflict, InvalidInput, StateConflict
from booking.extensions import db
from booking.models import Building, Room
from booking.models.room import ROOM_KINDS, SUPERVISION_MODES
from booking.schemas.buildings import BuildingSchema, ClosureSchema
from booking.schemas.common import SLUG
from booking.schemas.pricing import MAX_RATE_ORE, PriceListSchema
from booking.schemas.rooms import RoomCreateSchema, RoomPatchSchema
from booking.services import buildings as building_service
from booking.services import pricing as pricing_service
from booking.services import rooms as room_service
from booking.services.access import require_admin
from booking.web.common import WEEKDAY_NAMES, notify, render, require_login, see_other
from booking.web.forms import KIND_NAMES, Form, today
from booking.web.i18n import day, span
from pricing import CATEGORIES, PRICE_GROUPS, PriceList
from pricing.weekly import WEEKDAYS

DAY_NAMES = dict(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True))
SUPERVISION_NAMES = {
    "outside_staffed_hours": _l("Outside staffed hours"),
    "always": _l("Always"),
    "never": _l("Never"),
}
assert set(SUPERVISION_NAMES) == set(SUPERVISION_MODES)
HOURS = ("opening", "staffed")
MAX_WINDOWS = 100  # per list, as the API's ``Windows``
MAX_CLOSURES = 200  # as the API's BuildingSchema.closures
MAX_EQUIPMENT = 50
MAX_PARTS = 20
_WINDOW = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)\s*[-–—]\s*([01]?\d|2[0-3])[:.]([0-5]\d)$")
_MONEY = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")

# ---------------------------------------------------------------------------------------------
# shared


def _admin():
    who = require_login()
    require_admin(who)
    return who


def _fingerprint(values: dict) -> str:
    """A short digest of what an edit form showed, to see whether the row changed since."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _locked(model, row_id: int):
    """The row, read under a lock that holds to the end of the transaction (or ``None``); a
    POST's transaction is a write transaction from its start (SQLite: BEGIN IMMEDIATE)."""
    return db.session.execute(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _service_errors(form: Form, error: InvalidInput, fields: dict[str, str] | None = None) -> None:
    """A service's per-field refusal on the form (its words are English; the page says which
    field and shows them)."""
    for name, messages in (error.errors or {}).items():
        field = (fields or {}).get(name, name)
        text = messages[0] if isinstance(messages, list) and messages else str(messages)
        form.error(field if field in form.values else "_form", _("Not accepted: %(detail)s", detail=text))
    if form.ok:
        form.error("_form", _("Not accepted: %(detail)s", detail=error.detail))


# ---------------------------------------------------------------------------------------------
# buildings


def _windows_text(windows: list[dict], weekday: str) -> str:
    return ", ".join(f"{w['start']}–{w['end']}" for w in windows if w["day"] == weekday)


def _building_values(building: Building) -> dict[str, str]:
    values = {"name": building.name, "address": building.address or ""}
    for kind in HOURS:
        windows = getattr(building, f"{kind}_hours") or []
        for weekday in WEEKDAYS:
            values[f"{kind}_{weekday}"] = _windows_text(windows, weekday)
    return values


def _building_state(building: Building) -> dict:
    return {
        "name": building.name,
        "address": building.address,
        "opening": building.opening_hours,
        "staffed": building.staffed_hours,
    }


def _parse_windows(form: Form, kind: str) -> list[dict]:
    windows = []
    for weekday in WEEKDAYS:
        name = f"{kind}_{weekday}"
        value = form.text(name, max_length=500)
        for piece in filter(None, (p.strip() for p in value.split(","))):
            match = _WINDOW.match(piece)
            if not match:
                form.error(
                    name, _("Write times as HH:MM–HH:MM, e.g. 08:00–16:00; several separated by commas.")
                )
                break
            start = f"{int(match.group(1)):02d}:{match.group(2)}"
            end = f"{int(match.group(3)):02d}:{match.group(4)}"
            if end != "00:00" and end <= start:
                form.error(
                    name, _("%(window)s: the end must be after the start (00:00 = midnight).", window=piece)
                )
                break
            windows.append({"day": weekday, "start": start, "end": end})
    if len(windows) > MAX_WINDOWS:
        form.error(f"{kind}_mon", _("At most %(n)s time windows a week.", n=MAX_WINDOWS))
    return windows


def building_form(source) -> tuple[Form, dict | None]:
    """Name, address and the weekly opening and staffed hours: the API's building data."""
    form = Form(source)
    name = form.text("name", required=True, max_length=200)
    address = form.text("address", max_length=300)
    windows = {kind: _parse_windows(form, kind) for kind in HOURS}
    if not form.ok:
        return form, None
    raw = {
        "name": name,
        "address": address,
        "opening_hours": windows["opening"],
        "staffed_hours": windows["staffed"],
    }
    try:  # the API's own validation, so the page accepts what the API accepts and no more
        data = BuildingSchema(only=("name", "address", "opening_hours", "staffed_hours")).load(raw)
    except ValidationError as error:
        for field in error.messages:
            form.error(field if field in form.values else "opening_mon", _("Please check this field."))
        return form, None
    return form, data


def buildings_page():
    _admin()
    return _buildings(Form({}))


def _buildings(form: Form, status: int = 200):
    query = building_service.list_buildings().options(
        selectinload(Building.rooms).load_only(Room.id), selectinload(Building.closures)
    )
    return render(
        "staff_places_buildings.html",
        status,
        buildings=list(db.session.execute(query).scalars()),
        form=form,
        weekdays=WEEKDAYS,
        day_names=DAY_NAMES,
    )


def building_create_submit():
    who = _admin()
    form, data = building_form(request.form)
    if data is None:
        return _buildings(form, 422)
    try:
        building = building_service.create_building(who, data)
    except StateConflict:
        form.error("name", _("A building with this name exists already."))
        return _buildings(form, 422)
    notify(_("Created the building %(name)s.", name=building.name))
    return see_other("web.staff_building_page", building_id=building.id)


def building_page(building_id: int):
    _admin()
    building = building_service.get_building(building_id)
    form = Form({})
    form.values.update(_building_values(building))
    return _building(building, form=form)


def _building(building: Building, status: int = 200, *, form=None, closure_form=None, stale=None):
    if form is None:
        form = Form({})
        form.values.update(_building_values(building))
    if closure_form is None:
        closure_form = Form({})
    return render(
        "staff_places_building.html",
        status,
        building=building,
        form=form,
        closure_form=closure_form,
        rooms=db.session.execute(
            select(Room)
            .where(Room.building_id == building.id)
            .options(selectinload(Room.parts))
            .order_by(Room.name, Room.id)
        ).scalars(),
        fingerprint=_fingerprint(_building_state(building)),
        stale=stale,
        weekdays=WEEKDAYS,
        day_names=DAY_NAMES,
        kind_names=KIND_NAMES,
        closure_key=closure_key,
    )


def building_submit(building_id: int):
    who = _admin()
    building = _locked(Building, building_id)
    if building is None:
        building_service.get_building(building_id)  # 404
    form, data = building_form(request.form)
    if "fingerprint" in request.form and request.form["fingerprint"] != _fingerprint(
        _building_state(building)
    ):
        # Someone saved the building since this form was shown: show theirs beside what was typed.
        form.error(
            "_form", _("Someone else changed the building after you opened the form. Nothing was saved.")
        )
        return _building(building, 409, form=form, stale=_building_values(building))
    if data is None:
        return _building(building, 422, form=form)
    try:
        building_service.update_building(who, building_id, data)
    except StateConflict:
        form.error("name", _("A building with this name exists already."))
        return _building(building, 422, form=form)
    notify(_("Saved the building %(name)s.", name=building.name))
    return see_other("web.staff_building_page", building_id=building_id)


def _closure_list(closures) -> list[dict]:
    return [{"start_date": c.start_date, "end_date": c.end_date, "reason": c.reason} for c in closures]


def closure_key(closure) -> str:
    """A closure named by its dates: its row is written anew whenever the building's closures
    change (the service replaces the list), so an id on an older page would name nothing."""
    return f"{closure.start_date.isoformat()}/{closure.end_date.isoformat()}"


def closure_add_submit(building_id: int):
    """Close the building on some dates: its bookings there are cancelled or declined, and
    their organisations told (the building service, SPEC §11)."""
    who = _admin()
    building = _locked(Building, building_id)
    if building is None:
        building_service.get_building(building_id)  # 404
    form = Form(request.form)
    start = form.date("closure_start")
    end = form.date("closure_end")
    reason = form.text("closure_reason", max_length=500)
    if start and end and end < start:
        form.error("closure_end", _("The last day must be on or after the first."))
    closures = _closure_list(building.closures)
    if len(closures) >= MAX_CLOSURES:
        form.error(
            "closure_start",
            _("A building has at most %(n)s closures: remove old ones first.", n=MAX_CLOSURES),
        )
    if not form.ok:
        return _building(building, 422, closure_form=form)
    new = ClosureSchema().load(
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "reason": reason}
    )
    building_service.update_building(who, building_id, {"closures": [*closures, new]})
    notify(
        _(
            "The building is closed %(first)s – %(last)s. Any bookings on those days were cancelled "
            "and their organisations told.",
            first=day(start, "plain"),
            last=day(end, "plain"),
        )
    )
    return see_other("web.staff_building_page", building_id=building_id)


def closure_remove_submit(building_id: int):
    who = _admin()
    building = _locked(Building, building_id)
    if building is None:
        building_service.get_building(building_id)  # 404
    key = request.form.get("closure", "")
    kept = list(building.closures)
    match = next((c for c in kept if closure_key(c) == key), None)
    if match is None:
        notify(_("That closure was removed already."), "error")
        return see_other("web.staff_building_page", building_id=building_id)
    kept.remove(match)
    building_service.update_building(who, building_id, {"closures": _closure_list(kept)})
    notify(_("Removed the closure. Cancelled bookings stay cancelled."))
    return see_other("web.staff_building_page", building_id=building_id)


# ---------------------------------------------------------------------------------------------
# rooms

ROOM_NUMBERS = {  # name: (minimum, maximum), as booking.schemas.rooms
    "capacity": (1, 100_000),
    "buffer_minutes": (0, 240),
    "min_duration_minutes": (1, 10_080),
    "max_duration_minutes": (1, 10_080),
    "min_notice_hours": (0, 8_760),
    "max_advance_days": (1, 1_000),
}
ROOM_FLAGS = ("accessible", "requires_approval", "active")
ROOM_DEFAULTS = {  # as booking.schemas.rooms
    "buffer_minutes": 0,
    "min_duration_minutes": 30,
    "max_duration_minutes": 720,
    "min_notice_hours": 0,
    "max_advance_days": 365,
}
NEW_ROOM = {
    "kind": "meeting_room",
    "price_group": "",
    "supervision": "outside_staffed_hours",
    **{name: str(value) for name, value in ROOM_DEFAULTS.items()},
    "active": "on",
}


def _room_values(room: Room) -> dict:
    values = {name: str(getattr(room, name)) for name in ROOM_NUMBERS}
    values.update(
        name=room.name,
        kind=room.kind,
        price_group=room.price_group,
        supervision=room.supervision,
        description=room.description or "",
        equipment=", ".join(room.equipment or []),
        parts=[str(i) for i in room.part_ids],
    )
    values.update({flag: "on" if getattr(room, flag) else "" for flag in ROOM_FLAGS})
    return values


def _room_state(room: Room) -> dict:
    return {**{name: getattr(room, name) for name in room_service.FIELDS}, "parts": room.part_ids}


def room_form(source, *, part_choices: list[int], new: bool) -> tuple[Form, dict | None]:
    """A room's facts and rules: the API's room data (without ``building_id``)."""
    form = Form(source)
    name = form.text("name", required=True, max_length=200)
    kind = form.raw("kind")
    if kind not in ROOM_KINDS:
        form.error("kind", _("Please choose the kind of room."))
    price_group = form.raw("price_group")
    if price_group and price_group not in PRICE_GROUPS or (not price_group and not new):
        form.error("price_group", _("Please choose a price group."))
    # A new room takes the API's defaults for the rules left empty; an edit shows every value.
    supervision = form.raw("supervision") or ("outside_staffed_hours" if new else "")
    if supervision not in SUPERVISION_MODES:
        form.error("supervision", _("Please choose when the room needs supervision."))
    numbers = {
        field: form.integer(field, minimum=low, maximum=high, required=not new)
        for field, (low, high) in ROOM_NUMBERS.items()
    }
    numbers = {field: number for field, number in numbers.items() if number is not None}
    shortest = numbers.get("min_duration_minutes", ROOM_DEFAULTS["min_duration_minutes"])
    if shortest > numbers.get("max_duration_minutes", ROOM_DEFAULTS["max_duration_minutes"]):
        form.error("max_duration_minutes", _("The longest booking must not be shorter than the shortest."))
    description = form.text("description", max_length=5000)
    tags = form.text("equipment", max_length=3000).split(",")
    equipment = [tag.strip() for tag in tags if tag.strip()]
    bad = [tag for tag in equipment if not SLUG.match(tag)]
    if bad:
        form.error(
            "equipment",
            _("%(tags)s: use a–z, 0–9, - and _ (at most 40 characters each).", tags=", ".join(bad[:5])),
        )
    elif len(equipment) > MAX_EQUIPMENT:
        form.error("equipment", _("At most %(n)s kinds of equipment.", n=MAX_EQUIPMENT))
    parts = source.getlist("parts") if hasattr(source, "getlist") else []
    form.values["parts"] = parts
    choices = {str(i) for i in part_choices}
    if any(part not in choices for part in parts):
        form.error("parts", _("Please choose parts among the rooms listed."))
    elif len(parts) > MAX_PARTS:
        form.error("parts", _("At most %(n)s parts.", n=MAX_PARTS))
    flags = {flag: form.boolean(flag) for flag in ROOM_FLAGS}
    if not form.ok:
        return form, None
    raw = {
        "name": name,
        "kind": kind,
        "supervision": supervision,
        "description": description,
        "equipment": list(dict.fromkeys(equipment)),
        "parts": [int(p) for p in dict.fromkeys(parts)],
        **numbers,
        **flags,
    }
    if price_group:
        raw["price_group"] = price_group
    schema = RoomCreateSchema(exclude=("building_id",)) if new else RoomPatchSchema()
    try:  # the API's own validation, so the page accepts what the API accepts and no more
        data = schema.load(raw)
    except ValidationError as error:
        for field in error.messages:
            form.error(field if field in form.values else "name", _("Please check this field."))
        return form, None
    return form, data


def _part_choices(building_id: int, room: Room | None = None) -> list[Room]:
    """The rooms a room of the building may be made of: the building's other rooms that are not
    divided themselves (the service says why, should one be refused)."""
    rooms = db.session.execute(
        select(Room)
        .where(Room.building_id == building_id)
        .options(selectinload(Room.parts))
        .order_by(Room.name, Room.id)
    ).scalars()
    current = set(room.part_ids) if room else set()
    return [r for r in rooms if (room is None or r.id != room.id) and (not r.parts or r.id in current)]


def _room(building: Building, room: Room | None, form: Form, status: int = 200, stale=None):
    return render(
        "staff_places_room.html",
        status,
        building=building,
        room=room,
        form=form,
        parts=_part_choices(building.id, room),
        fingerprint=_fingerprint(_room_state(room)) if room else "",
        stale=stale,
        kind_names=KIND_NAMES,
        supervision_names=SUPERVISION_NAMES,
        price_groups=PRICE_GROUPS,
    )


def room_new_page(building_id: int):
    _admin()
    building = building_service.get_building(building_id)
    form = Form({})
    form.values.update(NEW_ROOM)
    return _room(building, None, form)


def room_create_submit(building_id: int):
    who = _admin()
    building = building_service.get_building(building_id)
    choices = [r.id for r in _part_choices(building.id)]
    form, data = room_form(request.form, part_choices=choices, new=True)
    if data is None:
        return _room(building, None, form, 422)
    try:
        room = room_service.create_room(who, {**data, "building_id": building.id})
    except StateConflict:
        form.error("name", _("The building has a room with this name already."))
        return _room(building, None, form, 422)
    except InvalidInput as error:
        _service_errors(form, error)
        return _room(building, None, form, 422)
    notify(_("Created the room %(name)s.", name=room.name))
    return see_other("web.staff_room_page", room_id=room.id)


def room_page(room_id: int):
    _admin()
    room = room_service.get_room(room_id)
    form = Form({})
    form.values.update(_room_values(room))
    return _room(room.building, room, form)


def room_submit(room_id: int):
    who = _admin()
    room = _locked(Room, room_id)
    if room is None:
        room_service.get_room(room_id)  # 404
    choices = [r.id for r in _part_choices(room.building_id, room)]
    form, data = room_form(request.form, part_choices=choices, new=False)
    if "fingerprint" in request.form and request.form["fingerprint"] != _fingerprint(_room_state(room)):
        form.error("_form", _("Someone else changed the room after you opened the form. Nothing was saved."))
        return _room(room.building, room, form, 409, stale=_room_values(room))
    if data is None:
        return _room(room.building, room, form, 422)
    try:
        room_service.update_room(who, room_id, data)
    except StateConflict:
        form.error("name", _("The building has a room with this name already."))
        return _room(room.building, room, form, 422)
    except InvalidInput as error:
        _service_errors(form, error)
        return _room(room.building, room, form, 422)
    except BookingConflict as error:  # bookings of the room that cannot move onto the new parts
        form.error(
            "parts",
            ngettext(
                "%(num)d booking of the room would overlap other bookings on the new parts: move or "
                "cancel it first (%(dates)s).",
                "%(num)d bookings of the room would overlap other bookings on the new parts: move or "
                "cancel them first (%(dates)s).",
                len(error.conflicts),
                dates=", ".join(
                    f"{day(c['start'], 'short')} {span(c['start'], c['end'])}" for c in error.conflicts[:5]
                ),
            ),
        )
        return _room(room.building, room, form, 409)
    notify(_("Saved the room %(name)s.", name=room.name))
    return see_other("web.staff_room_page", room_id=room_id)


# ---------------------------------------------------------------------------------------------
# price lists

PRICE_AMOUNTS = ("supervision_weekday_ore", "supervision_weekend_ore")


def _kroner(ore: int) -> str:
    whole, rest = divmod(ore, 100)
    return f"{whole},{rest:02d}" if rest else str(whole)


def _price_values(price_list: PriceList) -> dict:
    values = {
        f"rate_{group}_{category}": _kroner(price_list.hourly_rates_ore[group][category])
        for group in PRICE_GROUPS
        for category in CATEGORIES
        if category != "free"
    }
    values.update({name: _kroner(getattr(price_list, name)) for name in PRICE_AMOUNTS})
    values["weekend_surcharge_percent"] = str(price_list.weekend_surcharge_percent)
    values["supervision_minimum_hours"] = str(price_list.supervision_minimum_hours)
    return values


def _ore(form: Form, name: str, *, required: bool = True) -> int | None:
    value = form.raw(name).replace(" ", "").replace("\u00a0", "")
    if not value and not required:
        return None
    match = _MONEY.match(value)
    if not match:
        form.error(name, _("Please enter an amount in kroner, e.g. 150 or 150,50."))
        return None
    try:
        ore = int(Decimal(f"{match.group(1)}.{match.group(2) or '0'}") * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        form.error(name, _("Please enter an amount in kroner, e.g. 150 or 150,50."))
        return None
    if ore > MAX_RATE_ORE:
        form.error(name, _("At most %(amount)s kroner.", amount=_kroner(MAX_RATE_ORE)))
        return None
    return ore


def price_list_form(source) -> tuple[Form, dict | None]:
    """A new version: its name, first day, hourly rent per price group and category (free is
    always 0), and the supervision rates: the API's price list data."""
    form = Form(source)
    version = form.text("version", required=True, max_length=40)
    valid_from = form.date("valid_from")
    rates = {
        group: {"free": 0, **{c: _ore(form, f"rate_{group}_{c}") for c in CATEGORIES if c != "free"}}
        for group in PRICE_GROUPS
    }
    # Left empty, these take the API's defaults.
    optional = {name: _ore(form, name, required=False) for name in PRICE_AMOUNTS}
    optional["weekend_surcharge_percent"] = form.integer("weekend_surcharge_percent", minimum=0, maximum=1000)
    optional["supervision_minimum_hours"] = form.integer("supervision_minimum_hours", minimum=0, maximum=24)
    if not form.ok:
        return form, None
    raw = {
        "version": version,
        "valid_from": valid_from.isoformat(),
        "hourly_rates_ore": rates,
        **{name: value for name, value in optional.items() if value is not None},
    }
    try:  # the API's own validation
        data = PriceListSchema().load(raw)
    except ValidationError as error:
        for field in error.messages:
            form.error(field if field in form.values else "version", _("Please check this field."))
        return form, None
    return form, data


def price_lists_page():
    _admin()
    lists = pricing_service.price_lists()
    form = Form({})
    if lists:
        form.values.update(_price_values(lists[-1]))
    form.values["valid_from"] = ""
    return _price_lists(lists, form)


def _price_lists(lists: list[PriceList], form: Form, status: int = 200):
    in_force = pricing_service.version_in_force(today())
    return render(
        "staff_places_price_lists.html",
        status,
        lists=list(reversed(lists)),
        in_force=in_force,
        form=form,
        price_groups=PRICE_GROUPS,
        kind_names=KIND_NAMES,
    )


def price_list_create_submit():
    who = _admin()
    form, data = price_list_form(request.form)
    if data is not None:
        data = {**data, "valid_from": data["valid_from"].isoformat()}
        try:
            price_list = pricing_service.create_price_list(who, data)
        except StateConflict:
            form.error("version", _("A version with this name or this first day exists already."))
        except InvalidInput as error:
            _service_errors(form, error)
        else:
            notify(
                _(
                    "Added the price list %(version)s, in force from %(date)s.",
                    version=price_list.version,
                    date=day(price_list.valid_from, "plain"),
                )
            )
            return see_other("web.staff_price_lists_page")
    return _price_lists(pricing_service.price_lists(), form, 422)


URLS: list[tuple] = [  # path, endpoint, view, methods (added to the pages' blueprint)
    ("/admin/buildings", "staff_buildings_page", buildings_page, ["GET"]),
    ("/admin/buildings", "staff_building_create_submit", building_create_submit, ["POST"]),
    ("/admin/buildings/<int:building_id>", "staff_building_page", building_page, ["GET"]),
    ("/admin/buildings/<int:building_id>", "staff_building_submit", building_submit, ["POST"]),
    ("/admin/buildings/<int:building_id>/closures", "staff_closure_add_submit", closure_add_submit, ["POST"]),
    (
        "/admin/buildings/<int:building_id>/closures/remove",
        "staff_closure_remove_submit",
        closure_remove_submit,
        ["POST"],
    ),
    ("/admin/buildings/<int:building_id>/rooms", "staff_room_new_page", room_new_page, ["GET"]),
    ("/admin/buildings/<int:building_id>/rooms", "staff_room_create_submit", room_create_submit, ["POST"]),
    ("/admin/rooms/<int:room_id>", "staff_room_page", room_page, ["GET"]),
    ("/admin/rooms/<int:room_id>", "staff_room_submit", room_submit, ["POST"]),
    ("/admin/price-lists", "staff_price_lists_page", price_lists_page, ["GET"]),
    ("/admin/price-lists", "staff_price_list_create_submit", price_list_create_submit, ["POST"]),
]
