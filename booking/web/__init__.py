"""Server-rendered pages (SPEC §9): Jinja templates, plain CSS, a little JavaScript on top.

Views are thin: parse the form (``forms``), call a service with the logged-in actor, render.
The HTTP layer's one-commit-per-request applies here too: a page answered with a status below
400 commits, anything else rolls back.
"""

from __future__ import annotations

from flask import Flask, get_flashed_messages, request, url_for

from booking.api.context import current_actor
from booking.errors import PAGE_ERROR_RENDERER
from booking.web.i18n import init_i18n
from booking.web.security import csrf_field, csrf_token


def init_web(app: Flask) -> None:
    from booking.web import common
    from booking.web.blueprint import bp
    from booking.web.errors import render_error_page

    init_i18n(app)
    app.register_blueprint(bp)
    app.extensions[PAGE_ERROR_RENDERER] = render_error_page
    app.jinja_env.globals.update(
        csrf_field=csrf_field,
        csrf_token=csrf_token,
        current_actor=current_actor,
        get_flashed_messages=get_flashed_messages,
        url_with_language=url_with_language,
    )
    app.jinja_env.globals.update(
        line_name=lambda code: str(common.LINE_NAMES.get(code, code)),
        unit_name=lambda unit: str(common.UNIT_NAMES.get(unit, unit)),
        status_name=lambda status: str(common.STATUS_NAMES.get(status, status)),
        skip_reason=lambda reason: str(common.SKIP_REASONS.get(reason, reason)),
        supervision_text=common.supervision_text,
        category_name=common.category_name,
        equipment_name=common.equipment_name,
        equipment_names=common.equipment_names,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.after_request
    def _page_headers(response):
        if response.mimetype == "text/html" and not request.path.startswith(("/api/", "/feeds/")):
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
            )
            response.vary.add("Cookie")
        return response


def url_with_language(lang: str) -> str:
    """The current page in another language (the choice is then kept in the session)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return (
        url_for(request.endpoint, **(request.view_args or {}), **args)
        if request.endpoint
        else f"/?lang={lang}"
    )
