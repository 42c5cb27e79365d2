"""Seasonal application rounds (SPEC §14): rounds, applications, allocation, publication, offers.

The allocation itself is pure (``booking.domain.allocation``); this module reads what it needs in
a handful of statements for the whole round (rooms with their buildings, closures and units; the
confirmed bookings of those units in the season; the applications with their wishes and
organisations; the previous round's accepted times), projects the bookings onto weekly times,
and writes the result.

Concurrency: every change of a round's results (allocate, a change by hand, publish) first locks
the round's row (``FOR UPDATE``; SQLite serializes write transactions), so two admins allocating
at once run one after the other and the second replaces the first's unpublished result. An
application's write locks the round's row FOR SHARE and the organisation's applications
(via the organisation row) so ranks never clash; accept and decline lock the allocation's row
and check its state and the deadline under that lock: of accept ‖ decline exactly one wins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from booking.domain import allocation as algo
from booking.domain.errors import InvalidInput, NotFound, PermissionDenied, RuleViolation, StateConflict
from booking.domain.holidays import holiday_dates
from booking.domain.timeslots import local_day_bounds
from booking.extensions import begin_write_transaction, db
from booking.models import (
    Allocation,
    Application,
    Building,
    Closure,
    Occupancy,
    Organization,
    Room,
    Round,
    Wish,
    room_units,
    round_rooms,
)
from booking.models.types import utcnow
from booking.services.access import Actor, require_admin, require_organization, require_user
from pricing import OSLO

MAX_SEASON_DAYS = 366  # a weekly series may span at most 366 days (SPEC §3)
MAX_WISHES = 3
PRIORITY_CATEGORIES = ("free", "reduced")

RULES_TEXT = (
    "Applications are taken in this order, and each gets the first of its wishes that is still "
    "free. 1. Class: (1) children and youth activity of a free or reduced organisation, (2) other "
    "applications of free or reduced organisations, (3) the rest. 2. Within a class, in passes: "
    "every organisation's first application in that class (by the organisation's own ranking), "
    "then every second, and so on. 3. Within a pass, continuity first (the organisation held the "
    "same room, weekday and an overlapping time in the previous round of the same rooms), then a "
    'lottery: ascending SHA-256 of "{seed}:{application id}" in hex. A wish is free when, on '
    "every date of the season except Norwegian public holidays and the building's closures, it "
    "overlaps no confirmed booking (units and changeover buffers included) and no wish already "
    "given, and it obeys the room's rules (opening hours, duration, capacity)."
)


# --- small conversions ------------------------------------------------------------------------


def minutes_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _local(day: date, minutes: int) -> datetime:
    return (
        datetime.combine(day, time(0), OSLO) + timedelta(minutes=minutes)
        if minutes == 1440
        else (datetime.combine(day, time(minutes // 60, minutes % 60), OSLO))
    )


def round_state(round_: Round, now: datetime | None = None) -> str:
    """draft (window not open yet), open, closed, allocated, published: from times and marks."""
    now = now or utcnow()
    if round_.published_at is not None:
        return "published"
    if now < round_.opens_at:
        return "draft"
    if now < round_.closes_at:
        return "open"
    return "allocated" if round_.allocated_at is not None else "closed"


def offer_state(allocation: Allocation, round_: Round, now: datetime | None = None) -> str | None:
    """The offer's state as a client should see it: an offer still open past the deadline has
    lapsed, whether or not a later write has stored that yet."""
    if allocation.offer_state == "offered" and (now or utcnow()) > round_.offer_deadline:
        return "lapsed"
    return allocation.offer_state


# --- rounds -------------------------------------------------------------------------------------


def list_rounds():
    """Every round, newest season first (public: rounds and their rules are public)."""
    return (
        select(Round)
        .options(selectinload(Round.rooms).load_only(Room.id))
        .order_by(Round.season_start.desc(), Round.id.desc())
    )


def get_round(round_id: int) -> Round:
    round_ = db.session.get(Round, round_id)
    if round_ is None:
        raise NotFound(f"There is no round {round_id}.")
    return round_


def _lock_round(round_id: int, *, share: bool = False) -> Round:
    """The round's row, locked and read afresh (the first lock of every change of a round)."""
    begin_write_transaction()
    query = select(Round).where(Round.id == round_id).execution_options(populate_existing=True)
    round_ = db.session.execute(query.with_for_update(read=share)).scalar_one_or_none()
    if round_ is None:
        raise NotFound(f"There is no round {round_id}.")
    return round_


def _rooms_of(data: dict) -> list[Room]:
    """The rooms named by ``room_ids`` and every room of ``building_ids``."""
    room_ids = set(data.get("room_ids") or ())
    building_ids = set(data.get("building_ids") or ())
    rooms = list(
        db.session.execute(
            select(Room)
            .where(or_(Room.id.in_(room_ids), Room.building_id.in_(building_ids)))
            .order_by(Room.id)
        ).scalars()
    )
    missing = room_ids - {room.id for room in rooms}
    if missing:
        raise InvalidInput({"room_ids": [f"There is no room {min(missing)}."]})
    missing = building_ids - {room.building_id for room in rooms}
    if missing:
        raise InvalidInput({"building_ids": [f"Building {min(missing)} does not exist or has no rooms."]})
    if not rooms:
        raise InvalidInput({"room_ids": ["A round covers at least one room (room_ids or building_ids)."]})
    return rooms


def _check_times(round_: Round) -> None:
    errors: dict[str, list[str]] = {}
    if round_.season_end < round_.season_start:
        errors["season_end"] = ["The season must not end before it starts."]
    elif (round_.season_end - round_.season_start).days >= MAX_SEASON_DAYS:
        errors["season_end"] = [f"A season is at most {MAX_SEASON_DAYS} days."]
    if round_.closes_at <= round_.opens_at:
        errors["closes_at"] = ["The window must close after it opens."]
    if round_.offer_deadline <= round_.closes_at:
        errors["offer_deadline"] = ["The deadline for offers must be after the window closes."]
    if round_.publish_on < round_.closes_at.astimezone(OSLO).date():
        errors["publish_on"] = ["Results are published after the window closes."]
    if errors:
        raise InvalidInput(errors)


