"""A single booking's create on PostgreSQL writes the booking, its audit entry, its outbox event
and its feed markers with their log in one statement (``bookings._insert_single``). These tests
hold it to what the session's hooks write for the same booking through the ORM (the path of
series, displacements, overrulings and SQLite): the same rows, the same JSON text, the same
answer; and to the unit of work: a failure after the statement, or a double booking the check
did not see, leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text

from booking.extensions import db, unit_of_work
from booking.models import AuditEntry, Booking, Building, FeedChange, FeedMarker, OutboxEvent, Room
from booking.services import bookings
from booking.services.access import Actor
from tests.integration.factories import ADMIN


@pytest.fixture
def postgresql(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the one-statement create is PostgreSQL's (SQLite has no data-modifying CTE)")


@pytest.fixture
def one_statements():
    """The one-statement creates the app server runs, counted."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("WITH new_booking AS"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def _start(days: int = 20, hour: int = 18) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def _post(client, login, room, organization, start: datetime, **extra) -> dict:
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Korøving «vår»",  # text that JSON escapes
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "notes": "Nøkkel hos vaktmester",
        **extra,
    }
    response = client.post("/api/v1/bookings", json=payload, headers=login.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _markers() -> dict[str, int]:
    db.session.rollback()
    return dict(db.session.execute(select(FeedMarker.scope, FeedMarker.version)).all())


def _written(booking_id: int, before: dict[str, int]) -> dict:
    """What a create wrote beside its booking: the audit entry and the outbox event as stored
    text, the markers it moved (by how much) and their log rows."""
    db.session.rollback()
    entry = db.session.execute(
        text(
            "SELECT actor_user_id, actor_role, origin, action, entity_id, before::text, after::text "
            "FROM audit_log WHERE entity = 'bookings' AND entity_id = :id"
        ),
        {"id": str(booking_id)},
    ).one()
    [(kind, params)] = db.session.execute(
        text("SELECT kind, params::text FROM outbox_events WHERE params::text LIKE :ids"),
        {"ids": f'{{"booking_ids": [{booking_id}]%'},
    ).all()
    after = _markers()
    moved = {
        scope: version - before.get(scope, 0)
        for scope, version in after.items()
        if version != before.get(scope)
    }
    logged = {
        scope: db.session.execute(
            select(FeedChange.first_at, FeedChange.last_at).where(
                FeedChange.scope == scope, FeedChange.version == after[scope]
            )
        ).one_or_none()
        for scope in moved
    }
    return {"entry": tuple(entry), "event": (kind, params), "moved": moved, "logged": logged}


def _plain(written: dict, booking_id: int, stamp: str) -> dict:
    """``written`` with the booking's id and creation time in its texts put as ID and STAMP."""
    *who, entity_id, before, after = written["entry"]
    assert entity_id == str(booking_id) and after.startswith(f'{{"id": {booking_id}, ')
    kind, params = written["event"]
    assert params.startswith(f'{{"booking_ids": [{booking_id}]')
    return dict(
        written,
        entry=(*who, before, after.replace(str(booking_id), "ID", 1).replace(stamp, "STAMP")),
        event=(kind, params.replace(str(booking_id), "ID", 1)),
    )


@pytest.mark.parametrize("approval", [False, True], ids=["confirmed", "request"])
def test_one_statement_writes_what_the_session_hooks_write(
    postgresql, client, make, monkeypatch, one_statements, approval
):
    # A divisible hall: the markers of its parts move too (rooms sharing a unit, found in SQL).
    building = make.building()
    parts = [make.room(building=building, name=f"Del {i}") for i in (1, 2)]
    hall = make.room(
        building=building, name="Hall", part_ids=[p.id for p in parts], requires_approval=approval
    )
    organization = make.organization()
    member = make.member(organization)
    start = _start()

    before = _markers()
    fast = _post(client, member, hall, organization, start)
    assert len(one_statements) == 1
    fast_written = _written(fast["id"], before)
    assert fast["status"] == ("pending" if approval else "confirmed")
    # The answer was made from the values written, not read back: a GET gives the same.
    assert client.get(f"/api/v1/bookings/{fast['id']}", headers=member.headers).get_json() == fast

    # The same booking at the same time through the session's hooks (the slot freed first).
    response = client.post(f"/api/v1/bookings/{fast['id']}/cancel", json={}, headers=member.headers)
    assert response.status_code == 200, response.get_json()
    monkeypatch.setattr(bookings, "_in_one_statement", lambda plan, overruled: False)
    before = _markers()
    hooked = _post(client, member, hall, organization, start)
    assert len(one_statements) == 1
    hooked_written = _written(hooked["id"], before)

    stamps = tuple(
        db.session.scalar(select(Booking.created_at).where(Booking.id == b["id"])).isoformat()
        for b in (fast, hooked)
    )
    assert _plain(fast_written, fast["id"], stamps[0]) == _plain(hooked_written, hooked["id"], stamps[1])
    assert set(fast_written["moved"]) >= {f"room:{r.id}" for r in (hall, *parts)} | {
        f"building:{building.id}",
        f"organization:{organization.id}",
    }
    assert set(fast_written["moved"].values()) == {1}
    assert all(span == (start, start + timedelta(hours=2)) for span in fast_written["logged"].values())
    # And the same answer.
    varying = {"id", "created_at", "updated_at", "etag"}
    assert {k: v for k, v in hooked.items() if k not in varying} == {
        k: v for k, v in fast.items() if k not in varying
    }


def _counts() -> tuple[int, ...]:
    db.session.rollback()
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Booking, AuditEntry, OutboxEvent, FeedChange)
    ) + (db.session.scalar(select(func.coalesce(func.sum(FeedMarker.version), 0))),)


