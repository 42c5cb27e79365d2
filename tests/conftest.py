"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
BOOKING_TEST_DATABASE_URL is set; the schema always comes from the migrations."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from booking.config import normalize_database_url

PG_URL = os.environ.get("BOOKING_TEST_DATABASE_URL")


def reset_database(url: str) -> None:
    """Empty the database entirely (tables, types, alembic_version)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if PG_URL:
        return normalize_database_url(PG_URL)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")
