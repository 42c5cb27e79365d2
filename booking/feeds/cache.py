"""Rendered feeds kept per feed and change marker, shared by every worker and app server
(SPEC §7.11, §16): a feed is rendered once per change, whatever the number of subscribers.

An entry is the feed's bytes, gzip-compressed once, under a key naming the feed's resolved scope
(``building:7``, ``organization:3``: never a token, so a private feed is found only after its
token was checked, and a rotated or revoked token answers 404 before the cache is asked), with
the validator it was rendered for: the feed's ETag (built from its change markers) and its
window. A GET whose validator equals the stored one is answered from the entry without loading
a booking; any other validator renders and replaces the entry.

Entries do not pile up: each feed has one entry for its default window (the window moving at
midnight changes the validator, and the next fetch replaces the entry) and one for the last
``?from&to`` window asked of it (two subscribers with different ranges take turns; a client
cannot fill the store with ranges). What is left of deleted rooms, buildings and organisations
goes with age: in Redis by expiry, in the database by a purge at most once an hour per process
of entries older than ``MAX_AGE`` (an index on ``created_at``).

A change that misses the feed's window renders nothing: each entry also names the marker
versions it was rendered at, and each marker version is logged with the time span of the single
bookings it changed (``FeedChange``, written in the bumping transaction). When every version
since an entry's lies outside the entry's window (``service.renders_alike``, one query), its
bytes are the feed's bytes now, and they are stored again under the new validator. (In the load
mix, bookings fall up to 200 days ahead and a building feed shows 60: most of its changes.)

A change renders once, not once per subscriber asking while it renders: a request that finds
the entry stale claims the rendering (a PostgreSQL advisory lock held to the end of its
transaction, or a Redis key set with ``NX`` that expires); requests that find the claim taken
meanwhile are answered with the last rendering of the same window, under its own ETag and
Last-Modified (a consistent, slightly older answer, as from any cache; the next poll gets the
new one), and a feed never rendered yet is rendered by each of them.

Where: Redis when ``BOOKING_FEED_CACHE_URL`` is a ``redis://`` URL, else the ``feed_cache``
table of the service's database; ``off`` keeps nothing (every GET renders). The cache is an
optimisation, never a source of errors: a store that fails is logged and the feed rendered.

Entries outlive a deployment, and the ETag is their validator: a release that changes the bytes
rendered for the same data must raise ``service.FORMAT_VERSION`` (part of every ETag), as it
must for clients' caches. Likewise data written around the service (raw SQL, a COPY seed) moves
no marker, so neither the ETag nor this cache can see it: bump the markers of what was written
(``markers.bump``).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import Index, LargeBinary, String, Text, case, delete, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.feeds.service import Feed
from booking.models import FeedChange
from booking.models.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)

MAX_AGE = timedelta(days=2)  # older entries are purged (a default window's entry is good for a day)
PURGE_EVERY_SECONDS = 3600
RENDER_LEASE_MS = 60_000  # a claim to render in Redis lasts at most this long
GZIP_LEVEL = 6  # zlib's default: feeds ~20x smaller for a few ms per 100 kB, paid once per change
_EXTENSION = "booking_feed_cache"
_INIT_LOCK = threading.Lock()


class FeedCacheEntry(db.Model):
    """A feed's last rendering, gzip-compressed (see the module's docstring)."""

    __tablename__ = "feed_cache"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    etag: Mapped[str] = mapped_column(String(160))  # the validator: the feed's ETag and window
    last_modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    versions: Mapped[str | None] = mapped_column(Text)  # the markers' versions (Feed.versions)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_feed_cache_created_at", "created_at"),)


def feed_key(feed: Feed, *, custom_window: bool) -> str:
    """The entry of ``feed``: its kind and subject, and whether a ``from``/``to`` window was asked."""
    return f"{feed.kind}:{feed.subject_id}" + (":range" if custom_window else "")


def validator(feed: Feed) -> str:
    """What the stored bytes were rendered for: equal validators, equal bytes."""
    return f"{feed.etag} {feed.window.first_date.isoformat()}/{feed.window.last_date.isoformat()}"


def compress(body: bytes) -> bytes:
    """gzip with no timestamp, so the same feed compresses to the same bytes."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def decompress(body: bytes) -> bytes:
    return gzip.decompress(body)


