"""Norwegian public holidays: the days of helligdagsloven plus 1 May and 17 May.

The dates come from the ``holidays`` library (``holidays.Norway``) with ``include_sundays=False``:
the law makes every Sunday a holiday, but a series with ``skip_holidays`` should leave out
Easter or Christmas, not every Sunday (ordinary Sundays are governed by opening hours). Named
holidays that fall on a Sunday (Easter Sunday, Whit Sunday) are still included.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import holidays as holidays_lib

# English names, as the rest of the service's texts; the library's default language varies.
_LANGUAGE = "en_US"


@lru_cache(maxsize=64)
def _holidays_of_year(year: int) -> tuple[tuple[date, str], ...]:
    # A tuple so the cached value cannot be changed by a caller.
    calendar = holidays_lib.Norway(years=year, include_sundays=False, language=_LANGUAGE)
    return tuple(sorted(calendar.items()))


def public_holidays(year: int) -> dict[date, str]:
    """The public holidays of ``year`` as ``{date: English name}``, in date order (cached per
    year; the returned dict is a fresh copy the caller may change)."""
    return dict(_holidays_of_year(year))


def holiday_dates(start_date: date, end_date: date) -> frozenset[date]:
    """The public holidays from ``start_date`` to ``end_date``, both inclusive (empty when
    ``end_date`` is before ``start_date``)."""
    if end_date < start_date:
        return frozenset()
    return frozenset(
        day
        for year in range(start_date.year, end_date.year + 1)
        for day, _name in _holidays_of_year(year)
        if start_date <= day <= end_date
    )


def is_public_holiday(day: date) -> bool:
    """True when ``day`` (a local calendar date) is a Norwegian public holiday."""
    if isinstance(day, datetime):
        # A datetime never equals a date, so it would silently answer False; which local date
        # an instant falls on is the caller's decision.
        raise TypeError("pass the local date, not a datetime")
    return any(holiday == day for holiday, _name in _holidays_of_year(day.year))
