"""Itemized quotes: rent per started half hour, supervision per started hour (rules in the
package docstring)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from .money import round_ore
from .price_list import CATEGORIES, Category, PriceList
from .weekly import OSLO, WeeklyWindow, elapsed, window_intervals

SupervisionMode = Literal["outside_staffed_hours", "always", "never"]
SUPERVISION_MODES: tuple[SupervisionMode, ...] = ("outside_staffed_hours", "always", "never")

HALF_HOUR = timedelta(minutes=30)
HOUR = timedelta(hours=1)

# Line codes in the order lines are listed, with their bokmål description and unit.
LINE_KINDS: dict[str, tuple[str, str]] = {
    "rent_weekday": ("Leie, hverdag", "half_hour"),
    "rent_weekend": ("Leie, helg/helligdag", "half_hour"),
    "supervision_weekday": ("Tilsyn, hverdag", "hour"),
    "supervision_weekend": ("Tilsyn, helg/helligdag", "hour"),
    "cancellation_rent": ("Avbestilling, leie", "booking"),
    "cancellation_supervision": ("Avbestilling, tilsyn", "booking"),
    "move_rent": ("Flytting, leie", "booking"),
    "move_supervision": ("Flytting, tilsyn", "booking"),
}
RENT_CODES = ("rent_weekday", "rent_weekend")
SUPERVISION_CODES = ("supervision_weekday", "supervision_weekend")
# What moving a confirmed booking cost: owed whatever happens to the booking afterwards.
MOVE_CODES = ("move_rent", "move_supervision")


def require_aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_instant(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an ISO 8601 datetime, got {value!r}") from None
    return require_aware(parsed, what).astimezone(OSLO)


@dataclass(frozen=True)
class QuoteRequest:
    """What to price: a price group, a category, and one or more occurrences."""

    price_group: str
    category: Category
    occurrences: Sequence[tuple[datetime, datetime]]
    supervision: SupervisionMode = "outside_staffed_hours"
    staffed_hours: Sequence[WeeklyWindow] = ()
    own_supervisor: bool = False
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, got {self.category!r}")
        if self.supervision not in SUPERVISION_MODES:
            raise ValueError(f"supervision must be one of {', '.join(SUPERVISION_MODES)}")
        occurrences = tuple((start, end) for start, end in self.occurrences)
        for start, end in occurrences:
            require_aware(start, "occurrence start")
            require_aware(end, "occurrence end")
            if elapsed(start, end) <= timedelta():
                raise ValueError(f"an occurrence must end after it starts ({start.isoformat()})")
        object.__setattr__(self, "occurrences", occurrences)
        object.__setattr__(self, "staffed_hours", tuple(self.staffed_hours))
        object.__setattr__(self, "holidays", frozenset(self.holidays))


@dataclass(frozen=True)
class QuoteLine:
    """One itemized line; ``amount_ore`` is exactly ``quantity * unit_price_ore``."""

    code: str
    description: str
    quantity: int
    unit: str
    unit_price_ore: int
    amount_ore: int
    tax_code: str = "0"
    vat_percent: int = 0

    def __post_init__(self) -> None:
        for name in ("quantity", "unit_price_ore", "amount_ore", "vat_percent"):
            if not _is_int(getattr(self, name)):
                raise ValueError(f"quote line {name} must be an int")
        if self.amount_ore != self.quantity * self.unit_price_ore:
            raise ValueError(f"quote line {self.code}: amount is not quantity × unit price")

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price_ore": self.unit_price_ore,
            "amount_ore": self.amount_ore,
            "tax_code": self.tax_code,
            "vat_percent": self.vat_percent,
        }

    @classmethod
    def from_dict(cls, data: dict) -> QuoteLine:
        return cls(**data)


def make_line(code: str, quantity: int, unit_price_ore: int, description: str | None = None) -> QuoteLine:
    default_description, unit = LINE_KINDS[code]
    return QuoteLine(
        code, description or default_description, quantity, unit, unit_price_ore, quantity * unit_price_ore
    )


def _check_total(lines: tuple[QuoteLine, ...], total_ore: int) -> None:
    if not _is_int(total_ore) or total_ore != sum(line.amount_ore for line in lines):
        raise ValueError("total_ore must be the sum of the lines")


@dataclass(frozen=True)
class OccurrenceQuote:
    """The price of one occurrence; ``start``/``end`` are kept in Europe/Oslo time."""

    start: datetime
    end: datetime
    lines: tuple[QuoteLine, ...]
    total_ore: int
    supervision_reason: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        _check_total(self.lines, self.total_ore)

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "lines": [line.to_dict() for line in self.lines],
            "total_ore": self.total_ore,
            "supervision_reason": self.supervision_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> OccurrenceQuote:
        return cls(
            _parse_instant(data["start"], "start"),
            _parse_instant(data["end"], "end"),
            tuple(QuoteLine.from_dict(line) for line in data["lines"]),
            data["total_ore"],
            data["supervision_reason"],
        )


@dataclass(frozen=True)
class Quote:
    """An itemized quote over all occurrences: the snapshot a booking keeps."""

    lines: tuple[QuoteLine, ...]
    total_ore: int
    price_list_version: str
    category: str
    supervision_reason: str | None
    occurrences: tuple[OccurrenceQuote, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "occurrences", tuple(self.occurrences))
        _check_total(self.lines, self.total_ore)

    def to_dict(self) -> dict:
        """JSON-ready; datetimes as ISO 8601 with their UTC offset."""
        return {
            "lines": [line.to_dict() for line in self.lines],
            "total_ore": self.total_ore,
            "price_list_version": self.price_list_version,
            "category": self.category,
            "supervision_reason": self.supervision_reason,
            "occurrences": [occurrence.to_dict() for occurrence in self.occurrences],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Quote:
        """Reload a stored snapshot; ``Quote.from_dict(q.to_dict()) == q``."""
        return cls(
            tuple(QuoteLine.from_dict(line) for line in data["lines"]),
            data["total_ore"],
            data["price_list_version"],
            data["category"],
            data["supervision_reason"],
            tuple(OccurrenceQuote.from_dict(o) for o in data["occurrences"]),
        )


def _is_weekend(instant: datetime, holidays: frozenset[date]) -> bool:
    local_date = instant.astimezone(OSLO).date()
    return local_date.weekday() >= 5 or local_date in holidays


def _slot_starts(stretches: Iterable[tuple[datetime, datetime]], size: timedelta) -> list[datetime]:
    """Start instants of the slots of ``size`` that cover the stretches laid end to end: a slot
    begun in one stretch goes on in the next, so the count is the started slots of their total."""
    starts: list[datetime] = []
    carry = timedelta()  # what is left of a slot begun in an earlier stretch
    for stretch_start, stretch_end in stretches:
        length = elapsed(stretch_start, stretch_end)
        if carry >= length:
            carry -= length
            continue
        # UTC, so that adding an hour adds a real hour on a DST-change day.
        cursor, end = stretch_start.astimezone(UTC) + carry, stretch_end.astimezone(UTC)
        while cursor < end:
            starts.append(cursor)
            cursor += size
        carry = cursor - end
    return starts


def _supervised_stretches(
    request: QuoteRequest, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` (UTC) that need supervision, in time order."""
    if request.supervision == "never":
        return []
    if request.supervision == "always":
        return [(start, end)]
    stretches = []
    cursor = start
    for staffed_start, staffed_end in window_intervals(request.staffed_hours, start, end):
        staffed_start, staffed_end = staffed_start.astimezone(UTC), staffed_end.astimezone(UTC)
        if cursor < staffed_start:
            stretches.append((cursor, staffed_start))
        cursor = max(cursor, staffed_end)
    if cursor < end:
        stretches.append((cursor, end))
    return stretches


