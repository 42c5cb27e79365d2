from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow

ROOM_KINDS = ("meeting_room", "rehearsal_room", "classroom", "gym", "sports_hall", "hall")
SUPERVISION_MODES = ("outside_staffed_hours", "always", "never")

# The atomic units a room occupies: a plain room is its own single unit; a divisible room (a gym
# made of halves) occupies each of its parts. Bookings conflict when they share a unit, so one
# rule covers plain and divisible rooms. Kept in sync with ``parts`` by the room service.
room_units = Table(
    "room_units",
    db.metadata,
    Column("room_id", Integer, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True, index=True),
)

room_parts = Table(
    "room_parts",
    db.metadata,
    Column("room_id", Integer, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("part_id", Integer, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("room_id <> part_id", name="not_own_part"),
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Room(db.Model):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    capacity: Mapped[int]
    equipment: Mapped[list] = mapped_column(JSON, default=list)
    accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    price_group: Mapped[str] = mapped_column(String(30))
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    supervision: Mapped[str] = mapped_column(String(30), default="outside_staffed_hours")
    buffer_minutes: Mapped[int] = mapped_column(default=0)
    min_duration_minutes: Mapped[int] = mapped_column(default=30)
    max_duration_minutes: Mapped[int] = mapped_column(default=720)
    min_notice_hours: Mapped[int] = mapped_column(default=0)
    max_advance_days: Mapped[int] = mapped_column(default=365)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    building: Mapped["Building"] = relationship(back_populates="rooms")  # noqa: F821
    parts: Mapped[list["Room"]] = relationship(
        secondary=room_parts,
        primaryjoin=id == room_parts.c.room_id,
        secondaryjoin=id == room_parts.c.part_id,
        order_by="Room.id",
    )
    units: Mapped[list["Room"]] = relationship(
        secondary=room_units,
        primaryjoin=id == room_units.c.room_id,
        secondaryjoin=id == room_units.c.unit_id,
        order_by="Room.id",
        viewonly=True,
    )
    # The unit ids as the statement that loaded the room read them beside it (``with_expression``,
    # a create's targets on PostgreSQL): no rows of ``units`` to load; None when not read so.
    unit_ids_read: Mapped[list[int] | None] = query_expression()

    __table_args__ = (
        db.UniqueConstraint("building_id", "name", name="uq_rooms_building_name"),
        CheckConstraint(f"kind IN ({_in(ROOM_KINDS)})", name="kind_known"),
        CheckConstraint(f"supervision IN ({_in(SUPERVISION_MODES)})", name="supervision_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("buffer_minutes >= 0 AND buffer_minutes <= 240", name="buffer_range"),
        CheckConstraint(
            "min_duration_minutes > 0 AND max_duration_minutes >= min_duration_minutes"
            " AND max_duration_minutes <= 10080",
            name="duration_range",
        ),
        CheckConstraint("min_notice_hours >= 0", name="notice_not_negative"),
        CheckConstraint("max_advance_days > 0", name="advance_positive"),
    )

    @property
    def part_ids(self) -> list[int]:
        return [p.id for p in self.parts]

    @property
    def unit_ids(self) -> list[int]:
        read = self.__dict__.get("unit_ids_read")  # as loaded with the room; never loaded on its own
        return list(read) if read is not None else [u.id for u in self.units]
