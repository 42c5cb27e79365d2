"""Models, one module per aggregate. Importing this package registers every table."""

from booking.models.audit import AuditEntry
from booking.models.booking import (
    Booking,
    IdempotencyKey,
    Occupancy,
    PriceListVersion,
    Series,
    SkippedOccurrence,
)
from booking.models.building import Building, Closure
from booking.models.feed import FeedChange, FeedMarker, FeedToken
from booking.models.organization import Organization
from booking.models.outbox import OutboxEvent, OutboxMessage
from booking.models.registry import RegistryUnit
from booking.models.room import Room, room_parts, room_units
from booking.models.rounds import Allocation, Application, Round, Wish, round_rooms
from booking.models.user import ApiToken, User, WebSession, janitor_buildings, memberships

__all__ = [
    "Allocation",
    "Application",
    "AuditEntry",
    "Booking",
    "IdempotencyKey",
    "OutboxEvent",
    "OutboxMessage",
    "Occupancy",
    "PriceListVersion",
    "Series",
    "SkippedOccurrence",
    "ApiToken",
    "Building",
    "Closure",
    "FeedChange",
    "FeedMarker",
    "FeedToken",
    "Organization",
    "RegistryUnit",
    "Room",
    "Round",
    "Wish",
    "round_rooms",
    "User",
    "WebSession",
    "janitor_buildings",
    "memberships",
    "room_parts",
    "room_units",
]
