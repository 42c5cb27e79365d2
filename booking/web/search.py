"""``/``: find a free room at a time, with its price for the chosen organisation."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from booking.models.room import ROOM_KINDS
from booking.services import browse
from booking.web.common import actor, category_name, render
from booking.web.forms import KIND_NAMES, LENGTHS, search_form


def price_choices(organizations) -> dict[str, tuple[str, str]]:
    """``for`` values: ``org-ID`` for the user's organisations, ``cat-CATEGORY`` for anyone;
    each maps to (label, price category)."""
    choices = {
        f"org-{o.id}": (
            _("%(name)s (%(category)s)", name=o.name, category=category_name(o.effective_category)),
            o.effective_category,
        )
        for o in organizations
    }
    for category in ("full", "reduced", "free"):
        choices[f"cat-{category}"] = (
            _("Price category: %(category)s", category=category_name(category)),
            category,
        )
    return choices


def search_page():
    who = actor()
    organizations = browse.organizations_of(who) if who.role == "member" else []
    choices = price_choices(organizations)
    form, criteria = search_form(request.args, choices)
    results, link_args = None, {}
    if criteria:
        link_args = {"date": form.values["date"], "start": form.values["start"], "length": criteria["length"]}
        if criteria["for"].startswith("org-"):
            link_args["organization_id"] = criteria["for"][4:]
        category = choices[criteria["for"]][1]
        filters = {
            "kind": criteria["kind"],
            "min_capacity": criteria["min_capacity"],
            "equipment": criteria["equipment"],
        }
        results = browse.free_rooms(filters, criteria["start"], criteria["end"], category)
    status = 422 if form.errors else 200
    return render(
        "search.html",
        status,
        form=form,
        criteria=criteria,
        results=results,
        link_args=link_args,
        choices=choices,
        lengths=LENGTHS,
        kinds=[(k, KIND_NAMES[k]) for k in ROOM_KINDS],
        equipment_tags=browse.equipment_tags(),
    )
