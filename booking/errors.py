"""Every error leaves the service as RFC 9457 problem+json, mapped here and nowhere else."""

from __future__ import annotations

import json as stdlib_json
import logging
from datetime import date, datetime

from flask import Flask, Response, current_app, request
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from booking.domain.errors import DomainError
from booking.schemas.bookings import ConflictSchema, SuggestionSchema
from booking.schemas.common import LocalDateTime
from pricing.weekly import OSLO

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://booking.invalid/problems/"  # a stable, never-resolved namespace for problem types
# The pages (booking.web) register a renderer under this key: errors on page paths become HTML
# pages built from the same problem details; the API, feeds and health check keep problem+json.
PAGE_ERROR_RENDERER = "booking.page_error_renderer"
MACHINE_PATHS = ("/api/", "/feeds/", "/healthz")


class ProblemSchema(Schema):
    """RFC 9457 problem details: the body of every 4xx and 5xx answer (documentation only; the
    answers are built by ``problem``). ``booking.api`` attaches it to every error response of the
    OpenAPI document, so ``@blp.alt_response(404, description=...)`` is enough in a blueprint."""

    class Meta:
        # RFC 9457 lets a problem type add members and tells clients to ignore those they do not
        # know: the document says so (additionalProperties), unlike the closed resource schemas.
        unknown = INCLUDE

    # Always present (``problem`` sets all four): required, so generated clients need no None checks.
    type = fields.String(required=True, metadata={"description": "URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field -> messages, for 422 validation errors"},
    )
    rule = fields.String(metadata={"description": "Rule code, for booking rule violations"})
    occurrence = LocalDateTime(
        metadata={"description": "For a rule violation by a series: the first occurrence that breaks it"}
    )
    conflicts = fields.List(
        fields.Nested(ConflictSchema),
        metadata={
            "description": "For a 409 booking conflict: one entry per requested occurrence that cannot be had"
        },
    )
    suggestions = fields.List(
        fields.Nested(SuggestionSchema),
        metadata={"description": "For a 409 booking conflict: up to 5 free alternatives"},
    )


def problem(status: int, title: str, detail: str, slug: str | None = None, headers=None, **extra) -> Response:
    body = {
        "type": TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    payload = stdlib_json.dumps(body, default=_json_default, ensure_ascii=False)
    # An answer that quotes the client (a field name, a value) may hold what UTF-8 cannot (an
    # unpaired surrogate from a JSON escape): written back as the same escape, still valid JSON.
    data = payload.encode("utf-8", "backslashreplace")
    return Response(data, status=status, mimetype=PROBLEM_JSON, headers=headers)


def _json_default(value):
    """Instants in problem details read like everywhere else in the API: Oslo time, ISO 8601."""
    if isinstance(value, datetime):
        return value.astimezone(OSLO).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def flatten_messages(messages) -> dict[str, list[str]]:
    """webargs nests errors by location and field ({"json": {"start": [...]}}); clients want
    one flat ``field -> messages`` map with dotted paths for nested fields."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_body", []).extend(value)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}", sub)
        else:
            flat.setdefault(prefix or "_body", []).append(str(value))

    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "headers", "path", "files"}:
        for location_messages in messages.values():
            walk("", location_messages)
    else:
        walk("", messages)
    return flat


def handle_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    headers = data.get("headers")
    if error.code == 422 and messages:
        return problem(
            422,
            "Invalid input",
            "The request has invalid fields.",
            "validation-error",
            errors=flatten_messages(messages),
            headers=headers,
        )
    if error.code == 400 and messages:
        return problem(
            400,
            "Bad request",
            "; ".join(m for ms in flatten_messages(messages).values() for m in ms),
            headers=headers,
        )
    detail = data.get("message") or error.description or error.name
    response_headers = dict(error.get_headers())
    response_headers.pop("Content-Type", None)
    response_headers.update(headers or {})
    return problem(error.code or 500, error.name, detail, headers=response_headers)


def handle_domain_error(error: DomainError) -> Response:
    return problem(error.status, error.title, error.detail, error.type_slug, **error.extra)


def handle_integrity_error(error: IntegrityError) -> Response:
    """A backstop: services check uniqueness first and say what clashes; should a concurrent
    request win the race, the database constraint still holds and the client gets a 409."""
    log.warning("integrity error on %s %s: %s", request.method, request.path, error.orig)
    return problem(
        409, "Conflict", "The change conflicts with existing data; reload and try again.", "state-conflict"
    )


# PostgreSQL's answers to transactions that got in each other's way: deadlock detected,
# serialization failure, lock not available. Locks are taken in one order (booking.services.
# bookings), so these should not happen; should one, the transaction was rolled back whole and
# the client may simply try again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def handle_operational_error(error: OperationalError) -> Response:
    if getattr(error.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES:
        return handle_unexpected(error)
    log.warning("concurrent change on %s %s: %s", request.method, request.path, error.orig)
    return problem(
        409,
        "Conflict",
        "Another change got in the way; nothing was changed. Try again.",
        "state-conflict",
        headers={"Retry-After": "1"},
    )


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal server error", InternalServerError.description, "internal-error")


def _for_pages_too(handler):
    def respond(error):
        response = handler(error)
        renderer = current_app.extensions.get(PAGE_ERROR_RENDERER)
        if renderer is None or request.path.startswith(MACHINE_PATHS) or request.path == "/api":
            return response
        return renderer(error, response)

    return respond


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _for_pages_too(handle_http_exception))
    app.register_error_handler(DomainError, _for_pages_too(handle_domain_error))
    app.register_error_handler(IntegrityError, _for_pages_too(handle_integrity_error))
    app.register_error_handler(OperationalError, _for_pages_too(handle_operational_error))
    app.register_error_handler(Exception, _for_pages_too(handle_unexpected))
