"""The national register of organisations (Enhetsregisteret, SPEC §13): what it says about an
organisation number, from the local copy ``booking registry import`` loads. Without an import the
table is empty, every lookup answers None and everything stays manual."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select

from booking.domain.errors import InvalidInput, NotFound, PermissionDenied
from booking.domain.organizations import is_valid_org_number
from booking.extensions import db
from booking.models import Organization, RegistryUnit
from booking.services.access import Actor, require_user


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
    return None if unit is None else _facts(unit)


def facts_for_many(org_numbers: Iterable[str]) -> dict[str, RegistryFacts]:
    """The register's facts for several numbers in one query (a page listing organisations),
    keyed by number; numbers it does not know are left out."""
    numbers = sorted(set(org_numbers))
    if not numbers:
        return {}
    units = db.session.execute(select(RegistryUnit).where(RegistryUnit.org_number.in_(numbers))).scalars()
    return {unit.org_number: _facts(unit) for unit in units}


def read_facts(actor: Actor, org_number: str) -> RegistryFacts:
    """``GET /registry/{org_number}``: for admins, and for a member of an organisation with that
    number (the registering user sees what the register says about their own number, SPEC §8).
    The register is public open data, but this copy is the service's: nobody else uses it as a
    lookup service. A malformed number is a 422 before any access check (it names no
    organisation); a number the register does not know is a 404 after it."""
    require_user(actor)
    if not is_valid_org_number(org_number):
        raise InvalidInput({"org_number": ["Not a valid Norwegian organisation number (9 digits, mod-11)."]})
    if not actor.is_admin and not _is_member_of_number(actor, org_number):
        raise PermissionDenied("Only admins and members of an organisation with this number may read it.")
    facts = facts_for(org_number)
    if facts is None:
        raise NotFound(f"The register does not know the organisation number {org_number}.")
    return facts


def _is_member_of_number(actor: Actor, org_number: str) -> bool:
    if actor.role != "member" or not actor.organization_ids:
        return False
    found = db.session.execute(
        select(Organization.id).where(
            Organization.org_number == org_number, Organization.id.in_(sorted(actor.organization_ids))
        )
    ).first()
    return found is not None


def is_loaded() -> bool:
    """Whether a register file was ever imported (else every number is unknown, and the admin is
    told to check the facts by hand rather than that the register does not know them)."""
    return db.session.execute(select(RegistryUnit.org_number).limit(1)).first() is not None


@dataclass(frozen=True)
class Comparison:
    """An organisation's own facts next to the register's, for the admin who verifies it."""

    facts: RegistryFacts | None  # None: the register does not know the number
    stated_name: str  # the name the registrant typed
    name_differs: bool
    local_differs: bool
    registered_differs: bool

    @property
    def defunct(self) -> bool:
        """Bankrupt, being wound up or deleted: the register says there may be no association."""
        facts = self.facts
        return facts is not None and (
            facts.bankrupt or facts.under_liquidation or facts.deleted_on is not None
        )


def compare(organization: Organization, facts: RegistryFacts | None) -> Comparison:
    """What the organisation said against what the register says. The stated name is
    ``stated_name`` when registration replaced the name by the registered one."""
    stated_name = organization.stated_name or organization.name
    if facts is None:
        return Comparison(None, stated_name, False, False, False)
    return Comparison(
        facts=facts,
        stated_name=stated_name,
        name_differs=_comparable(stated_name) != _comparable(facts.name),
        local_differs=organization.local != facts.local,
        registered_differs=(
            organization.registered_in_frivillighetsregisteret != facts.registered_in_frivillighetsregisteret
        ),
    )


def _comparable(name: str) -> str:
    """Names as the register writes them (upper case) and as people type them are the same name:
    compared without case and with single spaces."""
    return " ".join(name.casefold().split())


def _facts(unit: RegistryUnit) -> RegistryFacts:
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
