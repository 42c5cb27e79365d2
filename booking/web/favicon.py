"""The site's icon: an SVG linked from every page, and ``/favicon.ico`` for whatever asks for it
by the old name (browsers on pages without the link, feed readers, bookmarks)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Response, current_app

ICON = "favicon.svg"
ONE_DAY = 24 * 3600


@cache
def _icon(static_folder: str) -> bytes:
    return (Path(static_folder) / ICON).read_bytes()


def favicon():
    """The SVG icon under the old name (browsers read the type from the header, not the name)."""
    response = Response(_icon(current_app.static_folder), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = ONE_DAY
    return response


URLS = [("/favicon.ico", "favicon", favicon, ["GET"])]
