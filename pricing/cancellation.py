"""Cancellation fees, computed from the quote snapshot a booking keeps (rules in the package
docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from .money import round_ore
from .quotes import (
    MOVE_CODES,
    RENT_CODES,
    SUPERVISION_CODES,
    OccurrenceQuote,
    Quote,
    QuoteLine,
    make_line,
    merge_lines,
    require_aware,
)
from .weekly import OSLO, elapsed

# Rule codes, from the cheapest to the dearest for the organisation.
CANCELLATION_RULES = (
    "admin",  # cancelled by an administrator: nothing
    "free_14_days",  # 14 days or more before start: nothing
    "half_rent_7_days",  # 7 days or more (but under 14) before start: 50 % of the rent
    "full_rent",  # under 7 days (but 48 hours or more) before start: the full rent
    "full_rent_and_supervision",  # under 48 hours before start, or after: full rent and supervision
)

FREE_DAYS = 14
HALF_RENT_DAYS = 7
SUPERVISION_HOURS = 48

DESCRIPTIONS = {
    "half_rent_7_days": "Avbestilling 7–14 dager før, 50 % av leie",
    "full_rent": "Avbestilling under 7 dager før, full leie",
    "full_rent_and_supervision": "Avbestilling under 48 timer før, tilsyn",
}


@dataclass(frozen=True)
class CancellationFee:
    """What cancelling costs: lines (coded ``cancellation_rent``/``cancellation_supervision``,
    one per kind, zero amounts left out), their total, and the rule that applied."""

    lines: tuple[QuoteLine, ...]
    total_ore: int
    rule: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if self.rule not in CANCELLATION_RULES:
            raise ValueError(f"rule must be one of {', '.join(CANCELLATION_RULES)}")
        if self.total_ore != sum(line.amount_ore for line in self.lines):
            raise ValueError("total_ore must be the sum of the lines")

    def to_dict(self) -> dict:
        return {
            "lines": [line.to_dict() for line in self.lines],
            "total_ore": self.total_ore,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CancellationFee:
        return cls(
            tuple(QuoteLine.from_dict(line) for line in data["lines"]), data["total_ore"], data["rule"]
        )


def days_before(start: datetime, days: int) -> datetime:
    """The instant ``days`` calendar days before ``start`` at the same Oslo wall-clock time (so a
    deadline reads "22 March 18:00" even when a DST change lies in between), in UTC."""
    local = start.astimezone(OSLO).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=OSLO).astimezone(UTC)


def cancellation_fee(
    snapshot: OccurrenceQuote | Quote, start: datetime, cancelled_at: datetime, *, by_admin: bool = False
) -> CancellationFee:
    """The fee for cancelling what ``snapshot`` priced, which starts at ``start`` (for a whole
    series, its first occurrence), when cancelled at ``cancelled_at``.

    Rent and supervision come from the snapshot's lines, never from today's price list.
    """
    require_aware(start, "start")
    require_aware(cancelled_at, "cancelled_at")
    if by_admin:
        return CancellationFee((), 0, "admin")
    rent = sum(line.amount_ore for line in snapshot.lines if line.code in RENT_CODES)
    supervision = sum(line.amount_ore for line in snapshot.lines if line.code in SUPERVISION_CODES)
    at = cancelled_at.astimezone(UTC)
    if at <= days_before(start, FREE_DAYS):
        return CancellationFee((), 0, "free_14_days")
    lines: list[QuoteLine] = []
    if at <= days_before(start, HALF_RENT_DAYS):
        rule, rent_fee = "half_rent_7_days", round_ore(Fraction(rent, 2))
    else:
        rule, rent_fee = "full_rent", rent
    if rent_fee:
        lines.append(make_line("cancellation_rent", 1, rent_fee, DESCRIPTIONS[rule]))
    # Real elapsed hours here: 48 hours are 48 hours, also over a DST night.
    if elapsed(at, start) < timedelta(hours=SUPERVISION_HOURS):
        rule = "full_rent_and_supervision"
        if supervision:
            lines.append(make_line("cancellation_supervision", 1, supervision, DESCRIPTIONS[rule]))
    return CancellationFee(tuple(lines), sum(line.amount_ore for line in lines), rule)


def move_fee(snapshot: OccurrenceQuote | Quote, start: datetime, moved_at: datetime) -> tuple[QuoteLine, ...]:
    """What moving a confirmed booking that starts at ``start`` costs at ``moved_at``: what
    cancelling it then would cost (SPEC §11), as ``move_rent``/``move_supervision`` lines."""
    fee = cancellation_fee(snapshot, start, moved_at)
    codes = {"cancellation_rent": "move_rent", "cancellation_supervision": "move_supervision"}
    return tuple(make_line(codes[line.code], line.quantity, line.unit_price_ore) for line in fee.lines)


def owed_moves(snapshot: Quote) -> tuple[QuoteLine, ...]:
    """The move lines a booking's snapshot carries: earlier moves' fees, owed in any case."""
    return tuple(line for line in snapshot.lines if line.code in MOVE_CODES)


def with_moves(quote: Quote, moves: tuple[QuoteLine, ...]) -> Quote:
    """``quote`` (the booking's new time) with the move lines owed added to its lines and total;
    its occurrences, which later cancellation fees are computed from, stay the time's own."""
    if not moves:
        return quote
    lines = merge_lines((*quote.lines, *moves))
    return Quote(
        lines,
        sum(line.amount_ore for line in lines),
        quote.price_list_version,
        quote.category,
        quote.supervision_reason,
        quote.occurrences,
    )


def booking_cancellation_fee(
    snapshot: Quote, start: datetime, cancelled_at: datetime, *, by_admin: bool = False
) -> CancellationFee:
    """The fee for cancelling a single booking: the fee of :func:`cancellation_fee` for its time
    plus the moves it still owes (an admin's cancellation costs nothing at all)."""
    if by_admin:
        return CancellationFee((), 0, "admin")
    fee = cancellation_fee(snapshot.occurrences[0], start, cancelled_at)
    lines = (*owed_moves(snapshot), *fee.lines)
    return CancellationFee(lines, sum(line.amount_ore for line in lines), fee.rule)
