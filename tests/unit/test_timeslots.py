"""The Python overlap rule against the shared boundary table, plus property tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.domain.conflicts import Occupancy, find_conflicts
from booking.domain.timeslots import local_day_bounds, occupied_until, overlaps
from pricing.weekly import OSLO, elapsed, uncovered
from tests.boundary_cases import BOUNDARY_CASES, BoundaryCase


def _conflict(case: BoundaryCase) -> bool:
    existing, requested = case.existing, case.requested
    shares_unit = bool(existing.units & requested.units)
    return shares_unit and overlaps(
        existing.start,
        occupied_until(existing.end, existing.buffer_minutes),
        requested.start,
        occupied_until(requested.end, requested.buffer_minutes),
    )


def test_boundary_case_names_are_unique():
    names = [case.name for case in BOUNDARY_CASES]
    assert len(names) == len(set(names))


def test_boundary_table_has_both_outcomes():
    # A table where every case expects the same answer would pass a rule that ignores its input.
    outcomes = [case.conflict for case in BOUNDARY_CASES]
    assert outcomes.count(True) >= 5 and outcomes.count(False) >= 5


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.name)
def test_boundary_table_python_rule(case: BoundaryCase):
    assert _conflict(case) is case.conflict


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.name)
def test_boundary_table_is_symmetric(case: BoundaryCase):
    swapped = BoundaryCase(case.name, case.requested, case.existing, case.conflict)
    assert _conflict(swapped) is case.conflict


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.name)
def test_boundary_table_find_conflicts(case: BoundaryCase):
    existing = Occupancy.of_booking(
        booking_id=1,
        unit_ids=case.existing.units,
        start=case.existing.start,
        end=case.existing.end,
        buffer_minutes=case.existing.buffer_minutes,
    )
    requested = Occupancy.of_booking(
        booking_id=None,
        unit_ids=case.requested.units,
        start=case.requested.start,
        end=case.requested.end,
        buffer_minutes=case.requested.buffer_minutes,
    )
    pairs = find_conflicts([requested], [existing])
    assert pairs == ([(requested, existing)] if case.conflict else [])


def test_touching_intervals_do_not_overlap():
    a = datetime(2026, 6, 1, 18, tzinfo=OSLO)
    b = a + timedelta(hours=2)
    c = b + timedelta(hours=2)
    assert not overlaps(a, b, b, c)
    assert not overlaps(b, c, a, b)
    assert overlaps(a, b + timedelta(microseconds=1), b, c)


def test_occupied_until_adds_the_buffer():
    end = datetime(2026, 6, 1, 20, tzinfo=OSLO)
    assert occupied_until(end, 0) == end
    assert occupied_until(end, 45) == datetime(2026, 6, 1, 20, 45, tzinfo=OSLO)


def test_occupied_until_counts_real_minutes_across_dst():
    # 02:30 CEST on the autumn change is 00:30 UTC; 60 real minutes later is 02:30 CET. Plain
    # wall-clock addition would give 03:30 CET, two real hours.
    end = datetime(2026, 10, 25, 2, 30, tzinfo=OSLO)
    until = occupied_until(end, 60)
    assert until.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert until.tzinfo is OSLO


def test_occupied_until_rejects_negative_buffer():
    with pytest.raises(ValueError):
        occupied_until(datetime(2026, 6, 1, tzinfo=UTC), -1)


# Minutes in a small range so overlaps, touches and containment all happen often.
_minutes = st.integers(min_value=0, max_value=60)
_intervals = st.tuples(_minutes, st.integers(min_value=1, max_value=30)).map(lambda t: (t[0], t[0] + t[1]))
_BASE = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)


def _at(minute: int) -> datetime:
    return _BASE + timedelta(minutes=minute)


@given(_intervals, _intervals)
def test_overlap_is_symmetric(a, b):
    assert overlaps(_at(a[0]), _at(a[1]), _at(b[0]), _at(b[1])) == overlaps(
        _at(b[0]), _at(b[1]), _at(a[0]), _at(a[1])
    )


@given(_intervals, _intervals)
def test_overlap_agrees_with_minute_sets(a, b):
    # Brute force: the minutes each half-open interval covers, [start, end).
    shared = set(range(*a)) & set(range(*b))
    assert overlaps(_at(a[0]), _at(a[1]), _at(b[0]), _at(b[1])) == bool(shared)


@given(_intervals, _intervals, st.integers(0, 30), st.integers(0, 30))
def test_occupancy_overlap_agrees_with_minute_sets(a, b, buffer_a, buffer_b):
    shared = set(range(a[0], a[1] + buffer_a)) & set(range(b[0], b[1] + buffer_b))
    result = overlaps(
        _at(a[0]), occupied_until(_at(a[1]), buffer_a), _at(b[0]), occupied_until(_at(b[1]), buffer_b)
    )
    assert result == bool(shared)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 6, 10), 24), (date(2026, 3, 29), 23), (date(2026, 10, 25), 25)],
)
def test_a_local_day_is_midnight_to_midnight_in_oslo(day, hours):
    start, end = local_day_bounds(day)
    assert start == datetime(day.year, day.month, day.day, tzinfo=OSLO)
    assert end.astimezone(OSLO).date() == day + timedelta(days=1) and end.astimezone(OSLO).hour == 0
    assert elapsed(start, end) == timedelta(hours=hours)


def test_local_days_span_from_the_first_midnight_to_the_one_after_the_last_day():
    start, end = local_day_bounds(date(2026, 10, 1), date(2026, 10, 31))
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 22, tzinfo=UTC)  # summer time
    assert end.astimezone(UTC) == datetime(2026, 10, 31, 23, tzinfo=UTC)  # winter time
    assert local_day_bounds(date(2026, 10, 1), date(2026, 10, 1)) == local_day_bounds(date(2026, 10, 1))


def test_uncovered_leaves_the_gaps_between_unsorted_overlapping_covers():
    covered = [(_at(40), _at(50)), (_at(10), _at(20)), (_at(15), _at(25)), (_at(90), _at(99))]
    assert uncovered(_at(0), _at(60), covered) == [(_at(0), _at(10)), (_at(25), _at(40)), (_at(50), _at(60))]
    assert uncovered(_at(10), _at(25), covered) == []
    assert uncovered(_at(20), _at(30), []) == [(_at(20), _at(30))]


@given(_intervals, st.lists(_intervals, max_size=5))
def test_uncovered_agrees_with_minute_sets(interval, covered):
    left = set(range(*interval)).difference(*(set(range(*c)) for c in covered))
    pieces = uncovered(_at(interval[0]), _at(interval[1]), [(_at(a), _at(b)) for a, b in covered])

    def minute(instant: datetime) -> int:
        return int((instant - _BASE).total_seconds() // 60)

    assert {m for a, b in pieces for m in range(minute(a), minute(b))} == left
    assert all(a < b for a, b in pieces)
    # in time order and maximal: each piece ends before the next one starts, never touching it
    assert all(first[1] < second[0] for first, second in zip(pieces, pieces[1:], strict=False))


def test_domain_package_imports_no_framework_and_nothing_outside_the_domain():
    # The domain stays pure (STYLE: booking/domain imports neither Flask nor the database);
    # checked on the source because importing ``booking`` itself runs the app package.
    import ast
    from pathlib import Path

    import booking.domain

    allowed_booking = "booking.domain"
    paths = sorted(Path(booking.domain.__file__).parent.glob("*.py"))
    assert len(paths) >= 7  # errors, organizations and the five modules of this package
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: use absolute imports"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in {
                    "flask",
                    "flask_sqlalchemy",
                    "flask_smorest",
                    "sqlalchemy",
                    "marshmallow",
                }, f"{path.name} imports {name}"
                if top == "booking":
                    assert name == allowed_booking or name.startswith(allowed_booking + "."), (
                        f"{path.name} imports {name}"
                    )
