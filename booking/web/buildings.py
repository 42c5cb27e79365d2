"""``/buildings/<id>``: a building's public page: its address, opening and staffed hours,
closures to come, its rooms (linked to their pages) and its public calendar feed (SPEC §9:
the URL to copy and a ``webcal://`` link). The room page and the search results link here."""

from __future__ import annotations

from datetime import time

from booking.feeds import links
from booking.services.buildings import get_building
from booking.web.common import WEEKDAY_NAMES, render
from booking.web.forms import KIND_NAMES, today
from pricing.weekly import WeeklyWindow


def _clock(value: time, end: bool = False) -> str:
    return "24:00" if end and value == time(0) else value.strftime("%H:%M")


def week_hours(windows: list[WeeklyWindow]) -> list[tuple[str, str]]:
    """(day name, its windows as ``08:00–16:00, 18:00–22:00`` or "" when none) for each weekday."""
    return [
        (
            str(name),
            ", ".join(
                f"{_clock(w.start)}–{_clock(w.end, end=True)}"
                for w in sorted(windows, key=lambda w: w.start)
                if w.weekday == weekday
            ),
        )
        for weekday, name in enumerate(WEEKDAY_NAMES)
    ]


def building_page(building_id: int):
    building = get_building(building_id)
    now = today()
    return render(
        "building.html",
        building=building,
        rooms=[r for r in building.rooms if r.active],
        kind_names=KIND_NAMES,
        hours=[
            (name, open_times, staffed_times)
            for (name, open_times), (_same, staffed_times) in zip(
                week_hours(building.opening_windows), week_hours(building.staffed_windows), strict=True
            )
        ],
        always_open=not building.opening_windows,
        closures=[c for c in building.closures if c.end_date >= now],
        feed=links.building_links(building.id),
    )


URLS = [
    # path, endpoint, view, methods
    ("/buildings/<int:building_id>", "building_page", building_page, ["GET"]),
]
