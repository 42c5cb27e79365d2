"""booking lifecycle: the database keeps the occupancy in step with the booking (SPEC §11)

Bookings get ``occupied_until`` (end + the room's buffer in absolute time, computed by the domain's
one buffer rule) and the occupancy rows are derived from the booking by triggers: inserted with
the booking, replaced when its status, room, start or occupied_until change, removed when it is
rejected or cancelled, and moved onto a room's new units when its parts change (future bookings
only; past ones keep the units they used). Other writes to the occupancy table are refused:
an inserted row must match its booking, rows are never updated, and a row that still matches an
open booking cannot be deleted. So a confirmed booking without its units, or a cancelled one with
them, cannot exist, whatever writes to the database. On PostgreSQL the trigger also refuses an open
booking on a date its building is closed (the service checks first; this catches a closure that
committed while a create or move waited for its units' locks).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = "('pending', 'confirmed')"

# --- PostgreSQL ----------------------------------------------------------------------------------

PG_UP = [
    f"""
CREATE FUNCTION booking_occupancy_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Closures: the service refuses a booking on a closed date and displaces those a new closure
    -- covers; this catches the one race that check cannot see (a closure committed while a
    -- create or move waited for its units' locks; this query has a fresh snapshot).
    IF NEW.status IN {OPEN}
       AND (TG_OP = 'INSERT' OR NEW.start <> OLD.start OR NEW."end" <> OLD."end" OR NEW.room_id <> OLD.room_id)
       AND EXISTS (
           SELECT 1 FROM building_closures AS c JOIN rooms AS r ON r.building_id = c.building_id
           WHERE r.id = NEW.room_id
             AND c.start_date <= ((NEW."end" - interval '1 microsecond') AT TIME ZONE 'Europe/Oslo')::date
             AND c.end_date >= (NEW.start AT TIME ZONE 'Europe/Oslo')::date
       ) THEN
        RAISE EXCEPTION 'booking_closed: the building is closed on a date of this booking'
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Rows the booking no longer implies go; a row it still implies (a move from a divided
        -- room to one of its parts at the same time) stays.
        DELETE FROM occupancies AS o WHERE o.booking_id = OLD.id AND NOT occupancy_matches(o);
    END IF;
    IF NEW.status IN {OPEN} THEN
        INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active)
        SELECT NEW.id, u.unit_id, NEW.start, NEW.occupied_until, NEW.status = 'confirmed'
        FROM room_units AS u
        WHERE u.room_id = NEW.room_id
          AND NOT EXISTS (SELECT 1 FROM occupancies AS o WHERE o.booking_id = NEW.id AND o.unit_id = u.unit_id)
        ORDER BY u.unit_id;
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE TRIGGER bookings_occupancy_insert AFTER INSERT ON bookings
FOR EACH ROW EXECUTE FUNCTION booking_occupancy_sync()
""",
    """
CREATE TRIGGER bookings_occupancy_update AFTER UPDATE OF status, room_id, start, occupied_until ON bookings
FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status OR OLD.room_id IS DISTINCT FROM NEW.room_id
    OR OLD.start IS DISTINCT FROM NEW.start OR OLD.occupied_until IS DISTINCT FROM NEW.occupied_until
) EXECUTE FUNCTION booking_occupancy_sync()
""",
    f"""
CREATE FUNCTION room_units_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD.room_id; ELSE changed := NEW.room_id; END IF;
    DELETE FROM occupancies AS o USING bookings AS b
    WHERE o.booking_id = b.id AND b.room_id = changed AND b.occupied_until > now()
      AND NOT EXISTS (SELECT 1 FROM room_units AS u WHERE u.room_id = changed AND u.unit_id = o.unit_id);
    INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active)
    SELECT b.id, u.unit_id, b.start, b.occupied_until, b.status = 'confirmed'
    FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id
    WHERE b.room_id = changed AND b.status IN {OPEN} AND b.occupied_until > now()
      AND NOT EXISTS (SELECT 1 FROM occupancies AS o WHERE o.booking_id = b.id AND o.unit_id = u.unit_id)
    ORDER BY b.start, u.unit_id;
    RETURN NULL;
END $$
""",
    """
CREATE TRIGGER room_units_occupancy AFTER INSERT OR DELETE ON room_units
FOR EACH ROW EXECUTE FUNCTION room_units_sync()
""",
    # The guards: a row must be what its booking implies, and stays while the booking implies it.
    f"""
