"""Tokens, me, users, buildings, rooms, organisations through HTTP: success, denials, bad input."""

from __future__ import annotations

import pytest

from booking.extensions import db
from tests.integration.registration_helpers import log_in_through_the_api

PROBLEM = "application/problem+json"


def assert_problem(response, status, **fields):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    for key, value in fields.items():
        assert body[key] == value
    return body


# --- tokens and me -------------------------------------------------------------------------


def test_login_gives_a_token_that_identifies_the_user(client, make):
    org = make.organization()
    login = make.user("member", organizations=[org], email="kari@example.test")
    response = client.post(
        "/api/v1/tokens", json={"email": "Kari@Example.test", "password": "correct horse battery"}
    )
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == "kari@example.test"
    assert me.get_json()["role"] == "member"
    assert me.get_json()["organizations"] == [{"id": org.id, "name": org.name}]
    assert login.user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    "email,password", [("kari@example.test", "wrong password"), ("nobody@example.test", "x")]
)
def test_wrong_credentials_are_one_401(client, make, email, password):
    make.user(email="kari@example.test")
    body = assert_problem(client.post("/api/v1/tokens", json={"email": email, "password": password}), 401)
    assert body["detail"] == "Wrong e-mail or password."


def test_tokens_are_stored_hashed(client, make):
    from booking.extensions import db
    from booking.models import ApiToken

    login = make.user()
    stored = db.session.execute(db.select(ApiToken.token_hash)).scalars().all()
    assert login.token not in stored and len(stored[0]) == 64


def test_me_needs_a_valid_token(client):
    assert_problem(client.get("/api/v1/me"), 401)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)


