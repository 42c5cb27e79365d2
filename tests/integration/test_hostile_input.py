"""SPEC §13: every 500 for input a client sent is a defect. A walk over every route, read from the
app at test time, so a route added later is covered without a change here:

* every operation of the OpenAPI document, as an anonymous caller and as an administrator (a
  bearer token, so authorization lets the input through to validation and the services): each
  path, query and header parameter in turn holds a hostile value (percent-encoded surrogates and
  invalid UTF-8, NUL, days and instants at the calendar's edges, numbers too large for any
  column, very long text); each leaf of the JSON body, found recursively in the request schema,
  in turn holds the hostile values of its type; and one body has a lone surrogate in every string
  and in an unknown key of every object. Never a 5xx; every 4xx is problem+json; the surrogates
  are refused (422) with every field path named.
* every page of the web blueprint (``app.url_map``): the query of each GET page and the form of
  each POST, anonymous and from an administrator's session, with the session's CSRF token. The
  fields are those of the forms the pages render plus those the view reads while it runs
  (recorded), each in turn holding the same values. Never a 5xx.
* requests schemathesis generates from the document, with one string of the body or the query
  replaced by a hostile one: a few per operation, for shapes the walk does not make.

Other values are valid where the walk can make them so (real ids, future times, the first value
of an enum; fields a 422 asks for are filled in), so a hostile value gets as deep as it can.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import time
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.security import generate_password_hash

from booking.domain.organizations import synthetic_org_number
from booking.errors import PROBLEM_JSON
from booking.extensions import db
from booking.models import ApiToken, OutboxMessage
from booking.services import auth
from booking.services.auth import actor_for
from booking.services.bookings import BookingRequest, create_booking
from booking.web.forms import local_instant
from booking.web.security import CSRF_KEY, LOGIN_KEY
from tests.integration.web_helpers import TOKEN, clear_weekday, log_in, with_csrf

# --- hostile values -------------------------------------------------------------------------

SURROGATE = "a\ud800"  # a lone surrogate: JSON can escape it (\ud800), no UTF-8 text can hold it
HOSTILE_STRINGS = [SURROGATE, "\udfff", "\ud83d", "a\x00b", "x" * 70_000]
EDGE_DAYS = ["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01", "-0001-01-01", "2027-02-30"]
EDGE_INSTANTS = [
    "9999-12-31T23:59:59-14:00",  # in UTC: year 10000
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59",  # Oslo time; a day later is past the calendar
    "0001-01-01T00:00:00+14:00",  # in UTC: year 0
    "0001-01-01T00:00:00",  # Oslo time, ahead of UTC: year 0 in UTC
    "0001-01-01T00:00:00Z",
]
EDGE_MONTHS = ["0000-01", "0001-01", "9999-12", "10000-01", "2027-13"]
EDGE_RRULES = [
    "FREQ=DAILY;UNTIL=99991231T235959Z",
    "FREQ=DAILY;UNTIL=00010101T000000Z",
    "FREQ=WEEKLY;UNTIL=99991231",
    "FREQ=WEEKLY;UNTIL=99991231T235959",
    "FREQ=DAILY;COUNT=9223372036854775808",
    "FREQ=WEEKLY;INTERVAL=9223372036854775808;COUNT=2",
]
DATE_TEXT = EDGE_DAYS + EDGE_INSTANTS + EDGE_MONTHS
# JSON number tokens sent as they are: 1e309 is infinity to Python's decoder; NaN is accepted too.
HOSTILE_NUMBERS = ["2147483648", "9223372036854775808", "-9223372036854775809", "1" + "0" * 400, "9" * 5000]
HOSTILE_NUMBERS += ["1e309", "-1e309", "1e-400", "NaN", "Infinity", "-1", "1.5", '"1"']
# Query strings, forms and paths are percent-encoded bytes: a surrogate (as CESU-8), invalid
# UTF-8, an overlong NUL, NUL; numbers past any column and past what int() converts (4300
# digits), and digits that are not ASCII: superscript two (isdigit, but int() refuses it) and an
# Arabic-Indic one.
ENCODED_TEXT = ["%ED%A0%80", "%FF%FE", "%C0%80", "a%00b", "x" * 5000]
ENCODED_NUMBERS = ["2147483648", "9223372036854775808", "9" * 5000, "1e309", "-1", "NaN", "%C2%B2", "%D9%A1"]
ENCODED_VALUES = ENCODED_TEXT + ENCODED_NUMBERS
ENCODED_DATES = [quote(v, safe=":") for v in EDGE_DAYS + EDGE_INSTANTS[:4] + EDGE_MONTHS[:3]]
INT_PATH = ["0", "-1", "2147483648", "9223372036854775808", "1e309"]
TEXT_PATH = ["%ED%A0%80", "%FF", "a%00b", "x" * 3000, "..%2F..%2Fetc%2Fpasswd", "0001-01-01"]
HEADER_VALUES = [
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 -1400",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "x" * 5000,
    "a\x00b",
    '"\xff\xfe"',
    "W/",
]
DATE_NAMES = re.compile(r"(^|_)(date|start|end|from|to|until|month|week|day|since)(_|$)")


def _json_text(body) -> str:
    """``body`` as JSON (lone surrogates as \\ud800 escapes), with ``Raw`` values unquoted."""
    text = json.dumps(body, default=lambda raw: f"\u0001{raw.token}\u0001")
    return re.sub(r'"\\u0001((?:[^"\\]|\\.)*)\\u0001"', lambda m: json.loads(f'"{m.group(1)}"'), text)


class Raw:
    """A JSON token sent as written (``1e309``, ``NaN``): json.dumps cannot write them."""

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return self.token


def _body_values(schema: dict, name: str) -> list:
    """The hostile values of a body field: by its type, dates for anything that reads as one."""
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return [Raw(n) for n in HOSTILE_NUMBERS] + [SURROGATE]
    if kind == "boolean":
        return [SURROGATE, Raw("1e309"), "true"]
    if kind == "array":
        return [[SURROGATE], [Raw("9223372036854775808")], [None] * 10_001, {"a": SURROGATE}]
    if kind == "object" or "properties" in schema:
        return [{SURROGATE: SURROGATE}, [SURROGATE], SURROGATE]
    values = [*HOSTILE_STRINGS, Raw("1e309"), None]
    if schema.get("format") in ("date", "date-time") or DATE_NAMES.search(name):
        values += DATE_TEXT
    if name == "rrule":
        values += EDGE_RRULES
    return values


# --- the world the walk runs in -------------------------------------------------------------


@pytest.fixture
def world(make):
    """A little of everything, so valid ids lead past the 404s: ``ids`` maps a parameter or
    field name to an existing row."""
    building = make.building()
    room = make.room(building)
    hall = make.room(building, kind="hall", requires_approval=True)
    organization = make.organization()
    make.organization(verified=False)
    member = make.user("member", organizations=[organization], password=None)
    janitor = make.user("janitor", buildings=[building], password=None)
    day = clear_weekday(2, weeks=2, from_days=14)
    booker = actor_for(member.user)
    base = {"room_id": room.id, "organization_id": organization.id, "title": "Øving"}

    def book(**fields):
        return create_booking(booker, BookingRequest.from_input({**base, **fields}))

    booking = book(start=_at(day, 17), end=_at(day, 18))
    series = book(start=_at(day, 19), end=_at(day, 20), recurrence={"rrule": "FREQ=WEEKLY;COUNT=2"})
    book(room_id=hall.id, start=_at(day, 17), end=_at(day, 18))  # a pending request
    db.session.commit()
    ids = {
        "building_id": building.id,
        "room_id": room.id,
        "organization_id": organization.id,
        "booking_id": booking.id,
        "series_id": series.id,
        "user_id": member.user.id,
        "member_id": member.user.id,
        "token_id": db.session.scalar(db.select(ApiToken.id).where(ApiToken.user_id == janitor.user.id)),
        "message_id": db.session.scalar(db.select(OutboxMessage.id).limit(1)) or 1,
        "org_number": organization.org_number,
    }
    return {"ids": ids, "day": day, "make": make}


def _at(day, hour: int):
    return local_instant(day, time(hour))


class Failures(list):
    def check(self, response, what: str, *, problem: bool = True) -> None:
        status = response.status_code
        if status >= 500:
            self.append(f"{status} {what}: {response.get_data(as_text=True)[:200]}")
        elif problem and status >= 400 and response.mimetype != PROBLEM_JSON:
            self.append(f"{status} is {response.mimetype}, not problem+json: {what}")

    def report(self) -> str:
        return f"{len(self)} bad answers:\n" + "\n".join(dict.fromkeys(self))[:20_000]


# --- the API: every operation of the OpenAPI document ---------------------------------------


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {
            **document["components"]["schemas"][name],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in schema:  # the richest alternative (recurrence: null-or-object, or Recurrence)
            options = [_resolve(document, option) for option in schema[combined]]
            best = max(options, key=lambda option: len(option.get("properties", {})))
            schema = {**best, **{k: v for k, v in schema.items() if k != combined}}
    return schema


class Walk:
    """Valid values from the document's schemas, and the leaves of a request body."""

    def __init__(self, document: dict, world: dict):
        self.document = document
        self.ids = world["ids"]
        self.day = world["day"]

    def schema(self, schema: dict) -> dict:
        return _resolve(self.document, schema)

    def valid(self, schema: dict, name: str = "", *, full: bool = False):
        """A valid value: objects with their required properties (every writable one if ``full``)."""
        schema = self.schema(schema)
        kind = schema.get("type")
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "object" or "properties" in schema:
            writable = {
                k: s for k, s in schema.get("properties", {}).items() if not self.schema(s).get("readOnly")
            }
            wanted = (
                writable if full else {k: s for k, s in writable.items() if k in schema.get("required", ())}
            )
            return {key: self.valid(sub, key, full=full) for key, sub in wanted.items()}
        if kind == "array":
            if name[:-1] in self.ids:  # organization_ids, building_ids
                return [self.ids[name[:-1]]]
            return [self.valid(schema["items"], name, full=full)] if full or schema.get("minItems") else []
        if kind == "integer":
            return self.ids.get(name, max(schema.get("minimum", 1), min(1, schema.get("maximum", 1))))
        if kind == "number":
            return 1
        if kind == "boolean":
            return False
        return self._text(schema, name)

    def _text(self, schema: dict, name: str) -> str:
        fmt, pattern = schema.get("format"), schema.get("pattern", "")
        if fmt == "date-time":  # clear of the world's bookings (17-18 and 19-20)
            return f"{self.day.isoformat()}T{13 if name == 'end' else 12}:00:00+01:00"
        if fmt == "date":
            return self.day.isoformat()
        if fmt == "email":
            return "walker@example.test"
        if name == "month":
            return f"{self.day:%Y-%m}"
        if name == "rrule":
            return "FREQ=WEEKLY;COUNT=2"
        if ":" in pattern:  # HH:MM
            return "20:00" if name == "end" else "08:00"
        if r"\d{9}" in pattern:  # an organisation number nobody has
            return synthetic_org_number(81_000_000, 1)
        return " ".join(["Walk"] * max(1, schema.get("minLength", 0) // 4))

    def leaves(self, schema: dict, path: tuple = ()):
        """(path, schema) of every field a client writes; an array, and its first item."""
        schema = self.schema(schema)
        if schema.get("readOnly"):
            return
        if "properties" in schema:
            for key, sub in schema["properties"].items():
                yield from self.leaves(sub, (*path, key))
            return
        yield path, schema
        if schema.get("type") == "array":
            yield from self.leaves(schema["items"], (*path, 0))

    def with_leaf(self, base, schema: dict, path: tuple, value):
        """``base`` with ``value`` at ``path``, and valid containers on the way there."""
        body = copy.deepcopy(base)
        node, node_schema = body, self.schema(schema)
        for depth, step in enumerate(path):
            child_schema = self.schema(
                node_schema["items"] if isinstance(step, int) else node_schema["properties"][step]
            )
            if depth == len(path) - 1:
                _put(node, step, value)
                break
            child = node[step] if _has(node, step) else None
            if not isinstance(child, (dict, list)) or child == []:
                child = self.valid(child_schema, str(step))
                if isinstance(child, list) and not child:
                    child = [self.valid(child_schema["items"], str(step))]
                _put(node, step, child)
            node, node_schema = child, child_schema
        return body


def _has(node, step) -> bool:
    return step in node if isinstance(node, dict) else step < len(node)


def _put(node, step, value) -> None:
    if isinstance(node, dict) or step < len(node):
        node[step] = value
    else:
        node.append(value)


def _surrogates_everywhere(value):
    """Every string a lone surrogate, and an unknown key that is one in every object."""
    if isinstance(value, dict):
        return {**{key: _surrogates_everywhere(item) for key, item in value.items()}, SURROGATE: SURROGATE}
    if isinstance(value, list):
        return [_surrogates_everywhere(item) for item in value]
    return SURROGATE if isinstance(value, str) else value


def _refused_paths(value, path: str = "") -> set[str]:
    """The field paths a refusal of ``_surrogates_everywhere`` names: each string, and each
    object for its unknown key (``_body`` at the top; the key itself escaped in a path)."""
    if isinstance(value, dict):
        named = {key.replace(SURROGATE, "a\\ud800"): item for key, item in value.items()}
        inner = {
            p for key, item in named.items() for p in _refused_paths(item, f"{path}.{key}" if path else key)
        }
        return inner | {path or "_body"}
    if isinstance(value, list):
        return {p for i, item in enumerate(value) for p in _refused_paths(item, f"{path}.{i}")}
    return {path} if isinstance(value, str) else set()


def _operations(document: dict):
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield (
                    method,
                    template,
                    operation,
                    item.get("parameters", []) + operation.get("parameters", []),
                )


def _fill(template: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)


def _parameter_values(walk: Walk, parameter: dict) -> tuple[str, list[str]]:
    """A valid value of a parameter, and its hostile ones."""
    schema = walk.schema(parameter.get("schema", {}))
    name, where = parameter["name"], parameter["in"]
    valid = walk.ids.get(name) or walk.valid(schema, name)
    valid = str(valid[0] if isinstance(valid, list) and valid else valid)
    if where == "path":
        return valid, INT_PATH if schema.get("type") == "integer" else TEXT_PATH
    if where == "header":
        return valid, HEADER_VALUES
    return valid, _encoded_values(name, schema)


def _encoded_values(name: str, schema: dict | None = None) -> list[str]:
    """Hostile values of a query or form field; days and instants for one that reads as a date."""
    if (schema or {}).get("format") in ("date", "date-time") or DATE_NAMES.search(name):
        return ENCODED_VALUES + ENCODED_DATES
    return ENCODED_VALUES


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


class Operation:
    """One operation of the document, called with one hostile value at a time."""

    def __init__(self, client, walk: Walk, failures: Failures, caller: str, auth: dict, spec: tuple):
        self.client, self.walk, self.failures, self.caller, self.auth = client, walk, failures, caller, auth
        self.method, self.template, self.operation, self.parameters = spec
        self.valid = {p["name"]: _parameter_values(walk, p)[0] for p in self.parameters}
        self.required = [p["name"] for p in self.parameters if p["in"] == "query" and p.get("required")]
        self.query = self.query_with({})
        self.path = _fill(self.template, self.valid)

    def query_with(self, hostile: dict) -> str:
        """The required query parameters (valid), and ``hostile`` in place of any of them."""
        values = {name: self.valid[name] for name in self.required} | hostile
        return "&".join(f"{name}={value}" for name, value in values.items())

    def call(self, what: str, *, url: str | None = None, headers: dict | None = None, **kwargs):
        response = getattr(self.client, self.method)(
            url or f"{self.path}?{self.query}", headers={**self.auth, **(headers or {})}, **kwargs
        )
        self.failures.check(response, f"{self.caller} {self.method.upper()} {self.template} {what}")
        return response

    def send(self, body, what: str):
        return self.call(what, data=_json_text(body), content_type="application/json")

    def walk_parameters(self) -> None:
        for parameter in self.parameters:
            name, where = parameter["name"], parameter["in"]
            for value in _parameter_values(self.walk, parameter)[1]:
                what = f"{where} {name}={value[:40]!r}"
                if where == "path":
                    self.call(what, url=f"{_fill(self.template, {**self.valid, name: value})}?{self.query}")
                elif where == "query":
                    self.call(what, url=f"{self.path}?{self.query_with({name: value})}")
                elif where == "header":
                    self.call(what, headers={name: value})

    def walk_body(self) -> None:
        content = self.operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            return
        schema = content["schema"]
        everywhere = _surrogates_everywhere(self.walk.valid(schema, full=True))
        refusal = self.send(everywhere, "with surrogates everywhere")
        if refusal.status_code != 422 or set(refusal.get_json()["errors"]) != _refused_paths(everywhere):
            self.failures.append(f"surrogates everywhere: {self.template} {refusal.get_data()[:300]!r}")
        base = self.repaired(schema)
        for leaf, leaf_schema in self.walk.leaves(schema):
            for value in _body_values(leaf_schema, str(leaf[-1]) if leaf else ""):
                body = self.walk.with_leaf(base, schema, leaf, value) if leaf else value
                self.send(body, f"body {'.'.join(map(str, leaf))}={str(value)[:40]!r}")

    def repaired(self, schema: dict) -> dict:
        """The required fields, plus optional ones a 422 asks for (``category`` of an anonymous
        quote): the valid body the hostile values are put into, one at a time."""
        base, full = self.walk.valid(schema), self.walk.valid(schema, full=True)
        for _ in range(3):
            answer = self.send(base, "valid")
            errors = answer.get_json().get("errors", {}) if answer.status_code == 422 else {}
            asked = set(errors) & set(full) - set(base)
            if not asked:
                break
            base.update({key: full[key] for key in asked})
        return base


@pytest.mark.parametrize("caller", ["anonymous", "admin"])
def test_every_operation_refuses_hostile_input_with_a_problem(client, document, world, caller):
    walk = Walk(document, world)
    failures = Failures()
    operations = list(_operations(document))
    assert len(operations) > 40  # the document was read
    for spec in operations:
        # A fresh administrator per operation: an operation may revoke its caller's token.
        admin = world["make"].user("admin", password=None) if caller == "admin" else None
        auth = {"Authorization": f"Bearer {admin.token}"} if admin else {}
        operation = Operation(client, walk, failures, caller, auth, spec)
        operation.walk_parameters()
        operation.walk_body()
    assert not failures, failures.report()


# --- the pages: every GET query and POST form of the web blueprint --------------------------

_read: set[str] = set()


class _RecordingArgs(ImmutableMultiDict):
    """Query and form fields that remember which names a view asked for."""

    def __getitem__(self, key):
        _read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's names
        _read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        _read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        _read.add(key)
        return super().__contains__(key)


class _Forms(HTMLParser):
    """The forms of a page: (method, action path) -> {field: value as the page fills it}."""

    def __init__(self):
        super().__init__()
        self.forms: dict[tuple[str, str], dict[str, str]] = {}
        self._current: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            key = ((attrs.get("method") or "get").upper(), urlsplit(attrs.get("action") or "").path)
            self._current = self.forms.setdefault(key, {})
        if self._current is None:
            return
        name = attrs.get("name")
        if tag == "input" and name and (attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs):
            self._current[name] = attrs.get("value") or ""
        elif tag in ("textarea", "select") and name:
            self._current.setdefault(name, "")
            self._select = name if tag == "select" else None
        elif tag == "option" and self._select and ("selected" in attrs or not self._current[self._select]):
            self._current[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def _page_url(rule, ids: dict, override: dict | None = None) -> str:
    values = {name: ids.get(name, "x") for name in rule.arguments} | (override or {})
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _encoded(fields: dict) -> str:
    """A query string or urlencoded form; values are already percent-encoded or plain text."""
    return "&".join(
        f"{quote(key)}={value if '%' in value else quote(value)}" for key, value in fields.items()
    )


@pytest.fixture
def quick_logins(monkeypatch):
    """A failed log-in compares with a cheaper hash: the walk tries hundreds of passwords, none of
    them right, and each would cost a full scrypt (about 0.1 s)."""
    monkeypatch.setattr(
        auth, "_DUMMY_HASH", generate_password_hash("x", method="scrypt:1024:8:1"), raising=False
    )


@pytest.mark.parametrize("caller", ["anonymous", "admin"])
def test_every_page_survives_hostile_queries_and_forms(client, app, world, monkeypatch, quick_logins, caller):
    recording = type("RecordingRequest", (app.request_class,), {"parameter_storage_class": _RecordingArgs})
    monkeypatch.setattr(app, "request_class", recording)
    admin = world["make"].user("admin", password=None).user if caller == "admin" else None
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("web.")]
    assert len(rules) > 20  # the pages were found
    failures = Failures()

    def call(method: str, url: str, fields: dict, what: str, hostile: dict | None = None):
        """A GET with ``fields`` and ``hostile`` as its query; a POST with them as its form, and
        ``hostile`` in the query too (some fields are read from the query of a POST)."""
        with client.session_transaction() as session:
            ready = LOGIN_KEY in session if admin else CSRF_KEY in session
        if not ready and admin:  # at first, and after a form that logs out
            log_in(client, admin)
        elif not ready:
            with_csrf(client)
        _read.clear()
        fields = {**fields, **(hostile or {})}
        if method == "GET":
            response = client.get(f"{url}?{_encoded(fields)}")
        else:
            form = _encoded({**fields, CSRF_KEY: TOKEN})
            target = f"{url}?{_encoded(hostile)}" if hostile else url
            response = client.post(target, data=form, content_type="application/x-www-form-urlencoded")
        failures.check(response, f"{caller} {method} {url} {what}", problem=False)
        return response

    forms = _Forms()  # the forms every GET page renders
    for rule in rules:
        if "GET" in rule.methods:
            forms.feed(call("GET", _page_url(rule, world["ids"]), {}, "").get_data(as_text=True))

    for rule in rules:
        for method in sorted({"GET", "POST"} & rule.methods):
            url = _page_url(rule, world["ids"])
            fields = dict(forms.forms.get((method, url), {}))
            fields.pop(CSRF_KEY, None)
            for _ in range(3):  # the fields the view reads, once the ones before them are valid
                call(method, url, fields, "as the page fills it")
                new = _read - set(fields) - {CSRF_KEY}
                if not new:
                    break
                fields.update(dict.fromkeys(new, ""))
            for name in fields:
                for value in _encoded_values(name):
                    call(method, url, fields, f"{name}={value[:40]!r}", {name: value})
            for name in re.findall(r"<(\w+)>", rule.rule):  # text in the path (tokens)
                for value in TEXT_PATH:
                    call(method, _page_url(rule, world["ids"], {name: value}), fields, f"path {name}")
    assert not failures, failures.report()


# --- generated requests (schemathesis), with hostile strings put into them ------------------


def _generated_schema():
    """The document as the app serves it, read through a throwaway app (no database)."""
    from booking import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "RATELIMIT_ENABLED": False})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


