from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow
from pricing.weekly import WeeklyWindow, parse_windows


class Building(db.Model):
    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    # Weekly windows in local time: [{"day": "mon", "start": "08:00", "end": "16:00"}, ...]
    staffed_hours: Mapped[list] = mapped_column(JSON, default=list)
    opening_hours: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rooms: Mapped[list["Room"]] = relationship(back_populates="building", order_by="Room.name")  # noqa: F821
    closures: Mapped[list["Closure"]] = relationship(
        back_populates="building", cascade="all, delete-orphan", order_by="Closure.start_date"
    )
    # The closures' (start_date, end_date) as the statement that loaded the building read them
    # beside it (``with_expression``, a create's targets on PostgreSQL): no rows of ``closures``
    # to load; None when not read so.
    closure_ranges_read: Mapped[list | None] = query_expression()

    __table_args__ = (CheckConstraint("length(name) > 0", name="name_not_empty"),)

    @property
    def staffed_windows(self) -> list[WeeklyWindow]:
        return parse_windows(self.staffed_hours or [])

    @property
    def opening_windows(self) -> list[WeeklyWindow]:
        return parse_windows(self.opening_hours or [])

    @property
    def closure_ranges(self) -> list[tuple[date, date]]:
        read = self.__dict__.get("closure_ranges_read")  # as loaded with the building; never on its own
        if read is not None:
            return [(first, last) for first, last in read]
        return [(c.start_date, c.end_date) for c in self.closures]


class Closure(db.Model):
    """A closed period, e.g. Christmas: inclusive local dates."""

    __tablename__ = "building_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")

    building: Mapped[Building] = relationship(back_populates="closures")

    __table_args__ = (CheckConstraint("end_date >= start_date", name="ends_after_start"),)
