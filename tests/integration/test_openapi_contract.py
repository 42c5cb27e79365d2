"""The OpenAPI document as a contract a generated client can rely on: every error response
describes its problem+json body, the 409 of a booking conflict says what its `conflicts` and
`suggestions` hold, and the 201 of POST /bookings admits both answers it can be (a booking, or
with `recurrence` a series). Real answers are validated against the document as schemathesis and
client generators read it: the resource schemas refuse keys they do not name, and `oneOf` must
match exactly one branch.
"""

from __future__ import annotations

import jsonschema_rs
import pytest

from booking.errors import PROBLEM_JSON
from tests.integration.test_bookings_api import book, local

ERROR_CODES = ("4", "5")


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def world(make):
    room = make.room(make.building(), capacity=20)
    organization = make.organization()
    return room, organization, make.member(organization)


def _component(spec: dict, ref: str) -> dict:
    section, name = ref.removeprefix("#/components/").split("/")
    return spec["components"][section][name]


def _deref(spec: dict, node: dict) -> dict:
    return _component(spec, node["$ref"]) if "$ref" in node else node


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _body_schema(spec: dict, path: str, method: str, code: str, media_type: str) -> dict:
    response = _deref(spec, spec["paths"][path][method]["responses"][code])
    return response["content"][media_type]["schema"]


def _json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: _schemas(value) if key == "properties" else _json_schema(value) for key, value in node.items()
    }
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [{"type": "null"}, node]}
    return node


def _schemas(by_name: dict) -> dict:
    return {name: _json_schema(schema) for name, schema in by_name.items()}


def _errors(spec: dict, schema: dict, body) -> list[str]:
    root = {
        "allOf": [_json_schema(schema)],
        "components": {"schemas": _schemas(spec["components"]["schemas"])},
    }
    validator = jsonschema_rs.Draft4Validator(root, validate_formats=True)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]


def assert_documented(spec: dict, schema: dict, body) -> None:
    errors = _errors(spec, schema, body)
    assert not errors, errors[:5]


# --- the document itself ----------------------------------------------------------------------


def test_every_error_response_documents_a_problem_body(spec):
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    checked, undocumented = 0, []
    for path, method, operation in _operations(spec):
        for code, response in operation["responses"].items():
            if code != "default" and not code.startswith(ERROR_CODES):
                continue
            content = _deref(spec, response).get("content", {})
            checked += 1
            if list(content) != [PROBLEM_JSON] or content[PROBLEM_JSON].get("schema") != problem_ref:
                undocumented.append(f"{method.upper()} {path} {code}: {sorted(content)}")
    assert checked > 100  # every operation has a few; a collapse of the walk must not pass silently
    assert not undocumented, undocumented


def test_problem_schema_names_every_problem_field(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= {
        "type",
        "title",
        "status",
        "detail",
        "errors",
        "rule",
        "conflicts",
        "suggestions",
    }
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_conflict_409_documents_conflicts_and_suggestions(spec):
    problem = _deref(spec, _body_schema(spec, "/api/v1/bookings", "post", "409", PROBLEM_JSON))
    conflict = _deref(spec, problem["properties"]["conflicts"]["items"])
    assert set(conflict["properties"]) >= {
        "start",
        "end",
        "booking_id",
        "room_id",
        "organization_name",
        "blocking_start",
        "blocking_until",
        "blocked_by",
    }
    blocker = _deref(spec, conflict["properties"]["blocked_by"]["items"])
    assert set(blocker["properties"]) >= {"booking_id", "room_id", "organization_name", "start", "until"}
    suggestion = _deref(spec, problem["properties"]["suggestions"]["items"])
    assert set(suggestion["properties"]) >= {"room_id", "start", "end"}


def test_create_201_is_a_booking_or_a_series(spec):
    created = _body_schema(spec, "/api/v1/bookings", "post", "201", "application/json")
    assert created["oneOf"] == [
        {"$ref": "#/components/schemas/Booking"},
        {"$ref": "#/components/schemas/Series"},
    ]
    # oneOf needs exactly one match: each schema refuses the other's keys.
    for name in ("Booking", "Series"):
        assert spec["components"]["schemas"][name]["additionalProperties"] is False


def test_docs_page_names_both_answers_of_create(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "Booking or Series" in html


# --- real answers against the document --------------------------------------------------------


def test_real_booking_and_series_answers_match_the_documented_201(client, spec, world):
    room, organization, member = world
    schema = _body_schema(spec, "/api/v1/bookings", "post", "201", "application/json")
    single = book(client, member, room, organization, local(5), local(5, "20:00"))
    assert single.status_code == 201, single.get_json()
    series = book(
        client,
        member,
        room,
        organization,
        local(6),
        local(6, "20:00"),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=2"},
    )
    assert series.status_code == 201, series.get_json()
    assert len(series.get_json()["occurrences"]) == 2
    for answer in (single, series):
        assert_documented(spec, schema, answer.get_json())
    # Why the 201 names both: documented as a booking alone, a series answer is refused.
    assert _errors(spec, {"$ref": "#/components/schemas/Booking"}, series.get_json())


def test_real_conflict_answer_matches_the_documented_409(client, spec, world):
    room, organization, member = world
    for hours in (("18:00", "19:00"), ("20:00", "21:00")):
        assert (
            book(client, member, room, organization, local(5, hours[0]), local(5, hours[1])).status_code
            == 201
        )
    # 18-21 overlaps both: the body carries conflicts (with blocked_by once SPEC §11 is in) and suggestions.
    refused = book(client, member, room, organization, local(5, "18:00"), local(5, "21:00"))
    assert refused.status_code == 409 and refused.content_type == PROBLEM_JSON
    body = refused.get_json()
    assert body["conflicts"] and body["suggestions"]
    assert_documented(spec, _body_schema(spec, "/api/v1/bookings", "post", "409", PROBLEM_JSON), body)


def test_real_not_found_answer_matches_the_documented_404(client, spec, world):
    _, _, member = world
    missing = client.get("/api/v1/bookings/999999", headers=member.headers)
    assert missing.status_code == 404
    schema = _body_schema(spec, "/api/v1/bookings/{booking_id}", "get", "404", PROBLEM_JSON)
    assert_documented(spec, schema, missing.get_json())


def test_real_state_conflict_answer_matches_the_documented_409(client, spec, world, make):
    """A 409 that is not a booking conflict: approving a booking that is confirmed already."""
    room, organization, member = world
    created = book(client, member, room, organization, local(5), local(5, "20:00"))
    assert created.status_code == 201 and created.get_json()["status"] == "confirmed"
    refused = client.post(
        f"/api/v1/bookings/{created.get_json()['id']}/approve", headers=make.admin().headers
    )
    assert refused.status_code == 409 and refused.content_type == PROBLEM_JSON
    schema = _body_schema(spec, "/api/v1/bookings/{booking_id}/approve", "post", "409", PROBLEM_JSON)
    assert_documented(spec, schema, refused.get_json())
