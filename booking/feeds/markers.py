"""Feed change markers: a session hook that records which feeds a transaction changed.

A feed's ETag and Last-Modified come from its ``FeedMarker`` rows alone (``room:ID``,
``building:ID``, ``organization:ID``, and ``user:ID`` for a janitor's building assignments), so a
conditional GET is answered without loading a booking. The hook keeps the rows true:

* ``before_flush`` notes the feeds of every changed or deleted booking, series and skipped
  occurrence, of room and building renames (they are the LOCATION and the calendar name), of
  organisation changes (their name is the public SUMMARY, their contacts are in janitor feeds)
  and of janitor assignments; ``after_flush`` does the same for new rows, whose ids only exist
  then.
* ``before_commit`` of the outermost transaction turns the notes into scopes (a booking of a
  divisible room also shows in the feeds of the rooms it shares a unit with, and in its
  building's) and bumps each marker once: ``version + 1`` and ``changed_at`` = the time of the
  change (never before the previous one, should app servers' clocks differ). Bumping once, in
  sorted scope order, at the end of the transaction keeps row locks on PostgreSQL short and
  taken in one order. (``If-Modified-Since`` has whole seconds: the feed's Last-Modified is
  the whole second after its last change, see ``booking.feeds.service``, so a second change
  within the same second is never hidden; earlier versions pushed ``changed_at`` a second
  ahead per change instead, which left Last-Modified at "now" for minutes after a burst.)
* Label markers count the renames a feed's events show (SPEC §7.5): ``label:room:ID`` (name,
  building), ``label:building:ID`` (name, address), ``label:organization:ID`` (name) and
  ``contact:organization:ID`` (contact person, e-mail, phone; janitor feeds show them). Their
  ``version`` is the number of such changes and ``changed_at`` the last one's time: an event's
  SEQUENCE is its booking's sequence plus the label versions it shows, its DTSTAMP the latest of
  the booking's and those labels' change times, so a rename raises both for exactly the events
  it changes without writing a booking row. A booking moved to another room or organisation
  whose labels count fewer renames has its sequence raised by the difference (SEQUENCE never
  goes back), and a room moved to another building likewise has its label raised.
* Each new version of a feed's marker is logged (``FeedChange``) with the time span the
  transaction's changes reach: the earliest start and latest end of the single bookings it
  changed, before and after; none (any date) when it changed a series, a skipped occurrence, a
  room, building, organisation or assignment, or ran a bulk statement. A feed whose window no
  logged change since its last rendering reaches is served from that rendering
  (``booking.feeds.cache``). The log is written in the same transaction, under the marker's row
  lock, so a scope's log rows are exactly its versions.
* Writes that bypass the ORM session (raw SQL) do not move markers; bulk ``update()`` and
  ``delete()`` of bookings through the session are covered by ``do_orm_execute``.

Deleting a booking row of a series also advances its series' ``sequence`` by the deleted
booking's sequence and label versions + 1: a series' iCal SEQUENCE is the sum of its own and its
occurrences' (with their labels), and must not go backwards.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, bindparam, cast, event, func, literal, select, true, union
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from booking.models import (
    Booking,
    Building,
    FeedChange,
    FeedMarker,
    Organization,
    Room,
    Series,
    SkippedOccurrence,
    User,
)
from booking.models.room import room_units
from booking.models.types import UTCDateTime, utcnow

_PENDING = "booking.feed_marker_notes"
_ROOM_FIELDS = ("name", "building_id", "parts")
_BUILDING_FIELDS = ("name", "address")
_ORGANIZATION_FIELDS = ("name", "contact_name", "email", "phone")
_USER_FIELDS = ("buildings", "role", "active")
# What the events show of each (LOCATION, SUMMARY/DESCRIPTION): a change raises their SEQUENCE.
_ROOM_LABEL_FIELDS = ("name", "building_id")
_BUILDING_LABEL_FIELDS = ("name", "address")
_ORGANIZATION_LABEL_FIELDS = ("name",)
_ORGANIZATION_CONTACT_FIELDS = ("contact_name", "email", "phone")


def room_scope(room_id: int) -> str:
    return f"room:{room_id}"


def building_scope(building_id: int) -> str:
    return f"building:{building_id}"


def organization_scope(organization_id: int) -> str:
    return f"organization:{organization_id}"


def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


ROOM_LABEL = "label:room:"
BUILDING_LABEL = "label:building:"
ORGANIZATION_LABEL = "label:organization:"
ORGANIZATION_CONTACT = "contact:organization:"


def room_label_scope(room_id: int) -> str:
    return f"{ROOM_LABEL}{room_id}"


def building_label_scope(building_id: int) -> str:
    return f"{BUILDING_LABEL}{building_id}"


def organization_label_scope(organization_id: int) -> str:
    return f"{ORGANIZATION_LABEL}{organization_id}"


def organization_contact_scope(organization_id: int) -> str:
    return f"{ORGANIZATION_CONTACT}{organization_id}"


@dataclass
class _Notes:
    """What one transaction changed, resolved to marker scopes at commit."""

    rooms: set[int] = field(default_factory=set)  # bookings changed in these rooms
    buildings: set[int] = field(default_factory=set)
    organizations: set[int] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    renamed_rooms: set[int] = field(default_factory=set)  # LOCATION of their bookings changed
    renamed_buildings: set[int] = field(default_factory=set)
    changed_organizations: set[int] = field(default_factory=set)  # name or contacts changed
    labels: set[str] = field(default_factory=set)  # label scopes to count a rename in
    # The time span the changes may reach (``FeedChange``): the changed single bookings' earliest
    # start and latest end, before and after; ``anywhere`` once anything else changed.
    first_at: datetime | None = None
    last_at: datetime | None = None
    anywhere: bool = False

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def reach(self, obj) -> None:
        """Widen the span by a single booking's times, before and after the change; a booking of
        a series (whose every component a change reaches) or one whose times are not at hand
        (expired) reaches anywhere."""
        starts, ends = _values(obj, "start"), _values(obj, "end")
        if _values(obj, "series_id") or not starts or not ends:
            self.anywhere = True
            return
        self.first_at = min(starts) if self.first_at is None else min(self.first_at, *starts)
        self.last_at = max(ends) if self.last_at is None else max(self.last_at, *ends)

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """What ``bump`` records: the span, or None for anywhere."""
        if self.anywhere or self.first_at is None:
            return None
        return self.first_at, self.last_at


def install(session_target) -> None:
    """Listen on ``session_target`` (a Session class, sessionmaker or scoped_session); idempotent."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("do_orm_execute", _bulk_statement),
        ("before_commit", _before_commit),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)


