"""Booking use cases: create (single or series), change, cancel, approve, reject (SPEC §4, §11).

Every verb takes a typed request and the acting user, checks, then writes; it flushes and raises,
and the unit of work that called it ends the transaction (``booking.extensions``).

How the promise "no two confirmed bookings ever share a unit at the same time" is kept for the
whole life of a booking:

- The database derives the occupancy rows from the booking row (migration 0004) and refuses an
  overlap of active rows (exclusion constraint on PostgreSQL, triggers on SQLite). Python never
  writes occupancy; it writes the booking's status, room, start and ``occupied_until``.
- A change that makes units busy (create, approve, move, force) first takes the units' locks
  (``lock_units``: advisory locks on PostgreSQL; SQLite serializes write transactions), so the
  conflict check that follows reads everything committed before and its friendly 409 is exact.
- A change of an existing booking then locks the booking row (``SELECT ... FOR UPDATE``, read
  afresh), checks ``If-Match`` against that fresh row (412) and asks the transition table of
  ``booking.domain.lifecycle`` whether the action still applies (409). Two requests on one
  booking therefore take effect one after the other, each against the state the other left.
- Locks are always taken in one order (units ascending, then booking rows ascending), so two
  transitions never deadlock. A create also holds its organisation's row (FOR SHARE) from the
  statement that takes the units' locks, and, for an organisation not verified yet, the
  organisation's request lock (``ORGANIZATION_REQUEST_LOCKS``) after that, before any booking row.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import (
    Integer,
    bindparam,
    case,
    distinct,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import array as sql_array
from sqlalchemy.orm import joinedload, make_transient_to_detached, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from booking.domain import recurrence
from booking.domain.conflicts import Occupancy as Hold
from booking.domain.conflicts import find_conflicts
from booking.domain.errors import (
    BookingConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RuleViolation,
    StateConflict,
)
from booking.domain.holidays import holiday_dates
from booking.domain.lifecycle import (
    OPEN_STATUSES,
    Action,
    Status,
    is_shortening,
    next_status,
    supervision_fixed,
)
from booking.domain.rules import BuildingRules, RoomRules, find_violations, local_dates
from booking.domain.timeslots import local_day_bounds, occupied_until
from booking.extensions import UNIT_LOCKS, db, lock_units, note_written
from booking.feeds import markers
from booking.models import (
    Booking,
    Building,
    Closure,
    Occupancy,
    Organization,
    Room,
    Series,
    SkippedOccurrence,
    room_units,
)
from booking.models.rounds import Round, round_rooms
from booking.models.types import utcnow
from booking.services import audit, suggestions
from booking.services.access import (
    Actor,
    can_act_for_organization,
    require_admin,
    require_organization,
    require_user,
)
from booking.services.notifications import booking_event, new_booking_event, new_booking_event_parameters
from booking.services.pricing import PRICE_LISTS_KEY, combined_quote, price_lists, quote_occurrences
from pricing import OSLO, CancellationFee, Quote, QuoteLine
from pricing.cancellation import booking_cancellation_fee, move_fee, owed_moves, with_moves
from pricing.quotes import merge_lines

# --- typed requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRequest:
    """A request to book ``room_id`` for ``organization_id``, once or by ``rrule`` (SPEC §4)."""

    room_id: int
    organization_id: int
    title: str
    start: datetime
    end: datetime
    attendees: int = 1
    notes: str = ""
    public_title: bool = False
    own_supervisor: bool = False
    rrule: str | None = None
    on_conflict: str = "reject"  # or "skip": book the free occurrences of a series
    skip_holidays: bool = False
    force: bool = False  # admin: displace what is in the way

    @classmethod
    def from_input(cls, data: dict) -> BookingRequest:
        """From the validated input of an edge (the API's schema, the page's form): the same
        field names, with the rule under ``recurrence.rrule``; ``dry_run`` is the edge's own."""
        fields = {k: v for k, v in data.items() if k not in ("recurrence", "dry_run")}
        return cls(**fields, rrule=(data.get("recurrence") or {}).get("rrule"))


@dataclass(frozen=True)
class ChangeRequest:
    """A change of a booking (PATCH): ``None`` leaves a field as it is."""

    title: str | None = None
    attendees: int | None = None
    notes: str | None = None
    public_title: bool | None = None
    own_supervisor: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    room_id: int | None = None


EDITABLE = ("title", "attendees", "notes", "public_title", "own_supervisor")


@dataclass
class Skipped:
    start: datetime
    end: datetime
    reason: str  # conflict | holiday | closed
    conflicts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "reason": self.reason, "conflicts": self.conflicts}


@dataclass
class Plan:
    """What a create request would do; ``dry_run`` answers it, ``commit_plan`` writes it."""

    request: BookingRequest
    room: Room
    organization: Organization
    status: Status
    occurrences: list[tuple[datetime, datetime]]
    skipped: list[Skipped]
    quotes: list[Quote]
    displaced: list[Booking] = field(default_factory=list)
    rrule: str | None = None
    pending: list[Hold] = field(default_factory=list)  # requests a confirmed booking overrules

    @property
    def quote(self) -> dict:
        return combined_quote(self.quotes)


# --- reading -------------------------------------------------------------------------------


def get_booking(actor: Actor, booking_id: int) -> Booking:
    """The booking, for its own organisation's members and admins."""
    require_user(actor)
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound(f"There is no booking {booking_id}.")
    require_organization(actor, booking.organization_id)
    return booking


def get_series(actor: Actor, series_id: int) -> Series:
    require_user(actor)
    series = db.session.get(Series, series_id)
    if series is None:
        raise NotFound(f"There is no series {series_id}.")
    require_organization(actor, series.organization_id)
    return series


def list_bookings(actor: Actor, filters: dict):
    """Bookings visible to the caller (admins: all; members: their organisations'), filtered."""
    require_user(actor)
    if actor.role not in ("admin", "member"):
        raise PermissionDenied("Bookings are listed for members and admins; janitors use the day schedule.")
    query = select(Booking)
    if not actor.is_admin:
        query = query.where(Booking.organization_id.in_(actor.organization_ids))
    for key, column in (
        ("room_id", Booking.room_id),
        ("organization_id", Booking.organization_id),
        ("series_id", Booking.series_id),
    ):
        if filters.get(key) is not None:
            query = query.where(column == filters[key])
    if filters.get("building_id") is not None:
        query = query.join(Room, Room.id == Booking.room_id).where(Room.building_id == filters["building_id"])
    if filters.get("status"):
        query = query.where(Booking.status.in_(filters["status"]))
    if filters.get("from") is not None:
        query = query.where(Booking.end > filters["from"])
    if filters.get("to") is not None:
        query = query.where(Booking.start < filters["to"])
    return query.order_by(Booking.start, Booking.id)


# --- conflicts -----------------------------------------------------------------------------


