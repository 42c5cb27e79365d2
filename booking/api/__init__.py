"""The REST API (``/api/v1``): flask-smorest blueprints that parse, call a service, respond."""

from __future__ import annotations

from flask import Flask, current_app
from flask_smorest import Api as SmorestApi

from booking.errors import PROBLEM_JSON, ProblemSchema

API_PREFIX = "/api/v1"


class Api(SmorestApi):
    """flask-smorest with problem+json errors. The handlers live in ``booking.errors``; here
    they are only documented."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass  # booking.errors registers one handler for the whole app

    def openapi_document(self) -> dict:
        spec = self.spec.to_dict()
        _problem_content_type(spec)
        _json_pagination_header(spec)
        return spec

    def _openapi_json(self):
        return current_app.json.response(self.openapi_document())


def _problem_content_type(spec: dict) -> None:
    """Error responses are application/problem+json, not application/json."""
    responses = [
        r
        for path in spec.get("paths", {}).values()
        for op in path.values()
        if isinstance(op, dict)
        for code, r in op.get("responses", {}).items()
        if str(code)[0] in "45"
    ]
    responses += list(spec.get("components", {}).get("responses", {}).values())
    for response in responses:
        if "content" in response:
            response["content"] = {PROBLEM_JSON: next(iter(response["content"].values()))}


def _json_pagination_header(spec: dict) -> None:
    """X-Pagination carries JSON text: OpenAPI describes such a header with ``content``, not with
    an object ``schema`` (which would mean a comma-separated key,value list)."""
    header = spec.get("components", {}).get("headers", {}).get("PAGINATION")
    if header and "schema" in header:
        header["content"] = {"application/json": {"schema": header.pop("schema")}}


api = Api()


def init_api(app: Flask) -> None:
    from booking.api import (
        audit,
        bookings,
        buildings,
        conflicts,
        docs,
        feeds,
        me,
        organizations,
        pricing,
        rooms,
        schedule,
        tokens,
    )

    app.config.setdefault("API_TITLE", "Room booking")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "Book municipal rooms for voluntary associations. Errors are RFC 9457 "
                "problem+json. Times are ISO 8601; a value without offset means Europe/Oslo local "
                "time. Money is integer øre in fields named *_ore. Lists are paginated with "
                "`page` and `page_size` (default 50, max 500); see the X-Pagination header.",
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api.init_app(app)
    from booking.feeds import routes as feed_routes

    for module in (
        tokens,
        me,
        buildings,
        rooms,
        organizations,
        bookings,
        conflicts,
        schedule,
        pricing,
        feeds,
    ):
        api.register_blueprint(module.blp, url_prefix=API_PREFIX + module.PREFIX)
    api.register_blueprint(feed_routes.blp, url_prefix=feed_routes.PREFIX)
    api.register_blueprint(audit.blp, url_prefix=API_PREFIX + audit.PREFIX)
    app.register_blueprint(docs.bp)
