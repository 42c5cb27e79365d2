"""Extensions, created unbound and bound in ``create_app``."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# Deterministic constraint names, so migrations can address them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: WAL (readers never block the writer), foreign keys on, and transactions begun by
    us (``_sqlite_begin``) instead of pysqlite, so writes can use BEGIN IMMEDIATE."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    """On SQLite a write transaction starts with BEGIN IMMEDIATE: it takes the database's one
    write lock before reading, so check-then-insert cannot interleave between processes."""
    if conn.dialect.name != "sqlite":
        return
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def begin_write_transaction() -> None:
    """Start the session's transaction as a write transaction (BEGIN IMMEDIATE on SQLite; a
    no-op elsewhere, where row locks and constraints do the work). Call before the first query."""
    if db.session().in_transaction():
        return
    db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def begin_read_snapshot() -> None:
    """Start the session's transaction as one snapshot for all its reads: REPEATABLE READ on
    PostgreSQL, whose default gives each statement a snapshot of its own (SQLite's deferred
    transaction in WAL mode already reads one). For a read that must agree with itself across
    statements: a feed's ETag comes from its markers and its body from the bookings, read after.
    Call before the first query."""
    if db.session().in_transaction() or db.engine.dialect.name != "postgresql":
        return
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


_WROTE = "booking.wrote"


@event.listens_for(Session, "after_flush")
def _note_flush(session, flush_context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def note_written(session) -> None:
    """Count a statement the session cannot tell wrote as a write (an INSERT inside a SELECT's
    data-modifying CTE), so a failure after it rolls back (``end_unit_of_work``)."""
    session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def end_unit_of_work(succeeded: bool) -> None:
    """The one place a unit of work (a request, a CLI command, a job) ends its transaction:
    COMMIT when it succeeded; otherwise ROLLBACK, unless it was refused before writing anything.
    Services check before they write, so a refusal (a 409 found by the check, a 422, a 404)
    usually wrote nothing, and its read-only transaction then ends with COMMIT: the same effect,
    but psycopg drops every prepared statement of the connection on a ROLLBACK (measured in
    BENCHMARKS.md: PostgreSQL CPU per refused create 3.1 -> 1.9 ms). What counts as written is
    known from the session, not from SQL text: a flush, a bulk INSERT/UPDATE/DELETE statement,
    or changes not flushed yet."""
    session = db.session()
    transaction = session.get_transaction()
    wrote = (
        session.info.get(_WROTE)
        or session.new
        or session.dirty
        or session.deleted
        or (transaction is not None and not transaction.is_active)
    )
    if succeeded or not wrote:
        session.commit()
    else:
        session.rollback()


@contextmanager
def unit_of_work():
    """A CLI command's or a job's transaction: committed at the end, rolled back on any error."""
    try:
        yield
    except BaseException:
        end_unit_of_work(succeeded=False)
        raise
    end_unit_of_work(succeeded=True)


# Transaction-level advisory locks on PostgreSQL, one key per atomic unit, in the namespace below.
# Every change that makes units busy (create, approve, move, a room's parts) takes the locks of
# the units it touches, in ascending order, before any row lock: the check that follows reads
# everything committed before it, so it is exact and the exclusion constraint stays a backstop;
# and one order everywhere means two such changes never deadlock. SQLite needs none: its write
# transactions are serialized already (BEGIN IMMEDIATE).
UNIT_LOCKS = 0x0B00C
_LOCK_UNITS = text(
    "SELECT pg_advisory_xact_lock(CAST(:space AS integer), unit) "
    "FROM unnest(CAST(:units AS integer[])) AS unit"
)


def lock_units(unit_ids) -> None:
    """Serialize the changes that may make ``unit_ids`` busy (see ``UNIT_LOCKS``)."""
    units = sorted(set(unit_ids))
    if units and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_LOCK_UNITS, {"space": UNIT_LOCKS, "units": units})
