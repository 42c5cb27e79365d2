"""The ``Snapshot`` field dumps a stored quote or cancellation fee exactly as its nested schema
does (the same keys, recursively, the same values), only without marshmallow's conversions."""

from datetime import datetime, time, timedelta

import pytest
from marshmallow import Schema, fields

from booking.schemas.bookings import BookingSchema, FeeSchema, QuoteSchema
from booking.schemas.common import Snapshot
from pricing import DEFAULT_PRICE_LIST, OSLO, QuoteRequest, WeeklyWindow, cancellation_fee, quote

STAFFED = tuple(WeeklyWindow(day, time(8), time(16)) for day in range(5))
MONDAY = datetime(2027, 3, 22, 15, tzinfo=OSLO)


def snapshots() -> list[tuple[dict, dict | None]]:
    """Quotes of one and of several occurrences (weekday and weekend, with and without
    supervision), each with a fee for cancelling it at three distances, and none."""
    found = []
    saturdays = [MONDAY + timedelta(weeks=n, days=5) for n in range(3)]
    for occurrences in (
        [(MONDAY, MONDAY + timedelta(hours=3))],
        [(saturday, saturday + timedelta(hours=2)) for saturday in saturdays],
    ):
        for category in ("free", "reduced", "full"):
            request = QuoteRequest("gym", category, occurrences, staffed_hours=STAFFED)
            priced = quote(DEFAULT_PRICE_LIST, request)
            found.append((priced.to_dict(), None))
            for days in (1, 10, 20):
                fee = cancellation_fee(priced, occurrences[0][0], occurrences[0][0] - timedelta(days=days))
                found.append((priced.to_dict(), fee.to_dict()))
    return found


class NestedBookingSchema(BookingSchema):
    """The schema as it was: every value converted by marshmallow."""

    quote = fields.Nested(QuoteSchema)
    cancellation_fee = fields.Nested(FeeSchema, allow_none=True)


@pytest.mark.parametrize(("snapshot", "fee"), snapshots())
def test_a_snapshot_dumps_as_its_nested_schema(snapshot, fee):
    booking = {"id": 7, "title": "Trening", "quote": snapshot, "cancellation_fee": fee}
    assert BookingSchema().dump(booking) == NestedBookingSchema().dump(booking)
    # Keys the schema does not know are left out, as marshmallow leaves them out.
    assert "supervision_reason" in snapshot["occurrences"][0]
    assert "supervision_reason" not in BookingSchema().dump(booking)["quote"]["occurrences"][0]


def test_many_and_missing_keys_and_none():
    class Line(Schema):
        code = fields.String()
        amount = fields.Integer(data_key="amount_ore", attribute="amount")

    class Lines(Schema):
        lines = Snapshot(Line, many=True)
        fee = Snapshot(Line, allow_none=True)

    dumped = Lines().dump({"lines": [{"code": "rent", "amount": 5, "extra": 1}, {}], "fee": None})
    assert dumped == {"lines": [{"code": "rent", "amount_ore": 5}, {}], "fee": None}


@pytest.mark.parametrize(
    "stored",
    [
        {"total_ore": 20.0, "lines": []},
        {"total_ore": "20", "price_list_version": 7},
        {"total_ore": True, "category": None},
        {"lines": "not a list", "occurrences": [{"lines": [{"quantity": "3", "code": 5}]}]},
        {"lines": [["not", "a", "dict"]]},
    ],
)
def test_a_snapshot_the_pricing_engine_did_not_write_dumps_as_marshmallow_would(stored):
    """Values of another type than their field writes go through marshmallow."""
    booking = {"id": 7, "quote": stored}
    assert BookingSchema().dump(booking) == NestedBookingSchema().dump(booking)


def test_a_quote_stored_as_text_dumps_as_marshmallow_would():
    booking = {"id": 7, "quote": '{"total_ore": 5}'}
    assert BookingSchema().dump(booking) == NestedBookingSchema().dump(booking)