@dataclass(frozen=True)
class Entry:
    validator: str
    last_modified: datetime | None
    body: bytes  # gzip
    # The marker versions the body was rendered at (``Feed.versions``), stored after the
    # validator they belong to ("validator\nversions"; see ``rendered_at``).
    versions: str | None = None

    @property
    def etag(self) -> str:
        return self.validator.split(" ", 1)[0]

    @property
    def rendered_at(self) -> str | None:
        """The marker versions of this body, or None when unknown: versions are trusted only
        next to the validator they were stored with, since a writer that knows nothing of them
        (a server of an earlier release, during a rolling deployment) replaces the validator
        and the body but leaves the versions of the entry it overwrote."""
        validator_, _, versions = (self.versions or "").partition("\n")
        return versions if validator_ == self.validator else None

    def same_window(self, wanted: str) -> bool:
        return self.validator.split(" ", 1)[1:] == wanted.split(" ", 1)[1:]


@dataclass(frozen=True)
class Found:
    """A lookup: the stored entry (of any validator, or None) and, when it is not the wanted
    one, whether this request won the right to render the feed (``claimed``)."""

    entry: Entry | None
    claimed: bool


# PostgreSQL advisory locks for "rendering this feed now", in a space of their own (the units'
# locks use 0x0B00C): transaction-level, so a lock ends with the request that took it.
RENDER_LOCKS = 0x0FEED


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


class DatabaseStore:
    """Entries in the ``feed_cache`` table. Reads run in the request's transaction; a write runs
    in a short transaction of its own (on SQLite a ``BEGIN IMMEDIATE``, which waits for the
    write lock instead of failing on a read snapshot), as one upsert: two workers storing the
    same feed at once both succeed, the later one's bytes stay.

    On PostgreSQL the lookup also claims the rendering when the entry is missing or stale (a
    ``pg_try_advisory_xact_lock`` in the same statement, so a GET is still two statements when
    served and one more than the rendering's when rendered). SQLite serves one machine: every
    request that finds no current entry renders."""

    name = "database"

    def __init__(self) -> None:
        self._purge = _Hourly()

    def lookup(self, key: str, wanted: str) -> Found:
        table = FeedCacheEntry.__table__
        one = select(literal(1).label("one")).subquery()
        if db.session.get_bind().dialect.name == "postgresql":
            claimed = case(
                (table.c.etag == wanted, true()),
                else_=func.pg_try_advisory_xact_lock(RENDER_LOCKS, _lock_id(key)),
            )
        else:
            claimed = true()
        row = db.session.execute(
            select(
                table.c.etag, table.c.last_modified, table.c.body, table.c.versions, claimed.label("claimed")
            ).select_from(one.outerjoin(table, table.c.key == key))
        ).one()
        entry = None if row.etag is None else Entry(row.etag, row.last_modified, row.body, row.versions)
        return Found(entry, bool(row.claimed))

    def release(self, key: str) -> None:
        """Nothing to do: the lock ends with the request's transaction."""

    def put(self, key: str, entry: Entry) -> None:
        table = FeedCacheEntry.__table__
        now = utcnow()
        engine = db.engine
        insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(table).values(
            key=key,
            etag=entry.validator,
            last_modified=entry.last_modified,
            body=entry.body,
            versions=entry.versions,
            created_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "etag": statement.excluded.etag,
                "last_modified": statement.excluded.last_modified,
                "body": statement.excluded.body,
                "versions": statement.excluded.versions,
                "created_at": statement.excluded.created_at,
            },
        )
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            conn.execute(statement)
            if self._purge.due():
                conn.execute(delete(table).where(table.c.created_at < now - MAX_AGE))


class _Hourly:
    """``due()`` is true at most once per ``PURGE_EVERY_SECONDS`` in this process."""

    def __init__(self) -> None:
        self._at: float | None = None  # monotonic time it was last due
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            if self._at is not None and time.monotonic() - self._at < PURGE_EVERY_SECONDS:
                return False
            self._at = time.monotonic()
            return True


