"""Guards against hostile input that no single schema can see, run before any view.

* A JSON body nested deeper than ``MAX_JSON_DEPTH`` is refused (400) before anything parses it
  recursively: Python's decoder would otherwise hit its recursion limit and fail with a 500.
* NUL characters in a JSON string, a query parameter, a form field or a header (an
  ``Idempotency-Key`` is stored) are refused (422), in a path answered 404: no field of the
  service needs them, PostgreSQL cannot store them in text and SQLite would keep them, so
  refusing them everywhere keeps both databases alike. Likewise unpaired surrogates (``\ud800``
  escaped in JSON, which Python decodes but no UTF-8 text can hold): 422 naming the field, not a
  500 when the value reaches the database or a response. Query strings and forms cannot carry
  them: their bytes are decoded with replacement characters.
* A JSON integer of more digits than Python converts is refused (400), as malformed JSON is.
* Row ids in paths are at most 2³¹−1 (the ``int`` URL converter is bounded): a larger number is
  a 404 like any other unknown id, not an overflow in the database driver.
"""

from __future__ import annotations

import json
import re

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from booking.domain.errors import InvalidInput

MAX_JSON_DEPTH = 32
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: a non-negative integer that fits the database's id column."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (a linear scan, no parsing)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
UNPRINTABLE = re.compile("[\x00\ud800-\udfff]")
# Python's decoder refuses an integer of more than 4300 digits with a plain ValueError, which the
# views' parser (webargs) does not take for malformed JSON (a 500): a body with a long run of
# digits is parsed here first (a long string of digits in quotes is fine).
LONG_NUMBER = re.compile(r"\d{1000}")


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed."
    if UNPAIRED_SURROGATE.search(text):
        return "Unpaired surrogate characters are not allowed."
    return None


def printable(text: str) -> str:
    """``text`` as an answer can carry it: NUL and unpaired surrogates written as ``\\uXXXX``
    (a field path naming a key the client sent must not break the answer that names it)."""
    return UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _bad_paths(value, path: str, found: dict[str, list[str]]) -> None:
    if isinstance(value, str):
        if problem := _problem(value):
            found[path or "_body"] = [problem]
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := _problem(key):
                found[path or "_body"] = [f"{problem[:-1]} in keys."]
            _bad_paths(item, f"{path}.{printable(key)}" if path else printable(key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _bad_paths(item, f"{path}.{index}" if path else str(index), found)


def check_request() -> None:
    if "\x00" in request.path:
        abort(404)  # nothing is named with a NUL (and PostgreSQL could not look it up)
    found: dict[str, list[str]] = {
        name: ["NUL characters are not allowed."]
        for name, value in request.headers.items()
        if "\x00" in value
    }
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    for source in sources:
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                found[printable(key)] = ["NUL characters are not allowed."]
    if request.is_json and request.content_length != 0:
        text = request.get_data(cache=True).decode("utf-8", errors="replace")
        if json_depth_exceeds(text):
            abort(400, description=f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        if "\\u0000" in text or "\x00" in text or SURROGATE_ESCAPE.search(text) or LONG_NUMBER.search(text):
            try:
                _bad_paths(json.loads(text), "", found)
            except json.JSONDecodeError:
                pass  # malformed JSON: the parser says so (400) when the view reads it
            except ValueError:  # an integer longer than Python converts (4300 digits)
                abort(400, description="A number in the JSON body has too many digits.")
    if found:
        raise InvalidInput(found)


def init_guards(app: Flask) -> None:
    """Call right after the app is made: the converter must be in place before routes exist."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request)
