"""Feed URLs (``/feeds/...``): resolve the feed, answer a conditional GET from its change
markers, serve the stored rendering while nothing changed, render only after a change.

Every answer is final (no redirects): 200 with the calendar, 304 when ``If-None-Match`` (or,
without it, ``If-Modified-Since``) shows the client has the current bytes, 404 problem+json for
an unknown room, building or token. ``Cache-Control: no-cache`` lets any cache keep the feed
but makes it revalidate each time, which the ETag makes cheap; private feeds are ``private``.

The order of a GET: the feed is resolved (a private feed's token checked: 404 before anything
else), a 304 is answered from the markers, then the stored rendering of the feed's scope is
served when it was made for the same markers and window (``booking.feeds.cache``), or when
every change since it was made lies outside the feed's window (``service.renders_alike``: it
is stored again under the new markers); only otherwise is the feed rendered, compressed once
and stored.

gzip (RFC 9110 §8.4): sent when ``Accept-Encoding`` accepts it, with ``Vary: Accept-Encoding``
on every answer. A strong ETag names one representation, and the gzip bytes are another one
(§8.8.3), so the gzip answer carries the identity ETag with ``-gzip`` before its closing quote.
``If-None-Match`` matches either tag: both name the same calendar at the same change (a client
that kept one form is current), and a server that compares only the tag of the form it is
about to send never answers 304 to a client whose encoding preference changed.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, request
from flask_smorest import Blueprint
from werkzeug.http import http_date, parse_date, parse_etags

from booking.extensions import begin_read_snapshot
from booking.feeds import cache, service
from booking.feeds.service import Feed
from booking.models.types import utcnow

PREFIX = "/feeds"
CONTENT_TYPE = "text/calendar; charset=utf-8"
blp = Blueprint(
    "feeds",
    __name__,
    description="iCalendar feeds (RFC 5545) for calendar apps: public per room and building, private "
    "per organisation and janitor (secret token in the path; rotate it through the API). Strong ETag "
    "and Last-Modified; `If-None-Match` / `If-Modified-Since` give 304 without rendering; gzip when "
    "`Accept-Encoding` allows it. A feed is rendered once per change and served from that rendering "
    "until the next.",
)
# The markers (ETag) and the bookings (body) of a feed from one snapshot: a change committed
# between the two reads would otherwise be served under the ETag of the state before it, and the
# same strong ETag then names two bodies (found under concurrent writes on PostgreSQL).
blp.before_request(begin_read_snapshot)

_PARAMETERS = [
    {
        "in": "query",
        "name": name,
        "required": False,
        "schema": {"type": "string", "format": "date"},
        "description": f"{which} local date of the feed's period (`YYYY-MM-DD`), inside 90 days back and "
        "400 ahead; without it, the feed's default window (room and organisation 90 days back to 400 "
        "ahead, building and janitor 7 back to 60 ahead)",
    }
    for name, which in (("from", "The first"), ("to", "The last"))
] + [
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
    {
        "in": "header",
        "name": "Accept-Encoding",
        "required": False,
        "schema": {"type": "string"},
        "description": "With `gzip`, the calendar comes gzip-compressed (`Content-Encoding: gzip`)",
    },
]
_CALENDAR = {
    "description": "The calendar, `text/calendar; charset=utf-8`, shown inline (no attachment)",
    "content": {"text/calendar": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "ETag": {
            "schema": {"type": "string"},
            "description": "Strong; changes with any booking in the feed; `-gzip` before the closing "
            "quote when the body is gzip-compressed",
        },
        "Last-Modified": {"schema": {"type": "string"}},
        "Cache-Control": {"schema": {"type": "string"}},
        "Content-Encoding": {
            "schema": {"type": "string"},
            "description": "`gzip` when the client accepts it",
        },
        "Vary": {"schema": {"type": "string"}, "description": "`Accept-Encoding`"},
    },
}
_RESPONSES = {
    "200": _CALENDAR,
    "304": {"description": "Not modified: the client's copy is current"},
    "422": {
        "description": "`from`/`to` not dates inside the feed's range, or the period holds more events "
        "than a feed may (refused, never cut short: ask for a shorter period)"
    },
}


def _doc():
    return blp.doc(parameters=_PARAMETERS, security=[], responses=_RESPONSES)


@blp.route("/rooms/<int:room_id>.ics", methods=["GET"])
@blp.alt_response(404, description="No such room")
@_doc()
def room_calendar(room_id: int):
    """A room's public feed: confirmed bookings, organisation names (titles only where public)"""
    return serve(service.room_feed(room_id, **service.window_dates(request.args)))


@blp.route("/buildings/<int:building_id>.ics", methods=["GET"])
@blp.alt_response(404, description="No such building")
@_doc()
def building_calendar(building_id: int):
    """A building's public feed: the confirmed bookings of all its rooms"""
    return serve(service.building_feed(building_id, **service.window_dates(request.args)))


