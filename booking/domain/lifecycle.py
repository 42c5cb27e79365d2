"""The life of a booking (SPEC §11): its statuses and the only transitions between them.

The table is the rule; the booking service moves a booking only through :func:`next_status`,
and the database keeps the occupancy in step with the status it stores (a confirmed booking holds
its units, a pending request holds them inactive, rejected and cancelled hold nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from booking.domain.errors import StateConflict

# Supervision is charged in full when cancelled under 48 hours before the start (SPEC §5), so
# from then on whether the association brings its own supervisor is fixed.
SUPERVISION_WINDOW = timedelta(hours=48)


class Status(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        """Pending and confirmed bookings can still change; rejected and cancelled are final."""
        return self in OPEN_STATUSES

    @property
    def holds_units(self) -> bool:
        """Only a confirmed booking keeps others out of its units."""
        return self is Status.CONFIRMED


OPEN_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED})


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"  # by an admin, or overruled by a confirmed competitor
    CANCEL = "cancel"  # a pending request is withdrawn, a confirmed booking cancelled
    DISPLACE = "displace"  # by an admin's force or a closure
    CHANGE = "change"  # PATCH: time, room, attendees, title, notes, flags


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING, Action.APPROVE): Status.CONFIRMED,
    (Status.PENDING, Action.REJECT): Status.REJECTED,
    (Status.PENDING, Action.CANCEL): Status.CANCELLED,
    (Status.PENDING, Action.CHANGE): Status.PENDING,
    (Status.CONFIRMED, Action.CANCEL): Status.CANCELLED,
    (Status.CONFIRMED, Action.DISPLACE): Status.CANCELLED,
    (Status.CONFIRMED, Action.CHANGE): Status.CONFIRMED,
}

_REFUSALS = {
    Action.APPROVE: "Only pending requests can be approved; this one is {status}.",
    Action.REJECT: "Only pending requests can be rejected; this one is {status}.",
    Action.CANCEL: "The booking is {status}; it cannot be cancelled.",
    Action.DISPLACE: "The booking is {status}; there is nothing to displace.",
    Action.CHANGE: "The booking is {status}; it cannot be changed.",
}


def next_status(status: str, action: Action) -> Status:
    """The status ``action`` leads to from ``status``; :class:`StateConflict` (409) when the
    table has no such transition (e.g. approving a cancelled booking)."""
    try:
        return TRANSITIONS[Status(status), action]
    except KeyError:
        raise StateConflict(_REFUSALS[action].format(status=status), booking_status=str(status)) from None


def supervision_fixed(start: datetime, now: datetime) -> bool:
    """Has the supervision window before ``start`` begun (or the booking started)? Then
    ``own_supervisor`` can no longer change (SPEC §11)."""
    return now >= start - SUPERVISION_WINDOW


def is_shortening(old_start: datetime, old_end: datetime, new_start: datetime, new_end: datetime) -> bool:
    """Does ``[new_start, new_end)`` lie inside ``[old_start, old_end)``? The one change of
    time a member may make in a room that requires approval."""
    return old_start <= new_start and new_end <= old_end
