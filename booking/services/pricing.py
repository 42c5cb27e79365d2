"""Prices for bookings: price list versions from the database, quotes and fees from ``pricing``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import String, cast, func, select

from booking.domain import recurrence
from booking.domain.errors import InvalidInput, NotAuthenticated, PermissionDenied, StateConflict
from booking.domain.holidays import holiday_dates
from booking.extensions import db
from booking.models import Organization, PriceListVersion, Room
from booking.services.access import Actor, can_act_for_organization, require_admin
from pricing import OSLO, PriceList, Quote, QuoteRequest, price_list_in_force, quote
from pricing.quotes import merge_lines

# A version's identity as text: versions are never edited, so the ids and creation times of all
# versions name the whole list (a version rolled back and its id reused has another time).
_IDENTITY = cast(PriceListVersion.id, String) + "@" + cast(PriceListVersion.created_at, String)
_PRICE_LISTS = select(
    PriceListVersion.id, PriceListVersion.created_at, PriceListVersion.data, _IDENTITY
).order_by(PriceListVersion.valid_from)
# The identities of all versions in one value, for a statement that runs anyway to read along
# (a create's targets): with it, ``price_lists`` answers from this process's memory when the
# versions are the ones it read last, and the create sends one statement less (bench peer,
# created: 7 -> 6 statements).
PRICE_LISTS_KEY = select(func.aggregate_strings(_IDENTITY, ",")).scalar_subquery()
_PARSED: dict[tuple, PriceList] = {}  # versions are never edited: parse each row once per process
_BY_KEY: dict[tuple[str, ...], tuple[PriceList, ...]] = {}  # all versions, by their identities


def price_lists(key: str | None = None) -> list[PriceList]:
    """Every version, oldest first: one statement; each row parsed once per process. With
    ``key`` (``PRICE_LISTS_KEY`` read in this transaction), no statement when this process has
    read those very versions before."""
    known = _BY_KEY.get(_identities(key)) if key else None
    if known is not None:
        return list(known)
    rows = db.session.execute(_PRICE_LISTS)
    lists, identities = [], []
    for row_id, created_at, data, identity in rows:
        parsed = _PARSED.get((row_id, created_at))
        if parsed is None:
            if len(_PARSED) > 1000:
                _PARSED.clear()
            parsed = _PARSED[row_id, created_at] = PriceList.from_dict(data)
        lists.append(parsed)
        identities.append(identity)
    if len(_BY_KEY) > 100:
        _BY_KEY.clear()
    _BY_KEY[tuple(sorted(identities))] = tuple(lists)
    return lists


def _identities(key: str) -> tuple[str, ...]:
    return tuple(sorted(key.split(",")))


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
            (PriceListVersion.version == price_list.version)
            | (PriceListVersion.valid_from == price_list.valid_from)
        )
    ).first()
    if clash:
        raise StateConflict("A price list with this version or valid_from exists already.")
    db.session.add(
        PriceListVersion(
            version=price_list.version, valid_from=price_list.valid_from, data=price_list.to_dict()
        )
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
        day = start.astimezone(OSLO).date()
        try:
            price_list = price_list_in_force(lists, day)
        except ValueError as error:
            raise InvalidInput({"start": [f"No price list is in force on {day.isoformat()}."]}) from error
        quotes.append(quote(price_list, request))
    return quotes


def combined_quote(quotes: list[Quote]) -> dict:
    """Several occurrences' quotes as one: merged lines, total, and each occurrence's total."""
    versions = sorted({q.price_list_version for q in quotes})
    return {
        "lines": [line.to_dict() for line in merge_lines(line for q in quotes for line in q.lines)],
        "total_ore": sum(q.total_ore for q in quotes),
        "price_list_version": ", ".join(versions),
        "category": quotes[0].category if quotes else None,
        "supervision_reason": "; ".join(
            dict.fromkeys(q.supervision_reason for q in quotes if q.supervision_reason)
        )
        or None,
        "occurrences": [
            {"start": o.start.isoformat(), "end": o.end.isoformat(), "total_ore": o.total_ore}
            for q in quotes
            for o in q.occurrences
        ],
    }


# --- for the HTTP API ----------------------------------------------------------------------

# A quote prices the time asked for; whether it may be booked (opening hours, notice, length
# limits of the room) is what a dry run of POST /bookings answers. This cap only keeps a single
# request's work bounded: it is the longest any room allows (7 days).
MAX_QUOTE_DURATION = timedelta(days=7)


def list_price_lists():
    """Every version, oldest first (a query, for pagination)."""
    return select(PriceListVersion).order_by(PriceListVersion.valid_from)


def version_in_force(on: date) -> str | None:
    """The version that prices bookings starting on ``on``, or ``None`` before the first one."""
    try:
        return price_list_in_force(price_lists(), on).version
    except ValueError:
        return None


def _quoted_category(actor: Actor, data: dict) -> str:
    """The category a quote prices. ``category`` (free, reduced or full) is open to anyone: the
    price lists are public, so it tells nothing about anybody. ``organization_id`` prices the
    organisation's effective category (``full`` until it is verified), which tells whether it is
    verified and how it is categorised: only its members and admins may ask (SPEC §13), the
    others learn nothing, not even whether it exists (401 anonymous, 403 logged in). Neither
    given: 422 here; both: 422 from the schema."""
    organization_id = data.get("organization_id")
    if organization_id is None:
        category = data.get("category")
        if category is None:
            raise InvalidInput(
                {"category": ["Give a category (free, reduced or full), or log in and give organization_id."]}
            )
        return category
    if not actor.is_authenticated:
        raise NotAuthenticated(
            "Log in to quote for an organisation; without logging in, quote a category "
            "(free, reduced or full)."
        )
    if not can_act_for_organization(actor, organization_id):
        raise PermissionDenied(
            "You can quote for the organisations you are a member of; or quote a category."
        )
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise InvalidInput({"organization_id": [f"There is no organisation {organization_id}."]})
    return organization.effective_category


def quote_request(actor: Actor, data: dict) -> dict:
    """The itemized quote for ``POST /quotes``: for a ``category`` (anyone), or for an
    organisation's category (its members and admins; see ``_quoted_category``).

    A series (``recurrence.rrule``) is expanded as a booking would be, and each occurrence is
    priced by the version in force on its local start date, exactly as the booking's snapshot
    will be.
    """
    category = _quoted_category(actor, data)
    organization_id = data.get("organization_id")
    room = db.session.get(Room, data["room_id"])
    if room is None:
        raise InvalidInput({"room_id": [f"There is no room {data['room_id']}."]})
    start, end = data["start"], data["end"]
    if end - start > MAX_QUOTE_DURATION:
        raise InvalidInput({"end": ["A quote covers at most 7 days per occurrence."]})
    if data.get("recurrence"):
        occurrences = recurrence.expand(data["recurrence"]["rrule"], start, end)
    else:
        occurrences = [(start, end)]
    quotes = quote_occurrences(room, category, occurrences, bool(data.get("own_supervisor")))
    view = combined_quote(quotes)
    view.update(
        room_id=room.id,
        organization_id=organization_id,
        category=category,
        occurrences=[
            {
                "start": o.start,
                "end": o.end,
                "price_list_version": q.price_list_version,
                "lines": [line.to_dict() for line in o.lines],
                "total_ore": o.total_ore,
                "supervision_reason": o.supervision_reason,
            }
            for q in quotes
            for o in q.occurrences
        ],
    )
    return view
