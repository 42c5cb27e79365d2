"""Absolute feed URLs for the API and the web pages: ``{feed_url, webcal_url}``.

URLs start with ``BOOKING_PUBLIC_URL`` when it is set, else with the request's scheme and host.
Needs a request context (``url_for``). The web pages use the same functions as the API, e.g.
``organization_links(actor, organization_id)`` for the URL to copy on ``/my``.
"""

from __future__ import annotations

from flask import current_app, request, url_for

from booking.feeds import service
from booking.services.access import Actor
from booking.services.buildings import get_building
from booking.services.rooms import get_room


def feed_links(endpoint: str, **values) -> dict[str, str]:
    """``{feed_url, webcal_url}`` of a feed route (``feeds.room_calendar`` ...)."""
    base = current_app.config.get("BOOKING_PUBLIC_URL") or request.host_url
    feed_url = base.rstrip("/") + url_for(endpoint, **values)
    return {"feed_url": feed_url, "webcal_url": "webcal://" + feed_url.split("://", 1)[1]}


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def room_links(room_id: int) -> dict[str, str]:
    """A room's public feed; ``NotFound`` for an unknown room."""
    get_room(room_id)
    return feed_links("feeds.room_calendar", room_id=room_id)


def building_links(building_id: int) -> dict[str, str]:
    """A building's public feed; ``NotFound`` for an unknown building."""
    get_building(building_id)
    return feed_links("feeds.building_calendar", building_id=building_id)


def organization_links(actor: Actor, organization_id: int) -> dict[str, str] | None:
    """The organisation's current private feed, or None before a token is issued (members of
    the organisation and admins)."""
    token = service.organization_token(actor, organization_id, _secret_key())
    return None if token is None else feed_links("feeds.organization_calendar", token=token)


def rotate_organization_links(actor: Actor, organization_id: int) -> dict[str, str]:
    """Issue a new private feed URL for the organisation; the previous one answers 404."""
    token = service.rotate_organization_token(actor, organization_id, _secret_key())
    return feed_links("feeds.organization_calendar", token=token)


def janitor_links(actor: Actor) -> dict[str, str] | None:
    """The calling janitor's current private feed, or None before a token is issued."""
    token = service.janitor_token(actor, _secret_key())
    return None if token is None else feed_links("feeds.janitor_calendar", token=token)


def rotate_janitor_links(actor: Actor) -> dict[str, str]:
    """Issue a new private feed URL for the calling janitor; the previous one answers 404."""
    token = service.rotate_janitor_token(actor, _secret_key())
    return feed_links("feeds.janitor_calendar", token=token)
