"""Seasonal allocation (SPEC §14): who gets which weekly time, by rules written down in advance.

The rules, in words (they are published with the round):

1. **Order.** The applications are considered one at a time, in this order:

   a. *Class.* Class 1: activities for children and youth (under 20) of organisations that pay
      the free or reduced price. Class 2: other applications of such organisations. Class 3:
      the rest. All of class 1 comes before all of class 2, which comes before all of class 3.
   b. *Passes within a class.* Every organisation's first application in the class (by the
      organisation's own ranking of its applications) comes first, then every organisation's
      second one, and so on: no organisation has a second application considered in a class
      before every other organisation in it has had its first considered. (Two applications of
      one organisation with the same rank are taken by their application number.)
   c. *Within a pass*, applications with continuity come first: the organisation held the same
      room, on the same weekday and at an overlapping time, in the previous round of the same
      rooms.
   d. *Then a lottery:* the applications are taken in ascending order of the SHA-256 hash (in
      hexadecimal) of the text ``"{seed}:{application number}"``, where the seed is published
      with the round, so anyone can recompute the order.

2. **Each application gets the first of its wishes (in the applicant's order) that is free** and
   nothing else; the later wishes are then not considered. A wish is free when

   - the room exists and is open for booking, the time lies wholly inside one of the room's
     opening windows on that weekday, its length is within the room's shortest and longest
     booking, and the room holds the application's attendees (rules are checked in this order);
   - on no date of the season that counts (Norwegian public holidays and the building's closures
     left out) does it overlap a confirmed booking of any part of the room (a divisible hall and
     its halves share parts);
   - it overlaps no wish already given in this allocation on any shared part of the room.

   Each booking and each given wish keeps its room's changeover time after it: a wish occupies
   ``[start, end + changeover)`` and two occupancies overlap when those intervals do
   (touching is fine). Notice and advance limits do not apply.

3. **Every wish gets an explanation**: given; taken by a booking (which); taken by an application
   earlier in the order (which, and whether it was of a higher class); refused by a rule (which);
   or not considered because an earlier wish was given. When several things stand in a wish's
   way the explanation names the first of: a rule, a booking, the earliest application.

Decisions of this module (not policy, but needed for a single answer):

- Times are wall-clock minutes of the day in Europe/Oslo (0..1440) and weekdays 0 = Monday;
  the caller projects the season's dates onto weekdays (``Busy``), so nothing here loops over
  dates. A changeover that runs past midnight reaches into the next weekday's first minutes.
- A room with no opening windows at all (an empty ``opening``) is always open, as in
  :mod:`booking.domain.rules`; a weekday missing from a non-empty ``opening`` is closed.
  Touching or overlapping windows of a weekday count as one.
- For each (unit, weekday) the occupancies are kept as sorted, disjoint blocks (overlapping
  bookings from different dates merge into one block), found by bisection: about
  O(applications × wishes × units × log n).
"""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DAY_MINUTES = 1440
WEEKDAYS = 7

REASON_KINDS = ("given", "application", "booking", "rule", "not_considered")
RULES = (
    "unknown_room",
    "room_inactive",
    "outside_opening_hours",
    "too_short",
    "too_long",
    "over_capacity",
)


# --- the data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wish:
    """One weekly time an application asks for: room, weekday (0 = Monday), ``[start, end)`` in
    minutes after local midnight."""

    room_id: int
    weekday: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday < WEEKDAYS:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise ValueError("a wish needs 0 <= start < end <= 1440 (minutes of the day)")


@dataclass(frozen=True)
class Application:
    """An application with its wishes (1..3) in the applicant's order. ``rank`` is the
    organisation's own ranking of its applications (1 = most wanted)."""

    id: int
    organization_id: int
    rank: int
    priority_class: int
    continuity: bool
    attendees: int
    wishes: tuple[Wish, ...]


