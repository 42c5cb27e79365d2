"""The private calendar feed of an organisation, as ``/my`` shows it: the URL to copy, a
``webcal://`` link, and rotating the token (tokens and URLs belong to ``booking.feeds``)."""

from __future__ import annotations

from dataclasses import dataclass

from booking.feeds import links
from booking.services.access import Actor


@dataclass(frozen=True)
class FeedLinks:
    feed_url: str
    webcal_url: str


def links_for(actor: Actor, organization) -> FeedLinks | None:
    """The current private feed of the organisation, or None before one is made."""
    found = links.organization_links(actor, organization.id)
    return FeedLinks(**found) if found else None


def rotate(actor: Actor, organization_id: int) -> FeedLinks:
    """A new private feed URL; the previous one stops working."""
    return FeedLinks(**links.rotate_organization_links(actor, organization_id))
