"""Self-registration (SPEC §13): an anonymous registration answers the same whether or not the
organisation number or the address is registered already, and the address gets a mail instead;
it is rate-limited with logging in; the register's facts and name win over what was typed; two
registrations of one number or address at once end with one organisation and no error; the page
logs nobody in."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from booking import create_app
from booking.extensions import db
from booking.mail.content import render_content
from booking.mail.worker import expand_events
from booking.models import Organization, OutboxEvent, OutboxMessage, RegistryUnit, User, memberships
from booking.services import organizations
from tests.integration.factories import org_number
from tests.integration.registration_helpers import confirm_address
from tests.integration.test_openapi_contract import _body_schema, _errors, assert_documented
from tests.integration.web_helpers import log_in, post, text, with_csrf

PASSWORD = "correct horse battery"
MUNICIPALITY = "3201"  # the test app's BOOKING_MUNICIPALITY_NUMBER (the default, Bærum)
NUMBER = org_number(4242)
ADDRESS = "styret@koret.test"


def registration(**extra) -> dict:
    data = {
        "name": "Bekkestua Skolekorps",
        "org_number": NUMBER,
        "contact_name": "Kari Nordmann",
        "email": ADDRESS,
        "phone": "+47 400 00 000",
        "voluntary": True,
        "local": True,
        "youth_activity": True,
        "password": PASSWORD,
    }
    data.update(extra)
    return data


def receipt_of(data: dict, register: dict | None = None) -> dict:
    """The answer an anonymous registration of ``data`` must give, worked out from the input
    (and the register) alone: nothing in it may depend on what is registered."""
    facts = {
        key: data.get(key, False)
        for key in (
            "voluntary",
            "non_profit",
            "local",
            "registered_in_frivillighetsregisteret",
            "youth_activity",
        )
    }
    return {
        "org_number": data["org_number"],
        "name": data["name"],
        "stated_name": data["name"],
        "contact_name": data["contact_name"],
        "email": data["email"],
        "phone": data["phone"],
        **facts,
        "proposed_category": "reduced",
        "price_category": "reduced",
        "effective_category": "full",
        "verified": False,
        "register": register,
    }


def counts() -> dict:
    db.session.commit()  # a new snapshot (SQLite keeps a read transaction's)
    return {
        "organizations": db.session.scalar(select(func.count()).select_from(Organization)),
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "memberships": db.session.scalar(select(func.count()).select_from(memberships)),
    }


def events(kind: str | None = None) -> list[OutboxEvent]:
    db.session.commit()
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if kind:
        query = query.where(OutboxEvent.kind == kind)
    return list(db.session.scalars(query))


def answer_shape(response) -> tuple:
    """What a client can tell an answer by: status, headers that vary with the content, body."""
    headers = {k: v for k, v in response.headers.items() if k not in ("Date", "Server")}
    return response.status_code, headers, response.get_data()


def make_taken(make, taken: str) -> None:
    """Register what ``taken`` names before the registration under test."""
    if taken in ("email", "both"):
        make.user(email=ADDRESS, name="Kari Medlem")
    if taken in ("org_number", "both"):
        make.organization(org_number=NUMBER, name="Bekkestua Skolekorps", email="leder@korpset.test")
    db.session.execute(delete(OutboxEvent))  # the verification's mail
    db.session.commit()


def register_unit(**overrides) -> RegistryUnit:
    values = {
        "org_number": NUMBER,
        "name": "BEKKESTUA SKOLEKORPS",
        "form_code": "FLI",
        "form_description": "Forening/lag/innretning",
        "municipality_number": MUNICIPALITY,
        "municipality": "BÆRUM",
        "in_frivillighetsregisteret": True,
        "bankrupt": False,
        "under_liquidation": False,
        "deleted_on": None,
        "imported_at": datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
    }
    values.update(overrides)
    unit = RegistryUnit(**values)
    db.session.add(unit)
    db.session.commit()
    return unit


# --- the same answer whatever is registered -------------------------------------------------------


@pytest.mark.parametrize("taken", ["nothing", "email", "org_number", "both"])
def test_an_anonymous_registration_answers_the_same_whatever_is_registered(client, make, taken):
    make_taken(make, taken)
    before = counts()
    answer = client.post("/api/v1/organizations", json=registration())
    assert answer.status_code == 201
    assert answer.mimetype == "application/json" and "Location" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    assert answer.get_json() == receipt_of(registration())  # no id: nothing to tell apart
    after = counts()
    if taken == "nothing":
        assert after == {key: value + 1 for key, value in before.items()}
        assert [e.kind for e in events()] == ["email_confirmation"]
    else:
        assert after == before  # nothing created
        (event,) = events()
        reasons = {"email": ["email_taken"], "org_number": ["org_number_taken"]}.get(
            taken, ["email_taken", "org_number_taken"]
        )
        assert (event.kind, event.params) == (
            "registration_attempt",
            {"email": ADDRESS, "reasons": reasons, "org_number": NUMBER, "language": "nb"},
        )


def test_a_second_registration_gets_the_very_same_answer_as_the_first(client):
    first = client.post("/api/v1/organizations", json=registration())
    again = client.post("/api/v1/organizations", json=registration())
    assert answer_shape(first) == answer_shape(again)
    other_number = client.post("/api/v1/organizations", json=registration(org_number=org_number(4243)))
    assert other_number.status_code == 201  # the address is taken now: a mail, not an account
    assert counts()["organizations"] == 1


@pytest.mark.parametrize("taken", ["nothing", "email", "org_number", "both"])
def test_the_password_is_hashed_whatever_is_registered(client, make, monkeypatch, taken):
    """The scrypt hash is most of the time an answer takes: it is made on every path."""
    make_taken(make, taken)
    calls = []
    real = organizations.hash_password
    monkeypatch.setattr(organizations, "hash_password", lambda password: calls.append(1) or real(password))
    assert client.post("/api/v1/organizations", json=registration()).status_code == 201
    assert calls == [1]


def test_without_a_password_nobody_gets_an_account_and_the_answer_is_the_same(client, make):
    data = registration()
    del data["password"]
    fresh = client.post("/api/v1/organizations", json=data)
    assert fresh.get_json() == receipt_of(data)
    assert counts() == {"organizations": 1, "users": 0, "memberships": 0}
    assert events() == []  # no account: no link to confirm
    again = client.post("/api/v1/organizations", json=dict(data, email="andre@example.test"))
    assert again.status_code == 201 and counts()["organizations"] == 1
    (event,) = events()
    assert event.params["reasons"] == ["org_number_taken"] and event.params["email"] == "andre@example.test"
    # An address that is a user's is not taken by a registration that asks for no account.
    make.user(email="medlem@example.test")
    before = counts()
    client.post(
        "/api/v1/organizations", json=dict(data, org_number=org_number(4244), email="medlem@example.test")
    )
    assert counts()["organizations"] == before["organizations"] + 1


def test_a_mail_about_a_refused_registration_at_most_every_five_minutes_per_address(client, make):
    make_taken(make, "org_number")
    for _ in range(4):
        assert client.post("/api/v1/organizations", json=registration()).status_code == 201
    assert len(events("registration_attempt")) == 1
    client.post("/api/v1/organizations", json=registration(email="Noen.Andre@Example.test"))
    assert [e.params["email"] for e in events("registration_attempt")] == [ADDRESS, "noen.andre@example.test"]


def test_a_logged_in_member_gets_the_organisation_and_a_taken_number_is_409(client, make):
    member = make.member()
    created = client.post("/api/v1/organizations", json=registration(), headers=member.headers)
    assert created.status_code == 201
    body = created.get_json()
    assert body["id"] and "register" not in body and body["name"] == "Bekkestua Skolekorps"
    db.session.expire_all()
    assert sorted(o.id for o in db.session.get(User, member.user.id).organizations) == sorted(
        [member.user.organizations[0].id, body["id"]]
    )
    again = client.post("/api/v1/organizations", json=registration(), headers=make.member().headers)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert events("registration_attempt") == []


def test_a_member_of_only_unverified_or_rejected_organisations_registers_no_further_one(client, make):
    """Anyone can become such a member; the 409 would tell them which numbers are registered, and a
    rejected organisation would carry on under a new number."""
    unverified = make.member(make.organization(verified=False))
    refused = client.post("/api/v1/organizations", json=registration(), headers=unverified.headers)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    admin = make.admin()
    verified_org = make.organization()
    rejected = make.member(verified_org)
    answer = client.post(f"/api/v1/organizations/{verified_org.id}/reject", headers=admin.headers)
    assert answer.status_code == 200
    again = client.post("/api/v1/organizations", json=registration(), headers=rejected.headers)
    assert again.status_code == 403
    assert counts()["organizations"] == 2 and events("registration_attempt") == []


def test_both_answers_match_the_documented_201(client, make):
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = _body_schema(spec, "/api/v1/organizations", "post", "201", "application/json")
    assert [branch["$ref"].rsplit("/", 1)[1] for branch in schema["oneOf"]] == [
        "Organization",
        "RegistrationReceipt",
    ]
    register_unit()
    receipt = client.post("/api/v1/organizations", json=registration())
    organization = client.post(
        "/api/v1/organizations", json=registration(org_number=org_number(4245)), headers=make.member().headers
    )
    for answer in (receipt, organization):
        assert answer.status_code == 201, answer.get_data(as_text=True)
        assert_documented(spec, schema, answer.get_json())
    assert _errors(spec, {"$ref": "#/components/schemas/Organization"}, receipt.get_json())
    assert _errors(spec, {"$ref": "#/components/schemas/RegistrationReceipt"}, organization.get_json())


# --- the mail the address gets -------------------------------------------------------------------------


def rendered(language_of_user: str | None = None) -> dict:
    """The registration_attempt messages, expanded as the worker does and rendered."""
    db.session.commit()
    expand_events()
    db.session.expire_all()
    messages = db.session.scalars(
        select(OutboxMessage)
        .join(OutboxEvent)
        .where(OutboxEvent.kind == "registration_attempt")
        .order_by(OutboxMessage.id)
    ).all()
    return {m.recipient: (m, render_content(m.event, m)) for m in messages}


def test_a_taken_address_is_told_to_log_in_or_reset_the_password(client, make):
    make.user(email=ADDRESS, name="Kari Medlem", language="en")
    assert client.post("/api/v1/organizations", json=registration()).status_code == 201
    ((message, content),) = rendered().values()
    assert (message.recipient, message.name, message.language) == (ADDRESS, "Kari Medlem", "en")
    assert content.subject == "Your registration was not completed"
    assert "Hello Kari Medlem," in content.text
    assert "You have an account with this e-mail address already." in content.text
    assert "http://booking.test/login?email=styret@koret.test" in content.text
    assert "http://booking.test/password-reset?email=styret@koret.test" in content.text
    assert 'href="http://booking.test/password-reset?email=styret@koret.test"' in content.html
    assert "is registered with us already" not in content.text
    assert "nothing has been changed" in content.text


def test_a_taken_number_is_told_with_the_registered_name_and_nothing_typed(client, make):
    make.organization(org_number=NUMBER, name="Bekkestua Skolekorps", email="leder@korpset.test")
    hostile = registration(
        email="noen@example.test", contact_name="Betal her: https://evil.test", name="<b>x</b>"
    )
    assert client.post("/api/v1/organizations", json=hostile).status_code == 201
    ((message, content),) = rendered().values()
    assert (message.recipient, message.name, message.language) == ("noen@example.test", "", "nb")
    assert content.subject == "Registreringen ble ikke fullført"
    assert content.text.startswith("Hei,")
    assert (
        f"Organisasjonsnummeret {NUMBER} (Bekkestua Skolekorps) er allerede registrert hos oss. "
        "Be medlemmene der, eller kommunen, om å legge deg til som medlem."
    ) in content.text
    assert "evil.test" not in content.text + content.html and "<b>x" not in content.html
    assert "Du har allerede en konto" not in content.text


def test_both_reasons_in_one_mail(client, make):
    make_taken(make, "both")
    assert client.post("/api/v1/organizations", json=registration()).status_code == 201
    ((message, content),) = rendered().values()
    assert "Du har allerede en konto med denne e-postadressen." in content.text
    assert f"Organisasjonsnummeret {NUMBER} (Bekkestua Skolekorps)" in content.text


# --- the register's facts -------------------------------------------------------------------------------


def test_the_register_decides_local_frivillighetsregisteret_and_the_public_name(client):
    register_unit()
    typed = registration(
        name="Bekkestua skolekorps (vi)", local=False, registered_in_frivillighetsregisteret=False
    )
    answer = client.post("/api/v1/organizations", json=typed)
    body = answer.get_json()
    assert body["name"] == "BEKKESTUA SKOLEKORPS" and body["stated_name"] == "Bekkestua skolekorps (vi)"
    assert body["local"] is True and body["registered_in_frivillighetsregisteret"] is True
    assert body["proposed_category"] == "free"  # local + voluntary + registered + youth
    assert body["register"] == {
        "org_number": NUMBER,
        "name": "BEKKESTUA SKOLEKORPS",
        "form_code": "FLI",
        "form_description": "Forening/lag/innretning",
        "municipality_number": MUNICIPALITY,
        "municipality": "BÆRUM",
        "local": True,
        "registered_in_frivillighetsregisteret": True,
        "bankrupt": False,
        "under_liquidation": False,
        "deleted_on": None,
        "imported_at": "2026-11-30T07:00:00+01:00",
    }
    stored = db.session.execute(select(Organization).where(Organization.org_number == NUMBER)).scalar_one()
    assert (stored.name, stored.stated_name) == ("BEKKESTUA SKOLEKORPS", "Bekkestua skolekorps (vi)")
    assert stored.local and stored.registered_in_frivillighetsregisteret
    assert (stored.proposed_category, stored.price_category, stored.verified) == ("free", "free", False)


def test_a_unit_elsewhere_is_not_local_whatever_was_ticked(client, make):
    register_unit(municipality_number="0301", municipality="OSLO", in_frivillighetsregisteret=False)
    member = make.member()
    body = client.post("/api/v1/organizations", json=registration(), headers=member.headers).get_json()
    stored = db.session.get(Organization, body["id"])
    assert (stored.local, stored.registered_in_frivillighetsregisteret, stored.proposed_category) == (
        False,
        False,
        "full",
    )
    assert stored.name == "BEKKESTUA SKOLEKORPS" and stored.stated_name == "Bekkestua Skolekorps"


def test_unknown_to_the_register_everything_is_as_typed(client):
    body = client.post("/api/v1/organizations", json=registration(name="Lille Lag")).get_json()
    assert body["register"] is None and body["name"] == body["stated_name"] == "Lille Lag"
    stored = db.session.execute(select(Organization).where(Organization.org_number == NUMBER)).scalar_one()
    assert (stored.name, stored.stated_name, stored.local) == ("Lille Lag", "Lille Lag", True)


def test_a_registered_name_longer_than_ours_is_cut_not_a_500(client):
    register_unit(name="Ø" * 400, deleted_on=date(2025, 1, 31), bankrupt=True)
    answer = client.post("/api/v1/organizations", json=registration())
    assert answer.status_code == 201 and answer.get_json()["name"] == "Ø" * 200
    assert answer.get_json()["register"]["deleted_on"] == "2025-01-31"


# --- two at once --------------------------------------------------------------------------------------


@pytest.fixture
def second_app(app_ctx, database_url):
    """Another app on the same database: its own engine and connections, as a second server."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret",
            "BOOKING_PUBLIC_URL": "http://booking.test",
            "RATELIMIT_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def at_once(apps, payloads: list[dict]) -> list:
    barrier, answers = threading.Barrier(len(payloads)), [None] * len(payloads)

    def register(i: int) -> None:
        with apps[i % len(apps)].test_client() as own:
            barrier.wait()
            answer = own.post("/api/v1/organizations", json=payloads[i])
            answers[i] = (answer.status_code, answer.get_json())

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.fixture
def cheap_hash(monkeypatch):
    """A cheap password hash: with scrypt's the clients reach the check one after the other; with
    this one they meet at the unique constraints (on PostgreSQL; SQLite runs write transactions
    one at a time anyway)."""
    monkeypatch.setattr(
        organizations, "hash_password", lambda p: generate_password_hash(p, "pbkdf2:sha256:1")
    )


