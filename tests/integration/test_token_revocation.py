"""Revoking API tokens (SPEC §13): a user lists their working tokens (no secrets), revokes one
(another device, a leaked token) or the one in hand; a revoked token is refused at once."""

from __future__ import annotations

import threading

from tests.integration.web_helpers import log_in


def token_for(client, login) -> str:
    answer = client.post(
        "/api/v1/tokens", json={"email": login.user.email, "password": "correct horse battery"}
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_user_lists_their_tokens_without_secrets_and_revokes_another(client, make):
    member = make.member()
    laptop, phone = token_for(client, member), token_for(client, member)
    listed = client.get("/api/v1/tokens", headers=bearer(laptop))
    assert listed.status_code == 200
    tokens = listed.get_json()
    assert len(tokens) == 3  # the factory's, the laptop's and the phone's
    assert [t["current"] for t in tokens] == [False, True, False]  # newest first: phone, laptop (this one)
    assert all(set(t) == {"id", "created_at", "expires_at", "current"} for t in tokens)
    assert laptop not in listed.get_data(as_text=True) and phone not in listed.get_data(as_text=True)
    phone_id = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=bearer(phone)).get_json() if t["current"]
    )
    assert client.delete(f"/api/v1/tokens/{phone_id}", headers=bearer(laptop)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(phone)).status_code == 401  # refused at once
    assert client.get("/api/v1/me", headers=bearer(laptop)).status_code == 200
    assert phone_id not in [t["id"] for t in client.get("/api/v1/tokens", headers=bearer(laptop)).get_json()]
    assert (
        client.delete(f"/api/v1/tokens/{phone_id}", headers=bearer(laptop)).status_code == 204
    )  # again: same


def test_another_users_token_is_not_found_and_keeps_working(client, make):
    member, other = make.member(), make.member()
    others_id = next(t["id"] for t in client.get("/api/v1/tokens", headers=other.headers).get_json())
    answer = client.delete(f"/api/v1/tokens/{others_id}", headers=member.headers)
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert client.get("/api/v1/me", headers=other.headers).status_code == 200
    assert client.delete("/api/v1/tokens/99999999", headers=member.headers).status_code == 404


def test_revoking_the_current_token_logs_the_client_out(client, make):
    member = make.member()
    token = token_for(client, member)
    assert client.delete("/api/v1/tokens/current", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=member.headers).status_code == 200  # the others stay
    log_in(client, member.user)  # a page session has no token to revoke
    answer = client.delete("/api/v1/tokens/current", headers={"X-CSRF-Token": "x"})
    assert answer.status_code in (403, 422)


def test_two_revocations_of_one_token_at_once_both_succeed(app, client, make):
    member = make.member()
    token = token_for(client, member)
    token_id = next(
        t["id"] for t in client.get("/api/v1/tokens", headers=bearer(token)).get_json() if t["current"]
    )
    barrier, answers = threading.Barrier(2), []

    def revoke() -> None:
        with app.test_client() as own:
            barrier.wait()
            answers.append(own.delete(f"/api/v1/tokens/{token_id}", headers=member.headers).status_code)

    threads = [threading.Thread(target=revoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [204, 204]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