def _holds(room: Room, occurrences, booking_id: int | None = None) -> list[Hold]:
    return [
        Hold.of_booking(
            booking_id=booking_id,
            unit_ids=room.unit_ids,
            start=s,
            end=e,
            buffer_minutes=room.buffer_minutes,
            room_id=room.id,
        )
        for s, e in occurrences
    ]


def _holds_statement(active_only: bool):
    query = (
        select(
            Occupancy.booking_id,
            Occupancy.unit_id,
            Occupancy.start,
            Occupancy.occupied_until,
            Occupancy.active,
            Booking.room_id,
            Organization.name,
        )
        .join(Booking, Booking.id == Occupancy.booking_id)
        .join(Organization, Organization.id == Booking.organization_id)
        .where(Occupancy.unit_id.in_(bindparam("units", expanding=True)), Occupancy.overlapping_parameters())
    )
    return query.where(Occupancy.active.is_(True)) if active_only else query


# The conflict check of every create and move: built once, only its parameters change.
_HOLDS = {active_only: _holds_statement(active_only) for active_only in (True, False)}


def existing_holds(
    unit_ids, start: datetime, until: datetime, *, pending: list[Hold] | None = None
) -> list[Hold]:
    """Active occupancies on ``unit_ids`` overlapping ``[start, until)``, one query, index-backed:
    the lower bound on ``start`` keeps the scan on (unit_id, start) narrow. With ``pending``,
    the same statement also reads the inactive ones (pending requests) into that list.
    Like the other Core statements every create runs (the write, a refusal's suggestions), it
    runs on the session's connection: the session's ORM execute adds about 0.06 ms per
    statement and nothing it needs (timed per statement over 300 of ``bench peer``'s attempts:
    a created booking 4.20 -> 4.14 ms, a refused one 3.82 -> 3.66 ms)."""
    rows = db.session.connection().execute(
        _HOLDS[pending is None], {"units": list(unit_ids), **Occupancy.overlap_parameters(start, until)}
    )
    merged: dict[tuple[int, bool], Hold] = {}
    for booking_id, unit_id, o_start, o_until, active, room_id, org_name in rows:
        hold = merged.get((booking_id, active))
        units = frozenset({unit_id}) | (hold.unit_ids if hold else frozenset())
        merged[booking_id, active] = Hold(booking_id, units, o_start, o_until, org_name, room_id)
    if pending is not None:
        pending.extend(hold for (_, active), hold in merged.items() if not active)
    return [hold for (_, active), hold in merged.items() if active]


def _blocker_dict(blocking: Hold) -> dict:
    return {
        "booking_id": blocking.booking_id,
        "room_id": blocking.room_id,
        "organization_name": blocking.organization_name,
        "start": blocking.start,
        "until": blocking.occupied_until,
    }


def find_blocking(
    room: Room, occurrences, exclude_booking_id: int | None = None, *, pending: list[Hold] | None = None
) -> dict[int, dict]:
    """For each blocked occurrence (by index), one conflict entry (SPEC §8): the requested
    ``start``/``end``, the first blocker's ``booking_id``, ``room_id`` and organisation, and every
    blocker in ``blocked_by``. Into ``pending``, the pending requests around the occurrences, read
    by the same statement."""
    if not occurrences:
        return {}
    wanted = _holds(room, occurrences, exclude_booking_id)
    existing = existing_holds(
        room.unit_ids, min(h.start for h in wanted), max(h.occupied_until for h in wanted), pending=pending
    )
    index = {id(h): i for i, h in enumerate(wanted)}
    blockers: dict[int, list[Hold]] = {}
    for hold, blocking in find_conflicts(wanted, existing):
        blockers.setdefault(index[id(hold)], []).append(blocking)
    blocked = {}
    for i, holds in blockers.items():
        first = holds[0]
        blocked[i] = {
            "start": occurrences[i][0],
            "end": occurrences[i][1],
            "booking_id": first.booking_id,
            "room_id": first.room_id,
            "organization_name": first.organization_name,
            "blocking_start": first.start,
            "blocking_until": first.occupied_until,
            "blocked_by": [_blocker_dict(h) for h in holds],
        }
    return blocked


def _conflict_error(room: Room, occurrences, blocked: dict[int, dict], attendees: int) -> BookingConflict:
    conflicts = [blocked[i] for i in sorted(blocked)]
    first = occurrences[min(blocked)]
    detail = (
        f"{room.name} is taken at the requested time."
        if len(occurrences) == 1
        else f"{len(blocked)} of {len(occurrences)} occurrences conflict with existing bookings; "
        "nothing was booked."
    )
    return BookingConflict(detail, conflicts, suggestions.suggest(room, first[0], first[1], attendees))


# --- rules ---------------------------------------------------------------------------------


def _rules(room: Room) -> tuple[RoomRules, BuildingRules]:
    return (
        RoomRules(
            capacity=room.capacity,
            min_duration_minutes=room.min_duration_minutes,
            max_duration_minutes=room.max_duration_minutes,
            min_notice_hours=room.min_notice_hours,
            max_advance_days=room.max_advance_days,
            is_active=room.active,
        ),
        BuildingRules(opening_hours=room.building.opening_windows, closures=room.building.closure_ranges),
    )


def _check_rules(room: Room, start: datetime, end: datetime, attendees: int, now: datetime) -> None:
    violations = find_violations(*_rules(room), start, end, attendees, now)
    if violations:
        raise violations[0]


def _split_by_rules(room, occurrences, attendees, now, *, skip_holidays: bool, skip_closed: bool):
    """Occurrences that may be booked, and those left out (holidays, closures). Any other rule
    broken by any occurrence is a 422 naming the date."""
    room_rules, building_rules = _rules(room)
    holidays = holiday_dates(
        occurrences[0][0].astimezone(OSLO).date(), occurrences[-1][1].astimezone(OSLO).date()
    )
    keep, skipped = [], []
    for start, end in occurrences:
        days = local_dates(start, end)
        if skip_holidays and any(day in holidays for day in days):
            skipped.append(Skipped(start, end, "holiday"))
            continue
        violations = find_violations(room_rules, building_rules, start, end, attendees, now)
        if violations and (skip_holidays or skip_closed) and all(v.rule == "closed" for v in violations):
            skipped.append(Skipped(start, end, "closed"))
            continue
        if violations:
            violation = violations[0]
            if len(occurrences) > 1:
                local = start.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
                raise RuleViolation(
                    violation.rule, f"Occurrence {local}: {violation.detail}", occurrence=start
                )
            raise violation
        keep.append((start, end))
    return keep, skipped


def _check_series_apart(room: Room, occurrences: list[tuple[datetime, datetime]]) -> None:
    """A series whose occurrences (with the room's buffer) overlap each other could never be
    held: a 422 naming the dates, for a dry run too."""
    pairs = recurrence.overlapping_occurrences(occurrences, room.buffer_minutes)
    if pairs:
        dates = [[a.astimezone(OSLO).date(), b.astimezone(OSLO).date()] for a, b in pairs]
        named = ", ".join(f"{a} and {b}" for a, b in dates[:5])
        raise RuleViolation(
            "series_overlaps_itself",
            f"Occurrences of the series overlap each other ({named}); make each end before the next starts.",
            dates=dates,
        )


