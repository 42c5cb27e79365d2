"""Feed URLs (``/feeds/...``): resolve the feed, answer a conditional GET from its change
markers, render only when the client's copy is stale.

Every answer is final (no redirects): 200 with the calendar, 304 when ``If-None-Match`` (or,
without it, ``If-Modified-Since``) shows the client has the current bytes, 404 problem+json for
an unknown room, building or token. ``Cache-Control: no-cache`` lets any cache keep the feed
but makes it revalidate each time, which the ETag makes cheap; private feeds are ``private``.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, request
from flask_smorest import Blueprint
from werkzeug.http import http_date, parse_date, parse_etags

from booking.feeds import service
from booking.feeds.service import Feed
from booking.models.types import utcnow

PREFIX = "/feeds"
CONTENT_TYPE = "text/calendar; charset=utf-8"
blp = Blueprint(
    "feeds",
    __name__,
    description="iCalendar feeds (RFC 5545) for calendar apps: public per room and building, private "
    "per organisation and janitor (secret token in the path; rotate it through the API). Strong ETag "
    "and Last-Modified; `If-None-Match` / `If-Modified-Since` give 304 without rendering.",
)

_CONDITIONAL_HEADERS = [
    {
        "in": "header",
        "name": "If-None-Match",
        "required": False,
        "schema": {"type": "string"},
        "description": "An ETag from an earlier answer: 304 when the feed is unchanged",
    },
    {
        "in": "header",
        "name": "If-Modified-Since",
        "required": False,
        "schema": {"type": "string"},
        "description": "Used only without If-None-Match: 304 when nothing changed since",
    },
]
_CALENDAR = {
    "description": "The calendar, `text/calendar; charset=utf-8`, shown inline (no attachment)",
    "content": {"text/calendar": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "ETag": {"schema": {"type": "string"}, "description": "Strong; changes with any booking in the feed"},
        "Last-Modified": {"schema": {"type": "string"}},
        "Cache-Control": {"schema": {"type": "string"}},
    },
}
_RESPONSES = {"200": _CALENDAR, "304": {"description": "Not modified: the client's copy is current"}}


def _doc():
    return blp.doc(parameters=_CONDITIONAL_HEADERS, security=[], responses=_RESPONSES)


@blp.route("/rooms/<int:room_id>.ics", methods=["GET"])
@blp.alt_response(404, description="No such room")
@_doc()
def room_calendar(room_id: int):
    """A room's public feed: confirmed bookings, organisation names (titles only where public)"""
    return serve(service.room_feed(room_id))


@blp.route("/buildings/<int:building_id>.ics", methods=["GET"])
@blp.alt_response(404, description="No such building")
@_doc()
def building_calendar(building_id: int):
    """A building's public feed: the confirmed bookings of all its rooms"""
    return serve(service.building_feed(building_id))


@blp.route("/org/<token>.ics", methods=["GET"])
@blp.alt_response(404, description="Unknown or revoked token")
@_doc()
def organization_calendar(token: str):
    """An organisation's private feed: its bookings with titles and notes; pending requests as
    TENTATIVE. The token comes from `POST /api/v1/organizations/{id}/feed-token`"""
    return serve(service.organization_feed(token))


@blp.route("/janitor/<token>.ics", methods=["GET"])
@blp.alt_response(404, description="Unknown or revoked token")
@_doc()
def janitor_calendar(token: str):
    """A janitor's private feed: confirmed bookings in the assigned buildings, with contacts and
    notes. The token comes from `POST /api/v1/me/feed-token`"""
    return serve(service.janitor_feed(token))


def serve(feed: Feed) -> Response:
    """304 from the markers alone when the client is current; otherwise render."""
    headers = _headers(feed)
    if not_modified(feed):
        response = Response(status=304, headers=headers)
        del response.headers["Content-Type"]  # a 304 has no body to describe
        return response
    response = Response(service.render_feed(feed), status=200, headers=headers)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def not_modified(feed: Feed) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison, ``*`` matches);
    otherwise If-Modified-Since, compared at whole seconds."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return parse_etags(if_none_match).contains_weak(feed.etag.strip('"'))
    since = parse_date(request.headers.get("If-Modified-Since"))
    last_modified = _last_modified(feed)
    return since is not None and last_modified is not None and last_modified <= since


def _last_modified(feed: Feed) -> datetime | None:
    if feed.last_modified is None:
        return None
    return feed.last_modified.replace(microsecond=0)


def _headers(feed: Feed) -> dict[str, str]:
    headers = {
        "ETag": feed.etag,
        "Cache-Control": ("private" if feed.is_private else "public") + ", no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    last_modified = _last_modified(feed)
    if last_modified is not None:
        # Never in the future (RFC 9110 §8.8.2.1): a burst of changes can run a marker ahead.
        headers["Last-Modified"] = http_date(min(last_modified, utcnow()))
    if feed.is_private:
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Robots-Tag"] = "noindex"
    return headers
