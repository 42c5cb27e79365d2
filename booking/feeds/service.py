"""Feed use cases: private feed tokens, a feed's change state (ETag, Last-Modified) and its
bookings turned into the renderer's events and series.

Who sees what (SPEC §7, decisions in the README):

* Public feeds (a room, a building) show confirmed bookings only. SUMMARY is the organisation's
  name, or the booking's title when ``public_title`` is set (the organisation is then in
  DESCRIPTION); never notes, contacts or attendees. A room's feed also shows the bookings of
  the rooms it shares a unit with (the whole gym in the feed of a half, and the halves in the
  feed of the whole gym): everything that makes the room unavailable.
* An organisation's feed shows its confirmed bookings and its pending requests, the latter as
  ``STATUS:TENTATIVE`` with "Forespørsel:" before the title (many clients do not show STATUS).
* A janitor's feed shows the confirmed bookings of the buildings assigned to them, with the
  organisation, its contact person, phone and e-mail, attendees and notes.
* The window (SPEC §7.7) is local dates, inclusive: room and organisation feeds from 90 days
  before today to 400 days after it; building and janitor feeds, which gather many rooms, from
  7 days before to 60 after. A default window's feed larger than ``MAX_DEFAULT_FEED_BYTES``
  (1 MB, which Google Calendar is reported to need) ends on an earlier day, chosen so that the
  feed fits, never before today (:func:`_within_bytes`; the busiest building of the benchmark
  data: 33 days ahead). Any feed takes ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` inside the long
  window, served as asked. A series with a visible occurrence in the window is clipped to it
  (:func:`_clip`): its master starts at the first instance of an occurrence the window shows
  and its rule ends (``UNTIL``) on the day of the last, with EXDATEs and overrides between the
  two only. Inside the window a reader's expansion is exactly the service's occurrences;
  outside it a reader sees nothing of the series but those between the two instances, each true
  (the same UID, so a client keeps one series as the window moves).
* A feed of more than ``MAX_FEED_EVENTS`` VEVENTs is refused (``FeedTooLarge``, 422
  problem+json saying so and how to ask for less), never cut short: a client would take a cut
  feed for the whole truth. The limit is counted on the loaded components, before rendering.
  (A default window that ends early under the byte bound is not a cut: every day it covers is
  whole, and the days after it are not in its window.)
* Validators: the ETag names the markers, the window and ``FORMAT_VERSION``. Last-Modified is
  the whole second after the markers' last change (``If-Modified-Since`` has whole seconds: a
  client that fetched within the second of a change is never told it is current after a second
  change in that second), and for a default window at least the start of today in Oslo: the
  window moves at midnight, and the body with it.

A series is written as one master VEVENT whose DTSTART is the first instance written (the
rule's first, or the window's, see above); EXDATE is every instance written without a visible
occurrence (skipped, cancelled, rejected, deleted or, in a
public feed, still pending); an occurrence that was moved or that reads differently from the
master (title, notes, status) is a RECURRENCE-ID override, and so is an occurrence that readers
would expand differently on a night the clocks change (``booking.feeds.ical.reads_alike``). The
master reads like most of its unmoved occurrences.

SEQUENCE and DTSTAMP/LAST-MODIFIED (SPEC §7.5): an event's SEQUENCE is its booking's sequence
plus the renames of what it shows (the label markers of its room, building and, where the feed
shows them, organisation name and contacts: ``booking.feeds.markers``); its DTSTAMP the latest of
the booking's change and those renames. Every component of a series carries SEQUENCE = the
series' sequence plus the sum of its occurrences' SEQUENCEs, so any change to any occurrence
raises it everywhere, and DTSTAMP = the latest of them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections import Counter, OrderedDict, defaultdict, namedtuple
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, String, and_, any_, bindparam, cast, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from booking.domain import recurrence
from booking.domain.errors import DomainError, InvalidInput, NotFound
from booking.domain.timeslots import local_day_bounds
from booking.extensions import db
from booking.feeds.ical import FeedEvent, FeedSeries, booking_uid, reads_alike, render_calendar, series_uid
from booking.feeds.markers import (
    BUILDING_LABEL,
    ORGANIZATION_CONTACT,
    ORGANIZATION_LABEL,
    ROOM_LABEL,
    building_scope,
    room_scope,
)
from booking.models import (
    Booking,
    Building,
    FeedChange,
    FeedMarker,
    FeedToken,
    Organization,
    Room,
    Series,
    SkippedOccurrence,
    User,
    janitor_buildings,
    room_units,
)
from booking.models.types import utcnow
from booking.services.access import Actor, require_organization, require_role
from booking.services.auth import hash_token
from pricing import OSLO

# The longest window: any feed's ``from``/``to`` must lie inside it (days before/after today).
WINDOW_DAYS_BACK = 90
WINDOW_DAYS_AHEAD = 400
# Each kind's default window (SPEC §7.7): feeds of many rooms look less far.
DEFAULT_WINDOWS = {
    "room": (WINDOW_DAYS_BACK, WINDOW_DAYS_AHEAD),
    "organization": (WINDOW_DAYS_BACK, WINDOW_DAYS_AHEAD),
    "building": (7, 60),
    "janitor": (7, 60),
}
# The hard limit on a feed's VEVENTs (masters, overrides, single bookings). At the benchmark
# building feed's ~350 bytes per VEVENT that is about 4 MB: four times what Google Calendar is
# reported to take, and about 1.5 s to load and render here. A feed beyond it is refused.
MAX_FEED_EVENTS = 12_000
# A default window's feed ends early rather than be larger than this (SPEC §7.7: Google Calendar
# is reported to fail above about 1 MB); a window asked with ?from&to is served as asked.
MAX_DEFAULT_FEED_BYTES = 1_000_000
ESTIMATE_FROM_ITEMS = 2_000  # events and series; a smaller feed is rendered whole first
# Part of every ETag: raise it when a release changes the bytes rendered for the same data.
FORMAT_VERSION = "4"
PRIVATE_KINDS = frozenset({"organization", "janitor"})


class FeedTooLarge(DomainError):
    """The feed (its window) holds more events than ``MAX_FEED_EVENTS``: refused, not cut."""

    status = 422
    title = "Feed too large"
    type_slug = "feed-too-large"


# --- the window and a feed's change state ----------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Local dates ``first_date`` to ``last_date`` (inclusive) as the instants ``[start, end)``;
    a kind's default window also names the ``today`` it was made for (it moves at midnight)."""

    first_date: date
    last_date: date
    today: date | None = None  # None: fixed dates asked in the URL

    @property
    def start(self) -> datetime:
        return local_day_bounds(self.first_date)[0]

    @property
    def end(self) -> datetime:
        return local_day_bounds(self.last_date)[1]


