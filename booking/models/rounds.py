"""Seasonal application rounds (SPEC §14): rounds, applications with ranked wishes, allocations.

Times of a wish or an allocation are local wall-clock minutes of the day (Europe/Oslo, 0..1440)
on a weekday (0 = Monday): a weekly time for a whole season is a wall-clock time, not an instant.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

OFFER_STATES = ("offered", "accepted", "declined", "lapsed")

round_rooms = Table(
    "round_rooms",
    db.metadata,
    Column("round_id", Integer, ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
    Column("room_id", Integer, ForeignKey("rooms.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

_WEEKLY_TIME = (
    "weekday >= 0 AND weekday <= 6 AND start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute"
)


class Round(db.Model):
    """An application round. Its state follows from its times and ``published_at``: draft before
    ``opens_at``, open until ``closes_at``, then closed (allocated when it has allocations) until
    an admin publishes it. The ``seed`` of the lottery is made at creation and public."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    season_start: Mapped[date]
    season_end: Mapped[date]
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    publish_on: Mapped[date]
    offer_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    seed: Mapped[str] = mapped_column(String(64))
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rooms: Mapped[list["Room"]] = relationship(secondary=round_rooms, order_by="Room.id")  # noqa: F821

    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("season_end >= season_start", name="season_ends_after_start"),
        CheckConstraint("closes_at > opens_at", name="window_closes_after_opening"),
        CheckConstraint("offer_deadline > closes_at", name="deadline_after_window"),
        CheckConstraint("length(seed) >= 16", name="seed_long_enough"),
    )

    @property
    def room_ids(self) -> list[int]:
        return [room.id for room in self.rooms]


class Application(db.Model):
    """One weekly time an organisation applies for, with up to three ranked wishes. ``rank`` is
    the organisation's own order of its applications in the round, unique among those not
    withdrawn (a withdrawn application gives its rank up: ``rank`` NULL)."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rank: Mapped[int | None]
    attendees: Mapped[int]
    description: Mapped[str] = mapped_column(Text, default="")
    children_youth: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    wishes: Mapped[list[Wish]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Wish.position"
    )

    __table_args__ = (
        # NULLs are distinct: withdrawn applications (rank NULL) never clash.
        UniqueConstraint("round_id", "organization_id", "rank", name="uq_applications_round_org_rank"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
        CheckConstraint("withdrawn_at IS NULL OR rank IS NULL", name="withdrawn_has_no_rank"),
        CheckConstraint("attendees >= 1", name="attendees_positive"),
    )


class Wish(db.Model):
    """A wished weekly time: room, weekday, local start and end in minutes of the day."""

    __tablename__ = "application_wishes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    position: Mapped[int]
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]

    application: Mapped[Application] = relationship(back_populates="wishes")

    __table_args__ = (
        UniqueConstraint("application_id", "position", name="uq_application_wishes_application_position"),
        CheckConstraint("position >= 1 AND position <= 3", name="position_range"),
        CheckConstraint(_WEEKLY_TIME, name="weekly_time"),
    )


class Allocation(db.Model):
    """The result for one application: the time given (``wish_position`` null when set by
    hand, everything null when nothing was given), why (``explanation``), and after publication
    the offer's state; an accepted offer points at the weekly series it became."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    wish_position: Mapped[int | None]
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    weekday: Mapped[int | None]
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]
    explanation: Mapped[dict] = mapped_column(JSON, default=dict)
    order_index: Mapped[int]
    pass_number: Mapped[int]
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    offer_state: Mapped[str | None] = mapped_column(String(10))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "(room_id IS NULL AND weekday IS NULL AND start_minute IS NULL AND end_minute IS NULL"
            " AND wish_position IS NULL) OR (room_id IS NOT NULL AND " + _WEEKLY_TIME + ")",
            name="time_given_whole",
        ),
        CheckConstraint(
            "wish_position IS NULL OR (wish_position >= 1 AND wish_position <= 3)", name="wish_known"
        ),
        CheckConstraint(
            "offer_state IS NULL OR (room_id IS NOT NULL AND offer_state IN ("
            + ", ".join(f"'{s}'" for s in OFFER_STATES)
            + "))",
            name="offer_state_known",
        ),
        CheckConstraint("series_id IS NULL OR offer_state = 'accepted'", name="series_only_accepted"),
        CheckConstraint("order_index >= 0 AND pass_number >= 1", name="order_sane"),
    )

    @property
    def is_given(self) -> bool:
        return self.room_id is not None