# What an allocation was made for: a change of any of these after allocating clears the result.
RESULT_FIELDS = frozenset({"season_start", "season_end", "opens_at", "closes_at", "room_ids", "building_ids"})
ROUND_FIELDS = ("name", "season_start", "season_end", "opens_at", "closes_at", "publish_on", "offer_deadline")


def create_round(actor: Actor, data: dict) -> Round:
    """A new round (admin). The lottery's seed is made here, at random, and never changes."""
    require_admin(actor)
    round_ = Round(**{key: data[key] for key in ROUND_FIELDS}, seed=secrets.token_hex(16))
    _check_times(round_)
    round_.rooms = _rooms_of(data)
    now = utcnow()
    round_.created_at = round_.updated_at = now
    db.session.add(round_)
    db.session.flush()
    return round_


def update_round(actor: Actor, round_id: int, data: dict) -> Round:
    """Change a round (admin) until it is published; after that only the offers' deadline may
    move (to give offers made by a later allocation of freed times time to be answered)."""
    require_admin(actor)
    now = utcnow()
    round_ = _lock_round(round_id)
    if round_.published_at is not None and set(data) - {"offer_deadline"}:
        raise StateConflict("The round is published; only its offer_deadline may change.")
    if (
        round_.published_at is None
        and round_.closes_at <= now
        and data.get("closes_at", round_.closes_at) > now
    ):
        # The seed is public once the window has closed: reopened, an applicant could withdraw
        # and apply again until a new application id drew a better lottery number.
        raise StateConflict("The application window has closed and the seed is public; it cannot reopen.")
    if round_.published_at is not None and "offer_deadline" in data:
        if data["offer_deadline"] <= now:
            raise InvalidInput({"offer_deadline": ["A new deadline for offers must be in the future."]})
        # Offers past the old deadline stay lapsed (and are told so): a later deadline is for
        # offers made from now on, not a second chance the others never heard of.
        _store_lapses(round_, now)
    for key in ROUND_FIELDS:
        if key in data:
            setattr(round_, key, data[key])
    _check_times(round_)
    if "room_ids" in data or "building_ids" in data:
        round_.rooms = _rooms_of(data)
    if round_.allocated_at is not None and round_.published_at is None and set(data) & RESULT_FIELDS:
        # The result was allocated for another season, window or rooms: allocate again.
        db.session.execute(delete(Allocation).where(Allocation.round_id == round_.id))
        round_.allocated_at = None
    round_.updated_at = now
    db.session.flush()
    return round_


def close_window(actor: Actor, round_id: int, now: datetime | None = None) -> Round:
    """Close the application window now (admin), ahead of its time: a round can be allocated
    as soon as the applications are in. Only while the window is open. The clock is read
    under the round's lock: an application that held the lock first was made before the close
    this stores."""
    require_admin(actor)
    round_ = _lock_round(round_id)
    now = now or utcnow()
    if round_state(round_, now) != "open":
        raise StateConflict("The application window is not open.")
    round_.closes_at = now
    round_.updated_at = now
    _check_times(round_)
    db.session.flush()
    return round_


def public_seed(round_: Round, now: datetime | None = None) -> str | None:
    """The seed is shown once the window has closed: known earlier, an applicant could withdraw
    and re-apply until a new application id drew a better lottery number."""
    return round_.seed if (now or utcnow()) >= round_.closes_at else None


# --- applications -------------------------------------------------------------------------------


def _check_open(round_: Round, now: datetime) -> None:
    if not round_.opens_at <= now < round_.closes_at:
        raise RuleViolation(
            "application_window_closed",
            f"Applications to {round_.name} can be made and changed only while its window is open "
            f"({round_.opens_at.astimezone(OSLO):%Y-%m-%d %H:%M} to "
            f"{round_.closes_at.astimezone(OSLO):%Y-%m-%d %H:%M}).",
        )


