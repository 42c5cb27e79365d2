"""``/janitor``: the day sheet of SPEC §6 for a phone in the corridor and for the printer, the
day sheets of all of a janitor's buildings on one page, how busy each building is, the janitor's
private calendar feed, and the choice of getting tomorrow's sheet by e-mail each morning."""

from __future__ import annotations

from datetime import date, timedelta

from flask import redirect, request, url_for
from flask_babel import gettext as _

from booking.extensions import db
from booking.feeds import links
from booking.models import User
from booking.services import accounts, browse
from booking.services.access import Actor
from booking.services.schedule import FIRST_DAY, LAST_DAY, buildings_day_schedules, day_counts, day_schedule
from booking.web.common import actor, notify, render, require_login
from booking.web.feeds import FeedLinks
from booking.web.forms import Form, today


def _chosen_day() -> tuple[date, str | None]:
    """The ``?date=`` of the page (today without one), or today and why the given one is not
    shown (not a date, or outside the days a sheet can be made for)."""
    raw = request.args.get("date", "").strip()
    if not raw:
        return today(), None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return today(), _("“%(value)s” is not a date (YYYY-MM-DD); showing today.", value=raw[:40])
    if not FIRST_DAY <= day <= LAST_DAY:
        return today(), _(
            "Choose a date from %(first)s to %(last)s; showing today.",
            first=FIRST_DAY.isoformat(),
            last=LAST_DAY.isoformat(),
        )
    return day, None


def _days(day: date) -> dict:
    """What the day navigation and the date picker need."""
    return {
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "today": today(),
        "first_day": FIRST_DAY,
        "last_day": LAST_DAY,
        "is_janitor": actor().role == "janitor",
    }


def _feed(who: Actor) -> FeedLinks | None:
    """The janitor's private feed (all assigned buildings), None before one is made; admins have
    no janitor feed."""
    if who.role != "janitor":
        return None
    found = links.janitor_links(who)
    return FeedLinks(**found) if found else None


def janitor_index():
    who = require_login()
    day, error = _chosen_day()
    buildings = browse.staff_buildings(who)
    if len(buildings) == 1:  # the date as given: the day sheet explains a wrong one
        dated = {"date": request.args["date"]} if request.args.get("date") else {}
        return redirect(url_for("web.janitor_day", building_id=buildings[0].id, **dated), 303)
    return render(
        "janitor_index.html",
        422 if error else 200,
        buildings=buildings,
        counts=day_counts(who, [b.id for b in buildings], day),
        error=error,
        feed=_feed(who),
        **_days(day),
    )


def janitor_day(building_id: int):
    who = require_login()
    day, error = _chosen_day()
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
        several=len(who.building_ids) > 1 or who.is_admin,
        feed=_feed(who),
        morning_sheet=morning_sheet,
        mail_language=db.session.get(User, who.user_id).language if morning_sheet is not None else None,
        **_days(day),
    )


def janitor_all():
    """The day sheets of all the janitor's buildings (every building for an admin) on one page."""
    who = require_login()
    day, error = _chosen_day()
    schedules = buildings_day_schedules(who, day)
    return render(
        "janitor_all.html",
        422 if error else 200,
        schedules=schedules,
        error=error,
        feed=_feed(who),
        **_days(day),
    )


def janitor_feed_submit():
    """Make the janitor's private calendar link, or a new one (the old one stops working); back
    to the page the form was on."""
    who = require_login()
    links.rotate_janitor_links(who)
    notify(_("New calendar link made. The old link no longer works: update it in your calendar app."))
    back = request.form.get("back", "")
    if back == "all":
        target = url_for("web.janitor_all")
    elif back.isascii() and back.isdigit() and int(back) in who.building_ids:
        target = url_for("web.janitor_day", building_id=int(back))
    else:
        target = url_for("web.janitor_index")
    return redirect(target + "#calendar-feed", 303)


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


# The janitor's pages added with issue 15 (the older ones are in ``blueprint.URLS``).
URLS = [
    ("/janitor/all", "janitor_all", janitor_all, ["GET"]),
    ("/janitor/feed-token", "janitor_feed_submit", janitor_feed_submit, ["POST"]),
]
