"""The national register of organisations (Enhetsregisteret, SPEC §13): what it says about an
organisation number, from the local copy ``booking registry import`` loads. Without an import the
table is empty, every lookup answers None and everything stays manual."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from booking.extensions import db
from booking.models import RegistryUnit


@dataclass(frozen=True)
class RegistryFacts:
    """The register's facts about one organisation number."""

    org_number: str
    name: str
    form_code: str
    form_description: str
    municipality_number: str | None
    municipality: str | None
    local: bool  # the business address is in this municipality (BOOKING_MUNICIPALITY_NUMBER)
    registered_in_frivillighetsregisteret: bool
    bankrupt: bool
    under_liquidation: bool
    deleted_on: date | None
    imported_at: datetime


def facts_for(org_number: str) -> RegistryFacts | None:
    """What the register says about ``org_number``, or None when it does not know it (or no
    register file was imported)."""
    unit = db.session.get(RegistryUnit, org_number)
    if unit is None:
        return None
    return RegistryFacts(
        org_number=unit.org_number,
        name=unit.name,
        form_code=unit.form_code,
        form_description=unit.form_description,
        municipality_number=unit.municipality_number,
        municipality=unit.municipality,
        local=unit.municipality_number == current_app.config["BOOKING_MUNICIPALITY_NUMBER"],
        registered_in_frivillighetsregisteret=unit.in_frivillighetsregisteret,
        bankrupt=unit.bankrupt,
        under_liquidation=unit.under_liquidation,
        deleted_on=unit.deleted_on,
        imported_at=unit.imported_at,
    )
