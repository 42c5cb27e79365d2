"""The room booking service: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os

from flask import Flask, request

from booking.config import load_config
from booking.extensions import begin_write_transaction, db, end_unit_of_work, migrate
from booking.guards import init_guards

# Inside the package, so an installed (not only editable) booking can migrate.
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_ECHO"] = app.config.get("BOOKING_SQL_ECHO", False)
    app.json.ensure_ascii = False
    init_guards(app)  # first: bounded id converter before any route, hostile-input checks

    from booking import models  # noqa: F401 - registers the tables
    from booking.api import init_api
    from booking.errors import register_error_handlers
    from booking.feeds import cache as feed_cache
    from booking.feeds import markers
    from booking.ratelimit import init_rate_limits
    from booking.services.audit import init_audit
    from booking.web import init_web

    db.init_app(app)
    markers.install(db.session)  # feed change markers follow every booking change
    init_audit(app)  # the audit log follows every change
    feed_cache.init_app(app)  # at start-up, so a wrong BOOKING_FEED_CACHE_URL stops it there
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    register_error_handlers(app)
    init_api(app)
    init_web(app)
    init_rate_limits(app)  # after the blueprints: it wraps the login endpoints
    _register_request_hooks(app)
    warm_up()
    if app.config.get("BOOKING_TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["BOOKING_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.get("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

    return app


def warm_up() -> None:
    """Compute per-process caches before the first request instead of during it: the public
    holidays of last, this and the next two years (the holidays library takes ~40 ms a year)."""
    from datetime import datetime

    from booking.domain.holidays import public_holidays
    from pricing import OSLO

    this_year = datetime.now(OSLO).year
    for year in range(this_year - 1, this_year + 3):
        public_holidays(year)


def _register_request_hooks(app: Flask) -> None:
    """One transaction per request (the unit of work): writes start as write transactions; the
    request's answer says how it ends (``end_unit_of_work``); services only flush and raise."""

    @app.before_request
    def _begin():
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            begin_write_transaction()

    @app.after_request
    def _finish(response):
        end_unit_of_work(succeeded=response.status_code < 400)
        return response
