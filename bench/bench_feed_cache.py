"""``python -m bench feed-cache``: the busiest building's feed rendered cold vs served from the
stored rendering (SPEC §7.11, §16), with its size with and without gzip.

On a seeded database (``python -m bench seed``; it must be migrated to the current head), in
process through the Flask test client (no network), the building whose default feed window holds
the most bookings:

* ``no store``: ``GET`` with ``BOOKING_FEED_CACHE_URL=off``, what every GET cost before: the
  markers, the feed's data, rendering (the memo of rule expansions cleared before each run);
* ``cold``: ``GET`` after the stored entry was removed: the same, plus gzip and storing the entry;
* ``cached``: ``GET`` of the unchanged feed without validators, as many calendar clients fetch:
  the markers and the stored bytes, decompressed for a client without gzip;
* ``cached gzip``: the same with ``Accept-Encoding: gzip``: the stored bytes as they are;
* ``304``: ``If-None-Match`` with the current ETag;
* ``over HTTP``: the cached GETs again through one gunicorn worker on loopback (``wsgi:app``),
  timed by a keep-alive client to the last byte.

The store is the database's ``feed_cache`` table, or Redis with ``--cache redis://...`` (keys
under a prefix of this run, removed at the end). The goal (issue 16): a full GET of an unchanged
feed under 20 ms whatever its size.
"""

from __future__ import annotations

import gzip
import time
import uuid

from bench.common import Client, Timings, append_report, server_env, start_gunicorn, time_calls


def _busiest_building(app) -> tuple[int, int]:
    """The building whose feed window holds the most bookings, and that count."""
    from sqlalchemy import func, select

    from booking.extensions import db
    from booking.feeds import service
    from booking.models import Booking, Room

    with app.app_context():
        window = service.building_feed(
            db.session.scalar(select(Room.building_id).limit(1))
        ).window  # the window building feeds are served with today
        row = db.session.execute(
            select(Room.building_id, func.count())
            .join(Booking, Booking.room_id == Room.id)
            .where(Booking.start < window.end, Booking.end > window.start, Booking.status == "confirmed")
            .group_by(Room.building_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        db.session.remove()
    return row[0], row[1]


def _app(url: str, **config):
    from booking import create_app
    from booking.config import normalize_database_url

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalize_database_url(url),
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        }
        | config
    )