def _supervision_reason(request: QuoteRequest, stretches: list[tuple[datetime, datetime]]) -> str | None:
    if not stretches:
        return None
    if request.supervision == "always":
        reason = "rommet krever alltid tilsyn"
    else:
        clock = ", ".join(f"{a.astimezone(OSLO):%H:%M}–{b.astimezone(OSLO):%H:%M}" for a, b in stretches)
        reason = f"utenfor bemannet tid {clock}"
    return f"egen tilsynsvakt ({reason})" if request.own_supervisor else reason


def _rent_lines(
    price_list: PriceList, request: QuoteRequest, start: datetime, end: datetime
) -> list[QuoteLine]:
    hourly = price_list.hourly_rate_ore(request.price_group, request.category)
    surcharge = 0 if request.category == "free" else price_list.weekend_surcharge_percent
    unit_price = {
        "rent_weekday": round_ore(Fraction(hourly, 2)),
        "rent_weekend": round_ore(Fraction(hourly * (100 + surcharge), 200)),
    }
    counts = dict.fromkeys(RENT_CODES, 0)
    for slot_start in _slot_starts([(start, end)], HALF_HOUR):
        counts["rent_weekend" if _is_weekend(slot_start, request.holidays) else "rent_weekday"] += 1
    return [make_line(code, n, unit_price[code]) for code, n in counts.items() if n]


