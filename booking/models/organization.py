from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.domain.organizations import PRICE_CATEGORIES, effective_price_category
from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

_CATEGORIES = ", ".join(f"'{c}'" for c in PRICE_CATEGORIES)


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(9), unique=True)
    voluntary: Mapped[bool] = mapped_column(Boolean, default=False)
    non_profit: Mapped[bool] = mapped_column(Boolean, default=False)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_in_frivillighetsregisteret: Mapped[bool] = mapped_column(Boolean, default=False)
    youth_activity: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    proposed_category: Mapped[str] = mapped_column(String(10))
    price_category: Mapped[str] = mapped_column(String(10))
    verified: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Set when an admin rejected the organisation (SPEC §13): it can book nothing; verifying it
    # later clears it.
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The name the registrant typed, kept when ``name`` is the register's (SPEC §13: the public
    # name is the registered one; a mismatch is shown to the admin). None when created by an admin.
    stated_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(f"price_category IN ({_CATEGORIES})", name="price_category_known"),
        CheckConstraint(f"proposed_category IN ({_CATEGORIES})", name="proposed_category_known"),
        CheckConstraint("length(org_number) = 9", name="org_number_length"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    @property
    def effective_category(self) -> str:
        """The category prices are computed with: ``full`` until an admin has verified."""
        return effective_price_category(self.price_category, self.verified)
