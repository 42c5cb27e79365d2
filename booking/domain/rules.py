"""Booking rules of SPEC §4 as pure checks on plain data.

Order of the checks (``find_violations`` lists them in this order and ``check_booking`` raises the
first one):

0. ``end > start`` and attendees not negative: malformed input, ``InvalidInput``.
1. ``room_inactive``: nothing else matters when the room cannot be booked at all.
2. ``closed``: a building closure names the exact dates, which says more than the opening hours.
3. ``outside_opening_hours``: the booking must lie wholly inside the building's opening hours.
4. ``too_short`` / ``too_long``: the shape of the booking, which the user fixes in the same form.
5. ``too_little_notice`` / ``too_far_ahead``: when the booking is made, relative to ``now``.
6. ``over_capacity``: the only rule that is not about time.

Measures, decided here once:

- Durations are real elapsed minutes (through UTC), so a 2-hour booking is 120 minutes even on
  the night of a DST change.
- Notice is real elapsed time from ``now`` to the start; a start in the past is always
  ``too_little_notice``, even when the room asks for no notice.
- Advance booking is counted in Oslo calendar days: with ``max_advance_days=90`` any time on the
  90th day after today may be booked.
- A booking touches every Oslo date from its start up to the instant before its end (one ending
  at midnight does not touch the next day); it is ``closed`` if any of those dates lies in a
  closure. Closures are inclusive date ranges.
- A limit of ``None`` means "no limit"; empty opening hours mean "always open".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from booking.domain.errors import InvalidInput, RuleViolation
from pricing.weekly import OSLO, WEEKDAYS, WeeklyWindow, elapsed, is_within


@dataclass(frozen=True)
class RoomRules:
    """The room's limits; ``None`` for a limit means there is none."""

    capacity: int | None = None
    min_duration_minutes: int | None = None
    max_duration_minutes: int | None = None
    min_notice_hours: int | None = None
    max_advance_days: int | None = None
    is_active: bool = True


@dataclass(frozen=True)
class BuildingRules:
    """When the building may be booked: weekly opening hours (local time; empty = always open)
    and closures as inclusive ``(first_date, last_date)`` ranges."""

    opening_hours: Sequence[WeeklyWindow] = ()
    closures: Sequence[tuple[date, date]] = ()


def validate_interval(start: datetime, end: datetime) -> None:
    """Raise ``InvalidInput`` unless ``end`` is after ``start``; both must be aware."""
    if start.tzinfo is None or end.tzinfo is None:
        # The API edge turns naive input into Oslo time; a naive value here is a bug.
        raise ValueError("start and end must be aware datetimes")
    if end <= start:
        raise InvalidInput({"end": ["The end must be after the start."]})


