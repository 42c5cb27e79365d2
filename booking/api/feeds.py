"""Feed addresses: rotate the private feed tokens, and read the URLs of every feed.

A private feed's URL carries a secret token. ``POST`` issues a new one and revokes the old (its
URL answers 404 from then on), ``GET`` shows the current URL again, ``DELETE`` revokes it.
Organisations' feeds are managed by their members and admins; a janitor manages their own.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from booking.api.context import current_actor
from booking.domain.errors import NotFound
from booking.feeds import links, service

PREFIX = ""
blp = Blueprint("feed_links", __name__, description="iCal feed addresses and private feed tokens")
BEARER = [{"bearer": []}]


class FeedLinkSchema(Schema):
    feed_url = fields.String(metadata={"description": "Absolute https (or http) URL of the .ics feed"})
    webcal_url = fields.String(
        metadata={"description": "The same feed as webcal://, which opens calendar apps"}
    )


def _present(found: dict[str, str] | None, detail: str) -> dict[str, str]:
    if found is None:
        raise NotFound(detail)
    return found


@blp.route("/organizations/<int:organization_id>/feed-token", methods=["POST"])
@blp.response(201, FeedLinkSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation or an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=BEARER)
def rotate_organization_token(organization_id: int):
    """Issue a new private feed address for the organisation; the previous one stops working"""
    return links.rotate_organization_links(current_actor(), organization_id)


@blp.route("/organizations/<int:organization_id>/feed-token", methods=["GET"])
@blp.response(200, FeedLinkSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation or an admin")
@blp.alt_response(404, description="No such organisation, or no feed address issued yet")
@blp.doc(security=BEARER)
def read_organization_token(organization_id: int):
    """The organisation's current private feed address"""
    found = links.organization_links(current_actor(), organization_id)
    return _present(found, "This organisation has no feed address yet; POST to issue one.")


@blp.route("/organizations/<int:organization_id>/feed-token", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation or an admin")
@blp.alt_response(404, description="No such organisation")
@blp.doc(security=BEARER)
def revoke_organization_token(organization_id: int):
    """Stop the organisation's private feed (its address answers 404) without a new one"""
    service.revoke_organization_token(current_actor(), organization_id)


@blp.route("/me/feed-token", methods=["POST"])
@blp.response(201, FeedLinkSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a janitor")
@blp.doc(security=BEARER)
def rotate_janitor_token():
    """Issue a new private feed address for the calling janitor (bookings of the assigned
    buildings with contacts and notes); the previous one stops working"""
    return links.rotate_janitor_links(current_actor())


@blp.route("/me/feed-token", methods=["GET"])
@blp.response(200, FeedLinkSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a janitor")
@blp.alt_response(404, description="No feed address issued yet")
@blp.doc(security=BEARER)
def read_janitor_token():
    """The calling janitor's current private feed address"""
    return _present(links.janitor_links(current_actor()), "You have no feed address yet; POST to issue one.")


@blp.route("/me/feed-token", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a janitor")
@blp.doc(security=BEARER)
def revoke_janitor_token():
    """Stop the calling janitor's private feed without a new one"""
    service.revoke_janitor_token(current_actor())


@blp.route("/rooms/<int:room_id>/feed", methods=["GET"])
@blp.response(200, FeedLinkSchema)
@blp.alt_response(404, description="No such room")
@blp.doc(security=[])
def room_feed_links(room_id: int):
    """The address of a room's public feed"""
    return links.room_links(room_id)


@blp.route("/buildings/<int:building_id>/feed", methods=["GET"])
@blp.response(200, FeedLinkSchema)
@blp.alt_response(404, description="No such building")
@blp.doc(security=[])
def building_feed_links(building_id: int):
    """The address of a building's public feed"""
    return links.building_links(building_id)