def test_revoked_token_is_refused(client, make):
    from booking.extensions import db
    from booking.models import ApiToken
    from booking.models.types import utcnow

    login = make.user()
    assert client.get("/api/v1/me", headers=login.headers).status_code == 200
    db.session.execute(db.update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    assert_problem(client.get("/api/v1/me", headers=login.headers), 401)


# --- users ---------------------------------------------------------------------------------


def test_admin_creates_users_of_every_role(client, make):
    admin = make.admin()
    org, building = make.organization(), make.building()
    for payload in (
        {
            "email": "m@example.test",
            "name": "M",
            "role": "member",
            "password": "long enough pw",
            "organization_ids": [org.id],
        },
        {"email": "j@example.test", "name": "J", "role": "janitor", "building_ids": [building.id]},
        {"email": "a@example.test", "name": "A", "role": "admin", "password": "long enough pw"},
    ):
        response = client.post("/api/v1/users", json=payload, headers=admin.headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["role"] == payload["role"]
    login = client.post("/api/v1/tokens", json={"email": "m@example.test", "password": "long enough pw"})
    assert login.status_code == 201


def test_only_admins_create_users(client, make):
    payload = {"email": "x@example.test", "name": "X", "role": "admin", "password": "long enough pw"}
    assert_problem(client.post("/api/v1/users", json=payload), 401)
    assert_problem(client.post("/api/v1/users", json=payload, headers=make.member().headers), 403)
    assert_problem(client.post("/api/v1/users", json=payload, headers=make.janitor().headers), 403)


def test_user_input_is_validated(client, make):
    admin = make.admin()
    body = assert_problem(
        client.post(
            "/api/v1/users",
            json={"email": "not-an-email", "name": "", "role": "boss", "password": "short"},
            headers=admin.headers,
        ),
        422,
    )
    assert set(body["errors"]) == {"email", "name", "role", "password"}
    body = assert_problem(
        client.post(
            "/api/v1/users",
            json={"email": "j@example.test", "name": "J", "role": "janitor", "building_ids": [999]},
            headers=admin.headers,
        ),
        422,
    )
    assert "building_ids" in body["errors"]
    make.user(email="dup@example.test")
    assert_problem(
        client.post(
            "/api/v1/users",
            json={"email": "DUP@example.test", "name": "D", "role": "admin"},
            headers=admin.headers,
        ),
        409,
    )


# --- buildings -----------------------------------------------------------------------------

BUILDING = {
    "name": "Kulturhuset",
    "address": "Torget 1",
    "staffed_hours": [{"day": "mon", "start": "08:00", "end": "16:00"}],
    "opening_hours": [
        {"day": "mon", "start": "07:00", "end": "23:00"},
        {"day": "sat", "start": "10:00", "end": "00:00"},
    ],
    "closures": [{"start_date": "2026-12-24", "end_date": "2026-12-26", "reason": "Jul"}],
}


def test_admin_creates_and_edits_a_building_anyone_reads_it(client, make):
    admin = make.admin()
    created = client.post("/api/v1/buildings", json=BUILDING, headers=admin.headers)
    assert created.status_code == 201, created.get_json()
    building = created.get_json()
    assert building["opening_hours"][1] == {"day": "sat", "start": "10:00", "end": "00:00"}
    assert building["closures"] == [{"start_date": "2026-12-24", "end_date": "2026-12-26", "reason": "Jul"}]
    assert building["timezone"] == "Europe/Oslo"
    patched = client.patch(
        f"/api/v1/buildings/{building['id']}",
        json={"address": "Torget 2", "closures": []},
        headers=admin.headers,
    )
    assert patched.status_code == 200
    read = client.get(f"/api/v1/buildings/{building['id']}").get_json()
    assert read["address"] == "Torget 2" and read["closures"] == [] and read["name"] == "Kulturhuset"
    listed = client.get("/api/v1/buildings")
    assert [b["id"] for b in listed.get_json()] == [building["id"]]


def test_building_writes_need_an_admin(client, make):
    building = make.building()
    assert_problem(client.post("/api/v1/buildings", json=BUILDING), 401)
    assert_problem(client.post("/api/v1/buildings", json=BUILDING, headers=make.member().headers), 403)
    assert_problem(
        client.patch(
            f"/api/v1/buildings/{building.id}", json={"name": "X"}, headers=make.janitor(building).headers
        ),
        403,
    )


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"staffed_hours": [{"day": "funday", "start": "08:00", "end": "16:00"}]}, "staffed_hours.0.day"),
        ({"opening_hours": [{"day": "mon", "start": "16:00", "end": "08:00"}]}, "opening_hours.0.end"),
        ({"opening_hours": [{"day": "mon", "start": "25:00", "end": "26:00"}]}, "opening_hours.0.start"),
        ({"closures": [{"start_date": "2026-12-26", "end_date": "2026-12-24"}]}, "closures.0.end_date"),
        ({"closures": [{"start_date": "2026-02-30", "end_date": "2026-03-01"}]}, "closures.0.start_date"),
        ({"name": ""}, "name"),
        ({"color": "red"}, "color"),
    ],
)
def test_bad_building_input_names_the_field(client, make, patch, field):
    building = make.building()
    body = assert_problem(
        client.patch(f"/api/v1/buildings/{building.id}", json=patch, headers=make.admin().headers), 422
    )
    assert field in body["errors"], body["errors"]


def test_a_race_lost_to_a_unique_constraint_is_a_409_and_keeps_nothing(client, make, monkeypatch):
    """The service checks a building name is free; should another request take it in between,
    the database's unique constraint refuses the flush: still a 409 problem, nothing stored."""
    from booking.models import Building
    from booking.services import buildings

    admin = make.admin()
    taken = make.building(name="Rådhuset")
    monkeypatch.setattr(buildings, "_check_name_free", lambda *args, **kwargs: None)  # the lost race
    response = client.post("/api/v1/buildings", json={"name": taken.name}, headers=admin.headers)
    assert_problem(response, 409)
    db.session.expire_all()
    assert [b.name for b in db.session.query(Building)] == ["Rådhuset"]
    assert client.get("/api/v1/buildings").status_code == 200  # the next request is served


def test_unknown_building_is_404(client):
    assert_problem(client.get("/api/v1/buildings/424242"), 404)


# --- rooms ---------------------------------------------------------------------------------


