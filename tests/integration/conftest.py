from __future__ import annotations

import itertools

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from bench.common import reset_database
from booking import create_app
from booking.extensions import db
from booking.models import PriceListVersion
from pricing import DEFAULT_PRICE_LIST
from tests.integration import factories


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    reset_database(database_url)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "BOOKING_PUBLIC_URL": "http://booking.test",
            "RATELIMIT_ENABLED": False,  # tests/integration/test_ratelimit.py switches it on
        }
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():  # close the pool's connections before the interpreter finds them open
        db.session.remove()
        db.engine.dispose()


def _wipe(app) -> None:
    with app.app_context():
        db.session.rollback()
        # DELETE, not TRUNCATE: on PostgreSQL a TRUNCATE of every table costs ~0.7 s per test,
        # a DELETE of the few rows a test makes ~0.03 s. Children before parents.
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "occupancies":  # derived rows: they go with their bookings
                db.session.execute(text(f"DELETE FROM {table.name}"))
        # The default price list comes with the schema (migration 0001); put it back.
        db.session.add(
            PriceListVersion(
                version=DEFAULT_PRICE_LIST.version,
                valid_from=DEFAULT_PRICE_LIST.valid_from,
                data=DEFAULT_PRICE_LIST.to_dict(),
            )
        )
        db.session.commit()


@pytest.fixture
def app_ctx(app):
    _wipe(app)
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def client(app_ctx):
    return app_ctx.test_client()


@pytest.fixture
def limited(app_ctx, database_url):
    """An app with the login budget switched on: 3 a minute per client address."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "BOOKING_PUBLIC_URL": "http://booking.test",
            "RATELIMIT_ENABLED": True,
            "BOOKING_RATELIMIT_LOGIN": "3 per minute",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make(app_ctx):
    """Factories that write straight to the database: make.building(), make.room(), ..."""
    return factories.Factories(itertools.count(1))