def feed_window(
    kind: str = "room",
    now: datetime | None = None,
    first_date: date | str | None = None,
    last_date: date | str | None = None,
) -> Window:
    """The window of a feed of ``kind`` served at ``now``: its kind's default, which moves at
    midnight Oslo time, or ``first_date``..``last_date`` (dates, or ``YYYY-MM-DD`` text from a
    URL; either may be left out: the default one stands in), which must lie inside 90 days back
    and 400 ahead and be in order. ``InvalidInput`` naming ``from``/``to`` otherwise."""
    today = (now or utcnow()).astimezone(OSLO).date()
    back, ahead = DEFAULT_WINDOWS[kind]
    if first_date is None and last_date is None:
        return Window(today - timedelta(days=back), today + timedelta(days=ahead), today)
    first_date, last_date = _parse_dates(first_date, last_date)
    earliest = today - timedelta(days=WINDOW_DAYS_BACK)
    latest = today + timedelta(days=WINDOW_DAYS_AHEAD)
    first = first_date or max(earliest, min(today - timedelta(days=back), last_date))
    last = last_date or min(latest, max(today + timedelta(days=ahead), first))
    errors: dict[str, list[str]] = {}
    for field_name, day in (("from", first), ("to", last)):
        if not earliest <= day <= latest:
            errors[field_name] = [
                f"{day.isoformat()} is outside the dates a feed covers: from {earliest.isoformat()} "
                f"({WINDOW_DAYS_BACK} days ago) to {latest.isoformat()} ({WINDOW_DAYS_AHEAD} days ahead)."
            ]
    if not errors and last < first:
        errors["to"] = [f"The last day ({last.isoformat()}) is before the first ({first.isoformat()})."]
    if errors:
        raise InvalidInput(errors, "The feed's period (from, to) is not one it can serve.")
    return Window(first, last)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _parse_dates(*values: date | str | None) -> tuple[date | None, ...]:
    parsed: list[date | None] = []
    errors: dict[str, list[str]] = {}
    for field_name, value in zip(("from", "to"), values, strict=True):
        if isinstance(value, str):
            try:
                if not _DATE.fullmatch(value):
                    raise ValueError(value)
                value = date.fromisoformat(value)
            except ValueError:
                errors[field_name] = [f"Not a date of the form YYYY-MM-DD: {value[:40]!r}."]
                value = None
        parsed.append(value)
    if errors:
        raise InvalidInput(errors, "The feed's period (from, to) must be dates of the form YYYY-MM-DD.")
    return tuple(parsed)


def window_dates(args: Mapping[str, str]) -> dict[str, str | None]:
    """``from`` and ``to`` of a feed URL's query as keyword arguments of the feed functions
    (``first_date``, ``last_date``; None when absent). They are checked by the feed function,
    after the feed itself was found: an unknown feed or token is a 404 whatever the dates."""
    return {"first_date": args.get("from"), "last_date": args.get("to")}


@dataclass(frozen=True)
class Feed:
    """A feed resolved from its URL, with what a conditional GET needs, before any rendering."""

    kind: str  # room | building | organization | janitor
    subject_id: int  # room, building, organisation or janitor user id
    window: Window
    etag: str  # strong, quoted
    last_modified: datetime | None  # None while no marker exists (data older than markers)
    # FORMAT_VERSION and the markers' versions, "4|building:7=12": what a kept rendering was made
    # of (see :func:`renders_alike`)
    versions: str = ""

    @property
    def is_private(self) -> bool:
        return self.kind in PRIVATE_KINDS


def _feed(kind: str, subject_id: int, window: Window, markers) -> Feed:
    markers = [(scope, version, changed_at) for scope, version, changed_at in markers if scope is not None]
    text = "|".join(
        [FORMAT_VERSION, kind, str(subject_id), window.first_date.isoformat(), window.last_date.isoformat()]
        + sorted(
            f"{scope}={version}@{changed_at.astimezone(UTC).isoformat()}"
            for scope, version, changed_at in markers
        )
    )
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:40] + '"'
    versions = FORMAT_VERSION + "|" + ",".join(sorted(f"{scope}={version}" for scope, version, _ in markers))
    return Feed(kind, subject_id, window, etag, last_modified(window, markers), versions)


_VERSION = re.compile(r"[0-9]{1,9}", re.ASCII)  # a marker's version as ``_feed`` writes it


def _parse_versions(text: str) -> tuple[str, dict[str, int]]:
    """``Feed.versions`` read back; ``ValueError`` for anything ``_feed`` does not write."""
    form, _, markers = text.partition("|")
    versions = {}
    for item in markers.split(",") if markers else ():
        scope, _, version = item.rpartition("=")
        if not scope or not _VERSION.fullmatch(version):
            raise ValueError(item[:40])
        versions[scope] = int(version)
    return form, versions


