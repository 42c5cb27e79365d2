"""Page sessions the server can end (SPEC §2, §13): the cookie holds only the secret of a
server-side session; logging out, a password reset and the session's expiry end it, and a copy
of the cookie is refused from then on. And no login, on the page or for an API token, before the
e-mail address is confirmed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from booking.errors import PROBLEM_JSON
from booking.extensions import db
from booking.models import OutboxEvent, User, WebSession
from booking.models.types import utcnow
from booking.services import accounts
from booking.services.auth import hash_token
from booking.services.users import add_user
from booking.web.security import LOGIN_KEY
from tests.integration.live_http import call, page_login, page_logout, running_servers
from tests.integration.web_helpers import TOKEN, log_in, post, text, with_csrf

PASSWORD = "correct horse battery"


# --- helpers ------------------------------------------------------------------------------------


def form_login(client, email: str, password: str = PASSWORD):
    """Log in through the login form, as a browser does."""
    with_csrf(client)
    return post(client, "/login", {"email": email, "password": password})


def logout(client) -> None:
    with_csrf(client)  # logging in began a new session with a new CSRF token
    assert post(client, "/logout").status_code == 303


def cookie_header(client) -> str:
    """The browser's session cookie, as a ``Cookie`` header another client can replay."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    return f"session={cookie.value}"


def session_value(client, key: str):
    with client.session_transaction() as session:
        return session.get(key)


def replay(app, cookie: str):
    """What a second client holding a copy of the cookie gets: /my, GET /api/v1/me, and a write
    through the API with the session's CSRF token."""
    thief = app.test_client(use_cookies=False)  # sends the Cookie header as given
    headers = {"Cookie": cookie}
    return (
        thief.get("/my", headers=headers).status_code,
        thief.get("/api/v1/me", headers=headers).status_code,
        thief.patch(
            "/api/v1/me", json={"language": "en"}, headers={**headers, "X-CSRF-Token": TOKEN}
        ).status_code,
    )


def sessions_of(user) -> list[WebSession]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(WebSession).where(WebSession.user_id == user.id).order_by(WebSession.id)
        ).scalars()
    )


def unconfirmed_user(n: int = 1) -> User:
    user = add_user(
        {"email": f"ny{n}@example.test", "name": "Ny", "role": "member", "password": PASSWORD},
        email_confirmed=False,
    )
    db.session.commit()
    return user


def confirmation_events() -> int:
    db.session.commit()  # a new snapshot (SQLite keeps a read transaction's)
    return db.session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.kind == "email_confirmation")
    )


# --- the session lives on the server ----------------------------------------------------------------


def test_the_cookie_holds_a_secret_whose_hash_alone_is_stored(app_ctx, client, make):
    member = make.member()
    answer = form_login(client, member.user.email)
    assert answer.status_code == 303 and answer.headers["Location"] == "/my"
    secret = session_value(client, LOGIN_KEY)
    assert session_value(client, "user_id") is None and len(secret) >= 43  # 256 bits, URL-safe
    [row] = sessions_of(member.user)
    assert row.token_hash == hash_token(secret) and secret not in row.token_hash
    assert row.ended_at is None
    lifetime = app_ctx.permanent_session_lifetime
    assert abs(row.expires_at - (row.created_at + lifetime)) < timedelta(seconds=1)
    assert client.get("/my").status_code == 200


def test_a_cookie_replayed_after_logout_is_refused(app_ctx, client, make):
    member = make.member()
    form_login(client, member.user.email)
    with client.session_transaction() as session:
        session["csrf_token"] = TOKEN  # known, so the replayed API write is only refused for the session
    stolen = cookie_header(client)
    assert replay(app_ctx, stolen) == (200, 200, 200)  # the copy works while the session lasts
    logout(client)
    assert [s.ended_at is not None for s in sessions_of(member.user)] == [True]
    assert replay(app_ctx, stolen) == (303, 401, 401)
    assert client.get("/my").status_code == 303
    assert client.get("/api/v1/me", headers=member.headers).status_code == 200  # API tokens stay


@pytest.fixture
def servers(app_ctx, database_url):
    with running_servers(database_url) as urls:
        yield urls


@pytest.mark.slow
def test_a_cookie_is_refused_by_every_server_once_its_session_is_logged_out(servers, make):
    """Through real servers: log in on one, replay the cookie on the other, log out on the first."""
    first, second = servers
    member = make.member()
    cookie = page_login(first, member.user.email, PASSWORD)
    assert call(second, "GET", "/api/v1/me", cookie=cookie).json()["email"] == member.user.email
    assert call(second, "GET", "/my", cookie=cookie).status == 200
    page_logout(first, cookie)
    assert call(second, "GET", "/api/v1/me", cookie=cookie).status == 401
    assert call(first, "GET", "/api/v1/me", cookie=cookie).status == 401
    replayed = call(second, "GET", "/my", cookie=cookie)
    assert replayed.status == 303 and replayed.headers["Location"].startswith("/login")


def test_a_public_page_still_works_with_an_ended_sessions_cookie(app_ctx, client, make):
    member = make.member()
    form_login(client, member.user.email)
    stolen = cookie_header(client)
    logout(client)
    browser = app_ctx.test_client(use_cookies=False)
    page = browser.get("/", headers={"Cookie": stolen})
    assert page.status_code == 200 and "Logg ut" not in text(page)
    assert browser.get("/api/v1/buildings", headers={"Cookie": stolen}).status_code == 200


def test_logging_in_again_ends_the_previous_session_of_the_cookie(app_ctx, client, make):
    member, other = make.member(), make.member()
    form_login(client, member.user.email)
    first = cookie_header(client)
    assert form_login(client, other.user.email).status_code == 303
    assert replay(app_ctx, first)[:2] == (303, 401)
    assert client.get("/api/v1/me").get_json()["email"] == other.user.email


