"""Mozilla's ical.js as a second reader of the feeds: ``tests/js/expand.mjs`` run by Node."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path


def ical_js_expansion(
    body: bytes, js_dir: Path, tmp_path: Path, start: datetime, end: datetime
) -> list[dict]:
    """The occurrences ical.js expands from the calendar ``body`` between two instants, as
    ``{"uid", "start", "end"}`` rows with UTC times (``YYYY-MM-DDTHH:MM:SSZ``), in its order.
    Node runs in a time zone that is neither UTC nor Oslo, so no local time leaks in."""
    path = tmp_path / "feed.ics"
    path.write_bytes(body)
    window = [moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (start, end)]
    result = subprocess.run(
        ["node", "expand.mjs", str(path), *window],
        cwd=js_dir,
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