def local_dates(start: datetime, end: datetime) -> list[date]:
    """The Oslo calendar dates that ``[start, end)`` touches, in order."""
    first = start.astimezone(OSLO).date()
    # The instant just before the end: a booking ending at 00:00 does not touch that day.
    last = (end.astimezone(OSLO) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def closure_on(
    closures: Sequence[tuple[date, date]], start: datetime, end: datetime
) -> tuple[date, date] | None:
    """The first closure that covers any local date of ``[start, end)``, or ``None``."""
    days = local_dates(start, end)
    for first_date, last_date in sorted(closures):
        if any(first_date <= day <= last_date for day in days):
            return first_date, last_date
    return None


def _clock(value: time, is_end: bool = False) -> str:
    # A window ending at 00:00 ends at midnight; "24:00" says so without ambiguity.
    return "24:00" if is_end and value == time(0) else value.strftime("%H:%M")


def describe_opening_hours(windows: Sequence[WeeklyWindow], days: Sequence[date]) -> str:
    """Human-readable opening hours on the weekdays of ``days``, e.g. ``"open Mon 08:00–16:00,
    18:00–22:00"``, ``"closed on Sun"`` or ``"open Sat 10:00–16:00; closed on Sun"``."""
    open_days, closed_days = [], []
    for weekday in dict.fromkeys(day.weekday() for day in days):
        name = WEEKDAYS[weekday].capitalize()
        spans = [f"{_clock(w.start)}–{_clock(w.end, True)}" for w in sorted(windows) if w.weekday == weekday]
        if spans:
            open_days.append(f"{name} {', '.join(spans)}")
        else:
            closed_days.append(name)
    parts = []
    if open_days:
        parts.append("open " + "; ".join(open_days))
    if closed_days:
        parts.append("closed on " + ", ".join(closed_days))
    return "; ".join(parts)


def _minutes(value: timedelta) -> int:
    return int(value.total_seconds() // 60)


def find_violations(
    room: RoomRules, building: BuildingRules, start: datetime, end: datetime, attendees: int, now: datetime
) -> list[RuleViolation]:
    """Every rule the booking ``[start, end)`` breaks, in the documented order (empty when it may
    be made). Raises ``InvalidInput`` for malformed input (end not after start, negative
    attendees)."""
    validate_interval(start, end)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if attendees < 0:
        raise InvalidInput({"attendees": ["The number of attendees cannot be negative."]})
    violations: list[RuleViolation] = []

    if not room.is_active:
        violations.append(RuleViolation("room_inactive", "The room is not open for booking."))

    closure = closure_on(building.closures, start, end)
    if closure is not None:
        first_date, last_date = closure
        span = (
            f"on {first_date:%Y-%m-%d}"
            if first_date == last_date
            else f"from {first_date:%Y-%m-%d} to {last_date:%Y-%m-%d}"
        )
        violations.append(
            RuleViolation(
                "closed",
                f"The building is closed {span}.",
                closed_from=first_date.isoformat(),
                closed_to=last_date.isoformat(),
            )
        )

    if building.opening_hours and not is_within(building.opening_hours, start, end):
        hours = describe_opening_hours(building.opening_hours, local_dates(start, end))
        violations.append(
            RuleViolation(
                "outside_opening_hours",
                f"The room is {hours}. The booking must lie wholly inside the opening hours.",
            )
        )

    duration = _minutes(elapsed(start, end))
    if room.min_duration_minutes is not None and elapsed(start, end) < timedelta(
        minutes=room.min_duration_minutes
    ):
        violations.append(
            RuleViolation(
                "too_short",
                f"Bookings must be at least {room.min_duration_minutes} minutes; "
                f"this one is {duration} minutes.",
                limit=room.min_duration_minutes,
            )
        )
    if room.max_duration_minutes is not None and elapsed(start, end) > timedelta(
        minutes=room.max_duration_minutes
    ):
        violations.append(
            RuleViolation(
                "too_long",
                f"Bookings may be at most {room.max_duration_minutes} minutes; "
                f"this one is {duration} minutes.",
                limit=room.max_duration_minutes,
            )
        )

    notice = elapsed(now, start)
    if notice < timedelta(0):
        violations.append(RuleViolation("too_little_notice", "The booking starts in the past."))
    elif room.min_notice_hours is not None and notice < timedelta(hours=room.min_notice_hours):
        violations.append(
            RuleViolation(
                "too_little_notice",
                f"Bookings must be made at least {room.min_notice_hours} hours before they start.",
                limit=room.min_notice_hours,
            )
        )
    if room.max_advance_days is not None:
        last_date = now.astimezone(OSLO).date() + timedelta(days=room.max_advance_days)
        if start.astimezone(OSLO).date() > last_date:
            violations.append(
                RuleViolation(
                    "too_far_ahead",
                    f"Bookings can be made at most {room.max_advance_days} days ahead "
                    f"(up to {last_date:%Y-%m-%d}).",
                    limit=room.max_advance_days,
                )
            )

    if room.capacity is not None and attendees > room.capacity:
        violations.append(
            RuleViolation(
                "over_capacity",
                f"The room holds at most {room.capacity} people; {attendees} attendees were given.",
                limit=room.capacity,
            )
        )
    return violations


def check_booking(
    room: RoomRules, building: BuildingRules, start: datetime, end: datetime, attendees: int, now: datetime
) -> None:
    """Raise the first ``RuleViolation`` (in the documented order) that the booking
    ``[start, end)`` of ``attendees`` people, made at ``now``, breaks; ``InvalidInput`` when
    ``end`` is not after ``start``. Returns ``None`` when the booking may be made."""
    violations = find_violations(room, building, start, end, attendees, now)
    if violations:
        raise violations[0]