@dataclass(frozen=True)
class RoomFacts:
    """What allocation needs to know of a room. ``units`` are the atomic parts it occupies;
    ``opening`` maps a weekday to its open windows in minutes (empty mapping: always open)."""

    room_id: int
    units: frozenset[int]
    capacity: int
    buffer_minutes: int
    opening: dict[int, tuple[tuple[int, int], ...]]
    min_duration: int | None
    max_duration: int | None
    active: bool = True


@dataclass(frozen=True)
class Busy:
    """Something already holding a unit on this weekday on at least one date of the season that
    counts (holidays and closures already left out by the caller): a confirmed booking."""

    unit: int
    weekday: int
    start: int  # minutes, buffer of the booking already added to end by the caller
    end: int
    booking_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday < WEEKDAYS:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= self.start < self.end <= 2 * DAY_MINUTES:
            raise ValueError("a busy time needs 0 <= start < end <= 2880 (minutes, buffer included)")


@dataclass(frozen=True)
class Reason:
    """Why a wish was not given (or that it was)."""

    kind: str  # "given" | "application" | "booking" | "rule" | "not_considered"
    application_id: int | None = None  # kind == "application": which application took it
    higher_class: bool = False  # that application was in a higher class
    booking_id: int | None = None  # kind == "booking"
    rule: str | None = None  # kind == "rule": one of RULES
    # "not_considered": an earlier wish was given


@dataclass(frozen=True)
class Outcome:
    """The result of one application: the index of the wish given (or ``None``), a reason per
    wish, its position in the allocation order and its pass within its class."""

    application_id: int
    given: int | None
    reasons: tuple[Reason, ...]
    order: int
    pass_number: int


GIVEN = Reason("given")
NOT_CONSIDERED = Reason("not_considered")


# --- the order -------------------------------------------------------------------------------


def lottery(seed: str, application_id: int) -> str:
    """The application's lottery ticket: SHA-256 of ``"{seed}:{application id}"`` in hex (lower
    case). Lower tickets go first."""
    return hashlib.sha256(f"{seed}:{application_id}".encode()).hexdigest()


def order_key(application: Application, pass_number: int, seed: str) -> tuple:
    """Sort key of SPEC §14: class, pass, continuity first, then the lottery."""
    return (
        application.priority_class,
        pass_number,
        not application.continuity,
        lottery(seed, application.id),
    )


def pass_numbers(applications: Iterable[Application]) -> dict[int, int]:
    """Application id -> its pass in its class: 1 for each organisation's best-ranked
    application in that class, 2 for its second, ... (equal ranks by application id)."""
    groups: dict[tuple[int, int], list[Application]] = defaultdict(list)
    for application in applications:
        groups[(application.priority_class, application.organization_id)].append(application)
    numbers = {}
    for group in groups.values():
        group.sort(key=lambda a: (a.rank, a.id))
        for position, application in enumerate(group, start=1):
            numbers[application.id] = position
    return numbers


def allocation_order(applications: Iterable[Application], seed: str) -> list[tuple[Application, int]]:
    """The applications in allocation order, each with its pass number. The input order does not
    matter (the application id settles the impossible tie of two equal hashes)."""
    applications = list(applications)
    ids = [a.id for a in applications]
    if len(set(ids)) != len(ids):
        raise ValueError("application ids must be unique")
    passes = pass_numbers(applications)
    ordered = sorted(applications, key=lambda a: (order_key(a, passes[a.id], seed), a.id))
    return [(a, passes[a.id]) for a in ordered]


# --- occupancy per (unit, weekday) -----------------------------------------------------------


@dataclass(frozen=True)
class _Holder:
    """Who holds an interval: a booking, or a given wish (application id and its position in
    the order; given-before wishes sort before everything)."""

    start: int
    end: int
    booking_id: int | None = None
    application_id: int | None = None
    order: int = -1


@dataclass
class _Block:
    start: int
    end: int
    holders: list[_Holder] = field(default_factory=list)