@pytest.mark.parametrize("with_account", [True, False], ids=["with-account", "without-account"])
def test_registrations_of_one_number_at_once_make_one_organisation(
    app_ctx, second_app, cheap_hash, with_account
):
    payloads = [registration(email=f"kari{i}@example.test") for i in range(6)]
    if not with_account:
        for payload in payloads:
            del payload["password"]
    answers = at_once([app_ctx, second_app], payloads)
    assert [status for status, _ in answers] == [201] * 6, answers
    assert [body for _, body in answers] == [receipt_of(p) for p in payloads]
    accounts = 1 if with_account else 0
    assert counts() == {"organizations": 1, "users": accounts, "memberships": accounts}
    assert len(events("email_confirmation")) == accounts
    refused = events("registration_attempt")
    assert len(refused) == 5 and {e.params["reasons"][0] for e in refused} == {"org_number_taken"}
    winner = db.session.execute(select(Organization)).scalar_one()
    refused_addresses = {e.params["email"] for e in refused}
    assert refused_addresses | {winner.email} == {p["email"] for p in payloads}


def test_registrations_with_one_address_at_once_make_one_account(app_ctx, second_app, cheap_hash):
    payloads = [registration(org_number=org_number(4300 + i)) for i in range(6)]
    answers = at_once([app_ctx, second_app], payloads)
    assert [status for status, _ in answers] == [201] * 6, answers
    assert [body for _, body in answers] == [receipt_of(p) for p in payloads]
    assert counts() == {"organizations": 1, "users": 1, "memberships": 1}
    (refused,) = events("registration_attempt")  # one mail per address in the window
    assert refused.params["reasons"] == ["email_taken"]


