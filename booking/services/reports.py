"""The support report (SPEC §15): the indirect support the municipality gives through its prices.

For a period and per organisation and price category: the hours used, what was charged, what
the same bookings would have cost at ``full`` price, and the difference, the support, with the
part of it that is supervision (tilsyn) the municipality covered.

What counts
===========

The period is a range of Europe/Oslo local dates, both ends included (at most
:data:`MAX_PERIOD_DAYS` days). A booking belongs to it by the **local date of its start**, as
invoices do (a booking at 00:30 on 1 March belongs to March).

- **Confirmed** bookings: their time counts as hours used, their snapshot's total as charged.
- **Cancelled** bookings whose cancellation cost a fee by the rules (rule ``half_rent_7_days``,
  ``full_rent`` or ``full_rent_and_supervision``): no hours (the room was not used), the stored
  fee as charged, and as full price the fee a ``full`` booking of the same time would have cost
  when cancelled at the same moment. Cancellations that cost nothing whatever the category (by
  the municipality, or 14 days or more ahead) give no support and are left out, as are pending and
  rejected requests. Unlike invoices, a fee is counted by the booking's start date (the time it
  was for), not by the date of the cancellation.

The category is the one the booking was **priced** with (its snapshot), not the organisation's
category today: an organisation re-priced during the period appears under both categories.

Full price
==========

Nothing is derived here: what was charged is read from the stored snapshot or fee, and the full
price is a quote of :mod:`pricing` for the same booking (room's price group, supervision mode, the
building's staffed hours, ``own_supervisor``, public holidays) at category ``full``, with the price
list version its snapshot was made with, the version in force at its start when it was booked
(as a move of a confirmed booking re-prices it). Moves a booking still owes (``move_*`` lines)
are added unchanged to both sides. A booking priced ``full`` needs no second quote: its charge
is its full price, so its support is 0.

Supervision
===========

SPEC §5 charges supervision to every category, ``free`` included (unless the association brings
its own supervisor, and then none is needed). Supervision covered is the full price's
supervision (``supervision_*``, ``cancellation_supervision``, ``move_supervision`` lines) less the
charged supervision; under today's rules it is 0 for every booking, so the report shows that the
support is rent, and it shows a change of the rules (or a snapshot made under other supervision
facts) when there is one. It is reported with the supervision charged, for reference.

Money and rounding
==================

Integer øre throughout, summed exactly; the only roundings are those of :mod:`pricing` (unit
prices, a 50 % fee). Hours are kept as whole minutes (real elapsed time, so a DST night counts
what it lasted) and shown with two decimals, rounded half up by :func:`pricing.round_ore`'s rule.

Statements
==========

Two, whatever the number of bookings: the price list versions, and the bookings of the period
with their rooms, buildings and organisations. The CSV (:func:`support_csv`) has the format of the
invoices' CSV: UTF-8, semicolons, CRLF, amounts in NOK like ``1250.00``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from datetime import UTC, date, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from booking.domain.errors import InvalidInput
from booking.domain.holidays import holiday_dates
from booking.domain.lifecycle import Status
from booking.domain.timeslots import local_day_bounds
from booking.extensions import db
from booking.models import Booking, Building, Organization, Room
from booking.services.access import Actor, require_admin
from booking.services.invoices import nok
from booking.services.pricing import price_lists
from pricing import CATEGORIES, OSLO, PriceList, Quote, QuoteRequest, price_list_in_force, quote, round_ore
from pricing.cancellation import CancellationFee, booking_cancellation_fee, owed_moves, with_moves

MAX_PERIOD_DAYS = 366
# The cancellation rules that charge something by the rules (for some category at least).
CHARGED_CANCELLATIONS = ("half_rent_7_days", "full_rent", "full_rent_and_supervision")
SUPERVISION_LINES = (
    "supervision_weekday",
    "supervision_weekend",
    "cancellation_supervision",
    "move_supervision",
)
# A booking lasts at most 7 days: its holidays lie within a week after the period.
_LONGEST_BOOKING = timedelta(days=8)

CSV_COLUMNS = (
    "category",
    "organization",
    "org_number",
    "bookings",
    "cancelled_with_fee",
    "hours",
    "charged_nok",
    "full_price_nok",
    "support_nok",
    "supervision_charged_nok",
    "supervision_covered_nok",
)


@dataclass
class Figures:
    """Sums for an organisation, a category or the whole period (øre and minutes)."""

    bookings: int = 0
    cancelled_with_fee: int = 0
    minutes: int = 0
    charged_ore: int = 0
    full_price_ore: int = 0
    supervision_charged_ore: int = 0
    supervision_full_ore: int = 0

    @property
    def support_ore(self) -> int:
        return self.full_price_ore - self.charged_ore

    @property
    def supervision_covered_ore(self) -> int:
        return self.supervision_full_ore - self.supervision_charged_ore

    @property
    def hours(self) -> Decimal:
        return hours(self.minutes)

    def add(self, other: Figures) -> None:
        for name in (f.name for f in fields(Figures)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict:
        return {
            "bookings": self.bookings,
            "cancelled_with_fee": self.cancelled_with_fee,
            "minutes": self.minutes,
            "hours": str(self.hours),
            "charged_ore": self.charged_ore,
            "full_price_ore": self.full_price_ore,
            "support_ore": self.support_ore,
            "supervision_charged_ore": self.supervision_charged_ore,
            "supervision_covered_ore": self.supervision_covered_ore,
        }


@dataclass
class OrganizationFigures(Figures):
    organization_id: int = 0
    organization_name: str = ""
    org_number: str = ""

    def to_dict(self) -> dict:
        return {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "org_number": self.org_number,
            **super().to_dict(),
        }


@dataclass
class CategoryFigures:
    category: str
    organizations: list[OrganizationFigures] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)

    def to_dict(self) -> dict:
        return {
            "category": self.category,
            "organizations": [o.to_dict() for o in self.organizations],
            "total": self.total.to_dict(),
        }


@dataclass
class SupportReport:
    from_date: date
    to_date: date
    categories: list[CategoryFigures]
    total: Figures

    def to_dict(self) -> dict:
        return {
            "from_date": self.from_date,
            "to_date": self.to_date,
            "currency": "NOK",
            "categories": [c.to_dict() for c in self.categories],
            "total": self.total.to_dict(),
        }

    def top_organizations(self, limit: int = 10) -> list[tuple[str, OrganizationFigures]]:
        """The organisations with the most support, largest first (with their category)."""
        rows = [(c.category, o) for c in self.categories for o in c.organizations if o.support_ore > 0]
        rows.sort(key=lambda row: (-row[1].support_ore, row[1].organization_name))
        return rows[:limit]


def hours(minutes: int) -> Decimal:
    """Whole minutes as hours with two decimals, halves rounded up (exact: no float)."""
    return Decimal(round_ore(Fraction(minutes * 100, 60))).scaleb(-2)


def check_period(from_date: date, to_date: date) -> None:
    """422 unless ``from_date`` <= ``to_date`` and the period is at most MAX_PERIOD_DAYS days."""
    if to_date < from_date:
        raise InvalidInput({"to": ["The end of the period must not be before its start."]})
    if (to_date - from_date).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput({"to": [f"A period covers at most {MAX_PERIOD_DAYS} days."]})


def _supervision(lines) -> int:
    return sum(line.amount_ore for line in lines if line.code in SUPERVISION_LINES)


def support_report(actor: Actor, from_date: date, to_date: date) -> SupportReport:
    """The support report for the local dates ``from_date`` to ``to_date`` (admin); rules in the
    module docstring."""
    require_admin(actor)
    check_period(from_date, to_date)
    start, end = (moment.astimezone(UTC) for moment in local_day_bounds(from_date, to_date))
    lists = price_lists()
    by_version: dict[str, PriceList] = {p.version: p for p in lists}
    holidays = holiday_dates(from_date, to_date + _LONGEST_BOOKING)
    in_period = (
        Booking.start >= start,
        Booking.start < end,
        Booking.status.in_((Status.CONFIRMED, Status.CANCELLED)),
    )
    # The rooms (with their buildings) the period's bookings are in, once each; the bookings
    # then as plain rows of the columns the figures need, streamed: a year of a large
    # municipality is hundreds of thousands of bookings, never all in memory at once (with every
    # row's room and building decoded again, a year of the benchmark data grew a worker past
    # 8 GB), and a month's report reads its rows in a third of the time.
    rooms = {
        room.id: room
        for room in db.session.scalars(
            select(Room)
            .options(joinedload(Room.building))
            .where(Room.id.in_(select(Booking.room_id).where(*in_period).distinct()))
        )
    }
    rows = db.session.execute(
        select(*_FIGURE_COLUMNS)
        .join(Organization, Organization.id == Booking.organization_id)
        .where(*in_period)
        .execution_options(yield_per=_STREAMED_ROWS)
    )
    staffed_by_building: dict[int, list] = {}
    per_organization: dict[tuple[str, int], OrganizationFigures] = {}
    for booking in rows:
        room = rooms.get(booking.room_id)
        if room is None:  # its first booking of the period committed between the two statements
            room = rooms[booking.room_id] = db.session.get(Room, booking.room_id)
        counted = _booking_figures(
            booking, room, room.building, lists, by_version, holidays, staffed_by_building
        )
        if counted is None:
            continue
        category, figures = counted
        key = (category, booking.organization_id)
        if key not in per_organization:
            per_organization[key] = OrganizationFigures(
                organization_id=booking.organization_id,
                organization_name=booking.organization_name,
                org_number=booking.org_number,
            )
        per_organization[key].add(figures)
    categories = []
    total = Figures()
    for category in CATEGORIES:
        entry = CategoryFigures(category)
        entry.organizations = sorted(
            (o for (c, _), o in per_organization.items() if c == category),
            key=lambda o: (o.organization_name.casefold(), o.organization_id),
        )
        for organization_figures in entry.organizations:
            entry.total.add(organization_figures)
        total.add(entry.total)
        categories.append(entry)
    return SupportReport(from_date, to_date, categories, total)


# What a booking's figures read of it (``_booking_figures``) and its organisation's name and
# number, and how many rows are fetched at a time while the report streams them.
_FIGURE_COLUMNS = (
    Booking.room_id,
    Booking.organization_id,
    Booking.status,
    Booking.start,
    Booking.end,
    Booking.own_supervisor,
    Booking.quote,
    Booking.cancellation_fee,
    Booking.cancelled_at,
    Organization.name.label("organization_name"),
    Organization.org_number,
)
_STREAMED_ROWS = 2000


def _booking_figures(
    booking,
    room: Room,
    building: Building,
    lists: list[PriceList],
    by_version: dict[str, PriceList],
    holidays: frozenset[date],
    staffed_by_building: dict[int, list],
) -> tuple[str, Figures] | None:
    """One booking's figures and the category it was priced with; ``None`` when it does not count."""
    fee = booking.cancellation_fee or {}
    cancelled = booking.status is Status.CANCELLED
    if cancelled and fee.get("rule") not in CHARGED_CANCELLATIONS:
        return None
    snapshot = Quote.from_dict(booking.quote)
    charged_lines = list(snapshot.lines)
    charged = snapshot.total_ore
    if cancelled:
        stored_fee = CancellationFee.from_dict(fee)
        charged_lines, charged = list(stored_fee.lines), stored_fee.total_ore
    if snapshot.category == "full":
        full_lines, full = charged_lines, charged
    else:
        if building.id not in staffed_by_building:
            staffed_by_building[building.id] = building.staffed_windows
        price_list = by_version.get(snapshot.price_list_version) or price_list_in_force(
            lists, booking.start.astimezone(OSLO).date()
        )
        request = QuoteRequest(
            price_group=room.price_group,
            category="full",
            occurrences=((booking.start, booking.end),),
            supervision=room.supervision,
            staffed_hours=staffed_by_building[building.id],
            own_supervisor=booking.own_supervisor,
            holidays=holidays,
        )
        at_full = with_moves(quote(price_list, request), owed_moves(snapshot))
        if cancelled:
            full_fee = booking_cancellation_fee(at_full, booking.start, booking.cancelled_at)
            full_lines, full = list(full_fee.lines), full_fee.total_ore
        else:
            full_lines, full = list(at_full.lines), at_full.total_ore
    minutes = 0 if cancelled else (booking.end - booking.start) // timedelta(minutes=1)
    return snapshot.category, Figures(
        bookings=0 if cancelled else 1,
        cancelled_with_fee=1 if cancelled else 0,
        minutes=minutes,
        charged_ore=charged,
        full_price_ore=full,
        supervision_charged_ore=_supervision(charged_lines),
        supervision_full_ore=_supervision(full_lines),
    )


def _cell(text: str) -> str:
    # Organisation names come from self-registration: a leading = + - @ would be a formula in a
    # spreadsheet (CSV injection); kept as text with a leading apostrophe, as the invoices do.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def support_csv(report: SupportReport) -> str:
    """One row per organisation and category, then a subtotal row per category (organisation
    empty) and a grand total row (category ``total``)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(category: str, name: str, number: str, figures: Figures) -> None:
        writer.writerow(
            (
                category,
                _cell(name),
                number,
                figures.bookings,
                figures.cancelled_with_fee,
                str(figures.hours),
                nok(figures.charged_ore),
                nok(figures.full_price_ore),
                nok(figures.support_ore),
                nok(figures.supervision_charged_ore),
                nok(figures.supervision_covered_ore),
            )
        )

    for entry in report.categories:
        for organization in entry.organizations:
            row(entry.category, organization.organization_name, organization.org_number, organization)
        row(entry.category, "", "", entry.total)
    row("total", "", "", report.total)
    return out.getvalue()
