"""The audit log: every change with who, what, when, before and after; readable by admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from booking.cli import main
from booking.extensions import db
from booking.models import AuditEntry


def _slot(days: int = 10, hour: int = 17) -> tuple[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return start.isoformat(), (start + timedelta(hours=2)).isoformat()


def _entries(**where) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query))


def test_a_members_booking_is_logged_with_who_what_and_when(client, make):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    start, end = _slot()
    before = datetime.now(UTC)
    response = client.post(
        "/api/v1/bookings",
        headers=member.headers,
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Korøving",
            "start": start,
            "end": end,
        },
    )
    assert response.status_code == 201
    booking_id = response.get_json()["id"]
    [entry] = _entries(entity="bookings", entity_id=str(booking_id))
    assert entry.action == "insert"
    assert (entry.actor_user_id, entry.actor_role) == (member.user.id, "member")
    assert entry.origin == "POST /api/v1/bookings"
    assert before <= entry.at <= datetime.now(UTC)
    assert entry.before is None
    assert entry.after["title"] == "Korøving" and entry.after["status"] == "confirmed"
    assert entry.after["organization_id"] == organization.id


def test_an_update_records_only_the_changed_fields_old_and_new(client, make):
    room = make.room(capacity=20)
    admin = make.admin()
    response = client.patch(f"/api/v1/rooms/{room.id}", headers=admin.headers, json={"capacity": 35})
    assert response.status_code == 200
    [entry] = [e for e in _entries(entity="rooms", entity_id=str(room.id)) if e.action == "update"]
    assert entry.actor_user_id == admin.user.id and entry.actor_role == "admin"
    assert entry.before["capacity"] == 20 and entry.after["capacity"] == 35
    assert "name" not in entry.before and "name" not in entry.after


def test_cancelling_is_logged_as_a_status_change(client, make):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    start, end = _slot()
    booking_id = client.post(
        "/api/v1/bookings",
        headers=member.headers,
        json={
            "room_id": room.id,
            "organization_id": organization.id,
            "title": "Møte",
            "start": start,
            "end": end,
        },
    ).get_json()["id"]
    assert (
        client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=member.headers, json={}).status_code
        == 200
    )
    updates = [e for e in _entries(entity="bookings", entity_id=str(booking_id)) if e.action == "update"]
    [update] = [e for e in updates if "status" in e.before]  # one request may flush more than once
    assert update.before["status"] == "confirmed" and update.after["status"] == "cancelled"
    assert update.before["sequence"] + 1 == update.after["sequence"]
    assert any(e.after.get("cancellation_fee") for e in updates)


def test_a_refused_change_leaves_no_entry(client, make):
    room = make.room()
    organization = make.organization()
    member = make.member(organization)
    start, end = _slot()
    payload = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Først",
        "start": start,
        "end": end,
    }
    assert client.post("/api/v1/bookings", headers=member.headers, json=payload).status_code == 201
    count = len(_entries())
    assert client.post("/api/v1/bookings", headers=member.headers, json=payload).status_code == 409
    assert (
        client.post(
            "/api/v1/rooms",
            headers=member.headers,
            json={"building_id": room.building_id, "name": "X", "kind": "hall", "capacity": 5},
        ).status_code
        == 403
    )
    assert len(_entries()) == count


def test_secrets_never_enter_the_log(client, make):
    admin = make.admin()
    response = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={
            "email": "ny@example.test",
            "name": "Ny",
            "role": "member",
            "password": "a long secret password",
        },
    )
    assert response.status_code == 201
    [entry] = _entries(entity="users", entity_id=str(response.get_json()["id"]))
    assert entry.after["password_hash"] == "[redacted]"
    login = client.post(
        "/api/v1/tokens", json={"email": "ny@example.test", "password": "a long secret password"}
    )
    token = login.get_json()["token"]
    [issued] = [
        e for e in _entries(entity="api_tokens") if e.after and e.after["user_id"] == entry.after["id"]
    ]
    assert issued.after["token_hash"] == "[redacted]" and issued.actor_role == "anonymous"
    assert issued.origin == "POST /api/v1/tokens"
    texts = " ".join(str((e.before, e.after)) for e in _entries())
    assert "a long secret password" not in texts and token not in texts and "scrypt" not in texts


def test_memberships_appear_as_id_lists(client, make):
    member = make.member()
    first = member.user.organizations[0].id
    response = client.post(
        "/api/v1/organizations",
        headers=member.headers,
        json={
            "name": "Nytt lag",
            "org_number": "974760673",
            "contact_name": "Kari",
            "email": "lag@example.test",
            "voluntary": True,
            "local": True,
        },
    )
    assert response.status_code == 201
    second = response.get_json()["id"]
    [change] = [e for e in _entries(entity="users", entity_id=str(member.user.id)) if e.action == "update"]
    assert change.before == {"organizations": [first]} and change.after == {"organizations": [first, second]}
    assert change.actor_user_id == member.user.id


def test_bulk_revocation_of_feed_tokens_is_logged_per_row(client, make):
    organization = make.organization()
    member = make.member(organization)
    path = f"/api/v1/organizations/{organization.id}/feed-token"
    assert client.post(path, headers=member.headers).status_code == 201
    assert client.post(path, headers=member.headers).status_code == 201  # revokes the first
    revoked = [e for e in _entries(entity="feed_tokens") if e.action == "update"]
    assert len(revoked) == 1
    assert revoked[0].before == {"revoked_at": None} and revoked[0].after["revoked_at"]
    inserted = [e for e in _entries(entity="feed_tokens") if e.action == "insert"]
    assert len(inserted) == 2 and all(e.after["nonce"] == "[redacted]" for e in inserted)


def test_changes_outside_a_request_are_the_systems(app_ctx, make):
    make.building()  # the factories call services directly, as a script would
    [entry] = _entries(entity="buildings")
    assert (entry.actor_user_id, entry.actor_role) == (None, "system")
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(main, ["create-user", "--email", "cli@example.test", "--role", "admin"])
    assert result.exit_code == 0, result.output
    [created] = [e for e in _entries(entity="users") if e.after["email"] == "cli@example.test"]
    assert created.actor_role == "system" and "create-user" in created.origin


def test_admins_read_the_log_newest_first_with_filters(client, make):
    admin = make.admin()
    room = make.room(capacity=10)
    for capacity in (11, 12):
        assert (
            client.patch(
                f"/api/v1/rooms/{room.id}", headers=admin.headers, json={"capacity": capacity}
            ).status_code
            == 200
        )
    response = client.get(
        f"/api/v1/audit-log?entity=rooms&entity_id={room.id}&action=update", headers=admin.headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [e["after"]["capacity"] for e in body] == [12, 11]
    assert body[0]["actor_user_id"] == admin.user.id and body[0]["at"].endswith(("+01:00", "+02:00"))
    assert '"total": 2' in response.headers["X-Pagination"]
    paged = client.get(
        "/api/v1/audit-log?page_size=1&page=2&entity=rooms&action=update", headers=admin.headers
    )
    assert [e["after"]["capacity"] for e in paged.get_json()] == [11]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert client.get(f"/api/v1/audit-log?from={later}", headers=admin.headers).get_json() == []
    mine = client.get(f"/api/v1/audit-log?actor_user_id={admin.user.id}", headers=admin.headers).get_json()
    assert mine and all(e["actor_user_id"] == admin.user.id for e in mine)


def test_only_admins_read_the_log(client, make):
    organization = make.organization()
    building = make.building()
    assert client.get("/api/v1/audit-log").status_code == 401
    assert client.get("/api/v1/audit-log", headers=make.member(organization).headers).status_code == 403
    assert client.get("/api/v1/audit-log", headers=make.janitor(building).headers).status_code == 403
    count = db.session.scalar(select(func.count()).select_from(AuditEntry))
    assert client.get("/api/v1/audit-log?action=explode", headers=make.admin().headers).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= count
