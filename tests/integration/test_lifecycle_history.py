"""The concurrent-history test of SPEC §11: clients through two app servers (separate gunicorn
processes, several workers each, one database) create, approve, reject, cancel, move, edit and
force bookings at random on a divisible gym and a hall that requires approval; afterwards the
checker (``lifecycle_checker``) holds the record against the database and the API. The bigger
run is ``python -m bench history``.

The checker's own tests follow: each feeds it a small hand-made history that breaks some
promises (and one that breaks none), so a clean run of the real history means something."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bench.common import start_gunicorn
from booking.extensions import db
from tests.integration.lifecycle_checker import (
    FinalBooking,
    FinalState,
    History,
    OccupancyRow,
    Op,
    RoomInfo,
    World,
    build_world,
    check_history,
    explain,
    find_violations,
    normalize_fee,
    run_history,
)
from tests.integration.test_no_double_booking import overlapping_active_pairs

CLIENTS = 8
OPERATIONS = 40


@pytest.fixture(scope="module")
def history_servers(app, database_url):
    """Two gunicorn servers (three workers each) on the test database, for the whole module:
    each test's wipe of the database leaves them nothing stale to hold."""
    env = {"BOOKING_DATABASE_URL": database_url, "BOOKING_SECRET_KEY": "history-test"}
    with ThreadPoolExecutor(2) as pool:  # each takes seconds to import the app in its workers
        starting = [pool.submit(start_gunicorn, "wsgi:app", env, 3) for _ in range(2)]
    servers = [future.result() for future in starting if future.exception() is None]
    try:
        for future in starting:  # one failed to start: stop the other, then say why
            if future.exception() is not None:
                raise future.exception()
        yield [server.url for server in servers]
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.stop(), servers))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_concurrent_history_keeps_every_lifecycle_promise(app_ctx, history_servers, seed):
    world = build_world(seed, CLIENTS)
    history = run_history(history_servers, world, clients=CLIENTS, operations=OPERATIONS, seed=seed)
    violations, final = check_history(history, world, db.engine, history_servers[0])
    db.session.expire_all()
    pairs = overlapping_active_pairs()  # the SQL twin of the checker's own overlap test
    if violations or pairs:  # the explanation, without pytest's repr of every recorded request
        overlaps = f"overlapping active occupancy rows (SQL rule): {pairs}\n" if pairs else ""
        pytest.fail(overlaps + explain(violations, history, final), pytrace=False)
    # A history that never got that far proves nothing: every verb succeeded at least once,
    # and both kinds of refusal a race produces were seen.
    succeeded = Counter(op.action for op in history.ops if op.ok)
    for action in ("create", "approve", "cancel", "move", "edit", "force"):
        assert succeeded[action] > 0, (action, succeeded)
    statuses = Counter(op.status for op in history.ops)
    assert statuses[409] > 0 and statuses[412] > 0, statuses


# --- the checker, on hand-made histories -----------------------------------------------------

T0 = datetime(2031, 3, 4, 17, 0, tzinfo=UTC)
HALF_A, HALF_B, WHOLE = (
    RoomInfo(1, "A", frozenset({1}), 0, False),
    RoomInfo(2, "B", frozenset({2}), 0, False),
    RoomInfo(3, "A+B", frozenset({1, 2}), 15, False),
)
WORLD = World(1, (HALF_A, HALF_B, WHOLE), (7,), ((7, "member"),), "admin", ())
FEE = {"lines": [{"code": "cancellation_rent", "amount_ore": 15000}], "total_ore": 15000, "rule": "full_rent"}


def _booking(booking_id: int, sequence: int, status: str, room: RoomInfo = HALF_A, fee=None, **extra) -> dict:
    return {
        "id": booking_id,
        "room_id": room.id,
        "organization_id": 7,
        "status": status,
        "sequence": sequence,
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
        "cancellation_fee": fee,
        "updated_at": f"2031-01-01T00:00:0{sequence}+00:00",
        **extra,
    }


def _op(action, path, status, answer, at, booking_id=None, if_match=None, method="POST", actor="org 7") -> Op:
    return Op(
        client=0,
        number=int(at * 10),
        action=action,
        actor=actor,
        method=method,
        path=path,
        body=None,
        booking_id=booking_id,
        if_match=if_match,
        sent=at,
        received=at + 0.05,
        status=status,
        content_type="application/json" if status < 300 else "application/problem+json",
        answer=answer,
    )


def _final(*bookings: dict, rows=()) -> FinalState:
    stored = {
        b["id"]: FinalBooking(
            b["id"],
            b["room_id"],
            b["status"],
            datetime.fromisoformat(b["start"]),
            datetime.fromisoformat(b["end"]),
            b["sequence"],
            normalize_fee(b["cancellation_fee"]),
            "",
        )
        for b in bookings
    }
    api = {b["id"]: (200, b, f'"booking-{b["id"]}-{b["sequence"]}"') for b in bookings}
    return FinalState(stored, list(rows), api)


def _rows(booking_id: int, room: RoomInfo, active: bool) -> list[OccupancyRow]:
    until = T0 + timedelta(hours=1, minutes=room.buffer_minutes)
    return [OccupancyRow(booking_id, unit, T0, until, active) for unit in sorted(room.unit_ids)]


def _history(*ops: Op) -> History:
    return History(1, 0, 1, len(ops), 0.0, list(ops))