def test_a_registration_that_loses_the_race_at_the_constraint_takes_the_duplicate_path(
    client, make, monkeypatch
):
    """The check saw nothing, then the unique constraint refused the insert (the other
    registration committed in between): the savepoint keeps the transaction usable, the answer
    is the receipt, and the address is told."""
    make_taken(make, "org_number")
    real, seen = organizations._taken, []

    def nothing_the_first_time(proposal, *, wants_account):
        seen.append(proposal.org_number)
        return [] if len(seen) == 1 else real(proposal, wants_account=wants_account)

    monkeypatch.setattr(organizations, "_taken", nothing_the_first_time)
    before = counts()
    answer = client.post("/api/v1/organizations", json=registration())
    assert answer.status_code == 201 and answer.get_json() == receipt_of(registration())
    assert counts() == before
    (event,) = events()
    assert event.params["reasons"] == ["org_number_taken"]


def test_a_member_who_loses_the_race_at_the_constraint_gets_409(client, make, monkeypatch):
    make.organization(org_number=NUMBER)
    member = make.member()
    before = counts()
    monkeypatch.setattr(organizations, "_org_number_taken", lambda number: False)
    answer = client.post("/api/v1/organizations", json=registration(), headers=member.headers)
    assert answer.status_code == 409 and answer.mimetype == "application/problem+json"
    assert counts() == before