def test_an_expired_session_is_refused_and_forgotten(app_ctx, client, make):
    member = make.member()
    form_login(client, member.user.email)
    assert client.get("/my").status_code == 200
    db.session.execute(
        update(WebSession)
        .where(WebSession.user_id == member.user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    page = client.get("/my")
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=")
    assert session_value(client, LOGIN_KEY) is None  # the dead pointer is dropped from the cookie
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401 and answer.mimetype == PROBLEM_JSON


def test_a_session_for_an_unknown_secret_is_anonymous(app_ctx, client, make):
    with client.session_transaction() as session:
        session[LOGIN_KEY] = "made-up-secret"
        session["user_id"] = make.admin().user.id  # the old cookie format counts for nothing
    assert client.get("/admin").status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_one_statement_finds_the_actor_of_a_page_session(app_ctx, client, make):
    """The session, the user and the scopes in one statement, as for API tokens: a request with
    the cookie sends as many statements as the same request with a bearer token."""
    member = make.member()
    log_in(client, member.user)
    path = "/api/v1/me"

    def statements(headers) -> list[str]:
        client.get(path, headers=headers)  # warm
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(path, headers=headers).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return seen

    by_cookie, by_token = statements({}), statements(member.headers)
    assert len(by_cookie) == len(by_token), (by_cookie, by_token)
    assert sum("web_sessions" in s for s in by_cookie) == 1
    assert not any("web_sessions" in s for s in by_token)


# --- password reset ----------------------------------------------------------------------------------


def test_a_password_reset_ends_every_earlier_session_and_logs_the_resetter_in(app_ctx, client, make):
    member = make.member()
    laptop, phone = app_ctx.test_client(), app_ctx.test_client()
    form_login(laptop, member.user.email)
    form_login(phone, member.user.email)
    cookies = [cookie_header(laptop), cookie_header(phone)]
    path = "/password-reset/" + accounts.link_token(member.user, "reset", utcnow())
    with_csrf(client)
    done = post(client, path, {"password": "a brand new secret", "password_again": "a brand new secret"})
    assert done.status_code == 303
    for cookie in cookies:
        assert replay(app_ctx, cookie)[:2] == (303, 401)
    assert client.get("/my").status_code == 200  # the session the reset started
    assert [s.ended_at is None for s in sessions_of(member.user)] == [False, False, True]
    assert client.get("/api/v1/me", headers=member.headers).status_code == 401  # tokens too


# --- a confirmed address before the first login -------------------------------------------------


def test_an_unconfirmed_user_gets_no_api_token_but_is_told_why_only_with_the_password(client, app_ctx):
    user = unconfirmed_user()
    wrong = client.post("/api/v1/tokens", json={"email": user.email, "password": "not the password"})
    unknown = client.post("/api/v1/tokens", json={"email": "nobody@example.test", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]
    refused = client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 403 and refused.mimetype == PROBLEM_JSON
    assert "follow the link in the confirmation mail" in refused.get_json()["detail"]
    token = accounts.link_token(user, "confirm", utcnow())
    assert client.post("/api/v1/email-confirmation", json={"token": token}).status_code == 204
    allowed = client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert allowed.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {allowed.get_json()['token']}"})
    assert me.status_code == 200 and me.get_json()["email_confirmed"] is True


def test_the_login_form_refuses_an_unconfirmed_user_and_mails_a_new_link(client, app_ctx):
    user = unconfirmed_user()
    before = confirmation_events()
    wrong = form_login(client, user.email, "not the password")
    assert wrong.status_code == 401 and "ikke bekreftet" not in text(wrong)
    assert confirmation_events() == before  # nothing for someone without the password
    page = form_login(client, user.email)
    assert page.status_code == 200 and session_value(client, LOGIN_KEY) is None
    assert "E-postadressen din er ikke bekreftet ennå" in text(page)
    assert f"Vi har sendt en ny lenke til {user.email}" in text(page)
    assert client.get("/my").status_code == 303
    assert sessions_of(user) == []
    assert confirmation_events() == before + 1
    form_login(client, user.email)
    assert confirmation_events() == before + 1  # at most one mail per five minutes
    path = "/confirm-email/" + accounts.link_token(user, "confirm", utcnow())
    with_csrf(client)
    assert post(client, path).status_code == 303
    done = form_login(client, user.email)
    assert done.status_code == 303 and done.headers["Location"] == "/my"
    assert client.get("/my").status_code == 200


@pytest.mark.parametrize("language,expected", [("en", "is not confirmed yet"), ("nb", "ikke bekreftet")])
def test_the_unconfirmed_message_is_in_the_pages_language(client, app_ctx, language, expected):
    user = unconfirmed_user()
    client.get(f"/?lang={language}")
    assert expected in text(form_login(client, user.email))


def test_users_an_admin_creates_are_confirmed_and_can_log_in_at_once(client, make):
    admin = make.admin()
    created = client.post(
        "/api/v1/users",
        json={"email": "ny@example.test", "name": "Ny", "role": "member", "password": PASSWORD},
        headers=admin.headers,
    )
    assert created.status_code == 201 and created.get_json()["active"] is True
    login = client.post("/api/v1/tokens", json={"email": "ny@example.test", "password": PASSWORD})
    assert login.status_code == 201


def test_the_session_cookie_carries_no_user_data(client, make):
    member = make.member()
    form_login(client, member.user.email)
    with client.session_transaction() as session:
        assert set(session) <= {LOGIN_KEY, "csrf_token", "lang", "_flashes"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_value(client, LOGIN_KEY))