# --- create --------------------------------------------------------------------------------


# Whether a round whose season has not ended by ``from_day`` covers a room sharing a unit with
# the room and still holds times (SPEC §14): unpublished, or published with offers open until a
# deadline after ``now``. A column of the targets' statement, so a create pays a statement for
# the precise check (``_check_no_round_holding``) only when there is such a round (create-cost:
# 9 -> 8 statements per create again).
_round_units, _own_units = room_units.alias("round_units"), room_units.alias("own_units")
_ROUND_PENDING = (
    select(Round.id)
    .join(round_rooms, round_rooms.c.round_id == Round.id)
    .join(_round_units, _round_units.c.room_id == round_rooms.c.room_id)
    .join(_own_units, _own_units.c.unit_id == _round_units.c.unit_id)
    .where(
        _own_units.c.room_id == Room.id,
        or_(Round.published_at.is_(None), Round.offer_deadline > bindparam("now")),
        Round.season_end >= bindparam("from_day"),
    )
    .exists()
    .label("round_pending")
)


# The room and the organisation of a create request, with all the rules, the conflict check and
# the quote read of them: the room's building, the building's closures and the room's atomic
# units (a few rows each), and the price lists' identities (``PRICE_LISTS_KEY``). One row per
# pair, none when either is missing. Built once per use.
def _targets_statement(for_writing: bool, postgresql: bool):
    pair = (Room.id == bindparam("room_id"), Organization.id == bindparam("organization_id"))
    extra = (_ROUND_PENDING, PRICE_LISTS_KEY.label("price_lists_key"))
    if postgresql:
        # One row: the building as a third entity (set as ``room.building`` by
        # ``_load_targets``), the closures and the unit ids as arrays beside it instead of joined rows of
        # their own to load (``Building.closure_ranges_read``, ``Room.unit_ids_read``): the ORM
        # loads the targets in about 0.4 ms less (on the benchmark data, an ORM read of the
        # room, organisation and building with its commit: 1.53 ms with the closures and units
        # as joined rows, 1.12 ms without; bench peer 2.00-2.06 -> 2.04-2.26x libres).
        query = (
            select(Room, Organization, Building, *extra)
            .select_from(Room)
            .join(Building, Building.id == Room.building_id)
            .join(Organization, true())
            .where(*pair)
            .options(
                with_expression(Room.unit_ids_read, _UNIT_IDS),
                with_expression(Building.closure_ranges_read, _CLOSURE_RANGES),
            )
        )
    else:
        query = (
            select(Room, Organization, *extra)
            .join(Organization, true())
            .where(*pair)
            .options(
                joinedload(Room.building).joinedload(Building.closures),
                joinedload(Room.units).load_only(Room.id),
            )
        )
    if not for_writing:
        return query
    # A verification or rejection of the organisation (which re-quotes or rejects its pending
    # requests) waits for this create, or this create waits for it and sees what it decided: the
    # row is read afresh, also over an organisation loaded earlier in the request (a page's).
    query = query.with_for_update(read=True, of=Organization).execution_options(populate_existing=True)
    if postgresql:
        # The units' locks (``lock_units``) taken by this same statement: one round trip less per
        # create (PostgreSQL, create-cost: 7 -> 6 statements for a refused create, as before the
        # locks; see BENCHMARKS.md). The conflict check is the next statement, so its snapshot
        # sees everything committed before the locks were granted. Ascending, as everywhere.
        query = query.add_columns(
            literal_column(
                f"(SELECT count(*) FROM (SELECT pg_advisory_xact_lock({UNIT_LOCKS}, unit) "
                "FROM unnest(ARRAY(SELECT unit_id FROM room_units WHERE room_units.room_id = rooms.id "
                "ORDER BY unit_id)) AS unit) AS locked)"
            ).label("units_locked")
        )
    return query


_UNIT_IDS = func.array(
    select(room_units.c.unit_id)
    .where(room_units.c.room_id == Room.id)
    .order_by(room_units.c.unit_id)
    .scalar_subquery(),
    type_=ARRAY(Integer),
)
_CLOSURE_RANGES = func.coalesce(
    select(
        func.array_agg(
            aggregate_order_by(sql_array([Closure.start_date, Closure.end_date]), Closure.start_date)
        )
    )
    .where(Closure.building_id == Building.id)
    .scalar_subquery(),
    literal_column("'{}'::date[]"),
)
_TARGETS = {(w, pg): _targets_statement(w, pg) for w in (False, True) for pg in (False, True)}


@dataclass(frozen=True)
class _Targets:
    room: Room
    organization: Organization
    round_pending: bool  # an unpublished round may cover the room on or after the start
    price_lists_key: str | None


def _load_targets(request: BookingRequest, *, for_writing: bool) -> _Targets:
    """The targets, whether an unpublished round may cover the room on or after the start, and
    the price lists' identities;
    ``for_writing`` also takes the organisation's share lock and, on PostgreSQL, the locks of the
    room's units."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    found = (
        db.session.execute(
            _TARGETS[for_writing, postgresql],
            {
                "room_id": request.room_id,
                "organization_id": request.organization_id,
                "from_day": request.start.astimezone(OSLO).date(),
                "now": utcnow(),
            },
        )
        .unique()
        .first()
    )
    if found is not None:
        if postgresql:  # the room's building, read beside it (the session holds it weakly)
            set_committed_value(found.Room, "building", found.Building)
        return _Targets(found.Room, found.Organization, bool(found.round_pending), found.price_lists_key)
    if db.session.get(Room, request.room_id) is None:
        raise InvalidInput({"room_id": [f"There is no room {request.room_id}."]})
    raise InvalidInput({"organization_id": [f"There is no organisation {request.organization_id}."]})


def _initial_status(actor: Actor, room: Room, organization: Organization) -> Status:
    """SPEC §11: a request (pending) in a room that requires approval, or for an organisation
    not verified yet; otherwise confirmed. An admin's booking is confirmed."""
    if actor.is_admin or (not room.requires_approval and organization.verified):
        return Status.CONFIRMED
    return Status.PENDING


# --- trust (SPEC §3, §11, §13) ----------------------------------------------------------------

# An organisation not verified yet may have at most this many open requests at a time. A request
# is what one create made: a single booking, or a series however many occurrences it has; it is
# open while one of its bookings is pending and has not ended (a request whose time has passed
# can no longer be withdrawn by the member, so it must not hold a place forever). Admins' bookings
# are confirmed, so they never count and are never limited.
MAX_OPEN_REQUESTS = 10

