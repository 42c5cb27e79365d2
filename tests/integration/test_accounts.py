"""E-mail address confirmation, password reset by e-mail and the mail preferences (SPEC §12, §13):
signed links that expire, cannot be altered or swapped, and work once; answers that do not tell
whether an address has an account; outbox events in the request's transaction; preferences
only for one's own organisations and buildings; the pages for all of it."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from itsdangerous.encoding import base64_decode, base64_encode
from sqlalchemy import select

from booking import create_app
from booking.domain.errors import InvalidInput, StateConflict
from booking.errors import PROBLEM_JSON
from booking.extensions import begin_write_transaction, db, end_unit_of_work
from booking.models import ApiToken, Organization, OutboxEvent, User, janitor_buildings, memberships
from booking.models.types import utcnow
from booking.services import accounts
from booking.services.auth import authenticate_password
from tests.integration.factories import org_number
from tests.integration.web_helpers import log_in, post, text, with_csrf

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret phrase"


def events(kind: str) -> list[OutboxEvent]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id)
        ).scalars()
    )


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def reset_token(user, issued_at=None) -> str:
    return accounts.link_token(user, accounts.RESET, issued_at or utcnow())


def confirm_token(user, issued_at=None) -> str:
    return accounts.link_token(user, accounts.CONFIRM, issued_at or utcnow())


def fresh(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def assert_invalid_link(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["type"].endswith("/invalid-link")


@pytest.fixture
def member(make):
    return make.member()


# --- links -----------------------------------------------------------------------------------


def test_links_are_absolute_deterministic_and_lead_back_to_the_user(app_ctx, member):
    issued = utcnow()
    confirm = accounts.mail_link(member.user, "confirm", issued)
    reset = accounts.mail_link(member.user, "reset", issued)
    assert confirm.startswith("http://booking.test/confirm-email/")
    assert reset.startswith("http://booking.test/password-reset/")
    # A mail rendered twice (a retry of the worker) carries the same link.
    assert accounts.mail_link(member.user, "confirm", issued) == confirm
    assert accounts.mail_link(member.user, "reset", issued) == reset
    assert accounts.user_for_link(token_of(confirm), "confirm").id == member.user.id
    assert accounts.user_for_link(token_of(reset), "reset").id == member.user.id
    assert accounts.mail_link(member.user, "reset", issued + timedelta(seconds=1)) != reset


def test_links_start_with_the_local_address_without_a_public_url(app_ctx, member, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "BOOKING_PUBLIC_URL", "")
    assert accounts.mail_link(member.user, "confirm", utcnow()).startswith(
        "http://127.0.0.1:8000/confirm-email/"
    )


@pytest.mark.parametrize(
    "purpose,fine,stale",
    [
        ("confirm", timedelta(hours=47, minutes=59), timedelta(hours=48, minutes=1)),
        ("reset", timedelta(minutes=59), timedelta(minutes=61)),
    ],
)
def test_links_expire_counted_from_when_they_were_issued(client, member, purpose, fine, stale):
    now = utcnow()
    assert accounts.user_for_link(accounts.link_token(member.user, purpose, now - fine), purpose)
    with pytest.raises(accounts.InvalidLink) as refused:
        accounts.user_for_link(accounts.link_token(member.user, purpose, now - stale), purpose)
    assert refused.value.expired
    old = accounts.link_token(member.user, purpose, now - stale)
    if purpose == "confirm":
        assert_invalid_link(client.post("/api/v1/email-confirmation", json={"token": old}))
    else:
        answer = client.post("/api/v1/password-reset/confirm", json={"token": old, "password": NEW_PASSWORD})
        assert_invalid_link(answer)
        assert authenticate_password(member.user.email, PASSWORD)


def test_a_link_from_the_future_is_refused(app_ctx, member):
    with pytest.raises(accounts.InvalidLink):
        accounts.user_for_link(confirm_token(member.user, utcnow() + timedelta(hours=1)), "confirm")


def test_altered_or_foreign_tokens_are_refused(client, make, member, app_ctx):
    token = reset_token(member.user)
    payload, signature = token.rsplit(".", 1)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    # Someone else's id in the payload, under this token's signature.
    _, issued, fingerprint = json.loads(base64_decode(payload))
    victim = make.member().user
    swapped = base64_encode(json.dumps([victim.id, issued, fingerprint]).encode()).decode() + "." + signature
    with pytest.MonkeyPatch.context() as patch:  # signed by another installation
        patch.setitem(app_ctx.config, "SECRET_KEY", "another secret")
        foreign = accounts.link_token(member.user, "reset", utcnow())
    for bad in (
        payload + "." + flipped,
        swapped,
        payload[:-1] + "." + signature,
        foreign,
        "nonsense",
        "a.b.c",
    ):
        answer = client.post("/api/v1/password-reset/confirm", json={"token": bad, "password": NEW_PASSWORD})
        assert_invalid_link(answer)
    assert authenticate_password(member.user.email, PASSWORD)
    assert authenticate_password(victim.email, PASSWORD)


def test_a_link_for_one_purpose_is_no_link_for_the_other(client, member):
    confirm, reset = confirm_token(member.user), reset_token(member.user)
    answer = client.post("/api/v1/password-reset/confirm", json={"token": confirm, "password": NEW_PASSWORD})
    assert_invalid_link(answer)
    assert_invalid_link(client.post("/api/v1/email-confirmation", json={"token": reset}))
    with pytest.raises(accounts.InvalidLink):
        accounts.user_for_link(confirm, "reset")


def test_links_of_an_inactive_user_are_refused(client, member):
    token = reset_token(member.user)
    member.user.active = False
    db.session.commit()
    assert_invalid_link(
        client.post("/api/v1/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    )


# --- password reset --------------------------------------------------------------------------


def test_reset_sets_the_password_once_and_revokes_the_api_tokens(client, member):
    older = reset_token(member.user, utcnow() - timedelta(minutes=10))
    assert client.post("/api/v1/password-reset", json={"email": member.user.email}).status_code == 202
    [event] = events("password_reset")
    assert event.params == {"user_id": member.user.id}
    token = token_of(accounts.mail_link(member.user, "reset", event.created_at))
    answer = client.post("/api/v1/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 204 and answer.get_data() == b""
    login = client.post("/api/v1/tokens", json={"email": member.user.email, "password": NEW_PASSWORD})
    assert login.status_code == 201
    assert (
        client.post("/api/v1/tokens", json={"email": member.user.email, "password": PASSWORD}).status_code
        == 401
    )
    # The old bearer token is revoked, the new one works.
    assert client.get("/api/v1/me", headers=member.headers).status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {login.get_json()['token']}"}).status_code
        == 200
    )
    # The link worked once; so did every reset link sent before it.
    for used in (token, older):
        again = client.post(
            "/api/v1/password-reset/confirm", json={"token": used, "password": "yet another secret"}
        )
        assert_invalid_link(again)
    assert authenticate_password(member.user.email, NEW_PASSWORD)
    live = db.session.execute(
        select(ApiToken.id).where(ApiToken.user_id == member.user.id, ApiToken.revoked_at.is_(None))
    ).all()
    assert len(live) == 1  # the token of the new login


def test_two_uses_of_one_reset_link_at_once_set_one_password(app_ctx, member):
    """The second use waits for the first (the user's row is locked; on SQLite the write
    transaction) and then finds the link used; without the lock both would succeed."""
    token = reset_token(member.user)
    db.session.commit()
    first_holds_the_lock, outcome = threading.Event(), {}

    def use(name: str, password: str, hold: bool) -> None:
        with app_ctx.app_context():
            try:
                if not hold:
                    first_holds_the_lock.wait(10)
                begin_write_transaction()
                try:
                    accounts.reset_password(token, password)
                    outcome[name] = "reset"
                except accounts.InvalidLink:
                    outcome[name] = "refused"
                if hold:
                    first_holds_the_lock.set()
                    time.sleep(0.5)  # the other use starts meanwhile and has to wait
                end_unit_of_work(succeeded=outcome[name] == "reset")
            finally:
                first_holds_the_lock.set()
                db.session.remove()

    threads = [
        threading.Thread(target=use, args=("first", NEW_PASSWORD, True)),
        threading.Thread(target=use, args=("second", "the other new password", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == {"first": "reset", "second": "refused"}
    db.session.expire_all()
    assert authenticate_password(member.user.email, NEW_PASSWORD)


def test_reset_needs_a_password_of_ten_characters(client, member):
    token = reset_token(member.user)
    answer = client.post("/api/v1/password-reset/confirm", json={"token": token, "password": "short"})
    assert answer.status_code == 422 and "password" in answer.get_json()["errors"]
    with pytest.raises(InvalidInput):
        accounts.reset_password(token, "short")
    assert authenticate_password(member.user.email, PASSWORD)
    # The link still works after a refused attempt.
    assert (
        client.post(
            "/api/v1/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        ).status_code
        == 204
    )


def test_a_reset_confirms_an_unconfirmed_address(client, member):
    member.user.email_confirmed_at = None
    db.session.commit()
    token = reset_token(member.user)
    assert (
        client.post(
            "/api/v1/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        ).status_code
        == 204
    )
    assert fresh(member.user).email_confirmed_at is not None


def test_asking_for_a_reset_does_not_tell_whether_there_is_an_account(client, make, member):
    inactive = make.member()
    inactive.user.active = False
    db.session.commit()
    known = client.post("/api/v1/password-reset", json={"email": member.user.email.upper()})
    unknown = client.post("/api/v1/password-reset", json={"email": "nobody@example.test"})
    gone = client.post("/api/v1/password-reset", json={"email": inactive.user.email})
    assert known.status_code == unknown.status_code == gone.status_code == 202
    assert known.get_data() == unknown.get_data() == gone.get_data()
    assert [e.params["user_id"] for e in events("password_reset")] == [member.user.id]
    bad = client.post("/api/v1/password-reset", json={"email": "not an address"})
    assert bad.status_code == 422 and bad.mimetype == PROBLEM_JSON


def test_reset_requests_share_the_login_budget(app_ctx, database_url, member):
    limited = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "RATELIMIT_ENABLED": True,
            "BOOKING_RATELIMIT_LOGIN": "3 per minute",
        }
    )
    try:
        client = limited.test_client()
        address = {"REMOTE_ADDR": "192.0.2.30"}
        with client.session_transaction() as session:
            session["csrf_token"] = "known-token"
        for _ in range(2):
            answer = client.post(
                "/api/v1/password-reset", json={"email": "x@example.test"}, environ_base=address
            )
            assert answer.status_code == 202
        page = client.post(
            "/password-reset",
            data={"email": "x@example.test", "csrf_token": "known-token"},
            environ_base=address,
        )
        assert page.status_code == 200
        refused = client.post(
            "/api/v1/password-reset", json={"email": "x@example.test"}, environ_base=address
        )
        assert refused.status_code == 429 and refused.headers["Retry-After"]
        login = client.post(
            "/api/v1/tokens", json={"email": member.user.email, "password": PASSWORD}, environ_base=address
        )
        assert login.status_code == 429
    finally:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


# --- registration and confirmation -----------------------------------------------------------


def registration(n: int, **extra) -> dict:
    return {
        "name": f"Lag {n}",
        "org_number": org_number(900 + n),
        "contact_name": "Kari",
        "email": f"kari{n}@example.test",
        "phone": "+47 400 00 000",
        **extra,
    }


def test_registration_makes_an_unconfirmed_account_and_mails_the_link(client):
    answer = client.post("/api/v1/organizations", json=registration(1, password=PASSWORD))
    assert answer.status_code == 201
    user = db.session.execute(select(User).where(User.email == "kari1@example.test")).scalar_one()
    assert user.email_confirmed_at is None and user.language == "nb"
    [event] = events("email_confirmation")
    assert event.params == {"user_id": user.id}
    login = client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 403  # SPEC §13: no login before the address is confirmed
    token = token_of(accounts.mail_link(user, "confirm", event.created_at))
    assert client.post("/api/v1/email-confirmation", json={"token": token}).status_code == 204
    confirmed_at = fresh(user).email_confirmed_at
    assert confirmed_at is not None
    assert client.post("/api/v1/email-confirmation", json={"token": token}).status_code == 204  # harmless
    assert fresh(user).email_confirmed_at == confirmed_at
    login = client.post("/api/v1/tokens", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 201
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["email_confirmed"] is True


def test_registration_without_an_account_mails_nothing(client):
    assert client.post("/api/v1/organizations", json=registration(2)).status_code == 201
    assert events("email_confirmation") == []


def test_a_failing_request_leaves_no_outbox_row(client, monkeypatch):
    from booking.services import organizations

    def emit_then_fail(kind, **params):
        organizations_emit(kind, **params)
        raise StateConflict("Something after the event failed.")

    organizations_emit = organizations.emit
    monkeypatch.setattr(organizations, "emit", emit_then_fail)
    answer = client.post("/api/v1/organizations", json=registration(3, password=PASSWORD))
    assert answer.status_code == 409
    assert events("email_confirmation") == []
    assert db.session.execute(select(User).where(User.email == "kari3@example.test")).first() is None
    assert db.session.execute(select(Organization).where(Organization.name == "Lag 3")).first() is None


def test_users_an_admin_makes_are_confirmed(client, make):
    admin = make.admin()
    assert fresh(admin.user).email_confirmed_at is not None
    answer = client.post(
        "/api/v1/users",
        json={"email": "new@example.test", "name": "Ny", "role": "member", "password": PASSWORD},
        headers=admin.headers,
    )
    assert answer.status_code == 201
    user = db.session.execute(select(User).where(User.email == "new@example.test")).scalar_one()
    assert user.email_confirmed_at is not None and events("email_confirmation") == []


# --- preferences -----------------------------------------------------------------------------


def test_me_shows_language_confirmation_and_mail_choices(client, make):
    organization = make.organization(name="Korpset")
    member = make.member(organization)
    body = client.get("/api/v1/me", headers=member.headers).get_json()
    assert body["id"] == member.user.id and body["email"] == member.user.email and body["role"] == "member"
    assert body["language"] == "nb" and body["email_confirmed"] is True
    assert body["organizations"] == [{"id": organization.id, "name": "Korpset"}]  # as before
    assert body["mail"]["organizations"] == [{"id": organization.id, "name": "Korpset", "booking_mail": True}]
    assert body["mail"]["buildings"] == []
    building = make.building(name="Skolen")
    janitor = make.janitor(building)
    assert client.get("/api/v1/me", headers=janitor.headers).get_json()["mail"]["buildings"] == [
        {"id": building.id, "name": "Skolen", "morning_sheet": False}
    ]


def test_language_of_mails(client, member):
    answer = client.patch("/api/v1/me", json={"language": "en"}, headers=member.headers)
    assert answer.status_code == 200 and answer.get_json()["language"] == "en"
    assert fresh(member.user).language == "en"
    assert client.patch("/api/v1/me", json={}, headers=member.headers).get_json()["language"] == "en"
    for bad in ({"language": "de"}, {"language": None}, {"email": "x@example.test"}):
        refused = client.patch("/api/v1/me", json=bad, headers=member.headers)
        assert refused.status_code == 422 and refused.mimetype == PROBLEM_JSON
    assert client.patch("/api/v1/me", json={"language": "nb"}).status_code == 401


def _booking_mail(user, organization) -> bool:
    db.session.expire_all()
    return db.session.execute(
        select(memberships.c.booking_mail).where(
            memberships.c.user_id == user.id, memberships.c.organization_id == organization.id
        )
    ).scalar_one()


def test_booking_mail_only_for_ones_own_organisations(client, make):
    organization, other = make.organization(), make.organization()
    member = make.member(organization)
    path = f"/api/v1/me/organizations/{organization.id}"
    answer = client.patch(path, json={"booking_mail": False}, headers=member.headers)
    assert answer.status_code == 200
    assert answer.get_json() == {"id": organization.id, "name": organization.name, "booking_mail": False}
    assert _booking_mail(member.user, organization) is False
    assert (
        client.get("/api/v1/me", headers=member.headers).get_json()["mail"]["organizations"][0][
            "booking_mail"
        ]
        is False
    )
    assert client.patch(path, json={"booking_mail": True}, headers=member.headers).get_json()["booking_mail"]
    assert _booking_mail(member.user, organization) is True
    forbidden = client.patch(
        f"/api/v1/me/organizations/{other.id}", json={"booking_mail": False}, headers=member.headers
    )
    assert forbidden.status_code == 403 and forbidden.mimetype == PROBLEM_JSON
    missing = client.patch(
        "/api/v1/me/organizations/999999", json={"booking_mail": False}, headers=member.headers
    )
    assert missing.status_code == 404
    assert client.patch(path, json={"booking_mail": False}, headers=make.admin().headers).status_code == 403
    assert client.patch(path, json={"booking_mail": False}).status_code == 401
    for bad in ({}, {"booking_mail": "maybe"}, {"booking_mail": None}):
        assert client.patch(path, json=bad, headers=member.headers).status_code == 422
    assert _booking_mail(member.user, organization) is True


def test_morning_sheet_only_for_ones_own_buildings(client, make):
    building, other = make.building(), make.building()
    janitor = make.janitor(building)
    path = f"/api/v1/me/buildings/{building.id}"
    answer = client.patch(path, json={"morning_sheet": True}, headers=janitor.headers)
    assert answer.status_code == 200
    assert answer.get_json() == {"id": building.id, "name": building.name, "morning_sheet": True}
    db.session.expire_all()
    assert db.session.execute(
        select(janitor_buildings.c.morning_sheet).where(janitor_buildings.c.user_id == janitor.user.id)
    ).scalar_one()
    assert (
        client.patch(
            f"/api/v1/me/buildings/{other.id}", json={"morning_sheet": True}, headers=janitor.headers
        ).status_code
        == 403
    )
    assert (
        client.patch(
            "/api/v1/me/buildings/999999", json={"morning_sheet": True}, headers=janitor.headers
        ).status_code
        == 404
    )
    assert client.patch(path, json={"morning_sheet": True}, headers=make.member().headers).status_code == 403
    assert (
        client.patch(path, json={"morning_sheet": "yes please"}, headers=janitor.headers).status_code == 422
    )


# --- pages -----------------------------------------------------------------------------------


def test_the_login_page_links_to_the_password_reset(client):
    page = client.get("/login?email=kari@example.test")
    assert 'href="/password-reset?email=kari@example.test"' in page.get_data(as_text=True)
    assert "Glemt passordet?" in text(page)


def test_password_reset_pages(client, member):
    with_csrf(client)
    form = client.get(f"/password-reset?email={member.user.email}")
    assert form.status_code == 200 and 'name="csrf_token"' in form.get_data(as_text=True)
    assert 'autocomplete="email"' in form.get_data(as_text=True)
    sent = post(client, "/password-reset", {"email": member.user.email})
    assert sent.status_code == 200
    assert "Hvis det finnes en konto med adressen" in text(sent)
    unknown = post(client, "/password-reset", {"email": "nobody@example.test"})
    assert unknown.status_code == 200
    assert text(unknown).replace("nobody@example.test", "X") == text(sent).replace(member.user.email, "X")
    [event] = events("password_reset")
    assert event.params == {"user_id": member.user.id}
    wrong = post(client, "/password-reset", {"email": "not an address"})
    assert wrong.status_code == 422 and "Skriv en gyldig e-postadresse." in text(wrong)
    assert (
        client.post("/password-reset", data={"email": member.user.email}).status_code == 400
    )  # no CSRF token

    path = "/password-reset/" + token_of(accounts.mail_link(member.user, "reset", event.created_at))
    choose = client.get(path)
    assert choose.status_code == 200 and choose.headers["Cache-Control"] == "no-store"
    assert "Velg nytt passord" in text(choose) and 'autocomplete="new-password"' in choose.get_data(
        as_text=True
    )
    differ = post(client, path, {"password": NEW_PASSWORD, "password_again": "something else"})
    assert differ.status_code == 422 and "De to passordene er ulike." in text(differ)
    short = post(client, path, {"password": "short", "password_again": "short"})
    assert short.status_code == 422
    done = post(client, path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/my"
    assert authenticate_password(member.user.email, NEW_PASSWORD)
    assert client.get("/my").status_code == 200  # logged in
    used = client.get(path)
    assert used.status_code == 400 and "Lenken er ikke gyldig, eller den er brukt allerede." in text(used)
    assert post(client, path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}).status_code == 400


def test_an_expired_reset_link_page_offers_a_new_link(client, member):
    path = "/password-reset/" + reset_token(member.user, utcnow() - timedelta(hours=2))
    page = client.get(path)
    assert page.status_code == 400 and "Lenken er utløpt." in text(page)
    assert 'href="/password-reset"' in page.get_data(as_text=True)


def _register_on_the_page(client, n: int, **session_values):
    with_csrf(client)
    if session_values:
        with client.session_transaction() as session:
            session.update(session_values)
    data = registration(n, password=PASSWORD, password_again=PASSWORD)
    done = post(client, "/register", data)
    assert done.status_code == 200, text(done)
    # Not logged in (SPEC §13): the address is confirmed first.
    assert "Sjekk e-posten din" in text(done) or "Check your e-mail" in text(done)
    assert client.get("/my").status_code == 303
    return db.session.execute(select(User).where(User.email == data["email"])).scalar_one()


def test_confirming_on_the_page_takes_a_button_press(client):
    user = _register_on_the_page(client, 4)
    assert user.email_confirmed_at is None and user.language == "nb"
    [event] = events("email_confirmation")
    path = "/confirm-email/" + token_of(accounts.mail_link(user, "confirm", event.created_at))
    page = client.get(path)
    assert page.status_code == 200 and user.email in text(page)
    assert fresh(user).email_confirmed_at is None  # a GET (a mail scanner) changes nothing
    done = post(client, path)
    assert done.status_code == 303 and done.headers["Location"].startswith("/login?email=")
    assert fresh(user).email_confirmed_at is not None
    assert "er bekreftet" in text(client.get("/login"))
    log_in(client, user)
    assert "Bekreft e-postadressen din" not in text(client.get("/my"))
    again = client.get(path)
    assert again.status_code == 200 and "er allerede bekreftet" in text(again)


def test_a_bad_confirmation_link_is_explained(client, member):
    page = client.get("/confirm-email/nonsense")
    assert page.status_code == 400 and "Lenken er ikke gyldig" in text(page)
    with_csrf(client)
    assert post(client, "/confirm-email/nonsense").status_code == 400
    stale = confirm_token(member.user, utcnow() - timedelta(days=3))
    assert "Lenken er utløpt." in text(client.get(f"/confirm-email/{stale}"))


def test_registering_in_english_gives_english_mails(client):
    user = _register_on_the_page(client, 5, lang="en")
    assert user.language == "en"


def test_a_new_confirmation_link_from_my_page(client):
    user = _register_on_the_page(client, 6)
    log_in(client, user)  # a session from before the address had to be confirmed
    assert post(client, "/my/confirm-email").status_code == 303
    assert [e.params["user_id"] for e in events("email_confirmation")] == [user.id, user.id]
    assert "Vi har sendt en ny lenke" in text(client.get("/my"))


def test_booking_mail_and_language_on_my_page(client, make):
    organization, other = make.organization(name="Korpset"), make.organization()
    member = make.member(organization)
    log_in(client, member.user)
    page = client.get("/my").get_data(as_text=True)
    assert f'id="booking-mail-{organization.id}" name="booking_mail" value="on" checked' in page
    assert 'id="mail-language-nb" name="language" value="nb" checked' in page
    off = post(client, f"/my/organizations/{organization.id}/mail", {})
    assert off.status_code == 303 and off.headers["Location"].endswith(f"/my#mail-{organization.id}")
    assert _booking_mail(member.user, organization) is False
    page = client.get("/my")
    assert "Du får ikke lenger e-post om bookingene til Korpset." in text(page)
    assert f'id="booking-mail-{organization.id}" name="booking_mail" value="on">' in page.get_data(
        as_text=True
    )
    assert (
        post(client, f"/my/organizations/{organization.id}/mail", {"booking_mail": "on"}).status_code == 303
    )
    assert _booking_mail(member.user, organization) is True
    assert post(client, f"/my/organizations/{other.id}/mail", {"booking_mail": "on"}).status_code == 403
    english = post(client, "/my/language", {"language": "en", "next": "/my#mail-language"})
    assert english.status_code == 303 and english.headers["Location"] == "/my#mail-language"
    assert fresh(member.user).language == "en"
    assert post(client, "/my/language", {"language": "xx"}).status_code == 422
    assert (
        post(client, "/my/language", {"language": "nb", "next": "https://evil.test/"}).headers["Location"]
        == "/my"
    )


def test_morning_sheet_toggle_on_the_janitor_page(client, make):
    building, other = make.building(name="Skolen"), make.building()
    janitor = make.janitor(building, other)
    log_in(client, janitor.user)
    page = client.get(f"/janitor/{building.id}")
    html = page.get_data(as_text=True)
    assert 'id="morning-sheet" name="morning_sheet" value="on">' in html
    assert "Send meg morgendagens dagsliste for Skolen hver morgen" in text(page)
    done = post(client, f"/janitor/{building.id}/morning-sheet", {"morning_sheet": "on"})
    assert done.status_code == 303 and done.headers["Location"].endswith(
        f"/janitor/{building.id}#mail-settings"
    )
    choices = {b.id: b.morning_sheet for b in accounts.building_mail(janitor.user.id)}
    assert choices == {building.id: True, other.id: False}
    assert 'id="morning-sheet" name="morning_sheet" value="on" checked' in client.get(
        f"/janitor/{building.id}"
    ).get_data(as_text=True)
    stranger = make.building()
    assert post(client, f"/janitor/{stranger.id}/morning-sheet", {"morning_sheet": "on"}).status_code == 403
    admin = make.admin()
    log_in(client, admin.user)
    assert 'name="morning_sheet"' not in client.get(f"/janitor/{building.id}").get_data(as_text=True)