def renders_alike(feed: Feed, rendered: str | None) -> bool:
    """Whether the feed rendered at the marker versions ``rendered`` (``Feed.versions`` of a kept
    rendering of the same window) has the same bytes now: every version of its markers since
    then is logged (``FeedChange``) with a span of single bookings' times that misses the window
    (one query). A change that may reach any date, a version not logged (written before the log,
    purged, or by a writer that logs nothing), a new or lost marker, or another FORMAT_VERSION
    says no, and the feed is rendered.

    Exact, not a guess: a feed's bytes depend on its window's bookings, the series it shows and
    the labels and names it prints (SPEC §7.5, §7.8); a change of anything but a single booking
    is logged as reaching any date, and a single booking shows in a feed only if its times
    overlap the window. (In the load mix, most bookings fall beyond a building feed's 60 days.)"""
    try:
        form, before = _parse_versions(rendered or "")
    except ValueError:  # not what this service writes: render
        return False
    now_form, now = _parse_versions(feed.versions)
    if form != now_form or before.keys() != now.keys():
        return False
    since = {scope: (before[scope], now[scope]) for scope in now if now[scope] != before[scope]}
    if not since or any(old > new for old, new in since.values()):
        return False
    reaches = or_(
        FeedChange.first_at.is_(None),
        and_(FeedChange.first_at < feed.window.end, FeedChange.last_at > feed.window.start),
    )
    query = (
        select(FeedChange.scope, func.count(), func.count().filter(reaches))
        .where(
            or_(
                *(
                    and_(FeedChange.scope == scope, FeedChange.version > old, FeedChange.version <= new)
                    for scope, (old, new) in since.items()
                )
            )
        )
        .group_by(FeedChange.scope)
    )
    counted = {scope: (logged, reaching) for scope, logged, reaching in db.session.execute(query)}
    return all(counted.get(scope, (0, 0)) == (new - old, 0) for scope, (old, new) in since.items())


def last_modified(window: Window, markers) -> datetime | None:
    """The feed's Last-Modified: the whole second after the last change of its markers, so a
    client whose copy is from that second is never taken for current after another change in
    the same second; for a default window, not before the start of its today (Oslo midnight:
    the window moved then, and the body with it)."""
    changed = max((changed_at for _, _, changed_at in markers), default=None)
    moments = []
    if changed is not None:
        moments.append(changed.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1))
    if window.today is not None:
        moments.append(local_day_bounds(window.today)[0].astimezone(UTC))
    return max(moments, default=None)


def _marker_join(scope_expression):
    return (FeedMarker.scope, FeedMarker.version, FeedMarker.changed_at), FeedMarker.scope == scope_expression


def room_feed(
    room_id: int,
    now: datetime | None = None,
    *,
    first_date: date | str | None = None,
    last_date: date | str | None = None,
) -> Feed:
    """The public feed of a room (one query); ``NotFound`` when there is no such room. Every feed
    function takes the dates of a ``?from&to`` window (see :func:`window_dates`)."""
    columns, on = _marker_join(room_scope(room_id))
    rows = db.session.execute(
        select(Room.id, *columns).outerjoin(FeedMarker, on).where(Room.id == room_id)
    ).all()
    if not rows:
        raise NotFound(f"There is no room {room_id}.")
    window = feed_window("room", now, first_date, last_date)
    return _feed("room", room_id, window, [row[1:] for row in rows])


def building_feed(
    building_id: int,
    now: datetime | None = None,
    *,
    first_date: date | str | None = None,
    last_date: date | str | None = None,
) -> Feed:
    """The public feed of a building (one query); ``NotFound`` when there is no such building."""
    columns, on = _marker_join(building_scope(building_id))
    query = select(Building.id, *columns).outerjoin(FeedMarker, on).where(Building.id == building_id)
    rows = db.session.execute(query).all()
    if not rows:
        raise NotFound(f"There is no building {building_id}.")
    window = feed_window("building", now, first_date, last_date)
    return _feed("building", building_id, window, [row[1:] for row in rows])


_NO_SUCH_FEED = "There is no feed at this address; it may have been replaced by a new one."


def organization_feed(
    token: str,
    now: datetime | None = None,
    *,
    first_date: date | str | None = None,
    last_date: date | str | None = None,
) -> Feed:
    """The private feed of the organisation whose current token is ``token`` (one query)."""
    columns, on = _marker_join(literal("organization:") + cast(FeedToken.organization_id, String))
    query = (
        select(FeedToken.organization_id, *columns)
        .outerjoin(FeedMarker, on)
        .where(
            FeedToken.token_hash == hash_token(token),
            FeedToken.kind == "organization",
            FeedToken.revoked_at.is_(None),
        )
    )
    rows = db.session.execute(query).all()
    if not rows:
        raise NotFound(_NO_SUCH_FEED)
    window = feed_window("organization", now, first_date, last_date)
    return _feed("organization", rows[0][0], window, [row[1:] for row in rows])


def janitor_feed(
    token: str,
    now: datetime | None = None,
    *,
    first_date: date | str | None = None,
    last_date: date | str | None = None,
) -> Feed:
    """The private feed of the janitor whose current token is ``token`` (one query): its markers
    are those of every assigned building and the janitor's own (assignments)."""
    building_scopes = select(literal("building:") + cast(janitor_buildings.c.building_id, String)).where(
        janitor_buildings.c.user_id == FeedToken.user_id
    )
    own_scope = literal("user:") + cast(FeedToken.user_id, String)
    query = (
        select(FeedToken.user_id, FeedMarker.scope, FeedMarker.version, FeedMarker.changed_at)
        .join(User, User.id == FeedToken.user_id)
        .outerjoin(FeedMarker, or_(FeedMarker.scope == own_scope, FeedMarker.scope.in_(building_scopes)))
        .where(
            FeedToken.token_hash == hash_token(token),
            FeedToken.kind == "janitor",
            FeedToken.revoked_at.is_(None),
            User.active.is_(True),
            User.role == "janitor",
        )
    )
    rows = db.session.execute(query).all()
    if not rows:
        raise NotFound(_NO_SUCH_FEED)
    window = feed_window("janitor", now, first_date, last_date)
    return _feed("janitor", rows[0][0], window, [row[1:] for row in rows])


# --- private feed tokens ---------------------------------------------------------------------


