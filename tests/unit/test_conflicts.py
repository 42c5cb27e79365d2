"""Conflict finding, free-slot suggestions and competing requests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.domain.conflicts import (
    Occupancy,
    PendingRequest,
    competing_groups,
    find_conflicts,
    priority_key,
    suggest_slots,
    suggested_winner,
)
from booking.domain.timeslots import overlaps
from pricing.weekly import OSLO, WeeklyWindow, is_within

WHOLE, PART_A, PART_B = frozenset({1, 2}), frozenset({1}), frozenset({2})
EVERY_DAY_8_22 = [WeeklyWindow(d, time(8), time(22)) for d in range(7)]


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def _occ(booking_id, units, start, end, buffer=0, org=None) -> Occupancy:
    return Occupancy.of_booking(
        booking_id=booking_id,
        unit_ids=units,
        start=start,
        end=end,
        buffer_minutes=buffer,
        organization_name=org,
    )


# --- find_conflicts -------------------------------------------------------------------------


def test_find_conflicts_lists_every_blocking_pair_in_order():
    existing = [
        _occ(10, WHOLE, _at(2026, 6, 8, 18), _at(2026, 6, 8, 20), org="Choir"),
        _occ(11, PART_B, _at(2026, 6, 1, 19), _at(2026, 6, 1, 21), org="Band"),
        _occ(12, PART_A, _at(2026, 6, 1, 17), _at(2026, 6, 1, 18, 30), org="Chess"),
        _occ(13, PART_A, _at(2026, 6, 15, 20), _at(2026, 6, 15, 22), org="Chess"),
    ]
    series = [_occ(None, PART_A, _at(2026, 6, d, 18), _at(2026, 6, d, 20)) for d in (1, 8, 15, 22)]
    pairs = find_conflicts(series, existing)
    assert [(r.start.day, b.booking_id) for r, b in pairs] == [(1, 12), (8, 10)]
    assert pairs[1][1].organization_name == "Choir"


def test_find_conflicts_several_blockers_for_one_request_sorted_by_start():
    existing = [
        _occ(2, PART_B, _at(2026, 6, 1, 19), _at(2026, 6, 1, 20)),
        _occ(1, PART_A, _at(2026, 6, 1, 18), _at(2026, 6, 1, 19)),
    ]
    pairs = find_conflicts([_occ(None, WHOLE, _at(2026, 6, 1, 17), _at(2026, 6, 1, 21))], existing)
    assert [b.booking_id for _, b in pairs] == [1, 2]


def test_a_booking_does_not_block_its_own_move():
    existing = [_occ(7, WHOLE, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20))]
    moved = _occ(7, WHOLE, _at(2026, 6, 1, 19), _at(2026, 6, 1, 21))
    assert find_conflicts([moved], existing) == []
    other = _occ(8, WHOLE, _at(2026, 6, 1, 19), _at(2026, 6, 1, 21))
    assert len(find_conflicts([other], existing)) == 1


def test_find_conflicts_respects_buffer():
    existing = [_occ(1, WHOLE, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20), buffer=15)]
    assert find_conflicts([_occ(None, WHOLE, _at(2026, 6, 1, 20, 10), _at(2026, 6, 1, 21))], existing)
    assert not find_conflicts([_occ(None, WHOLE, _at(2026, 6, 1, 20, 15), _at(2026, 6, 1, 21))], existing)


_slot = st.tuples(
    st.sampled_from([PART_A, PART_B, WHOLE]), st.integers(0, 40), st.integers(1, 10), st.integers(0, 3)
)


@settings(max_examples=200)
@given(st.lists(_slot, max_size=6), st.lists(_slot, max_size=12))
def test_find_conflicts_agrees_with_brute_force(requested_raw, existing_raw):
    base = datetime(2026, 6, 1, tzinfo=UTC)

    def build(raw, first_id):
        return [
            _occ(
                first_id + i if first_id else None,
                units,
                base + timedelta(minutes=15 * s),
                base + timedelta(minutes=15 * (s + n)),
                15 * b,
            )
            for i, (units, s, n, b) in enumerate(raw)
        ]

    requested, existing = build(requested_raw, None), build(existing_raw, 100)
    expected = {
        (i, j)
        for i, r in enumerate(requested)
        for j, e in enumerate(existing)
        # Minute sets of each occupancy, unit by unit.
        if {
            (u, m)
            for u in r.unit_ids
            for m in range(
                int((r.start - base).total_seconds() // 60),
                int((r.occupied_until - base).total_seconds() // 60),
            )
        }
        & {
            (u, m)
            for u in e.unit_ids
            for m in range(
                int((e.start - base).total_seconds() // 60),
                int((e.occupied_until - base).total_seconds() // 60),
            )
        }
    }
    pairs = find_conflicts(requested, existing)
    # Equal requests are equal dataclasses; tell them apart by identity.
    position = {id(o): n for n, o in enumerate(requested)} | {id(o): n for n, o in enumerate(existing)}
    got = {(position[id(r)], position[id(e)]) for r, e in pairs}
    assert got == expected
    assert len(pairs) == len(expected)


# --- suggest_slots --------------------------------------------------------------------------

NOW = _at(2026, 5, 1, 12)
AROUND = _at(2026, 6, 3, 18)  # Wednesday


def test_suggestions_are_nearest_first_on_both_sides():
    busy = [(_at(2026, 6, 3, 17), _at(2026, 6, 3, 20))]
    slots = suggest_slots(timedelta(hours=2), AROUND, busy, EVERY_DAY_8_22, [], 0, NOW, limit=2)
    # 20:00 is two hours after the requested 18:00, 15:00 three hours before it.
    assert slots == [(_at(2026, 6, 3, 20), _at(2026, 6, 3, 22)), (_at(2026, 6, 3, 15), _at(2026, 6, 3, 17))]
    busy = [(_at(2026, 6, 3, 18), _at(2026, 6, 3, 21))]
    slots = suggest_slots(timedelta(hours=2), AROUND, busy, EVERY_DAY_8_22, [], 0, NOW, limit=2)
    assert slots == [(_at(2026, 6, 3, 16), _at(2026, 6, 3, 18)), (_at(2026, 6, 3, 14), _at(2026, 6, 3, 16))]


def test_suggestions_leave_room_for_the_buffer():
    busy = [(_at(2026, 6, 3, 17), _at(2026, 6, 3, 20))]
    slots = suggest_slots(timedelta(hours=2), AROUND, busy, EVERY_DAY_8_22, [], 30, NOW, limit=2)
    # 15:00-17:00 plus a 30-minute buffer would reach into the busy time, so 14:30; 20:00-22:00
    # fits (a buffer may run past closing).
    assert slots == [
        (_at(2026, 6, 3, 20), _at(2026, 6, 3, 22)),
        (_at(2026, 6, 3, 14, 30), _at(2026, 6, 3, 16, 30)),
    ]


def test_suggestions_respect_opening_hours_closures_and_now():
    busy = [(_at(2026, 6, 3, 8), _at(2026, 6, 3, 22))]
    closures = [(date(2026, 6, 4), date(2026, 6, 4))]
    now = _at(2026, 6, 3, 7)
    slots = suggest_slots(timedelta(hours=2), AROUND, busy, EVERY_DAY_8_22, closures, 0, now, limit=3)
    # 3 June is full, 4 June closed, nothing before now: the next ones are on 5 June.
    assert slots == [
        (_at(2026, 6, 5, 8), _at(2026, 6, 5, 10)),
        (_at(2026, 6, 5, 10), _at(2026, 6, 5, 12)),
        (_at(2026, 6, 5, 12), _at(2026, 6, 5, 14)),
    ]


def test_suggestions_are_on_the_quarter_hour_grid():
    around = _at(2026, 6, 3, 18, 7)
    busy = [(_at(2026, 6, 3, 17), _at(2026, 6, 3, 20, 5))]
    slots = suggest_slots(timedelta(minutes=50), around, busy, [], [], 0, NOW, limit=5)
    assert all(s.minute % 15 == 0 and s.second == 0 for s, _ in slots)
    assert slots[0] == (_at(2026, 6, 3, 16, 0), _at(2026, 6, 3, 16, 50))
    assert (_at(2026, 6, 3, 20, 15), _at(2026, 6, 3, 21, 5)) in slots


def test_suggestions_do_not_overlap_each_other():
    slots = suggest_slots(timedelta(hours=2), AROUND, [(AROUND, AROUND + timedelta(hours=2))], [], [], 0, NOW)
    assert len(slots) == 5
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            assert not overlaps(*a, *b)


def test_no_suggestion_when_everything_is_taken():
    busy = [(_at(2026, 5, 1), _at(2026, 8, 1))]
    assert suggest_slots(timedelta(hours=1), AROUND, busy, [], [], 0, NOW) == []


def test_suggestions_are_limited_by_the_horizon():
    busy = [(_at(2026, 5, 20), _at(2026, 6, 16))]
    assert suggest_slots(timedelta(hours=1), AROUND, busy, [], [], 0, NOW, horizon_days=7) == []
    slots = suggest_slots(timedelta(hours=1), AROUND, busy, [], [], 0, NOW, horizon_days=14, limit=1)
    assert slots == [(_at(2026, 6, 16, 0), _at(2026, 6, 16, 1))]


def test_suggestions_return_oslo_time():
    slots = suggest_slots(timedelta(hours=1), AROUND.astimezone(UTC), [], [], [], 0, NOW, limit=1)
    assert slots == [(AROUND, AROUND + timedelta(hours=1))]
    assert slots[0][0].tzinfo is OSLO


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-48, 48), st.integers(1, 16)), max_size=8),
    st.integers(1, 12),
    st.sampled_from([0, 15, 30]),
)
def test_suggestion_properties(busy_raw, quarters, buffer):
    busy = [
        (AROUND + timedelta(minutes=30 * s), AROUND + timedelta(minutes=30 * (s + n))) for s, n in busy_raw
    ]
    duration = timedelta(minutes=15 * quarters)
    now = AROUND - timedelta(days=1)
    slots = suggest_slots(duration, AROUND, busy, EVERY_DAY_8_22, [], buffer, now, horizon_days=3)
    assert len(slots) <= 5
    distances = [abs(s - AROUND) for s, _ in slots]
    assert distances == sorted(distances)
    for start, end in slots:
        assert end - start == duration and start >= now
        assert is_within(EVERY_DAY_8_22, start, end)
        assert not any(overlaps(start, end + timedelta(minutes=buffer), b, e) for b, e in busy)


# --- competing requests -----------------------------------------------------------------------


def _req(booking_id, units, start, end, category="full", created=None) -> PendingRequest:
    return PendingRequest(
        booking_id=booking_id,
        unit_ids=units,
        start=start,
        occupied_until=end,
        price_category=category,
        created_at=created or _at(2026, 5, 1, 12),
    )


def test_competing_groups_are_connected_components():
    a = _req(1, WHOLE, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20))
    b = _req(2, PART_A, _at(2026, 6, 1, 19), _at(2026, 6, 1, 21))
    c = _req(3, PART_A, _at(2026, 6, 1, 20, 30), _at(2026, 6, 1, 22))  # overlaps b only
    d = _req(4, PART_B, _at(2026, 6, 1, 20), _at(2026, 6, 1, 22))  # touches a, misses b and c
    e = _req(5, WHOLE, _at(2026, 6, 2, 18), _at(2026, 6, 2, 20))  # alone
    f = _req(6, PART_B, _at(2026, 6, 2, 19), _at(2026, 6, 2, 21))
    groups = competing_groups([f, e, d, c, b, a])
    assert [[r.booking_id for r in g] for g in groups] == [[1, 2, 3], [5, 6]]


def test_separate_parts_do_not_compete():
    a = _req(1, PART_A, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20))
    b = _req(2, PART_B, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20))
    assert competing_groups([a, b]) == []


def test_competing_groups_work_on_occupancies_too():
    a = _occ(1, WHOLE, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20))
    b = _occ(2, PART_B, _at(2026, 6, 1, 19), _at(2026, 6, 1, 21))
    assert competing_groups([b, a]) == [[a, b]]


@settings(max_examples=100)
@given(st.lists(_slot, max_size=10))
def test_competing_groups_properties(raw):
    base = datetime(2026, 6, 1, tzinfo=UTC)
    requests = [
        _req(i, units, base + timedelta(minutes=15 * s), base + timedelta(minutes=15 * (s + n)))
        for i, (units, s, n, _) in enumerate(raw)
    ]
    groups = competing_groups(requests)
    grouped = [r.booking_id for g in groups for r in g]
    assert len(grouped) == len(set(grouped))  # each request in at most one group

    def competes(x, y):
        return bool(x.unit_ids & y.unit_ids) and overlaps(
            x.start, x.occupied_until, y.start, y.occupied_until
        )

    group_of = {r.booking_id: n for n, g in enumerate(groups) for r in g}
    for x in requests:
        for y in requests:
            if x is not y and competes(x, y):
                assert group_of[x.booking_id] == group_of[y.booking_id]
    for x in requests:
        if x.booking_id not in group_of:
            assert not any(competes(x, y) for y in requests if y is not x)


def test_suggested_winner_prefers_category_then_earlier_then_lower_id():
    start, end = _at(2026, 6, 1, 18), _at(2026, 6, 1, 20)
    full_early = _req(1, WHOLE, start, end, "full", _at(2026, 4, 1, 9))
    reduced = _req(2, WHOLE, start, end, "reduced", _at(2026, 5, 1, 9))
    free_late = _req(3, WHOLE, start, end, "free", _at(2026, 5, 20, 9))
    free_later = _req(4, WHOLE, start, end, "free", _at(2026, 5, 21, 9))
    assert suggested_winner([full_early, reduced, free_later, free_late]) == free_late
    assert suggested_winner([full_early, reduced]) == reduced
    same_time = _at(2026, 5, 1, 9)
    assert (
        suggested_winner(
            [_req(9, WHOLE, start, end, "full", same_time), _req(8, WHOLE, start, end, "full", same_time)]
        ).booking_id
        == 8
    )


def test_suggested_winner_rejects_nonsense():
    with pytest.raises(ValueError):
        suggested_winner([])
    with pytest.raises(ValueError):
        priority_key(_req(1, WHOLE, _at(2026, 6, 1, 18), _at(2026, 6, 1, 20), "vip"))


@given(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=-2000, max_value=30000),
)
@settings(max_examples=300, deadline=None)
def test_candidates_come_nearest_first_and_earlier_on_a_tie(count, offset_minutes):
    from booking.domain.conflicts import _nearest_first

    step, first = timedelta(minutes=15), datetime(2027, 3, 1, 12, tzinfo=UTC)
    around = first + timedelta(minutes=offset_minutes)
    expected = sorted((first + n * step for n in range(count + 1)), key=lambda c: (abs(c - around), c))
    assert list(_nearest_first(first, count, step, around)) == expected
