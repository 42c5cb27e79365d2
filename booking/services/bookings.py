"""Booking use cases: create (single or series), edit, cancel, approve, reject.

The conflict rule is checked here for a friendly answer and enforced by the database for the
truth (``models.booking.Occupancy``). When a concurrent request won the race, the database refuses
the occupancy insert; the session's transaction is then rolled back (nothing of the request is
kept) and the answer is the same 409 as a conflict found here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

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
from booking.domain.rules import BuildingRules, RoomRules, find_violations, local_dates
from booking.extensions import db
from booking.models import (
    Booking,
    Building,
    Notification,
    Occupancy,
    Organization,
    Room,
    Series,
    SkippedOccurrence,
)
from booking.models.booking import OPEN_STATUSES
from booking.models.types import utcnow
from booking.services import suggestions
from booking.services.access import (
    Actor,
    can_act_for_organization,
    require_admin,
    require_organization,
    require_user,
)
from booking.services.pricing import combined_quote, quote_occurrences
from pricing import OSLO, CancellationFee, OccurrenceQuote, QuoteLine, cancellation_fee
from pricing.quotes import merge_lines


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
    """What a create request would do; ``dry_run`` answers it, otherwise it is written."""

    room: Room
    organization: Organization
    status: str
    occurrences: list[tuple[datetime, datetime]]
    skipped: list[Skipped]
    quotes: list
    displaced: list[Booking] = field(default_factory=list)
    rrule: str | None = None
    pending: list[Hold] = field(default_factory=list)  # requests a confirmed booking may overrule

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
    query = select(Booking).options(joinedload(Booking.room), joinedload(Booking.organization))
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
    the same statement also reads the inactive ones (pending requests) into that list."""
    rows = db.session.execute(
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


def _conflict_dict(wanted: Hold, blocking: Hold, end: datetime) -> dict:
    return {
        "start": wanted.start,
        "end": end,
        "booking_id": blocking.booking_id,
        "room_id": blocking.room_id,
        "organization_name": blocking.organization_name,
        "blocking_start": blocking.start,
        "blocking_until": blocking.occupied_until,
    }


def find_blocking(
    room: Room, occurrences, exclude_booking_id: int | None = None, *, pending: list[Hold] | None = None
) -> dict[int, list[dict]]:
    """For each occurrence index, what active bookings block it (and, into ``pending``, the
    pending requests around the occurrences, read by the same statement)."""
    if not occurrences:
        return {}
    wanted = _holds(room, occurrences, exclude_booking_id)
    existing = existing_holds(
        room.unit_ids, min(h.start for h in wanted), max(h.occupied_until for h in wanted), pending=pending
    )
    index = {id(h): i for i, h in enumerate(wanted)}
    blocked: dict[int, list[dict]] = {}
    for hold, blocking in find_conflicts(wanted, existing):
        i = index[id(hold)]
        blocked.setdefault(i, []).append(_conflict_dict(hold, blocking, occurrences[i][1]))
    return blocked


def _conflict_error(
    room: Room, occurrences, blocked: dict[int, list[dict]], attendees: int
) -> BookingConflict:
    conflicts = [c for i in sorted(blocked) for c in blocked[i]]
    first = occurrences[min(blocked)]
    n = len(blocked)
    detail = (
        f"{room.name} is taken at the requested time."
        if len(occurrences) == 1
        else f"{n} of {len(occurrences)} occurrences conflict with existing bookings; nothing was booked."
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


# --- create --------------------------------------------------------------------------------


# The room and the organisation of a create request, with all the rules, the conflict check and
# the quote read of them: the room's building, the building's closures and the room's atomic
# units (a few rows each). One row per pair, none when either is missing. Built once.
_TARGETS = (
    select(Room, Organization)
    .join(Organization, true())
    .where(Room.id == bindparam("room_id"), Organization.id == bindparam("organization_id"))
    .options(
        joinedload(Room.building).joinedload(Building.closures),
        joinedload(Room.units).load_only(Room.id),
    )
)


def _load_targets(data: dict) -> tuple[Room, Organization]:
    found = (
        db.session.execute(_TARGETS, {"room_id": data["room_id"], "organization_id": data["organization_id"]})
        .unique()
        .first()
    )
    if found is not None:
        return found.Room, found.Organization
    if db.session.get(Room, data["room_id"]) is None:
        raise InvalidInput({"room_id": [f"There is no room {data['room_id']}."]})
    raise InvalidInput({"organization_id": [f"There is no organisation {data['organization_id']}."]})


def plan_booking(actor: Actor, data: dict, now: datetime | None = None) -> Plan:
    """Work out what a create request does, checking access, rules and conflicts; writes nothing."""
    require_user(actor)
    now = now or utcnow()
    room, organization = _load_targets(data)
    if not can_act_for_organization(actor, organization.id):
        raise RuleViolation("not_a_member", "You can only book for organisations you are a member of.")
    if data.get("force") and not actor.is_admin:
        raise PermissionDenied("Only admins can override existing bookings (force).")
    start, end = data["start"], data["end"]
    if end <= start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    rrule = None
    if data.get("recurrence"):
        occurrences = recurrence.expand(data["recurrence"]["rrule"], start, end)
        rrule = recurrence.normalize_rrule(data["recurrence"]["rrule"], start)
    else:
        occurrences = [(start, end)]
    skip = data.get("on_conflict", "reject") == "skip" and rrule is not None
    attendees = data.get("attendees", 1)
    occurrences, skipped = _split_by_rules(
        room, occurrences, attendees, now, skip_holidays=bool(data.get("skip_holidays")), skip_closed=skip
    )
    if not occurrences:
        raise RuleViolation("closed", "Every occurrence falls on a holiday or a closure; nothing to book.")

    status = "pending" if room.requires_approval and not actor.is_admin else "confirmed"
    pending: list[Hold] = []
    blocked = find_blocking(room, occurrences, pending=pending)
    displaced: list[Booking] = []
    if blocked and data.get("force"):
        ids = {c["booking_id"] for cs in blocked.values() for c in cs}
        displaced = list(
            db.session.execute(select(Booking).where(Booking.id.in_(ids)).order_by(Booking.id)).scalars()
        )
    elif blocked and skip:
        for i in sorted(blocked):
            skipped.append(Skipped(*occurrences[i], "conflict", blocked[i]))
        if len(blocked) == len(occurrences):
            raise _conflict_error(room, occurrences, blocked, attendees)
        occurrences = [o for i, o in enumerate(occurrences) if i not in blocked]
    elif blocked:
        raise _conflict_error(room, occurrences, blocked, attendees)

    skipped.sort(key=lambda s: s.start)
    quotes = quote_occurrences(
        room, organization.effective_category, occurrences, bool(data.get("own_supervisor"))
    )
    return Plan(room, organization, status, occurrences, skipped, quotes, displaced, rrule, pending)


def create_booking(actor: Actor, data: dict, now: datetime | None = None) -> Booking | Series:
    """Create a single booking or a series (SPEC §4). Returns the booking, or the series."""
    plan = plan_booking(actor, data, now)
    stamp = utcnow()
    for victim in plan.displaced:
        _end(victim, "cancelled", f"Displaced by an administrator's booking: {data['title']}", stamp)
        victim.cancellation_fee = CancellationFee((), 0, "admin").to_dict()
        _notify(
            victim,
            "displaced",
            f"Your booking '{victim.title}' was cancelled by the municipality "
            "to make room for another booking. No fee is charged.",
        )
    series = None
    if plan.rrule:
        series = Series(  # DTSTART is the requested first occurrence, even if it was skipped
            room_id=plan.room.id,
            organization_id=plan.organization.id,
            booked_by_id=actor.user_id or None,
            title=data["title"],
            rrule=plan.rrule,
            start=data["start"],
            end=data["end"],
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
    bookings = []
    for (start, end), quote in zip(plan.occurrences, plan.quotes, strict=True):
        booking = Booking(
            room_id=plan.room.id,
            organization_id=plan.organization.id,
            booked_by_id=actor.user_id or None,
            series=series,
            original_start=start if series else None,
            title=data["title"],
            start=start,
            end=end,
            attendees=data.get("attendees", 1),
            status=plan.status,
            notes=data.get("notes", ""),
            public_title=bool(data.get("public_title")),
            own_supervisor=bool(data.get("own_supervisor")),
            quote=quote.to_dict(),
            sequence=0,
            created_at=stamp,
            updated_at=stamp,
        )
        bookings.append(booking)
    db.session.add_all(bookings)
    db.session.flush()
    _occupy(plan.room, bookings, plan.status == "confirmed")
    if plan.status == "confirmed":
        for booking in bookings:
            _reject_competitors(
                booking, f"The time was given to another booking (#{booking.id}).", candidates=plan.pending
            )
    return series if series else bookings[0]


def _jsonable(conflicts: list[dict]) -> list[dict]:
    return [
        {k: (v.astimezone(OSLO).isoformat() if isinstance(v, datetime) else v) for k, v in c.items()}
        for c in conflicts
    ]


_INSERT_OCCUPANCIES = Occupancy.__table__.insert()


def _occupy(room: Room, bookings: list[Booking], active: bool) -> None:
    """Insert the bookings' occupancy rows; the database refuses an overlap among active rows.

    No savepoint: when a concurrent request committed first, this request answers 409 and
    writes nothing, so the whole transaction is rolled back before saying what blocks it."""
    rows = [
        {
            "booking_id": b.id,
            "unit_id": unit,
            "start": b.start,
            "occupied_until": b.end + timedelta(minutes=room.buffer_minutes),
            "active": active,
        }
        for b in bookings
        for unit in room.unit_ids
    ]
    occurrences = [(b.start, b.end) for b in bookings]
    own_ids, attendees = {b.id for b in bookings}, bookings[0].attendees
    try:
        db.session.execute(_INSERT_OCCUPANCIES, rows)
    except IntegrityError as error:
        db.session.rollback()
        blocked = {
            i: [c for c in cs if c["booking_id"] not in own_ids]
            for i, cs in find_blocking(room, occurrences).items()
        }
        blocked = {i: cs for i, cs in blocked.items() if cs}
        if not blocked:
            raise
        raise _conflict_error(room, occurrences, blocked, attendees) from error


def _activate(booking: Booking) -> None:
    """Make a pending booking's occupancy count (it is now confirmed)."""
    try:
        with db.session.begin_nested():
            db.session.execute(
                update(Occupancy).where(Occupancy.booking_id == booking.id).values(active=True)
            )
    except IntegrityError as error:
        blocked = find_blocking(booking.room, [(booking.start, booking.end)], exclude_booking_id=booking.id)
        raise _conflict_error(
            booking.room, [(booking.start, booking.end)], blocked or {0: []}, booking.attendees
        ) from error


def _release(booking: Booking) -> None:
    db.session.execute(delete(Occupancy).where(Occupancy.booking_id == booking.id))


def _end(booking: Booking, status: str, reason: str, stamp: datetime) -> None:
    booking.status = status
    booking.status_reason = reason
    if status == "cancelled":
        booking.cancelled_at = stamp
    booking.touch()
    _release(booking)


def _notify(booking: Booking, kind: str, message: str) -> None:
    db.session.add(
        Notification(
            organization_id=booking.organization_id, booking_id=booking.id, kind=kind, message=message
        )
    )


def _reject_competitors(winner: Booking, reason: str, candidates: list[Hold] | None = None) -> list[Booking]:
    """Reject every pending request that overlaps a newly confirmed booking on a shared unit.
    Pending requests hold inactive occupancies; ``candidates`` are those the create request read
    with its conflict check (no statement when none overlaps), otherwise one statement finds them.
    A request committed by another transaction after that read is not rejected here; approving it
    later fails with 409 (the database refuses the overlap), so it cannot become a double booking."""
    room = winner.room
    until = winner.end + timedelta(minutes=room.buffer_minutes)
    if candidates is None:
        waiting = select(Occupancy.booking_id).where(
            Occupancy.unit_id.in_(room.unit_ids),
            Occupancy.overlapping(winner.start, until),
            Occupancy.active.is_(False),
        )
    else:
        mine = _holds(room, [(winner.start, winner.end)], winner.id)
        waiting = sorted({held.booking_id for _, held in find_conflicts(mine, candidates)})
        if not waiting:
            return []
    losers = (
        db.session.execute(
            select(Booking)
            .where(Booking.id.in_(waiting), Booking.id != winner.id, Booking.status == "pending")
            .order_by(Booking.id)
        )
        .scalars()
        .all()
    )
    stamp = utcnow()
    for loser in losers:
        _end(loser, "rejected", reason, stamp)
        _notify(loser, "rejected", f"Your request '{loser.title}' was not approved: {reason}")
    return losers


# --- changes -------------------------------------------------------------------------------

EDITABLE = ("title", "attendees", "notes", "public_title", "own_supervisor")


def _require_open(booking: Booking) -> None:
    if booking.status not in OPEN_STATUSES:
        raise StateConflict(f"The booking is {booking.status}; it cannot be changed.")


def update_booking(
    actor: Actor, booking_id: int, data: dict, if_match: str | None, now: datetime | None = None
) -> Booking:
    """Edit or reschedule. With ``If-Match`` the change applies only to the version the client
    saw (412 otherwise). Moving re-checks rules and conflicts and re-quotes."""
    booking = get_booking(actor, booking_id)
    if if_match is not None and if_match.strip() not in (booking.etag, "*"):
        raise PreconditionFailed("The booking has changed since you read it; reload it and try again.")
    _require_open(booking)
    now = now or utcnow()
    start, end = data.get("start", booking.start), data.get("end", booking.end)
    if end <= start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    moved = (start, end) != (booking.start, booking.end)
    attendees = data.get("attendees", booking.attendees)
    if moved or attendees != booking.attendees:
        _check_rules(booking.room, start, end, attendees, now)
    if moved:
        blocked = find_blocking(booking.room, [(start, end)], exclude_booking_id=booking.id)
        if blocked:
            raise _conflict_error(booking.room, [(start, end)], blocked, attendees)
    for key in EDITABLE:
        if key in data:
            setattr(booking, key, data[key])
    booking.start, booking.end = start, end
    if moved or "own_supervisor" in data:
        booking.quote = quote_occurrences(
            booking.room, booking.organization.effective_category, [(start, end)], booking.own_supervisor
        )[0].to_dict()
    booking.touch()
    if moved:
        _release(booking)
        db.session.flush()
        _occupy(booking.room, [booking], booking.status == "confirmed")
    db.session.flush()
    return booking


def cancellation_for(booking: Booking, actor: Actor, now: datetime) -> CancellationFee:
    """The fee for cancelling now: none for an admin or for a request never confirmed."""
    if actor.is_admin or booking.status == "pending":
        return CancellationFee((), 0, "admin" if actor.is_admin else "free_14_days")
    snapshot = OccurrenceQuote.from_dict(booking.quote["occurrences"][0])
    return cancellation_fee(snapshot, booking.start, now, by_admin=False)


def cancel_booking(
    actor: Actor, booking_id: int, reason: str = "", dry_run: bool = False, now: datetime | None = None
) -> tuple[Booking, CancellationFee]:
    booking = get_booking(actor, booking_id)
    _require_open(booking)
    now = now or utcnow()
    if booking.start <= now and not actor.is_admin:
        # A started booking is billed as booked; only the municipality can still cancel it.
        raise StateConflict("The booking has started; it can no longer be cancelled.")
    fee = cancellation_for(booking, actor, now)
    if not dry_run:
        _end(
            booking,
            "cancelled",
            reason or ("Cancelled by the municipality" if actor.is_admin else "Cancelled"),
            now,
        )
        booking.cancellation_fee = fee.to_dict()
        db.session.flush()
    return booking, fee


def cancel_series(
    actor: Actor,
    series_id: int,
    from_date=None,
    reason: str = "",
    dry_run: bool = False,
    now: datetime | None = None,
) -> tuple[Series, int]:
    """Cancel every open occurrence, or those on or after ``from_date`` (local); returns the
    series and the total fee."""
    series = get_series(actor, series_id)
    now = now or utcnow()
    total = 0
    for booking in series.occurrences:
        if booking.status not in OPEN_STATUSES or booking.start <= now:
            continue
        if from_date is not None and booking.start.astimezone(OSLO).date() < from_date:
            continue
        fee = cancellation_for(booking, actor, now)
        total += fee.total_ore
        if not dry_run:
            _end(booking, "cancelled", reason or "Series cancelled", now)
            booking.cancellation_fee = fee.to_dict()
    if not dry_run:
        series.sequence += 1
        series.updated_at = now
    db.session.flush()
    return series, total


def approve_booking(actor: Actor, booking_id: int) -> Booking:
    """Confirm a pending request and reject every request competing with it."""
    require_admin(actor)
    booking = get_booking(actor, booking_id)
    if booking.status != "pending":
        raise StateConflict(f"Only pending requests can be approved; this one is {booking.status}.")
    _activate(booking)
    booking.status = "confirmed"
    booking.status_reason = ""
    booking.touch()
    _reject_competitors(booking, f"A competing request (#{booking.id}) for the same time was approved.")
    _notify(booking, "approved", f"Your request '{booking.title}' is approved.")
    db.session.flush()
    return booking


def reject_booking(actor: Actor, booking_id: int, reason: str) -> Booking:
    require_admin(actor)
    booking = get_booking(actor, booking_id)
    if booking.status != "pending":
        raise StateConflict(f"Only pending requests can be rejected; this one is {booking.status}.")
    _end(booking, "rejected", reason or "Rejected", utcnow())
    _notify(booking, "rejected", f"Your request '{booking.title}' was not approved: {booking.status_reason}")
    db.session.flush()
    return booking


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
