"""Weekly time windows in local wall-clock time (staffed hours, opening hours).

This is the one representation of "every Monday 08:00-16:00" in the project. It lives in the
pure ``pricing`` package because supervision cost depends on staffed hours; the booking domain
imports it from here (arrows point one way: booking -> pricing, never back).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, order=True)
class WeeklyWindow:
    """A window on one weekday, local time. ``end`` of 00:00 means midnight at the day's end."""

    weekday: int  # 0 = Monday ... 6 = Sunday
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("a window must end after it starts")

    @classmethod
    def parse(cls, data: dict) -> "WeeklyWindow":
        """Build from ``{"day": "mon", "start": "08:00", "end": "16:00"}``."""
        day = data["day"]
        if day not in WEEKDAYS:
            raise ValueError(f"day must be one of {', '.join(WEEKDAYS)}")
        return cls(WEEKDAYS.index(day), time.fromisoformat(data["start"]), time.fromisoformat(data["end"]))

    def to_dict(self) -> dict:
        return {
            "day": WEEKDAYS[self.weekday],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }

    def on(self, day: date, tz: ZoneInfo = OSLO) -> tuple[datetime, datetime]:
        """The window on a given date (which must fall on ``weekday``) as aware datetimes."""
        start = datetime.combine(day, self.start, tz)
        end_day = day + timedelta(days=1) if self.end == time(0) else day
        return start, datetime.combine(end_day, self.end, tz)


def parse_windows(items: Iterable[dict]) -> list[WeeklyWindow]:
    """Windows from their JSON form, sorted. Memoized: every request that checks opening or
    staffed hours reads the same few dozen buildings' windows."""
    return list(_parse_windows(tuple((item["day"], item["start"], item["end"]) for item in items)))


@lru_cache(maxsize=1024)
def _parse_windows(items: tuple[tuple[str, str, str], ...]) -> tuple[WeeklyWindow, ...]:
    return tuple(sorted(WeeklyWindow.parse({"day": d, "start": s, "end": e}) for d, s, e in items))


def window_intervals(
    windows: Iterable[WeeklyWindow], start: datetime, end: datetime, tz: ZoneInfo = OSLO
) -> Iterator[tuple[datetime, datetime]]:
    """Concrete local intervals of ``windows`` that intersect ``[start, end)``, in time order,
    clipped to it and merged where they touch (so 16:00-24:00 + 00:00-08:00 is one interval)."""
    by_day: dict[int, list[WeeklyWindow]] = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(window)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date()
    current: tuple[datetime, datetime] | None = None
    while day <= last_day:
        for window in sorted(by_day.get(day.weekday(), ())):
            w_start, w_end = window.on(day, tz)
            w_start, w_end = max(w_start, start), min(w_end, end)
            if w_start >= w_end:
                continue
            if current and w_start <= current[1]:
                current = (current[0], max(current[1], w_end))
            else:
                if current:
                    yield current
                current = (w_start, w_end)
        day += timedelta(days=1)
    if current:
        yield current


def uncovered(
    start: datetime, end: datetime, covered: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` outside every ``covered`` interval, in time order.

    All intervals are half-open; ``covered`` may come in any order and overlap. The one
    "interval minus intervals" of the project: free time between bookings, supervised time
    outside staffed hours.
    """
    pieces = []
    for c_start, c_end in sorted(covered):
        if c_end <= start or c_start >= end:
            continue
        if c_start > start:
            pieces.append((start, c_start))
        start = max(start, c_end)
    if start < end:
        pieces.append((start, end))
    return pieces


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real elapsed time. Python subtracts two datetimes of the same zone in wall-clock time,
    which is an hour off across a DST change; going through UTC is not."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def covered_duration(windows: Iterable[WeeklyWindow], start: datetime, end: datetime) -> timedelta:
    """How much of ``[start, end)`` falls inside the windows."""
    return sum((elapsed(a, b) for a, b in window_intervals(windows, start, end)), timedelta())


def is_within(windows: Iterable[WeeklyWindow], start: datetime, end: datetime) -> bool:
    """True when ``[start, end)`` lies wholly inside the windows."""
    return covered_duration(windows, start, end) == elapsed(start, end)