# Transaction-level advisory locks on PostgreSQL, one key per organisation, in this namespace
# (next to ``UNIT_LOCKS``): the creates of an unverified organisation count its open requests
# one after the other, so two members asking for the 10th and the 11th at once through two app
# servers cannot both pass. Not the organisation's row: every create holds that FOR SHARE from
# its first statement (``_targets_statement``), and two creates both raising their share lock to
# FOR NO KEY UPDATE would deadlock; nor FOR NO KEY UPDATE from the start, which would serialize
# the creates of verified organisations too. Order: units, organisation row, this lock, booking
# rows (a create of an unverified organisation locks none: its bookings are pending and overrule
# nothing). SQLite needs none: its write transactions are serialized already (BEGIN IMMEDIATE).
ORGANIZATION_REQUEST_LOCKS = 0x0B00D
_LOCK_REQUESTS = text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:organization AS integer))")

# One per request: a single booking by its id (negative, so it never equals a series id).
_REQUEST_KEY = case((Booking.series_id.is_(None), -Booking.id), else_=Booking.series_id)
_OPEN_REQUESTS = select(func.count(distinct(_REQUEST_KEY))).where(
    Booking.organization_id == bindparam("organization_id"),
    Booking.status == Status.PENDING,
    Booking.end > bindparam("now"),
)


def count_open_requests(organization_id: int, now: datetime | None = None) -> int:
    """How many open requests the organisation has (see ``MAX_OPEN_REQUESTS``)."""
    now = now or utcnow()
    return db.session.scalar(_OPEN_REQUESTS, {"organization_id": organization_id, "now": now}) or 0


def _check_trust(actor: Actor, organization: Organization, now: datetime, *, for_writing: bool) -> None:
    """A rejected organisation books nothing, also through an admin (verifying it lifts that);
    an unverified one only requests, at most ``MAX_OPEN_REQUESTS`` open at a time. A dry run
    answers the same, without the lock."""
    if organization.rejected_at is not None:
        raise RuleViolation(
            "organization_rejected",
            f"The municipality has rejected {organization.name}; it cannot book rooms. "
            "Contact the municipality if you think this is wrong.",
        )
    if actor.is_admin or organization.verified:
        return
    if for_writing and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            _LOCK_REQUESTS, {"space": ORGANIZATION_REQUEST_LOCKS, "organization": organization.id}
        )
    open_requests = count_open_requests(organization.id, now)
    if open_requests >= MAX_OPEN_REQUESTS:
        raise RuleViolation(
            "open_request_limit",
            f"{organization.name} is not verified yet and has {open_requests} open requests, the most "
            f"an unverified organisation may have at a time ({MAX_OPEN_REQUESTS}). Wait until the "
            "municipality has answered one, or withdraw one, then ask again.",
            limit=MAX_OPEN_REQUESTS,
            open_requests=open_requests,
        )


def plan_booking(
    actor: Actor, request: BookingRequest, now: datetime | None = None, *, for_writing: bool = False
) -> Plan:
    """Work out what a create request does, checking access, rules and conflicts; writes nothing.
    ``for_writing`` takes the units' locks before the conflict check, so the plan stays true
    until the transaction ends."""
    require_user(actor)
    now = now or utcnow()
    targets = _load_targets(request, for_writing=for_writing)
    room, organization = targets.room, targets.organization
    if not can_act_for_organization(actor, organization.id):
        raise RuleViolation("not_a_member", "You can only book for organisations you are a member of.")
    if request.force and not actor.is_admin:
        raise PermissionDenied("Only admins can override existing bookings (force).")
    if request.end <= request.start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    _check_trust(actor, organization, now, for_writing=for_writing)
    rrule = None
    if request.rrule:
        occurrences = recurrence.expand(request.rrule, request.start, request.end)
        rrule = recurrence.normalize_rrule(request.rrule, request.start)
        _check_series_apart(room, occurrences)
    else:
        occurrences = [(request.start, request.end)]
    skip = request.on_conflict == "skip" and rrule is not None
    occurrences, skipped = _split_by_rules(
        room,
        occurrences,
        request.attendees,
        now,
        skip_holidays=request.skip_holidays,
        skip_closed=skip,
    )
    if not occurrences:
        raise RuleViolation("closed", "Every occurrence falls on a holiday or a closure; nothing to book.")
    if targets.round_pending and not actor.is_admin:
        _check_no_round_holding(room, occurrences)

    status = _initial_status(actor, room, organization)
    pending: list[Hold] = []
    blocked = find_blocking(room, occurrences, pending=pending)
    displaced: list[Booking] = []
    if blocked and request.force:
        ids = {b["booking_id"] for c in blocked.values() for b in c["blocked_by"]}
        displaced = list(
            db.session.execute(select(Booking).where(Booking.id.in_(ids)).order_by(Booking.id)).scalars()
        )
    elif blocked and skip:
        for i in sorted(blocked):
            skipped.append(Skipped(*occurrences[i], "conflict", [blocked[i]]))
        if len(blocked) == len(occurrences):
            raise _conflict_error(room, occurrences, blocked, request.attendees)
        occurrences = [o for i, o in enumerate(occurrences) if i not in blocked]
    elif blocked:
        raise _conflict_error(room, occurrences, blocked, request.attendees)

    skipped.sort(key=lambda s: s.start)
    quotes = quote_occurrences(
        room,
        organization.effective_category,
        occurrences,
        request.own_supervisor,
        lists=price_lists(targets.price_lists_key),
    )
    return Plan(request, room, organization, status, occurrences, skipped, quotes, displaced, rrule, pending)


def _check_no_round_holding(room: Room, occurrences) -> None:
    """SPEC §14: a round holds its times from members' bookings. While it is not published,
    nothing inside its season in its rooms (or rooms sharing a unit with them): the times are
    being given out. Once published, the weekly times offered and not yet answered, until the
    deadline: an offer holds its time until it is accepted, declined or lapses."""
    from booking.services.rounds import offer_holding, pending_round_blocking  # rounds books here

    dates = {day for start, end in occurrences for day in local_dates(start, end)}
    round_ = pending_round_blocking(room.id, dates)
    if round_ is not None:
        raise RuleViolation(
            "season_allocation_pending",
            f"Regular times in this room from {round_.season_start} to {round_.season_end} are given out "
            f"by the application round {round_.name}; until its results are published, nothing can "
            "be booked there in that season.",
            round_id=round_.id,
        )
    held = offer_holding(room.id, occurrences)
    if held is not None:
        round_, allocation = held
        raise RuleViolation(
            "season_offer_held",
            f"This weekly time is offered to an organisation by the application round {round_.name} "
            f"until {round_.offer_deadline.astimezone(OSLO):%Y-%m-%d %H:%M}; it can be booked if the "
            "offer is declined or lapses.",
            round_id=round_.id,
            allocation_id=allocation.id,
        )


def create_booking(actor: Actor, request: BookingRequest, now: datetime | None = None) -> Booking | Series:
    """Create a single booking or a series (SPEC §4). Returns the booking, or the series."""
    return commit_plan(actor, plan_booking(actor, request, now, for_writing=True))