class _Line:
    """The occupancies of one unit on one weekday as disjoint blocks sorted by start. Holders
    that overlap or touch share a block, so a block is a gapless union of its holders: an
    interval overlaps some holder of a block exactly when it overlaps the block."""

    __slots__ = ("starts", "blocks")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.blocks: list[_Block] = []

    @classmethod
    def of(cls, holders: list[_Holder]) -> _Line:
        """Build from many holders at once (sort and sweep)."""
        line = cls()
        for holder in sorted(holders, key=lambda h: (h.start, h.end)):
            if line.blocks and holder.start <= line.blocks[-1].end:
                last = line.blocks[-1]
                last.end = max(last.end, holder.end)
                last.holders.append(holder)
            else:
                line.blocks.append(_Block(holder.start, holder.end, [holder]))
                line.starts.append(holder.start)
        return line

    def blocking(self, start: int, end: int) -> list[_Holder]:
        """The holders whose interval overlaps ``[start, end)``."""
        # Blocks are disjoint and sorted by start (so by end too): the ones overlapping are a
        # run ending with the last block that starts before ``end``; usually none or one.
        found: list[_Holder] = []
        index = bisect.bisect_left(self.starts, end) - 1
        while index >= 0 and self.blocks[index].end > start:
            found += [h for h in self.blocks[index].holders if h.start < end and start < h.end]
            index -= 1
        return found

    def add(self, holder: _Holder) -> None:
        """Insert one holder, merging the blocks it overlaps or touches."""
        first = bisect.bisect_left(self.starts, holder.start)
        if first > 0 and self.blocks[first - 1].end >= holder.start:
            first -= 1
        last = bisect.bisect_right(self.starts, holder.end)
        merged = self.blocks[first:last]
        block = _Block(
            min([holder.start] + [b.start for b in merged]),
            max([holder.end] + [b.end for b in merged]),
            [h for b in merged for h in b.holders] + [holder],
        )
        self.blocks[first:last] = [block]
        self.starts[first:last] = [block.start]


def _segments(weekday: int, start: int, end: int) -> list[tuple[int, int, int]]:
    """``(weekday, start, end)`` pieces of an occupancy; the part past midnight (a changeover)
    belongs to the next weekday."""
    if end <= DAY_MINUTES:
        return [(weekday, start, end)]
    return [(weekday, start, DAY_MINUTES), ((weekday + 1) % WEEKDAYS, 0, end - DAY_MINUTES)]


class _Occupancy:
    """Every unit's lines: the bookings, then the wishes given as the allocation goes."""

    def __init__(self, busy: Iterable[Busy]) -> None:
        pending: dict[tuple[int, int], list[_Holder]] = defaultdict(list)
        for item in busy:
            for weekday, start, end in _segments(item.weekday, item.start, item.end):
                pending[(item.unit, weekday)].append(_Holder(start, end, booking_id=item.booking_id))
        self.lines: dict[tuple[int, int], _Line] = {key: _Line.of(h) for key, h in pending.items()}

    def blocking(self, room: RoomFacts, wish: Wish) -> list[_Holder]:
        found: list[_Holder] = []
        for weekday, start, end in _segments(wish.weekday, wish.start, wish.end + room.buffer_minutes):
            for unit in room.units:
                line = self.lines.get((unit, weekday))
                if line is not None:
                    found += line.blocking(start, end)
        return found

    def give(self, room: RoomFacts, wish: Wish, application_id: int, order: int) -> None:
        for weekday, start, end in _segments(wish.weekday, wish.start, wish.end + room.buffer_minutes):
            holder = _Holder(start, end, application_id=application_id, order=order)
            for unit in room.units:
                self.lines.setdefault((unit, weekday), _Line()).add(holder)


# --- the rules -------------------------------------------------------------------------------


def broken_rule(room: RoomFacts | None, wish: Wish, attendees: int) -> str | None:
    """The first room rule the wish breaks (in the order of :data:`RULES`), or ``None``."""
    if room is None:
        return "unknown_room"
    if not room.active:
        return "room_inactive"
    if room.opening and not _inside(room.opening.get(wish.weekday, ()), wish.start, wish.end):
        return "outside_opening_hours"
    duration = wish.end - wish.start
    if room.min_duration is not None and duration < room.min_duration:
        return "too_short"
    if room.max_duration is not None and duration > room.max_duration:
        return "too_long"
    if attendees > room.capacity:
        return "over_capacity"
    return None