generated = _generated_schema()
GENERATED_EXAMPLES = 3  # per operation: the walk above is the thorough part
GENERATED_STRINGS = [*HOSTILE_STRINGS[:4], *DATE_TEXT, *EDGE_RRULES]
GENERATED_QUERY = ["a\x00b", "9" * 5000, *DATE_TEXT]


def _string_leaves(value, path: tuple = ()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_leaves(item, (*path, index))
    elif isinstance(value, str):
        yield path


def _replaced(body, path: tuple, value):
    if not path:
        return value
    body = copy.deepcopy(body)
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


@generated.hook
def flatmap_body(context, body):
    """The generated body with one of its strings (if any) replaced by a hostile one."""
    leaves = list(_string_leaves(body))
    if not leaves:
        return st.just(body)
    return st.builds(_replaced, st.just(body), st.sampled_from(leaves), st.sampled_from(GENERATED_STRINGS))


@generated.hook
def flatmap_query(context, query):
    """The generated query with one of its values replaced by a hostile one."""
    if not query:
        return st.just(query)
    return st.builds(
        lambda key, value: {**query, key: value},
        st.sampled_from(sorted(query)),
        st.sampled_from(GENERATED_QUERY),
    )


@pytest.fixture
def admin_token(make):
    return make.user("admin", password=None).token


@generated.parametrize()
@settings(
    max_examples=GENERATED_EXAMPLES,
    phases=[Phase.generate],  # generated cases only: schemathesis' explicit and coverage cases are many
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_with_hostile_strings_never_fail(case, client, admin_token):
    headers = {**(case.headers or {}), "Authorization": f"Bearer {admin_token}"}  # past authorization
    response = case.call(headers=headers, app=client.application)
    case.validate_response(response, checks=(not_a_server_error,))
    if response.status_code >= 400:
        assert response.headers["content-type"] == [PROBLEM_JSON], (response.status_code, response.headers)