class RedisStore:
    """Entries as Redis hashes ``PREFIX + key`` -> {etag, last_modified, body}, expiring after
    ``MAX_AGE``; the claim to render a feed is a key ``PREFIX + "rendering:" + key`` set with
    ``NX`` that expires after ``RENDER_LEASE`` should its holder die."""

    name = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.errors = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def lookup(self, key: str, wanted: str) -> Found:
        validator_, last_modified, body, versions = self.client.hmget(
            self.prefix + key, ["etag", "last_modified", "body", "versions"]
        )
        entry = None
        if validator_ is not None and body is not None:
            try:
                stamp = datetime.fromisoformat(last_modified.decode()) if last_modified else None
                entry = Entry(validator_.decode(), stamp, body, versions.decode() if versions else None)
            except ValueError:  # (UnicodeDecodeError is one) not what this service writes: none kept
                entry = None
            if entry is not None and entry.validator == wanted:
                return Found(entry, True)
        lease = self.client.set(self.prefix + "rendering:" + key, b"1", nx=True, px=RENDER_LEASE_MS)
        return Found(entry, bool(lease))

    def release(self, key: str) -> None:
        self.client.delete(self.prefix + "rendering:" + key)

    def put(self, key: str, entry: Entry) -> None:
        name = self.prefix + key
        pipeline = self.client.pipeline(transaction=True)  # MULTI: the fields and expiry as one
        mapping = {"etag": entry.validator, "body": entry.body}
        if entry.last_modified is not None:
            mapping["last_modified"] = entry.last_modified.isoformat()
        if entry.versions is not None:
            mapping["versions"] = entry.versions
        pipeline.delete(name)  # no field of an earlier entry left behind
        pipeline.hset(name, mapping=mapping)
        pipeline.expire(name, int(MAX_AGE.total_seconds()))
        pipeline.execute()


class NoStore:
    """``BOOKING_FEED_CACHE_URL=off``: nothing kept, every request renders."""

    name = "off"

    def lookup(self, key: str, wanted: str) -> Found:
        return Found(None, True)

    def release(self, key: str) -> None:
        return None

    def put(self, key: str, entry: Entry) -> None:
        return None


def init_app(app: Flask) -> None:
    url = app.config.get("BOOKING_FEED_CACHE_URL", "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        prefix = app.config.get("BOOKING_FEED_CACHE_PREFIX", "booking:feed:")
        store = RedisStore(url, prefix)
    elif url == "off":
        store = NoStore()
    elif url in ("", "database"):
        store = DatabaseStore()
    else:
        raise ValueError("BOOKING_FEED_CACHE_URL must be empty, 'database', 'off' or a redis:// URL")
    app.extensions[_EXTENSION] = store


def store(app: Flask | None = None):
    """The app's store (``init_app`` on first use)."""
    app = app or current_app
    if _EXTENSION not in app.extensions:
        with _INIT_LOCK:
            if _EXTENSION not in app.extensions:
                init_app(app)
    return app.extensions[_EXTENSION]


def _errors(kept) -> tuple[type[BaseException], ...]:
    return (SQLAlchemyError, *getattr(kept, "errors", ()))


def lookup(key: str, feed: Feed) -> Found:
    """The stored entry of ``key`` (see ``Found``); a store that fails finds nothing and lets
    this request render."""
    kept = store()
    try:
        return kept.lookup(key, validator(feed))
    except _errors(kept):
        log.warning("feed cache (%s) unreadable; rendering %s", kept.name, key, exc_info=True)
        return Found(None, False)


def keep(key: str, feed: Feed, compressed: bytes) -> None:
    """Store ``compressed`` (the feed's gzip bytes) as the entry of ``key``; failures are logged.
    At most once an hour per process, also purge the change log (``FeedChange``) of what no kept
    entry can still need: changes older than ``MAX_AGE``, as old as the oldest entry kept."""
    kept = store()
    try:
        wanted = validator(feed)
        kept.put(key, Entry(wanted, feed.last_modified, compressed, f"{wanted}\n{feed.versions}"))
    except _errors(kept):
        log.warning("feed cache (%s) not written for %s", kept.name, key, exc_info=True)
    if _changes_purge.due():
        try:
            with db.engine.begin() as conn:
                conn.execute(delete(FeedChange).where(FeedChange.changed_at < utcnow() - MAX_AGE))
        except SQLAlchemyError:
            log.warning("feed change log not purged", exc_info=True)


_changes_purge = _Hourly()


def release(key: str) -> None:
    """Give up the claim to render ``key`` (Redis; a PostgreSQL claim ends with the transaction)."""
    kept = store()
    try:
        kept.release(key)
    except _errors(kept):
        log.warning("feed cache (%s): claim on %s not released (it expires)", kept.name, key, exc_info=True)