def test_a_registration_that_fails_for_another_reason_is_not_taken_for_a_duplicate(client, monkeypatch):
    """Only a number or address that is taken after all makes the duplicate path; another error
    in the insert stays an error (and writes nothing)."""

    def broken(*args, **kwargs):
        raise IntegrityError("INSERT INTO outbox_events …", {}, Exception("another constraint"))

    monkeypatch.setattr(organizations, "emit", broken)
    answer = client.post("/api/v1/organizations", json=registration())
    assert answer.status_code == 409
    assert counts() == {"organizations": 0, "users": 0, "memberships": 0} and events() == []


# --- the page ------------------------------------------------------------------------------------------


def form(**extra) -> dict:
    data = {
        "name": "Bekkestua Skolekorps",
        "org_number": NUMBER,
        "contact_name": "Kari Nordmann",
        "email": ADDRESS,
        "phone": "+47 400 00 000",
        "voluntary": "on",
        "youth_activity": "on",
        "password": PASSWORD,
        "password_again": PASSWORD,
    }
    data.update(extra)
    return data


def page_shape(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in ("Date", "Server")}
    return response.status_code, headers, text(response)


def test_the_page_answers_the_same_for_a_new_and_a_taken_registration_and_logs_nobody_in(app_ctx):
    answers = []
    for _ in ("new", "taken: the same registration again"):
        client = app_ctx.test_client()
        with_csrf(client)
        answer = post(client, "/register", form())
        answers.append(page_shape(answer))
        assert client.get("/my").status_code == 303  # not logged in
    assert answers[0] == answers[1]
    status, headers, page = answers[0]
    assert status == 200 and "Set-Cookie" not in headers
    assert f"Sjekk e-posten din: vi har sendt en melding til {ADDRESS}." in page
    assert "Foreslått priskategori: full pris." in page  # not said to be local
    assert "Vår kopi av Enhetsregisteret kjenner ikke dette organisasjonsnummeret" in page