def _notes(session: Session) -> _Notes:
    return session.info.setdefault(_PENDING, _Notes())


def _values(obj, key: str) -> set:
    """The attribute's current and previous values (a row can move to another room)."""
    history = attributes.get_history(obj, key)
    return {
        v for part in (history.added, history.unchanged, history.deleted) for v in part or () if v is not None
    }


def _changed(obj, keys: tuple[str, ...]) -> bool:
    return any(attributes.get_history(obj, key).has_changes() for key in keys)


def _note_booking_like(notes: _Notes, obj) -> None:
    notes.rooms |= _values(obj, "room_id")
    notes.organizations |= _values(obj, "organization_id")


def _note(session: Session, notes: _Notes, obj, *, is_new: bool) -> None:
    if isinstance(obj, Booking | Series):
        if is_new or session.is_modified(obj, include_collections=False) or obj in session.deleted:
            _note_booking_like(notes, obj)
            if isinstance(obj, Booking):
                notes.reach(obj)
            else:
                notes.anywhere = True
    elif isinstance(obj, SkippedOccurrence):
        series = obj.series if obj.series is not None else session.get(Series, obj.series_id)
        if series is not None:
            _note_booking_like(notes, series)
            notes.anywhere = True
    # Below, anything noted (a new, deleted or renamed room, building or organisation; a janitor's
    # assignments) may change any date of a feed.
    elif isinstance(obj, Room):
        if is_new or obj in session.deleted:
            notes.rooms.add(obj.id)
            notes.buildings |= _values(obj, "building_id")
            notes.anywhere = True
        elif _changed(obj, _ROOM_FIELDS):
            notes.renamed_rooms.add(obj.id)
            notes.buildings |= _values(obj, "building_id")
            # Parts added or removed: their feeds gain or lose this room's bookings (the rooms
            # sharing a unit are found at commit, when a removed part shares none any more).
            notes.rooms |= {part.id for part in _values(obj, "parts")}
            notes.anywhere = True
            if _changed(obj, _ROOM_LABEL_FIELDS):
                notes.labels.add(room_label_scope(obj.id))
    elif isinstance(obj, Building):
        if is_new or obj in session.deleted:
            notes.buildings.add(obj.id)
            notes.anywhere = True
        elif _changed(obj, _BUILDING_FIELDS):
            notes.renamed_buildings.add(obj.id)
            notes.labels.add(building_label_scope(obj.id))
            notes.anywhere = True
    elif isinstance(obj, Organization):
        if is_new or obj in session.deleted:
            notes.organizations.add(obj.id)
            notes.anywhere = True
        elif _changed(obj, _ORGANIZATION_FIELDS):
            notes.changed_organizations.add(obj.id)
            notes.anywhere = True
            if _changed(obj, _ORGANIZATION_LABEL_FIELDS):
                notes.labels.add(organization_label_scope(obj.id))
            if _changed(obj, _ORGANIZATION_CONTACT_FIELDS):
                notes.labels.add(organization_contact_scope(obj.id))
    elif isinstance(obj, User):
        if (is_new and obj.role == "janitor") or obj in session.deleted or _changed(obj, _USER_FIELDS):
            notes.users.add(obj.id)
            notes.anywhere = True


