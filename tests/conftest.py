"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
BOOKING_TEST_DATABASE_URL is set; the schema always comes from the migrations."""

from __future__ import annotations

import os

import pytest

from booking.config import normalize_database_url

PG_URL = os.environ.get("BOOKING_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if PG_URL:
        return normalize_database_url(PG_URL)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")