def _supervision_lines(
    price_list: PriceList, request: QuoteRequest, stretches: list[tuple[datetime, datetime]]
) -> list[QuoteLine]:
    slot_starts = _slot_starts(stretches, HOUR)
    if request.own_supervisor or not slot_starts:
        return []
    rate = {
        "supervision_weekday": price_list.supervision_weekday_ore,
        "supervision_weekend": price_list.supervision_weekend_ore,
    }
    codes = [
        "supervision_weekend" if _is_weekend(s, request.holidays) else "supervision_weekday"
        for s in slot_starts
    ]
    first = codes[0]
    # The minimum is a floor on the charge, at the rate where supervision begins. A floor (and
    # not "top up the missing hours") keeps a longer booking from ever costing less.
    minimum_hours = price_list.supervision_minimum_hours
    if sum(rate[c] for c in codes) < minimum_hours * rate[first]:
        return [make_line(first, minimum_hours, rate[first])]
    return [make_line(code, codes.count(code), rate[code]) for code in SUPERVISION_CODES if code in codes]


def _quote_occurrence(
    price_list: PriceList, request: QuoteRequest, start: datetime, end: datetime
) -> OccurrenceQuote:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    stretches = _supervised_stretches(request, start, end)
    lines = tuple(
        _rent_lines(price_list, request, start, end) + _supervision_lines(price_list, request, stretches)
    )
    return OccurrenceQuote(
        start.astimezone(OSLO),
        end.astimezone(OSLO),
        lines,
        sum(line.amount_ore for line in lines),
        _supervision_reason(request, stretches),
    )


def merge_lines(lines: Iterable[QuoteLine]) -> tuple[QuoteLine, ...]:
    """Merge lines of the same code and unit price (quantities added), in line-code order."""
    merged: dict[tuple[str, int], QuoteLine] = {}
    for line in lines:
        key = (line.code, line.unit_price_ore)
        if key in merged:
            quantity = merged[key].quantity + line.quantity
            line = make_line(line.code, quantity, line.unit_price_ore, line.description)
        merged[key] = line
    order = list(LINE_KINDS)
    return tuple(sorted(merged.values(), key=lambda line: order.index(line.code)))


def quote(price_list: PriceList, request: QuoteRequest) -> Quote:
    """Price every occurrence of ``request`` with ``price_list`` and sum them up.

    Raises ``ValueError`` for a price group the price list does not know.
    """
    if request.price_group not in price_list.hourly_rates_ore:
        raise ValueError(f"unknown price group {request.price_group!r}")
    occurrences = tuple(_quote_occurrence(price_list, request, s, e) for s, e in request.occurrences)
    lines = merge_lines(line for occurrence in occurrences for line in occurrence.lines)
    reasons = [o.supervision_reason for o in occurrences if o.supervision_reason]
    return Quote(
        lines=lines,
        total_ore=sum(line.amount_ore for line in lines),
        price_list_version=price_list.version,
        category=request.category,
        supervision_reason="; ".join(dict.fromkeys(reasons)) or None,
        occurrences=occurrences,
    )
