"""Bookings, series and the occupancy rows that make double booking impossible."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.domain.lifecycle import Status
from booking.extensions import db
from booking.models.types import StrEnumText, UTCDateTime, utcnow

# Bookings are at most 7 days (room limit, checked in the rooms table) plus a 4-hour buffer, so
# an occupancy that overlaps [start, end) starts after start - MAX_OCCUPANCY: that bound turns
# the overlap query into a narrow index range scan on (unit_id, start).
MAX_OCCUPANCY_HOURS = 7 * 24 + 4


class Series(db.Model):
    """A recurring booking: the rule and what was left out; its occurrences are bookings."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(500))  # normalised: UNTIL in UTC
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # the rule's first instance (DTSTART)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    occurrences: Mapped[list[Booking]] = relationship(
        back_populates="series", order_by="Booking.original_start"
    )
    skipped: Mapped[list[SkippedOccurrence]] = relationship(
        back_populates="series", cascade="all, delete-orphan", order_by="SkippedOccurrence.original_start"
    )

    __table_args__ = (CheckConstraint('"end" > start', name="ends_after_start"),)


class SkippedOccurrence(db.Model):
    """An instance of a series' rule that was never booked (conflict, holiday, closure): an EXDATE."""

    __tablename__ = "series_skipped"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    original_start: Mapped[datetime] = mapped_column(UTCDateTime)
    original_end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(30))  # conflict | holiday | closed
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # what it conflicted with

    series: Mapped[Series] = relationship(back_populates="skipped")

    __table_args__ = (UniqueConstraint("series_id", "original_start", name="uq_series_skipped_instance"),)


class Booking(db.Model):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="RESTRICT"), index=True)
    # For a series occurrence: the rule's instance it stands for (iCal RECURRENCE-ID), kept when moved.
    original_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(200))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    # end + the room's buffer, in absolute time (booking.domain.timeslots.occupied_until): the
    # database derives the occupancy rows from start, occupied_until, room and status.
    occupied_until: Mapped[datetime] = mapped_column(UTCDateTime)
    attendees: Mapped[int] = mapped_column(default=1)
    status: Mapped[Status] = mapped_column(StrEnumText(Status, 10))  # see booking.domain.lifecycle
    status_reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    public_title: Mapped[bool] = mapped_column(Boolean, default=False)
    own_supervisor: Mapped[bool] = mapped_column(Boolean, default=False)
    quote: Mapped[dict] = mapped_column(JSON)  # the price snapshot; never re-read from price lists
    cancellation_fee: Mapped[dict | None] = mapped_column(JSON)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room] = relationship()  # noqa: F821
    organization: Mapped[Organization] = relationship()  # noqa: F821
    series: Mapped[Series | None] = relationship(back_populates="occurrences")

    __table_args__ = (
        CheckConstraint('"end" > start', name="ends_after_start"),
        CheckConstraint('occupied_until >= "end"', name="buffer_not_negative"),
        CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'cancelled')", name="status_known"),
        CheckConstraint("attendees >= 0", name="attendees_not_negative"),
        CheckConstraint("sequence >= 0", name="sequence_not_negative"),
        Index("ix_bookings_room_start", "room_id", "start"),
        Index("ix_bookings_organization_start", "organization_id", "start"),
        Index("ix_bookings_status_start", "status", "start"),
        Index("ix_bookings_updated_at", "updated_at"),
    )

    @property
    def etag(self) -> str:
        return f'"booking-{self.id}-{self.sequence}"'

    def touch(self) -> None:
        """Every change moves the sequence and the change time (iCal SEQUENCE, LAST-MODIFIED)."""
        self.sequence += 1
        self.updated_at = utcnow()


class Occupancy(db.Model):
    """A booking's hold on one atomic unit for ``[start, occupied_until)`` (end + buffer).

    Written by the database only: triggers derive the rows from the booking (its room's units,
    start, occupied_until and status) whenever one of those changes, so the occupancy always
    matches the status (SPEC §11): a confirmed booking has an ``active`` row per unit, a pending
    request inactive ones, rejected and cancelled bookings none; other writes are refused.
    ``active`` rows never overlap on a unit: PostgreSQL enforces it with an exclusion constraint,
    SQLite with triggers inside the serialized (BEGIN IMMEDIATE) write transaction. See the
    migrations 0001 and 0004."""

    __tablename__ = "occupancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    occupied_until: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        CheckConstraint("occupied_until > start", name="ends_after_start"),
        Index("uq_occupancies_booking_unit", "booking_id", "unit_id", unique=True),
        # On PostgreSQL the index covers the overlap test, so the conflict check and the free-room
        # search read no table rows (index-only scans; see BENCHMARKS.md).
        Index(
            "ix_occupancies_unit_start", "unit_id", "start", postgresql_include=["occupied_until", "active"]
        ),
    )

    @classmethod
    def overlapping(cls, start: datetime, until: datetime):
        """THE overlap rule in SQL (the Python one is ``booking.domain.timeslots.overlaps``):
        half-open ``[start, occupied_until)`` against ``[start, until)``. The extra lower bound on
        ``start`` is implied by the longest possible occupancy and keeps the index scan narrow."""
        return cls._overlap(start, until, start - timedelta(hours=MAX_OCCUPANCY_HOURS))

    @classmethod
    def overlapping_parameters(cls):
        """The same rule on bound parameters ``start``, ``until`` and ``floor``, for a statement
        built once; ``overlap_parameters`` gives their values."""
        return cls._overlap(bindparam("start"), bindparam("until"), bindparam("floor"))

    @staticmethod
    def overlap_parameters(start: datetime, until: datetime) -> dict:
        return {"start": start, "until": until, "floor": start - timedelta(hours=MAX_OCCUPANCY_HOURS)}

    @classmethod
    def _overlap(cls, start, until, floor):
        return and_(cls.start < until, cls.occupied_until > start, cls.start > floor)


class IdempotencyKey(db.Model):
    """The first answer to a create request with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[dict] = mapped_column(JSON)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)


class PriceListVersion(db.Model):
    """A version of the price list (``pricing.PriceList`` as JSON); the one in force at a
    booking's start prices it."""

    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    valid_from: Mapped[date] = mapped_column(unique=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