def _before_flush(session: Session, flush_context, instances) -> None:
    notes = _notes(session)
    stamp = utcnow()
    for obj in session.deleted:
        _note(session, notes, obj, is_new=False)
        if isinstance(obj, Booking) and obj.series_id is not None:
            series = session.get(Series, obj.series_id)
            if series is not None and series not in session.deleted:
                labels = label_versions(session, [obj.room_id], [obj.organization_id])
                series.sequence += obj.sequence + labels.most(obj.room_id, obj.organization_id) + 1
                series.updated_at = stamp
    for obj in session.dirty:
        _note(session, notes, obj, is_new=False)
        if isinstance(obj, Booking) and _changed(obj, ("room_id", "organization_id")):
            _keep_sequence_rising(session, obj)
        elif isinstance(obj, Room) and _changed(obj, ("building_id",)):
            _keep_room_label_rising(session, obj)


@dataclass
class LabelVersions:
    """The rename counts (label marker versions) of some rooms (their own plus their building's)
    and organisations (name; contacts), 0 where no marker exists."""

    rooms: dict[int, int]
    names: dict[int, int]
    contacts: dict[int, int]

    def most(self, room_id: int, organization_id: int) -> int:
        """The label versions of the feed kind that shows the most labels (janitor feeds)."""
        return (
            self.rooms.get(room_id, 0)
            + self.names.get(organization_id, 0)
            + self.contacts.get(organization_id, 0)
        )


def label_versions(session: Session, room_ids, organization_ids) -> LabelVersions:
    """Two small queries: the label markers of the rooms (and their buildings) and organisations."""
    rooms: dict[int, int] = {}
    room_ids = sorted({r for r in room_ids if r is not None})
    if room_ids:
        room_label = FeedMarker.__table__.alias("room_label")
        building_label = FeedMarker.__table__.alias("building_label")
        query = (
            select(Room.id, room_label.c.version, building_label.c.version)
            .outerjoin(room_label, room_label.c.scope == literal(ROOM_LABEL) + cast(Room.id, String))
            .outerjoin(
                building_label,
                building_label.c.scope == literal(BUILDING_LABEL) + cast(Room.building_id, String),
            )
            .where(Room.id.in_(room_ids))
        )
        rooms = {room_id: (own or 0) + (building or 0) for room_id, own, building in session.execute(query)}
    names: dict[int, int] = {}
    contacts: dict[int, int] = {}
    organization_ids = sorted({o for o in organization_ids if o is not None})
    if organization_ids:
        scopes = {organization_label_scope(o): (names, o) for o in organization_ids}
        scopes |= {organization_contact_scope(o): (contacts, o) for o in organization_ids}
        query = select(FeedMarker.scope, FeedMarker.version).where(FeedMarker.scope.in_(sorted(scopes)))
        for scope, version in session.execute(query):
            counts, organization_id = scopes[scope]
            counts[organization_id] = version
    return LabelVersions(rooms, names, contacts)


