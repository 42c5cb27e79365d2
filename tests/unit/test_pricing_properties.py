"""Property tests for pricing invariants (hypothesis)."""

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from pricing import (
    CATEGORIES,
    DEFAULT_PRICE_LIST,
    OSLO,
    PRICE_GROUPS,
    SUPERVISION_MODES,
    PriceList,
    Quote,
    QuoteRequest,
    WeeklyWindow,
    cancellation_fee,
    elapsed,
    quote,
)

# Covers both DST changes of 2026 and 2027.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TWO_YEARS_IN_MINUTES = 2 * 366 * 24 * 60


@st.composite
def price_lists(draw) -> PriceList:
    amount = st.integers(0, 100_000)
    rates = {g: {"free": 0, "reduced": draw(amount), "full": draw(amount)} for g in PRICE_GROUPS}
    return PriceList(
        version=draw(st.text("0123456789-", min_size=1, max_size=8)),
        valid_from=draw(st.dates(date(2020, 1, 1), date(2030, 1, 1))),
        hourly_rates_ore=rates,
        supervision_weekday_ore=draw(amount),
        supervision_weekend_ore=draw(amount),
        weekend_surcharge_percent=draw(st.integers(0, 200)),
        supervision_minimum_hours=draw(st.integers(0, 4)),
    )


@st.composite
def windows(draw) -> WeeklyWindow:
    # Half-hour grid; an end of 48 half hours is midnight, written 00:00.
    start = draw(st.integers(0, 47))
    end = draw(st.integers(start + 1, 48))
    as_time = lambda half_hours: time((half_hours // 2) % 24, 30 * (half_hours % 2))  # noqa: E731
    return WeeklyWindow(draw(st.integers(0, 6)), as_time(start), as_time(end))


def _near_local_midnight(day: date, minutes: int) -> datetime:
    return (datetime.combine(day, time(0), OSLO) + timedelta(minutes=minutes)).astimezone(UTC)


# Anywhere, or close to a local midnight, where bands change (Friday/Saturday, Sunday/Monday,
# holidays) and where DST changes happen.
starts = st.one_of(
    st.integers(0, TWO_YEARS_IN_MINUTES).map(lambda m: EPOCH + timedelta(minutes=m)),
    st.builds(_near_local_midnight, st.dates(date(2026, 1, 1), date(2027, 12, 31)), st.integers(-180, 180)),
)
durations = st.one_of(st.integers(1, 4 * 60), st.integers(1, 3 * 24 * 60)).map(lambda m: timedelta(minutes=m))


@st.composite
def requests(draw, occurrences=st.integers(1, 3)) -> QuoteRequest:
    spans = [(s, s + d) for s, d in draw(st.lists(st.tuples(starts, durations), min_size=1, max_size=3))]
    first_date = spans[0][0].date()
    # Holidays near the first occurrence, so that they matter.
    holidays = draw(st.frozensets(st.integers(-1, 4).map(lambda n: first_date + timedelta(days=n))))
    return QuoteRequest(
        price_group=draw(st.sampled_from(PRICE_GROUPS)),
        category=draw(st.sampled_from(CATEGORIES)),
        occurrences=spans[: draw(occurrences)],
        supervision=draw(st.sampled_from(SUPERVISION_MODES)),
        staffed_hours=tuple(draw(st.lists(windows(), max_size=6))),
        own_supervisor=draw(st.booleans()),
        holidays=holidays,
    )


def _all_ints(q: Quote) -> bool:
    lines = [*q.lines, *(line for o in q.occurrences for line in o.lines)]
    numbers = [q.total_ore, *(o.total_ore for o in q.occurrences)]
    numbers += [
        n for line in lines for n in (line.quantity, line.unit_price_ore, line.amount_ore, line.vat_percent)
    ]
    return all(type(n) is int for n in numbers)


@given(price_lists(), requests())
def test_totals_are_sums_of_lines(price_list, request):
    q = quote(price_list, request)
    assert q.total_ore == sum(line.amount_ore for line in q.lines)
    assert q.total_ore == sum(o.total_ore for o in q.occurrences)
    for occurrence in q.occurrences:
        assert occurrence.total_ore == sum(line.amount_ore for line in occurrence.lines)
    for line in q.lines:
        assert line.amount_ore == line.quantity * line.unit_price_ore >= 0


@given(price_lists(), requests())
def test_all_amounts_are_ints(price_list, request):
    assert _all_ints(quote(price_list, request))


@given(price_lists(), requests())
def test_rent_counts_every_started_half_hour(price_list, request):
    q = quote(price_list, request)
    for (start, end), occurrence in zip(request.occurrences, q.occurrences, strict=True):
        half_hours = sum(line.quantity for line in occurrence.lines if line.unit == "half_hour")
        assert half_hours == math.ceil(elapsed(start, end) / timedelta(minutes=30))


@given(price_lists(), requests())
def test_free_category_pays_no_rent(price_list, request):
    q = quote(price_list, replace(request, category="free"))
    assert all(line.amount_ore == 0 for line in q.lines if line.code.startswith("rent_"))


@given(price_lists(), requests())
def test_own_supervisor_pays_no_supervision(price_list, request):
    q = quote(price_list, replace(request, own_supervisor=True))
    assert not [line for line in q.lines if line.code.startswith("supervision_")]


# Supervision Sun 23:00-23:30 is 1 hour, charged at the 2-hour minimum 2 × 45_000; extended to
# 01:00 it is 45_000 + 30_000 = 75_000 by the hour, so the minimum must be a floor, not a top-up.
SUNDAY_NIGHT = datetime(2026, 3, 8, 23, tzinfo=OSLO)


@example(
    DEFAULT_PRICE_LIST,
    QuoteRequest("gym", "free", [(SUNDAY_NIGHT, SUNDAY_NIGHT + timedelta(minutes=30))], supervision="always"),
    timedelta(minutes=90),
)
@given(price_lists(), requests(occurrences=st.just(1)), durations)
def test_a_longer_booking_never_costs_less(price_list, request, extra):
    ((start, end),) = request.occurrences
    longer = replace(request, occurrences=[(start, end + extra)])
    assert quote(price_list, longer).total_ore >= quote(price_list, request).total_ore


@given(price_lists(), requests())
def test_quote_round_trips_through_json(price_list, request):
    q = quote(price_list, request)
    assert Quote.from_dict(json.loads(json.dumps(q.to_dict()))) == q


@given(price_lists())
def test_price_list_round_trips_through_json(price_list):
    assert PriceList.from_dict(json.loads(json.dumps(price_list.to_dict()))) == price_list


@given(
    price_lists(),
    requests(occurrences=st.just(1)),
    st.integers(-3 * 24 * 60, 30 * 24 * 60),
    st.integers(1, 10_000),
)
def test_cancelling_later_never_costs_less_and_never_more_than_the_quote(price_list, request, lead, later):
    q = quote(price_list, request)
    start = request.occurrences[0][0]
    early = cancellation_fee(q, start, start - timedelta(minutes=lead))
    late = cancellation_fee(q, start, start - timedelta(minutes=lead - later))
    assert 0 <= early.total_ore <= late.total_ore <= q.total_ore
    assert early.total_ore == sum(line.amount_ore for line in early.lines)
    assert cancellation_fee(q, start, start - timedelta(minutes=lead), by_admin=True).total_ore == 0
