"""Back-office pages (SPEC §15): filled in by the issue-15 work."""

from __future__ import annotations

URLS: list[tuple] = []  # path, endpoint, view, methods (added to the pages' blueprint)
