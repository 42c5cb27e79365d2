"""Worked examples for pricing (SPEC §5), each with its arithmetic. Amounts are øre."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time
from fractions import Fraction

import pytest

from pricing import (
    DEFAULT_PRICE_LIST,
    OSLO,
    PRICE_GROUPS,
    OccurrenceQuote,
    PriceList,
    Quote,
    QuoteLine,
    QuoteRequest,
    WeeklyWindow,
    cancellation_fee,
    price_list_in_force,
    quote,
    round_ore,
)

MON_FRI_8_16 = tuple(WeeklyWindow(day, time(8), time(16)) for day in range(5))


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=OSLO)


def price(
    group: str,
    category: str,
    start: datetime,
    end: datetime,
    price_list: PriceList = DEFAULT_PRICE_LIST,
    **options,
) -> Quote:
    return quote(price_list, QuoteRequest(group, category, [(start, end)], **options))


def lines(q: Quote | OccurrenceQuote) -> list[tuple[str, int, int]]:
    return [(line.code, line.quantity, line.unit_price_ore) for line in q.lines]


# --- rounding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (Fraction(1, 2), 1),  # half up
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # not banker's rounding (which gives 2)
        (Fraction(10_001, 2), 5_001),
        (Fraction(7, 3), 2),
        (Fraction(-1, 2), -1),  # away from zero
    ],
)
def test_round_ore(value, expected):
    assert round_ore(value) == expected


@pytest.mark.parametrize("value", [2.5, True, "3"])
def test_round_ore_refuses_floats_and_other_types(value):
    with pytest.raises(TypeError):
        round_ore(value)


# --- rent: every category in every price group ----------------------------------------------------

# Monday 2026-03-02 18:00-20:00, no supervision: 4 half hours at hourly / 2, i.e. 2 × hourly.
RENT_TABLE = [
    ("meeting_room", "free", 0),  # 4 × 0
    ("meeting_room", "reduced", 10_000),  # 4 × 5_000/2 = 4 × 2_500
    ("meeting_room", "full", 40_000),  # 4 × 20_000/2 = 4 × 10_000
    ("classroom", "free", 0),
    ("classroom", "reduced", 10_000),  # 4 × 2_500
    ("classroom", "full", 40_000),  # 4 × 10_000
    ("rehearsal_room", "free", 0),
    ("rehearsal_room", "reduced", 20_000),  # 4 × 10_000/2 = 4 × 5_000
    ("rehearsal_room", "full", 50_000),  # 4 × 25_000/2 = 4 × 12_500
    ("gym", "free", 0),
    ("gym", "reduced", 30_000),  # 4 × 15_000/2 = 4 × 7_500
    ("gym", "full", 70_000),  # 4 × 35_000/2 = 4 × 17_500
    ("sports_hall", "free", 0),
    ("sports_hall", "reduced", 70_000),  # 4 × 35_000/2 = 4 × 17_500
    ("sports_hall", "full", 110_000),  # 4 × 55_000/2 = 4 × 27_500
    ("hall", "free", 0),
    ("hall", "reduced", 60_000),  # 4 × 30_000/2 = 4 × 15_000
    ("hall", "full", 140_000),  # 4 × 70_000/2 = 4 × 35_000
]


def test_rent_table_covers_every_group_and_category():
    assert {(g, c) for g, c, _ in RENT_TABLE} == {
        (g, c) for g in PRICE_GROUPS for c in ("free", "reduced", "full")
    }


@pytest.mark.parametrize(("group", "category", "total"), RENT_TABLE)
def test_weekday_rent_per_group_and_category(group, category, total):
    q = price(group, category, at(2026, 3, 2, 18), at(2026, 3, 2, 20), supervision="never")
    assert lines(q) == [("rent_weekday", 4, total // 4)]
    assert q.total_ore == total
    assert q.lines[0].description == "Leie, hverdag"
    assert q.lines[0].unit == "half_hour"
    assert (q.lines[0].tax_code, q.lines[0].vat_percent) == ("0", 0)
    assert q.price_list_version == "2026-1"
    assert q.category == category


# --- worked examples ------------------------------------------------------------------------------

EXAMPLES = [
    pytest.param(
        # Staffed Mon-Fri 08-16, full meeting room Mon 15:00-19:00:
        # rent 8 half hours × 10_000 = 80_000; supervised 16:00-19:00 = 3 h × 30_000 = 90_000.
        dict(
            group="meeting_room",
            category="full",
            start=at(2026, 3, 2, 15),
            end=at(2026, 3, 2, 19),
            staffed_hours=MON_FRI_8_16,
        ),
        [("rent_weekday", 8, 10_000), ("supervision_weekday", 3, 30_000)],
        170_000,
        "utenfor bemannet tid 16:00–19:00",
        id="staffed-and-unstaffed",
    ),
    pytest.param(
        # Saturday, gym reduced, 10:00-12:00, room always supervised:
        # rent 4 × 15_000 × 150/200 = 4 × 11_250 = 45_000; supervision 2 h × 45_000 = 90_000.
        dict(
            group="gym",
            category="reduced",
            start=at(2026, 3, 7, 10),
            end=at(2026, 3, 7, 12),
            supervision="always",
        ),
        [("rent_weekend", 4, 11_250), ("supervision_weekend", 2, 45_000)],
        135_000,
        "rommet krever alltid tilsyn",
        id="saturday",
    ),
    pytest.param(
        # Ascension Day, Thursday 2026-05-14, rehearsal room full 18-20, no supervision:
        # 4 × 25_000 × 150/200 = 4 × 18_750 = 75_000.
        dict(
            group="rehearsal_room",
            category="full",
            start=at(2026, 5, 14, 18),
            end=at(2026, 5, 14, 20),
            supervision="never",
            holidays=frozenset({date(2026, 5, 14)}),
        ),
        [("rent_weekend", 4, 18_750)],
        75_000,
        None,
        id="ascension-day",
    ),
    pytest.param(
        # The same Thursday when the caller supplies no holidays: 4 × 12_500 = 50_000.
        dict(
            group="rehearsal_room",
            category="full",
            start=at(2026, 5, 14, 18),
            end=at(2026, 5, 14, 20),
            supervision="never",
        ),
        [("rent_weekday", 4, 12_500)],
        50_000,
        None,
        id="holidays-come-from-the-caller",
    ),
    pytest.param(
        # 17 May 2027 is a Monday; hall reduced 12-13: 2 × 30_000 × 150/200 = 2 × 22_500 = 45_000.
        # (17 May 2026 is a Sunday, weekend anyway.)
        dict(
            group="hall",
            category="reduced",
            start=at(2027, 5, 17, 12),
            end=at(2027, 5, 17, 13),
            supervision="never",
            holidays=frozenset({date(2027, 5, 17)}),
        ),
        [("rent_weekend", 2, 22_500)],
        45_000,
        None,
        id="17-may",
    ),
    pytest.param(
        # Free category on a holiday stays free, but pays supervision: Sunday 17 May 2026 10-12,
        # rent 4 × 0; supervision 2 h × 45_000 = 90_000.
        dict(
            group="hall",
            category="free",
            start=at(2026, 5, 17, 10),
            end=at(2026, 5, 17, 12),
            supervision="always",
            holidays=frozenset({date(2026, 5, 17)}),
        ),
        [("rent_weekend", 4, 0), ("supervision_weekend", 2, 45_000)],
        90_000,
        "rommet krever alltid tilsyn",
        id="free-pays-supervision",
    ),
    pytest.param(
        # Fri 22:00 -> Sat 01:00, sports hall full, staffed Mon-Fri 08-16:
        # rent: Fri 22:00..23:30 = 4 × 27_500 = 110_000; Sat 00:00, 00:30 = 2 × 41_250 = 82_500
        # (55_000 × 150/200); supervision: hours at Fri 22, Fri 23 = 2 × 30_000, Sat 00 = 1 × 45_000.
        # 110_000 + 82_500 + 60_000 + 45_000 = 297_500.
        dict(
            group="sports_hall",
            category="full",
            start=at(2026, 3, 6, 22),
            end=at(2026, 3, 7, 1),
            staffed_hours=MON_FRI_8_16,
        ),
        [
            ("rent_weekday", 4, 27_500),
            ("rent_weekend", 2, 41_250),
            ("supervision_weekday", 2, 30_000),
            ("supervision_weekend", 1, 45_000),
        ],
        297_500,
        "utenfor bemannet tid 22:00–01:00",
        id="across-midnight-into-saturday",
    ),
    pytest.param(
        # The same booking given in UTC (Oslo is UTC+1 in March): same price.
        dict(
            group="sports_hall",
            category="full",
            start=datetime(2026, 3, 6, 21, tzinfo=UTC),
            end=datetime(2026, 3, 7, 0, tzinfo=UTC),
            staffed_hours=MON_FRI_8_16,
        ),
        [
            ("rent_weekday", 4, 27_500),
            ("rent_weekend", 2, 41_250),
            ("supervision_weekday", 2, 30_000),
            ("supervision_weekend", 1, 45_000),
        ],
        297_500,
        "utenfor bemannet tid 22:00–01:00",
        id="any-input-zone",
    ),
    pytest.param(
        # 1 h 15 min, classroom reduced, always supervised: 3 started half hours × 2_500 = 7_500;
        # 2 started hours × 30_000 = 60_000.
        dict(
            group="classroom",
            category="reduced",
            start=at(2026, 3, 2, 18),
            end=at(2026, 3, 2, 19, 15),
            supervision="always",
        ),
        [("rent_weekday", 3, 2_500), ("supervision_weekday", 2, 30_000)],
        67_500,
        "rommet krever alltid tilsyn",
        id="15-minute-remainder",
    ),
    pytest.param(
        # 15 minutes: 1 started half hour × 2_500; 1 started hour, raised to the 2-hour minimum
        # 2 × 30_000 = 60_000.
        dict(
            group="classroom",
            category="reduced",
            start=at(2026, 3, 2, 18),
            end=at(2026, 3, 2, 18, 15),
            supervision="always",
        ),
        [("rent_weekday", 1, 2_500), ("supervision_weekday", 2, 30_000)],
        62_500,
        "rommet krever alltid tilsyn",
        id="quarter-hour",
    ),
    pytest.param(
        # Free meeting room Mon 15:00-16:30, staffed to 16: 30 unstaffed minutes = 1 started hour,
        # minimum 2 × 30_000 = 60_000; rent 3 × 0.
        dict(
            group="meeting_room",
            category="free",
            start=at(2026, 3, 2, 15),
            end=at(2026, 3, 2, 16, 30),
            staffed_hours=MON_FRI_8_16,
        ),
        [("rent_weekday", 3, 0), ("supervision_weekday", 2, 30_000)],
        60_000,
        "utenfor bemannet tid 16:00–16:30",
        id="supervision-minimum",
    ),
    pytest.param(
        # Sun 23:00 -> Mon 01:00, always supervised: hours Sun 23 (45_000) + Mon 00 (30_000) = 75_000
        # is under the floor 2 × 45_000 = 90_000 (the band of the first hour), so 2 × 45_000.
        dict(
            group="meeting_room",
            category="free",
            start=at(2026, 3, 8, 23),
            end=at(2026, 3, 9, 1),
            supervision="always",
        ),
        [("rent_weekday", 2, 0), ("rent_weekend", 2, 0), ("supervision_weekend", 2, 45_000)],
        90_000,
        "rommet krever alltid tilsyn",
        id="minimum-is-a-floor-at-the-first-band",
    ),
    pytest.param(
        # Mon 07:30-17:30, staffed 08-16: unstaffed 07:30-08:00 and 16:00-17:30 = 2 h in all, so
        # 2 started hours × 30_000 = 60_000 (not 1 + 2 per stretch); rent 20 × 2_500 = 50_000.
        dict(
            group="meeting_room",
            category="reduced",
            start=at(2026, 3, 2, 7, 30),
            end=at(2026, 3, 2, 17, 30),
            staffed_hours=MON_FRI_8_16,
        ),
        [("rent_weekday", 20, 2_500), ("supervision_weekday", 2, 30_000)],
        110_000,
        "utenfor bemannet tid 07:30–08:00, 16:00–17:30",
        id="hours-counted-over-all-supervised-time",
    ),
    pytest.param(
        # As "staffed-and-unstaffed" with the organisation's own supervisor: rent only, 80_000.
        dict(
            group="meeting_room",
            category="full",
            start=at(2026, 3, 2, 15),
            end=at(2026, 3, 2, 19),
            staffed_hours=MON_FRI_8_16,
            own_supervisor=True,
        ),
        [("rent_weekday", 8, 10_000)],
        80_000,
        "egen tilsynsvakt (utenfor bemannet tid 16:00–19:00)",
        id="own-supervisor",
    ),
    pytest.param(
        # Inside staffed hours: no supervision. Gym full Mon 10-12: 4 × 17_500 = 70_000.
        dict(
            group="gym",
            category="full",
            start=at(2026, 3, 2, 10),
            end=at(2026, 3, 2, 12),
            staffed_hours=MON_FRI_8_16,
        ),
        [("rent_weekday", 4, 17_500)],
        70_000,
        None,
        id="inside-staffed-hours",
    ),
    pytest.param(
        # Mode "always" ignores staffed hours: + 2 h × 30_000 = 60_000.
        dict(
            group="gym",
            category="full",
            start=at(2026, 3, 2, 10),
            end=at(2026, 3, 2, 12),
            staffed_hours=MON_FRI_8_16,
            supervision="always",
        ),
        [("rent_weekday", 4, 17_500), ("supervision_weekday", 2, 30_000)],
        130_000,
        "rommet krever alltid tilsyn",
        id="always",
    ),
    pytest.param(
        # Mode "never" with no staffed hours at all: rent only.
        dict(
            group="gym",
            category="full",
            start=at(2026, 3, 2, 20),
            end=at(2026, 3, 2, 22),
            supervision="never",
        ),
        [("rent_weekday", 4, 17_500)],
        70_000,
        None,
        id="never",
    ),
    pytest.param(
        # 2026-03-29 (Sunday), clocks go 02:00 -> 03:00: 00:00-04:00 is 3 real hours.
        # Rent 6 × 20_000 × 150/200 = 6 × 15_000 = 90_000; supervision 3 × 45_000 = 135_000.
        dict(
            group="meeting_room",
            category="full",
            start=at(2026, 3, 29, 0),
            end=at(2026, 3, 29, 4),
            supervision="always",
        ),
        [("rent_weekend", 6, 15_000), ("supervision_weekend", 3, 45_000)],
        225_000,
        "rommet krever alltid tilsyn",
        id="dst-spring-forward",
    ),
    pytest.param(
        # 2026-10-25 (Sunday), clocks go 03:00 -> 02:00: 00:00-04:00 is 5 real hours.
        # Rent 10 × 15_000 = 150_000; supervision 5 × 45_000 = 225_000.
        dict(
            group="meeting_room",
            category="full",
            start=at(2026, 10, 25, 0),
            end=at(2026, 10, 25, 4),
            supervision="always",
        ),
        [("rent_weekend", 10, 15_000), ("supervision_weekend", 5, 45_000)],
        375_000,
        "rommet krever alltid tilsyn",
        id="dst-fall-back",
    ),
]


@pytest.mark.parametrize(("args", "expected_lines", "total", "reason"), EXAMPLES)
def test_worked_examples(args, expected_lines, total, reason):
    args = dict(args)
    group, category, start, end = args.pop("group"), args.pop("category"), args.pop("start"), args.pop("end")
    q = price(group, category, start, end, **args)
    assert lines(q) == expected_lines
    assert q.total_ore == total
    assert q.supervision_reason == reason
    (occurrence,) = q.occurrences
    assert occurrence.total_ore == total
    assert occurrence.supervision_reason == reason


def test_line_descriptions_and_units():
    q = price("sports_hall", "full", at(2026, 3, 6, 22), at(2026, 3, 7, 1), staffed_hours=MON_FRI_8_16)
    assert [(line.description, line.unit) for line in q.lines] == [
        ("Leie, hverdag", "half_hour"),
        ("Leie, helg/helligdag", "half_hour"),
        ("Tilsyn, hverdag", "hour"),
        ("Tilsyn, helg/helligdag", "hour"),
    ]


def test_odd_hourly_rate_rounds_unit_prices_half_up():
    rates = {g: {"free": 0, "reduced": 10_001, "full": 10_001} for g in PRICE_GROUPS}
    odd = PriceList("odd", date(2026, 1, 1), rates)
    # Friday 23:00 -> Saturday 00:30: weekday 10_001/2 = 5_000.5 -> 5_001;
    # weekend 10_001 × 150/200 = 7_500.75 -> 7_501. 2 × 5_001 + 1 × 7_501 = 17_503.
    q = price("gym", "full", at(2026, 3, 6, 23), at(2026, 3, 7, 0, 30), odd, supervision="never")
    assert lines(q) == [("rent_weekday", 2, 5_001), ("rent_weekend", 1, 7_501)]
    assert q.total_ore == 17_503


def test_occurrences_are_merged_into_quote_lines():
    # Two Mondays 18-20, classroom full: per occurrence 4 × 10_000 = 40_000; quote 8 × 10_000.
    request = QuoteRequest(
        "classroom",
        "full",
        [(at(2026, 3, 2, 18), at(2026, 3, 2, 20)), (at(2026, 3, 9, 18), at(2026, 3, 9, 20))],
        supervision="never",
    )
    q = quote(DEFAULT_PRICE_LIST, request)
    assert lines(q) == [("rent_weekday", 8, 10_000)]
    assert q.total_ore == 80_000
    assert [o.total_ore for o in q.occurrences] == [40_000, 40_000]
    assert [o.start for o in q.occurrences] == [at(2026, 3, 2, 18), at(2026, 3, 9, 18)]


def test_quote_reason_joins_distinct_occurrence_reasons():
    request = QuoteRequest(
        "gym",
        "reduced",
        [
            (at(2026, 3, 2, 15), at(2026, 3, 2, 18)),  # 16:00-18:00 unstaffed
            (at(2026, 3, 9, 15), at(2026, 3, 9, 18)),  # same
            (at(2026, 3, 10, 10), at(2026, 3, 10, 12)),  # staffed: no reason
            (at(2026, 3, 11, 18), at(2026, 3, 11, 19)),
        ],
        staffed_hours=MON_FRI_8_16,
    )
    q = quote(DEFAULT_PRICE_LIST, request)
    assert q.supervision_reason == "utenfor bemannet tid 16:00–18:00; utenfor bemannet tid 18:00–19:00"


def test_quote_snapshot_is_json_and_round_trips():
    q = price("sports_hall", "full", at(2026, 3, 6, 22), at(2026, 3, 7, 1), staffed_hours=MON_FRI_8_16)
    data = json.loads(json.dumps(q.to_dict()))
    assert set(data) == {
        "lines",
        "total_ore",
        "price_list_version",
        "category",
        "supervision_reason",
        "occurrences",
    }
    assert data["occurrences"][0]["start"] == "2026-03-06T22:00:00+01:00"
    assert data["lines"][0] == {
        "code": "rent_weekday",
        "description": "Leie, hverdag",
        "quantity": 4,
        "unit": "half_hour",
        "unit_price_ore": 27_500,
        "amount_ore": 110_000,
        "tax_code": "0",
        "vat_percent": 0,
    }
    assert Quote.from_dict(data) == q


def test_tampered_snapshot_is_refused():
    data = price("gym", "full", at(2026, 3, 2, 10), at(2026, 3, 2, 12), supervision="never").to_dict()
    data["total_ore"] += 1
    with pytest.raises(ValueError, match="sum of the lines"):
        Quote.from_dict(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(category="vip"), "category"),
        (dict(supervision="sometimes"), "supervision"),
        (dict(occurrences=[(datetime(2026, 3, 2, 18), datetime(2026, 3, 2, 20))]), "timezone-aware"),
        (dict(occurrences=[(at(2026, 3, 2, 20), at(2026, 3, 2, 20))]), "end after"),
    ],
)
def test_bad_requests_are_refused(changes, message):
    base = dict(price_group="gym", category="full", occurrences=[(at(2026, 3, 2, 18), at(2026, 3, 2, 20))])
    with pytest.raises(ValueError, match=message):
        QuoteRequest(**{**base, **changes})


def test_unknown_price_group_is_refused():
    with pytest.raises(ValueError, match="price group"):
        price("ballroom", "full", at(2026, 3, 2, 18), at(2026, 3, 2, 20))


# --- price lists ----------------------------------------------------------------------------------


def test_default_price_list_is_the_spec_table_in_ore():
    assert DEFAULT_PRICE_LIST.version == "2026-1"
    assert DEFAULT_PRICE_LIST.valid_from == date(2026, 1, 1)
    assert DEFAULT_PRICE_LIST.hourly_rates_ore["sports_hall"] == {
        "free": 0,
        "reduced": 35_000,
        "full": 55_000,
    }
    assert DEFAULT_PRICE_LIST.hourly_rates_ore["hall"]["full"] == 70_000
    assert (DEFAULT_PRICE_LIST.supervision_weekday_ore, DEFAULT_PRICE_LIST.supervision_weekend_ore) == (
        30_000,
        45_000,
    )


def test_price_list_round_trips_through_json():
    data = json.loads(json.dumps(DEFAULT_PRICE_LIST.to_dict()))
    assert data["valid_from"] == "2026-01-01"
    assert PriceList.from_dict(data) == DEFAULT_PRICE_LIST


def test_price_list_is_immutable():
    with pytest.raises(TypeError):
        DEFAULT_PRICE_LIST.hourly_rates_ore["gym"]["full"] = 1  # type: ignore[index]


def _with_rate(group: str, category: str, value) -> dict:
    data = DEFAULT_PRICE_LIST.to_dict()
    data["hourly_rates_ore"][group][category] = value
    return data


def _without(*path: str) -> dict:
    data = DEFAULT_PRICE_LIST.to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without("hourly_rates_ore", "gym"), "price group 'gym' is missing"),
        (_without("hourly_rates_ore", "gym", "reduced"), "category 'reduced' is missing"),
        (_without("version"), "version is missing"),
        (_with_rate("gym", "full", -1), "must not be negative"),
        (_with_rate("gym", "full", 350.0), "whole number"),
        (_with_rate("gym", "full", "35000"), "whole number"),
        (_with_rate("gym", "full", True), "whole number"),
        (_with_rate("gym", "free", 100), "free category must cost 0"),
        (_with_rate("gym", "vip", 100), "unknown category"),
        ({**DEFAULT_PRICE_LIST.to_dict(), "supervision_weekday_ore": 300.5}, "supervision_weekday_ore"),
        ({**DEFAULT_PRICE_LIST.to_dict(), "valid_from": "1 January"}, "valid_from"),
        ({**DEFAULT_PRICE_LIST.to_dict(), "surcharge": 10}, "unknown field"),
        (
            {
                **DEFAULT_PRICE_LIST.to_dict(),
                "hourly_rates_ore": {**DEFAULT_PRICE_LIST.to_dict()["hourly_rates_ore"], "ballroom": {}},
            },
            "unknown price group",
        ),
    ],
)
def test_invalid_price_lists_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        PriceList.from_dict(data)


def test_price_list_in_force():
    spring = replace(DEFAULT_PRICE_LIST, version="2026-2", valid_from=date(2026, 4, 1))
    lists = [spring, DEFAULT_PRICE_LIST]
    assert price_list_in_force(lists, date(2026, 3, 31)) is DEFAULT_PRICE_LIST
    assert price_list_in_force(lists, date(2026, 4, 1)) is spring
    assert price_list_in_force(lists, date(2030, 1, 1)) is spring
    with pytest.raises(ValueError, match="no price list"):
        price_list_in_force(lists, date(2025, 12, 31))
    with pytest.raises(ValueError, match="all start on"):
        price_list_in_force([spring, replace(spring, version="2026-3")], date(2026, 5, 1))


# --- cancellation ---------------------------------------------------------------------------------

# Monday 2026-03-16 15:00-19:00, full meeting room, staffed to 16:00:
# rent 8 × 10_000 = 80_000, supervision 3 × 30_000 = 90_000 (no DST change in the 14 days before).
START = at(2026, 3, 16, 15)
SNAPSHOT = price("meeting_room", "full", START, at(2026, 3, 16, 19), staffed_hours=MON_FRI_8_16)


@pytest.mark.parametrize(
    ("cancelled_at", "rule", "expected_lines"),
    [
        (at(2026, 3, 1, 15), "free_14_days", []),  # 15 days before
        (at(2026, 3, 2, 15), "free_14_days", []),  # exactly 14 days: still free
        (at(2026, 3, 2, 15, 1), "half_rent_7_days", [("cancellation_rent", 1, 40_000)]),  # 80_000 / 2
        (at(2026, 3, 9, 15), "half_rent_7_days", [("cancellation_rent", 1, 40_000)]),  # exactly 7 days: half
        (at(2026, 3, 9, 15, 1), "full_rent", [("cancellation_rent", 1, 80_000)]),
        (
            at(2026, 3, 14, 15),
            "full_rent",
            [("cancellation_rent", 1, 80_000)],
        ),  # exactly 48 h: no supervision
        (
            at(2026, 3, 14, 15, 1),  # under 48 h: 80_000 + 90_000
            "full_rent_and_supervision",
            [("cancellation_rent", 1, 80_000), ("cancellation_supervision", 1, 90_000)],
        ),
        (
            at(2026, 3, 16, 16),  # after the start
            "full_rent_and_supervision",
            [("cancellation_rent", 1, 80_000), ("cancellation_supervision", 1, 90_000)],
        ),
    ],
)
def test_cancellation_windows_and_boundaries(cancelled_at, rule, expected_lines):
    for snapshot in (SNAPSHOT, SNAPSHOT.occurrences[0]):
        fee = cancellation_fee(snapshot, START, cancelled_at)
        assert fee.rule == rule
        assert lines(fee) == expected_lines
        assert fee.total_ore == sum(amount for _, _, amount in expected_lines)
        assert all(line.unit == "booking" for line in fee.lines)


def test_admin_cancellation_costs_nothing():
    fee = cancellation_fee(SNAPSHOT, START, at(2026, 3, 16, 14, 59), by_admin=True)
    assert (fee.rule, fee.lines, fee.total_ore) == ("admin", (), 0)


def test_half_rent_rounds_half_up():
    line = QuoteLine("rent_weekday", "Leie, hverdag", 1, "half_hour", 12_345, 12_345)
    snapshot = OccurrenceQuote(START, at(2026, 3, 16, 15, 30), (line,), 12_345, None)
    fee = cancellation_fee(snapshot, START, at(2026, 3, 5, 12))
    assert fee.total_ore == 6_173  # 12_345 / 2 = 6_172.5 -> 6_173


def test_free_booking_cancelled_late_pays_only_supervision():
    snapshot = price(
        "gym", "free", START, at(2026, 3, 16, 17), staffed_hours=MON_FRI_8_16
    )  # 1 h -> 2 × 30_000
    fee = cancellation_fee(snapshot, START, at(2026, 3, 16, 9))
    assert lines(fee) == [("cancellation_supervision", 1, 60_000)]


def test_day_deadlines_use_the_oslo_wall_clock_across_dst():
    # Sunday 2026-04-05 18:00 CEST; 14 days before is 2026-03-22 18:00 CET, only 13 d 23 h of real
    # time earlier. The deadline a user reads is "22 March 18:00", so cancelling then is free.
    start = at(2026, 4, 5, 18)
    snapshot = price("gym", "full", start, at(2026, 4, 5, 20), supervision="never")
    assert cancellation_fee(snapshot, start, at(2026, 3, 22, 18)).rule == "free_14_days"
    assert cancellation_fee(snapshot, start, at(2026, 3, 22, 18, 1)).rule == "half_rent_7_days"


def test_48_hours_are_real_hours_across_dst():
    # Monday 2026-03-30 12:00 CEST; 48 real hours before is Saturday 2026-03-28 11:00 CET.
    start = at(2026, 3, 30, 12)
    snapshot = price("gym", "full", start, at(2026, 3, 30, 14), supervision="always")
    assert cancellation_fee(snapshot, start, at(2026, 3, 28, 11)).rule == "full_rent"
    assert cancellation_fee(snapshot, start, at(2026, 3, 28, 11, 30)).rule == "full_rent_and_supervision"
    assert cancellation_fee(snapshot, start, at(2026, 3, 28, 12)).rule == "full_rent_and_supervision"


def test_cancellation_fee_to_dict():
    fee = cancellation_fee(SNAPSHOT, START, at(2026, 3, 10, 12))
    assert json.loads(json.dumps(fee.to_dict())) == {
        "lines": [
            {
                "code": "cancellation_rent",
                "description": "Avbestilling under 7 dager før, full leie",
                "quantity": 1,
                "unit": "booking",
                "unit_price_ore": 80_000,
                "amount_ore": 80_000,
                "tax_code": "0",
                "vat_percent": 0,
            }
        ],
        "total_ore": 80_000,
        "rule": "full_rent",
    }
