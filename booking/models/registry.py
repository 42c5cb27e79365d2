from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow


class RegistryUnit(db.Model):
    """One unit of Enhetsregisteret (Brønnøysundregistrene's open data), as last imported by
    ``booking registry import`` (SPEC §13). Read-only for the service: the facts it trusts over
    what a registering organisation ticks."""

    __tablename__ = "registry_units"

    org_number: Mapped[str] = mapped_column(String(9), primary_key=True)  # organisasjonsnummer
    name: Mapped[str] = mapped_column(String(500))  # navn
    form_code: Mapped[str] = mapped_column(String(10), default="")  # organisasjonsform.kode
    form_description: Mapped[str] = mapped_column(String(200), default="")  # organisasjonsform.beskrivelse
    municipality_number: Mapped[str | None] = mapped_column(String(4))  # forretningsadresse.kommunenummer
    municipality: Mapped[str | None] = mapped_column(String(100))  # forretningsadresse.kommune
    in_frivillighetsregisteret: Mapped[bool] = mapped_column(Boolean, default=False)
    bankrupt: Mapped[bool] = mapped_column(Boolean, default=False)  # konkurs
    under_liquidation: Mapped[bool] = mapped_column(Boolean, default=False)  # underAvvikling
    deleted_on: Mapped[date | None] = mapped_column(Date)  # slettedato
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
