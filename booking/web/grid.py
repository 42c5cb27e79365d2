"""The room page's week grid: one column per day, one row per hour, each cell free, busy,
partly busy or closed, with the organisations' names (never titles unless public, never
contacts): exactly what the public availability endpoint tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from booking.domain.timeslots import local_day_bounds
from pricing.weekly import OSLO, WeeklyWindow, covered_duration, elapsed

DEFAULT_HOURS = (7, 23)


@dataclass
class Cell:
    state: str  # free | busy | partly | closed
    labels: list[str] = field(default_factory=list)


@dataclass
class WeekGrid:
    monday: date
    days: list[date]
    hours: list[int]
    rows: list[list[Cell]]  # rows[hour index][day index]

    @property
    def previous_week(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.monday + timedelta(days=7)


def week_bounds(any_day: date) -> tuple[date, datetime, datetime]:
    monday = any_day - timedelta(days=any_day.weekday())
    return monday, *local_day_bounds(monday, monday + timedelta(days=6))


def _hour_range(windows: list[WeeklyWindow]) -> list[int]:
    if not windows:
        return list(range(*DEFAULT_HOURS))
    first = min(w.start.hour for w in windows)
    last = max(24 if w.end == time(0) else w.end.hour + (1 if w.end.minute else 0) for w in windows)
    return list(range(first, last))


def build_week(
    monday: date, opening: list[WeeklyWindow], closures: list[tuple[date, date]], busy: list[dict]
) -> WeekGrid:
    days = [monday + timedelta(days=i) for i in range(7)]
    hours = _hour_range(opening)
    rows = []
    for hour in hours:
        row = []
        for day in days:
            slot_start = datetime.combine(day, time(hour), OSLO)
            slot_end = slot_start + timedelta(hours=1)
            slot = elapsed(slot_start, slot_end)
            closed = any(a <= day <= b for a, b in closures)
            open_time = slot if not opening else covered_duration(opening, slot_start, slot_end)
            if closed or not open_time:
                row.append(Cell("closed"))
                continue
            taken = timedelta()
            labels = []
            for item in busy:
                b_start, b_until = max(item["start"], slot_start), min(item["occupied_until"], slot_end)
                if b_start < b_until:
                    taken += elapsed(b_start, b_until)
                    label = item["organization_name"] + (f" – {item['title']}" if item.get("title") else "")
                    if label not in labels:
                        labels.append(label)
            if not labels:
                row.append(Cell("free"))
            else:
                row.append(Cell("busy" if taken >= open_time else "partly", labels))
        rows.append(row)
    return WeekGrid(monday, days, hours, rows)
