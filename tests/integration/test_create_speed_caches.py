"""What the create path's shortcuts must never change (bench peer, issue 16): a 409's suggestions
follow a building's opening hours at once, the other rooms closed by their hours are passed over
however many come first, free times far from the requested one are found as by the whole search,
and a price list added by anyone (another app server too) prices the very next create."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from booking.domain.conflicts import suggest_slots
from booking.domain.errors import BookingConflict
from booking.extensions import db
from booking.models import PriceListVersion
from booking.services.access import Actor
from booking.services.auth import actor_for
from booking.services.availability import busy_intervals
from booking.services.bookings import BookingRequest, create_booking
from booking.services.buildings import update_building
from booking.services.suggestions import HORIZON_DAYS, LIMIT, NEAR_DAYS
from pricing import DEFAULT_PRICE_LIST, OSLO
from pricing.weekly import elapsed, parse_windows
from tests.integration.factories import EVERY_DAY

ADMIN = Actor(user_id=0, role="admin")


def _hours(start: str, end: str, days=EVERY_DAY) -> list:
    return parse_windows({"day": d, "start": start, "end": end} for d in days)


def _day(weeks_ahead: int = 4, weekday: int = 0) -> datetime:
    """Local midnight of a ``weekday`` some weeks ahead (0 = Monday)."""
    today = datetime.now(UTC).astimezone(OSLO).date() + timedelta(weeks=weeks_ahead)
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    return datetime(day.year, day.month, day.day, tzinfo=OSLO)


@pytest.fixture
def booker(make):
    organization = make.organization()
    member = make.user("member", organizations=[organization], password=None)

    def book(room, start: datetime, end: datetime, attendees: int = 5):
        booking = create_booking(
            actor_for(member.user),
            BookingRequest(
                room_id=room.id,
                organization_id=organization.id,
                title="Øving",
                start=start,
                end=end,
                attendees=attendees,
            ),
        )
        db.session.commit()
        return booking

    def refused(room, start: datetime, end: datetime, attendees: int = 5) -> BookingConflict:
        with pytest.raises(BookingConflict) as caught:
            book(room, start, end, attendees)
        db.session.rollback()
        return caught.value

    return book, refused


def test_a_buildings_new_opening_hours_show_in_the_next_refusals_suggestions(make, booker):
    book, refused = booker
    day = _day()
    home = make.building(opening_hours=_hours("07:00", "23:00"))
    other = make.building(opening_hours=_hours("07:00", "23:00"))
    room = make.room(home, kind="hall", capacity=40)
    elsewhere = make.room(other, kind="hall", capacity=40)
    book(room, day + timedelta(hours=18), day + timedelta(hours=21))
    start, end = day + timedelta(hours=19), day + timedelta(hours=20)

    def other_rooms() -> list[int]:
        return [s["room_id"] for s in refused(room, start, end).suggestions if s["room_id"] != room.id]

    assert other_rooms() == [elsewhere.id]
    update_building(ADMIN, other.id, {"opening_hours": _hours("07:00", "18:00")})
    db.session.commit()
    assert other_rooms() == []  # closed at 19:00 now: not offered, at once
    update_building(ADMIN, other.id, {"opening_hours": _hours("07:00", "23:00")})
    db.session.commit()
    assert other_rooms() == [elsewhere.id]
    update_building(ADMIN, other.id, {"closures": [{"start_date": start.date(), "end_date": start.date()}]})
    db.session.commit()
    assert other_rooms() == []  # closed that day


def test_other_rooms_closed_by_their_hours_are_passed_over_however_many_come_first(make, booker):
    book, refused = booker
    day = _day()
    home = make.building(opening_hours=_hours("07:00", "23:00"))
    early = make.building(opening_hours=_hours("07:00", "17:00"))
    late = make.building(opening_hours=_hours("12:00", "23:00"))
    room = make.room(home, kind="gym", capacity=100)
    # Smaller rooms come first among the other buildings': all of these are closed at 19:00.
    for capacity in range(10, 10 + LIMIT + 2):
        make.room(early, kind="gym", capacity=capacity)
    open_rooms = [make.room(late, kind="gym", capacity=50 + n) for n in range(4)]
    book(room, day + timedelta(hours=18), day + timedelta(hours=21))
    conflict = refused(room, day + timedelta(hours=19), day + timedelta(hours=20))
    others = [s["room_id"] for s in conflict.suggestions if s["room_id"] != room.id]
    assert others[:2] == [open_rooms[0].id, open_rooms[1].id]
    assert set(others) <= {r.id for r in open_rooms}
    assert conflict.suggestions[:2] == [
        {"room_id": r.id, "start": day + timedelta(hours=19), "end": day + timedelta(hours=20)}
        for r in open_rooms[:2]
    ]


def _whole_search(room, start: datetime, end: datetime) -> list[dict]:
    """The same room's free times by the search over the whole horizon, as before the near one."""
    from booking.domain.timeslots import occupied_until
    from booking.models.types import utcnow

    slots = suggest_slots(
        elapsed(start, end),
        start,
        busy_intervals(
            room.unit_ids,
            start - timedelta(days=HORIZON_DAYS),
            occupied_until(end, room.buffer_minutes) + timedelta(days=HORIZON_DAYS),
        ),
        room.building.opening_windows,
        room.building.closure_ranges,
        room.buffer_minutes,
        utcnow() + timedelta(hours=room.min_notice_hours),
        limit=LIMIT,
        horizon_days=HORIZON_DAYS,
    )
    return [{"room_id": room.id, "start": s, "end": e} for s, e in slots]


