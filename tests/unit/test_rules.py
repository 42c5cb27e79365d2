"""Booking rules of SPEC §4."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from booking.domain.errors import InvalidInput, RuleViolation
from booking.domain.rules import (
    BuildingRules,
    RoomRules,
    check_booking,
    closure_on,
    describe_opening_hours,
    find_violations,
    local_dates,
)
from pricing.weekly import OSLO, WeeklyWindow

# Mon-Fri 08:00-22:00, Saturday 10:00-16:00, closed Sunday.
WEEKDAY_HOURS = [WeeklyWindow(d, time(8), time(22)) for d in range(5)] + [WeeklyWindow(5, time(10), time(16))]
ROOM = RoomRules(
    capacity=30,
    min_duration_minutes=60,
    max_duration_minutes=240,
    min_notice_hours=24,
    max_advance_days=90,
    is_active=True,
)
BUILDING = BuildingRules(opening_hours=WEEKDAY_HOURS, closures=[(date(2026, 12, 22), date(2027, 1, 2))])
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=OSLO)  # a Monday


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def _rule(room=ROOM, building=BUILDING, start=None, end=None, attendees=10, now=NOW) -> str:
    start = start or _at(2026, 6, 3, 18)
    end = end or start + timedelta(hours=2)
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(room, building, start, end, attendees, now)
    return excinfo.value.rule


def test_a_good_booking_passes():
    assert check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 20), 30, NOW) is None


def test_end_must_be_after_start():
    with pytest.raises(InvalidInput) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 18), 10, NOW)
    assert "end" in excinfo.value.errors
    with pytest.raises(InvalidInput):
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 17), 10, NOW)


def test_negative_attendees_are_invalid():
    with pytest.raises(InvalidInput) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 20), -1, NOW)
    assert "attendees" in excinfo.value.errors


def test_naive_datetimes_are_a_programming_error():
    with pytest.raises(ValueError):
        check_booking(ROOM, BUILDING, datetime(2026, 6, 3, 18), datetime(2026, 6, 3, 20), 10, NOW)


def test_room_inactive():
    assert _rule(room=RoomRules(is_active=False)) == "room_inactive"


def test_closed_on_a_closure_date():
    assert _rule(start=_at(2026, 12, 22, 10)) == "closed"
    assert _rule(start=_at(2027, 1, 2, 10)) == "closed"  # last day is inclusive


def test_closed_when_the_booking_runs_into_a_closure():
    building = BuildingRules(closures=[(date(2026, 6, 4), date(2026, 6, 4))])
    assert _rule(building=building, start=_at(2026, 6, 3, 23), end=_at(2026, 6, 4, 1)) == "closed"
    # Ending exactly at midnight does not touch the closed day.
    check_booking(RoomRules(), building, _at(2026, 6, 3, 22), _at(2026, 6, 4, 0), 1, NOW)


def test_closed_detail_names_the_dates():
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 12, 28, 10), _at(2026, 12, 28, 12), 5, _at(2026, 12, 1, 10))
    assert excinfo.value.detail == "The building is closed from 2026-12-22 to 2027-01-02."


def test_outside_opening_hours():
    assert _rule(start=_at(2026, 6, 3, 21), end=_at(2026, 6, 3, 23)) == "outside_opening_hours"
    assert _rule(start=_at(2026, 6, 3, 7, 30), end=_at(2026, 6, 3, 9)) == "outside_opening_hours"
    assert _rule(start=_at(2026, 6, 7, 12)) == "outside_opening_hours"  # Sunday


def test_exactly_the_opening_hours_are_allowed():
    check_booking(RoomRules(), BUILDING, _at(2026, 6, 3, 8), _at(2026, 6, 3, 22), 1, NOW)


def test_outside_opening_hours_detail_names_the_hours():
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 21), _at(2026, 6, 3, 23), 5, NOW)
    assert excinfo.value.detail == (
        "The room is open Wed 08:00–22:00. The booking must lie wholly inside the opening hours."
    )
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 7, 12), _at(2026, 6, 7, 14), 5, NOW)
    assert "closed on Sun" in excinfo.value.detail


def test_empty_opening_hours_mean_always_open():
    check_booking(RoomRules(), BuildingRules(), _at(2026, 6, 7, 2), _at(2026, 6, 7, 5), 1, NOW)


def test_overnight_opening_hours():
    building = BuildingRules(
        opening_hours=[WeeklyWindow(4, time(18), time(0)), WeeklyWindow(5, time(0), time(2))]
    )
    check_booking(RoomRules(), building, _at(2026, 6, 5, 23), _at(2026, 6, 6, 1), 1, NOW)
    with pytest.raises(RuleViolation):
        check_booking(RoomRules(), building, _at(2026, 6, 5, 23), _at(2026, 6, 6, 3), 1, NOW)


def test_too_short_and_too_long_with_limits_in_detail():
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 18, 59), 5, NOW)
    assert excinfo.value.rule == "too_short"
    assert "at least 60 minutes" in excinfo.value.detail
    check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 19), 5, NOW)
    check_booking(ROOM, BUILDING, _at(2026, 6, 3, 14), _at(2026, 6, 3, 18), 5, NOW)
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 14), _at(2026, 6, 3, 18, 1), 5, NOW)
    assert excinfo.value.rule == "too_long"
    assert "at most 240 minutes" in excinfo.value.detail


def test_duration_is_real_time_across_dst():
    # 01:00-04:00 local on 25 October is four real hours (an hour repeats).
    room = RoomRules(max_duration_minutes=180)
    now = _at(2026, 10, 1, 12)
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(room, BuildingRules(), _at(2026, 10, 25, 1), _at(2026, 10, 25, 4), 1, now)
    assert "this one is 240 minutes" in excinfo.value.detail


def test_too_little_notice():
    assert _rule(start=_at(2026, 6, 2, 11, 59), end=_at(2026, 6, 2, 13, 59)) == "too_little_notice"
    check_booking(ROOM, BUILDING, _at(2026, 6, 2, 12), _at(2026, 6, 2, 14), 5, NOW)


def test_start_in_the_past_is_too_little_notice_even_without_a_notice_rule():
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(RoomRules(), BuildingRules(), _at(2026, 6, 1, 11), _at(2026, 6, 1, 13), 1, NOW)
    assert excinfo.value.rule == "too_little_notice"
    assert "past" in excinfo.value.detail


def test_too_far_ahead_counts_calendar_days():
    # NOW is 2026-06-01; 90 days later is 2026-08-30, bookable at any time of that day.
    check_booking(ROOM, BUILDING, _at(2026, 8, 28, 18), _at(2026, 8, 28, 20), 5, NOW)
    check_booking(ROOM, BuildingRules(), _at(2026, 8, 30, 21), _at(2026, 8, 30, 23), 5, NOW)
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BuildingRules(), _at(2026, 8, 31, 9), _at(2026, 8, 31, 11), 5, NOW)
    assert excinfo.value.rule == "too_far_ahead"
    assert "90 days" in excinfo.value.detail and "2026-08-30" in excinfo.value.detail


def test_over_capacity():
    check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 20), 30, NOW)
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 20), 31, NOW)
    assert excinfo.value.rule == "over_capacity"
    assert "at most 30 people" in excinfo.value.detail


def test_no_limits_means_anything_goes():
    check_booking(RoomRules(), BuildingRules(), _at(2026, 6, 1, 12), _at(2027, 6, 1, 12), 10_000, NOW)


def test_check_order_reports_the_first_rule():
    # Everything is wrong at once: inactive room, closure, Sunday, too short, in the past, too many.
    start = _at(2026, 12, 27, 3)
    violations = find_violations(
        RoomRules(capacity=1, min_duration_minutes=60, max_advance_days=1, is_active=False),
        BUILDING,
        start,
        start + timedelta(minutes=30),
        5,
        NOW,
    )
    assert [v.rule for v in violations] == [
        "room_inactive",
        "closed",
        "outside_opening_hours",
        "too_short",
        "too_far_ahead",
        "over_capacity",
    ]
    with pytest.raises(RuleViolation) as excinfo:
        check_booking(
            RoomRules(min_duration_minutes=60, capacity=1),
            BUILDING,
            start,
            start + timedelta(minutes=30),
            5,
            NOW,
        )
    assert excinfo.value.rule == "closed"


def test_violation_carries_the_limit():
    violations = find_violations(ROOM, BUILDING, _at(2026, 6, 3, 18), _at(2026, 6, 3, 20), 31, NOW)
    assert [(v.rule, v.extra.get("limit")) for v in violations] == [("over_capacity", 30)]


def test_local_dates():
    assert local_dates(_at(2026, 6, 3, 23), _at(2026, 6, 4, 0)) == [date(2026, 6, 3)]
    assert local_dates(_at(2026, 6, 3, 23), _at(2026, 6, 5, 0, 1)) == [
        date(2026, 6, 3),
        date(2026, 6, 4),
        date(2026, 6, 5),
    ]


def test_closure_on():
    closures = [(date(2026, 7, 1), date(2026, 7, 31))]
    assert closure_on(closures, _at(2026, 6, 30, 22), _at(2026, 7, 1, 1)) == (
        date(2026, 7, 1),
        date(2026, 7, 31),
    )
    assert closure_on(closures, _at(2026, 6, 30, 22), _at(2026, 7, 1, 0)) is None


def test_describe_opening_hours():
    windows = [WeeklyWindow(0, time(8), time(12)), WeeklyWindow(0, time(18), time(0))]
    assert describe_opening_hours(windows, [date(2026, 6, 1)]) == "open Mon 08:00–12:00, 18:00–24:00"
    assert describe_opening_hours(windows, [date(2026, 6, 1), date(2026, 6, 2)]) == (
        "open Mon 08:00–12:00, 18:00–24:00; closed on Tue"
    )
