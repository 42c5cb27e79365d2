from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

ROLES = ("admin", "janitor", "member")

memberships = Table(
    "memberships",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    # The member's choice: booking mails about this organisation (SPEC §12), on by default.
    Column("booking_mail", Boolean, nullable=False, default=True, server_default=true()),
)

janitor_buildings = Table(
    "janitor_buildings",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", Integer, ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True),
    # The janitor's choice: tomorrow's day sheet by mail each morning (SPEC §12), off by default.
    Column("morning_sheet", Boolean, nullable=False, default=False, server_default=false()),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(2), default="nb", server_default="nb")  # of mails
    # Set when the user followed the link mailed to the address (or an admin created the user).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organizations: Mapped[list["Organization"]] = relationship(  # noqa: F821
        secondary=memberships, order_by="Organization.id"
    )
    buildings: Mapped[list["Building"]] = relationship(  # noqa: F821
        secondary=janitor_buildings, order_by="Building.id"
    )

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'janitor', 'member')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("language IN ('nb', 'en')", name="language_known"),
    )


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class WebSession(db.Model):
    """A logged-in session of the pages (SPEC §13). The cookie carries a random secret; only its
    SHA-256 is stored, so logging out, a password reset or a deactivation ends the session on
    the server and a replayed cookie is refused."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
