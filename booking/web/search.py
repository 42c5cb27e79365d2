"""``/``: find a free room at a time, with its price for the chosen organisation.

Each card's price is itemised as the room page's quote is: rent + supervision (tilsyn) = total,
so that a free-of-rent category's supervision charge does not read as a rent the room page's
price table (rent only) contradicts."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from flask_babel import gettext as _

from booking.models.room import ROOM_KINDS
from booking.services import browse
from booking.services.pricing import price_lists, quote_occurrences
from booking.web.common import actor, category_name, render
from booking.web.forms import KIND_NAMES, LENGTHS, search_form
from booking.web.i18n import money


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
            category_name(category).capitalize(),  # under the label "Show the price for"
            category,
        )
    return choices


@dataclass(frozen=True)
class CardPrice:
    rent_ore: int
    supervision_ore: int
    total_ore: int
    hours: str  # the supervision's lines, e.g. "2 × kr 300,00"


def card_prices(results, category: str, start, end) -> dict[int, CardPrice]:
    """Each found room's price for ``category`` split into rent and supervision, by the same
    quote that priced the card (``total_ore`` is the card's total)."""
    if not results:
        return {}
    lists = price_lists()
    prices = {}
    for item in results:
        quote = quote_occurrences(item.room, category, [(start, end)], False, lists=lists)[0]
        supervision = [line for line in quote.lines if line.code.startswith("supervision")]
        rent = sum(line.amount_ore for line in quote.lines if line.code.startswith("rent"))
        prices[item.room.id] = CardPrice(
            rent_ore=rent,
            supervision_ore=sum(line.amount_ore for line in supervision),
            total_ore=quote.total_ore,
            hours=", ".join(f"{line.quantity} × {money(line.unit_price_ore)}" for line in supervision),
        )
    return prices


def search_page():
    who = actor()
    organizations = browse.organizations_of(who) if who.role == "member" else []
    choices = price_choices(organizations)
    form, criteria = search_form(request.args, choices)
    results, link_args, prices = None, {}, {}
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
        prices = card_prices(results, category, criteria["start"], criteria["end"])
    status = 422 if form.errors else 200
    return render(
        "search.html",
        status,
        form=form,
        criteria=criteria,
        results=results,
        prices=prices,
        link_args=link_args,
        choices=choices,
        lengths=LENGTHS,
        kinds=[(k, KIND_NAMES[k]) for k in ROOM_KINDS],
        equipment_tags=browse.equipment_tags(),
    )