def test_a_failure_after_the_statement_rolls_all_of_it_back(postgresql, app_ctx, make):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    actor = Actor(user_id=member.user.id, role="member", organization_ids=frozenset({organization.id}))
    request = bookings.BookingRequest(
        room_id=room.id, organization_id=organization.id, title="Øving", start=_start(), end=_start(hour=20)
    )
    counts = _counts()
    with pytest.raises(RuntimeError), unit_of_work():
        created = bookings.create_booking(actor, request)
        assert created.id is not None
        raise RuntimeError("a step after the create failed")
    assert _counts() == counts


def test_a_double_booking_the_check_did_not_see_leaves_nothing(postgresql, client, make, monkeypatch):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    start = _start()
    _post(client, member, room, organization, start)
    counts = _counts()
    # As if another server's booking were committed between the check and the insert: only the
    # exclusion constraint stands in the way, and the whole statement is refused.
    monkeypatch.setattr(bookings, "find_blocking", lambda *args, **kwargs: {})
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Andre",
        "start": (start + timedelta(hours=1)).isoformat(),
        "end": (start + timedelta(hours=3)).isoformat(),
    }
    response = client.post("/api/v1/bookings", json=payload, headers=member.headers)
    assert response.status_code == 409, response.get_json()
    assert _counts() == counts


def test_the_statement_stays_within_the_drivers_cache(postgresql, app_ctx):
    # psycopg converts a statement's text once and keeps it only up to these bounds; past them
    # every create would pay the conversion again (BENCHMARKS.md: part of the statement's gain).
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

    compiled = bookings._INSERT_SINGLE.compile(dialect=db.engine.dialect)
    sql = str(compiled).replace("__[POSTCOMPILE_rooms]", "%(rooms_1)s")
    assert len(sql) <= MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= MAX_CACHED_STATEMENT_PARAMS


def test_unit_ids_read_with_the_targets_are_the_rooms_units(postgresql, app_ctx, make):
    # A divisible hall's units (its parts) as read beside it by a create's targets, through an
    # approval in the same session, and read again after the commit. (A room loaded otherwise
    # must not load the expression on its own, which the ORM cannot do: the rounds' statements
    # and the demo's requests, test_bench_smoke.py and tests/e2e/test_my_browser.py, found it.)
    building = make.building()
    parts = [make.room(building=building, name=f"Del {i}") for i in (1, 2)]
    hall = make.room(building=building, name="Hall", part_ids=[p.id for p in parts], requires_approval=True)
    organizations = [make.organization(), make.organization()]
    members = [make.member(o) for o in organizations]
    created = [
        bookings.create_booking(
            Actor(user_id=m.user.id, role="member", organization_ids=frozenset({o.id})),
            bookings.BookingRequest(
                room_id=hall.id,
                organization_id=o.id,
                title="Øving",
                start=_start(hour=h),
                end=_start(hour=h + 2),
            ),
        )
        for m, o, h in zip(members, organizations, (12, 13), strict=True)
    ]
    assert hall.__dict__.get("unit_ids_read") == sorted(p.id for p in parts)
    approved = bookings.approve_booking(ADMIN, created[1].id)
    assert approved.status.value == "confirmed"
    db.session.commit()
    again = db.session.scalars(select(Room).where(Room.id == hall.id)).one()
    building = db.session.scalars(select(Building).where(Building.id == building.id)).one()
    assert again is hall
    assert hall.unit_ids == sorted(p.id for p in parts)
    assert building.closure_ranges == []