def test_admin_creates_a_divisible_room(client, make):
    admin, building = make.admin(), make.building()
    half_a = client.post(
        "/api/v1/rooms",
        json={"building_id": building.id, "name": "A", "kind": "gym", "capacity": 40},
        headers=admin.headers,
    ).get_json()
    half_b = client.post(
        "/api/v1/rooms",
        json={"building_id": building.id, "name": "B", "kind": "gym", "capacity": 40},
        headers=admin.headers,
    ).get_json()
    whole = client.post(
        "/api/v1/rooms",
        json={
            "building_id": building.id,
            "name": "A+B",
            "kind": "gym",
            "capacity": 80,
            "parts": [half_a["id"], half_b["id"]],
        },
        headers=admin.headers,
    )
    assert whole.status_code == 201, whole.get_json()
    assert whole.get_json()["parts"] == [half_a["id"], half_b["id"]]
    assert whole.get_json()["units"] == [half_a["id"], half_b["id"]]
    assert half_a["units"] == [half_a["id"]]
    assert whole.get_json()["price_group"] == "gym"
    # a part of a divided room cannot itself be divided
    other = make.room(building)
    body = assert_problem(
        client.patch(f"/api/v1/rooms/{half_a['id']}", json={"parts": [other.id]}, headers=admin.headers), 422
    )
    assert "parts" in body["errors"]


def test_parts_must_be_in_the_same_building(client, make):
    admin, elsewhere = make.admin(), make.room()
    body = assert_problem(
        client.post(
            "/api/v1/rooms",
            json={
                "building_id": make.building().id,
                "name": "X",
                "kind": "gym",
                "capacity": 5,
                "parts": [elsewhere.id],
            },
            headers=admin.headers,
        ),
        422,
    )
    assert "another building" in body["errors"]["parts"][0]


def test_room_search_filters(client, make):
    b1, b2 = make.building(), make.building()
    piano = make.room(b1, name="Piano room", kind="rehearsal_room", capacity=30, equipment=["piano", "drums"])
    make.room(b1, name="Small", kind="rehearsal_room", capacity=5, equipment=["piano"])
    make.room(b2, name="Meeting", kind="meeting_room", capacity=50, equipment=["projector"])

    def names(query):
        response = client.get("/api/v1/rooms" + query)
        assert response.status_code == 200, response.get_json()
        return sorted(r["name"] for r in response.get_json())

    assert names("") == ["Meeting", "Piano room", "Small"]
    assert names(f"?building_id={b1.id}") == ["Piano room", "Small"]
    assert names("?kind=rehearsal_room&min_capacity=10") == ["Piano room"]
    assert names("?equipment=piano") == ["Piano room", "Small"]
    assert names("?equipment=piano,drums") == ["Piano room"]
    assert names("?equipment=pian") == []
    assert client.get(f"/api/v1/rooms/{piano.id}").get_json()["equipment"] == ["piano", "drums"]


def test_room_list_is_paginated(client, make):
    building = make.building()
    for _ in range(3):
        make.room(building)
    response = client.get("/api/v1/rooms?page=2&page_size=2")
    assert len(response.get_json()) == 1
    assert '"total": 3' in response.headers["X-Pagination"]
    assert_problem(client.get("/api/v1/rooms?page_size=501"), 422)
    past = client.get("/api/v1/rooms?page=3&page_size=2")  # past the end: no row, still a total
    assert past.status_code == 200 and past.get_json() == []
    assert '"total": 3' in past.headers["X-Pagination"]
    none = client.get("/api/v1/rooms?kind=gym")
    assert none.get_json() == [] and '"total": 0' in none.headers["X-Pagination"]


