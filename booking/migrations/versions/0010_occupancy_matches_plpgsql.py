"""the occupancy guard's match test in PL/pgSQL (PostgreSQL): its plan is kept per connection

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:10:00.000000

``occupancy_matches`` (migration 0004) is the test of the occupancy guard: a row must be what
its booking implies. As a SQL function called from the PL/pgSQL guard it was planned again on
every call; the same test in PL/pgSQL keeps its plan for the connection's life. Measured on the
benchmark data: a booking INSERT (with its occupancy row and guard) 1.05 -> 0.81 ms in
PostgreSQL (see BENCHMARKS.md). SQLite's guards are triggers of their own, unchanged.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN = "('pending', 'confirmed')"
TEST = f"""
        SELECT 1 FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id
        WHERE b.id = held.booking_id AND u.unit_id = held.unit_id AND b.status IN {OPEN}
          AND b.start = held.start AND b.occupied_until = held.occupied_until
          AND (b.status = 'confirmed') = held.active
"""


def _define(language_and_body: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE OR REPLACE FUNCTION occupancy_matches(held occupancies) RETURNS boolean {language_and_body}")


def upgrade():
    _define(f"LANGUAGE plpgsql STABLE AS $$\nBEGIN\n    RETURN EXISTS ({TEST}    );\nEND $$")


def downgrade():
    _define(f"LANGUAGE sql STABLE AS $$\n    SELECT EXISTS ({TEST}    )\n$$")
