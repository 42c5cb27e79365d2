"""Typed domain errors. The HTTP layer maps each to a problem+json response in one place
(``booking/errors.py``); services and the domain raise them and never build responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``status`` and ``title`` say how the HTTP layer should present it."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotAuthenticated(DomainError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthorized"


class InvalidInput(DomainError):
    """Input that passed the schema but not a domain check; ``errors`` maps field -> messages."""

    status = 422
    title = "Invalid input"
    type_slug = "validation-error"

    def __init__(self, errors: dict[str, list[str]], detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail, errors=errors)
        self.errors = errors


class RuleViolation(DomainError):
    """A booking rule of SPEC §4 is broken; ``rule`` is the machine-readable code."""

    status = 422
    title = "Booking rule violated"
    type_slug = "rule-violation"

    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, rule=rule, **extra)
        self.rule = rule


class BookingConflict(DomainError):
    """The requested time is taken; ``conflicts`` and ``suggestions`` are JSON-ready lists."""

    status = 409
    title = "Booking conflict"
    type_slug = "conflict"

    def __init__(self, detail: str, conflicts: list[dict], suggestions: list[dict] | None = None) -> None:
        super().__init__(detail, conflicts=conflicts, suggestions=suggestions or [])
        self.conflicts = conflicts
        self.suggestions = suggestions or []


class StateConflict(DomainError):
    """The operation does not fit the object's current state (e.g. approving a cancelled booking)."""

    status = 409
    title = "Conflict with current state"
    type_slug = "state-conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class InvalidLink(DomainError):
    """A mailed link that is unknown, tampered with, used already or too old; ``expired`` tells
    the last case apart so a page can offer a new link."""

    status = 400
    title = "Invalid or expired link"
    type_slug = "invalid-link"

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.expired = expired
