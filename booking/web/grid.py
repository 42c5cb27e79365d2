"""The room page's week grid: one column per day, one row per hour, each cell free, busy,
partly busy or closed, with the organisations' names (never titles unless public, never
contacts): exactly what the public availability endpoint tells. The logged-in user's own
bookings show as theirs (with the title), linked to ``/my``.

A free cell in the future is a link that chooses its day and hour in the booking form
(``?date=…&start=…#book``; ``grid.js`` fills the form in place instead). On a phone the same
week reads as a list, day by day (see ``WeekGrid.days_view``).

``/rooms/<id>/week?date=…`` is the grid alone, as an HTML fragment: ``grid.js`` fetches it when
the form's date moves to another week, and for the previous and next week links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import request
from sqlalchemy import select

from booking.domain.lifecycle import OPEN_STATUSES
from booking.domain.timeslots import local_day_bounds
from booking.extensions import db
from booking.feeds import links
from booking.models import Booking, Occupancy, Organization
from booking.services.access import Actor
from booking.services.availability import room_availability
from booking.services.rooms import get_room
from booking.web.common import actor, render
from booking.web.forms import today
from pricing.weekly import OSLO, WeeklyWindow, covered_duration, elapsed

DEFAULT_HOURS = (7, 23)
QUARTER = timedelta(minutes=15)
# The weeks a room page shows: far beyond any booking window, and clear of the calendar's edges
# (year 1, 9999), where a week's bounds would not exist.
SHOWN_YEARS = 10


@dataclass
class Cell:
    state: str  # free | busy | partly | closed
    labels: list[str] = field(default_factory=list)  # other organisations' bookings
    own: list[str] = field(default_factory=list)  # the user's own bookings (their titles)
    start: datetime | None = None  # free and not past: the time a click chooses
    past: bool = False  # the hour has begun

    @property
    def choosable(self) -> bool:
        return self.state == "free" and self.start is not None

    @property
    def key(self) -> tuple:
        """What a run of equal hours in the day-by-day list shares."""
        return (self.state, tuple(self.labels), tuple(self.own), self.past and self.state == "free")


@dataclass
class Run:
    """Consecutive hours of one day that read the same: ``first``–``until`` and the cells."""

    first: int
    until: int
    cells: list[Cell]

    @property
    def cell(self) -> Cell:
        return self.cells[0]


@dataclass
class WeekGrid:
    monday: date
    days: list[date]
    hours: list[int]
    rows: list[list[Cell]]  # rows[hour index][day index]
    link_args: dict = field(default_factory=dict)  # kept in the links that choose a cell
    feed: dict | None = None  # the room's public feed: {feed_url, webcal_url}

    @property
    def previous_week(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def has_own(self) -> bool:
        return any(cell.own for row in self.rows for cell in row)

    def days_view(self) -> list[tuple[date, list[Run]]]:
        """Each day with its hours merged into runs of equal cells (the phone's list)."""
        view = []
        for index, day in enumerate(self.days):
            runs: list[Run] = []
            for hour, row in zip(self.hours, self.rows, strict=True):
                cell = row[index]
                if runs and runs[-1].cell.key == cell.key and runs[-1].until == hour:
                    runs[-1].until = hour + 1
                    runs[-1].cells.append(cell)
                else:
                    runs.append(Run(hour, hour + 1, [cell]))
            view.append((day, runs))
        return view


def week_start(args) -> date:
    """The week asked for (``week`` or the form's ``date``); this week when there is none, it
    is not a date, or it is more than ``SHOWN_YEARS`` away."""
    now = today()
    for key in ("week", "date"):
        try:
            asked = date.fromisoformat(args.get(key, "") or "")
        except (TypeError, ValueError):
            continue
        if abs(asked.year - now.year) <= SHOWN_YEARS:
            return asked
    return now


def week_bounds(any_day: date) -> tuple[date, datetime, datetime]:
    monday = any_day - timedelta(days=any_day.weekday())
    return monday, *local_day_bounds(monday, monday + timedelta(days=6))


def _hour_range(windows: list[WeeklyWindow]) -> list[int]:
    if not windows:
        return list(range(*DEFAULT_HOURS))
    first = min(w.start.hour for w in windows)
    last = max(24 if w.end == time(0) else w.end.hour + (1 if w.end.minute else 0) for w in windows)
    return list(range(first, last))


def _first_free_quarter(opening, busy, slot_start: datetime, now: datetime) -> datetime | None:
    """The first quarter of the hour that is open, not busy and not past."""
    for n in range(4):
        begin = slot_start + n * QUARTER
        end = begin + QUARTER
        if begin < now:
            continue
        if opening and covered_duration(opening, begin, end) < elapsed(begin, end):
            continue
        if any(item["start"] < end and begin < item["occupied_until"] for item in busy):
            continue
        return begin
    return None


def build_week(
    monday: date,
    opening: list[WeeklyWindow],
    closures: list[tuple[date, date]],
    busy: list[dict],
    now: datetime | None = None,
) -> WeekGrid:
    """The week from ``monday``; ``busy`` as ``room_availability`` gives it, an item with
    ``own`` set (a title or True) being the user's own booking."""
    now = now or datetime.now(OSLO)
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
            past = slot_start <= now
            if closed or not open_time:
                row.append(Cell("closed", past=past))
                continue
            taken = timedelta()
            labels: list[str] = []
            own: list[str] = []
            for item in busy:
                b_start, b_until = max(item["start"], slot_start), min(item["occupied_until"], slot_end)
                if b_start < b_until:
                    taken += elapsed(b_start, b_until)
                    if item.get("own"):
                        label = item["own"] if isinstance(item["own"], str) else ""
                        target = own
                    else:
                        title = f" – {item['title']}" if item.get("title") else ""
                        label = item["organization_name"] + title
                        target = labels
                    if label not in target:
                        target.append(label)
            if not labels and not own:
                start = _first_free_quarter(opening, busy, slot_start, now)
                row.append(Cell("free", start=start, past=start is None))
            else:
                row.append(Cell("busy" if taken >= open_time else "partly", labels, own, past=past))
        rows.append(row)
    return WeekGrid(monday, days, hours, rows)


def _mark_own(who: Actor, room, busy: list[dict], start: datetime, end: datetime) -> None:
    """Set ``own`` (the title) on the busy items that are bookings of the user's organisations
    in this room (or a room sharing its units)."""
    if not who.is_authenticated or not who.organization_ids or not busy:
        return
    rows = db.session.execute(
        select(Booking.start, Booking.end, Organization.name, Booking.title)
        .join(Occupancy, Occupancy.booking_id == Booking.id)
        .join(Organization, Organization.id == Booking.organization_id)
        .where(
            Booking.organization_id.in_(who.organization_ids),
            Booking.status.in_(OPEN_STATUSES),
            Occupancy.unit_id.in_(room.unit_ids),
            Occupancy.active.is_(True),
            Occupancy.overlapping(start, end),
        )
    ).all()
    mine = {(b_start, b_end, name): title for b_start, b_end, name, title in rows}
    for item in busy:
        title = mine.get((item["start"], item["end"], item["organization_name"]))
        if title is not None:
            item["own"] = title or True


def _link_args(source) -> dict:
    """What a chosen cell keeps of the form: the organisation and the length."""
    kept = {}
    organization = source.get("organization_id", "") or ""
    if organization.isascii() and organization.isdigit():
        kept["organization_id"] = organization
    try:
        begin = time.fromisoformat(source.get("start", "") or "")
        finish = time.fromisoformat(source.get("end", "") or "")
    except (TypeError, ValueError):
        return kept
    minutes = (finish.hour * 60 + finish.minute) - (begin.hour * 60 + begin.minute)
    if 0 < minutes < 24 * 60:
        kept["length"] = str(minutes)
    return kept


def room_week(room, source, who: Actor | None = None) -> WeekGrid:
    """The week of the room that ``source`` (the query or the form sent) asks for, as ``who``
    sees it."""
    who = who or actor()
    monday, start, end = week_bounds(week_start(source))
    busy = room_availability(room.id, start, end)["busy"]
    _mark_own(who, room, busy, start, end)
    week = build_week(monday, room.building.opening_windows, room.building.closure_ranges, busy)
    week.link_args = _link_args(source)
    week.feed = links.room_links(room.id)
    return week


def week_fragment(room_id: int):
    """``/rooms/<id>/week?date=…``: the grid of the week holding ``date`` (or ``week``), alone."""
    room = get_room(room_id)
    return render("_week_grid.html", 200, room=room, week=room_week(room, request.args), fragment=True)


URLS = [
    # path, endpoint, view, methods
    ("/rooms/<int:room_id>/week", "room_week", week_fragment, ["GET"]),
]
