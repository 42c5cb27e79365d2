"""Versioned price lists: hourly rent per price group and category, and supervision rates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal

Category = Literal["free", "reduced", "full"]
CATEGORIES: tuple[Category, ...] = ("free", "reduced", "full")
PRICE_GROUPS = ("meeting_room", "classroom", "rehearsal_room", "gym", "sports_hall", "hall")

_INT_FIELDS = (
    "supervision_weekday_ore",
    "supervision_weekend_ore",
    "weekend_surcharge_percent",
    "supervision_minimum_hours",
)


def _check_amount(value: Any, what: str) -> int:
    # bool is a subclass of int, but True is no price.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class PriceList:
    """One version of the price list, in force from ``valid_from`` until a later version.

    Rates are integer øre. The constructor validates: every price group has every category, the
    ``free`` category costs 0, and all amounts are non-negative ints.
    """

    version: str
    valid_from: date
    hourly_rates_ore: Mapping[str, Mapping[str, int]]
    supervision_weekday_ore: int = 30_000
    supervision_weekend_ore: int = 45_000
    weekend_surcharge_percent: int = 50
    supervision_minimum_hours: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise ValueError("version must be a non-empty string")
        if not isinstance(self.valid_from, date) or isinstance(self.valid_from, datetime):
            raise ValueError("valid_from must be a date")
        if not isinstance(self.hourly_rates_ore, Mapping):
            raise ValueError("hourly_rates_ore must map price group -> category -> øre per hour")
        unknown = sorted(set(self.hourly_rates_ore) - set(PRICE_GROUPS))
        if unknown:
            raise ValueError(f"unknown price group(s): {', '.join(map(str, unknown))}")
        rates: dict[str, Mapping[str, int]] = {}
        for group in PRICE_GROUPS:
            if group not in self.hourly_rates_ore:
                raise ValueError(f"price group {group!r} is missing")
            by_category = self.hourly_rates_ore[group]
            if not isinstance(by_category, Mapping):
                raise ValueError(f"price group {group!r} must map category -> øre per hour")
            unknown = sorted(set(by_category) - set(CATEGORIES))
            if unknown:
                raise ValueError(f"price group {group!r}: unknown category(ies): {', '.join(unknown)}")
            for category in CATEGORIES:
                if category not in by_category:
                    raise ValueError(f"price group {group!r}: category {category!r} is missing")
                _check_amount(by_category[category], f"rate for {group}/{category}")
            if by_category["free"] != 0:
                raise ValueError(f"price group {group!r}: the free category must cost 0")
            rates[group] = MappingProxyType({c: by_category[c] for c in CATEGORIES})
        for name in _INT_FIELDS:
            _check_amount(getattr(self, name), name)
        # Frozen all the way down: a price list is referenced by stored quotes.
        object.__setattr__(self, "hourly_rates_ore", MappingProxyType(rates))

    def hourly_rate_ore(self, price_group: str, category: str) -> int:
        """Weekday hourly rent for a price group and category."""
        return self.hourly_rates_ore[price_group][category]

    def to_dict(self) -> dict:
        """JSON-ready form; ``valid_from`` as an ISO date string."""
        return {
            "version": self.version,
            "valid_from": self.valid_from.isoformat(),
            "hourly_rates_ore": {g: dict(by_cat) for g, by_cat in self.hourly_rates_ore.items()},
            **{name: getattr(self, name) for name in _INT_FIELDS},
        }

    @classmethod
    def from_dict(cls, data: dict) -> PriceList:
        """Build from :meth:`to_dict` output (or an admin's JSON). Raises ``ValueError`` with a
        message naming the offending field. Omitted supervision fields take their defaults."""
        if not isinstance(data, Mapping):
            raise ValueError("a price list must be a JSON object")
        for name in ("version", "valid_from", "hourly_rates_ore"):
            if name not in data:
                raise ValueError(f"{name} is missing")
        unknown = sorted(set(data) - {"version", "valid_from", "hourly_rates_ore", *_INT_FIELDS})
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(map(str, unknown))}")
        try:
            valid_from = date.fromisoformat(data["valid_from"])
        except (TypeError, ValueError):
            raise ValueError(
                f"valid_from must be an ISO date (YYYY-MM-DD), got {data['valid_from']!r}"
            ) from None
        optional = {name: data[name] for name in _INT_FIELDS if name in data}
        return cls(data["version"], valid_from, data["hourly_rates_ore"], **optional)


DEFAULT_PRICE_LIST = PriceList(
    version="2026-1",
    valid_from=date(2026, 1, 1),
    hourly_rates_ore={
        "meeting_room": {"free": 0, "reduced": 5_000, "full": 20_000},
        "classroom": {"free": 0, "reduced": 5_000, "full": 20_000},
        "rehearsal_room": {"free": 0, "reduced": 10_000, "full": 25_000},
        "gym": {"free": 0, "reduced": 15_000, "full": 35_000},
        "sports_hall": {"free": 0, "reduced": 35_000, "full": 55_000},
        "hall": {"free": 0, "reduced": 30_000, "full": 70_000},
    },
)


def price_list_in_force(price_lists: Iterable[PriceList], on: date) -> PriceList:
    """The version with the latest ``valid_from`` on or before ``on``. Raises ``ValueError`` if
    none is in force yet, or if two versions start on the same day (which one would apply?)."""
    candidates = [p for p in price_lists if p.valid_from <= on]
    if not candidates:
        raise ValueError(f"no price list is in force on {on.isoformat()}")
    latest = max(candidates, key=lambda p: p.valid_from)
    tied = sorted({p.version for p in candidates if p.valid_from == latest.valid_from})
    if len(tied) > 1:
        raise ValueError(f"price lists {', '.join(tied)} all start on {latest.valid_from.isoformat()}")
    return latest
