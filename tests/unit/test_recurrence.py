"""RRULE subset: parsing, limits, and expansion in Oslo wall-clock time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.rrule import rrulestr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from booking.domain.errors import InvalidInput
from booking.domain.recurrence import (
    MAX_OCCURRENCES,
    MAX_SPAN_DAYS,
    RecurrenceRule,
    expand,
    normalize_rrule,
    parse_rrule,
)
from pricing.weekly import OSLO, elapsed


def _oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def _message(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    assert list(excinfo.value.errors) == ["recurrence"]
    return excinfo.value.errors["recurrence"][0]


# --- parsing -------------------------------------------------------------------------------


def test_parse_full_rule():
    rule = parse_rrule("FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU,-1FR;COUNT=6")
    assert rule == RecurrenceRule(freq="MONTHLY", interval=2, byday=((2, 1), (-1, 4)), count=6)


def test_parse_is_case_insensitive_and_accepts_prefix():
    assert parse_rrule("RRULE:freq=weekly;byday=mo,we;count=4") == parse_rrule(
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261215", datetime(2026, 12, 15, 22, 59, 59, tzinfo=UTC)),  # end of the Oslo day (CET)
        ("20260615", datetime(2026, 6, 15, 21, 59, 59, tzinfo=UTC)),  # end of the Oslo day (CEST)
        ("20261215T180000", datetime(2026, 12, 15, 17, 0, tzinfo=UTC)),  # Oslo local time
        ("20260615T180000", datetime(2026, 6, 15, 16, 0, tzinfo=UTC)),
        ("20261215T170000Z", datetime(2026, 12, 15, 17, 0, tzinfo=UTC)),  # UTC as given
    ],
)
def test_parse_until_forms(text, expected):
    assert parse_rrule(f"FREQ=DAILY;UNTIL={text}").until == expected


@pytest.mark.parametrize(
    ("rrule", "fragment"),
    [
        ("FREQ=SECONDLY;COUNT=5", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=YEARLY;COUNT=5", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=5", "BYSETPOS is not supported"),
        ("FREQ=WEEKLY;WKST=SU;COUNT=5", "WKST is not supported"),
        ("FREQ=WEEKLY;X-FOO=1;COUNT=5", "X-FOO is not supported"),
        ("FREQ=DAILY;COUNT=1000000000", "at most 200"),
        ("FREQ=DAILY;COUNT=" + "9" * 5000, "at most 200"),
        ("FREQ=DAILY;COUNT=201", "at most 200"),
        ("FREQ=DAILY;COUNT=0", "between 1 and 200"),
        ("FREQ=DAILY;COUNT=-3", "whole number"),
        ("FREQ=DAILY;COUNT=３", "whole number"),  # a full-width digit is not ASCII
        ("FREQ=DAILY;COUNT=1.5", "whole number"),
        ("FREQ=DAILY;INTERVAL=0;COUNT=3", "INTERVAL must be between 1"),
        ("FREQ=DAILY;INTERVAL=abc;COUNT=3", "whole number"),
        ("FREQ=DAILY", "must end"),
        ("FREQ=WEEKLY;BYDAY=TU", "must end"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261215", "either UNTIL or COUNT"),
        ("FREQ=DAILY;COUNT=3;COUNT=4", "more than once"),
        ("COUNT=3", "FREQ is required"),
        ("FREQ=WEEKLY;BYDAY=2TU;COUNT=3", "only allowed with FREQ=MONTHLY"),
        ("FREQ=DAILY;BYDAY=-1FR;COUNT=3", "only allowed with FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYDAY=6TU;COUNT=3", "1 to 5"),
        ("FREQ=MONTHLY;BYDAY=0TU;COUNT=3", "1 to 5"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "BYDAY must list days"),
        ("FREQ=WEEKLY;BYDAY=;COUNT=3", "NAME=VALUE"),
        ("FREQ=WEEKLY;BYDAY=+TU;COUNT=3", "sign but no number"),
        ("FREQ=DAILY;UNTIL=2026-12-15", "UNTIL must be a date"),
        ("FREQ=DAILY;UNTIL=20260231", "UNTIL must be a date"),
        ("FREQ=DAILY;UNTIL=20261215T250000", "UNTIL must be a date"),
        ("garbage", "NAME=VALUE"),
        ("", "required"),
        ("   ", "required"),
        ("FREQ=DAILY;;COUNT=3", "NAME=VALUE"),
    ],
)
def test_invalid_rules_are_rejected_with_a_clear_message(rrule, fragment):
    with pytest.raises(InvalidInput) as excinfo:
        parse_rrule(rrule)
    assert fragment in _message(excinfo)


# --- limits -------------------------------------------------------------------------------

_START = _oslo(2026, 3, 3, 18, 0)  # a Tuesday
_END = _oslo(2026, 3, 3, 20, 0)


def test_count_200_daily_is_allowed():
    occurrences = expand("FREQ=DAILY;COUNT=200", _START, _END)
    assert len(occurrences) == 200


def test_more_than_200_occurrences_by_until_is_rejected_not_truncated():
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=DAILY;UNTIL=20261231", _START, _END)
    assert "more than 200 occurrences" in _message(excinfo)


def test_span_over_366_days_is_rejected():
    # 54 weeks: few occurrences, but the last one starts 371 days after the first.
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=WEEKLY;COUNT=54", _START, _END)
    assert "at most 366 days after the first" in _message(excinfo)


def test_span_of_exactly_366_days_is_allowed():
    occurrences = expand("FREQ=DAILY;INTERVAL=183;COUNT=3", _START, _END)
    assert occurrences[-1][0].date() - occurrences[0][0].date() == timedelta(days=366)


def test_far_until_with_few_occurrences_past_the_span_is_rejected():
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=MONTHLY;UNTIL=20280101", _START, _END)
    assert "366 days" in _message(excinfo)


def test_start_that_does_not_match_the_rule_is_rejected():
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=WEEKLY;BYDAY=MO;COUNT=3", _START, _END)  # _START is a Tuesday
    assert "must itself be an occurrence" in _message(excinfo)


def test_until_before_start_is_rejected():
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=DAILY;UNTIL=20260101", _START, _END)
    assert "before the start" in _message(excinfo)


def test_end_not_after_start_is_invalid():
    with pytest.raises(InvalidInput) as excinfo:
        expand("FREQ=DAILY;COUNT=2", _START, _START)
    assert "end" in excinfo.value.errors


def test_naive_start_is_a_programming_error():
    with pytest.raises(ValueError):
        expand("FREQ=DAILY;COUNT=2", datetime(2026, 3, 3, 18), datetime(2026, 3, 3, 20))


# --- expansion ----------------------------------------------------------------------------


def test_weekly_series_keeps_18_local_across_both_dst_changes():
    start, end = _oslo(2026, 3, 3, 18), _oslo(2026, 3, 3, 20)
    occurrences = expand("FREQ=WEEKLY;BYDAY=TU;UNTIL=20261110", start, end)
    assert len(occurrences) == 37  # every Tuesday from 3 March to 10 November
    for occurrence_start, occurrence_end in occurrences:
        assert occurrence_start.tzinfo is OSLO
        assert occurrence_start.time() == time(18) and occurrence_end.time() == time(20)
        assert occurrence_start.weekday() == 1
        assert elapsed(occurrence_start, occurrence_end) == timedelta(hours=2)
    by_date = {s.date(): s for s, _ in occurrences}
    # UTC moves by an hour at each change while local time stays 18:00.
    assert by_date[date(2026, 3, 24)].utcoffset() == timedelta(hours=1)
    assert by_date[date(2026, 3, 31)].utcoffset() == timedelta(hours=2)
    assert by_date[date(2026, 10, 20)].utcoffset() == timedelta(hours=2)
    assert by_date[date(2026, 10, 27)].utcoffset() == timedelta(hours=1)
    assert by_date[date(2026, 3, 31)].astimezone(UTC).hour == 16
    assert by_date[date(2026, 10, 27)].astimezone(UTC).hour == 17


def test_start_given_in_utc_is_expanded_in_oslo_time():
    start = datetime(2026, 3, 24, 17, 0, tzinfo=UTC)  # 18:00 CET
    occurrences = expand("FREQ=WEEKLY;COUNT=2", start, start + timedelta(hours=1))
    assert occurrences[1][0] == _oslo(2026, 3, 31, 18)
    assert occurrences[1][0].astimezone(UTC) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


def test_monthly_ordinal_days():
    start, end = _oslo(2026, 1, 13, 18), _oslo(2026, 1, 13, 19)  # second Tuesday of January
    starts = [s.date() for s, _ in expand("FREQ=MONTHLY;BYDAY=2TU;COUNT=4", start, end)]
    assert starts == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10), date(2026, 4, 14)]


def test_monthly_last_friday():
    start, end = _oslo(2026, 1, 30, 18), _oslo(2026, 1, 30, 19)
    starts = [s.date() for s, _ in expand("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", start, end)]
    assert starts == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_monthly_on_the_31st_skips_short_months():
    start, end = _oslo(2026, 1, 31, 10), _oslo(2026, 1, 31, 11)
    starts = [s.date() for s, _ in expand("FREQ=MONTHLY;COUNT=3", start, end)]
    assert starts == [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]


def test_weekly_interval_and_several_days():
    start, end = _oslo(2026, 6, 1, 17), _oslo(2026, 6, 1, 18)  # Monday
    starts = [s.date() for s, _ in expand("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=4", start, end)]
    assert starts == [date(2026, 6, 1), date(2026, 6, 4), date(2026, 6, 15), date(2026, 6, 18)]


def test_daily_with_byday_limits_the_days():
    start, end = _oslo(2026, 6, 5, 17), _oslo(2026, 6, 5, 18)  # Friday
    starts = [s.weekday() for s, _ in expand("FREQ=DAILY;BYDAY=MO,FR;COUNT=4", start, end)]
    assert starts == [4, 0, 4, 0]


def test_until_date_is_inclusive():
    occurrences = expand("FREQ=WEEKLY;UNTIL=20260317", _START, _END)
    assert [s.date() for s, _ in occurrences] == [date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17)]


def test_until_local_time_equal_to_a_start_includes_it():
    occurrences = expand("FREQ=WEEKLY;UNTIL=20260317T180000", _START, _END)
    assert occurrences[-1][0] == _oslo(2026, 3, 17, 18)
    occurrences = expand("FREQ=WEEKLY;UNTIL=20260317T175959", _START, _END)
    assert occurrences[-1][0] == _oslo(2026, 3, 10, 18)


def test_until_utc_after_dst_change():
    # 18:00 CEST on 31 March is 16:00 UTC; an UNTIL of 16:00Z includes it, 15:59:59Z does not.
    assert expand("FREQ=WEEKLY;UNTIL=20260331T160000Z", _START, _END)[-1][0] == _oslo(2026, 3, 31, 18)
    assert expand("FREQ=WEEKLY;UNTIL=20260331T155959Z", _START, _END)[-1][0] == _oslo(2026, 3, 24, 18)


def test_spring_forward_gap_moves_the_occurrence_forward_by_the_gap():
    start, end = _oslo(2026, 3, 22, 2, 30), _oslo(2026, 3, 22, 3, 0)
    occurrences = expand("FREQ=WEEKLY;COUNT=3", start, end)
    # 02:30 does not exist on 29 March; the occurrence moves to 03:30 with its end.
    assert occurrences[1] == (_oslo(2026, 3, 29, 3, 30), _oslo(2026, 3, 29, 4, 0))
    assert occurrences[2] == (_oslo(2026, 4, 5, 2, 30), _oslo(2026, 4, 5, 3, 0))


def test_ambiguous_wall_time_takes_the_first():
    start, end = _oslo(2026, 10, 18, 2, 0), _oslo(2026, 10, 18, 2, 30)
    occurrences = expand("FREQ=WEEKLY;COUNT=2", start, end)
    second_start, second_end = occurrences[1]
    assert second_start.astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert second_end.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_first_occurrence_is_exactly_the_given_one_even_in_the_repeated_hour():
    # The second 02:30 of 25 October (CET, fold=1) is kept as given.
    start = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).astimezone(OSLO)
    end = start + timedelta(minutes=30)
    occurrences = expand("FREQ=DAILY;COUNT=2", start, end)
    assert occurrences[0] == (start, end)
    assert occurrences[0][0].astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert occurrences[1][0] == _oslo(2026, 10, 26, 2, 30)


def test_overnight_occurrence_keeps_wall_clock_duration():
    start, end = _oslo(2026, 10, 24, 22, 0), _oslo(2026, 10, 25, 0, 0)
    occurrences = expand("FREQ=DAILY;COUNT=2", start, end)
    assert occurrences[1] == (_oslo(2026, 10, 25, 22, 0), _oslo(2026, 10, 26, 0, 0))


# --- normalisation ------------------------------------------------------------------------


def test_normalize_writes_until_in_utc():
    assert normalize_rrule("freq=weekly;byday=tu;until=20261215", _START) == (
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261215T225959Z"
    )
    assert (
        normalize_rrule("FREQ=WEEKLY;UNTIL=20260616T180000", _START) == "FREQ=WEEKLY;UNTIL=20260616T160000Z"
    )


def test_normalize_canonical_order_and_interval():
    assert (
        normalize_rrule("COUNT=3;BYDAY=TU;INTERVAL=1;FREQ=WEEKLY", _START) == "FREQ=WEEKLY;BYDAY=TU;COUNT=3"
    )
    assert normalize_rrule("BYDAY=2TU;INTERVAL=2;COUNT=3;FREQ=MONTHLY", _oslo(2026, 3, 10, 18)) == (
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU;COUNT=3"
    )


def test_normalize_validates_against_the_start():
    with pytest.raises(InvalidInput):
        normalize_rrule("FREQ=DAILY;UNTIL=20281231", _START)


# --- properties -----------------------------------------------------------------------------

_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def _series(draw):
    """A start, a duration and a rule whose start is an occurrence (the rest may break limits)."""
    first_day = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
    # Hours outside the 02:00-03:00 DST gap, so the wall time always exists.
    start_time = time(
        draw(st.sampled_from([0, 6, 8, 12, 17, 18, 21, 23])), draw(st.sampled_from([0, 15, 30, 45]))
    )
    start = datetime.combine(first_day, start_time, OSLO)
    duration = timedelta(minutes=draw(st.integers(15, 600)))
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}"]
    interval = draw(st.integers(1, 5))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    weekday = _DAYS[first_day.weekday()]
    if freq == "MONTHLY" and draw(st.booleans()):
        ordinal = (first_day.day - 1) // 7 + 1
        parts.append(f"BYDAY={ordinal}{weekday}")
    elif freq != "MONTHLY" and draw(st.booleans()):
        extra = draw(st.lists(st.sampled_from(_DAYS), max_size=3))
        parts.append("BYDAY=" + ",".join(dict.fromkeys([weekday, *extra])))
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 250))}")
    else:
        until = first_day + timedelta(days=draw(st.integers(0, 500)))
        parts.append(f"UNTIL={until:%Y%m%d}")
    return ";".join(parts), start, start + duration


def _exists(wall: datetime) -> bool:
    """Does this naive wall-clock time exist in Oslo (it does not in the spring-forward gap)?"""
    aware = wall.replace(tzinfo=OSLO)
    return aware.astimezone(UTC).astimezone(OSLO).replace(tzinfo=None) == wall


@settings(max_examples=300, deadline=None)
@given(_series())
@example(  # the first end falls in the spring-forward gap: 02:00 is 03:00 that night
    (
        "FREQ=DAILY;UNTIL=20250329",
        datetime(2025, 3, 29, 21, tzinfo=OSLO),
        datetime(2025, 3, 30, 2, tzinfo=OSLO),
    )
)
def test_expansion_invariants(series):
    rrule, start, end = series
    try:
        occurrences = expand(rrule, start, end)
    except InvalidInput as error:
        # Only the limits may reject a rule the strategy built.
        message = error.errors["recurrence"][0]
        assert "200" in message or "366 days" in message, message
        return
    assert 1 <= len(occurrences) <= MAX_OCCURRENCES
    assert occurrences[0] == (start, end)
    first_local = occurrences[0][0].astimezone(OSLO)
    wall_duration = end.replace(tzinfo=None) - start.replace(tzinfo=None)
    previous = None
    for occurrence_start, occurrence_end in occurrences:
        # Through UTC: a given end in the gap (an aware time that does not exist) is read as the
        # instant it stands for, as the database stores it.
        local_start = occurrence_start.astimezone(OSLO)
        local_end = occurrence_end.astimezone(UTC).astimezone(OSLO)
        assert local_start.time() == first_local.time()
        wall_end = local_start.replace(tzinfo=None) + wall_duration
        if _exists(wall_end):
            assert local_end.replace(tzinfo=None) == wall_end
        else:
            # An end in the spring-forward gap moves forward by the gap, like any wall time.
            assert local_end.replace(tzinfo=None) == wall_end + timedelta(hours=1)
        assert local_start.date() - first_local.date() <= timedelta(days=MAX_SPAN_DAYS)
        if previous is not None:
            assert occurrence_start > previous
        previous = occurrence_start
    rule = parse_rrule(rrule)
    if rule.until is not None:
        assert all(s <= rule.until for s, _ in occurrences)
        # Nothing is cut off: plain dateutil, with the date UNTIL read as the day's last second,
        # finds exactly the same wall-clock starts.
        reference = rrulestr(rrule + "T235959", dtstart=start.replace(tzinfo=None))
        assert [s.replace(tzinfo=None) for s, _ in occurrences] == list(reference)
    if rule.count is not None:
        assert len(occurrences) == rule.count


@settings(max_examples=150, deadline=None)
@given(_series())
def test_normalized_rule_expands_to_the_same_series(series):
    rrule, start, end = series
    try:
        normalized = normalize_rrule(rrule, start)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            expand(rrule, start, end)
        return
    assert "UNTIL=" not in normalized or normalized.rstrip().endswith("Z")
    assert expand(normalized, start, end) == expand(rrule, start, end)
    assert normalize_rrule(normalized, start) == normalized


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_either_a_rule_or_invalid_input(text):
    try:
        parse_rrule(text)
    except InvalidInput as error:
        assert error.errors["recurrence"]
