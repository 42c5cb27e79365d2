"""Hostile input: every attempt is a 4xx problem+json, never a 500 or a stack trace, and nothing
is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking.errors import PROBLEM_JSON
from booking.extensions import db
from booking.models import AuditEntry, Booking, Building, Organization, Room, Series, User
from tests.integration.web_helpers import log_in, post

COUNTED = (Booking, Series, Organization, User, Room, Building, AuditEntry)


def _counts() -> dict[str, int]:
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in COUNTED}


def assert_refused(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.get_data()[:500])
    assert response.mimetype == PROBLEM_JSON, response.mimetype
    body = response.get_json()
    assert body["status"] == response.status_code and body["title"] and body["type"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text and "sqlalchemy" not in text.lower()
    return body


@pytest.fixture
def world(make):
    room = make.room()
    organization = make.organization()
    member = make.user("member", organizations=[organization], password=None)  # no slow password hash
    start = (datetime.now(UTC) + timedelta(days=10)).replace(hour=17, minute=0, second=0, microsecond=0)
    booking = {
        "room_id": room.id,
        "organization_id": organization.id,
        "title": "Øving",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
    }
    return room, organization, member, booking


@pytest.fixture
def unchanged(app_ctx):
    """Asserts at the end of the test that no row was added anywhere."""
    holder = {}

    def start():
        holder["before"] = _counts()

    yield start
    if "before" in holder:
        assert _counts() == holder["before"]


def test_oversized_bodies_are_a_clear_413(client, world, unchanged):
    _, _, member, booking = world
    unchanged()
    huge = b'{"title": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    for path in ("/api/v1/bookings", "/api/v1/organizations", "/api/v1/tokens", "/api/v1/quotes"):
        body = assert_refused(
            client.post(path, data=huge, content_type="application/json", headers=member.headers), 413
        )
        assert body["title"] == "Request Entity Too Large"
    form = {"email": "x@example.test", "password": "p" * (2 * 1024 * 1024)}
    assert client.post("/login", data=form).status_code == 413


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 5_000 + "1" + "}" * 5_000,
        '{"title": "x", "recurrence": ' + '{"rrule": ' * 40 + '"FREQ=DAILY"' + "}" * 41,
    ],
)
def test_deeply_nested_json_is_a_400(client, world, unchanged, payload):
    _, _, member, _ = world
    unchanged()
    for path in ("/api/v1/bookings", "/api/v1/quotes", "/api/v1/organizations"):
        body = assert_refused(
            client.post(path, data=payload, content_type="application/json", headers=member.headers), 400
        )
        assert "nested" in body["detail"]


@pytest.mark.parametrize("raw", [b'{"title": "\xff\xfe"}', b"\xc3\x28", b'{"email": "\xed\xa0\x80@x.test"}'])
def test_invalid_utf8_is_a_400(client, world, unchanged, raw):
    _, _, member, _ = world
    unchanged()
    for path in ("/api/v1/bookings", "/api/v1/tokens", "/api/v1/organizations"):
        assert_refused(
            client.post(path, data=raw, content_type="application/json", headers=member.headers), 400
        )
    assert_refused(client.get("/api/v1/rooms?kind=%ff%fe"), 422)
    assert_refused(client.get("/feeds/org/%ff%fe.ics"), 404)


def test_malformed_and_wrongly_typed_bodies(client, world, unchanged):
    _, _, member, booking = world
    unchanged()
    for raw in ("{", "[1, 2", '{"title": NaN}', "null", '"a string"', "[1, 2, 3]", "true"):
        assert_refused(
            client.post(
                "/api/v1/bookings", data=raw, content_type="application/json", headers=member.headers
            ),
            400,
            422,
        )
    for field, value in (
        ("room_id", 10**30),
        ("room_id", -1),
        ("room_id", "1"),
        ("attendees", 1e308),
        ("attendees", 10**12),
        ("title", ""),
        ("title", "x" * 10_000),
        ("title", ["a"]),
        ("start", "not a date"),
        ("start", 17),
        ("public_title", "maybe"),
    ):
        assert_refused(
            client.post("/api/v1/bookings", json={**booking, field: value}, headers=member.headers), 422
        )


def test_nul_characters_are_refused_everywhere(client, world, unchanged):
    """PostgreSQL cannot store NUL in text; SQLite could. Refused alike on both."""
    room, organization, member, booking = world
    unchanged()
    body = assert_refused(
        client.post("/api/v1/bookings", json={**booking, "title": "a\x00b"}, headers=member.headers), 422
    )
    assert body["errors"] == {"title": ["NUL characters are not allowed."]}
    assert_refused(
        client.post(
            "/api/v1/organizations",
            json={
                "name": "Lag\x00",
                "org_number": "974760673",
                "contact_name": "K",
                "email": "k@example.test",
            },
        ),
        422,
    )
    assert_refused(client.get("/api/v1/rooms?kind=gym%00"), 422)
    admin = client.application.test_client()
    assert_refused(admin.get("/api/v1/bookings?status=confirmed%00", headers=member.headers), 422)


def test_unpaired_surrogates_are_refused_and_pairs_kept(client, world):
    """JSON may escape a lone surrogate (``\\ud800``); no UTF-8 text can hold one, so it would
    fail where the value is stored or sent back (a 500). A proper pair is a character like any."""
    room, organization, member, booking = world
    for title in ('"\\ud800x"', '"x\\udfff"', '"\\ude00\\ud83d"'):
        raw = json.dumps({**booking, "title": "TITLE"}).replace('"TITLE"', title)
        answer = client.post(
            "/api/v1/bookings", data=raw, content_type="application/json", headers=member.headers
        )
        assert assert_refused(answer, 422)["errors"] == {
            "title": ["Unpaired surrogate characters are not allowed."]
        }
    paired = json.dumps({**booking, "title": "TITLE"}).replace('"TITLE"', '"Konsert \\ud83c\\udfb5"')
    answer = client.post(
        "/api/v1/bookings", data=paired, content_type="application/json", headers=member.headers
    )
    assert answer.status_code == 201 and answer.get_json()["title"] == "Konsert \U0001f3b5"


@pytest.mark.parametrize(
    "start, end",
    [
        ("9999-12-31T22:00:00+00:00", "9999-12-31T23:59:00+00:00"),
        ("0001-01-01T00:00:00+00:00", "0001-01-01T02:00:00+00:00"),
        ("2027-02-30T18:00:00+01:00", "2027-02-30T20:00:00+01:00"),
        ("2027-01-01T18:00:00+25:00", "2027-01-01T20:00:00+01:00"),
        ("1970-01-01T00:00:00Z", "2106-02-07T06:28:16Z"),
        ("2027-01-01T18:00:00.000000000000001+01:00", "2027-01-01T20:00:00+01:00"),
    ],
)
def test_absurd_dates_are_422(client, world, unchanged, start, end):
    room, _, member, booking = world
    unchanged()
    assert_refused(
        client.post("/api/v1/bookings", json={**booking, "start": start, "end": end}, headers=member.headers),
        422,
    )
    assert_refused(client.post("/api/v1/quotes", json={"room_id": room.id, "start": start, "end": end}), 422)
    assert_refused(
        client.get(f"/api/v1/rooms?free_from={start.replace('+', '%2B')}&free_to={end.replace('+', '%2B')}"),
        422,
    )
    assert_refused(
        client.get(
            f"/api/v1/rooms/{room.id}/availability?from={start.replace('+', '%2B')}"
            f"&to={end.replace('+', '%2B')}"
        ),
        422,
    )


def test_a_far_but_valid_year_is_a_rule_violation_not_an_error(client, world, unchanged):
    _, _, member, booking = world
    unchanged()
    body = assert_refused(
        client.post(
            "/api/v1/bookings",
            json={**booking, "start": "2099-06-01T18:00:00+02:00", "end": "2099-06-01T20:00:00+02:00"},
            headers=member.headers,
        ),
        422,
    )
    assert body["rule"] == "too_far_ahead"


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=SECONDLY;COUNT=10",
        "FREQ=MINUTELY;COUNT=10",
        "FREQ=HOURLY;COUNT=10",
        "FREQ=YEARLY;COUNT=3",
        "FREQ=DAILY;COUNT=1000000000",
        "FREQ=DAILY;COUNT=201",
        "FREQ=DAILY;UNTIL=99991231T000000Z",
        "FREQ=DAILY;INTERVAL=0;COUNT=3",
        "FREQ=WEEKLY;INTERVAL=999999999;COUNT=3",
        "FREQ=MONTHLY;BYDAY=99TU;COUNT=3",
        "FREQ=DAILY;COUNT=3;COUNT=4",
        "FREQ=DAILY;BYSETPOS=1;COUNT=3",
        "FREQ=WEEKLY;BYDAY=XX;COUNT=3",
        "RRULE:FREQ=DAILY\r\nX-EVIL:1",
        "FREQ=DAILY;" + "BYDAY=MO;" * 200,
        "",
    ],
)
def test_absurd_rrules_are_422(client, world, unchanged, rrule):
    _, _, member, booking = world
    unchanged()
    assert_refused(
        client.post(
            "/api/v1/bookings", json={**booking, "recurrence": {"rrule": rrule}}, headers=member.headers
        ),
        422,
    )


@pytest.mark.parametrize(
    "value",
    [
        "' OR '1'='1",
        "1; DROP TABLE bookings; --",
        "x'); DELETE FROM rooms; --",
        "1 UNION SELECT password_hash FROM users",
    ],
)
def test_sql_injection_attempts_are_inert(client, world, unchanged, value):
    room, organization, member, booking = world
    from urllib.parse import quote

    unchanged()
    for path in (
        f"/api/v1/rooms?kind={quote(value)}",
        f"/api/v1/rooms?equipment={quote(value)}",
        f"/api/v1/rooms?building_id={quote(value)}",
        f"/api/v1/rooms?min_capacity={quote(value)}",
        f"/api/v1/bookings?room_id={quote(value)}",
        f"/api/v1/bookings?status={quote(value)}",
    ):
        assert_refused(client.get(path, headers=member.headers), 422)
    assert_refused(client.post("/api/v1/tokens", json={"email": value, "password": value}), 401, 422)
    assert_refused(client.get(f"/feeds/org/{quote(value, safe='')}.ics"), 404)
    assert client.get("/api/v1/rooms").get_json()[0]["id"] == room.id  # the table is still there


def test_sql_in_text_fields_is_stored_as_text(client, world):
    _, _, member, booking = world
    title = "Robert'); DROP TABLE bookings;--"
    response = client.post(
        "/api/v1/bookings", json={**booking, "title": title, "notes": "' OR 1=1 --"}, headers=member.headers
    )
    assert response.status_code == 201
    assert (
        client.get(f"/api/v1/bookings/{response.get_json()['id']}", headers=member.headers).get_json()[
            "title"
        ]
        == title
    )
    assert _counts()["Booking"] == 1


def test_header_injection_attempts_stay_in_their_field(client, world):
    _, _, member, booking = world
    response = client.post(
        "/api/v1/bookings",
        json={**booking, "title": "Møte\r\nX-Injected: yes\r\n\r\n<b>"},
        headers=member.headers,
    )
    assert response.status_code == 201
    assert "X-Injected" not in response.headers and "\n" not in response.headers["Location"]
    assert set(response.headers["ETag"]) <= set('"booking-0123456789')
    redirect = client.get("/?lang=en%0d%0aSet-Cookie:%20evil=1")
    assert "evil" not in redirect.headers.get("Set-Cookie", "")
    login = client.post(
        "/login", data={"email": "x@example.test", "password": "y", "next": "/my\r\nSet-Cookie: evil=1"}
    )
    assert "evil" not in str(login.headers)
    for header in ("Idempotency-Key", "If-Match", "Authorization"):
        refused = client.get("/api/v1/me", headers={**member.headers, header: "a\x7fb" * 10})
        assert refused.status_code in (200, 401) and "X-Injected" not in refused.headers
    assert_refused(client.get("/feeds/org/abc%0d%0aX-Injected:%20yes.ics"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/org/..%2F..%2Fetc%2Fpasswd.ics",
        "/feeds/org/../../etc/passwd.ics",
        "/feeds/org/%2e%2e%2f%2e%2e%2fetc%2fpasswd.ics",
        "/feeds/org/..%5c..%5cwindows%5cwin.ini.ics",
        "/feeds/janitor/..%2F..%2Fetc%2Fpasswd.ics",
        "/feeds/org/%00.ics",
        "/feeds/org/" + "a" * 5000 + ".ics",
        "/feeds/rooms/99999999999999999999.ics",
        "/feeds/rooms/-1.ics",
        "/feeds/buildings/1e3.ics",
        "/api/v1/rooms/99999999999999999999",
        "/api/v1/bookings/2147483648",
        "/static/../booking/config.py",
        "/static/%2e%2e/%2e%2e/setup.cfg",
    ],
)
def test_path_traversal_and_absurd_ids_are_404(client, world, path):
    _, _, member, _ = world
    response = client.get(path, headers=member.headers)
    assert response.status_code == 404, (path, response.status_code)
    if path.startswith(("/feeds/", "/api/")):
        assert_refused(response, 404)
    assert b"root:" not in response.get_data() and b"SECRET" not in response.get_data()


def test_unknown_methods_and_content_types(client, world, unchanged):
    _, _, member, booking = world
    unchanged()
    assert_refused(client.delete("/api/v1/rooms", headers=member.headers), 405)
    assert_refused(client.put("/api/v1/bookings", json=booking, headers=member.headers), 405)
    assert_refused(
        client.post(
            "/api/v1/bookings",
            data="title=x",
            content_type="application/x-www-form-urlencoded",
            headers=member.headers,
        ),
        400,
        415,
        422,
    )
    assert_refused(
        client.post(
            "/api/v1/bookings",
            data=b"\x00\x01\x02",
            content_type="application/octet-stream",
            headers=member.headers,
        ),
        400,
        415,
        422,
    )


def test_bad_bearer_tokens_are_401(client, world):
    for value in (
        "Bearer",
        "Bearer ",
        "Bearer " + "x" * 10_000,
        "Basic YWRtaW46YWRtaW4=",
        "Bearer ' OR 1=1 --",
        "Bearer \u00e6\u00f8\u00e5",
    ):
        assert_refused(client.get("/api/v1/me", headers={"Authorization": value}), 401)


@pytest.mark.parametrize("day", ["9999-12-31", "9999-12-30", "0001-01-01", "0001-01-02"])
def test_days_at_the_calendars_edges_in_query_strings_and_forms_are_4xx_or_ignored(client, world, make, day):
    """SPEC §13: dates at the edges of the calendar in query strings and forms are never a 500.
    The day sheet and the schedule refuse them (422); the room page shows this week instead."""
    room, organization, member, _ = world
    admin = make.admin()
    schedule = client.get(f"/api/v1/buildings/{room.building_id}/schedule?date={day}", headers=admin.headers)
    assert "date" in assert_refused(schedule, 422)["errors"]
    log_in(client, admin.user)
    assert client.get(f"/janitor/{room.building_id}?date={day}").status_code == 422
    for path in (f"/rooms/{room.id}?week={day}", f"/rooms/{room.id}?date={day}"):
        assert client.get(path).status_code == 200, path
    log_in(client, member.user)
    form = {"organization_id": organization.id, "title": "x", "date": day, "start": "10:00", "end": "11:00"}
    for action in ("quote", "book"):
        answer = post(client, f"/rooms/{room.id}", dict(form, action=action))
        assert answer.status_code == 422, (action, answer.status_code)


@pytest.mark.parametrize(
    "method, path, field",
    [
        ("post", "/api/v1/bookings", "title"),
        ("post", "/api/v1/organizations", "name"),
        ("post", "/api/v1/rooms", "name"),
        ("post", "/api/v1/users", "name"),
        ("patch", "/api/v1/bookings/{booking}", "title"),
        ("patch", "/api/v1/buildings/{building}", "name"),
        ("post", "/api/v1/tokens", "password"),
    ],
)
def test_the_lone_surrogates_of_the_issue_are_422_naming_the_field(client, world, make, method, path, field):
    """The routes where ``{"title": "a\\ud800"}`` was a 500 (issue 13)."""
    room, _, member, booking = world
    admin = make.user("admin", password=None)
    created = client.post("/api/v1/bookings", json=booking, headers=member.headers).get_json()
    url = path.format(booking=created["id"], building=room.building_id)
    raw = json.dumps({field: "TEXT", "email": "x@example.test"}).replace('"TEXT"', '"a\\ud800"')
    answer = getattr(client, method)(url, data=raw, content_type="application/json", headers=admin.headers)
    assert assert_refused(answer, 422)["errors"][field] == ["Unpaired surrogate characters are not allowed."]


def test_a_surrogate_in_a_key_is_named_escaped_in_valid_utf8(client, world, unchanged):
    """The field path names the key the client sent; the answer must still be UTF-8."""
    _, _, member, _ = world
    unchanged()
    raw = '{"\\ud800": "x", "recurrence": {"\\udfff": 1}}'
    answer = client.post(
        "/api/v1/bookings", data=raw, content_type="application/json", headers=member.headers
    )
    body = assert_refused(answer, 422)
    assert set(body["errors"]) == {"_body", "recurrence"}
    answer.get_data().decode("utf-8")  # strict: no surrogate written out


@pytest.mark.parametrize("span", [("2027-01-01", "9999-12-31"), ("0001-01-01", "2027-01-01")])
def test_closures_at_the_calendars_edges_are_422(client, world, make, unchanged, span):
    room, *_ = world
    admin = make.user("admin", password=None)
    unchanged()
    closures = [{"start_date": span[0], "end_date": span[1]}]
    for method, path, body in (
        ("patch", f"/api/v1/buildings/{room.building_id}", {"closures": closures}),
        ("post", "/api/v1/buildings", {"name": "Edge", "closures": closures}),
    ):
        answer = getattr(client, method)(path, json=body, headers=admin.headers)
        errors = assert_refused(answer, 422)["errors"]
        assert any(key.startswith("closures.0.") for key in errors), errors


def test_nul_in_a_header_is_422_and_in_a_path_404(client, world, unchanged):
    """An ``Idempotency-Key`` is stored: PostgreSQL refused its NUL with a 500."""
    _, _, member, booking = world
    unchanged()
    answer = client.post(
        "/api/v1/bookings", json=booking, headers={**member.headers, "Idempotency-Key": "a\x00b"}
    )
    assert assert_refused(answer, 422)["errors"] == {"Idempotency-Key": ["NUL characters are not allowed."]}
    assert_refused(client.get("/api/v1/registry/97476%0067", headers=member.headers), 404)


def test_integers_longer_than_python_converts(client, world):
    """Python converts at most 4300 digits to an int: a longer number is bad input, not a 500."""
    room, organization, member, booking = world
    digits = "9" * 5000
    raw = json.dumps({**booking, "attendees": 0}).replace('"attendees": 0', f'"attendees": {digits}')
    answer = client.post(
        "/api/v1/bookings", data=raw, content_type="application/json", headers=member.headers
    )
    assert "digits" in assert_refused(answer, 400)["detail"]
    day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    assert client.get(f"/?date={day}&capacity={digits}").status_code == 422
    assert client.get(f"/rooms/{room.id}?length={digits}").status_code == 200
    log_in(client, member.user)
    form = {"organization_id": organization.id, "title": "x", "date": day, "start": "10:00", "end": "11:00"}
    assert post(client, f"/rooms/{room.id}", dict(form, action="quote", attendees=digits)).status_code == 422
