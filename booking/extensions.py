"""Extensions, created unbound and bound in ``create_app``."""

from __future__ import annotations

import sqlite3

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

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


_WROTE = "booking.wrote"


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    """Remember on the connection that its transaction sent something other than a read."""
    if not conn.info.get(_WROTE) and not statement.lstrip()[:6].upper().startswith(("SELECT", "BEGIN")):
        conn.info[_WROTE] = True


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_writes(conn) -> None:
    conn.info.pop(_WROTE, None)


@event.listens_for(Pool, "checkin")
def _forget_writes_on_checkin(dbapi_connection, connection_record) -> None:
    connection_record.info.pop(_WROTE, None)  # the pool rolled back whatever was left


def wrote_anything(session) -> bool:
    """Did the session's transaction write, or does it hold changes not flushed yet? A
    transaction that failed (a flush refused by a constraint) counts as written: it must be
    rolled back."""
    session = session() if callable(session) else session  # the scoped_session's current one
    if session.new or session.dirty or session.deleted:
        return True
    transaction = session.get_transaction()
    if transaction is None:
        return False
    if not transaction.is_active:
        return True
    return bool(session.connection().info.get(_WROTE))