def _inside(windows: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """True when ``[start, end)`` lies wholly inside the union of ``windows``."""
    reached = start
    for window_start, window_end in sorted(windows):
        if window_start > reached:
            break
        reached = max(reached, window_end)
        if reached >= end:
            return True
    return False


# --- the allocation --------------------------------------------------------------------------


def allocate(
    applications: Iterable[Application],
    rooms: Mapping[int, RoomFacts],
    busy: Iterable[Busy],
    seed: str,
    given_before: Iterable[tuple[Wish, int]] = (),
    *,
    classes_before: Mapping[int, int] | None = None,
) -> list[Outcome]:
    """Allocate by SPEC §14 (see the module docstring): outcomes in allocation order.

    ``given_before`` holds ``(wish, application id)`` already given and kept (accepted offers
    when freed times are allocated again after publication); they occupy their rooms before
    anything else. ``classes_before`` (application id -> class) lets explanations say whether
    such an application was of a higher class.
    """
    return allocate_in_order(
        allocation_order(applications, seed),
        rooms,
        busy,
        given_before,
        classes_before=classes_before,
    )


def allocate_in_order(
    ordered: Iterable[tuple[Application, int]] | Iterable[Application],
    rooms: Mapping[int, RoomFacts],
    busy: Iterable[Busy],
    given_before: Iterable[tuple[Wish, int]] = (),
    *,
    classes_before: Mapping[int, int] | None = None,
) -> list[Outcome]:
    """Give each application, in the order given, its first free wish. ``ordered`` holds
    ``(application, pass number)`` pairs or bare applications (pass 0): the benchmark uses
    this with submission order for first come, first served."""
    occupancy = _Occupancy(busy)
    classes: dict[int, int] = dict(classes_before or {})
    for wish, application_id in given_before:
        room = rooms.get(wish.room_id)
        if room is not None:
            occupancy.give(room, wish, application_id, order=-1)
    outcomes = []
    for position, item in enumerate(ordered):
        application, pass_number = item if isinstance(item, tuple) else (item, 0)
        classes[application.id] = application.priority_class
        outcomes.append(_consider(application, pass_number, position, rooms, occupancy, classes))
    return outcomes


def _consider(
    application: Application,
    pass_number: int,
    position: int,
    rooms: Mapping[int, RoomFacts],
    occupancy: _Occupancy,
    classes: Mapping[int, int],
) -> Outcome:
    reasons: list[Reason] = []
    given = None
    for index, wish in enumerate(application.wishes):
        if given is not None:
            reasons.append(NOT_CONSIDERED)
            continue
        room = rooms.get(wish.room_id)
        rule = broken_rule(room, wish, application.attendees)
        if rule is not None:
            reasons.append(Reason("rule", rule=rule))
            continue
        holders = occupancy.blocking(room, wish)
        if holders:
            reasons.append(_taken_by(holders, application, classes))
            continue
        occupancy.give(room, wish, application.id, position)
        reasons.append(GIVEN)
        given = index
    return Outcome(application.id, given, tuple(reasons), position, pass_number)


def _taken_by(holders: list[_Holder], application: Application, classes: Mapping[int, int]) -> Reason:
    """The explanation for a wish that overlaps ``holders``: a booking if any (the one starting
    first, then the lowest id), else the earliest application in the order."""
    bookings = [h for h in holders if h.booking_id is not None]
    if bookings:
        first = min(bookings, key=lambda h: (h.start, h.booking_id))
        return Reason("booking", booking_id=first.booking_id)
    first = min(holders, key=lambda h: (h.order, h.application_id))
    other_class = classes.get(first.application_id)
    higher = other_class is not None and other_class < application.priority_class
    return Reason("application", application_id=first.application_id, higher_class=higher)