CREATE FUNCTION occupancy_matches(held occupancies) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id
        WHERE b.id = held.booking_id AND u.unit_id = held.unit_id AND b.status IN {OPEN}
          AND b.start = held.start AND b.occupied_until = held.occupied_until
          AND (b.status = 'confirmed') = held.active
    )
$$
""",
    """
CREATE FUNCTION occupancy_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NOT occupancy_matches(NEW) THEN
        RAISE EXCEPTION 'occupancy_mismatch: occupancy rows are derived from their booking'
            USING ERRCODE = 'integrity_constraint_violation';
    ELSIF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'occupancy_derived: occupancy rows are never updated'
            USING ERRCODE = 'integrity_constraint_violation';
    ELSIF TG_OP = 'DELETE' AND occupancy_matches(OLD) THEN
        RAISE EXCEPTION 'occupancy_held: the booking still holds this unit'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER occupancies_guard BEFORE INSERT OR UPDATE OR DELETE ON occupancies
FOR EACH ROW EXECUTE FUNCTION occupancy_guard()
""",
]

PG_DOWN = [
    "DROP TRIGGER IF EXISTS occupancies_guard ON occupancies",
    "DROP FUNCTION IF EXISTS occupancy_guard()",
    "DROP FUNCTION IF EXISTS occupancy_matches(occupancies)",
    "DROP TRIGGER IF EXISTS room_units_occupancy ON room_units",
    "DROP FUNCTION IF EXISTS room_units_sync()",
    "DROP TRIGGER IF EXISTS bookings_occupancy_update ON bookings",
    "DROP TRIGGER IF EXISTS bookings_occupancy_insert ON bookings",
    "DROP FUNCTION IF EXISTS booking_occupancy_sync()",
]

# --- SQLite --------------------------------------------------------------------------------------
# Triggers run inside the write transaction, which BEGIN IMMEDIATE serializes across processes.
# SQLAlchemy stores instants as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC, which orders like time.

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQLITE_MATCHES = f"""EXISTS (
        SELECT 1 FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id
        WHERE b.id = {{row}}.booking_id AND u.unit_id = {{row}}.unit_id AND b.status IN {OPEN}
          AND b.start = {{row}}.start AND b.occupied_until = {{row}}.occupied_until
          AND (b.status = 'confirmed') = {{row}}.active
    )"""

SQLITE_UP = [
    *(
        f"""
CREATE TRIGGER bookings_buffer_not_negative_{event.lower()} BEFORE {event} ON bookings
WHEN NEW.occupied_until < NEW."end"
BEGIN
    SELECT RAISE(ABORT, 'ck_bookings_buffer_not_negative: occupied_until must not be before the end');
END
"""
        for event in ("INSERT", "UPDATE")
    ),
    f"""
CREATE TRIGGER bookings_occupancy_insert AFTER INSERT ON bookings
WHEN NEW.status IN {OPEN}
BEGIN
    INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active)
    SELECT NEW.id, unit_id, NEW.start, NEW.occupied_until, NEW.status = 'confirmed'
    FROM room_units WHERE room_id = NEW.room_id ORDER BY unit_id;
END
""",
    f"""
CREATE TRIGGER bookings_occupancy_update AFTER UPDATE OF status, room_id, start, occupied_until ON bookings
WHEN OLD.status IS NOT NEW.status OR OLD.room_id IS NOT NEW.room_id
  OR OLD.start IS NOT NEW.start OR OLD.occupied_until IS NOT NEW.occupied_until
BEGIN
    DELETE FROM occupancies WHERE booking_id = OLD.id AND NOT {SQLITE_MATCHES.format(row="occupancies")};
    INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active)
    SELECT NEW.id, unit_id, NEW.start, NEW.occupied_until, NEW.status = 'confirmed'
    FROM room_units
    WHERE room_id = NEW.room_id AND NEW.status IN {OPEN}
      AND NOT EXISTS (
          SELECT 1 FROM occupancies AS o WHERE o.booking_id = NEW.id AND o.unit_id = room_units.unit_id
      )
    ORDER BY unit_id;
END
""",
    *(
        f"""
CREATE TRIGGER room_units_occupancy_{event.lower()} AFTER {event} ON room_units
BEGIN
    DELETE FROM occupancies
    WHERE booking_id IN (
        SELECT id FROM bookings WHERE room_id = {row}.room_id AND occupied_until > {SQLITE_NOW}
    ) AND unit_id NOT IN (SELECT unit_id FROM room_units WHERE room_id = {row}.room_id);
    INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active)
    SELECT b.id, u.unit_id, b.start, b.occupied_until, b.status = 'confirmed'
    FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id
    WHERE b.room_id = {row}.room_id AND b.status IN {OPEN} AND b.occupied_until > {SQLITE_NOW}
      AND NOT EXISTS (SELECT 1 FROM occupancies AS o WHERE o.booking_id = b.id AND o.unit_id = u.unit_id)
    ORDER BY b.start, u.unit_id;