def _lock_organization(organization_id: int) -> Organization:
    """The organisation's row FOR NO KEY UPDATE: its applications' ranks are decided one change
    at a time (a booking create holds it FOR SHARE only for its own transaction)."""
    query = select(Organization).where(Organization.id == organization_id)
    organization = db.session.execute(
        query.with_for_update(key_share=True).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if organization is None:
        raise InvalidInput({"organization_id": [f"There is no organisation {organization_id}."]})
    return organization


def _wishes(round_: Round, wishes: list[dict]) -> list[Wish]:
    if not 1 <= len(wishes) <= MAX_WISHES:
        raise InvalidInput({"wishes": [f"Give 1 to {MAX_WISHES} wishes."]})
    room_ids = set(round_.room_ids)
    errors: dict[str, list[str]] = {}
    result = []
    seen: dict[tuple, int] = {}
    for position, wish in enumerate(wishes, start=1):
        if wish["room_id"] not in room_ids:
            errors[f"wishes.{position - 1}.room_id"] = [f"Room {wish['room_id']} is not in this round."]
        if wish["end"] <= wish["start"]:
            errors[f"wishes.{position - 1}.end"] = ["The end must be after the start."]
        same = (wish["room_id"], wish["weekday"], wish["start"], wish["end"])
        if same in seen:
            errors[f"wishes.{position - 1}"] = [f"Wish {position} repeats wish {seen[same]}."]
        seen.setdefault(same, position)
        result.append(
            Wish(
                position=position,
                room_id=wish["room_id"],
                weekday=wish["weekday"],
                start_minute=wish["start"],
                end_minute=wish["end"],
            )
        )
    if errors:
        raise InvalidInput(errors)
    return result


def _active_ranks(round_id: int, organization_id: int) -> dict[int, Application]:
    applications = db.session.execute(
        select(Application).where(
            Application.round_id == round_id,
            Application.organization_id == organization_id,
            Application.withdrawn_at.is_(None),
        )
    ).scalars()
    return {application.rank: application for application in applications}


def submit_application(actor: Actor, round_id: int, data: dict, now: datetime | None = None) -> Application:
    """An application of a verified organisation during the window. ``rank`` defaults to the
    organisation's next free rank; a rank it uses already is a 409 (PATCH reorders)."""
    require_user(actor)
    require_organization(actor, data["organization_id"])
    round_ = _lock_round(round_id, share=True)
    now = now or utcnow()  # read under the round's lock: a close that held it first counts
    organization = _lock_organization(data["organization_id"])
    if not organization.verified or organization.rejected_at is not None:
        raise RuleViolation(
            "organization_not_verified",
            f"{organization.name} must be verified by the municipality before it can apply "
            "for seasonal times.",
        )
    _check_open(round_, now)
    ranks = _active_ranks(round_id, organization.id)
    rank = data.get("rank") or max(ranks, default=0) + 1
    if rank in ranks:
        raise StateConflict(
            f"Application {ranks[rank].id} has rank {rank} already; change its rank or choose another."
        )
    application = Application(
        round_id=round_id,
        organization_id=organization.id,
        submitted_by_id=actor.user_id,
        rank=rank,
        attendees=data["attendees"],
        description=data.get("description", ""),
        children_youth=data.get("children_youth", False),
        wishes=_wishes(round_, data["wishes"]),
        created_at=now,
        updated_at=now,
    )
    db.session.add(application)
    db.session.flush()
    return application


def list_applications(actor: Actor, round_id: int, organization_id: int | None = None):
    """Admins read every application of the round; members those of their organisations."""
    require_user(actor)
    get_round(round_id)
    query = (
        select(Application)
        .where(Application.round_id == round_id)
        .options(selectinload(Application.wishes))
        .order_by(Application.organization_id, Application.rank.is_(None), Application.rank, Application.id)
    )
    if organization_id is not None:
        query = query.where(Application.organization_id == organization_id)
    if not actor.is_admin:
        if actor.role != "member":
            raise PermissionDenied("Applications are read by their organisations' members and by admins.")
        query = query.where(Application.organization_id.in_(sorted(actor.organization_ids)))
    return query


def allocations_by_application(application_ids: list[int]) -> dict[int, Allocation]:
    if not application_ids:
        return {}
    rows = db.session.execute(
        select(Allocation).where(Allocation.application_id.in_(application_ids))
    ).scalars()
    return {allocation.application_id: allocation for allocation in rows}


def _locked_application(
    actor: Actor, application_id: int, now: datetime | None
) -> tuple[Application, Round, datetime]:
    """The application and its round, locked; and the time, read under the round's lock (a
    close of the window that held the lock first is seen)."""
    require_user(actor)
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound(f"There is no application {application_id}.")
    require_organization(actor, application.organization_id)
    round_ = _lock_round(application.round_id, share=True)
    _lock_organization(application.organization_id)
    application = db.session.execute(
        select(Application)
        .where(Application.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if application.withdrawn_at is not None:
        raise StateConflict("The application has been withdrawn.")
    now = now or utcnow()
    _check_open(round_, now)
    return application, round_, now


def change_application(
    actor: Actor, application_id: int, data: dict, now: datetime | None = None
) -> Application:
    """Change an application until the window closes. A new ``rank`` that another application
    of the organisation holds swaps the two ranks."""
    application, round_, now = _locked_application(actor, application_id, now)
    for key in ("attendees", "description", "children_youth"):
        if key in data:
            setattr(application, key, data[key])
    if "wishes" in data:
        application.wishes = []
        db.session.flush()  # the old wishes' positions are free before the new ones take them
        application.wishes = _wishes(round_, data["wishes"])
    if "rank" in data and data["rank"] != application.rank:
        _move_rank(application, data["rank"])
    application.updated_at = now
    db.session.flush()
    return application


def _move_rank(application: Application, rank: int) -> None:
    """Give ``application`` ``rank``; the application that held it takes the old one. Three
    flushes, because a unique constraint is checked per row: free, move the other, take."""
    holder = _active_ranks(application.round_id, application.organization_id).get(rank)
    old = application.rank
    if holder is None:
        application.rank = rank
        return
    application.rank = None
    db.session.flush()
    holder.rank = old
    holder.updated_at = utcnow()
    db.session.flush()
    application.rank = rank


def withdraw_application(actor: Actor, application_id: int, now: datetime | None = None) -> Application:
    """Withdraw until the window closes; the rank is given up (ranks of the rest stay)."""
    application, _, now = _locked_application(actor, application_id, now)
    application.withdrawn_at = now
    application.rank = None
    application.updated_at = now
    db.session.flush()
    return application


# --- reading a round for allocation ----------------------------------------------------------------


@dataclass
class RoundFacts:
    """What the allocation needs of a round's rooms: the rooms' facts, their buildings' closures
    and the confirmed bookings on their units, projected onto weekly times."""

    rooms: dict[int, Room]
    facts: dict[int, algo.RoomFacts]
    busy: list[algo.Busy]


def _opening(building: Building) -> dict[int, tuple[tuple[int, int], ...]]:
    windows = building.opening_windows
    if not windows:  # empty opening hours mean always open
        return {day: ((0, 1440),) for day in range(7)}
    opening: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for window in windows:
        end = 1440 if window.end == time(0) else window.end.hour * 60 + window.end.minute
        opening[window.weekday].append((window.start.hour * 60 + window.start.minute, end))
    return {day: tuple(sorted(spans)) for day, spans in opening.items()}


def _room_facts(room: Room) -> algo.RoomFacts:
    return algo.RoomFacts(
        room_id=room.id,
        units=frozenset(room.unit_ids),
        capacity=room.capacity,
        buffer_minutes=room.buffer_minutes,
        opening=_opening(room.building),
        min_duration=room.min_duration_minutes,
        max_duration=room.max_duration_minutes,
        active=room.active,
    )


def read_round_facts(round_: Round) -> RoundFacts:
    """Three statements: the rooms (with buildings, closures, units), the units' buildings'
    closures, and the active occupancy of those units during the season."""
    rooms = {
        room.id: room
        for room in db.session.execute(
            select(Room)
            .join(round_rooms, round_rooms.c.room_id == Room.id)
            .where(round_rooms.c.round_id == round_.id)
            .options(joinedload(Room.building), joinedload(Room.units).load_only(Room.id, Room.building_id))
        )
        .unique()
        .scalars()
    }
    unit_building = {unit.id: unit.building_id for room in rooms.values() for unit in room.units}
    closures: dict[int, list[tuple[date, date]]] = {}
    for building_id, start_date, end_date in db.session.execute(
        select(Closure.building_id, Closure.start_date, Closure.end_date).where(
            Closure.building_id.in_(set(unit_building.values())),
            Closure.start_date <= round_.season_end,
            Closure.end_date >= round_.season_start,
        )
    ):
        closures.setdefault(building_id, []).append((start_date, end_date))
    first, after = local_day_bounds(round_.season_start, round_.season_end)
    holds = db.session.execute(
        select(Occupancy.unit_id, Occupancy.start, Occupancy.occupied_until, Occupancy.booking_id).where(
            Occupancy.unit_id.in_(sorted(unit_building)),
            Occupancy.active.is_(True),
            Occupancy.start < after,
            Occupancy.occupied_until > first,
        )
    ).all()
    holidays = holiday_dates(round_.season_start, round_.season_end)

    def counts(unit: int, day: date) -> bool:
        if not round_.season_start <= day <= round_.season_end or day in holidays:
            return False
        return not any(a <= day <= b for a, b in closures.get(unit_building[unit], ()))

    busy = set()
    for unit, start, until, booking_id in holds:
        for day, begin, end in _daily_pieces(start, until):
            if counts(unit, day):
                busy.add(algo.Busy(unit, day.weekday(), begin, end, booking_id))
    return RoundFacts(
        rooms, {room_id: _room_facts(room) for room_id, room in rooms.items()}, sorted(busy, key=_busy_key)
    )


def _busy_key(busy: algo.Busy) -> tuple:
    return (busy.unit, busy.weekday, busy.start, busy.end, busy.booking_id)


def _daily_pieces(start: datetime, until: datetime):
    """``[start, until)`` cut at local midnights: (date, start minute, end minute) per day."""
    start, until = start.astimezone(OSLO), until.astimezone(OSLO)
    day = start.date()
    while True:
        midnight, next_midnight = local_day_bounds(day)
        begin = max(start, midnight)
        end = min(until, next_midnight)
        if begin < end:
            begin_minutes = begin.hour * 60 + begin.minute
            end_minutes = (
                1440 if end == next_midnight else end.hour * 60 + end.minute + (1 if end.second else 0)
            )
            yield day, begin_minutes, max(end_minutes, begin_minutes + 1)
        if until <= next_midnight:
            return
        day += timedelta(days=1)


def _priority_class(organization: Organization, children_youth: bool) -> int:
    if organization.effective_category in PRIORITY_CATEGORIES:
        return 1 if children_youth else 2
    return 3


def _previous_times(round_: Round) -> dict[tuple[int, int, int], list[tuple[int, int]]]:
    """The times held (accepted) in the previous published round of the same rooms (the latest
    published round before this season sharing one of its rooms): (start, end) minutes by
    (organisation, room, weekday), so each wish looks up only its own key."""
    previous = db.session.execute(
        select(Round.id)
        .join(round_rooms, round_rooms.c.round_id == Round.id)
        .where(
            Round.published_at.is_not(None),
            Round.id != round_.id,
            Round.season_start < round_.season_start,
            round_rooms.c.room_id.in_(
                select(round_rooms.c.room_id).where(round_rooms.c.round_id == round_.id)
            ),
        )
        .order_by(Round.season_start.desc(), Round.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    held: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
    if previous is None:
        return held
    rows = db.session.execute(
        select(
            Allocation.organization_id,
            Allocation.room_id,
            Allocation.weekday,
            Allocation.start_minute,
            Allocation.end_minute,
        ).where(Allocation.round_id == previous, Allocation.offer_state == "accepted")
    )
    for organization_id, room_id, weekday, start, end in rows:
        held.setdefault((organization_id, room_id, weekday), []).append((start, end))
    return held


def _continuity(application: Application, held: dict) -> bool:
    """Did the organisation hold one of the application's wishes (same room and weekday, an
    overlapping time) in the previous round? A lookup per wish (was a scan of every held time
    per application: 1.0 of 3.3 s of a 2,000-application round, see BENCHMARKS.md)."""
    return any(
        start < wish.end_minute and wish.start_minute < end
        for wish in application.wishes
        for start, end in held.get((application.organization_id, wish.room_id, wish.weekday), ())
    )


def _applications(round_id: int) -> list[Application]:
    return list(
        db.session.execute(
            select(Application)
            .where(Application.round_id == round_id, Application.withdrawn_at.is_(None))
            .options(joinedload(Application.wishes))  # one statement however many applications
            .order_by(Application.id)
        )
        .unique()
        .scalars()
    )


def _organizations(ids) -> dict[int, Organization]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {
        o.id: o for o in db.session.execute(select(Organization).where(Organization.id.in_(ids))).scalars()
    }


def _pure(application: Application, organization: Organization, held: dict) -> algo.Application:
    return algo.Application(
        id=application.id,
        organization_id=application.organization_id,
        rank=application.rank,
        priority_class=_priority_class(organization, application.children_youth),
        continuity=_continuity(application, held),
        attendees=application.attendees,
        wishes=tuple(
            algo.Wish(w.room_id, w.weekday, w.start_minute, w.end_minute) for w in application.wishes
        ),
    )


# --- allocation -----------------------------------------------------------------------------------


def _explanation(
    application: algo.Application, outcome: algo.Outcome, seed: str, organizations: dict, pure: dict
) -> dict:
    """Why ``application`` got what it got, stored with its allocation: its place in the order
    (class, pass, continuity, lottery number) and for each wish what decided it, naming the
    organisation and class of an application that took it (``pure``: every application of the
    round by id), so the page can say it in words."""
    wishes = []
    for position, (wish, reason) in enumerate(zip(application.wishes, outcome.reasons, strict=True), start=1):
        entry = {
            "position": position,
            "room_id": wish.room_id,
            "weekday": wish.weekday,
            "start": minutes_text(wish.start),
            "end": minutes_text(wish.end),
            "outcome": reason.kind,
        }
        if reason.kind == "application":
            other = pure.get(reason.application_id)
            organization = organizations.get(other.organization_id) if other else None
            entry.update(
                application_id=reason.application_id,
                organization_id=other and other.organization_id,
                organization_name=organization and organization.name,
                higher_class=reason.higher_class,
                other_class=other and other.priority_class,
                other_continuity=other and other.continuity,
            )
        elif reason.kind == "booking":
            entry["booking_id"] = reason.booking_id
        elif reason.kind == "rule":
            entry["rule"] = reason.rule
        wishes.append(entry)
    return {
        "class": application.priority_class,
        "pass": outcome.pass_number,
        "continuity": application.continuity,
        "lottery": algo.lottery(seed, application.id),
        "order": outcome.order,
        "given": None if outcome.given is None else outcome.given + 1,
        "wishes": wishes,
    }


def _row(
    round_: Round, pure: algo.Application, outcome: algo.Outcome, explanation: dict, now, offered: bool
) -> dict:
    given = pure.wishes[outcome.given] if outcome.given is not None else None
    return {
        "round_id": round_.id,
        "application_id": pure.id,
        "organization_id": pure.organization_id,
        "wish_position": None if given is None else outcome.given + 1,
        "room_id": given and given.room_id,
        "weekday": None if given is None else given.weekday,
        "start_minute": None if given is None else given.start,
        "end_minute": None if given is None else given.end,
        "explanation": explanation,
        "order_index": outcome.order,
        "pass_number": max(outcome.pass_number, 1),
        "manual": False,
        "offer_state": "offered" if (given is not None and offered) else None,
        "series_id": None,
        "decided_at": None,
        "created_at": now,
        "updated_at": now,
    }


def allocate_round(actor: Actor, round_id: int, now: datetime | None = None) -> list[Allocation]:
    """Allocate the round (admin) once its window has closed: deterministic, and repeatable until
    published (each run replaces the previous result, changes by hand included). After
    publication it gives the times freed by declined and lapsed offers to the applications that
    got nothing, in the same order, keeping every offer still open or accepted; what it gives is
    offered at once (and mailed)."""
    require_admin(actor)
    now = now or utcnow()
    round_ = _lock_round(round_id)
    if now < round_.closes_at:
        raise StateConflict("The application window is still open; allocate after it closes.")
    if round_.published_at is not None:
        return _reallocate(round_, now)
    facts = read_round_facts(round_)
    applications = _applications(round_id)
    organizations = _organizations(a.organization_id for a in applications)
    held = _previous_times(round_)
    pure = {a.id: _pure(a, organizations[a.organization_id], held) for a in applications}
    outcomes = algo.allocate(list(pure.values()), facts.facts, facts.busy, round_.seed)
    rows = [
        _row(
            round_,
            pure[o.application_id],
            o,
            _explanation(pure[o.application_id], o, round_.seed, organizations, pure),
            now,
            False,
        )
        for o in outcomes
    ]
    db.session.execute(delete(Allocation).where(Allocation.round_id == round_id))
    if rows:
        # Rows with and without a time apart: the ORM's bulk INSERT batches rows of the same
        # shape (NULL columns left out), so interleaved shapes would cost a statement per run.
        db.session.execute(insert(Allocation), sorted(rows, key=lambda row: row["room_id"] is None))
    round_.allocated_at = now
    round_.updated_at = now
    db.session.flush()
    return round_allocations(round_id)


def _store_lapses(round_: Round, now: datetime) -> dict[int, list[int]]:
    """Store as ``lapsed`` every offer of the round still open past its deadline, and tell each
    organisation once (``offer_lapsed``, SPEC §12) in the same transaction; the ids lapsed, by
    organisation. Called with the round's row locked (a change of the round's results, or the
    mail worker's sweep, :func:`lapse_round_offers`), so one transaction stores a round's lapses.

    The UPDATE is conditional (``offer_state = 'offered'``): an accept or decline that locked
    the row first wins, and its row is neither lapsed nor told. Each offer thus lapses in
    exactly one transaction, and that one writes its mail; the event's unique key (the round,
    the organisation and the offers as they were) is a second guard."""
    if round_.published_at is None or now <= round_.offer_deadline:
        return {}
    open_offers = {
        row.id: row
        for row in db.session.execute(
            select(
                Allocation.id,
                Allocation.organization_id,
                Allocation.room_id,
                Allocation.weekday,
                Allocation.start_minute,
                Allocation.end_minute,
                Allocation.updated_at,
            ).where(Allocation.round_id == round_.id, Allocation.offer_state == "offered")
        )
    }
    if not open_offers:
        return {}
    lapsed = db.session.execute(
        update(Allocation)
        .where(Allocation.id.in_(sorted(open_offers)), Allocation.offer_state == "offered")
        .values(offer_state="lapsed", updated_at=now)
        .returning(Allocation.id),
        execution_options={"synchronize_session": "fetch"},
    ).scalars()
    by_org: dict[int, list] = {}
    for allocation_id in sorted(lapsed):
        row = open_offers[allocation_id]
        by_org.setdefault(row.organization_id, []).append(row)
    _emit_lapses(round_, by_org)
    return {organization_id: [row.id for row in rows] for organization_id, rows in by_org.items()}


def _emit_lapses(round_: Round, by_org: dict[int, list]) -> None:
    """One ``offer_lapsed`` event per organisation, with the times as they were (a change by
    hand may give the allocation another time before the mail is sent) and the deadline."""
    from booking.services.notifications import emit_once

    for organization_id, rows in sorted(by_org.items()):
        told = ";".join(f"{row.id}@{row.updated_at.isoformat() if row.updated_at else ''}" for row in rows)
        digest = hashlib.sha256(f"{round_.offer_deadline.isoformat()}|{told}".encode()).hexdigest()[:32]
        emit_once(
            f"offer_lapsed:{round_.id}:{organization_id}:{digest}",
            "offer_lapsed",
            round_id=round_.id,
            organization_id=organization_id,
            allocation_ids=[row.id for row in rows],
            times=[[row.id, row.room_id, row.weekday, row.start_minute, row.end_minute] for row in rows],
            deadline=round_.offer_deadline,
        )


def rounds_with_lapsing_offers(now: datetime):
    """The published rounds whose deadline has passed and that still hold open offers (the mail
    worker's sweep looks for them each pass; one statement, no lock)."""
    return (
        select(Round.id)
        .where(
            Round.published_at.is_not(None),
            Round.offer_deadline < now,
            select(Allocation.id)
            .where(Allocation.round_id == Round.id, Allocation.offer_state == "offered")
            .exists(),
        )
        .order_by(Round.id)
    )


def lapse_round_offers(round_id: int, now: datetime) -> int:
    """Store the round's lapsed offers and write their mails (the mail worker's sweep, so a
    lapse is told without anyone's action), under the round's lock like every change of its
    results; how many offers lapsed. The caller ends the transaction."""
    try:
        round_ = _lock_round(round_id)
    except NotFound:  # deleted meanwhile
        return 0
    return sum(len(ids) for ids in _store_lapses(round_, now).values())


def _check_offers_can_be_answered(round_: Round, now: datetime) -> None:
    """An offer made after the deadline would lapse at once: the admin moves the deadline first."""
    if now > round_.offer_deadline:
        raise StateConflict(
            "The deadline for answering offers has passed; set a new offer_deadline "
            "(PATCH /rounds/{id}) before offering more times.",
            offer_deadline=round_.offer_deadline.isoformat(),
        )


def _reallocate(round_: Round, now: datetime) -> list[Allocation]:
    _check_offers_can_be_answered(round_, now)
    current = {a.application_id: a for a in round_allocations(round_.id)}
    facts = read_round_facts(round_)
    applications = _applications(round_.id)
    organizations = _organizations(a.organization_id for a in applications)
    held = _previous_times(round_)
    pure = {a.id: _pure(a, organizations[a.organization_id], held) for a in applications}
    # Open offers hold their times; accepted ones are held by their series' bookings (in the
    # facts), so a series cancelled since frees its time like a decline.
    kept = [a for a in current.values() if a.offer_state == "offered"]
    given_before = [
        (algo.Wish(a.room_id, a.weekday, a.start_minute, a.end_minute), a.application_id) for a in kept
    ]
    classes = {
        a.application_id: pure[a.application_id].priority_class for a in kept if a.application_id in pure
    }
    waiting = [p for p in pure.values() if current.get(p.id) is None or current[p.id].room_id is None]
    outcomes = algo.allocate(
        waiting, facts.facts, facts.busy, round_.seed, given_before, classes_before=classes
    )
    offered: dict[int, list[int]] = {}
    for outcome in outcomes:
        row = _row(
            round_,
            pure[outcome.application_id],
            outcome,
            _explanation(pure[outcome.application_id], outcome, round_.seed, organizations, pure),
            now,
            True,
        )
        allocation = current.get(outcome.application_id)
        if allocation is None:
            allocation = Allocation(**row)
            db.session.add(allocation)
        else:
            for key, value in row.items():
                if key not in ("created_at", "order_index", "pass_number"):
                    setattr(allocation, key, value)
        if row["offer_state"] == "offered":
            db.session.flush()
            offered.setdefault(row["organization_id"], []).append(allocation.id)
    _emit_offers(round_, offered, "allocation_offered")
    round_.updated_at = now
    db.session.flush()
    return round_allocations(round_.id)


def round_allocations(round_id: int) -> list[Allocation]:
    return list(
        db.session.execute(
            select(Allocation)
            .where(Allocation.round_id == round_id)
            .order_by(Allocation.order_index, Allocation.id)
        ).scalars()
    )


def read_allocations(actor: Actor, round_id: int) -> list[Allocation]:
    require_admin(actor)
    get_round(round_id)
    return round_allocations(round_id)


# --- changes by hand --------------------------------------------------------------------------------


def change_allocation(
    actor: Actor, allocation_id: int, data: dict, now: datetime | None = None
) -> Allocation:
    """Set or clear an allocation's time by hand (admin; audited like every change). The time
    is checked like a wish: the room's rules, confirmed bookings on every counting date of the
    season, and every other time given in the round. Before publication any result may change;
    after it only one that holds no open or accepted offer, and a time set then is offered."""
    require_admin(actor)
    now = now or utcnow()
    allocation = db.session.get(Allocation, allocation_id)
    if allocation is None:
        raise NotFound(f"There is no allocation {allocation_id}.")
    round_ = _lock_round(allocation.round_id)
    _store_lapses(round_, now)
    # Locked and read afresh: an accept or decline of this offer in flight ends first, and the
    # state checked below is the one this change replaces.
    allocation = db.session.execute(
        select(Allocation)
        .where(Allocation.id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    published = round_.published_at is not None
    if published and offer_state(allocation, round_, now) in ("offered", "accepted"):
        raise StateConflict("This offer is open or accepted; it cannot be changed by hand.")
    before = _time_of(allocation)
    if data.get("room_id") is None:
        _set_time(allocation, None)
    else:
        if data["end"] <= data["start"]:
            raise InvalidInput({"end": ["The end must be after the start."]})
        wish = algo.Wish(data["room_id"], data["weekday"], data["start"], data["end"])
        if published:
            _check_offers_can_be_answered(round_, now)
        _check_by_hand(round_, allocation, wish)
        _set_time(allocation, wish)
        if published:
            allocation.offer_state = "offered"
            db.session.flush()
            _emit_offers(round_, {allocation.organization_id: [allocation.id]}, "allocation_offered")
    allocation.manual = True
    allocation.updated_at = now
    explanation = dict(allocation.explanation or {})
    explanation["manual"] = {"before": before, "after": _time_of(allocation), "at": now.isoformat()}
    allocation.explanation = explanation
    db.session.flush()
    return allocation


def _time_of(allocation: Allocation) -> dict | None:
    if allocation.room_id is None:
        return None
    return {
        "room_id": allocation.room_id,
        "weekday": allocation.weekday,
        "start": minutes_text(allocation.start_minute),
        "end": minutes_text(allocation.end_minute),
    }


def _set_time(allocation: Allocation, wish: algo.Wish | None) -> None:
    allocation.wish_position = None
    allocation.room_id = wish and wish.room_id
    allocation.weekday = None if wish is None else wish.weekday
    allocation.start_minute = None if wish is None else wish.start
    allocation.end_minute = None if wish is None else wish.end
    if wish is None:
        allocation.offer_state = None


def _check_by_hand(round_: Round, allocation: Allocation, wish: algo.Wish) -> None:
    """The pure allocation's own test, for one wish against the rest of the round."""
    if wish.end <= wish.start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    facts = read_round_facts(round_)
    if wish.room_id not in facts.facts:
        raise InvalidInput({"room_id": [f"Room {wish.room_id} is not in this round."]})
    application = db.session.get(Application, allocation.application_id)
    others = [
        a
        for a in round_allocations(round_.id)
        if a.id != allocation.id and a.room_id is not None and a.offer_state not in ("declined", "lapsed")
    ]
    given = [
        (algo.Wish(a.room_id, a.weekday, a.start_minute, a.end_minute), a.application_id) for a in others
    ]
    probe = algo.Application(
        allocation.application_id, allocation.organization_id, 1, 1, False, application.attendees, (wish,)
    )
    (outcome,) = algo.allocate([probe], facts.facts, facts.busy, round_.seed, given)
    reason = outcome.reasons[0]
    if reason.kind == "rule":
        raise RuleViolation(reason.rule, f"The time breaks the room's rule {reason.rule}.")
    if reason.kind == "booking":
        raise StateConflict(
            f"Booking {reason.booking_id} holds this time on a date of the season.",
            booking_id=reason.booking_id,
        )
    if reason.kind == "application":
        raise StateConflict(
            f"Application {reason.application_id} was given an overlapping time.",
            application_id=reason.application_id,
        )


# --- publication and offers --------------------------------------------------------------------------


def _emit_offers(round_: Round, offered: dict[int, list[int]], kind: str) -> None:
    """One mail per organisation (SPEC §12): at publication ``allocation_published`` (every
    application's result and its offers); after it ``allocation_offered`` (times offered
    later: freed times allocated, a time set by hand)."""
    from booking.services.notifications import emit

    for organization_id, allocation_ids in sorted(offered.items()):
        emit(
            kind,
            round_id=round_.id,
            organization_id=organization_id,
            allocation_ids=sorted(allocation_ids),
        )


def publish_round(actor: Actor, round_id: int, now: datetime | None = None) -> Round:
    """Publish (admin): every given time becomes an offer to its organisation (one mail per
    organisation, with every application's result); results become public."""
    require_admin(actor)
    now = now or utcnow()
    round_ = _lock_round(round_id)
    if round_.published_at is not None:
        raise StateConflict("The round is published already.")
    if round_.allocated_at is None:
        raise StateConflict("Allocate the round before publishing it.")
    if now < round_.closes_at:
        raise StateConflict("The application window is still open; publish after it closes.")
    _check_offers_can_be_answered(round_, now)
    allocations = round_allocations(round_id)
    by_org: dict[int, list[int]] = {}
    for allocation in allocations:
        by_org.setdefault(allocation.organization_id, []).append(allocation.id)
        if allocation.room_id is not None:
            allocation.offer_state = "offered"
            allocation.updated_at = now
    round_.published_at = now
    round_.updated_at = now
    _emit_offers(round_, by_org, "allocation_published")
    db.session.flush()
    return round_


def _locked_offer(actor: Actor, allocation_id: int, now: datetime) -> tuple[Allocation, Round]:
    require_user(actor)
    allocation = db.session.get(Allocation, allocation_id)
    if allocation is None or allocation.offer_state is None:
        raise NotFound(f"There is no offer {allocation_id}.")
    require_organization(actor, allocation.organization_id)
    begin_write_transaction()
    allocation = db.session.execute(
        select(Allocation)
        .where(Allocation.id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    round_ = db.session.get(Round, allocation.round_id)
    state = offer_state(allocation, round_, now)
    if state != "offered":
        raise StateConflict(f"The offer is {state}; it can no longer be answered.", offer_state=state)
    return allocation, round_


def accept_offer(actor: Actor, allocation_id: int, now: datetime | None = None) -> Allocation:
    """Accept by the deadline: the time becomes a weekly series of confirmed bookings for the
    season (holidays and closures skipped, priced by the price list), booked by the accepting
    user on the municipality's authority: the allocation gave the time, so the room's approval,
    notice and advance rules do not ask again. Dates taken since the allocation are skipped."""
    from booking.services.bookings import BookingRequest, create_booking

    now = now or utcnow()
    allocation, round_ = _locked_offer(actor, allocation_id, now)
    room = db.session.get(Room, allocation.room_id)
    first = _first_date(round_, allocation, room, now)
    if first is None:
        raise StateConflict("No date of the season is left to book.")
    start, end = _local(first, allocation.start_minute), _local(first, allocation.end_minute)
    until = local_day_bounds(round_.season_end)[1] - timedelta(seconds=1)
    application = db.session.get(Application, allocation.application_id)
    title = (application.description or round_.name).strip()[:200] or round_.name
    municipality = Actor(user_id=actor.user_id, role="admin", organization_ids=actor.organization_ids)
    series = create_booking(
        municipality,
        BookingRequest(
            room_id=allocation.room_id,
            organization_id=allocation.organization_id,
            title=title,
            start=start,
            end=end,
            attendees=application.attendees,
            rrule=f"FREQ=WEEKLY;UNTIL={until.astimezone(OSLO):%Y%m%dT%H%M%S}",
            on_conflict="skip",
            skip_holidays=True,
        ),
        # The room's notice and advance limits do not apply to allocated times (SPEC §14): the
        # rules are checked as of just before the first date's notice begins.
        start - timedelta(hours=room.min_notice_hours, minutes=1),
    )
    if not hasattr(series, "occurrences"):  # a single booking: a season with one date left
        series_id = series.series_id
    else:
        series_id = series.id
    allocation.offer_state = "accepted"
    allocation.series_id = series_id
    allocation.decided_at = now
    allocation.updated_at = now
    db.session.flush()
    return allocation


def _first_date(round_: Round, allocation: Allocation, room: Room, now: datetime) -> date | None:
    """The first date of the season on the weekday whose start is far enough ahead (the room's
    notice) to be booked now."""
    day = round_.season_start + timedelta(days=(allocation.weekday - round_.season_start.weekday()) % 7)
    earliest = now + timedelta(hours=room.min_notice_hours)
    while day <= round_.season_end:
        if _local(day, allocation.start_minute) > earliest:
            return day
        day += timedelta(days=7)
    return None


def decline_offer(actor: Actor, allocation_id: int, now: datetime | None = None) -> Allocation:
    """Decline by the deadline: the time is free for a later allocation of freed times."""
    now = now or utcnow()
    allocation, _ = _locked_offer(actor, allocation_id, now)
    allocation.offer_state = "declined"
    allocation.decided_at = now
    allocation.updated_at = now
    db.session.flush()
    return allocation


# --- the public result ----------------------------------------------------------------------------------


def round_result(round_id: int, now: datetime | None = None) -> dict:
    """The published allocation per room: organisation, weekday and time of every offer open
    or accepted, with the rules and the seed. Empty until the round is published."""
    now = now or utcnow()
    round_ = get_round(round_id)
    entries = []
    if round_.published_at is not None:
        rows = db.session.execute(
            select(Allocation, Room.name, Organization.name)
            .join(Room, Room.id == Allocation.room_id)
            .join(Organization, Organization.id == Allocation.organization_id)
            .where(Allocation.round_id == round_id, Allocation.offer_state.in_(("offered", "accepted")))
            .order_by(Allocation.room_id, Allocation.weekday, Allocation.start_minute, Allocation.id)
        ).all()
        for allocation, room_name, organization_name in rows:
            state = offer_state(allocation, round_, now)
            if state == "lapsed":
                continue
            entries.append(
                {
                    "room_id": allocation.room_id,
                    "room_name": room_name,
                    "organization_id": allocation.organization_id,
                    "organization_name": organization_name,
                    "weekday": allocation.weekday,
                    "start": minutes_text(allocation.start_minute),
                    "end": minutes_text(allocation.end_minute),
                    "offer_state": state,
                }
            )
    return {
        "round_id": round_.id,
        "name": round_.name,
        "published": round_.published_at is not None,
        "published_at": round_.published_at,
        "seed": public_seed(round_, now),
        "rules": RULES_TEXT,
        "allocations": entries,
    }


# --- the block on ordinary booking (SPEC §14) -------------------------------------------------------------


def offer_holding(room_id: int, occurrences, now: datetime | None = None) -> tuple[Round, Allocation] | None:
    """An open offer of a published round (before its deadline) whose weekly time, in a room
    sharing a unit with the room, overlaps one of ``occurrences`` on a date of the round's
    season: the offer holds that time until it is answered or lapses. One statement."""
    now = now or utcnow()
    pieces = [piece for start, end in occurrences for piece in _daily_pieces(start, end)]
    if not pieces:
        return None
    days = [day for day, _, _ in pieces]
    offer_units = room_units.alias("offer_units")
    offers = db.session.execute(
        select(Allocation, Round)
        .join(Round, Round.id == Allocation.round_id)
        .join(offer_units, offer_units.c.room_id == Allocation.room_id)
        .where(
            Allocation.offer_state == "offered",
            Round.published_at.is_not(None),
            Round.offer_deadline > now,
            Round.season_start <= max(days),
            Round.season_end >= min(days),
            offer_units.c.unit_id.in_(select(room_units.c.unit_id).where(room_units.c.room_id == room_id)),
        )
        .order_by(Allocation.id)  # an allocation twice (two shared units) is looked at twice: harmless
    ).all()
    holidays = holiday_dates(min(days), max(days)) if offers else set()  # the series skips them
    for allocation, round_ in offers:
        for day, start, end in pieces:
            if (
                day not in holidays
                and round_.season_start <= day <= round_.season_end
                and day.weekday() == allocation.weekday
                and start < allocation.end_minute
                and allocation.start_minute < end
            ):
                return round_, allocation
    return None


def pending_round_blocking(room_id: int, dates: set[date]) -> Round | None:
    """An unpublished round whose season holds one of ``dates`` and whose rooms share a unit
    with the room: members may not book there until it is published. One statement."""
    if not dates:
        return None
    round_units = room_units.alias("round_units")
    candidates = db.session.execute(
        select(Round)
        .join(round_rooms, round_rooms.c.round_id == Round.id)
        .join(round_units, round_units.c.room_id == round_rooms.c.room_id)
        .where(
            Round.published_at.is_(None),
            Round.season_start <= max(dates),
            Round.season_end >= min(dates),
            round_units.c.unit_id.in_(select(room_units.c.unit_id).where(room_units.c.room_id == room_id)),
        )
        .order_by(Round.season_start, Round.id)
        .distinct()
    ).scalars()
    for round_ in candidates:
        if any(round_.season_start <= day <= round_.season_end for day in dates):
            return round_
    return None