def _close(app) -> None:
    from booking.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def measure(url: str, cache_url: str = "", repeat: int = 50, cold_repeat: int = 5) -> dict:
    from booking.extensions import db
    from booking.feeds import cache, service

    prefix = f"bench-feed-cache-{uuid.uuid4().hex}:"
    app = _app(url, BOOKING_FEED_CACHE_URL=cache_url, BOOKING_FEED_CACHE_PREFIX=prefix)
    plain = _app(url, BOOKING_FEED_CACHE_URL="off")
    try:
        building_id, bookings = _busiest_building(app)
        path = f"/feeds/buildings/{building_id}.ics"
        key = f"building:{building_id}"
        client, plain_client = app.test_client(), plain.test_client()
        store = cache.store(app)

        def forget() -> None:
            service.rule_instances.cache_clear()
            if store.name == "redis":
                store.client.delete(prefix + key)
            else:
                with app.app_context():
                    db.session.execute(db.delete(cache.FeedCacheEntry).where(cache.FeedCacheEntry.key == key))
                    db.session.commit()

        def get(test_client, headers=None):
            response = test_client.get(path, headers=headers or {})
            assert response.status_code in (200, 304), response.status_code
            return response

        def no_store() -> None:
            service.rule_instances.cache_clear()
            get(plain_client)

        def cold() -> None:
            forget()
            get(client)

        no_store_t = time_calls(no_store, cold_repeat, warmup=1)
        cold_t = Timings()
        for _ in range(cold_repeat + 1):
            forget()
            started, cpu = time.perf_counter(), time.process_time()
            get(client)
            cold_t.add((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
        cold_t.values.pop(0)  # the first: connections and imports
        cold_t.cpu.pop(0)
        identity = get(client)
        zipped = get(client, {"Accept-Encoding": "gzip"})
        assert zipped.headers.get("Content-Encoding") == "gzip"
        assert gzip.decompress(zipped.data) == identity.data == get(plain_client).data
        etag = identity.headers["ETag"]
        cached_t = time_calls(lambda: get(client), repeat)
        cached_gzip_t = time_calls(lambda: get(client, {"Accept-Encoding": "gzip"}), repeat)
        not_modified_t = time_calls(lambda: get(client, {"If-None-Match": etag}), repeat)
        http, http_gzip = _over_http(url, cache_url, path, repeat)
        if store.name == "redis":
            store.client.delete(prefix + key, "booking:feed:" + key)
        return {
            "building": building_id,
            "bookings": bookings,
            "events": identity.data.count(b"BEGIN:VEVENT"),
            "bytes": len(identity.data),
            "gzip_bytes": len(zipped.data),
            "store": store.name,
            "no_store": no_store_t,
            "cold": cold_t,
            "cached": cached_t,
            "cached_gzip": cached_gzip_t,
            "not_modified": not_modified_t,
            "http": http,
            "http_gzip": http_gzip,
        }
    finally:
        _close(app)
        _close(plain)


def _over_http(url: str, cache_url: str, path: str, repeat: int) -> tuple[Timings, Timings]:
    """Cached full GETs of ``path`` through one gunicorn worker: without and with gzip (with Redis,
    the server keeps its entry under the default prefix: its first GET renders, in the warm-up)."""
    from booking.config import normalize_database_url

    env = server_env(normalize_database_url(url), BOOKING_FEED_CACHE_URL=cache_url)
    server = start_gunicorn("wsgi:app", env, 1)
    client = Client(server.url, timeout=120)
    try:
        timings = []
        for headers in ({}, {"Accept-Encoding": "gzip"}):

            def get(headers=headers) -> None:
                status, _ = client.request("GET", path, headers=headers)
                assert status == 200, status

            timings.append(time_calls(get, repeat))
        return timings[0], timings[1]
    finally:
        client.close()
        server.stop()


def run(
    url: str,
    cache_url: str = "",
    repeat: int = 50,
    cold_repeat: int = 5,
    *,
    command: str = "python -m bench feed-cache",
    save: bool = True,
) -> dict:
    result = measure(url, cache_url, repeat, cold_repeat)
    cached = max(result["cached"].median, result["cached_gzip"].median)
    ratio = result["bytes"] / max(result["gzip_bytes"], 1)
    lines = [
        f"- the busiest building's feed (building {result['building']}, {result['bookings']:,} confirmed "
        f"bookings in its default window, {result['events']:,} VEVENTs): **{result['bytes']:,} bytes, "
        f"{result['gzip_bytes']:,} with gzip** ({ratio:.1f}x smaller)",
        f"- store: {result['store']}; in process, Flask test client, side by side in one run:",
        f"  - no store (every GET renders, as before): {result['no_store'].summary()}",
        f"  - cold (render, gzip, store): {result['cold'].summary()}",
        f"  - cached, no gzip (stored bytes decompressed): {result['cached'].summary()}",
        f"  - cached, gzip: {result['cached_gzip'].summary()}",
        f"  - 304 (If-None-Match): {result['not_modified'].summary()}",
        f"  - over HTTP (one gunicorn worker, loopback), cached, no gzip: {result['http'].summary()}",
        f"  - over HTTP, cached, gzip: {result['http_gzip'].summary()}",
        f"- **cold {result['cold'].median:.0f} ms vs cached {result['cached'].median:.1f} ms "
        f"({result['cached_gzip'].median:.1f} ms with gzip)**; goal: a full GET of an unchanged feed "
        f"under 20 ms: {'met' if cached < 20 else 'NOT met'}",
    ]
    append_report("Feeds rendered once per change: cold vs cached", url, lines, command, save=save)
    return result
