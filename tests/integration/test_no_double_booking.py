"""The one invariant: active occupancies never overlap on a unit. Checked against the shared
boundary table for the SQL query and for the database's own guard (exclusion constraint on
PostgreSQL, triggers on SQLite), and by property tests over random operation sequences."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from booking.domain.errors import DomainError
from booking.extensions import db
from booking.models import Booking, Occupancy
from booking.services import bookings
from booking.services.access import Actor
from booking.services.bookings import existing_holds
from tests.boundary_cases import BOUNDARY_CASES, OTHER_ROOM, PART_A, PART_B, BoundaryCase

OVERLAPPING_ACTIVE = text(
    """
    SELECT a.id, b.id FROM occupancies a JOIN occupancies b
      ON a.unit_id = b.unit_id AND a.id < b.id
     AND a.start < b.occupied_until AND b.start < a.occupied_until
    WHERE a.active AND b.active
    """
)


def overlapping_active_pairs() -> list:
    return db.session.execute(OVERLAPPING_ACTIVE).all()


@pytest.fixture
def divisible(make):
    """A gym of halves A and B, and another room: the boundary table's unit labels mapped onto
    real units, and onto the room whose units they are."""
    building = make.building()
    half_a = make.room(building, name="A", kind="gym")
    half_b = make.room(building, name="B", kind="gym")
    whole = make.room(building, name="A+B", kind="gym", part_ids=[half_a.id, half_b.id])
    other = make.room(building, name="Other", kind="gym")
    labels = {1: half_a.id, 2: half_b.id, 3: other.id}
    rooms = {PART_A: half_a.id, PART_B: half_b.id, PART_A | PART_B: whole.id, OTHER_ROOM: other.id}
    return Arena(lambda units: [labels[u] for u in sorted(units)], rooms.__getitem__, make.organization())


class Arena(NamedTuple):
    units_of: Callable
    room_of: Callable
    organization: object


def _booking(
    room_id: int,
    organization_id: int,
    start: datetime,
    end: datetime,
    buffer_minutes: int = 0,
    status="confirmed",
) -> Booking:
    """A booking row written directly: the database derives its occupancy."""
    booking = Booking(
        room_id=room_id,
        organization_id=organization_id,
        title="x",
        start=start,
        end=end,
        occupied_until=end + timedelta(minutes=buffer_minutes),
        status=status,
        quote={},
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def _occupancy(booking_id: int) -> list[tuple]:
    return db.session.execute(
        text("SELECT unit_id, active FROM occupancies WHERE booking_id = :id ORDER BY unit_id"),
        {"id": booking_id},
    ).all()


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.name)
def test_boundary_table_sql_query_and_database_guard(divisible, case: BoundaryCase):
    units_of, room_of, organization = divisible
    existing = case.existing
    _booking(room_of(existing.units), organization.id, existing.start, existing.end, existing.buffer_minutes)
    db.session.commit()

    requested = case.requested
    until = requested.end + timedelta(minutes=requested.buffer_minutes)
    # The SQL rule used for the friendly 409:
    assert bool(existing_holds(units_of(requested.units), requested.start, until)) == case.conflict
    # The database's own guard, on the occupancy it derives from the booking:
    try:
        with db.session.begin_nested():
            _booking(
                room_of(requested.units),
                organization.id,
                requested.start,
                requested.end,
                requested.buffer_minutes,
            )
        refused = False
    except IntegrityError:
        refused = True
    db.session.rollback()
    assert refused == case.conflict


def test_boundary_table_maps_every_label(divisible):
    assert len(set(divisible.units_of(PART_A | PART_B | OTHER_ROOM))) == 3


def test_pending_requests_may_overlap_but_confirming_one_into_a_clash_fails(divisible):
    units_of, room_of, organization = divisible
    start = datetime(2030, 1, 7, 17, tzinfo=UTC)
    end = start + timedelta(hours=2)
    _booking(room_of(PART_A), organization.id, start, end)
    second = _booking(room_of(PART_A | PART_B), organization.id, start, end, status="pending")
    third = _booking(room_of(PART_A), organization.id, start, end, status="pending")
    db.session.commit()
    assert _occupancy(second.id) == [(u, False) for u in units_of(PART_A | PART_B)]
    for request in (second, third):
        with pytest.raises(IntegrityError):
            db.session.execute(
                text("UPDATE bookings SET status = 'confirmed' WHERE id = :id"), {"id": request.id}
            )
        db.session.rollback()


def test_the_occupancy_follows_the_status_and_time_of_its_booking(divisible):
    """SPEC §11, kept by the database: confirmed holds its units, pending holds them inactive,
    rejected and cancelled hold nothing; a move moves the rows."""
    units_of, room_of, organization = divisible
    start = datetime(2030, 1, 7, 17, tzinfo=UTC)
    booking = _booking(
        room_of(PART_A | PART_B), organization.id, start, start + timedelta(hours=1), status="pending"
    )
    assert _occupancy(booking.id) == [(u, False) for u in units_of(PART_A | PART_B)]
    for status, expected in (("confirmed", True), ("cancelled", None)):
        db.session.execute(
            text("UPDATE bookings SET status = :s WHERE id = :id"), {"s": status, "id": booking.id}
        )
        rows = _occupancy(booking.id)
        assert rows == ([] if expected is None else [(u, expected) for u in units_of(PART_A | PART_B)])
    other = _booking(room_of(PART_A), organization.id, start, start + timedelta(hours=1))
    later = start + timedelta(hours=5)
    other.room_id, other.start, other.end = room_of(OTHER_ROOM), later, later + timedelta(hours=1)
    other.occupied_until = later + timedelta(hours=2)
    db.session.flush()
    db.session.expire_all()
    assert _occupancy(other.id) == [(units_of(OTHER_ROOM)[0], True)]
    spans = db.session.execute(
        select(Occupancy.start, Occupancy.occupied_until).where(Occupancy.booking_id == other.id)
    ).all()
    assert spans == [(later, later + timedelta(hours=2))]
    db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM occupancies WHERE booking_id = :id",
        "UPDATE occupancies SET active = false WHERE booking_id = :id",
        "UPDATE occupancies SET occupied_until = start WHERE booking_id = :id",
        "INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active) "
        "SELECT :id, :unit, start, occupied_until, true FROM bookings WHERE id = :id",
        "INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active) "
        "SELECT id, :unit, start, occupied_until, true FROM bookings WHERE id = :cancelled",
    ],
    ids=["delete-held", "deactivate", "shorten", "extra-unit", "for-cancelled"],
)
def test_the_database_refuses_occupancy_that_does_not_match_its_booking(divisible, statement):
    """Whatever writes to the database: a confirmed booking cannot lose its units, nor a
    cancelled one gain some."""
    units_of, room_of, organization = divisible
    start = datetime(2030, 1, 7, 17, tzinfo=UTC)
    held = _booking(room_of(PART_A), organization.id, start, start + timedelta(hours=1))
    cancelled = _booking(
        room_of(PART_B), organization.id, start, start + timedelta(hours=1), status="cancelled"
    )
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(statement), {"id": held.id, "cancelled": cancelled.id, "unit": units_of(OTHER_ROOM)[0]}
        )
        db.session.flush()
    db.session.rollback()
    assert _occupancy(held.id) == [(units_of(PART_A)[0], True)]
    assert _occupancy(cancelled.id) == []


# --- property test: random create / cancel / reschedule / approve ------------------------------

BASE = datetime(2027, 3, 1, 8, tzinfo=UTC)  # a Monday, after "now" in the operations below
NOW = datetime(2027, 2, 1, tzinfo=UTC)

slot = st.tuples(st.integers(0, 40), st.integers(1, 8))  # start in half hours from BASE, length
operation = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 3), slot, st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("move"), st.integers(0, 30), slot),
    st.tuples(st.just("approve"), st.integers(0, 30)),
)


@pytest.fixture
def arena(make):
    """Rooms for the property test: halves A and B, whole A+B (buffer 30), and a room that needs
    approval; admin and member actors."""
    building = make.building()
    half_a = make.room(building, name="A", kind="gym", max_advance_days=1000)
    half_b = make.room(building, name="B", kind="gym", max_advance_days=1000)
    whole = make.room(
        building,
        name="A+B",
        kind="gym",
        part_ids=[half_a.id, half_b.id],
        buffer_minutes=30,
        max_advance_days=1000,
    )
    approval = make.room(building, name="Salen", kind="hall", requires_approval=True, max_advance_days=1000)
    organization = make.organization()
    member = Actor(
        user_id=make.member(organization).user.id,
        role="member",
        organization_ids=frozenset({organization.id}),
    )
    admin = Actor(user_id=make.admin().user.id, role="admin")
    return [half_a.id, half_b.id, whole.id, approval.id], organization.id, member, admin


def _run(operations, rooms, organization_id, member, admin) -> None:
    created: list[int] = []
    for op in operations:
        try:
            if op[0] == "create":
                _, room_index, (offset, length), as_admin = op
                start = BASE + timedelta(minutes=30 * offset)
                booking = bookings.create_booking(
                    admin if as_admin else member,
                    bookings.BookingRequest.from_input(
                        {
                            "room_id": rooms[room_index],
                            "organization_id": organization_id,
                            "title": "t",
                            "start": start,
                            "end": start + timedelta(minutes=30 * length),
                        }
                    ),
                    now=NOW,
                )
                created.append(booking.id)
            elif created and op[0] == "cancel":
                bookings.cancel_booking(admin, created[op[1] % len(created)], now=NOW)
            elif created and op[0] == "move":
                start = BASE + timedelta(minutes=30 * op[2][0])
                bookings.update_booking(
                    admin,
                    created[op[1] % len(created)],
                    bookings.ChangeRequest(
                        **{"start": start, "end": start + timedelta(minutes=30 * op[2][1])}
                    ),
                    None,
                    now=NOW,
                )
            elif created and op[0] == "approve":
                bookings.approve_booking(admin, created[op[1] % len(created)])
            db.session.commit()
        except DomainError:
            db.session.rollback()
        assert overlapping_active_pairs() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=14))
def test_random_operations_never_double_book(app_ctx, arena, operations):
    rooms, organization_id, member, admin = arena
    try:
        _run(operations, rooms, organization_id, member, admin)
    finally:
        db.session.rollback()
        db.session.execute(Booking.__table__.delete())  # its occupancy goes with it
        db.session.execute(text("DELETE FROM outbox_events"))
        db.session.commit()
