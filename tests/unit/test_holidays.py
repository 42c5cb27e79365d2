"""Norwegian public holidays (helligdagsloven plus 1 and 17 May)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from booking.domain.holidays import holiday_dates, is_public_holiday, public_holidays

HOLIDAYS_2026 = {
    date(2026, 1, 1),  # New Year's Day
    date(2026, 4, 2),  # Maundy Thursday
    date(2026, 4, 3),  # Good Friday
    date(2026, 4, 5),  # Easter Sunday
    date(2026, 4, 6),  # Easter Monday
    date(2026, 5, 1),  # Labour Day
    date(2026, 5, 14),  # Ascension Day
    date(2026, 5, 17),  # Constitution Day
    date(2026, 5, 24),  # Whit Sunday
    date(2026, 5, 25),  # Whit Monday
    date(2026, 12, 25),  # Christmas Day
    date(2026, 12, 26),  # Boxing Day
}


def test_2026_has_exactly_the_expected_holidays():
    assert set(public_holidays(2026)) == HOLIDAYS_2026


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 5, 1),
        date(2026, 5, 17),
        date(2026, 12, 25),
        date(2026, 12, 26),
    ],
)
def test_is_public_holiday(day):
    assert is_public_holiday(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 3, 8),  # an ordinary Sunday is not a holiday here
        date(2026, 4, 1),  # Wednesday before Easter
        date(2026, 4, 7),  # Tuesday after Easter Monday
        date(2026, 12, 24),  # Christmas Eve is not a public holiday
        date(2026, 12, 31),
        date(2026, 5, 16),
    ],
)
def test_is_not_public_holiday(day):
    assert not is_public_holiday(day)


def test_easter_moves_with_the_year():
    assert date(2027, 3, 26) in public_holidays(2027)  # Good Friday 2027
    assert date(2026, 3, 26) not in public_holidays(2026)


def test_names_are_given():
    names = public_holidays(2026)
    assert names[date(2026, 5, 17)] == "Constitution Day"
    assert names[date(2026, 12, 25)] == "Christmas Day"


def test_returned_dict_is_a_copy():
    public_holidays(2026).clear()
    assert date(2026, 5, 17) in public_holidays(2026)


def test_holiday_dates_is_inclusive_and_spans_years():
    assert holiday_dates(date(2026, 12, 25), date(2027, 1, 1)) == {
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
    }
    assert holiday_dates(date(2026, 4, 3), date(2026, 4, 5)) == {date(2026, 4, 3), date(2026, 4, 5)}
    assert holiday_dates(date(2026, 6, 1), date(2026, 6, 30)) == frozenset()
    assert holiday_dates(date(2026, 5, 18), date(2026, 5, 1)) == frozenset()


def test_a_datetime_is_refused():
    with pytest.raises(TypeError):
        is_public_holiday(datetime(2026, 5, 17, 12))
