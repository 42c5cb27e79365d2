"""The private calendar feed of an organisation, as ``/my`` shows it: the URL to copy, a
``webcal://`` link, and rotating the token. The tokens themselves belong to ``booking.feeds``;
this adapter only asks it, so the page keeps working while that service is absent."""

from __future__ import annotations

from dataclasses import dataclass

from booking.domain.errors import NotFound

AVAILABLE = False


@dataclass(frozen=True)
class FeedLinks:
    feed_url: str
    webcal_url: str


def links_for(actor, organization) -> FeedLinks | None:
    return None


def rotate(actor, organization_id: int) -> FeedLinks:
    raise NotFound("Calendar feeds are not available yet.")
