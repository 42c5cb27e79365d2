"""The baseline of the booking-create benchmark: the same stack (gunicorn, Flask, SQLAlchemy,
psycopg, the same database) doing the least a booking endpoint can do: one raw INSERT into a
table with the same exclusion constraint as ``occupancies``, committed; an overlap is a 409.

Not part of the product: ``gunicorn bench.baseline_app:app`` with ``BOOKING_DATABASE_URL``.
"""

from __future__ import annotations

import os
from datetime import datetime

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from booking.config import normalize_database_url

TABLE = "bench_baseline_holds"
POSTGRES_DDL = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        id serial PRIMARY KEY,
        unit_id integer NOT NULL,
        start timestamptz NOT NULL,
        occupied_until timestamptz NOT NULL,
        active boolean NOT NULL DEFAULT true,
        CONSTRAINT {TABLE}_no_overlap EXCLUDE USING gist
            (unit_id WITH =, tstzrange(start, occupied_until, '[)') WITH &&) WHERE (active)
    )""",
]
SQLITE_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL, start TEXT NOT NULL,
        occupied_until TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT 1)""",
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_unit_start ON {TABLE} (unit_id, start)",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_overlap BEFORE INSERT ON {TABLE} WHEN NEW.active
    BEGIN
        SELECT RAISE(ABORT, 'overlap') WHERE EXISTS (
            SELECT 1 FROM {TABLE} AS other WHERE other.active AND other.unit_id = NEW.unit_id
              AND other.start < NEW.occupied_until AND NEW.start < other.occupied_until);
    END""",
]


def prepare(url: str, empty: bool = True) -> None:
    """Create (and empty) the baseline table."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as conn:
        for statement in POSTGRES_DDL if engine.dialect.name == "postgresql" else SQLITE_DDL:
            conn.execute(text(statement))
        if empty:
            conn.execute(text(f"DELETE FROM {TABLE}"))
    engine.dispose()


def create_baseline_app(url: str | None = None) -> Flask:
    url = normalize_database_url(url or os.environ["BOOKING_DATABASE_URL"])
    engine = (
        create_engine(url, pool_size=5, max_overflow=5)
        if url.startswith("postgresql")
        else create_engine(url, connect_args={"timeout": 30})
    )
    insert = text(
        f"INSERT INTO {TABLE} (unit_id, start, occupied_until, active) "
        "VALUES (:unit_id, :start, :until, true) RETURNING id"
    )
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/holds")
    def create_hold():
        data = request.get_json()
        values = {
            "unit_id": int(data["unit_id"]),
            "start": datetime.fromisoformat(data["start"]),
            "until": datetime.fromisoformat(data["end"]),
        }
        if engine.dialect.name == "sqlite":
            values = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
        try:
            with engine.begin() as conn:
                hold_id = conn.execute(insert, values).scalar_one()
        except IntegrityError:
            return jsonify({"status": 409, "title": "Conflict"}), 409
        return jsonify({"id": hold_id}), 201

    return app


app = create_baseline_app() if os.environ.get("BOOKING_DATABASE_URL") else None
