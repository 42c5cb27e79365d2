"""Rate limits on logging in: the API token endpoint and the login form share one budget per
client address; over it, 429 problem+json with Retry-After. The rest of the suite runs with the
limiter off (tests/integration/conftest.py); these tests build apps with it on."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from booking import create_app
from booking.config import load_config
from booking.errors import PROBLEM_JSON
from booking.extensions import db

PASSWORD = "correct horse battery"


_apps = []


def _limited_app(database_url, **config):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "RATELIMIT_ENABLED": True,
            "BOOKING_RATELIMIT_LOGIN": "3 per minute",
            **config,
        }
    )
    _apps.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_connections():
    """Each app made here has its own engine: close its connections when the test ends."""
    yield
    while _apps:
        with _apps.pop().app_context():
            db.session.remove()
            db.engine.dispose()


def _login(client, email, password, address="192.0.2.10"):
    return client.post(
        "/api/v1/tokens", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


@pytest.fixture
def member(make):
    return make.member()


def test_too_many_logins_get_429_problem_with_retry_after(app_ctx, database_url, member):
    client = _limited_app(database_url).test_client()
    for _ in range(3):
        response = _login(client, member.user.email, "wrong password")
        assert response.status_code == 401
        assert "Retry-After" not in response.headers  # only a 429 says when to come back
        assert response.headers["X-RateLimit-Limit"] == "3"
    refused = _login(client, member.user.email, PASSWORD)  # even the right password waits now
    assert refused.status_code == 429
    assert refused.mimetype == PROBLEM_JSON
    body = refused.get_json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert "login attempts" in body["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "token" not in body


def test_the_limit_is_per_client_address(app_ctx, database_url, member):
    client = _limited_app(database_url).test_client()
    for _ in range(4):
        _login(client, member.user.email, "wrong password", address="192.0.2.10")
    assert _login(client, member.user.email, "wrong password", address="192.0.2.10").status_code == 429
    fine = _login(client, member.user.email, PASSWORD, address="192.0.2.99")
    assert fine.status_code == 201 and fine.get_json()["token"]


def test_the_login_form_shares_the_budget(app_ctx, database_url, member):
    client = _limited_app(database_url).test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "known-token"
    form = {"email": member.user.email, "password": "wrong password", "csrf_token": "known-token"}
    for _ in range(2):
        assert client.post("/login", data=form, environ_base={"REMOTE_ADDR": "192.0.2.20"}).status_code == 401
    assert _login(client, member.user.email, "wrong password", address="192.0.2.20").status_code == 401
    page = client.post("/login", data=form, environ_base={"REMOTE_ADDR": "192.0.2.20"})
    assert page.status_code == 429
    assert page.headers["Retry-After"]
    assert _login(client, member.user.email, PASSWORD, address="192.0.2.20").status_code == 429


def test_other_endpoints_are_not_limited(app_ctx, database_url, member):
    client = _limited_app(database_url).test_client()
    for _ in range(10):
        assert client.get("/api/v1/me", headers=member.headers).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_switched_off_by_configuration(app_ctx, database_url, member):
    client = _limited_app(database_url, RATELIMIT_ENABLED=False).test_client()
    for _ in range(6):
        assert _login(client, member.user.email, "wrong password").status_code == 401


def test_configuration_comes_from_booking_environment_variables(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            "BOOKING_RATELIMIT_LOGIN": "5 per hour",
            "BOOKING_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/3",
            "BOOKING_RATELIMIT_ENABLED": "false",
            "BOOKING_TRUSTED_PROXIES": "1",
            "BOOKING_SECRET_KEY": "x",
        },
    )
    assert config["BOOKING_RATELIMIT_LOGIN"] == "5 per hour"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert config["RATELIMIT_ENABLED"] is False and config["BOOKING_TRUSTED_PROXIES"] == 1
    defaults = load_config(str(tmp_path), {"BOOKING_SECRET_KEY": "x"})
    assert defaults["RATELIMIT_STORAGE_URI"] == "memory://" and defaults["RATELIMIT_ENABLED"] is True


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app_ctx, database_url, member):
    client = _limited_app(database_url, BOOKING_TRUSTED_PROXIES=1).test_client()
    for i in range(5):  # five different clients behind one proxy address
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        response = client.post(
            "/api/v1/tokens",
            json={"email": member.user.email, "password": "wrong"},
            headers=headers,
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert response.status_code == 401


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


# CI provides Redis and sets BOOKING_TEST_REQUIRE_REDIS, so there the test cannot skip silently.
@pytest.mark.skipif(
    not _redis_up() and not os.environ.get("BOOKING_TEST_REQUIRE_REDIS"), reason="no Redis on 127.0.0.1:6379"
)
def test_redis_storage_is_shared_between_app_servers(app_ctx, database_url, member):
    prefix = f"booking-test-{uuid.uuid4().hex}"
    config = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = (_limited_app(database_url, **config).test_client() for _ in range(2))
    assert _login(first, member.user.email, "wrong").status_code == 401
    assert _login(second, member.user.email, "wrong").status_code == 401
    assert _login(first, member.user.email, "wrong").status_code == 401
    assert _login(second, member.user.email, PASSWORD).status_code == 429
