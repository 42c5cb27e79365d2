"""Organisation number check digit and the proposed price category (SPEC §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.domain.organizations import (
    ORG_NUMBER_WEIGHTS,
    effective_price_category,
    is_valid_org_number,
    propose_price_category,
)


@pytest.mark.parametrize("number", ["974760673", "123456785", "923609016", "100000008", "000000000"])
def test_valid_org_numbers(number):
    assert is_valid_org_number(number)


@pytest.mark.parametrize("number", ["974760674", "974760670", "123456784", "123456786", "923609017"])
def test_wrong_check_digit(number):
    assert not is_valid_org_number(number)


@pytest.mark.parametrize("number", ["400000000", "000000060", "974760690", "123456700"])
def test_remainder_one_is_always_invalid(number):
    # These bodies leave remainder 1, which would need the check digit 10: no digit is valid.
    body = number[:8]
    assert sum(int(d) * w for d, w in zip(body, ORG_NUMBER_WEIGHTS, strict=True)) % 11 == 1
    assert not any(is_valid_org_number(body + str(digit)) for digit in range(10))


def test_remainder_zero_gives_check_digit_zero():
    body = "00000000"
    assert is_valid_org_number(body + "0")
    assert not any(is_valid_org_number(body + str(digit)) for digit in range(1, 10))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "97476067",  # 8 digits
        "9747606730",  # 10 digits
        "974 760 673",
        "974-760-673",
        "97476067a",
        " 974760673",
        "974760673\n",
        "٩٧٤٧٦٠٦٧٣",  # Arabic-Indic digits: str.isdigit() is true, but not an org number
        "９７４７６０６７３",  # full-width digits
        "+97476067",
    ],
)
def test_malformed_org_numbers(value):
    assert not is_valid_org_number(value)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_exactly_one_check_digit_unless_remainder_one(body):
    valid = [d for d in range(10) if is_valid_org_number(body + str(d))]
    remainder = sum(int(d) * w for d, w in zip(body, ORG_NUMBER_WEIGHTS, strict=True)) % 11
    assert len(valid) == (0 if remainder == 1 else 1)


@pytest.mark.parametrize(
    ("voluntary", "local", "registered", "youth_activity", "non_profit", "expected"),
    [
        (True, True, True, True, False, "free"),
        (True, True, True, True, True, "free"),
        (True, True, True, False, False, "reduced"),  # not youth
        (True, True, False, True, False, "reduced"),  # not registered
        (True, True, False, False, False, "reduced"),
        (False, True, False, False, True, "reduced"),  # local non-profit
        (False, True, True, True, True, "reduced"),  # not voluntary: never free
        (True, False, True, True, True, "full"),  # not local
        (False, False, False, False, True, "full"),
        (False, True, False, False, False, "full"),  # local, but neither voluntary nor non-profit
        (False, False, False, False, False, "full"),
    ],
)
def test_proposed_category(voluntary, local, registered, youth_activity, non_profit, expected):
    assert (
        propose_price_category(
            voluntary=voluntary,
            local=local,
            registered=registered,
            youth_activity=youth_activity,
            non_profit=non_profit,
        )
        == expected
    )


def test_unverified_organisations_pay_full_price():
    assert effective_price_category("free", verified=False) == "full"
    assert effective_price_category("reduced", verified=False) == "full"
    assert effective_price_category("free", verified=True) == "free"
    assert effective_price_category("reduced", verified=True) == "reduced"


def test_synthetic_numbers_are_valid_and_distinct():
    from booking.domain.organizations import synthetic_org_number

    numbers = [synthetic_org_number(70_000_000, n) for n in range(2000)]
    assert all(is_valid_org_number(number) for number in numbers)
    assert len(set(numbers)) == len(numbers)