@pytest.mark.parametrize("open_days", [EVERY_DAY, ("mon",)], ids=["near", "a week away"])
def test_free_times_in_the_room_are_those_of_the_whole_search(make, booker, open_days):
    book, refused = booker
    day = _day(weeks_ahead=4, weekday=0)
    building = make.building(opening_hours=_hours("08:00", "16:00", open_days))
    room = make.room(building, kind="rehearsal_room", buffer_minutes=15)
    book(room, day + timedelta(hours=8), day + timedelta(hours=16))  # the whole Monday
    if len(open_days) > 1:  # the days around it partly taken
        book(room, day - timedelta(hours=14), day - timedelta(hours=10))
        book(room, day + timedelta(days=1, hours=9), day + timedelta(days=1, hours=12))
    start, end = day + timedelta(hours=10), day + timedelta(hours=11, minutes=30)
    conflict = refused(room, start, end)
    same_room = [s for s in conflict.suggestions if s["room_id"] == room.id]
    assert same_room == _whole_search(room, start, end) and len(same_room) == LIMIT
    far = min(abs(s["start"] - start) for s in same_room)
    if len(open_days) == 1:  # nothing open within the near days: found by the whole search
        assert far >= timedelta(days=NEAR_DAYS + 1)
    else:
        assert far < timedelta(days=NEAR_DAYS)


def test_a_price_list_added_elsewhere_prices_the_very_next_create(make, booker):
    book, _ = booker
    room = make.room(make.building())
    start = _day() + timedelta(hours=10)
    first = book(room, start, start + timedelta(hours=1))
    assert first.quote["price_list_version"] == DEFAULT_PRICE_LIST.version
    # Written as another app server would: nothing in this process hears of it.
    valid_from = datetime.now(UTC).astimezone(OSLO).date()  # after the default's, before the booking
    assert DEFAULT_PRICE_LIST.valid_from < valid_from < start.date()
    data = DEFAULT_PRICE_LIST.to_dict()
    data.update(version="cache-test", valid_from=valid_from.isoformat())
    db.session.execute(
        insert(PriceListVersion).values(version="cache-test", valid_from=valid_from, data=data)
    )
    db.session.commit()
    second = book(room, start + timedelta(hours=2), start + timedelta(hours=3))
    assert second.quote["price_list_version"] == "cache-test"
    db.session.execute(PriceListVersion.__table__.delete().where(PriceListVersion.version == "cache-test"))
    db.session.commit()
    third = book(room, start + timedelta(hours=4), start + timedelta(hours=5))
    assert third.quote["price_list_version"] == DEFAULT_PRICE_LIST.version
