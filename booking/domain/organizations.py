"""Organisation facts: the Norwegian organisation number and the proposed price category."""

from __future__ import annotations

ORG_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)

PRICE_CATEGORIES = ("free", "reduced", "full")


def _check_digit(first_eight: str) -> int | None:
    """The mod-11 check digit of eight digits (weights 3,2,7,6,5,4,3,2; remainder 0 gives 0),
    or None where there is none (remainder 1: no valid number starts with these digits)."""
    remainder = sum(int(d) * w for d, w in zip(first_eight, ORG_NUMBER_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return None
    return 0 if remainder == 0 else 11 - remainder


def is_valid_org_number(value: str) -> bool:
    """True for a 9-digit organisasjonsnummer whose last digit is the mod-11 check digit."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    return _check_digit(value[:8]) == int(value[8])


def synthetic_org_number(base: int, n: int) -> str:
    """A valid organisation number for test and benchmark data: the first one whose first eight
    digits lie in ``base + 10n`` … ``base + 10n + 9``, so each ``n`` gives a different number."""
    for first in range(base + n * 10, base + n * 10 + 10):
        digits = f"{first:08d}"
        check = _check_digit(digits)
        if check is not None:
            return digits + str(check)
    raise AssertionError("ten consecutive prefixes always include one with a check digit")


def propose_price_category(
    *, voluntary: bool, local: bool, registered: bool, youth_activity: bool, non_profit: bool
) -> str:
    """Category proposed at self-registration (SPEC §3); an admin verifies it.

    local + voluntary + registered in Frivillighetsregisteret + youth activity -> free;
    local + (voluntary or non-profit) -> reduced; otherwise full.
    """
    if local and voluntary and registered and youth_activity:
        return "free"
    if local and (voluntary or non_profit):
        return "reduced"
    return "full"


def effective_price_category(category: str, verified: bool) -> str:
    """Unverified organisations may request bookings but are priced ``full`` until verified."""
    return category if verified else "full"


def is_mailable(address: str) -> bool:
    """Whether the mail worker can write to ``address``: plain ASCII. A non-ASCII local part
    needs SMTPUTF8, which neither Python's mail headers nor many municipal relays offer, so such
    an account could never get its confirmation mail; an internationalised domain is written in
    its ``xn--`` form."""
    return address.isascii()