@blp.route("/org/<token>.ics", methods=["GET"])
@blp.alt_response(404, description="Unknown or revoked token")
@_doc()
def organization_calendar(token: str):
    """An organisation's private feed: its bookings with titles and notes; pending requests as
    TENTATIVE. The token comes from `POST /api/v1/organizations/{id}/feed-token`"""
    return serve(service.organization_feed(token, **service.window_dates(request.args)))


@blp.route("/janitor/<token>.ics", methods=["GET"])
@blp.alt_response(404, description="Unknown or revoked token")
@_doc()
def janitor_calendar(token: str):
    """A janitor's private feed: confirmed bookings in the assigned buildings, with contacts and
    notes. The token comes from `POST /api/v1/me/feed-token`"""
    return serve(service.janitor_feed(token, **service.window_dates(request.args)))


def serve(feed: Feed) -> Response:
    """304 from the markers alone when the client is current; else the stored rendering when it
    was made for the same markers and window; else render, compress and store it (or, while
    another request renders this feed's change, the last rendering: ``booking.feeds.cache``)."""
    gzipped = accepts_gzip()
    if not_modified(feed.etag, feed.last_modified):
        return _not_modified(feed, feed.etag, feed.last_modified, gzipped)
    key = cache.feed_key(feed, custom_window=bool({"from", "to"} & request.args.keys()))
    wanted = cache.validator(feed)
    found = cache.lookup(key, feed)
    entry = found.entry
    if entry is not None and entry.validator == wanted:
        return _calendar(feed, feed.etag, feed.last_modified, entry.body, gzipped)
    same_window = entry is not None and entry.same_window(wanted)
    try:
        if same_window and service.renders_alike(feed, entry.rendered_at):
            cache.keep(key, feed, entry.body)  # the same bytes, now under this change's validator
            return _calendar(feed, feed.etag, feed.last_modified, entry.body, gzipped)
        if not found.claimed and same_window:
            if not_modified(entry.etag, entry.last_modified):
                return _not_modified(feed, entry.etag, entry.last_modified, gzipped)
            return _calendar(feed, entry.etag, entry.last_modified, entry.body, gzipped)
        body = service.render_feed(feed)
        compressed = cache.compress(body)
        cache.keep(key, feed, compressed)
    finally:
        if found.claimed:
            cache.release(key)
    return _calendar(feed, feed.etag, feed.last_modified, compressed, gzipped, plain=body)


def _not_modified(feed: Feed, etag: str, last_modified: datetime | None, gzipped: bool) -> Response:
    response = Response(status=304, headers=_headers(feed, etag, last_modified, gzipped))
    del response.headers["Content-Type"]  # a 304 has no body to describe
    return response


def _calendar(
    feed: Feed,
    etag: str,
    last_modified: datetime | None,
    compressed: bytes,
    gzipped: bool,
    plain: bytes | None = None,
) -> Response:
    """A 200 with the calendar whose gzip bytes are ``compressed`` (and plain bytes ``plain``
    when at hand), gzip-encoded when the client accepts it."""
    headers = _headers(feed, etag, last_modified, gzipped)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        body = compressed
    else:
        body = plain if plain is not None else cache.decompress(compressed)
    response = Response(body, status=200, headers=headers)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def accepts_gzip() -> bool:
    """RFC 9110 §12.5.3: ``gzip`` (or ``*``) with a quality above 0; ``x-gzip`` is the same coding."""
    accepted = request.accept_encodings
    return max(accepted.quality("gzip"), accepted.quality("x-gzip")) > 0


def gzip_etag(etag: str) -> str:
    """The strong ETag of the gzip form of the representation tagged ``etag``."""
    return etag[:-1] + '-gzip"'


def not_modified(etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison, ``*`` matches; the
    tag of either encoding); otherwise If-Modified-Since, compared at whole seconds."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        etags = parse_etags(if_none_match)
        return any(etags.contains_weak(tag.strip('"')) for tag in (etag, gzip_etag(etag)))
    since = parse_date(request.headers.get("If-Modified-Since"))
    last_modified = _whole_seconds(last_modified)
    return since is not None and last_modified is not None and last_modified <= since


def _whole_seconds(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(microsecond=0)


def _headers(feed: Feed, etag: str, last_modified: datetime | None, gzipped: bool) -> dict[str, str]:
    headers = {
        "ETag": gzip_etag(etag) if gzipped else etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": ("private" if feed.is_private else "public") + ", no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    last_modified = _whole_seconds(last_modified)
    if last_modified is not None:
        # Never in the future (RFC 9110 §8.8.2.1): a burst of changes can run a marker ahead.
        headers["Last-Modified"] = http_date(min(last_modified, utcnow()))
    if feed.is_private:
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Robots-Tag"] = "noindex"
    return headers
