"""The transactional outbox (SPEC §12): events written with the change, messages per recipient.

An ``OutboxEvent`` is inserted in the same transaction as the change it tells about (kind, ids
and parameters, never finished text), so a change that rolls back leaves no event. The worker
(``booking.mail.worker``) expands each event once into ``OutboxMessage`` rows, one per
recipient with a stable ``Message-ID``, renders each in the recipient's language when it sends
it, and records the outcome. See ``booking.services.notifications`` for the kinds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

MESSAGE_STATES = ("pending", "sent", "failed", "withdrawn")


class OutboxEvent(db.Model):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Events the worker makes itself (the janitors' morning sheet) are made once per key.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expanded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # messages made

    messages: Mapped[list[OutboxMessage]] = relationship(back_populates="event", order_by="OutboxMessage.id")

    __table_args__ = (Index("ix_outbox_events_unexpanded", "expanded_at", "id"),)


class OutboxMessage(db.Model):
    """One e-mail: an event for one recipient. ``pending`` until sent (``sent``) or given up
        (``failed``). While a worker sends it, it holds a lease (``lease_token`` until ``lease_until``):
    a worker that dies mid-send leaves the message pending, and it is sent again, with the same
    ``Message-ID``, once the lease has run out."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(2), default="nb")
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))  # which worker's lease
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[OutboxEvent] = relationship(back_populates="messages")

    __table_args__ = (
        UniqueConstraint("event_id", "recipient", name="uq_outbox_messages_event_recipient"),
        CheckConstraint("state IN ('pending', 'sent', 'failed', 'withdrawn')", name="state_known"),
        CheckConstraint("language IN ('nb', 'en')", name="language_known"),
        Index("ix_outbox_messages_due", "state", "next_attempt_at"),
    )