def test_the_page_shows_the_register_next_to_what_was_said(client):
    register_unit(in_frivillighetsregisteret=True)
    with_csrf(client)
    page = text(post(client, "/register", form(name="Korpset vårt")))
    assert "Det du oppga, og det registeret sier" in page
    assert "Navn Korpset vårt BEKKESTUA SKOLEKORPS" in page
    assert "Hjemmehørende i kommunen nei ja: forretningsadresse i BÆRUM (3201)" in page
    assert "I Frivillighetsregisteret nei ja" in page
    assert "Foreslått priskategori: gratis." in page  # from the register's facts


def test_the_page_for_a_logged_in_member(client, make):
    member = make.member()
    log_in(client, member.user)
    done = post(client, "/register", form())
    assert done.status_code == 200
    assert "Bekkestua Skolekorps er registrert, og du er medlem av den." in text(done)
    assert 'href="/my"' in done.get_data(as_text=True)
    again = post(client, "/register", form())
    assert again.status_code == 409 and "er allerede registrert" in text(again)
    log_in(client, make.admin().user)
    done = post(client, "/register", form(org_number=org_number(4246)))
    assert done.status_code == 200 and "Bekkestua Skolekorps er registrert." in text(done)
    assert "du er medlem" not in text(done)


def test_form_errors_stay_422_with_the_form(client):
    with_csrf(client)
    page = post(client, "/register", form(email="nope", password_again="other"))
    assert page.status_code == 422 and 'action="/register"' in page.get_data(as_text=True)
    assert counts()["organizations"] == 0 and events() == []


def test_a_page_registrant_confirms_the_address_then_logs_in(client):
    with_csrf(client)
    assert post(client, "/register", form()).status_code == 200
    confirm_address(client, ADDRESS)
    token = client.post("/api/v1/tokens", json={"email": ADDRESS, "password": PASSWORD})
    assert token.status_code == 201


# --- rate limit -------------------------------------------------------------------------------------------


def test_registering_shares_the_budget_of_logging_in(limited):
    client = limited.test_client()
    address = {"REMOTE_ADDR": "192.0.2.77"}
    login = {"email": "nobody@example.test", "password": "wrong password"}
    assert client.post("/api/v1/tokens", json=login, environ_base=address).status_code == 401
    with_csrf(client)
    assert post(client, "/register", form(), environ_base=address).status_code == 200
    api = client.post("/api/v1/organizations", json=registration(), environ_base=address)
    assert api.status_code == 201
    refused = client.post("/api/v1/organizations", json=registration(), environ_base=address)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert "Retry-After" in refused.headers
    page = post(client, "/register", form(), environ_base=address)
    assert page.status_code == 429