def _keep_sequence_rising(session: Session, booking: Booking) -> None:
    """A booking moved to another room or organisation: its SEQUENCE in every kind of feed (its
    sequence plus the label versions that feed shows) must not fall, so its sequence takes up
    whatever labels the new place counts fewer of than the old one."""
    old_room, new_room = _before_and_after(session, booking, Booking.room_id)
    old_organization, new_organization = _before_and_after(session, booking, Booking.organization_id)
    labels = label_versions(session, [old_room, new_room], [old_organization, new_organization])
    room = labels.rooms.get(new_room, 0) - labels.rooms.get(old_room, 0)
    name = labels.names.get(new_organization, 0) - labels.names.get(old_organization, 0)
    contact = labels.contacts.get(new_organization, 0) - labels.contacts.get(old_organization, 0)
    # The kinds show room+building (organisation feeds), + the name (public), + contacts (janitor).
    booking.sequence += max(0, -room, -(room + name), -(room + name + contact))


def _keep_room_label_rising(session: Session, room: Room) -> None:
    """A room moved to another building: the room's label counts the move (its commit adds 1)
    and, in advance, the old building's renames, so room + building labels never fall."""
    old_building, _ = _before_and_after(session, room, Room.building_id)
    if old_building is None:
        return
    _notes(session).buildings.add(old_building)  # its feed loses the room's bookings
    previous = session.scalar(
        select(FeedMarker.version).where(FeedMarker.scope == building_label_scope(old_building))
    )
    if previous:
        _add_to_marker(session, room_label_scope(room.id), previous)


def _before_and_after(session: Session, obj, column):
    """A changed column's stored and new value. An attribute set while expired (after a
    commit) has no old value in its history: the row, not yet flushed, still holds it."""
    history = attributes.get_history(obj, column.key)
    new = (history.added or history.unchanged or [None])[0]
    if history.deleted:
        return history.deleted[0], new
    if not history.added:
        return new, new
    table = column.class_
    return session.scalar(select(column).where(table.id == obj.id)), new


def _add_to_marker(session: Session, scope: str, amount: int) -> None:
    marker = session.get(FeedMarker, scope)
    if marker is None:
        session.add(FeedMarker(scope=scope, version=amount, changed_at=utcnow()))
    else:
        marker.version += amount


def _after_flush(session: Session, flush_context) -> None:
    notes = _notes(session)
    for obj in session.new:
        _note(session, notes, obj, is_new=True)