def commit_plan(actor: Actor, plan: Plan) -> Booking | Series:
    """Write what ``plan`` (made ``for_writing``) says: displace, insert, overrule requests."""
    request, stamp = plan.request, utcnow()
    confirmed = plan.status is Status.CONFIRMED
    overruled = _overruled(plan.room, plan.occurrences, plan.pending) if confirmed else []
    if _in_one_statement(plan, overruled):
        return _insert_single(actor, plan, stamp)
    locked = _lock_rows({b.id for b in plan.displaced} | set(overruled))
    requests = [b for b in locked if b.id in overruled]
    displaced: list[Booking] = []
    for victim in plan.displaced:
        if victim.status is Status.CONFIRMED:  # still in the way, read under its lock
            reason = f"Displaced by an administrator's booking: {request.title}"
            _move_to(victim, Action.DISPLACE, reason, stamp)
            victim.cancellation_fee = CancellationFee((), 0, "admin").to_dict()
            displaced.append(victim)
    booking_event("booking_cancelled", displaced, by="municipality", reason="override", fee_ore=0)
    db.session.flush()  # the displaced bookings' units are free before the new ones take them
    series = None
    if plan.rrule:
        series = Series(  # DTSTART is the requested first occurrence, even if it was skipped
            room_id=plan.room.id,
            organization_id=plan.organization.id,
            booked_by_id=actor.user_id or None,
            title=request.title,
            rrule=plan.rrule,
            start=request.start,
            end=request.end,
            created_at=stamp,
            updated_at=stamp,
        )
        series.skipped = [
            SkippedOccurrence(
                original_start=s.start,
                original_end=s.end,
                reason=s.reason,
                detail={"conflicts": _jsonable(s.conflicts)},
            )
            for s in plan.skipped
        ]
        db.session.add(series)
    bookings = [
        Booking(
            series=series,
            original_start=start if series else None,
            **_values(actor, plan, start, end, quote, stamp),
        )
        for (start, end), quote in zip(plan.occurrences, plan.quotes, strict=True)
    ]
    db.session.add_all(bookings)
    db.session.flush()  # the database derives and checks the occupancy
    booking_event("booking_confirmed" if confirmed else "request_received", bookings)
    if requests:
        _reject_overruled(requests, bookings)
    return series if series else bookings[0]


def _values(actor: Actor, plan: Plan, start: datetime, end: datetime, quote: Quote, stamp: datetime) -> dict:
    """The columns of a new booking of ``plan`` at ``start``-``end``, but its series'."""
    request = plan.request
    return {
        "room_id": plan.room.id,
        "organization_id": plan.organization.id,
        "booked_by_id": actor.user_id or None,
        "title": request.title,
        "start": start,
        "end": end,
        "occupied_until": occupied_until(end, plan.room.buffer_minutes),
        "attendees": request.attendees,
        "status": plan.status,
        "notes": request.notes,
        "public_title": request.public_title,
        "own_supervisor": request.own_supervisor,
        "quote": quote.to_dict(),
        "sequence": 0,
        "created_at": stamp,
        "updated_at": stamp,
    }


def _in_one_statement(plan: Plan, overruled: list[int]) -> bool:
    """Whether ``_insert_single`` writes the plan: one booking on PostgreSQL, nothing displaced
    or overruled (those update other bookings, through the session)."""
    return (
        not (plan.rrule or plan.displaced or overruled) and db.session.get_bind().dialect.name == "postgresql"
    )


def _insert_single(actor: Actor, plan: Plan, stamp: datetime) -> Booking:
    """PostgreSQL: the one booking of a plan that displaces and overrules nothing, written by
    one statement (``_INSERT_SINGLE``) with what the session's hooks would otherwise write after
    it in three more: its audit entry, its outbox event, its feed markers and their log, the
    same rows to the byte (``test_create_statement.py``).
    Timed over 300 created bookings of ``bench peer``: 6 -> 3 statements, 6.06 -> 4.18 ms each
    (BENCHMARKS.md). The statement stays under psycopg's 4,096 characters, so its text is
    converted once, not per execution: answering only the id, not the row, is part of that."""
    [(start, end)], [quote] = plan.occurrences, plan.quotes
    values = _values(actor, plan, start, end, quote, stamp)
    values |= {"series_id": None, "original_start": None, "status_reason": ""}
    kind = "booking_confirmed" if plan.status is Status.CONFIRMED else "request_received"
    scopes, rooms, span = markers.new_booking_change(
        db.session, plan.room.id, plan.organization.id, start, end
    )
    parameters = (
        values
        | audit.inserted_entry_parameters(Booking, values)
        | new_booking_event_parameters(kind)
        | markers.bump_parameters(scopes, rooms, span, stamp)
    )
    booking_id = db.session.connection().execute(_INSERT_SINGLE, parameters).scalar_one()
    note_written(db.session)
    # The row as written, without reading it back: as the ORM holds a booking it inserted.
    booking = Booking(id=booking_id, cancellation_fee=None, cancelled_at=None, **values)
    make_transient_to_detached(booking)
    db.session.add(booking)
    return booking


def _insert_single_statement():
    """``_insert_single``'s statement, built once: the booking's INSERT as a data-modifying CTE
    and, from its new row, the audit entry, the outbox event and the markers with their log."""
    table = Booking.__table__
    new = (
        insert(table)
        .values({key: bindparam(key, type_=table.c[key].type) for key in _INSERTED})
        .returning(table.c.id)
        .cte("new_booking")
    )
    bumped, logged = markers.bump_ctes(with_rooms=True)
    return select(new.c.id).add_cte(
        audit.inserted_entry(new, "bookings"), new_booking_event(new), bumped, logged
    )


_INSERTED = [c.key for c in Booking.__table__.c if c.key not in ("id", "cancellation_fee", "cancelled_at")]
_INSERT_SINGLE = _insert_single_statement()


def _jsonable(conflicts: list[dict]) -> list[dict]:
    def plain(value):
        if isinstance(value, datetime):
            return value.astimezone(OSLO).isoformat()
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return [plain(c) for c in conflicts]


def _overruled(room: Room, occurrences, pending: list[Hold], exclude: int | None = None) -> list[int]:
    """The pending requests (read with the conflict check) that confirmed ``occurrences`` in
    ``room`` overrule: they share a unit and overlap. No statement."""
    wanted = _holds(room, occurrences)
    return sorted({held.booking_id for _, held in find_conflicts(wanted, pending)} - {exclude})


def _reject_overruled(requests: list[Booking], winners: list[Booking]) -> None:
    """Reject the still-pending ones of ``requests`` (locked by the caller): the time went to
    ``winners``. A request committed after the conflict check read the pending ones is not
    among them; approving it later is refused (409), so it can never become a double booking."""
    reason = (
        f"The time was given to another booking (#{winners[0].id})."
        if len(winners) == 1
        else f"The time was given to other bookings (#{winners[0].id} and more)."
    )
    stamp = utcnow()
    losers = [loser for loser in requests if loser.status is Status.PENDING]
    for loser in losers:
        _move_to(loser, Action.REJECT, reason, stamp)
    booking_event("booking_rejected", losers, reason="overruled")


# --- transitions ---------------------------------------------------------------------------


