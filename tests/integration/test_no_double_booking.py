"""The one invariant: active occupancies never overlap on a unit. Checked against the shared
boundary table for the SQL query and for the database's own guard (exclusion constraint on
PostgreSQL, triggers on SQLite), and by property tests over random operation sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
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
    """A gym of halves A and B, and another room: the boundary table's unit labels mapped
    onto real units."""
    building = make.building()
    half_a = make.room(building, name="A", kind="gym")
    half_b = make.room(building, name="B", kind="gym")
    make.room(building, name="A+B", kind="gym", part_ids=[half_a.id, half_b.id])
    other = make.room(building, name="Other", kind="gym")
    labels = {1: half_a.id, 2: half_b.id, 3: other.id}
    return lambda units: [labels[u] for u in sorted(units)], make.organization()


def _booking(room_id: int, organization_id: int, start: datetime, end: datetime) -> Booking:
    booking = Booking(
        room_id=room_id,
        organization_id=organization_id,
        title="x",
        start=start,
        end=end,
        status="confirmed",
        quote={},
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def _insert_occupancies(booking: Booking, units: list[int], start, end, buffer_minutes: int) -> None:
    until = end + timedelta(minutes=buffer_minutes)
    db.session.execute(
        Occupancy.__table__.insert(),
        [
            {"booking_id": booking.id, "unit_id": u, "start": start, "occupied_until": until, "active": True}
            for u in units
        ],
    )


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.name)
def test_boundary_table_sql_query_and_database_guard(divisible, case: BoundaryCase):
    units_of, organization = divisible
    existing_units = units_of(case.existing.units)
    booking = _booking(existing_units[0], organization.id, case.existing.start, case.existing.end)
    _insert_occupancies(
        booking, existing_units, case.existing.start, case.existing.end, case.existing.buffer_minutes
    )
    db.session.commit()

    requested_units = units_of(case.requested.units)
    until = case.requested.end + timedelta(minutes=case.requested.buffer_minutes)
    # The SQL rule used for the friendly 409:
    assert bool(existing_holds(requested_units, case.requested.start, until)) == case.conflict
    # The database's own guard:
    other = _booking(requested_units[0], organization.id, case.requested.start, case.requested.end)
    try:
        with db.session.begin_nested():
            _insert_occupancies(
                other,
                requested_units,
                case.requested.start,
                case.requested.end,
                case.requested.buffer_minutes,
            )
        refused = False
    except IntegrityError:
        refused = True
    db.session.rollback()
    assert refused == case.conflict


def test_boundary_table_maps_every_label(divisible):
    units_of, _ = divisible
    assert len(set(units_of(PART_A | PART_B | OTHER_ROOM))) == 3


def test_inactive_occupancies_may_overlap_but_activating_one_into_a_clash_fails(divisible):
    units_of, organization = divisible
    start = datetime(2030, 1, 7, 17, tzinfo=UTC)
    end = start + timedelta(hours=2)
    first, second = (_booking(units_of(PART_A)[0], organization.id, start, end) for _ in range(2))
    for booking, active in ((first, True), (second, False)):
        db.session.execute(
            Occupancy.__table__.insert(),
            [
                {
                    "booking_id": booking.id,
                    "unit_id": units_of(PART_A)[0],
                    "start": start,
                    "occupied_until": end,
                    "active": active,
                }
            ],
        )
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            text("UPDATE occupancies SET active = :t WHERE booking_id = :id"), {"t": True, "id": second.id}
        )
        db.session.flush()
    db.session.rollback()


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
                    {
                        "room_id": rooms[room_index],
                        "organization_id": organization_id,
                        "title": "t",
                        "start": start,
                        "end": start + timedelta(minutes=30 * length),
                    },
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
                    {"start": start, "end": start + timedelta(minutes=30 * op[2][1])},
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
        db.session.execute(Occupancy.__table__.delete())
        db.session.execute(Booking.__table__.delete())
        db.session.execute(text("DELETE FROM notifications"))
        db.session.commit()
