"""``/janitor``: the day sheet of SPEC §6 for a phone in the corridor and for the printer, and the
janitor's choice of getting tomorrow's sheet by e-mail each morning."""

from __future__ import annotations

from datetime import date, timedelta

from flask import redirect, request, url_for
from flask_babel import gettext as _

from booking.extensions import db
from booking.models import User
from booking.services import accounts, browse
from booking.services.schedule import day_schedule
from booking.web.common import actor, notify, render, require_login
from booking.web.forms import Form, today


def janitor_index():
    who = require_login()
    buildings = browse.staff_buildings(who)
    if len(buildings) == 1:
        return redirect(url_for("web.janitor_day", building_id=buildings[0].id), 303)
    return render("janitor_index.html", buildings=buildings)


def janitor_day(building_id: int):
    who = require_login()
    raw = request.args.get("date", "")
    error = None
    try:
        day = date.fromisoformat(raw) if raw else today()
    except ValueError:
        day, error = today(), _("“%(value)s” is not a date (YYYY-MM-DD); showing today.", value=raw[:40])
    schedule = day_schedule(actor(), building_id, day)
    # The mail choices are the building's own janitors' (an admin reads every sheet, gets none).
    morning_sheet = next(
        (choice.morning_sheet for choice in accounts.building_mail(who.user_id) if choice.id == building_id),
        None,
    )
    return render(
        "janitor.html",
        422 if error else 200,
        schedule=schedule,
        error=error,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        today=today(),
        morning_sheet=morning_sheet,
        mail_language=db.session.get(User, who.user_id).language if morning_sheet is not None else None,
    )


def morning_sheet_submit(building_id: int):
    """The janitor's choice of tomorrow's day sheet by e-mail each morning (an unticked box is off)."""
    who = require_login()
    on = Form(request.form).boolean("morning_sheet")
    choice = accounts.set_morning_sheet(who, building_id, on)
    if on:
        notify(_("You will get the day sheet of %(name)s by e-mail each morning.", name=choice.name))
    else:
        notify(_("You will no longer get the day sheet of %(name)s by e-mail.", name=choice.name))
    return redirect(url_for("web.janitor_day", building_id=building_id) + "#mail-settings", 303)
