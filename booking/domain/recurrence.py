"""Recurring bookings: a validated subset of RFC 5545 RRULE, expanded in Oslo wall-clock time.

Supported parts: ``FREQ`` (``DAILY``, ``WEEKLY``, ``MONTHLY``), ``INTERVAL``, ``BYDAY`` (plain days
like ``MO,WE``; ordinal days like ``2TU`` or ``-1FR`` only with ``FREQ=MONTHLY``), and exactly one
of ``UNTIL`` or ``COUNT``. Anything else is rejected with ``InvalidInput({"recurrence": [...]})``.
Names are case-insensitive and an ``RRULE:`` prefix is accepted.

Decisions (documented here because feeds, services and the API rely on them):

- The series start is the first occurrence and must itself match the rule (a Monday start with
  ``BYDAY=TU`` is rejected). RFC 5545 leaves an unsynchronised DTSTART undefined and calendar
  clients disagree about it, so we refuse it instead of guessing.
- Limits: at most ``MAX_OCCURRENCES`` (200) occurrences, and the last occurrence may start at
  most ``MAX_SPAN_DAYS`` (366) days after the first. A rule that goes beyond is rejected, never
  silently truncated; a rule with neither ``UNTIL`` nor ``COUNT`` is rejected as unbounded.
- ``UNTIL`` is inclusive and may be a date (``20261215``: through the end of that day in Oslo),
  a local date-time (``20261215T180000``, Oslo time) or UTC (``20261215T170000Z``). It is
  compared with each occurrence's real start instant. :func:`normalize_rrule` always writes the
  UTC form, which iCal requires when DTSTART carries a TZID.
- Expansion is done by ``dateutil.rrule`` on naive Oslo wall-clock times, so a series at 18:00
  stays at 18:00 across the DST changes; every occurrence keeps the wall-clock duration of the
  first. A wall time that does not exist (spring-forward gap, e.g. 02:30 on 2026-03-29) moves
  forward by the gap (to 03:30) together with its end; an ambiguous wall time (fall-back, e.g.
  02:30 on 2026-10-25) takes its first occurrence (``fold=0``, summer time). The first
  occurrence is always exactly the given start and end. Because durations are wall-clock, an
  occurrence that itself spans a DST change is an hour longer or shorter in real time.
- ``FREQ=MONTHLY`` without ``BYDAY`` repeats on the start's day of the month and, as RFC 5545
  says, skips months without that day (a series on the 31st skips April).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil import rrule as du

from booking.domain.errors import InvalidInput
from booking.domain.timeslots import occupied_until
from pricing.weekly import OSLO

MAX_OCCURRENCES = 200
MAX_SPAN_DAYS = 366
# Beyond a year no rule in the supported subset can have a second occurrence within the span
# limit; the cap also keeps absurd numbers away from int() and dateutil.
MAX_INTERVAL = 366

FREQUENCIES = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY}
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ALLOWED_PARTS = ("FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT")

_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_BYDAY_ITEM = re.compile(r"([+-]?)([0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)
_UNTIL_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
_UNTIL_DATETIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})(Z?)", re.ASCII)


@dataclass(frozen=True)
class RecurrenceRule:
    """A parsed rule. ``byday`` holds ``(ordinal, weekday)`` pairs, ordinal ``None`` for plain
    days and weekday 0 = Monday; ``until`` is the inclusive last start instant (aware, UTC)."""

    freq: str
    interval: int = 1
    byday: tuple[tuple[int | None, int], ...] = ()
    until: datetime | None = None
    count: int | None = None

    def to_rrule_string(self) -> str:
        """The canonical text: parts in the order FREQ, INTERVAL (left out when 1), BYDAY,
        UNTIL (UTC ``Z`` form) or COUNT."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(f"{n or ''}{DAY_CODES[d]}" for n, d in self.byday))
        if self.until is not None:
            parts.append("UNTIL=" + self.until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        return ";".join(parts)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput({"recurrence": [message]})


def _local_to_aware(wall: datetime) -> datetime:
    """Attach Oslo time to a naive wall-clock time: a time in the spring-forward gap moves
    forward by the gap, an ambiguous one takes its first occurrence (fold=0)."""
    # With fold=0 zoneinfo reads a gap time with the offset before the change; the round trip
    # through UTC turns that into the real instant, 02:30 -> 03:30 CEST.
    return wall.replace(tzinfo=OSLO, fold=0).astimezone(UTC).astimezone(OSLO)


def _parse_number(name: str, text: str, low: int, high: int, limit_message: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise _invalid(f"{name} must be a whole number, got {text!r}.")
    # Compare the length first so a value like 10**9 or a 5000-digit string never reaches int().
    if len(text.lstrip("0")) > len(str(high)) or not low <= int(text) <= high:
        raise _invalid(limit_message)
    return int(text)


def _parse_until(text: str) -> datetime:
    try:
        if match := _UNTIL_DATE.fullmatch(text):
            # A date means "through that day": the last second of the day in Oslo.
            day = date(*(int(g) for g in match.groups()))
            return _local_to_aware(datetime.combine(day, time(23, 59, 59))).astimezone(UTC)
        if match := _UNTIL_DATETIME.fullmatch(text):
            *numbers, utc_marker = match.groups()
            # Naive on purpose: a wall-clock time, resolved in Oslo below unless marked Z.
            wall = datetime(*(int(g) for g in numbers))  # noqa: DTZ001
            if utc_marker:
                return wall.replace(tzinfo=UTC)
            return _local_to_aware(wall).astimezone(UTC)
    except ValueError:
        pass  # a well-formed but impossible date such as 20260231
    raise _invalid(
        "UNTIL must be a date (20261215), a local time (20261215T180000) or UTC (20261215T170000Z), "
        f"got {text!r}."
    )


def _parse_byday(text: str, freq: str) -> tuple[tuple[int | None, int], ...]:
    items: list[tuple[int | None, int]] = []
    for item in text.split(","):
        match = _BYDAY_ITEM.fullmatch(item.strip())
        if not match:
            raise _invalid(f"BYDAY must list days like MO,WE or, monthly, 2TU or -1FR; got {item!r}.")
        sign, number, day = match.groups()
        ordinal: int | None = None
        if number is not None:
            if freq != "MONTHLY":
                raise _invalid(f"Numbered days like {item} are only allowed with FREQ=MONTHLY.")
            ordinal = int(number) * (-1 if sign == "-" else 1)
            if not 1 <= abs(ordinal) <= 5:
                raise _invalid(
                    f"A numbered day must be 1 to 5 or -1 to -5 (a month has at most five), got {item}."
                )
        elif sign:
            raise _invalid(f"BYDAY {item!r} has a sign but no number.")
        pair = (ordinal, DAY_CODES.index(day))
        if pair not in items:
            items.append(pair)
    return tuple(items)


def parse_rrule(rrule: str) -> RecurrenceRule:
    """Parse and validate the syntax of a rule in the supported subset.

    Raises ``InvalidInput({"recurrence": [message]})`` for anything outside it. The limits that
    depend on the start (occurrence count and span) are checked by :func:`expand`.
    """
    if not isinstance(rrule, str) or not rrule.strip():
        raise _invalid("A recurrence rule is required, e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=10.")
    text = rrule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts: dict[str, str] = {}
    for raw in text.split(";"):
        name, sep, value = raw.partition("=")
        # RFC 5545 names and values are case-insensitive; messages quote the raw part.
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not name or not value:
            raise _invalid(f"Each part of the rule must look like NAME=VALUE, got {raw.strip()!r}.")
        if name not in _ALLOWED_PARTS:
            raise _invalid(f"{name} is not supported; use only {', '.join(_ALLOWED_PARTS)}.")
        if name in parts:
            raise _invalid(f"{name} appears more than once.")
        parts[name] = value

    freq = parts.get("FREQ")
    if freq is None:
        raise _invalid("FREQ is required.")
    if freq not in FREQUENCIES:
        raise _invalid(f"FREQ must be DAILY, WEEKLY or MONTHLY, got {freq}.")
    interval = 1
    if "INTERVAL" in parts:
        interval = _parse_number(
            "INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL, f"INTERVAL must be between 1 and {MAX_INTERVAL}."
        )
    byday = _parse_byday(parts["BYDAY"], freq) if "BYDAY" in parts else ()
    if "UNTIL" in parts and "COUNT" in parts:
        raise _invalid("Use either UNTIL or COUNT, not both.")
    if "UNTIL" not in parts and "COUNT" not in parts:
        raise _invalid(
            f"The series must end: add UNTIL or COUNT (at most {MAX_OCCURRENCES} occurrences "
            f"within {MAX_SPAN_DAYS} days)."
        )
    until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
    count = None
    if "COUNT" in parts:
        count = _parse_number(
            "COUNT",
            parts["COUNT"],
            1,
            MAX_OCCURRENCES,
            f"COUNT must be between 1 and {MAX_OCCURRENCES}; "
            f"a series has at most {MAX_OCCURRENCES} occurrences.",
        )
    return RecurrenceRule(freq=freq, interval=interval, byday=byday, until=until, count=count)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        # The API edge turns naive input into Oslo time; a naive value here is a bug.
        raise ValueError(f"{name} must be an aware datetime")


def _wall_starts(rule: RecurrenceRule, start: datetime) -> list[datetime]:
    """Naive Oslo wall-clock starts of every occurrence, after checking the limits."""
    _require_aware("start", start)
    first_wall = start.astimezone(OSLO).replace(tzinfo=None)
    # dateutil drops microseconds from DTSTART; carry them over by hand.
    micro = timedelta(microseconds=first_wall.microsecond)
    byweekday = [du.weekday(d, n) for n, d in rule.byday] or None
    # UNTIL is not handed to dateutil: it is an instant and is compared with each occurrence's
    # real start below, so the date, local and UTC forms of one UNTIL give the same series.
    recurrence = du.rrule(
        FREQUENCIES[rule.freq],
        dtstart=first_wall.replace(microsecond=0),
        interval=rule.interval,
        byweekday=byweekday,
        count=rule.count,
    )
    last_allowed = first_wall + timedelta(days=MAX_SPAN_DAYS)
    walls: list[datetime] = []
    # Lazy iteration: an over-long rule is detected after at most MAX_OCCURRENCES + 1 steps.
    for occurrence in recurrence:
        wall = occurrence + micro
        # The first occurrence is the given start itself, which keeps its fold when the start is
        # the second 02:30 of the autumn change.
        instant = start if not walls else _local_to_aware(wall)
        if rule.until is not None and instant > rule.until:
            break
        if not walls and wall != first_wall:
            raise _invalid(
                f"The start ({first_wall:%a %Y-%m-%d %H:%M}) must itself be an occurrence of the rule; "
                "move the start to the first day the rule gives."
            )
        if len(walls) >= MAX_OCCURRENCES:
            raise _invalid(
                f"The series has more than {MAX_OCCURRENCES} occurrences; at most {MAX_OCCURRENCES} are "
                "allowed. Use an earlier UNTIL or a smaller COUNT."
            )
        if wall > last_allowed:
            raise _invalid(
                f"The series runs past {last_allowed:%Y-%m-%d}: the last occurrence may start at most "
                f"{MAX_SPAN_DAYS} days after the first. Use an earlier UNTIL or a smaller COUNT."
            )
        walls.append(wall)
    if not walls:
        # Either UNTIL lies before the start or the start does not match the rule at all.
        if rule.until is not None and rule.until < start:
            raise _invalid("UNTIL is before the start of the series.")
        raise _invalid(
            f"The start ({first_wall:%a %Y-%m-%d %H:%M}) must itself be an occurrence of the rule; "
            "move the start to the first day the rule gives."
        )
    return walls


def expand(rrule: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Every occurrence of the series whose first occurrence is ``[start, end)``.

    ``start`` and ``end`` must be aware and ``end`` after ``start``. Occurrences are computed in
    Oslo wall-clock time: each starts at the first start's local time of day and lasts the same
    wall-clock duration; they are returned as aware Oslo datetimes in time order. See the module
    docstring for the limits and the DST decisions.
    """
    rule = parse_rrule(rrule)
    _require_aware("end", end)
    if end <= start:
        raise InvalidInput({"end": ["The end must be after the start."]})
    wall_duration = end.astimezone(OSLO).replace(tzinfo=None) - start.astimezone(OSLO).replace(tzinfo=None)
    # The first occurrence is exactly the requested one; the rest are built from wall times.
    occurrences = [(start.astimezone(OSLO), end.astimezone(OSLO))]
    for wall in _wall_starts(rule, start)[1:]:
        occurrence_start = _local_to_aware(wall)
        # Start from the resolved start so a start moved out of a DST gap drags its end along.
        occurrence_end = _local_to_aware(occurrence_start.replace(tzinfo=None) + wall_duration)
        occurrences.append((occurrence_start, occurrence_end))
    return occurrences


def normalize_rrule(rrule: str, start: datetime) -> str:
    """The canonical text of a valid rule for storage and iCal feeds (without ``RRULE:``).

    The rule is validated against ``start`` exactly as :func:`expand` does, and ``UNTIL`` is
    written in UTC (``20261215T225959Z``) as iCal requires when DTSTART has a TZID. Expanding the
    normalised rule gives the same occurrences as the original.
    """
    rule = parse_rrule(rrule)
    _wall_starts(rule, start)
    return rule.to_rrule_string()


def overlapping_occurrences(
    occurrences: list[tuple[datetime, datetime]], buffer_minutes: int
) -> list[tuple[datetime, datetime]]:
    """The starts of each pair of consecutive occurrences that overlap, the room's changeover
    buffer included (a series longer than its interval could never hold all its occurrences).
    Occurrences are in start order, so any overlap shows between neighbours."""
    return [
        (first_start, second_start)
        for (first_start, first_end), (second_start, _) in zip(occurrences, occurrences[1:], strict=False)
        if second_start < occupied_until(first_end, buffer_minutes)
    ]
