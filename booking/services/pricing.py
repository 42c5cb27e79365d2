"""Prices for bookings: price list versions from the database, quotes and fees from ``pricing``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from booking.domain.errors import InvalidInput, StateConflict
from booking.domain.holidays import holiday_dates
from booking.extensions import db
from booking.models import PriceListVersion, Room
from booking.services.access import Actor, require_admin
from pricing import OSLO, PriceList, Quote, QuoteRequest, price_list_in_force, quote
from pricing.quotes import merge_lines


def price_lists() -> list[PriceList]:
    rows = db.session.execute(select(PriceListVersion).order_by(PriceListVersion.valid_from)).scalars()
    return [PriceList.from_dict(row.data) for row in rows]


def create_price_list(actor: Actor, data: dict) -> PriceList:
    """Add a version (admin). Existing bookings keep their snapshots; the new version prices
    bookings starting on or after ``valid_from``."""
    require_admin(actor)
    try:
        price_list = PriceList.from_dict(data)
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidInput({"_schema": [str(error)]}) from error
    clash = db.session.execute(
        select(PriceListVersion.id).where(
            (PriceListVersion.version == price_list.version) | (PriceListVersion.valid_from == price_list.valid_from)
        )
    ).first()
    if clash:
        raise StateConflict("A price list with this version or valid_from exists already.")
    db.session.add(
        PriceListVersion(version=price_list.version, valid_from=price_list.valid_from, data=price_list.to_dict())
    )
    db.session.flush()
    return price_list


def quote_occurrences(
    room: Room,
    category: str,
    occurrences: list[tuple[datetime, datetime]],
    own_supervisor: bool,
    lists: list[PriceList] | None = None,
) -> list[Quote]:
    """One quote per occurrence, each by the price list in force on its local start date."""
    if not occurrences:
        return []
    lists = price_lists() if lists is None else lists
    building = room.building
    first = min(s for s, _ in occurrences).astimezone(OSLO).date()
    last = max(e for _, e in occurrences).astimezone(OSLO).date()
    holidays = holiday_dates(first, last)
    staffed = building.staffed_windows
    quotes = []
    for start, end in occurrences:
        request = QuoteRequest(
            price_group=room.price_group,
            category=category,
            occurrences=((start, end),),
            supervision=room.supervision,
            staffed_hours=staffed,
            own_supervisor=own_supervisor,
            holidays=holidays,
        )
        quotes.append(quote(price_list_in_force(lists, start.astimezone(OSLO).date()), request))
    return quotes


def combined_quote(quotes: list[Quote]) -> dict:
    """Several occurrences' quotes as one: merged lines, total, and each occurrence's total."""
    versions = sorted({q.price_list_version for q in quotes})
    return {
        "lines": [line.to_dict() for line in merge_lines(line for q in quotes for line in q.lines)],
        "total_ore": sum(q.total_ore for q in quotes),
        "price_list_version": ", ".join(versions),
        "category": quotes[0].category if quotes else None,
        "supervision_reason": "; ".join(dict.fromkeys(q.supervision_reason for q in quotes if q.supervision_reason))
        or None,
        "occurrences": [
            {"start": o.start.isoformat(), "end": o.end.isoformat(), "total_ore": o.total_ore}
            for q in quotes
            for o in q.occurrences
        ],
    }