def test_a_searched_room_reads_as_the_room_itself(client, make):
    """The search reads rooms as plain rows with their units' and parts' ids beside them: each
    must be the representation ``GET /rooms/{id}`` gives, divisible rooms, their halves and a
    room with every setting off its default included."""
    admin = make.admin()
    building = make.building()
    halves = [make.room(building, name=f"Halvdel {n}", kind="gym", equipment=["basket"]) for n in "BA"]
    whole = client.post(
        "/api/v1/rooms",
        json={
            "building_id": building.id,
            "name": "Hele hallen",
            "kind": "gym",
            "capacity": 200,
            "parts": [halves[0].id, halves[1].id],
            "description": "Hele hallen, æøå",
            "requires_approval": True,
            "supervision": "always",
            "buffer_minutes": 15,
            "accessible": True,
        },
        headers=admin.headers,
    )
    assert whole.status_code == 201, whole.get_json()
    make.room(building, name="Stengt", active=False)
    found = client.get(f"/api/v1/rooms?building_id={building.id}")
    assert found.status_code == 200
    assert len(found.get_json()) == 4
    for room in found.get_json():
        assert room == client.get(f"/api/v1/rooms/{room['id']}").get_json()
    by_name = {room["name"]: room for room in found.get_json()}
    assert by_name["Hele hallen"]["parts"] == sorted(h.id for h in halves)
    assert set(by_name["Hele hallen"]["units"]) == {h.id for h in halves}
    assert by_name["Halvdel A"]["units"] == [halves[1].id]


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"capacity": "20"}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 10**30}, "capacity"),
        ({"kind": "castle"}, "kind"),
        ({"equipment": ["Piano Forte"]}, "equipment.0"),
        ({"supervision": "sometimes"}, "supervision"),
        ({"buffer_minutes": -5}, "buffer_minutes"),
        ({"building_id": "1"}, "building_id"),
        ({"secret": True}, "secret"),
    ],
)
def test_bad_room_input_names_the_field(client, make, payload, field):
    building = make.building()
    data = {"building_id": building.id, "name": "R", "kind": "gym", "capacity": 5}
    data.update(payload)
    body = assert_problem(client.post("/api/v1/rooms", json=data, headers=make.admin().headers), 422)
    assert field in body["errors"], body["errors"]


def test_room_writes_need_an_admin_and_names_are_unique(client, make):
    room = make.room(name="Salen")
    data = {"building_id": room.building_id, "name": "Salen", "kind": "gym", "capacity": 5}
    assert_problem(client.post("/api/v1/rooms", json=data), 401)
    assert_problem(client.post("/api/v1/rooms", json=data, headers=make.member().headers), 403)
    assert_problem(
        client.patch(f"/api/v1/rooms/{room.id}", json={"capacity": 3}, headers=make.member().headers), 403
    )
    assert_problem(client.post("/api/v1/rooms", json=data, headers=make.admin().headers), 409)
    assert_problem(
        client.patch("/api/v1/rooms/999999", json={"capacity": 3}, headers=make.admin().headers), 404
    )


def test_room_patch_keeps_durations_consistent(client, make):
    room = make.room()
    body = assert_problem(
        client.patch(
            f"/api/v1/rooms/{room.id}", json={"max_duration_minutes": 10}, headers=make.admin().headers
        ),
        422,
    )
    assert "max_duration_minutes" in body["errors"]


# --- organisations -------------------------------------------------------------------------

ORG = {
    "name": "Bekkestua Skolekorps",
    "org_number": "974760673",
    "contact_name": "Kari Nordmann",
    "email": "korps@example.test",
    "phone": "+47 400 00 000",
    "voluntary": True,
    "local": True,
    "registered_in_frivillighetsregisteret": True,
    "youth_activity": True,
}


@pytest.mark.parametrize(
    "facts,category",
    [
        ({}, "free"),
        ({"youth_activity": False}, "reduced"),
        (
            {
                "voluntary": False,
                "registered_in_frivillighetsregisteret": False,
                "youth_activity": False,
                "non_profit": True,
            },
            "reduced",
        ),
        ({"local": False}, "full"),
    ],
)
def test_self_registration_proposes_a_category_and_stays_unverified(client, facts, category):
    response = client.post("/api/v1/organizations", json={**ORG, **facts})
    assert response.status_code == 201, response.get_json()
    org = response.get_json()
    assert org["proposed_category"] == category and org["price_category"] == category
    assert org["verified"] is False and org["effective_category"] == "full"


