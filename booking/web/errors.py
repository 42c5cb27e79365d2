"""Errors on page paths as HTML pages, built from the problem details ``booking.errors`` made:
one mapping of errors to statuses for the whole app, two ways of showing them."""

from __future__ import annotations

import json

from flask import redirect, render_template, request
from flask_babel import gettext as _

from booking.domain.errors import InvalidInput, NotAuthenticated, RuleViolation
from booking.web.common import input_message, login_url, rule_message


def _texts(status: int) -> tuple[str, str]:
    # Literal strings inside _() so the catalogue extractor finds them.
    texts = {
        400: (_("Bad request"), _("The request could not be understood.")),
        401: (_("Please log in"), _("You need to log in to see this page.")),
        403: (_("Not allowed"), _("You do not have access to this page.")),
        404: (_("Not found"), _("There is no such page. Check the address, or start from the front page.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        409: (
            _("Conflict"),
            _("This could not be done in the current state. Reload the page and try again."),
        ),
        413: (_("Too large"), _("What you sent is too large.")),
        422: (_("Invalid input"), _("Some of the input is invalid.")),
        500: (_("Something went wrong"), _("An error occurred on our side. Please try again in a moment.")),
    }
    return texts.get(status) or texts[500 if status >= 500 else 400]


def render_error_page(error, problem_response):
    status = problem_response.status_code
    if isinstance(error, NotAuthenticated) and request.method == "GET":
        return redirect(login_url(), 303)
    title, detail = _texts(status)
    body = json.loads(problem_response.get_data(as_text=True) or "{}")
    if status == 400 and body.get("detail") == "csrf":
        detail = _(
            "The form had expired or was sent from somewhere else. Go back, reload the page and try again."
        )
    elif isinstance(error, RuleViolation):  # a rule the page did not catch, in the page's words
        detail = rule_message(error)
    elif isinstance(error, InvalidInput):
        messages = [input_message(m) for ms in error.errors.values() for m in ms if isinstance(m, str)]
        detail = " ".join(dict.fromkeys(messages)) or detail
    page = render_template("web/error.html", status=status, title=title, detail=detail)
    response = problem_response.__class__(page, status=status, mimetype="text/html")
    for key, value in problem_response.headers.items():
        if key.lower() not in ("content-type", "content-length"):
            response.headers[key] = value
    return response
