"""The feed change log (``FeedChange``): what each marker version changed, so a feed whose window
no change since its kept rendering reaches is served from that rendering under its new ETag
instead of being rendered again, byte for byte what a rendering would give.

Every kept answer is compared with a rendering by an app server that keeps nothing
(``BOOKING_FEED_CACHE_URL=off``) on the same database."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from booking.extensions import db
from booking.feeds import service
from booking.feeds.cache import FeedCacheEntry
from booking.models import FeedChange, FeedMarker
from tests.integration.live_http import running_servers
from tests.integration.test_feed_cache import (  # noqa: F401 (fixtures)
    book,
    day,
    dispose,
    needs_redis,
    org_feed_path,
    other_app,
    renders,
    world,
)
from tests.integration.test_races import post_booking


@pytest.fixture
def plain(database_url):
    """An app server on the same database that keeps no rendering: every GET renders."""
    server = other_app(database_url, BOOKING_FEED_CACHE_URL="off")
    yield server.test_client()
    dispose(server)


def changes(scope: str) -> list[tuple[int, object, object]]:
    db.session.rollback()  # a fresh snapshot
    query = select(FeedChange.version, FeedChange.first_at, FeedChange.last_at).where(
        FeedChange.scope == scope
    )
    return [tuple(row) for row in db.session.execute(query.order_by(FeedChange.version))]


def marker(scope: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(FeedMarker.version).where(FeedMarker.scope == scope))


def test_a_single_booking_logs_its_times_in_every_scope_it_bumps(client, world):  # noqa: F811
    building, room, organization, member = world
    created = book(client, member, room, organization, 100, 18)
    for scope in (f"room:{room.id}", f"building:{building.id}", f"organization:{organization.id}"):
        version, first_at, last_at = changes(scope)[-1]
        assert version == marker(scope)
        assert (first_at, last_at) == (day(100, 18), day(100, 19))
    moved = day(110, 12)
    response = client.patch(
        f"/api/v1/bookings/{created['id']}",
        json={"start": moved.isoformat(), "end": (moved + timedelta(hours=1)).isoformat()},
        headers=member.headers,
    )
    assert response.status_code == 200, response.get_json()
    # A move reaches both its old and its new times.
    _, first_at, last_at = changes(f"building:{building.id}")[-1]
    assert (first_at, last_at) == (day(100, 18), day(110, 13))
    assert [version for version, _, _ in changes(f"building:{building.id}")] == list(
        range(1, marker(f"building:{building.id}") + 1)
    )


def test_series_renames_and_assignments_reach_any_date(client, world, make):  # noqa: F811
    building, room, organization, member = world
    start = day(100, 18)
    response = client.post(
        "/api/v1/bookings",
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Ukeøving",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
        },
        headers=member.headers,
    )
    assert response.status_code == 201, response.get_json()
    assert changes(f"building:{building.id}")[-1][1:] == (None, None)
    room.name = "Lillesalen"
    db.session.commit()
    assert changes(f"room:{room.id}")[-1][1:] == (None, None)
    janitor = make.janitor(building)
    assert changes(f"user:{janitor.user.id}")[-1][1:] == (None, None)
    assert not changes(f"label:room:{room.id}")  # label markers are no feed's ETag: not logged


def test_a_change_beyond_the_window_serves_the_kept_bytes_under_the_new_etag(client, world, renders, plain):  # noqa: F811
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"  # 7 days back to 60 ahead
    before = client.get(path)
    book(client, member, room, organization, 100, 18)
    after = client.get(path)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data == before.data == plain.get(path).data
    assert renders == [("building", building.id)] * 2  # the first GET and the plain server's
    # Inside the window: rendered.
    near = book(client, member, room, organization, 5, 18)
    inside = client.get(path)
    assert inside.data != before.data and inside.data == plain.get(path).data
    assert renders.count(("building", building.id)) == 4
    # Moved out of the window: its old times are in the window, so it is rendered (and gone).
    away = day(100, 20)
    body = {"start": away.isoformat(), "end": (away + timedelta(hours=1)).isoformat()}
    assert (
        client.patch(f"/api/v1/bookings/{near['id']}", json=body, headers=member.headers).status_code == 200
    )
    assert client.get(path).data == before.data == plain.get(path).data
    assert renders.count(("building", building.id)) == 6
    # The room's feed looks 400 days ahead: the booking at 100 days is in it.
    room_path = f"/feeds/rooms/{room.id}.ics"
    kept = client.get(room_path).data
    book(client, member, room, organization, 300, 18)
    assert client.get(room_path).data != kept


def test_a_change_not_logged_renders(client, world, renders):  # noqa: F811
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    client.get(path)
    book(client, member, room, organization, 100, 18)
    # The log row of that version is gone (purged, or written by a server that logs nothing).
    scope = f"building:{building.id}"
    db.session.execute(FeedChange.__table__.delete().where(FeedChange.scope == scope))
    db.session.commit()
    client.get(path)
    assert len(renders) == 2
    # A marker moved without the log at all: rendered too.
    db.session.execute(
        update(FeedMarker).where(FeedMarker.scope == scope).values(version=FeedMarker.version + 1)
    )
    db.session.commit()
    client.get(path)
    assert len(renders) == 3


@pytest.mark.parametrize("version", ["x", "-99999999999999999999", "99999999999", "", " 1", None])
def test_kept_versions_not_written_by_this_service_render_never_fail(client, world, renders, version):  # noqa: F811
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    first = client.get(path)
    book(client, member, room, organization, 100, 18)
    entry = db.session.get(FeedCacheEntry, f"building:{building.id}")
    if version is None:
        entry.versions = None
    else:  # beside the right validator, each marker's version replaced by what no server writes
        validator_, _, versions = entry.versions.partition("\n")
        form, _, markers = versions.partition("|")
        markers = ",".join(item.rpartition("=")[0] + "=" + version for item in markers.split(","))
        entry.versions = f"{validator_}\n{form}|{markers}"
    db.session.commit()
    again = client.get(path)
    assert again.status_code == 200 and again.data == first.data
    assert len(renders) == 2


@needs_redis
def test_garbled_versions_in_redis_render_never_fail(client, world, renders, database_url):  # noqa: F811
    import redis

    building, room, organization, member = world
    prefix = f"booking-test-feed-{uuid.uuid4().hex}:"
    config = {"BOOKING_FEED_CACHE_URL": "redis://127.0.0.1:6379/14", "BOOKING_FEED_CACHE_PREFIX": prefix}
    server = other_app(database_url, **config)
    connection = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    path = f"/feeds/buildings/{building.id}.ics"
    try:
        first = server.test_client().get(path)
        book(client, member, room, organization, 100, 18)
        connection.hset(f"{prefix}building:{building.id}", "versions", b"\xff\xfe")
        again = server.test_client().get(path)
        assert again.status_code == 200 and again.data == first.data
        assert len(renders) == 2
    finally:
        for key in connection.scan_iter(f"{prefix}*"):
            connection.delete(key)
        connection.close()
        dispose(server)


def test_a_rendering_kept_by_a_server_that_knows_no_versions_is_not_trusted(client, world, plain, renders):  # noqa: F811
    """During a rolling deployment a server of the release before keeps its (older) rendering
    with its validator and body and leaves the versions column as it was: the versions of a
    newer rendering must not vouch for the older body."""
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    key = f"building:{building.id}"
    client.get(path)
    older = db.session.get(FeedCacheEntry, key)
    older = (older.etag, older.last_modified, older.body)
    db.session.rollback()
    book(client, member, room, organization, 5, 12, title="Inne")  # inside the window
    client.get(path)  # rendered and kept with its versions
    # The old release's upsert: validator, Last-Modified and body only.
    values = dict(zip(("etag", "last_modified", "body"), older, strict=True))
    db.session.execute(update(FeedCacheEntry).where(FeedCacheEntry.key == key).values(**values))
    db.session.commit()
    book(client, member, room, organization, 100, 12, title="Langt unna")  # beyond the window
    served = client.get(path)
    assert served.data == plain.get(path).data and served.data.count(b"BEGIN:VEVENT") == 2


def test_random_changes_never_serve_other_bytes_than_a_rendering(client, world, make, renders, plain):  # noqa: F811
    """Creates, moves, cancellations, series and renames at random dates, near the windows'
    edges too; after each, every kind of feed served through the store equals a rendering."""
    building, room, organization, member = world
    second_room = make.room(building, name="Lillesalen")
    janitor = make.janitor(building)
    janitor_path = client.post("/api/v1/me/feed-token", headers=janitor.headers).get_json()["feed_url"]
    paths = [
        f"/feeds/buildings/{building.id}.ics",
        f"/feeds/rooms/{room.id}.ics",
        f"/feeds/rooms/{second_room.id}.ics",
        org_feed_path(client, member, organization),
        janitor_path.removeprefix("http://booking.test"),
    ]
    rng = random.Random(1905)
    made: list[int] = []
    etags: dict[str, str] = {}
    changed = 0  # GETs whose ETag moved: each a rendering without the log

    def check(path: str, step: int) -> None:
        nonlocal changed
        kept = client.get(path)
        assert kept.data == plain.get(path).data, (step, path)
        changed += etags.get(path) != kept.headers["ETag"]
        etags[path] = kept.headers["ETag"]

    for step in range(40):
        for path in paths:
            check(path, step)
        action = rng.choice(("book", "book", "book", "move", "cancel", "series", "rename"))
        target = rng.choice((room, second_room))
        days = rng.choice((-8, -7, -6, 59, 60, 61, 62, 89, 90, 120, 399, 401, rng.randint(-30, 300)))
        start = day(days, rng.randint(8, 20))
        if action == "book" or (action in ("move", "cancel") and not made):
            payload = {"room_id": target.id, "organization_id": organization.id, "title": f"Øving {step}"}
            payload |= {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
            response = client.post("/api/v1/bookings", json=payload, headers=member.headers)
            if response.status_code == 201:
                made.append(response.get_json()["id"])
        elif action == "move":
            body = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
            client.patch(f"/api/v1/bookings/{rng.choice(made)}", json=body, headers=member.headers)
        elif action == "cancel":
            client.post(
                f"/api/v1/bookings/{made.pop(rng.randrange(len(made)))}/cancel",
                json={},
                headers=member.headers,
            )
        elif action == "series":
            payload = {"room_id": target.id, "organization_id": organization.id, "title": f"Serie {step}"}
            payload |= {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
            payload["recurrence"] = {"rrule": "FREQ=WEEKLY;COUNT=4"}
            client.post("/api/v1/bookings", json=payload, headers=member.headers)
        else:
            target.name = f"Sal {step}"
            db.session.commit()
    for path in paths:
        check(path, 40)
    # Some changes missed some windows: served from the kept bytes, not rendered.
    by_plain = 41 * len(paths)
    assert len(renders) - by_plain < changed, "every change was rendered: the log served nothing"


def test_a_feed_reads_its_etag_and_body_from_one_snapshot(client, world, database_url, monkeypatch):  # noqa: F811
    """A booking committed by another server after a feed's markers were read and before its
    bookings are: the body served under those markers' ETag is the state they name."""
    building, room, organization, member = world
    path = f"/feeds/buildings/{building.id}.ics"
    render = service.render_feed
    reached, go = threading.Event(), threading.Event()

    def after_a_commit_elsewhere(feed):
        reached.set()
        assert go.wait(30)
        return render(feed)

    monkeypatch.setattr(service, "render_feed", after_a_commit_elsewhere)
    reader = other_app(database_url)  # a request of its own, as in production
    answers = []
    thread = threading.Thread(target=lambda: answers.append(reader.test_client().get(path)))
    try:
        thread.start()
        assert reached.wait(30)  # the markers are read, the bookings not yet
        monkeypatch.setattr(service, "render_feed", render)
        book(client, member, room, organization, 5, 12, title="Midt i")
        go.set()
        thread.join(30)
        second = reader.test_client().get(path)
    finally:
        go.set()
        thread.join(30)
        dispose(reader)
    assert answers[0].data.count(b"BEGIN:VEVENT") == 1  # the state the ETag names
    assert second.headers["ETag"] != answers[0].headers["ETag"]
    assert second.data.count(b"BEGIN:VEVENT") == 2


@pytest.mark.slow
def test_concurrent_bookings_through_two_servers_log_every_version_once(app_ctx, make, database_url):
    building = make.building()
    rooms = [make.room(building, name=f"Rom {n}").id for n in range(4)]
    organization = make.organization()
    token = make.member(organization).token
    organization_id = organization.id
    scope = f"building:{building.id}"
    clients = 12
    before = marker(scope)
    with running_servers(database_url, workers=3, secret="feed-change-test") as urls:
        barrier = threading.Barrier(clients)
        results: list = [None] * clients

        def one(i: int) -> None:
            start = day(20 + i, 10 + i % 8)
            payload = {"room_id": rooms[i % 4], "organization_id": organization_id, "title": f"Møte {i}"}
            payload |= {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
            barrier.wait()
            results[i] = post_booking(urls[i % 2], token, payload)[0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert results == [201] * clients
    logged = changes(scope)
    # Every version once, in order: the building's and rooms' own, then one per booking.
    assert [version for version, _, _ in logged] == list(range(1, before + clients + 1))
    assert marker(scope) == before + clients
    # Each booking's version names its own times: twelve distinct days.
    assert len({first_at.date() for _, first_at, _ in logged[before:]}) == clients