def _kinds(history: History, final: FinalState) -> set[str]:
    violations = find_violations(history, WORLD, final)
    explain(violations, history, final)  # the explanation renders whatever it is given
    return {v.kind for v in violations}


def test_checker_passes_a_history_that_keeps_its_promises():
    created = _booking(1, 0, "confirmed")
    cancelled = _booking(1, 1, "cancelled", fee=FEE)
    displaced = _booking(2, 1, "cancelled", room=HALF_B, fee={"lines": [], "total_ore": 0, "rule": "admin"})
    forced = _booking(3, 0, "confirmed", room=WHOLE)
    history = _history(
        _op("create", "/bookings", 201, created, 1),
        _op("get", "/bookings/1", 200, created, 2, 1, method="GET"),
        _op("cancel", "/bookings/1/cancel", 200, cancelled, 3, 1, if_match='"booking-1-0"'),
        _op("cancel", "/bookings/1/cancel", 409, {"title": "Conflict", "status": 409}, 4, 1),
        _op(
            "move", "/bookings/1", 412, {"title": "Precondition failed", "status": 412}, 5, 1, '"booking-1-0"'
        ),
        _op("create", "/bookings", 201, _booking(2, 0, "confirmed", room=HALF_B), 6),
        _op("force", "/bookings", 201, forced, 7, actor="admin"),
    )
    final = _final(cancelled, displaced, forced, rows=_rows(3, WHOLE, True))
    assert _kinds(history, final) == set()


def test_checker_finds_two_successful_cancels_and_the_fee_that_was_not_stored():
    created = _booking(1, 0, "confirmed")
    by_member = _booking(1, 1, "cancelled", fee=FEE)
    by_admin = _booking(1, 1, "cancelled", fee={"lines": [], "total_ore": 0, "rule": "admin"})
    history = _history(
        _op("create", "/bookings", 201, created, 1),
        _op("cancel", "/bookings/1/cancel", 200, by_admin, 2, 1, actor="admin"),
        _op("cancel", "/bookings/1/cancel", 200, by_member, 2, 1),
    )
    kinds = _kinds(history, _final(by_member))
    assert {"ended_twice", "sequence_reused", "fee_mismatch"} <= kinds


def test_checker_finds_a_confirmed_booking_without_its_units_and_an_overlap():
    approved = _booking(1, 1, "confirmed", room=WHOLE)
    other = _booking(2, 0, "confirmed", room=HALF_A)
    history = _history(
        _op("create", "/bookings", 201, _booking(1, 0, "pending", room=WHOLE), 1),
        _op("approve", "/bookings/1/approve", 200, approved, 2, 1, actor="admin"),
        _op("create", "/bookings", 201, other, 3),
    )
    only_half = [row for row in _rows(1, WHOLE, True) if row.unit_id == 1]
    final = _final(approved, other, rows=only_half + _rows(2, HALF_A, True))
    assert {"occupancy_mismatch", "double_booking"} <= _kinds(history, final)


def test_checker_judges_if_match_from_the_record_not_from_the_client():
    cancelled = _booking(1, 2, "cancelled", fee=FEE)
    refused = {"title": "Precondition failed", "status": 412}
    history = _history(
        _op("create", "/bookings", 201, _booking(1, 0, "pending"), 1),
        # at sequence 0 until the approval (sent after this was answered) moved it to 1: fresh,
        # so the 412 is wrong
        _op("edit", "/bookings/1", 412, refused, 2, 1, '"booking-1-0"', method="PATCH"),
        _op("approve", "/bookings/1/approve", 200, _booking(1, 1, "confirmed"), 3, 1, '"booking-1-0"'),
        # sent after the approval's answer (sequence 1) came back: stale, so the success is wrong
        _op("cancel", "/bookings/1/cancel", 200, cancelled, 4, 1, '"booking-1-0"'),
    )
    kinds = _kinds(history, _final(cancelled))
    assert {"precondition_wrong", "stale_if_match_accepted"} <= kinds
    # the approval itself carried a fresh If-Match: not reported
    assert not any(
        v.kind == "stale_if_match_accepted" and v.ops[0].action == "approve"
        for v in find_violations(history, WORLD, _final(cancelled))
    )


def test_checker_finds_server_errors_lost_changes_and_unexplained_bookings():
    pending = _booking(1, 0, "pending")
    history = _history(
        _op("create", "/bookings", 201, pending, 1),
        _op("approve", "/bookings/1/approve", 500, "<html>Internal Server Error</html>", 2, 1, actor="admin"),
    )
    history.ops[1].content_type = "text/html"
    # rejected with no competitor confirmed anywhere near it; and a booking nobody was told of
    kinds = _kinds(history, _final(_booking(1, 1, "rejected"), _booking(9, 0, "cancelled")))
    assert {"server_error", "not_problem_json", "unexplained_change", "unanswered_booking"} <= kinds
    # the final state one sequence behind an answer: a change was lost
    confirmed = _booking(1, 1, "confirmed")
    history = _history(
        _op("create", "/bookings", 201, pending, 1),
        _op("approve", "/bookings/1/approve", 200, confirmed, 2, 1, actor="admin"),
    )
    assert "sequence_went_back" in _kinds(history, _final(pending, rows=_rows(1, HALF_A, False)))
