"""The audit log: one row per inserted, changed or deleted domain row, with who did it and when.

Rows are written by a session hook (``booking.services.audit``), never by the services
themselves, so no change can forget to log itself. The log keeps the acting user's id without a
foreign key: an entry must outlive the user it names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

AUDIT_ACTIONS = ("insert", "update", "delete")


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column()  # no FK: the entry outlives the user
    actor_role: Mapped[str] = mapped_column(String(10))  # admin | janitor | member | anonymous | system
    origin: Mapped[str] = mapped_column(String(300), default="")  # "POST /api/v1/bookings", "booking demo"
    action: Mapped[str] = mapped_column(String(6))
    entity: Mapped[str] = mapped_column(String(40))  # the table name
    entity_id: Mapped[str] = mapped_column(String(60))  # the primary key as text
    before: Mapped[dict | None] = mapped_column(JSON)  # changed fields' old values (all of them on delete)
    after: Mapped[dict | None] = mapped_column(JSON)  # changed fields' new values (all of them on insert)

    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action_known"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_actor_user_id", "actor_user_id", "at"),
    )
