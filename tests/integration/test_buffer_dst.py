"""One buffer rule (``booking.domain.timeslots.occupied_until``): the changeover after a booking
lasts its buffer in real minutes, also on the night the clocks go back. Adding the minutes to an
aware Oslo time in Python counts wall-clock minutes instead: a booking ending 02:30 (summer time)
with a 30-minute buffer would then be held until 03:00 winter time, an hour too long.

Checked where the rule used to be written out by hand: the janitor's day schedule (changeover
and last lock, through HTTP) and the bench seeder's bookings (the database derives their
occupancy from ``occupied_until``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bench.seed import SIZES, Size, generate
from booking.domain.timeslots import occupied_until
from booking.models.types import utcnow
from pricing.weekly import OSLO

BUFFER = 30


def clocks_go_back(on_or_after: date) -> date:
    """The first last-Sunday-of-October (Oslo: 03:00 summer time becomes 02:00) on or after."""
    year = on_or_after.year
    while True:
        last = date(year, 10, 31)
        sunday = last - timedelta(days=(last.weekday() - 6) % 7)
        if sunday >= on_or_after:
            return sunday
        year += 1


def night_booking(day: date) -> tuple[datetime, datetime]:
    """01:30-02:30 summer time: 02:30 happens twice that night, this is the first (+02:00)."""
    start = datetime(day.year, day.month, day.day, 1, 30, tzinfo=OSLO)
    end = datetime(day.year, day.month, day.day, 2, 30, tzinfo=OSLO, fold=0)
    assert end.utcoffset() == timedelta(hours=2)
    return start, end


def test_the_night_the_clocks_go_back_has_the_absolute_buffer():
    day = clocks_go_back(date(2026, 1, 1))
    assert day == date(2026, 10, 25)
    _, end = night_booking(day)
    # 02:30+02:00 is 00:30 UTC; 30 real minutes later is 01:00 UTC (02:00 winter time).
    assert occupied_until(end, BUFFER).astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


def test_janitor_schedule_changeover_and_last_lock_use_real_minutes(client, make):
    day = clocks_go_back(utcnow().astimezone(OSLO).date() + timedelta(days=2))
    building = make.building(name="Nattskolen")  # no opening hours: open around the clock
    room = make.room(building, name="Sal", buffer_minutes=BUFFER, supervision="never", max_advance_days=1_000)
    organization = make.organization(name="Nattkoret")
    member, janitor = make.member(organization), make.janitor(building)
    start, end = night_booking(day)
    created = client.post(
        "/api/v1/bookings",
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Nattøving",
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
        headers=member.headers,
    )
    assert created.status_code == 201, created.get_json()

    response = client.get(f"/api/v1/buildings/{building.id}/schedule?date={day}", headers=janitor.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    [entry] = body["bookings"]
    [room_day] = body["rooms"]
    # Compared in UTC: Python never finds an ambiguous local time (02:00 that night) equal to an
    # instant of another zone.
    expected = occupied_until(end, BUFFER).astimezone(UTC)  # 02:00+01:00, not 03:00+01:00
    assert expected == datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    assert datetime.fromisoformat(entry["end"]).astimezone(UTC) == end.astimezone(UTC)
    assert datetime.fromisoformat(entry["buffer_until"]).astimezone(UTC) == expected
    assert entry["buffer_until"].endswith("T02:00:00+01:00")
    assert datetime.fromisoformat(room_day["last_lock"]).astimezone(UTC) == expected


def test_bench_seed_holds_every_booking_until_its_end_plus_the_rooms_buffer():
    size = Size(**{**SIZES["tiny"].__dict__, "occurrences": 300, "days_back": 7, "days_ahead": 21})
    rows, _ = generate(size, seed=3)

    def table(name: str) -> list[dict]:
        columns, data = rows.tables[name]
        return [dict(zip(columns, row, strict=True)) for row in data]

    buffers = {r["id"]: r["buffer_minutes"] for r in table("rooms")}
    bookings = table("bookings")
    assert any(buffers[b["room_id"]] for b in bookings), "some rooms must have a buffer"
    for booking in bookings:
        expected = occupied_until(booking["end"], buffers[booking["room_id"]])
        assert booking["occupied_until"].astimezone(UTC) == expected.astimezone(UTC)