END
"""
        for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"))
    ),
    f"""
CREATE TRIGGER occupancies_guard_insert BEFORE INSERT ON occupancies
WHEN NOT {SQLITE_MATCHES.format(row="NEW")}
BEGIN
    SELECT RAISE(ABORT, 'occupancy_mismatch: occupancy rows are derived from their booking');
END
""",
    """
CREATE TRIGGER occupancies_guard_update BEFORE UPDATE ON occupancies
BEGIN
    SELECT RAISE(ABORT, 'occupancy_derived: occupancy rows are never updated');
END
""",
    f"""
CREATE TRIGGER occupancies_guard_delete BEFORE DELETE ON occupancies
WHEN {SQLITE_MATCHES.format(row="OLD")}
BEGIN
    SELECT RAISE(ABORT, 'occupancy_held: the booking still holds this unit');
END
""",
]

SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "bookings_buffer_not_negative_insert",
        "bookings_buffer_not_negative_update",
        "occupancies_guard_delete",
        "occupancies_guard_update",
        "occupancies_guard_insert",
        "room_units_occupancy_delete",
        "room_units_occupancy_insert",
        "bookings_occupancy_update",
        "bookings_occupancy_insert",
    )
]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.add_column("bookings", sa.Column("occupied_until", sa.DateTime(timezone=True), nullable=True))
        op.execute(
            'UPDATE bookings SET occupied_until = bookings."end" + make_interval(mins => rooms.buffer_minutes) '
            "FROM rooms WHERE rooms.id = bookings.room_id"
        )
        op.alter_column("bookings", "occupied_until", nullable=False)
        op.create_check_constraint("buffer_not_negative", "bookings", 'occupied_until >= "end"')
    else:
        # SQLite adds a NOT NULL column only with a default, and adds constraints only by copying
        # the table (which, with foreign keys on, would empty its children): a default that the
        # update below replaces, and the check as triggers.
        op.add_column(
            "bookings",
            sa.Column(
                "occupied_until",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default="1970-01-01 00:00:00.000000",
            ),
        )
        _fill_occupied_until_sqlite()

    # The occupancy is rebuilt from the bookings: whatever an earlier version left out of step
    # (a cancelled booking still holding its units, a confirmed one without them) is mended here;
    # a real double booking among confirmed bookings makes the upgrade fail loudly.
    op.execute("DELETE FROM occupancies")
    op.drop_index("ix_occupancies_booking_id", table_name="occupancies")
    op.create_index("uq_occupancies_booking_unit", "occupancies", ["booking_id", "unit_id"], unique=True)
    op.execute(
        "INSERT INTO occupancies (booking_id, unit_id, start, occupied_until, active) "
        "SELECT b.id, u.unit_id, b.start, b.occupied_until, b.status = 'confirmed' "
        f"FROM bookings AS b JOIN room_units AS u ON u.room_id = b.room_id WHERE b.status IN {OPEN} "
        "ORDER BY b.start, u.unit_id"
    )
    for statement in PG_UP if postgresql else SQLITE_UP:
        op.execute(statement)


def _fill_occupied_until_sqlite():
    """end + buffer in absolute minutes, as ``booking.domain.timeslots.occupied_until`` says
    (SQLite keeps UTC text, so plain addition is exact)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            'SELECT b.id, b."end", r.buffer_minutes FROM bookings AS b JOIN rooms AS r ON r.id = b.room_id'
        )
    ).all()
    bookings = sa.table("bookings", sa.column("id", sa.Integer), sa.column("occupied_until", sa.DateTime()))
    to_datetime = sa.DateTime().result_processor(bind.dialect, None)
    for booking_id, end, buffer_minutes in rows:
        op.execute(
            bookings.update()
            .where(bookings.c.id == booking_id)
            .values(occupied_until=to_datetime(end) + timedelta(minutes=buffer_minutes))
        )


def downgrade():
    for statement in PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    op.drop_index("uq_occupancies_booking_unit", table_name="occupancies")
    op.create_index("ix_occupancies_booking_id", "occupancies", ["booking_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_bookings_buffer_not_negative", "bookings", type_="check")
    op.drop_column("bookings", "occupied_until")
