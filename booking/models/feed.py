"""Feed tokens (private iCal feeds) and per-feed change markers (ETag without rendering)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.models.types import UTCDateTime, utcnow


class FeedToken(db.Model):
    """The secret in a private feed URL, for an organisation or a janitor. Only its SHA-256 is
    stored; the token itself is an HMAC of the app's secret key and ``nonce``, so the service can
    show the URL again while a copy of the database alone reveals no feed."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # organization | janitor
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "(kind = 'organization' AND organization_id IS NOT NULL AND user_id IS NULL) OR "
            "(kind = 'janitor' AND user_id IS NOT NULL AND organization_id IS NULL)",
            name="kind_matches_subject",
        ),
    )


class FeedMarker(db.Model):
    """When the bookings behind a feed last changed: ``scope`` is ``room:ID``, ``building:ID`` or
    ``organization:ID``. Bumped on every insert, change or delete of a booking (a session hook),
    so a conditional GET is answered from this row alone."""

    __tablename__ = "feed_markers"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedChange(db.Model):
    """What one version of a feed marker changed: the time span of the bookings it touched, so a
    feed whose window that span misses is known to render the same bytes (``booking.feeds.cache``).

    Written with the marker, in the transaction that bumps it (the marker's row lock orders the
    versions, so a scope's rows are exactly its versions). ``first_at``/``last_at`` are the
    earliest start and latest end of every changed single booking, before and after the change;
    both NULL when the change may reach any date (a series, a rename, an assignment, a bulk
    statement). Rows older than the rendered feeds they serve are purged."""

    __tablename__ = "feed_changes"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