def _bulk_statement(state) -> None:
    """ORM bulk UPDATE/DELETE of bookings or series: note the rows they are about to touch."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    entity = state.bind_mapper.class_
    if entity not in (Booking, Series):
        return
    where = state.statement.whereclause
    query = select(entity.room_id, entity.organization_id)
    if where is not None:
        query = query.where(where)
    notes = _notes(state.session)
    notes.anywhere = True
    for room_id, organization_id in state.session.execute(query):
        notes.rooms.add(room_id)
        notes.organizations.add(organization_id)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: bump once, when the whole transaction commits
    session.flush()  # notes changes not flushed yet
    notes = session.info.pop(_PENDING, None)
    if notes:
        scopes, rooms = scopes_for(session, notes)
        bump(session, scopes, rooms=rooms, span=notes.span)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def scopes_for(session: Session, notes: _Notes) -> tuple[set[str], set[int]]:
    """Resolve a transaction's notes to marker scopes, and the rooms whose feeds changed: their
    scopes, and those of the rooms sharing a unit with them, are added by ``bump`` in SQL.
    A booking change needs no query here; renames and organisation changes need one or two."""
    relocated = set(notes.renamed_rooms)  # rooms whose LOCATION text changed
    if notes.renamed_buildings:
        relocated |= set(
            session.scalars(select(Room.id).where(Room.building_id.in_(notes.renamed_buildings)))
        )
    rooms = notes.rooms | relocated
    organizations = notes.organizations | notes.changed_organizations
    if notes.changed_organizations:
        rooms |= set(
            session.scalars(
                select(Booking.room_id)
                .where(Booking.organization_id.in_(notes.changed_organizations))
                .distinct()
            )
        )
    if relocated:
        organizations |= set(
            session.scalars(select(Booking.organization_id).where(Booking.room_id.in_(relocated)).distinct())
        )
    scopes = (
        {building_scope(b) for b in notes.buildings | notes.renamed_buildings}
        | {organization_scope(o) for o in organizations}
        | {user_scope(u) for u in notes.users}
        | notes.labels
    )
    return scopes, rooms


def _related_rooms(room_ids):
    """Every room sharing an atomic unit with one of ``room_ids`` (itself included): a booking
    of a divisible gym shows in the feeds of its halves and vice versa. A condition to embed."""
    units = select(room_units.c.unit_id).where(room_units.c.room_id.in_(room_ids))
    sharing = select(room_units.c.room_id).where(room_units.c.unit_id.in_(units))
    return Room.id.in_(room_ids) | Room.id.in_(sharing)


def bump(
    session: Session,
    scopes: set[str],
    now: datetime | None = None,
    rooms: set[int] = frozenset(),
    span: tuple[datetime, datetime] | None = None,
) -> None:
    """Advance the markers of ``scopes``, and of ``rooms`` with the rooms sharing a unit and
    their buildings, in one statement: an upsert of the sorted, distinct scopes (row locks are
    taken in that order in every transaction, so two never deadlock). An existing marker gets
    ``version + 1`` and ``changed_at`` = ``now``, or its previous one if that is later.

    Each feed scope's new version is logged with ``span``, the time span the change reaches
    (``FeedChange``; None: any date), under the same row locks: on PostgreSQL in the same
    statement (``_bump_and_log_statement``), elsewhere in a second one."""
    if not scopes and not rooms:
        return
    now = now or utcnow()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(_bump_and_log_statement(bool(rooms)), bump_parameters(scopes, rooms, span, now))
        return
    if len(scopes) <= _CHUNK:
        statement = _bump_statement(dialect, len(scopes), bool(rooms))
        parameters = {f"scope_{i}": scope for i, scope in enumerate(sorted(scopes))}
        bumped = session.execute(statement, dict(parameters, now=now, rooms=sorted(rooms))).all()
        _log(session, dialect, bumped, span, now)
        return
    # Many scopes (a rename touching many organisations): resolve the rooms first, then bump in
    # chunks of the one sorted list, so the locks are still taken in ascending order.
    if rooms:
        related = session.execute(select(Room.id, Room.building_id).where(_related_rooms(sorted(rooms))))
        scopes = set(scopes) | {s for r, b in related for s in (room_scope(r), building_scope(b))}
    ordered = sorted(scopes)
    bumped = []
    for first in range(0, len(ordered), _CHUNK):
        chunk = ordered[first : first + _CHUNK]
        parameters = {f"scope_{i}": scope for i, scope in enumerate(chunk)}
        statement = _bump_statement(dialect, len(chunk), False)
        bumped += session.execute(statement, dict(parameters, now=now, rooms=[])).all()
    _log(session, dialect, bumped, span, now)


_NOT_FEEDS = (ROOM_LABEL, BUILDING_LABEL, ORGANIZATION_LABEL, ORGANIZATION_CONTACT)


def _log(session: Session, dialect: str, bumped, span, now: datetime) -> None:
    """The ``FeedChange`` rows of the feed scopes just bumped (``(scope, version)`` pairs). A
    row left from a marker that was deleted and made anew is replaced: the marker's row lock,
    held by this transaction, makes this one the truth for its version."""
    first_at, last_at = span or (None, None)
    rows = [
        {"scope": scope, "version": version, "first_at": first_at, "last_at": last_at, "changed_at": now}
        for scope, version in bumped
        if not scope.startswith(_NOT_FEEDS)
    ]
    if rows:
        session.execute(_log_statement(dialect), rows)


@functools.lru_cache(maxsize=2)
def _log_statement(dialect: str):
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return _replacing(insert(FeedChange.__table__))


def _replacing(statement):
    table = FeedChange.__table__
    return statement.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.version],
        set_={key: statement.excluded[key] for key in ("first_at", "last_at", "changed_at")},
    )


@functools.lru_cache(maxsize=64)
def _bump_and_log_statement(with_rooms: bool):
    """PostgreSQL: ``_bump_statement`` (with the scopes as one array parameter) as a
    data-modifying CTE whose new versions of feed scopes are inserted into the log by the same
    statement: one round trip per change, as before the log (6.1 -> 5.4 statements per create in
    ``bench peer``). Its parameters: ``bump_parameters``."""
    return _log_from(_bump_statement("postgresql", None, with_rooms).cte("bumped"))


def bump_ctes(with_rooms: bool) -> tuple:
    """PostgreSQL: ``_bump_and_log_statement`` as two data-modifying CTEs (the bump, then its
    log), for a statement that makes the change itself too (``bump_parameters``)."""
    bumped = _bump_statement("postgresql", None, with_rooms).cte("bumped")
    return bumped, _log_from(bumped).cte("logged")


def bump_parameters(scopes, rooms, span, now: datetime) -> dict:
    """The parameters of ``_bump_and_log_statement`` and ``bump_ctes`` (see ``bump``)."""
    first_at, last_at = span or (None, None)
    return {
        "scopes": sorted(scopes),
        "rooms": sorted(rooms),
        "first_at": first_at,
        "last_at": last_at,
        "now": now,
    }


def new_booking_change(session: Session, room_id: int, organization_id: int, start, end) -> tuple:
    """What the hooks would note and ``bump`` for one new single booking, for a statement that
    inserts it and bumps in one (``bump_ctes``): its scopes, its rooms and its span."""
    notes = _Notes(rooms={room_id}, organizations={organization_id}, first_at=start, last_at=end)
    scopes, rooms = scopes_for(session, notes)
    return scopes, rooms, notes.span


def _log_from(bumped):
    """The log insert of the feed scopes among the ``bumped`` CTE's rows (``FeedChange``)."""
    stamp = UTCDateTime()
    rows = select(
        bumped.c.scope,
        bumped.c.version,
        bindparam("first_at", type_=stamp),
        bindparam("last_at", type_=stamp),
        bindparam("now", type_=stamp),
    ).where(*(~bumped.c.scope.startswith(prefix) for prefix in _NOT_FEEDS))
    columns = ["scope", "version", "first_at", "last_at", "changed_at"]
    return _replacing(postgresql_insert(FeedChange.__table__).from_select(columns, rows))