def _lock_rows(ids) -> list[Booking]:
    """Lock booking rows in ascending id order and read them afresh (the one row-lock order)."""
    ids = sorted(set(ids))
    if not ids:
        return []
    query = (
        select(Booking)
        .where(Booking.id.in_(ids))
        .order_by(Booking.id)
        # FOR NO KEY UPDATE: keys never change, and rows that refer to the booking (occupancy,
        # outbox events) can still be inserted by others while it is held.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return list(db.session.execute(query).scalars())


def _locked(
    actor: Actor, booking_id: int, if_match: str | None, *, acquire: bool = False, to_room: int | None = None
) -> Booking:
    """The booking for a transition: access checked; when the transition may make units busy
    (``acquire``), the units of its room and of ``to_room`` locked first; then its row locked
    and read afresh, and ``If-Match`` checked against that (412)."""
    booking = get_booking(actor, booking_id)
    rooms = {booking.room_id, to_room or booking.room_id}
    if acquire:
        lock_units(u for room_id in rooms for u in _room(room_id).unit_ids)
        for room_id in rooms:  # a parts change we waited for may have changed them
            db.session.expire(_room(room_id), ["units"])
    (booking,) = _lock_rows([booking_id])
    if acquire and booking.room_id not in rooms:
        # Moved to another room since it was read: its units must be locked too (out of the
        # usual order; the database resolves the rare deadlock that could follow, see errors.py).
        lock_units(_room(booking.room_id).unit_ids)
    if if_match is not None and not _matches(if_match, booking.etag):
        raise PreconditionFailed("The booking has changed since you read it; reload it and try again.")
    return booking


def _matches(if_match: str, etag: str) -> bool:
    """RFC 9110 If-Match: ``*`` or a list of entity tags, compared strongly (a weak tag never
    matches)."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or etag in tags


def _room(room_id: int) -> Room:
    room = db.session.get(Room, room_id)
    if room is None:
        raise InvalidInput({"room_id": [f"There is no room {room_id}."]})
    return room


def _move_to(booking: Booking, action: Action, reason: str, stamp: datetime) -> None:
    """The one way a booking changes status: by the transition table. The database moves the
    occupancy with it (confirmed: active rows; pending: inactive; otherwise none)."""
    booking.status = next_status(booking.status, action)
    booking.status_reason = reason
    if booking.status is Status.CANCELLED:
        booking.cancelled_at = stamp
    booking.touch()


def approve_booking(
    actor: Actor,
    booking_id: int,
    if_match: str | None = None,
    *,
    expected_rejections: Collection[int] | None = None,
) -> Booking:
    """Confirm a pending request and reject every request competing with it.

    ``expected_rejections``: the ids of the competing requests the admin was shown (a page's
    confirmation, see ``approval_rejections``). Then the approval happens only if exactly those
    would be rejected, as read under the units' and the rows' locks that the approval holds; a
    request that arrived (or was withdrawn) since is a 409 with ``would_reject``, nothing changed."""
    require_admin(actor)
    booking = _locked(actor, booking_id, if_match, acquire=True)
    next_status(booking.status, Action.APPROVE)  # 409 unless pending
    room = _room(booking.room_id)
    pending: list[Hold] = []
    blocked = find_blocking(room, [(booking.start, booking.end)], booking.id, pending=pending)
    if blocked:
        raise _conflict_error(room, [(booking.start, booking.end)], blocked, booking.attendees)
    overruled = _overruled(room, [(booking.start, booking.end)], pending, exclude=booking.id)
    requests = _lock_rows(overruled)
    if expected_rejections is not None:
        would_reject = sorted(r.id for r in requests if r.status is Status.PENDING)
        if set(expected_rejections) != set(would_reject):
            raise StateConflict(
                "The competing requests have changed since they were shown; nothing was approved.",
                would_reject=would_reject,
            )
    _move_to(booking, Action.APPROVE, "", utcnow())
    booking_event("booking_approved", [booking])
    db.session.flush()
    if requests:
        _reject_overruled(requests, [booking])
    db.session.flush()
    return booking


def approval_rejections(actor: Actor, booking_id: int) -> list[Booking]:
    """The pending requests that approving ``booking_id`` now would reject, as ``approve_booking``
    finds them (read without locks, for a confirmation page; the approval checks again with
    ``expected_rejections``). In start order, with their organisation and room."""
    require_admin(actor)
    booking = get_booking(actor, booking_id)
    room = _room(booking.room_id)
    pending: list[Hold] = []
    find_blocking(room, [(booking.start, booking.end)], booking.id, pending=pending)
    ids = _overruled(room, [(booking.start, booking.end)], pending, exclude=booking.id)
    if not ids:
        return []
    query = (
        select(Booking)
        .where(Booking.id.in_(ids), Booking.status == Status.PENDING)
        .options(joinedload(Booking.organization), joinedload(Booking.room).joinedload(Room.building))
        .order_by(Booking.start, Booking.id)
    )
    return list(db.session.execute(query).scalars())


def reject_booking(actor: Actor, booking_id: int, reason: str, if_match: str | None = None) -> Booking:
    require_admin(actor)
    booking = _locked(actor, booking_id, if_match)
    _move_to(booking, Action.REJECT, reason or "Rejected", utcnow())
    booking_event("booking_rejected", [booking], reason=reason)
    db.session.flush()
    return booking


def reject_requests(requests: list[Booking], reason: str, stamp: datetime) -> list[Booking]:
    """Reject the still-pending ones of ``requests`` (locked and read afresh by the caller) with
    ``reason``; returns them. Writes no notification: the caller tells the organisation once
    (a rejected organisation gets one mail, not one per request)."""
    rejected = [booking for booking in requests if booking.status is Status.PENDING]
    for booking in rejected:
        _move_to(booking, Action.REJECT, reason, stamp)
    db.session.flush()
    return rejected


def cancellation_for(booking: Booking, actor: Actor, now: datetime) -> CancellationFee:
    """The fee for cancelling now: none for an admin or for a request never confirmed; for a
    confirmed booking the fee of SPEC §5 plus what earlier moves still owe."""
    if actor.is_admin:
        return CancellationFee((), 0, "admin")
    if booking.status is Status.PENDING:
        return CancellationFee((), 0, "free_14_days")
    return booking_cancellation_fee(Quote.from_dict(booking.quote), booking.start, now)


def cancel_booking(
    actor: Actor,
    booking_id: int,
    reason: str = "",
    dry_run: bool = False,
    now: datetime | None = None,
    if_match: str | None = None,
) -> tuple[Booking, CancellationFee]:
    """Withdraw a request or cancel a booking (SPEC §11); the fee answered is the fee stored."""
    now = now or utcnow()
    booking = get_booking(actor, booking_id) if dry_run else _locked(actor, booking_id, if_match)
    next_status(booking.status, Action.CANCEL)  # 409 when rejected or cancelled already
    if booking.start <= now and not actor.is_admin:
        # A started booking is billed as booked; only the municipality can still cancel it.
        raise StateConflict("The booking has started; it can no longer be cancelled.")
    fee = cancellation_for(booking, actor, now)
    if not dry_run:
        _move_to(booking, Action.CANCEL, reason or _cancel_reason(actor), now)
        booking.cancellation_fee = fee.to_dict()
        _cancelled_event([booking], actor, reason, fee.total_ore)
        db.session.flush()
    return booking, fee


def _cancel_reason(actor: Actor) -> str:
    return "Cancelled by the municipality" if actor.is_admin else "Cancelled"


def _cancelled_event(bookings: list[Booking], actor: Actor, reason: str, fee_ore: int) -> None:
    by = "municipality" if actor.is_admin else "organization"
    booking_event("booking_cancelled", bookings, by=by, reason=reason, fee_ore=fee_ore)


def cancel_series(
    actor: Actor,
    series_id: int,
    from_date=None,
    reason: str = "",
    dry_run: bool = False,
    now: datetime | None = None,
) -> tuple[Series, int]:
    """Cancel every open occurrence that has not started, or those on or after ``from_date``
    (local); returns the series and the total fee. The series row, then its occurrences, are
    locked, so two cancellations of one series never both charge."""
    series = get_series(actor, series_id)
    now = now or utcnow()
    if not dry_run:
        db.session.execute(select(Series.id).where(Series.id == series_id).with_for_update())
        _lock_rows([b.id for b in series.occurrences])
    total = 0
    cancelled = []
    for booking in series.occurrences:
        if booking.status not in OPEN_STATUSES or booking.start <= now:
            continue
        if from_date is not None and booking.start.astimezone(OSLO).date() < from_date:
            continue
        fee = cancellation_for(booking, actor, now)
        total += fee.total_ore
        if not dry_run:
            _move_to(booking, Action.CANCEL, reason or "Series cancelled", now)
            booking.cancellation_fee = fee.to_dict()
            cancelled.append(booking)
    if not dry_run:
        series.sequence += 1
        series.updated_at = now
        if cancelled:
            _cancelled_event(cancelled, actor, reason, total)
    db.session.flush()
    return series, total


def series_cancellation_fees(
    actor: Actor, series_id: int, from_date=None, now: datetime | None = None
) -> list[tuple[Booking, CancellationFee]]:
    """What cancelling the series now would cost, date by date: the occurrences
    ``cancel_series`` would cancel (open, not started, on or after ``from_date``), in time order,
    each with its fee; their fees add up to its total. Reads only (a confirmation page)."""
    series = get_series(actor, series_id)
    now = now or utcnow()
    return [
        (booking, cancellation_for(booking, actor, now))
        for booking in series.occurrences
        if booking.status in OPEN_STATUSES
        and booking.start > now
        and (from_date is None or booking.start.astimezone(OSLO).date() >= from_date)
    ]


# What ``status_reason`` says when a service wrote it (the sentences above), as a code the pages
# word in the reader's language; None for a person's own words (an administrator's reason for
# declining, a member's for cancelling), which are shown as written.
_REASON_CODES = (
    (
        re.compile(r"The time was given to (another booking|other bookings) \(#\d+( and more)?\)\."),
        "overruled",
    ),
    (re.compile(r"The building is closed on this date\."), "closure"),
    (re.compile(r"Displaced by an administrator's booking: .*", re.S), "override"),
    (re.compile(r"The municipality rejected the organisation\."), "organization_rejected"),
    (re.compile(r"Rejected|Not approved"), "no_reason"),
    (re.compile(r"Cancelled"), "cancelled_by_organization"),
    (re.compile(r"Cancelled by the municipality"), "cancelled_by_municipality"),
    (re.compile(r"Series cancelled"), "series_cancelled"),
)


def status_reason_code(reason: str) -> str | None:
    """The code of a reason a service stored (``overruled``, ``closure``, ``override``,
    ``organization_rejected``, ``no_reason``, ``cancelled_by_organization``,
    ``cancelled_by_municipality``, ``series_cancelled``), or None for a person's own words."""
    for pattern, code in _REASON_CODES:
        if pattern.fullmatch(reason or ""):
            return code
    return None


def displace_for_closures(
    building: Building, closures: list[tuple[date, date]], now: datetime | None = None
) -> None:
    """A building closed on new dates (SPEC §11): its bookings there that have not started are
    displaced (confirmed: cancelled, no fee) or declined (pending requests), with the reason,
    and their organisations notified."""
    now = now or utcnow()
    # Creates and moves in the building wait (or are waited for): they cannot slip a booking
    # onto a newly closed date (the database re-checks closures for those that waited).
    lock_units(
        db.session.execute(
            select(room_units.c.unit_id)
            .join(Room, Room.id == room_units.c.room_id)
            .where(Room.building_id == building.id)
        ).scalars()
    )
    first, last = min(a for a, _ in closures), max(b for _, b in closures)
    start, end = local_day_bounds(first, last)
    candidates = db.session.execute(
        select(Booking.id)
        .join(Room, Room.id == Booking.room_id)
        .where(
            Room.building_id == building.id,
            Booking.status.in_(OPEN_STATUSES),
            Booking.start < end,
            Booking.end > start,
            Booking.start > now,
        )
    ).scalars()
    reason = "The building is closed on this date."
    displaced, declined = [], []
    for booking in _lock_rows(candidates):
        days = local_dates(booking.start, booking.end)
        if booking.status not in OPEN_STATUSES or not any(a <= d <= b for d in days for a, b in closures):
            continue
        if booking.status is Status.CONFIRMED:
            _move_to(booking, Action.DISPLACE, reason, now)
            booking.cancellation_fee = CancellationFee((), 0, "admin").to_dict()
            displaced.append(booking)
        else:
            _move_to(booking, Action.REJECT, reason, now)
            declined.append(booking)
    booking_event("booking_cancelled", displaced, by="municipality", reason="closure", fee_ore=0)
    booking_event("booking_rejected", declined, reason="closure")
    db.session.flush()


# --- room layout ---------------------------------------------------------------------------


def check_layout_change(room: Room, unit_ids: list[int], now: datetime | None = None) -> None:
    """Before ``room`` is made of ``unit_ids`` instead: lock the units old and new and the
    room's open bookings that have not ended, and refuse (409, listing them) when a confirmed
    one would overlap another room's booking on a new unit (SPEC §11). Past bookings keep the
    units they used."""
    now = now or utcnow()
    lock_units({*room.unit_ids, *unit_ids})
    moving = _lock_rows(
        db.session.execute(
            select(Booking.id).where(
                Booking.room_id == room.id, Booking.status.in_(OPEN_STATUSES), Booking.occupied_until > now
            )
        ).scalars()
    )
    confirmed = [
        Hold(b.id, frozenset(unit_ids), b.start, b.occupied_until, room_id=room.id)
        for b in moving
        if b.status is Status.CONFIRMED
    ]
    blockers: dict[int, list[Hold]] = {}
    if confirmed:  # one read of the new units over the whole span, then the rule in Python
        span = min(h.start for h in confirmed), max(h.occupied_until for h in confirmed)
        others = [h for h in existing_holds(unit_ids, *span) if h.room_id != room.id]
        for wanted, held in find_conflicts(confirmed, others):
            blockers.setdefault(wanted.booking_id, []).append(held)
    conflicts = [
        {
            "moving_booking_id": booking.id,
            "start": booking.start,
            "end": booking.end,
            "booking_id": blockers[booking.id][0].booking_id,
            "room_id": blockers[booking.id][0].room_id,
            "organization_name": blockers[booking.id][0].organization_name,
            "blocked_by": [_blocker_dict(h) for h in blockers[booking.id]],
        }
        for booking in moving
        if booking.id in blockers
    ]
    if conflicts:
        raise BookingConflict(
            f"{len(conflicts)} booking(s) of {room.name} would overlap other bookings on the new parts; "
            "move or cancel them first.",
            conflicts,
        )


# --- changes -------------------------------------------------------------------------------


def update_booking(
    actor: Actor,
    booking_id: int,
    change: ChangeRequest,
    if_match: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """Edit or reschedule (SPEC §11). A move re-checks rules and conflicts; a confirmed booking
    moved by a member pays what cancelling it now would cost, and its new time is priced with
    its snapshot's price list and category. A change that changes nothing writes nothing."""
    now = now or utcnow()
    moving = (change.start, change.end, change.room_id) != (None, None, None)
    booking = _locked(actor, booking_id, if_match, acquire=moving, to_room=change.room_id)
    next_status(booking.status, Action.CHANGE)  # 409 when rejected or cancelled

    start = change.start if change.start is not None else booking.start
    end = change.end if change.end is not None else booking.end
    if end <= start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    room = _room(change.room_id if change.room_id is not None else booking.room_id)
    moved = (start, end, room.id) != (booking.start, booking.end, booking.room_id)
    edits = {
        key: getattr(change, key)
        for key in EDITABLE
        if getattr(change, key) is not None and getattr(change, key) != getattr(booking, key)
    }
    if not moved and not edits:
        return booking  # nothing changes: nothing written, nothing re-priced, same ETag

    attendees = edits.get("attendees", booking.attendees)
    if booking.status is Status.CONFIRMED and not actor.is_admin:
        _check_approval_room_change(booking, room, start, end, attendees)
    if "own_supervisor" in edits and (supervision_fixed(booking.start, now) or supervision_fixed(start, now)):
        raise RuleViolation(
            "supervision_window",
            "Whether the association brings its own supervisor cannot change within 48 hours of the start.",
        )
    if moved or "attendees" in edits:
        _check_rules(room, start, end, attendees, now)
    if moved and not actor.is_admin and not _within(booking, room, start, end):
        _check_no_round_holding(room, [(start, end)])
    requests: list[Booking] = []
    if moved:
        pending: list[Hold] = []
        blocked = find_blocking(room, [(start, end)], exclude_booking_id=booking.id, pending=pending)
        if blocked:
            raise _conflict_error(room, [(start, end)], blocked, attendees)
        if booking.status is Status.CONFIRMED:  # requests may never overlap a confirmed booking
            requests = _lock_rows(_overruled(room, [(start, end)], pending, exclude=booking.id))

    if moved or "own_supervisor" in edits:
        own_supervisor = edits.get("own_supervisor", booking.own_supervisor)
        booking.quote = _repriced(booking, actor, room, start, end, own_supervisor, now, moved).to_dict()
    for key, value in edits.items():
        setattr(booking, key, value)
    if moved:
        previous = {"start": booking.start, "end": booking.end, "room_id": booking.room_id}
        booking_event("booking_changed", [booking], previous=previous)
    booking.room_id, booking.start, booking.end = room.id, start, end
    booking.occupied_until = occupied_until(end, room.buffer_minutes)
    booking.touch()
    db.session.flush()  # the database moves the occupancy and checks it
    if requests:
        _reject_overruled(requests, [booking])
        db.session.flush()
    return booking


def _within(booking: Booking, room: Room, start: datetime, end: datetime) -> bool:
    """Whether the new time lies inside the time the booking holds already (a shortening): it
    takes nothing a round could be giving out."""
    return room.id == booking.room_id and booking.start <= start and end <= booking.end


def _check_approval_room_change(booking: Booking, room: Room, start, end, attendees: int) -> None:
    """In a room that requires approval a member may shorten a confirmed booking or lower its
    attendees; any other change of time, room or attendees (moving into such a room included)
    needs a new request (SPEC §11)."""
    if not (room.requires_approval or _room(booking.room_id).requires_approval):
        return
    shorter = room.id == booking.room_id and is_shortening(booking.start, booking.end, start, end)
    if not shorter or attendees > booking.attendees:
        raise RuleViolation(
            "approval_required",
            "This room requires approval: you can shorten the booking or lower the attendees; for any "
            "other change cancel it and request the new time, or ask the municipality.",
        )


def _repriced(
    booking: Booking,
    actor: Actor,
    room: Room,
    start: datetime,
    end: datetime,
    own_supervisor: bool,
    now: datetime,
    moved: bool,
) -> Quote:
    """The new snapshot of a changed booking. A pending request is priced like a new one. A
    confirmed booking keeps its snapshot's price list and category, carries the moves it owes,
    and a member's move adds what cancelling the old time now would cost."""
    if booking.status is Status.PENDING:
        category = booking.organization.effective_category
        return quote_occurrences(room, category, [(start, end)], own_supervisor)[0]
    snapshot = Quote.from_dict(booking.quote)
    # The snapshot's version prices any date the booking moves to (valid_from set aside).
    lists = [
        replace(p, valid_from=date.min) for p in price_lists() if p.version == snapshot.price_list_version
    ]
    lists = lists or None
    new = quote_occurrences(room, snapshot.category, [(start, end)], own_supervisor, lists=lists)[0]
    moves = owed_moves(snapshot)
    if moved and not actor.is_admin:
        moves += move_fee(snapshot.occurrences[0], booking.start, now)
    return with_moves(new, moves)


def series_quote(series: Series) -> dict:
    """The series' price: its open occurrences' snapshots, each with its booking id."""
    open_bookings = [b for b in series.occurrences if b.status in OPEN_STATUSES]
    total = sum(b.quote["total_ore"] for b in open_bookings)
    versions = sorted({b.quote["price_list_version"] for b in open_bookings})
    return {
        "total_ore": total,
        "price_list_version": ", ".join(versions),
        "lines": [
            line.to_dict()
            for line in merge_lines(
                QuoteLine.from_dict(line) for b in open_bookings for line in b.quote["lines"]
            )
        ],
        "occurrences": [
            {
                "booking_id": b.id,
                "start": b.start.astimezone(OSLO).isoformat(),
                "end": b.end.astimezone(OSLO).isoformat(),
                "total_ore": b.quote["total_ore"],
            }
            for b in open_bookings
        ],
    }
