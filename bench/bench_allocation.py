"""``python -m bench allocation``: the seasonal allocation of SPEC §14 against first come, first
served, on one synthetic round, in memory (no database).

The round (fixed random seed, so every run draws the same one):
- ``--rooms`` rooms (500): one in five rooms belongs to a divisible hall (the whole hall and its
  two halves, sharing units), the rest are single rooms of 10 to 80 people; changeover 0, 15 or
  30 minutes; most open every day 08:00-23:00, sports halls weekdays 16:00-23:00 and weekends
  09:00-18:00; some with a shortest (60 min) or longest (240 min) booking.
- A ``--weeks`` (15) week season of existing confirmed bookings: weekly series and single
  bookings, each a dated occurrence, projected the way the service does it (dates that are
  public holidays or in a closure left out, each remaining occurrence to ``Busy`` per unit and
  weekday with its changeover added, duplicates collapsed).
- ``--applications`` applications (2,000) with three wishes each, from organisations with 1-5
  applications each (ranked by the organisation); class mix about 25 % class 1, 35 % class 2,
  40 % class 3; 15 % with continuity. Demand is skewed as it is in a municipality: a third of
  the rooms draw most of the wishes, weekday evenings 17:00-20:00 most of the times. Wish 2 is
  the same room at another time or day, wish 3 a room nearby.
- Submission times uniformly random over the application window: the order first come, first
  served would take them in.

Both orders use the same freeness test (``allocate_in_order``), so the difference is the order
alone. Timed: ``allocate`` (median of ``--repeat`` runs) and first come, first served beside it.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench.common import append_to_part, machine
from booking.domain.allocation import (
    Application,
    Busy,
    Outcome,
    RoomFacts,
    Wish,
    allocate,
    allocate_in_order,
)
from booking.domain.holidays import holiday_dates

HEADING = "### Seasonal allocation (SPEC §14)"
INTRODUCTION = """\
`bench/bench_allocation.py` (`python -m bench allocation`): a synthetic round of 2,000
applications (three wishes each, organisations with 1-5 applications, about 25 % class 1, 35 %
class 2, 40 % class 3, demand skewed to popular rooms and weekday evenings) over 500 rooms (one
in five part of a divisible hall), with a 15-week season of existing bookings projected onto
weekdays (holidays and closures left out). In memory, no database: `allocate` of
`booking/domain/allocation.py` (median of a few runs), and first come, first served on the same
applications in the order they were submitted (random submission times) with the same freeness
test, side by side in one run."""

SEASON_START = date(2027, 1, 4)  # a Monday
CLASS_SHARES = ((1, 0.25), (2, 0.35), (3, 0.40))
EVENING_STARTS = (17 * 60, 17 * 60 + 30, 18 * 60, 18 * 60 + 30, 19 * 60, 20 * 60)


@dataclass
class Round:
    rooms: dict[int, RoomFacts]
    busy: list[Busy]
    applications: list[Application]
    submitted: dict[int, float]  # application id -> submission time (seconds into the window)
    occurrences: int  # dated booking occurrences before projection
    projection_seconds: float


# --- the round -------------------------------------------------------------------------------


def _rooms(rnd: random.Random, count: int) -> tuple[dict[int, RoomFacts], list[list[int]]]:
    """Rooms and their neighbourhoods (rooms of one building, for third wishes)."""
    rooms: dict[int, RoomFacts] = {}
    buildings: list[list[int]] = []
    every_day = {d: ((8 * 60, 23 * 60),) for d in range(7)}
    hall_hours = {d: ((16 * 60, 23 * 60),) for d in range(5)} | {d: ((9 * 60, 18 * 60),) for d in (5, 6)}
    room_id, unit = 0, 0
    while room_id < count:
        building: list[int] = []
        if rnd.random() < 0.21 and count - room_id >= 3:  # about one room in five in a hall
            whole, half_a, half_b = room_id + 1, room_id + 2, room_id + 3
            units = (unit + 1, unit + 2)
            unit += 2
            buffer = rnd.choice((0, 15))
            rooms[whole] = RoomFacts(whole, frozenset(units), 120, buffer, hall_hours, 60, 240)
            rooms[half_a] = RoomFacts(half_a, frozenset({units[0]}), 60, buffer, hall_hours, 60, 240)
            rooms[half_b] = RoomFacts(half_b, frozenset({units[1]}), 60, buffer, hall_hours, 60, 240)
            building += [whole, half_a, half_b]
            room_id += 3
        for _ in range(min(rnd.randint(1, 4), count - room_id)):
            room_id += 1
            unit += 1
            rooms[room_id] = RoomFacts(
                room_id,
                frozenset({unit}),
                rnd.choice((10, 15, 20, 30, 40, 60, 80)),
                rnd.choice((0, 15, 30)),
                every_day,
                rnd.choice((None, None, 60)),
                rnd.choice((None, None, 240)),
            )
            building.append(room_id)
        buildings.append(building)
    return rooms, buildings


def _existing_bookings(
    rnd: random.Random, rooms: dict[int, RoomFacts], weeks: int
) -> list[tuple[int, date, int, int, int]]:
    """Dated confirmed occurrences ``(room, date, start, end, booking id)`` of the season: about
    one weekly series per room (every occurrence its own booking) and a few single bookings."""
    occurrences = []
    booking_id = 0
    for room_id in rooms:
        for _ in range(rnd.choice((0, 1, 1, 2))):  # weekly series
            weekday = rnd.randint(0, 6)
            start = rnd.choice((9 * 60, 16 * 60, 17 * 60, 18 * 60, 19 * 60, 20 * 60))
            end = start + rnd.choice((60, 90, 120))
            for week in range(weeks):
                booking_id += 1
                occurrences.append(
                    (room_id, SEASON_START + timedelta(weeks=week, days=weekday), start, end, booking_id)
                )
        for _ in range(rnd.randint(0, 6)):  # single bookings on one date
            booking_id += 1
            day = SEASON_START + timedelta(days=rnd.randrange(weeks * 7))
            start = rnd.randrange(8 * 60, 21 * 60, 30)
            occurrences.append((room_id, day, start, start + rnd.choice((60, 120)), booking_id))
    return occurrences


def project_busy(
    occurrences: list[tuple[int, date, int, int, int]],
    rooms: dict[int, RoomFacts],
    skipped_dates: frozenset[date],
) -> list[Busy]:
    """What the service does before ``allocate``: leave out the dates that do not count
    (holidays, closures), turn each remaining occurrence into a ``Busy`` per unit of its room
    on its weekday with the room's changeover added to its end, and keep one per distinct
    (unit, weekday, start, end) (the lowest booking id), so a weekly series is one item, not
    one per week."""
    seen: dict[tuple[int, int, int, int], int] = {}
    for room_id, day, start, end, booking_id in occurrences:
        if day in skipped_dates:
            continue
        room = rooms[room_id]
        for unit in room.units:
            key = (unit, day.weekday(), start, end + room.buffer_minutes)
            if key not in seen or booking_id < seen[key]:
                seen[key] = booking_id
    return [Busy(unit, weekday, start, end, bid) for (unit, weekday, start, end), bid in seen.items()]


def _applications(
    rnd: random.Random, rooms: dict[int, RoomFacts], buildings: list[list[int]], count: int
) -> list[Application]:
    building_of = {room_id: building for building in buildings for room_id in building}
    room_ids = list(rooms)
    popular = room_ids[: len(room_ids) // 3]
    rnd.shuffle(popular)
    applications: list[Application] = []
    organization = 0
    while len(applications) < count:
        organization += 1
        reduced = rnd.random() < 0.60  # free or reduced price: classes 1 and 2
        wanted = min(rnd.randint(1, 5), count - len(applications))
        ranks = list(range(1, wanted + 1))
        rnd.shuffle(ranks)
        for rank in ranks:
            children = rnd.random() < 0.25 / 0.60
            priority_class = (1 if children else 2) if reduced else 3
            first_room = rnd.choice(popular) if rnd.random() < 0.7 else rnd.choice(room_ids)
            attendees = max(5, min(rooms[first_room].capacity, int(rnd.gauss(20, 10))))
            if rnd.random() < 0.05:
                attendees = rooms[first_room].capacity + 10  # too many for the room they want
            weekday = rnd.choice((0, 1, 2, 3, 3, 2, 1, 0, 4, 5, 6))
            start = rnd.choice(EVENING_STARTS)
            length = rnd.choice((60, 90, 120))
            other_day = rnd.choice([d for d in range(5) if d != weekday])
            neighbours = [r for r in building_of[first_room] if r != first_room] or room_ids
            wishes = (
                Wish(first_room, weekday, start, start + length),
                Wish(first_room, other_day, start, start + length),
                Wish(rnd.choice(neighbours), weekday, start, start + length),
            )
            applications.append(
                Application(
                    id=len(applications) + 1,
                    organization_id=organization,
                    rank=rank,
                    priority_class=priority_class,
                    continuity=rnd.random() < 0.15,
                    attendees=attendees,
                    wishes=wishes,
                )
            )
    return applications


def generate_round(*, applications: int = 2000, rooms: int = 500, weeks: int = 15, seed: int = 14) -> Round:
    """The synthetic round (the same for the same arguments)."""
    rnd = random.Random(seed)
    facts, buildings = _rooms(rnd, rooms)
    occurrences = _existing_bookings(rnd, facts, weeks)
    last = SEASON_START + timedelta(weeks=weeks) - timedelta(days=1)
    winter_break = frozenset(SEASON_START + timedelta(days=7 * 7 + n) for n in range(7))  # a closure
    skipped = holiday_dates(SEASON_START, last) | winter_break
    started = time.perf_counter()
    busy = project_busy(occurrences, facts, skipped)
    projection = time.perf_counter() - started
    apps = _applications(rnd, facts, buildings, applications)
    submitted = {a.id: rnd.uniform(0, 14 * 24 * 3600) for a in apps}
    return Round(facts, busy, apps, submitted, len(occurrences), projection)


# --- measuring -------------------------------------------------------------------------------


def quality(outcomes: list[Outcome], applications: list[Application]) -> dict:
    """The figures the issue asks for, for one result."""
    by_id = {a.id: a for a in applications}
    per_class = Counter(a.priority_class for a in applications)
    nothing = Counter(by_id[o.application_id].priority_class for o in outcomes if o.given is None)
    first = Counter(by_id[o.application_id].priority_class for o in outcomes if o.given == 0)
    organizations = {a.organization_id for a in applications}
    served = {by_id[o.application_id].organization_id for o in outcomes if o.given is not None}
    return {
        "per_class": dict(per_class),
        "first_wish": {c: first[c] / per_class[c] for c in per_class},
        "nothing": {c: nothing[c] for c in per_class},
        "given": sum(o.given is not None for o in outcomes),
        "organizations": len(organizations),
        "organizations_served": len(served),
    }


def _median_seconds(call, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(
    *,
    applications: int = 2000,
    rooms: int = 500,
    weeks: int = 15,
    repeat: int = 5,
    seed: int = 14,
    command: str = "python -m bench allocation",
    report: bool = True,
    save: bool = True,
) -> dict:
    """Generate the round, time both orders, compare; returns the figures."""
    started = time.perf_counter()
    round_ = generate_round(applications=applications, rooms=rooms, weeks=weeks, seed=seed)
    generated = time.perf_counter() - started
    lottery_seed = f"bench-{seed}"
    rule_seconds, by_rule = _median_seconds(
        lambda: allocate(round_.applications, round_.rooms, round_.busy, lottery_seed), repeat
    )
    submission_order = sorted(round_.applications, key=lambda a: round_.submitted[a.id])
    fcfs_seconds, by_arrival = _median_seconds(
        lambda: allocate_in_order(submission_order, round_.rooms, round_.busy), repeat
    )
    figures = {
        "applications": len(round_.applications),
        "rooms": len(round_.rooms),
        "divisible_rooms": sum(len(r.units) > 1 for r in round_.rooms.values()),
        "occurrences": round_.occurrences,
        "busy": len(round_.busy),
        "projection_seconds": round_.projection_seconds,
        "generate_seconds": generated,
        "rule_seconds": rule_seconds,
        "fcfs_seconds": fcfs_seconds,
        "rule": quality(by_rule, round_.applications),
        "fcfs": quality(by_arrival, round_.applications),
    }
    if report:
        lines = _lines(figures, repeat)
        if save:
            save_report(lines, command)
        else:
            print("\n".join(lines))
    return figures


def _lines(f: dict, repeat: int) -> list[str]:
    rule, fcfs = f["rule"], f["fcfs"]
    count = rule["per_class"]

    def share(value: float) -> str:
        return f"{100 * value:.1f} %"

    def nothing(q: dict, c: int) -> str:
        return f"{q['nothing'][c]} ({share(q['nothing'][c] / count[c])})"

    rows = [
        (
            f"time (median of {repeat} runs)",
            f"{f['rule_seconds'] * 1000:.0f} ms",
            f"{f['fcfs_seconds'] * 1000:.0f} ms",
        ),
        (
            "class-1 applications given their first wish",
            share(rule["first_wish"][1]),
            share(fcfs["first_wish"][1]),
        ),
        (
            "class-2 applications given their first wish",
            share(rule["first_wish"][2]),
            share(fcfs["first_wish"][2]),
        ),
        (
            "class-3 applications given their first wish",
            share(rule["first_wish"][3]),
            share(fcfs["first_wish"][3]),
        ),
        *(
            (f"class-{c} applications ({count[c]}) given nothing", nothing(rule, c), nothing(fcfs, c))
            for c in (1, 2, 3)
        ),
        ("applications given a time", str(rule["given"]), str(fcfs["given"])),
        (
            f"organisations ({rule['organizations']}) given at least one time",
            str(rule["organizations_served"]),
            str(fcfs["organizations_served"]),
        ),
    ]
    changes = ", ".join(
        f"class {c} {before} → {after} ({after - before:+d})"
        for c in (1, 2, 3)
        for before, after in [(fcfs["nothing"][c], rule["nothing"][c])]
    )
    cost = (
        f"- **what the rule costs whom** (first come, first served → the rule): applications given "
        f"nothing: {changes}; class-1 first wishes {share(fcfs['first_wish'][1])} → "
        f"{share(rule['first_wish'][1])}; organisations given a time "
        f"{fcfs['organizations_served']} → {rule['organizations_served']}"
    )
    return [
        f"- round: {f['applications']:,} applications x 3 wishes, {f['rooms']} rooms "
        f"({f['divisible_rooms']} whole halls over two halves), {f['occurrences']:,} dated booking "
        f"occurrences in the season projected to {f['busy']:,} busy (unit, weekday) intervals in "
        f"{f['projection_seconds'] * 1000:.0f} ms "
        f"(round generated in {f['generate_seconds']:.1f} s, not counted)",
        "",
        "| | SPEC §14 rule (`allocate`) | first come, first served |",
        "|---|---:|---:|",
        *(f"| {label} | {a} | {b} |" for label, a, b in rows),
        "",
        cost,
    ]


def save_report(lines: list[str], command: str) -> None:
    """Print the entry and add it at the end of the "Seasonal allocation" part of BENCHMARKS.md
    (the heading and its introduction written the first time), as ``append_report`` does for the
    benchmarks with a database."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    entry = "\n".join(
        [
            f"#### Seasonal allocation (SPEC §14) — {stamp}",
            "",
            f"- machine: {machine()}; load average {load:.1f} at the end",
            "- database: none (pure allocation in memory)",
            f"- command: `{command}`",
            *lines,
            "",
        ]
    )
    append_to_part(HEADING, INTRODUCTION, INTRODUCTION.splitlines()[0], entry)
