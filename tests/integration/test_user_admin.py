"""An admin deactivates a user, removes a membership or a janitor's building (SPEC §2, §13): the
change takes effect with the user's next request, whatever credential it comes with; it is in
the audit log; and concurrent requests settle it in the database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from booking.errors import PROBLEM_JSON
from booking.extensions import db
from booking.models import ApiToken, AuditEntry, User, WebSession, janitor_buildings, memberships
from tests.integration.live_http import call, page_login, running_servers
from tests.integration.web_helpers import TOKEN, log_in, post, today, with_csrf

PASSWORD = "correct horse battery"


# --- helpers ------------------------------------------------------------------------------------


def deactivate(client, admin, user_id: int):
    return client.post(f"/api/v1/users/{user_id}/deactivate", headers=admin.headers)


def api_login(client, email: str):
    return client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def entries(**where) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query))


def working_credentials(user) -> tuple[int, int]:
    """The user's API tokens not revoked and page sessions not ended, as stored."""
    db.session.commit()  # a new snapshot (SQLite keeps a read transaction's)
    tokens = db.session.scalars(
        select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    sessions = db.session.scalars(
        select(WebSession.id).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ).all()
    return len(tokens), len(sessions)


def is_active(user_id: int) -> bool:
    db.session.commit()
    return db.session.get(User, user_id, populate_existing=True).active


def at_once(app, *calls) -> list:
    """Run ``calls`` (each ``call(client)``, with its own client) in threads released together."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        with app.test_client() as own:
            prepare = getattr(calls[i], "prepare", None)
            if prepare:
                prepare(own)
            barrier.wait()
            results[i] = calls[i](own)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def schedule(client, login, building):
    return client.get(f"/api/v1/buildings/{building.id}/schedule?date={today()}", headers=login.headers)


# --- deactivation ------------------------------------------------------------------------------------


def test_deactivation_ends_every_token_and_session_at_once(app_ctx, client, make):
    admin, member, other = make.admin(), make.member(), make.member()
    token = api_login(client, member.user.email).get_json()["token"]
    browser = app_ctx.test_client()
    log_in(browser, member.user)
    assert browser.get("/my").status_code == 200
    assert working_credentials(member.user) == (2, 1)  # the factory's token, this one; the page

    answer = deactivate(client, admin, member.user.id)

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["id"] == member.user.id and body["email"] == member.user.email and body["active"] is False
    assert [o["id"] for o in body["organizations"]] == [member.user.organizations[0].id]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=member.headers).status_code == 401
    assert browser.get("/my").status_code == 303
    assert (
        browser.patch("/api/v1/me", json={"language": "en"}, headers={"X-CSRF-Token": TOKEN}).status_code
        == 401
    )
    assert working_credentials(member.user) == (0, 0)
    assert api_login(client, member.user.email).status_code == 401  # as a wrong password: reveals nothing
    with_csrf(browser)
    assert post(browser, "/login", {"email": member.user.email, "password": PASSWORD}).status_code == 401
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200  # nobody else's

    again = deactivate(client, admin, member.user.id)
    assert again.status_code == 200 and again.get_json() == body


def test_deactivation_is_in_the_audit_log(client, make):
    admin, member = make.admin(), make.member()
    browser_session = client.application.test_client()
    log_in(browser_session, member.user)
    assert deactivate(client, admin, member.user.id).status_code == 200
    [flag] = entries(entity="users", entity_id=str(member.user.id), action="update")
    assert (flag.before, flag.after) == ({"active": True}, {"active": False})
    assert (flag.actor_user_id, flag.origin) == (
        admin.user.id,
        f"POST /api/v1/users/{member.user.id}/deactivate",
    )
    revoked = [e for e in entries(entity="api_tokens", action="update") if "revoked_at" in e.after]
    ended = [e for e in entries(entity="web_sessions", action="update") if "ended_at" in e.after]
    assert len(revoked) == 1 and len(ended) == 1
    assert all(e.actor_user_id == admin.user.id for e in revoked + ended)


def test_deactivation_refuses_what_it_must(client, make):
    admin, member = make.admin(), make.member()
    cases = [
        (admin, 987654, 404),
        (admin, admin.user.id, 409),  # not oneself: another admin can undo a mistake
        (member, admin.user.id, 403),
        (None, member.user.id, 401),
    ]
    for who, user_id, status in cases:
        headers = who.headers if who else {}
        answer = client.post(f"/api/v1/users/{user_id}/deactivate", headers=headers)
        assert answer.status_code == status and answer.mimetype == PROBLEM_JSON, (user_id, status)
    assert is_active(admin.user.id) and is_active(member.user.id)
    assert client.get("/api/v1/me", headers=admin.headers).status_code == 200


def test_a_page_session_of_an_admin_needs_the_csrf_header_to_deactivate(app_ctx, client, make):
    admin, member = make.admin(), make.member()
    browser = app_ctx.test_client()
    log_in(browser, admin.user)
    assert browser.post(f"/api/v1/users/{member.user.id}/deactivate").status_code == 403
    assert is_active(member.user.id)
    done = browser.post(f"/api/v1/users/{member.user.id}/deactivate", headers={"X-CSRF-Token": TOKEN})
    assert done.status_code == 200 and not is_active(member.user.id)


# --- memberships and buildings ------------------------------------------------------------------------


def test_a_removed_member_loses_the_organisation_with_the_next_request(app_ctx, client, make):
    admin = make.admin()
    organization, other = make.organization(), make.organization()
    member = make.user("member", organizations=[organization, other])
    browser = app_ctx.test_client()
    log_in(browser, member.user)
    feed = f"/api/v1/organizations/{organization.id}/feed-token"
    assert client.post(feed, headers=member.headers).status_code == 201
    assert browser.get(feed).status_code == 200

    gone = client.delete(
        f"/api/v1/users/{member.user.id}/organizations/{organization.id}", headers=admin.headers
    )

    assert gone.status_code == 204 and gone.get_data() == b""
    assert client.get(feed, headers=member.headers).status_code == 403  # the same token, a new actor
    assert browser.get(feed).status_code == 403  # the same session too
    assert (
        client.get(f"/api/v1/organizations/{other.id}/feed-token", headers=member.headers).status_code != 403
    )
    me = client.get("/api/v1/me", headers=member.headers).get_json()
    assert [o["id"] for o in me["organizations"]] == [other.id]


def test_a_janitor_loses_a_removed_building_with_the_next_request(client, make):
    admin = make.admin()
    building, other = make.building(), make.building()
    janitor = make.janitor(building, other)
    assert schedule(client, janitor, building).status_code == 200
    path = f"/api/v1/users/{janitor.user.id}/buildings/{building.id}"
    assert client.delete(path, headers=admin.headers).status_code == 204
    assert schedule(client, janitor, building).status_code == 403
    assert schedule(client, janitor, other).status_code == 200


def test_removals_are_in_the_audit_log(client, make):
    admin, building = make.admin(), make.building()
    member, janitor = make.member(), make.janitor(building)
    organization = member.user.organizations[0]
    client.delete(f"/api/v1/users/{member.user.id}/organizations/{organization.id}", headers=admin.headers)
    client.delete(f"/api/v1/users/{janitor.user.id}/buildings/{building.id}", headers=admin.headers)
    [membership] = entries(entity="memberships")
    assert (membership.action, membership.entity_id) == ("delete", f"{member.user.id}/{organization.id}")
    assert membership.before == {
        "user_id": member.user.id,
        "organization_id": organization.id,
        "booking_mail": True,
    }
    assert membership.after is None and membership.actor_user_id == admin.user.id
    assert membership.origin == f"DELETE /api/v1/users/{member.user.id}/organizations/{organization.id}"
    [assignment] = entries(entity="janitor_buildings")
    assert assignment.entity_id == f"{janitor.user.id}/{building.id}"
    assert assignment.before == {
        "user_id": janitor.user.id,
        "building_id": building.id,
        "morning_sheet": False,
    }


def test_removing_what_is_not_there_is_a_404(client, make):
    admin, building = make.admin(), make.building()
    member, janitor = make.member(), make.janitor(building)
    organization = member.user.organizations[0]
    cases = [
        (f"/api/v1/users/{member.user.id}/organizations/{organization.id + 1000}", "is not a member"),
        (f"/api/v1/users/{janitor.user.id}/organizations/{organization.id}", "is not a member"),
        (f"/api/v1/users/987654/organizations/{organization.id}", "There is no user"),
        (f"/api/v1/users/{member.user.id}/buildings/{building.id}", "is not the janitor"),
        (f"/api/v1/users/987654/buildings/{building.id}", "There is no user"),
    ]
    for path, detail in cases:
        answer = client.delete(path, headers=admin.headers)
        assert answer.status_code == 404 and answer.mimetype == PROBLEM_JSON, path
        assert detail in answer.get_json()["detail"], path
    path = f"/api/v1/users/{member.user.id}/organizations/{organization.id}"
    assert client.delete(path, headers=member.headers).status_code == 403
    assert client.delete(path, headers=janitor.headers).status_code == 403
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers=admin.headers).status_code == 204
    assert client.delete(path, headers=admin.headers).status_code == 404  # gone already
    assert entries(entity="memberships") != [] and len(entries(entity="memberships")) == 1


# --- at the same time -----------------------------------------------------------------------------------


def test_two_deactivations_at_once_both_answer_the_same(app_ctx, make):
    admin, other_admin, member = make.admin(), make.admin(), make.member()
    member_id = member.user.id  # read here: the threads have no session of this test
    answers = at_once(
        app_ctx,
        lambda c: deactivate(c, admin, member_id),
        lambda c: deactivate(c, other_admin, member_id),
    )
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() == answers[1].get_json()
    assert not is_active(member.user.id) and working_credentials(member.user) == (0, 0)
    assert len(entries(entity="users", entity_id=str(member.user.id), action="update")) == 1


def test_two_admins_deactivating_each_other_at_once_leave_one_of_them(app_ctx, make):
    first, second = make.admin(), make.admin()
    first_id, second_id = first.user.id, second.user.id
    answers = at_once(
        app_ctx,
        lambda c: deactivate(c, first, second_id),
        lambda c: deactivate(c, second, first_id),
    )
    assert sorted(a.status_code for a in answers) == [200, 401], [a.get_json() for a in answers]
    assert [is_active(first.user.id), is_active(second.user.id)].count(True) == 1


def _page_login(email: str):
    def go(client):
        return post(client, "/login", {"email": email, "password": PASSWORD}).status_code

    go.prepare = with_csrf
    return go


def test_logins_racing_a_deactivation_leave_no_working_credential(app_ctx, make):
    """Each login either finishes before the deactivation, which then ends what it made, or
    comes after it and is refused."""
    admin, member = make.admin(), make.member()
    email = member.user.email
    logins = [lambda c: api_login(c, email) for _ in range(4)] + [_page_login(email) for _ in range(3)]
    member_id = member.user.id
    answers = at_once(app_ctx, lambda c: deactivate(c, admin, member_id), *logins)
    assert answers[0].status_code == 200
    statuses = [a.status_code for a in answers[1:5]] + answers[5:]
    assert set(statuses) <= {201, 303, 401}, statuses
    assert working_credentials(member.user) == (0, 0)
    client = app_ctx.test_client()
    for answer in answers[1:5]:
        if answer.status_code == 201:
            assert client.get("/api/v1/me", headers=bearer(answer.get_json()["token"])).status_code == 401


def test_two_removals_of_one_membership_at_once_one_204_one_404(app_ctx, make):
    admin, other_admin, member = make.admin(), make.admin(), make.member()
    organization = member.user.organizations[0]
    path = f"/api/v1/users/{member.user.id}/organizations/{organization.id}"
    answers = at_once(
        app_ctx,
        lambda c: c.delete(path, headers=admin.headers),
        lambda c: c.delete(path, headers=other_admin.headers),
    )
    assert sorted(a.status_code for a in answers) == [204, 404]
    db.session.commit()
    assert db.session.execute(select(memberships).where(memberships.c.user_id == member.user.id)).all() == []
    assert len(entries(entity="memberships")) == 1


def test_two_removals_of_one_building_at_once_one_204_one_404(app_ctx, make):
    admin, building = make.admin(), make.building()
    janitor = make.janitor(building)
    path = f"/api/v1/users/{janitor.user.id}/buildings/{building.id}"
    answers = at_once(app_ctx, *[lambda c: c.delete(path, headers=admin.headers)] * 2)
    assert sorted(a.status_code for a in answers) == [204, 404]
    db.session.commit()
    assert (
        db.session.execute(
            select(janitor_buildings).where(janitor_buildings.c.user_id == janitor.user.id)
        ).all()
        == []
    )


# --- through real servers ---------------------------------------------------------------------------------


@pytest.fixture
def servers(app_ctx, database_url):
    with running_servers(database_url) as urls:
        yield urls


@pytest.mark.slow
def test_a_deactivation_on_one_server_stops_a_token_and_a_cookie_on_the_other(servers, make):
    first, second = servers
    admin, member = make.admin(), make.member()
    cookie = page_login(second, member.user.email, PASSWORD)
    token = call(second, "POST", "/api/v1/tokens", body={"email": member.user.email, "password": PASSWORD})
    token = token.json()["token"]
    assert call(second, "GET", "/api/v1/me", cookie=cookie).status == 200
    assert call(second, "GET", "/api/v1/me", token=token).status == 200
    done = call(first, "POST", f"/api/v1/users/{member.user.id}/deactivate", token=admin.token)
    assert done.status == 200 and done.json()["active"] is False
    assert call(second, "GET", "/api/v1/me", cookie=cookie).status == 401
    assert call(second, "GET", "/api/v1/me", token=token).status == 401
    assert call(second, "GET", "/my", cookie=cookie).status == 303
    assert call(second, "GET", "/api/v1/me", token=member.token).status == 401
