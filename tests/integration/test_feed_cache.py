"""Feeds rendered once per change (SPEC §7.11, §16): the stored rendering is served while the
markers and window are unchanged, shared by every app server (in the database, or in Redis when
configured), replaced after a change; gzip when the client accepts it. Renders are counted by
wrapping ``service.render_feed``; statements with an engine listener."""

from __future__ import annotations

import gzip
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from booking import create_app
from booking.extensions import db
from booking.feeds import cache, service
from booking.feeds.cache import FeedCacheEntry
from booking.models import FeedMarker
from pricing.weekly import OSLO

BASE = "http://booking.test"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


# CI provides Redis and sets BOOKING_TEST_REQUIRE_REDIS, so there the Redis tests cannot skip.
needs_redis = pytest.mark.skipif(
    not _redis_up() and not os.environ.get("BOOKING_TEST_REQUIRE_REDIS"), reason="no Redis on 127.0.0.1:6379"
)


# --- helpers ---------------------------------------------------------------------------------


def day(days: int, hour: int) -> datetime:
    moment = datetime.now(OSLO).date() + timedelta(days=days)
    return datetime(moment.year, moment.month, moment.day, hour, tzinfo=OSLO)


def book(client, login, room, organization, days: int, hour: int, title="Øving") -> dict:
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": title,
        "start": day(days, hour).isoformat(),
        "end": day(days, hour + 1).isoformat(),
    }
    response = client.post("/api/v1/bookings", json=payload, headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def org_feed_path(client, login, organization) -> str:
    response = client.post(f"/api/v1/organizations/{organization.id}/feed-token", headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["feed_url"].removeprefix(BASE)


@pytest.fixture
def renders(monkeypatch):
    """The feeds rendered, as a list of (kind, subject id), appended by every app in the process."""
    seen: list[tuple[str, int]] = []
    render = service.render_feed

    def counting(feed):
        seen.append((feed.kind, feed.subject_id))
        return render(feed)

    monkeypatch.setattr(service, "render_feed", counting)
    return seen


@pytest.fixture
def statements(app):
    found: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            found.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield found
    event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def world(make, client):
    building = make.building(name="Kulturhuset", address="Storgata 1, 1300 Sandvika")
    room = make.room(building, name="Storsalen")
    organization = make.organization(name="Sandvika Kor")
    member = make.member(organization)
    book(client, member, room, organization, 3, 18)
    # As if set up ten minutes ago: a Last-Modified within the last second is held at the
    # present (never in the future), which would move between two GETs of an unchanged feed.
    for marker in db.session.scalars(select(FeedMarker)):
        marker.changed_at -= timedelta(minutes=10)
    db.session.commit()
    return building, room, organization, member


def other_app(database_url, **config):
    """A second app server on the same database (its own engine, pool and cache store)."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "BOOKING_PUBLIC_URL": BASE,
            "RATELIMIT_ENABLED": False,
            **config,
        }
    )


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def entries() -> dict[str, str]:
    db.session.rollback()  # a fresh snapshot
    return dict(db.session.execute(select(FeedCacheEntry.key, FeedCacheEntry.etag)).all())


# --- served from the stored rendering ------------------------------------------------------------


def test_an_unchanged_feed_is_rendered_once_then_served_from_two_queries(client, world, renders, statements):
    building, room, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    first = client.get(path)
    assert first.status_code == 200 and renders == [("building", building.id)]
    assert set(entries()) == {f"building:{building.id}"}
    for _ in range(3):
        statements.clear()
        again = client.get(path)
        assert again.status_code == 200
        assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Last-Modified"] == first.headers["Last-Modified"]
        assert len(statements) == 2, statements  # the markers, the stored bytes: no booking read
    assert renders == [("building", building.id)]
    client.get(f"/feeds/rooms/{room.id}.ics")  # another feed: its own entry
    assert renders == [("building", building.id), ("room", room.id)]
    assert set(entries()) == {f"building:{building.id}", f"room:{room.id}"}


def test_a_change_renders_once_and_replaces_the_entry(client, world, renders):
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    before = client.get(path)
    assert before.data.count(b"BEGIN:VEVENT") == 1
    book(client, member, room, organization, 4, 10, title="Konsert")
    after = client.get(path)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data.count(b"BEGIN:VEVENT") == 2
    assert len(renders) == 2
    for _ in range(2):
        assert client.get(path).data == after.data
    assert len(renders) == 2
    assert list(entries()) == [f"building:{building.id}"]  # replaced, not added


def test_a_rename_renders_anew(client, world, renders):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    assert b"Kulturhuset" in client.get(path).data
    building.name = "Kulturhuset Nord"  # through the session: the markers follow
    db.session.commit()
    assert b"Kulturhuset Nord" in client.get(path).data
    assert len(renders) == 2


def test_a_stored_rendering_of_other_markers_is_never_served(client, world, renders):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    good = client.get(path).data
    entry = db.session.get(FeedCacheEntry, f"building:{building.id}")
    entry.etag = '"0000" ' + entry.etag.split(" ", 1)[1]  # another change's bytes
    entry.body = cache.compress(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    db.session.commit()
    assert client.get(path).data == good
    assert len(renders) == 2


def test_if_none_match_is_still_a_304_without_reading_the_store(client, world, renders, statements):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    etag = client.get(path).headers["ETag"]
    statements.clear()
    response = client.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["Vary"] == "Accept-Encoding"
    assert len(statements) == 1 and "feed_cache" not in statements[0]
    assert len(renders) == 1


def test_a_from_to_window_has_one_entry_of_its_own_per_feed(client, world, renders):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    first_date = datetime.now(OSLO).date()
    default = client.get(path)
    narrow = client.get(f"{path}?from={first_date}&to={first_date + timedelta(days=1)}")
    wide = f"{path}?from={first_date}&to={first_date + timedelta(days=30)}"
    assert default.data.count(b"BEGIN:VEVENT") == 1 and narrow.data.count(b"BEGIN:VEVENT") == 0
    assert len({default.headers["ETag"], narrow.headers["ETag"]}) == 2
    assert client.get(wide).data.count(b"BEGIN:VEVENT") == 1
    assert len(renders) == 3
    assert client.get(wide).status_code == 200 and client.get(path).data == default.data
    assert len(renders) == 3  # both served from their entries
    # One entry for the default window and one for the last period asked: a client cannot fill
    # the store with periods.
    stored = entries()
    assert set(stored) == {f"building:{building.id}", f"building:{building.id}:range"}
    assert stored[f"building:{building.id}:range"].endswith(f"{first_date}/{first_date + timedelta(days=30)}")
    assert client.get(f"{path}?from={first_date}&to={first_date + timedelta(days=1)}").data == narrow.data
    assert len(renders) == 4  # the other period's entry was not served for this one
    assert client.get(f"{path}?from=yesterday").status_code == 422  # refused before the store


# --- shared by app servers, stored safely at once -----------------------------------------------


def test_two_app_servers_share_the_stored_rendering(client, world, renders, database_url):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    second = other_app(database_url)
    try:
        first_answer = client.get(path)
        second_answer = second.test_client().get(path)
        assert second_answer.data == first_answer.data
        assert second_answer.headers["ETag"] == first_answer.headers["ETag"]
        assert renders == [("building", building.id)]  # the second server rendered nothing
    finally:
        dispose(second)
    # Without a store every GET renders: the count above is the store's doing.
    plain = other_app(database_url, BOOKING_FEED_CACHE_URL="off")
    try:
        assert plain.test_client().get(path).data == first_answer.data
        assert renders == [("building", building.id)] * 2
    finally:
        dispose(plain)


def test_concurrent_first_fetches_store_one_entry(client, world, renders, database_url):
    building, room, _, _ = world
    paths = [f"/feeds/buildings/{building.id}.ics", f"/feeds/rooms/{room.id}.ics"]
    servers = [client.application, other_app(database_url)]
    threads_each = 4
    barrier = threading.Barrier(threads_each * len(servers))
    answers: list[tuple[str, int, bytes]] = []
    errors: list[BaseException] = []

    def fetch(server, path):
        try:
            with server.app_context():
                test_client = server.test_client()
                barrier.wait(timeout=30)
                response = test_client.get(path)
                answers.append((path, response.status_code, response.data))
                db.session.remove()
        except BaseException as error:  # reported below, with the failing thread's own error
            errors.append(error)

    threads = [
        threading.Thread(target=fetch, args=(server, paths[n % 2]))
        for server in servers
        for n in range(threads_each)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        dispose(servers[1])
    assert not errors, errors
    assert len(answers) == len(threads) and {status for _, status, _ in answers} == {200}
    for path in paths:
        assert len({data for p, _, data in answers if p == path}) == 1  # every answer alike
    assert set(entries()) == {f"building:{building.id}", f"room:{room.id}"}
    assert 2 <= len(renders) <= len(threads)
    # Stored once, whoever won: the next GETs render nothing and give the same bytes.
    settled = len(renders)
    for path in paths:
        assert client.get(path).data == next(data for p, _, data in answers if p == path)
    assert len(renders) == settled


def test_while_a_change_is_being_rendered_others_get_the_last_rendering(client, world, renders, is_postgres):
    if not is_postgres:
        pytest.skip("the claim to render is a PostgreSQL advisory lock (SQLite: every miss renders)")
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    before = client.get(path)
    book(client, member, room, organization, 4, 10, title="Konsert")
    key = f"building:{building.id}"
    holder = db.engine.connect()  # another worker, rendering this feed's change right now
    holding = holder.begin()
    try:
        holder.execute(
            text("SELECT pg_advisory_xact_lock(:space, :id)"),
            {"space": cache.RENDER_LOCKS, "id": cache._lock_id(key)},
        )
        meanwhile = client.get(path)
        assert meanwhile.data == before.data  # the last rendering, under its own validators
        assert meanwhile.headers["ETag"] == before.headers["ETag"]
        assert meanwhile.headers["Last-Modified"] == before.headers["Last-Modified"]
        assert client.get(path, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
        assert len(renders) == 1
    finally:
        holding.rollback()  # the holder's request ends, and its claim with it
        holder.close()
    after = client.get(path)
    assert after.headers["ETag"] != before.headers["ETag"] and after.data.count(b"BEGIN:VEVENT") == 2
    assert len(renders) == 2
    assert client.get(path).data == after.data and len(renders) == 2


# --- gzip ----------------------------------------------------------------------------------------


def test_gzip_when_accepted_from_one_stored_compression(client, world, renders):
    building, _, _, _ = world
    path = f"/feeds/buildings/{building.id}.ics"
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Content-Type"] == "text/calendar; charset=utf-8"
    plain = client.get(path)  # from the stored gzip bytes, decompressed
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.data.startswith(b"BEGIN:VCALENDAR") and len(zipped.data) < len(plain.data)
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)
    assert renders == [("building", building.id)]
    # A strong ETag per representation (RFC 9110 §8.8.3); If-None-Match accepts either.
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    for etag in (zipped.headers["ETag"], plain.headers["ETag"]):
        for accept in ("gzip", "identity"):
            response = client.get(path, headers={"If-None-Match": etag, "Accept-Encoding": accept})
            assert response.status_code == 304
            assert response.headers["ETag"] == (zipped if accept == "gzip" else plain).headers["ETag"]
    for refused in ("gzip;q=0", "identity", "br", ""):
        response = client.get(path, headers={"Accept-Encoding": refused})
        assert "Content-Encoding" not in response.headers and response.data == plain.data, refused
    assert client.get(path, headers={"Accept-Encoding": "*"}).headers["Content-Encoding"] == "gzip"


# --- private feeds: the token is checked before the store ---------------------------------------


def test_a_rotated_or_revoked_token_is_404_although_its_feed_is_stored(client, world, make, renders):
    _, _, organization, member = world
    old_path = org_feed_path(client, member, organization)
    first = client.get(old_path)
    assert first.status_code == 200 and b"Sandvika Kor" in first.data
    new_path = org_feed_path(client, member, organization)  # rotates
    assert client.get(old_path).status_code == 404
    assert client.get(old_path, headers={"Accept-Encoding": "gzip"}).status_code == 404
    assert client.get(new_path).data == first.data
    assert renders == [("organization", organization.id)]  # the same feed: served from the store

    # Another organisation's feed is its own entry, never this one's bytes.
    other = make.organization(name="Bærum Brass")
    other_member = make.member(other)
    other_path = org_feed_path(client, other_member, other)
    other_feed = client.get(other_path).data
    assert "Bærum Brass".encode() in other_feed and b"Sandvika Kor" not in other_feed

    response = client.delete(f"/api/v1/organizations/{organization.id}/feed-token", headers=member.headers)
    assert response.status_code == 204
    assert client.get(new_path).status_code == 404
    assert f"organization:{organization.id}" in entries()  # the entry stays; no token reaches it


def test_a_janitor_token_revoked_is_404_although_the_feed_is_stored(client, world, make, renders):
    building, _, _, _ = world
    janitor = make.janitor(building)
    response = client.post("/api/v1/me/feed-token", headers=janitor.headers)
    path = response.get_json()["feed_url"].removeprefix(BASE)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    assert renders == [("janitor", janitor.user.id)]
    assert client.delete("/api/v1/me/feed-token", headers=janitor.headers).status_code == 204
    assert client.get(path).status_code == 404


# --- old entries, a store that fails --------------------------------------------------------------


def test_entries_older_than_max_age_are_purged_when_a_feed_is_stored(client, world, app):
    building, room, _, _ = world
    stale = datetime.now(OSLO) - cache.MAX_AGE - timedelta(hours=1)
    db.session.add(FeedCacheEntry(key="room:999999", etag='"x" -', body=b"", created_at=stale))
    db.session.commit()
    kept = cache.store(app)
    kept._purge = cache._Hourly()  # a purge is due
    client.get(f"/feeds/buildings/{building.id}.ics")
    assert set(entries()) == {f"building:{building.id}"}
    db.session.add(FeedCacheEntry(key="room:999999", etag='"x" -', body=b"", created_at=stale))
    db.session.commit()
    client.get(f"/feeds/rooms/{room.id}.ics")  # not due again within the hour
    assert set(entries()) == {f"building:{building.id}", f"room:{room.id}", "room:999999"}


def test_an_unreachable_store_costs_a_rendering_never_an_error(world, renders, database_url):
    building, _, _, _ = world
    server = other_app(database_url, BOOKING_FEED_CACHE_URL="redis://127.0.0.1:1/0")
    try:
        test_client = server.test_client()
        for _ in range(2):
            response = test_client.get(f"/feeds/buildings/{building.id}.ics")
            assert response.status_code == 200 and response.data.startswith(b"BEGIN:VCALENDAR")
        assert len(renders) == 2
    finally:
        dispose(server)


def test_an_unknown_store_setting_stops_the_app_at_start_up(database_url):
    from booking import create_app

    with pytest.raises(ValueError, match="BOOKING_FEED_CACHE_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "BOOKING_FEED_CACHE_URL": "memcached://x"})


# --- Redis ---------------------------------------------------------------------------------------


@needs_redis
def test_redis_store_is_shared_by_app_servers_and_expires(client, world, renders, database_url):
    import redis

    building, _, _, member = world
    prefix = f"booking-test-feed-{uuid.uuid4().hex}:"
    config = {"BOOKING_FEED_CACHE_URL": "redis://127.0.0.1:6379/14", "BOOKING_FEED_CACHE_PREFIX": prefix}
    servers = [other_app(database_url, **config) for _ in range(2)]
    connection = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    path = f"/feeds/buildings/{building.id}.ics"
    try:
        first = servers[0].test_client().get(path)
        second = servers[1].test_client().get(path, headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(second.data) == first.data
        assert renders == [("building", building.id)]
        key = f"{prefix}building:{building.id}"
        assert 0 < connection.ttl(key) <= cache.MAX_AGE.total_seconds()
        assert gzip.decompress(connection.hget(key, "body")) == first.data
        assert entries() == {}  # nothing in the database: Redis holds it
        # A change: one new rendering, then served again from Redis.
        organization = world[2]
        book(client, member, world[1], organization, 5, 12, title="Konsert")
        changed = servers[1].test_client().get(path)
        assert changed.data.count(b"BEGIN:VEVENT") == 2 and len(renders) == 2
        assert servers[0].test_client().get(path).data == changed.data
        assert len(renders) == 2
        # Another server claimed the rendering of the next change: the last rendering meanwhile.
        book(client, member, world[1], organization, 6, 12, title="Basar")
        connection.set(f"{prefix}rendering:building:{building.id}", b"1", px=60_000)
        meanwhile = servers[0].test_client().get(path)
        assert meanwhile.data == changed.data and meanwhile.headers["ETag"] == changed.headers["ETag"]
        assert len(renders) == 2
        connection.delete(f"{prefix}rendering:building:{building.id}")
        assert servers[0].test_client().get(path).data.count(b"BEGIN:VEVENT") == 3
        assert len(renders) == 3 and not connection.exists(f"{prefix}rendering:building:{building.id}")
        # A change beyond the window (60 days ahead): the kept bytes under the new ETag, stored
        # again with the new marker versions, not rendered (``test_feed_changes.py``).
        kept = servers[1].test_client().get(path)
        versions = connection.hget(key, "versions")
        book(client, member, world[1], organization, 100, 12, title="Senere")
        later = servers[1].test_client().get(path)
        assert later.data == kept.data and later.headers["ETag"] != kept.headers["ETag"]
        assert len(renders) == 3 and connection.hget(key, "versions") not in (None, versions)
    finally:
        for key in connection.scan_iter(f"{prefix}*"):
            connection.delete(key)
        connection.close()
        for server in servers:
            dispose(server)


# --- the benchmark ---------------------------------------------------------------------------------


@pytest.fixture
def bench_url(database_url, tmp_path):
    """A tiny seeded database of this test's own (a file on SQLite, ``<test database>_feedcache_bench``
    on PostgreSQL, dropped at the end)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from bench.seed import SIZES, seed

    if database_url.startswith("sqlite"):
        url = "sqlite:///" + str(tmp_path / "feed_cache_bench.sqlite")
        seed(url, SIZES["tiny"], quiet=True)
        yield url
        return
    parsed = make_url(database_url)
    name = f"{parsed.database}_feedcache_bench"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = parsed.set(database=name).render_as_string(hide_password=False)
    try:
        seed(url, SIZES["tiny"], quiet=True)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_the_benchmark_compares_cold_and_cached_on_the_busiest_building(bench_url):
    from bench import bench_feed_cache

    result = bench_feed_cache.run(bench_url, repeat=3, cold_repeat=1, save=False)
    assert result["store"] == "database" and result["bookings"] > 0
    assert result["events"] > 0 and 0 < result["gzip_bytes"] < result["bytes"]
    assert result["cached"].median < result["cold"].median
    with create_app({"SQLALCHEMY_DATABASE_URI": bench_url, "SECRET_KEY": "x"}).app_context():
        try:
            assert db.session.scalar(select(FeedCacheEntry.key)) == f"building:{result['building']}"
        finally:
            db.session.remove()
            db.engine.dispose()
