"""Organisation facts: the Norwegian organisation number and the proposed price category."""

from __future__ import annotations

ORG_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)

PRICE_CATEGORIES = ("free", "reduced", "full")


def is_valid_org_number(value: str) -> bool:
    """True for a 9-digit organisasjonsnummer whose last digit is the mod-11 check digit
    (weights 3,2,7,6,5,4,3,2; remainder 0 gives check digit 0, remainder 1 is invalid)."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(value[:8], ORG_NUMBER_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return False
    check = 0 if remainder == 0 else 11 - remainder
    return check == int(value[8])


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