def test_registration_with_password_creates_a_member_login(client):
    response = client.post("/api/v1/organizations", json={**ORG, "password": "a long password"})
    assert response.status_code == 201
    assert "password" not in response.get_json() and "id" not in response.get_json()  # a receipt
    headers = log_in_through_the_api(client, ORG["email"], "a long password")
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["role"] == "member" and [o["name"] for o in me["organizations"]] == [ORG["name"]]


@pytest.mark.parametrize(
    "number", ["974760674", "12345678", "1234567890", "97476067a", "９７４７６０６７３", "100000001"]
)
def test_invalid_org_numbers_are_refused(client, number):
    body = assert_problem(client.post("/api/v1/organizations", json={**ORG, "org_number": number}), 422)
    assert "org_number" in body["errors"]


def test_duplicate_org_number_is_409_for_a_member_and_not_told_to_anonymous_callers(client, make):
    assert client.post("/api/v1/organizations", json=ORG).status_code == 201
    again = client.post("/api/v1/organizations", json={**ORG, "name": "Other"})
    assert again.status_code == 201 and "id" not in again.get_json()  # the same receipt (SPEC §13)
    member = make.member()
    taken = client.post("/api/v1/organizations", json={**ORG, "name": "Other"}, headers=member.headers)
    assert_problem(taken, 409)


def test_admin_verifies_and_recategorises(client, make):
    org = make.organization(verified=False)
    admin = make.admin()
    response = client.patch(
        f"/api/v1/organizations/{org.id}",
        json={"verified": True, "price_category": "reduced"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert response.get_json()["effective_category"] == "reduced"
    listed = client.get("/api/v1/organizations?verified=true", headers=admin.headers).get_json()
    assert [o["id"] for o in listed] == [org.id]
    assert client.get("/api/v1/organizations?verified=false", headers=admin.headers).get_json() == []
    assert_problem(
        client.patch(
            f"/api/v1/organizations/{org.id}", json={"price_category": "cheap"}, headers=admin.headers
        ),
        422,
    )


def test_organisation_privacy(client, make):
    mine, theirs = make.organization(), make.organization()
    member = make.member(mine)
    building = make.building()
    assert client.get(f"/api/v1/organizations/{mine.id}", headers=member.headers).status_code == 200
    assert_problem(client.get(f"/api/v1/organizations/{theirs.id}", headers=member.headers), 403)
    assert_problem(client.get(f"/api/v1/organizations/{theirs.id}"), 401)
    assert_problem(client.get("/api/v1/organizations", headers=member.headers), 403)
    assert_problem(client.get("/api/v1/organizations"), 401)
    assert_problem(
        client.patch(f"/api/v1/organizations/{mine.id}", json={"verified": True}, headers=member.headers), 403
    )
    # a janitor reads the organisations that come to their buildings (tests/integration/test_trust.py)
    janitor = make.janitor(building)
    assert client.get("/api/v1/organizations", headers=janitor.headers).get_json() == []
    assert_problem(client.get(f"/api/v1/organizations/{theirs.id}", headers=janitor.headers), 403)


# --- errors and documents ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\xfd", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'"text"', "application/json", 422),
        (b"null", "application/json", 422),
    ],
)
def test_malformed_bodies_are_4xx_problems(client, body, content_type, status):
    assert_problem(client.post("/api/v1/organizations", data=body, content_type=content_type), status)


def test_oversized_body_is_413(client):
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(client.post("/api/v1/organizations", data=big, content_type="application/json"), 413)


def test_unknown_path_and_method_are_problems(client):
    assert_problem(client.get("/api/v1/nothing"), 404)
    assert_problem(client.delete("/api/v1/buildings"), 405)


def test_openapi_document_covers_every_route(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    problem = spec["paths"]["/api/v1/rooms"]["post"]["responses"]["422"]
    if "$ref" in problem:
        problem = spec["components"]["responses"][problem["$ref"].rsplit("/", 1)[-1]]
    assert list(problem["content"]) == ["application/problem+json"]


def test_docs_page_works_offline(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    html = response.get_data(as_text=True)
    assert (
        "/api/v1/rooms" in html
        and "<script" not in html
        and "https://" not in html.replace("https://booking.invalid", "")
    )


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
