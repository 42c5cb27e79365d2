"""The REST API (``/api/v1``): flask-smorest blueprints that parse, call a service, respond."""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
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
        _json_pagination_header(spec)
        return spec

    def _openapi_json(self):
        return current_app.json.response(self.openapi_document())


class ProblemResponses(BasePlugin):
    """apispec plugin: every error response of the document carries its body, RFC 9457
    problem+json (``ProblemSchema``), as ``booking.errors`` answers every 4xx and 5xx. A blueprint
    then documents an error with a description alone, and none can be left without a body."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        # Runs after the marshmallow plugin (flask-smorest appends extra plugins), so the schema
        # this plugin adds is resolved, and registered as a component, by that plugin's resolver.
        self._marshmallow = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
        self._problem_ref: dict | None = None

    def _problem(self) -> dict:
        """A reference to the Problem component, registered on first use."""
        if self._problem_ref is None:
            self._problem_ref = self._marshmallow.resolver.resolve_schema_dict(ProblemSchema)
        return dict(self._problem_ref)

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                # A str is a reference to a shared response: response_helper handles those.
                if str(code)[0] in "45" and isinstance(response, dict) and "$ref" not in response:
                    if "content" not in response:
                        response["content"] = {PROBLEM_JSON: {"schema": self._problem()}}
                    _problem_media_type(response)

    def response_helper(self, response: dict, **kwargs: Any) -> dict:
        """Shared responses (flask-smorest's DEFAULT_ERROR, UNPROCESSABLE_ENTITY, ...) come with
        ``Api.ERROR_SCHEMA`` as application/json: a Problem body is application/problem+json."""
        json_body = response.get("content", {}).get("application/json", {})
        if json_body.get("schema") == self._problem():
            _problem_media_type(response)
        return response


def _problem_media_type(response: dict) -> None:
    """Error bodies are application/problem+json, also where a decorator gave a schema under the
    default application/json."""
    content = response.get("content", {})
    if "application/json" in content:
        content.setdefault(PROBLEM_JSON, content.pop("application/json"))


def _json_pagination_header(spec: dict) -> None:
    """X-Pagination carries JSON text: OpenAPI describes such a header with ``content``, not with
    an object ``schema`` (which would mean a comma-separated key,value list)."""
    header = spec.get("components", {}).get("headers", {}).get("PAGINATION")
    if header and "schema" in header:
        header["content"] = {"application/json": {"schema": header.pop("schema")}}


api = Api()


def init_api(app: Flask) -> None:
    from booking.api import (
        accounts,
        audit,
        bookings,
        buildings,
        conflicts,
        docs,
        feeds,
        me,
        organizations,
        outbox,
        pricing,
        registry,
        reports,
        rooms,
        rounds,
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
    # A plugin instance per app: it holds a reference to that app's spec.
    api.init_app(app, spec_kwargs={"extra_plugins": [ProblemResponses()]})
    from booking.feeds import routes as feed_routes

    for module in (
        tokens,
        me,
        accounts,
        buildings,
        rooms,
        organizations,
        bookings,
        conflicts,
        schedule,
        pricing,
        feeds,
        outbox,
        registry,
        rounds,
    ):
        api.register_blueprint(module.blp, url_prefix=API_PREFIX + module.PREFIX)
    api.register_blueprint(feed_routes.blp, url_prefix=feed_routes.PREFIX)
    api.register_blueprint(audit.blp, url_prefix=API_PREFIX + audit.PREFIX)
    api.register_blueprint(reports.blp, url_prefix=API_PREFIX + reports.PREFIX)
    app.register_blueprint(docs.bp)