def _token(secret_key: str, nonce: str) -> str:
    """The token in the URL: HMAC-SHA256 of the app's secret key and the row's nonce (256 bits)."""
    digest = hmac.new(secret_key.encode(), b"feed-token:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _subject(kind: str, subject_id: int):
    return (
        FeedToken.organization_id == subject_id if kind == "organization" else FeedToken.user_id == subject_id
    )


def _current_token(kind: str, subject_id: int, secret_key: str) -> str | None:
    rows = db.session.scalars(
        select(FeedToken)
        .where(FeedToken.kind == kind, _subject(kind, subject_id), FeedToken.revoked_at.is_(None))
        .order_by(FeedToken.id.desc())
    )
    for row in rows:
        token = _token(secret_key, row.nonce)
        if hmac.compare_digest(hash_token(token), row.token_hash):
            return token
    return None  # none yet, or made with another secret key: rotate to get a working one


def _revoke(kind: str, subject_id: int) -> None:
    db.session.execute(
        update(FeedToken)
        .where(FeedToken.kind == kind, _subject(kind, subject_id), FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _lock_subject(kind: str, subject_id: int) -> None:
    """Lock the row that owns the feed tokens (the organisation, or the janitor's user) until
    the transaction ends, so rotations and revocations of one feed take effect one after the
    other: each then revokes the token the previous one issued, and exactly one stays valid.
    Without it, two rotations on PostgreSQL both revoke the old token and both keep their new
    one (neither UPDATE sees the other's uncommitted INSERT). FOR NO KEY UPDATE: bookings that
    only reference the organisation are not held up. SQLite ignores it; its write transactions
    are serialized already (BEGIN IMMEDIATE)."""
    owner = Organization if kind == "organization" else User
    locked = db.session.execute(
        select(owner.id).where(owner.id == subject_id).with_for_update(key_share=True)
    ).scalar_one_or_none()
    if locked is None:
        raise NotFound(f"There is no {'organisation' if kind == 'organization' else 'user'} {subject_id}.")


def _rotate(kind: str, subject_id: int, secret_key: str) -> str:
    _lock_subject(kind, subject_id)
    _revoke(kind, subject_id)
    nonce = secrets.token_hex(32)
    token = _token(secret_key, nonce)
    subject = {"organization_id": subject_id} if kind == "organization" else {"user_id": subject_id}
    db.session.add(FeedToken(kind=kind, nonce=nonce, token_hash=hash_token(token), **subject))
    db.session.flush()
    return token


def _require_organization(actor: Actor, organization_id: int) -> None:
    require_organization(actor, organization_id)
    if db.session.get(Organization, organization_id) is None:
        raise NotFound(f"There is no organisation {organization_id}.")


def rotate_organization_token(actor: Actor, organization_id: int, secret_key: str) -> str:
    """Revoke the organisation's feed token (if any) and issue a new one; members and admins.
    Concurrent rotations leave exactly one working token, the last one's."""
    require_organization(actor, organization_id)
    return _rotate("organization", organization_id, secret_key)


def organization_token(actor: Actor, organization_id: int, secret_key: str) -> str | None:
    """The organisation's current feed token; None until one is issued."""
    _require_organization(actor, organization_id)
    return _current_token("organization", organization_id, secret_key)


def revoke_organization_token(actor: Actor, organization_id: int) -> None:
    """Stop the organisation's private feed (its URL answers 404) without issuing a new one."""
    require_organization(actor, organization_id)
    _lock_subject("organization", organization_id)
    _revoke("organization", organization_id)
    db.session.flush()


def rotate_janitor_token(actor: Actor, secret_key: str) -> str:
    """Revoke the calling janitor's feed token (if any) and issue a new one."""
    require_role(actor, "janitor")
    return _rotate("janitor", actor.user_id, secret_key)


def janitor_token(actor: Actor, secret_key: str) -> str | None:
    """The calling janitor's current feed token; None until one is issued."""
    require_role(actor, "janitor")
    return _current_token("janitor", actor.user_id, secret_key)


def revoke_janitor_token(actor: Actor) -> None:
    require_role(actor, "janitor")
    _lock_subject("janitor", actor.user_id)
    _revoke("janitor", actor.user_id)
    db.session.flush()


# --- rendering -------------------------------------------------------------------------------


def render_feed(feed: Feed) -> bytes:
    """The calendar of ``feed``: the name, :func:`_load`'s six queries and the renderer;
    ``FeedTooLarge`` when it would hold more than ``MAX_FEED_EVENTS`` VEVENTs. A default window
    is cut short at its far end when it would be larger than ``MAX_DEFAULT_FEED_BYTES``
    (:func:`_within_bytes`).

    A refusal is remembered by the feed's ETag (which names its data and window) in this
    process, so asking again for the same too-large feed costs no loading: the refusal of the
    busiest building's long window took seconds of a worker every time."""
    count = _refused_counts.get(feed.etag)
    if count is None or count <= MAX_FEED_EVENTS:  # (the limit may have been raised since)
        loaded = _load(feed)
        events, series = _components(loaded, feed.window)
        count = _vevent_count(events, series)
    if count > MAX_FEED_EVENTS:
        _refused_counts.put(feed.etag, count)
        first, last = feed.window.first_date.isoformat(), feed.window.last_date.isoformat()
        raise FeedTooLarge(
            f"The feed from {first} to {last} would hold {count} events, more than the "
            f"{MAX_FEED_EVENTS} a feed may hold; ask for a shorter period with "
            "?from=YYYY-MM-DD&to=YYYY-MM-DD.",
            events=count,
            limit=MAX_FEED_EVENTS,
        )
    name = feed_name(feed)
    if feed.window.today is not None:
        return _within_bytes(name, loaded, feed.window, events, series)
    return render_calendar(name, events, series)


def _vevent_count(events: list[FeedEvent], series: list[FeedSeries]) -> int:
    return len(events) + sum(1 + len(item.overrides) for item in series)


def _within_bytes(name: str, loaded: _Loaded, window: Window, events: list, series: list) -> bytes:
    """The calendar of a default ``window``, which ends on an earlier day when the whole would be
    larger than ``MAX_DEFAULT_FEED_BYTES``: a day chosen by estimate so that the feed fits, a few
    per cent under the bound.

    The whole feed is rendered and measured first unless its estimate (:func:`_estimated_size`,
    from every eighth component) is more than a quarter over the bound, so a feed that fits is
    served whole (short of an estimate off by more than a quarter). A feed over the bound keeps
    the share of its VEVENTs (by start) that the bound allows of its estimated or rendered size,
    less 2 %, and ends the day before the first VEVENT left out; a try that still does not fit
    ends earlier still. No day before today is cut off (a feed of that much today alone is
    served whole). The cut depends only on the data and the default window, so the ETag, which
    names both, still names the body; every try is built from the rows already loaded. (The
    benchmark's busiest building: 1,620,664 bytes to 60 days ahead, 948,921 to 33 days ahead, in
    one try, without rendering the whole.)"""
    today, estimate = window.today, _estimated_size(name, events, series)
    body = render_calendar(name, events, series) if estimate <= MAX_DEFAULT_FEED_BYTES * 1.25 else None
    while body is None or (len(body) > MAX_DEFAULT_FEED_BYTES and window.last_date > today):
        size = estimate if body is None else len(body)
        starts = sorted(_local_date(start) for start in _vevent_starts(events, series))
        keep = int(len(starts) * (MAX_DEFAULT_FEED_BYTES / size) * 0.98)
        cut = min(starts[keep] if keep < len(starts) else window.last_date, window.last_date)
        window = replace(window, last_date=max(cut - timedelta(days=1), today))
        events, series = _components(loaded, window)
        body = render_calendar(name, events, series)
    return body


def _vevent_starts(events: list[FeedEvent], series: list[FeedSeries]):
    for item in (*events, *series):
        yield item.start
    for item in series:
        for override in item.overrides:
            yield override.start


def _estimated_size(name: str, events: list[FeedEvent], series: list[FeedSeries]) -> int:
    """The bytes of the calendar of ``events`` and ``series``, from rendering every eighth of
    them (in start order, with its overrides): an eighth of the rendering's cost. 0 for fewer
    than ``ESTIMATE_FROM_ITEMS``: such a feed is rendered whole at once (at about 350 bytes a
    VEVENT most fit; one that does not is measured), as the estimate cost 3 % of the feeds'
    time under the load mix, where nearly all feeds fit."""
    if len(events) + len(series) < ESTIMATE_FROM_ITEMS:
        return 0
    items = sorted([*events, *series], key=lambda item: (item.start, item.uid))
    sample = items[::8]
    header = len(render_calendar(name, [], []))
    sampled = render_calendar(
        name,
        [item for item in sample if isinstance(item, FeedEvent)],
        [item for item in sample if isinstance(item, FeedSeries)],
    )
    return header + (len(sampled) - header) * len(items) // len(sample)


def _local_date(moment: datetime) -> date:
    return moment.astimezone(OSLO).date()


class _Memo:
    """A small, bounded, thread-safe map whose oldest entries give way to new ones."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            return self.items.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_refused_counts = _Memo(256)  # ETag -> VEVENTs of a feed refused as too large


def feed_name(feed: Feed) -> str:
    """The calendar's name as calendar apps list it."""
    if feed.kind == "room":
        room, building = db.session.execute(
            select(Room.name, Building.name)
            .join(Building, Building.id == Room.building_id)
            .where(Room.id == feed.subject_id)
        ).one()
        return f"{room}, {building}"
    if feed.kind == "building":
        return db.session.scalar(select(Building.name).where(Building.id == feed.subject_id))
    if feed.kind == "organization":
        name = db.session.scalar(select(Organization.name).where(Organization.id == feed.subject_id))
        return f"{name}: bookinger"
    name = db.session.scalar(select(User.name).where(User.id == feed.subject_id))
    return f"Vaktmester: {name}"


def _visible_statuses(feed: Feed) -> tuple[str, ...]:
    return ("confirmed", "pending") if feed.kind == "organization" else ("confirmed",)


def _in_feed(feed: Feed, booking):
    """The SQL condition for a booking (``Booking`` or an alias of it) to belong to the feed."""
    if feed.kind == "room":
        # The rooms' ids as a list, read first: with ``room_id = 17 OR room_id IN (SELECT …)``
        # PostgreSQL scanned every booking (0.45 s of a room feed's 0.5 s cold render at 1,000,000
        # occurrences); a list is an index scan (7 ms).
        units = select(room_units.c.unit_id).where(room_units.c.room_id == feed.subject_id)
        sharing = db.session.scalars(select(room_units.c.room_id).where(room_units.c.unit_id.in_(units)))
        return booking.room_id.in_(sorted({feed.subject_id, *sharing}))
    if feed.kind == "organization":
        return booking.organization_id == feed.subject_id
    if feed.kind == "building":
        buildings = [feed.subject_id]
    else:
        buildings = select(janitor_buildings.c.building_id).where(
            janitor_buildings.c.user_id == feed.subject_id
        )
    return booking.room_id.in_(select(Room.id).where(Room.building_id.in_(buildings)))


_COLUMNS = (
    Booking.id,
    Booking.series_id,
    Booking.original_start,
    Booking.title,
    Booking.start,
    Booking.end,
    Booking.status,
    Booking.notes,
    Booking.public_title,
    Booking.attendees,
    Booking.own_supervisor,
    Booking.sequence,
    Booking.updated_at,
    Booking.room_id,
    Booking.organization_id,
)


_BookingRow = namedtuple("_BookingRow", [column.key for column in _COLUMNS])


def feed_components(feed: Feed) -> tuple[list[FeedEvent], list[FeedSeries]]:
    """The feed's single bookings and series, ready for :func:`render_calendar`: what
    :func:`_load` reads, built for the feed's window."""
    return _components(_load(feed), feed.window)


@dataclass(frozen=True)
class _Loaded:
    """What a feed's window needs from the database (see :func:`_load`); :func:`_components`
    builds the feed from it for that window or any shorter one with the same first day."""

    statuses: tuple[str, ...]
    shown: list  # the bookings the window shows
    by_series: dict[int, dict[int, object]]  # series id -> its occurrences read, by id
    series_rows: list
    groups: dict[int, list]  # series id -> (room, organisation, sequence sum, count, last change)
    looks: _Looks
    elsewhere: set[int]  # occurrences read that are outside the feed's rooms


def _among(column, ids):
    """``column IN ids``; on PostgreSQL ``column = ANY(:array)``: one statement text whatever the
    number of ids, so the driver converts it once and the server plans it once (a building's feed
    names some 340 series: the driver's parsing of its IN lists was about 13 ms per rendering under
    the profiler; building 7's rendering 84 -> 74-84 ms of CPU, see BENCHMARKS.md)."""
    ids = sorted(ids)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)


def _load(feed: Feed) -> _Loaded:
    """Six queries: the bookings the window shows, their series, the rest of the occurrences the
    clipped series write, the series' stamps, rooms, organisations.

    A series is read only as far as the feed writes it (:func:`_clip`): the window's occurrences
    first, then, once the rules say which instances the clipped series run from and to, the
    occurrences between those. Its SEQUENCE and DTSTAMP depend on all its occurrences: they come
    from one aggregate per series, room and organisation (:meth:`_Looks.group_stamp`), not from
    loading every occurrence. (The benchmark's busiest building: about 30,400 rows read
    before, 12,000 now, and its cold render under 1 s; see BENCHMARKS.md.)"""
    statuses = _visible_statuses(feed)
    window = feed.window
    in_feed = _in_feed(feed, Booking)
    # An occurrence moved to a room outside the feed (another building) is read but not shown: a
    # janitor's feed tells only the assigned buildings' bookings and contacts, a room's only that
    # room's; its date is an EXDATE.
    elsewhere: set[int] = set()

    def read(*conditions) -> list:
        rows = []
        for *columns, inside in db.session.execute(
            select(*_COLUMNS, in_feed.label("in_feed")).where(*conditions)
        ):
            row = _BookingRow._make(columns)  # plain tuples: fast fields
            rows.append(row)
            if not inside:
                elsewhere.add(row.id)
        return rows

    shows = and_(
        in_feed, Booking.status.in_(statuses), Booking.start < window.end, Booking.end > window.start
    )
    shown = read(shows)
    by_series: dict[int, dict[int, object]] = defaultdict(dict)
    for row in shown:
        if row.series_id is not None:
            by_series[row.series_id][row.id] = row
    series_rows = []
    if by_series:
        series_rows = db.session.execute(
            select(
                Series.id, Series.rrule, Series.start, Series.end, Series.sequence, Series.updated_at
            ).where(_among(Series.id, by_series))
        ).all()
    ranges, whole = {}, []
    for series_row in series_rows:
        try:
            instances = rule_instances(series_row.rrule, series_row.start, series_row.end)
        except (DomainError, ValueError):
            whole.append(series_row.id)  # a rule that no longer expands: its occurrences stand in
            continue
        starts = {start for start, _ in instances}
        inside = [o.original_start for o in by_series[series_row.id].values() if o.original_start in starts]
        if inside:
            ranges[series_row.id] = _written_range(series_row, sorted(starts), inside)
    more = []
    if ranges:
        more.append(
            and_(
                _among(Booking.series_id, ranges),
                Booking.original_start >= min(first for first, _ in ranges.values()),
                Booking.original_start <= max(last for _, last in ranges.values()),
            )
        )
    if whole:
        more.append(_among(Booking.series_id, whole))
    # (not the rows read already: 4,948 rows -> 195 for the busiest building of the benchmark)
    for row in read(or_(*more), ~shows) if more else ():
        by_series[row.series_id][row.id] = row
    groups: dict[int, list] = defaultdict(list)
    if by_series:
        for group in db.session.execute(
            select(
                Booking.series_id,
                Booking.room_id,
                Booking.organization_id,
                func.sum(Booking.sequence),
                func.count(),
                func.max(Booking.updated_at),
            )
            .where(_among(Booking.series_id, by_series))
            .group_by(Booking.series_id, Booking.room_id, Booking.organization_id)
        ):
            groups[group[0]].append(group[1:])
    looks = _Looks(
        feed,
        [*shown, *(row for rows in by_series.values() for row in rows.values())],
        room_ids={group[0] for rows in groups.values() for group in rows},
        organization_ids={group[1] for rows in groups.values() for group in rows},
    )
    return _Loaded(statuses, shown, by_series, series_rows, groups, looks, elsewhere)


def _components(loaded: _Loaded, window: Window) -> tuple[list[FeedEvent], list[FeedSeries]]:
    """The single events and series of ``window``: the loaded window's, or a shorter one's (the
    rows of a longer window are a superset of what a shorter one writes; :func:`_clip` and the
    window test of single bookings keep only what it shows)."""
    looks = loaded.looks
    singles = [
        _event(row, booking_uid(row.id), looks)
        for row in loaded.shown
        if row.series_id is None and _overlaps(row.start, row.end, window)
    ]
    series = []
    for series_row in loaded.series_rows:
        stamps = [looks.group_stamp(*group) for group in loaded.groups[series_row.id]]
        stamp = (
            series_row.sequence + sum(sequence for sequence, _ in stamps),
            max([series_row.updated_at, *(changed for _, changed in stamps)]),
        )
        occurrences = list(loaded.by_series[series_row.id].values())
        item, strays = _series(
            series_row, occurrences, loaded.statuses, looks, loaded.elsewhere, window, stamp=stamp
        )
        singles.extend(strays)
        if item is not None:
            series.append(item)
    return singles, series


# (summary, description, location, status): what a client shows for one booking.
Look = tuple[str, str | None, str | None, str]


# The label versions and last label change of one room or organisation, as this feed shows them.
_Label = tuple[int, datetime | None]
_NO_LABEL: _Label = (0, None)


def _labels(*markers: tuple[int | None, datetime | None]) -> _Label:
    """Several label markers (outer-joined: None where a label was never changed) as one."""
    versions = sum(version or 0 for version, _ in markers)
    times = [changed_at for _, changed_at in markers if changed_at is not None]
    return versions, max(times, default=None)


class _Looks:
    """What each booking row looks like in this feed; rows that read alike (most occurrences of
    a series) share one computed look. Also each row's SEQUENCE and DTSTAMP with the renames of
    what the feed shows of it (:meth:`stamp`)."""

    def __init__(self, feed: Feed, rows, room_ids=(), organization_ids=()) -> None:
        """``rows`` are the bookings to look at; ``room_ids`` and ``organization_ids`` name more
        rooms and organisations whose labels :meth:`group_stamp` is asked about."""
        self.kind = feed.kind
        room_ids = {*room_ids, *(row.room_id for row in rows)}
        organization_ids = {*organization_ids, *(row.organization_id for row in rows)}
        self.locations: dict[int, str] = {}
        self.room_labels: dict[int, _Label] = {}
        if room_ids:
            room_label = aliased(FeedMarker)
            building_label = aliased(FeedMarker)
            query = (
                select(
                    Room.id,
                    Room.name,
                    Building.name,
                    Building.address,
                    room_label.version,
                    room_label.changed_at,
                    building_label.version,
                    building_label.changed_at,
                )
                .join(Building, Building.id == Room.building_id)
                .outerjoin(room_label, room_label.scope == literal(ROOM_LABEL) + cast(Room.id, String))
                .outerjoin(
                    building_label,
                    building_label.scope == literal(BUILDING_LABEL) + cast(Building.id, String),
                )
                .where(_among(Room.id, room_ids))
            )
            for room_id, room, building, address, *markers in db.session.execute(query):
                self.locations[room_id] = ", ".join(part for part in (room, building, address) if part)
                self.room_labels[room_id] = _labels(markers[0:2], markers[2:4])
        self.organizations = {}
        self.organization_labels: dict[int, _Label] = {}
        if organization_ids:
            name_label = aliased(FeedMarker)
            contact_label = aliased(FeedMarker)
            shown_label = literal(ORGANIZATION_LABEL) + cast(Organization.id, String)
            shown_contact = literal(ORGANIZATION_CONTACT) + cast(Organization.id, String)
            query = (
                select(
                    Organization.id,
                    Organization.name,
                    Organization.contact_name,
                    Organization.email,
                    Organization.phone,
                    name_label.version,
                    name_label.changed_at,
                    contact_label.version,
                    contact_label.changed_at,
                )
                .outerjoin(name_label, name_label.scope == shown_label)
                .outerjoin(contact_label, contact_label.scope == shown_contact)
                .where(_among(Organization.id, organization_ids))
            )
            for row in db.session.execute(query):
                self.organizations[row.id] = row
                # What the events of this kind of feed show of the organisation (see _look).
                shown = {"organization": (), "janitor": (row[5:7], row[7:9])}.get(self.kind, (row[5:7],))
                self.organization_labels[row.id] = _labels(*shown)
        self.cache: dict[tuple, Look] = {}
        self.by_booking: dict[int, Look] = {}

    def stamp(self, row) -> tuple[int, datetime]:
        """The row's SEQUENCE and DTSTAMP in this feed: its own, raised by the renames of the
        room, building and organisation labels the feed shows of it."""
        return self.group_stamp(row.room_id, row.organization_id, row.sequence, 1, row.updated_at)

    def group_stamp(
        self, room_id: int, organization_id: int, sequences: int, count: int, updated_at: datetime
    ) -> tuple[int, datetime]:
        """The sum of :meth:`stamp`'s SEQUENCEs and the latest of its DTSTAMPs over ``count``
        bookings of one room and organisation, whose own sequences sum to ``sequences`` and whose
        latest change is ``updated_at``."""
        room_versions, room_changed = self.room_labels.get(room_id, _NO_LABEL)
        organization_versions, organization_changed = self.organization_labels.get(organization_id, _NO_LABEL)
        changed = updated_at
        for moment in (room_changed, organization_changed):
            if moment is not None and moment > changed:
                changed = moment
        return sequences + count * (room_versions + organization_versions), changed

    def __call__(self, row) -> Look:
        look = self.by_booking.get(row.id)
        if look is None:
            look = self.by_booking[row.id] = self._compute(row)
        return look

    def _compute(self, row) -> Look:
        key = (
            row.room_id,
            row.organization_id,
            row.status,
            row.title,
            row.public_title,
            row.attendees,
            row.own_supervisor,
            row.notes,
        )
        look = self.cache.get(key)
        if look is None:
            look = self.cache[key] = _look(
                self.kind, row, self.locations[row.room_id], self.organizations[row.organization_id]
            )
        return look


def _look(kind: str, row, location: str, organization) -> Look:
    if kind in ("room", "building"):
        if row.public_title:
            return row.title, f"Arrangør: {organization.name}", location, "CONFIRMED"
        return organization.name, None, location, "CONFIRMED"
    lines = []
    if kind == "janitor":
        summary = f"{organization.name}: {row.title}"
        lines += [f"Organisasjon: {organization.name}", f"Kontaktperson: {organization.contact_name}"]
        lines += [f"Telefon: {organization.phone}"] if organization.phone else []
        lines += [f"E-post: {organization.email}"] if organization.email else []
    elif row.status == "pending":
        summary = f"Forespørsel: {row.title}"
        lines.append("Venter på godkjenning.")
    else:
        summary = row.title
    lines.append(f"Deltakere: {row.attendees}")
    if row.own_supervisor:
        lines.append("Tilsyn: foreningen har egen tilsynsvakt.")
    if row.notes:
        lines.append(f"Merknader: {row.notes}")
    status = "TENTATIVE" if row.status == "pending" else "CONFIRMED"
    return summary, "\n".join(lines), location, status


def _event(
    row,
    uid: str,
    looks: _Looks,
    *,
    of_series: tuple[int, datetime] | None = None,
    recurrence_id: datetime | None = None,
) -> FeedEvent:
    """A row as an event: a single booking with its own stamp, or a series' occurrence
    (``recurrence_id``) with the series' SEQUENCE and DTSTAMP (``of_series``)."""
    summary, description, location, status = looks(row)
    sequence, last_modified = looks.stamp(row) if of_series is None else of_series
    return FeedEvent(
        uid=uid,
        start=row.start,
        end=row.end,
        summary=summary,
        description=description,
        location=location,
        status=status,
        sequence=sequence,
        last_modified=last_modified,
        recurrence_id=recurrence_id,
    )


@lru_cache(maxsize=4096)
def rule_instances(rrule: str, start: datetime, end: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """The instances ``(start, end)`` in UTC of a stored rule, as the booking service expands it.
    A pure function of its arguments (a series' rule never changes), so it is memoised."""
    return tuple((s.astimezone(UTC), e.astimezone(UTC)) for s, e in recurrence.expand(rrule, start, end))


def _instances(series_row, occurrences) -> dict[datetime, datetime]:
    """The rule's instances, start -> end. Should a stored rule no longer expand (rules tightened
    since), the known instances stand in: the bookings' original starts and the skipped dates.

    Times from the database are aware UTC, so they compare and hash equal to these keys."""
    try:
        return dict(rule_instances(series_row.rrule, series_row.start, series_row.end))
    except (DomainError, ValueError):
        duration = series_row.end - series_row.start
        skipped = db.session.scalars(
            select(SkippedOccurrence.original_start).where(SkippedOccurrence.series_id == series_row.id)
        )
        starts = {series_row.start, *skipped, *(o.original_start for o in occurrences if o.original_start)}
        return {start.astimezone(UTC): (start + duration).astimezone(UTC) for start in starts}


def _series(
    series_row,
    occurrences: list,
    statuses,
    looks: _Looks,
    elsewhere: Collection[int] = (),
    window: Window | None = None,
    stamp: tuple[int, datetime] | None = None,
) -> tuple[FeedSeries | None, list[FeedEvent]]:
    """One series as a master with EXDATEs and overrides; occurrences that stand for no instance
    of the rule (which the service never makes) are returned as single events. Occurrences in
    ``elsewhere`` (by id: outside the feed's rooms) are not shown: their dates are EXDATEs.

    With a ``window`` the series is clipped to it (see :func:`_clip`): only the rule's instances
    from the first to the last one the window shows are written, and only the occurrences
    (overrides, single events) that overlap the window or stand for such an instance. Without
    one (the calendars mailed with notifications) it is written whole. ``stamp`` is the series'
    SEQUENCE and DTSTAMP when ``occurrences`` are not all of them (a window's feed reads only
    what it writes); without it they are computed from ``occurrences``."""
    instances = _instances(series_row, occurrences)
    visible = [o for o in occurrences if o.status in statuses and o.id not in elsewhere]
    strays = [
        _event(o, booking_uid(o.id), looks)
        for o in visible
        if o.original_start not in instances and (window is None or _overlaps(o.start, o.end, window))
    ]
    members = sorted(
        (o for o in visible if o.original_start in instances), key=lambda o: (o.original_start, o.id)
    )
    first, rrule = series_row.start, series_row.rrule
    if window is not None and members:
        first, last, rrule = _clip(series_row, instances, members, window)
        if first is None:
            return None, strays
        members = [o for o in members if first <= o.original_start <= last]
        instances = {start: end for start, end in instances.items() if first <= start <= last}
    if not members:
        return None, strays
    moved = {o.id for o in members if o.start != o.original_start or o.end != instances[o.original_start]}
    master_look = _most_common(
        [looks(o) for o in members if o.id not in moved] or [looks(o) for o in members]
    )
    if stamp is None:
        stamps = [looks.stamp(o) for o in occurrences]
        stamp = (
            series_row.sequence + sum(own for own, _ in stamps),
            max([series_row.updated_at, *(changed for _, changed in stamps)]),
        )
    sequence, last_modified = stamp
    uid = series_uid(series_row.id)
    overrides = tuple(
        _event(o, uid, looks, of_series=(sequence, last_modified), recurrence_id=o.original_start)
        for o in members
        if o.id in moved
        or looks(o) != master_look
        # on a clock-change night readers expand the rule differently: say when it is
        or not reads_alike(series_row.start, series_row.end, o.original_start)
    )
    shown = {o.original_start for o in members}
    summary, description, location, status = master_look
    item = FeedSeries(
        uid=uid,
        start=first,
        end=instances[first],
        rrule=rrule,
        summary=summary,
        description=description,
        location=location,
        status=status,
        sequence=sequence,
        last_modified=last_modified,
        exdates=tuple(sorted(start for start in instances if start not in shown)),
        overrides=overrides,
    )
    return item, strays


def _overlaps(start: datetime, end: datetime, window: Window) -> bool:
    return start < window.end and end > window.start


def _clip(series_row, instances: dict[datetime, datetime], members: list, window: Window):
    """The part of a series a feed with ``window`` writes: ``(first, last, rrule)``, the first
    and last instance (by rule start) written and the rule that gives exactly those.

    The written instances run from the first to the last instance of a visible occurrence that
    overlaps the window (at its own time: a moved one counts where it is now). A reader thus
    sees every occurrence in the window, each at its time; outside the window it sees at most
    the series' occurrences between those two instances (a moved one at its new time), never
    one that is not there, and nothing of the series before or after them.

    The first instance becomes the master's DTSTART, so it must be one every reader expands
    alike (``reads_alike``): on a clock-change night the range starts at an earlier instance.
    The rule ends with ``UNTIL`` at the last second of the last instance's day in Oslo, which no
    reader can take for another instance, as the service's rules give at most one a day. A series
    written whole keeps its stored rule, and so does one whose rule no longer parses."""
    starts = sorted(instances)
    window_start, window_end = window.start, window.end
    inside = [o.original_start for o in members if o.start < window_end and o.end > window_start]
    if not inside:
        return None, None, series_row.rrule
    first, last = _written_range(series_row, starts, inside)
    if first == starts[0] and last == starts[-1]:
        return first, last, series_row.rrule
    try:
        rule = recurrence.parse_rrule(series_row.rrule)
    except DomainError:
        return starts[0], starts[-1], series_row.rrule
    until = local_day_bounds(last.astimezone(OSLO).date())[1] - timedelta(seconds=1)
    return first, last, replace(rule, until=until.astimezone(UTC), count=None).to_rrule_string()


def _written_range(series_row, starts: list[datetime], inside: list[datetime]) -> tuple[datetime, datetime]:
    """The first and last instance a clipped series writes (see :func:`_clip`): from the first of
    the instances ``inside`` the window, moved back to one every reader expands alike, to the
    last; ``starts`` are all the rule's instances in order."""
    first_index = starts.index(min(inside))
    while first_index > 0 and not reads_alike(series_row.start, series_row.end, starts[first_index]):
        first_index -= 1
    return starts[first_index], max(inside)


def _most_common(looks: list[Look]) -> Look:
    """The look most occurrences share; on a tie, the earliest occurrence's."""
    counts = Counter(looks)
    first_seen = {look: i for i, look in reversed(list(enumerate(looks)))}
    return max(counts, key=lambda look: (counts[look], -first_seen[look]))
