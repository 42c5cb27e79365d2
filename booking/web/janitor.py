"""``/janitor``: the day sheet of SPEC §6 for a phone in the corridor and for the printer."""

from __future__ import annotations

from datetime import date, timedelta

from flask import redirect, request, url_for
from flask_babel import gettext as _

from booking.services import browse
from booking.services.schedule import day_schedule
from booking.web.common import actor, render, require_login
from booking.web.forms import today


def janitor_index():
    who = require_login()
    buildings = browse.staff_buildings(who)
    if len(buildings) == 1:
        return redirect(url_for("web.janitor_day", building_id=buildings[0].id), 303)
    return render("janitor_index.html", buildings=buildings)


def janitor_day(building_id: int):
    require_login()
    raw = request.args.get("date", "")
    error = None
    try:
        day = date.fromisoformat(raw) if raw else today()
    except ValueError:
        day, error = today(), _("“%(value)s” is not a date (YYYY-MM-DD); showing today.", value=raw[:40])
    schedule = day_schedule(actor(), building_id, day)
    return render(
        "janitor.html",
        422 if error else 200,
        schedule=schedule,
        error=error,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        today=today(),
    )