_CHUNK = 16  # scopes per statement: bounds the statement shapes kept and the planning work


@functools.lru_cache(maxsize=64)
def _bump_statement(dialect: str, scope_count: int | None, with_rooms: bool):
    """The upsert for a shape of change (built once: it runs at the end of every booking
    change); the scopes (``scope_0``.. or, with no ``scope_count``, the PostgreSQL array
    ``scopes``), the rooms and the time are bound parameters."""
    table = FeedMarker.__table__
    if scope_count is None:
        parts = [select(func.unnest(bindparam("scopes", type_=postgresql.ARRAY(String))).label("scope"))]
    else:
        parts = [select(bindparam(f"scope_{i}", type_=String).label("scope")) for i in range(scope_count)]
    if with_rooms:
        related = _related_rooms(bindparam("rooms", expanding=True))
        parts.append(select((literal("room:") + cast(Room.id, String)).label("scope")).where(related))
        parts.append(
            select((literal("building:") + cast(Room.building_id, String)).label("scope")).where(related)
        )
    source = union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    now = bindparam("now", type_=UTCDateTime())
    rows = select(source.c.scope, literal(1), now).where(true()).order_by(source.c.scope)
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).from_select(["scope", "version", "changed_at"], rows)
    return statement.on_conflict_do_update(
        index_elements=[table.c.scope],
        set_={
            "version": table.c.version + 1,
            "changed_at": _next_change(dialect, table.c.changed_at, statement.excluded.changed_at),
        },
    ).returning(table.c.scope, table.c.version)


def _next_change(dialect: str, previous, now):
    """SQL: ``now``, or ``previous`` should another app server's clock have run ahead."""
    if dialect == "postgresql":
        return func.greatest(now, previous)
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which orders like the time it names.
    return func.max(now, previous)
