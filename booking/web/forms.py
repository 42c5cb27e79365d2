"""Form parsing for the pages: raw strings in, typed values and translated messages out.

Each form keeps what the user typed (``values``) so a page with errors shows it again, and one
message per field (``errors``) that the templates tie to their inputs (``aria-describedby``).
Business rules stay in the services; this only reads input.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from booking.domain.organizations import is_mailable, is_valid_org_number
from booking.domain.recurrence import MAX_SPAN_DAYS
from booking.models.room import ROOM_KINDS
from pricing.weekly import OSLO

LENGTHS = (30, 60, 90, 120, 150, 180, 240, 300, 360, 480)
CATEGORY_NAMES = {"free": _l("free of charge"), "reduced": _l("reduced price"), "full": _l("full price")}
KIND_NAMES = {
    "meeting_room": _l("Meeting room"),
    "rehearsal_room": _l("Rehearsal room"),
    "classroom": _l("Classroom"),
    "gym": _l("Gym"),
    "sports_hall": _l("Sports hall"),
    "hall": _l("Hall"),
}
assert set(KIND_NAMES) == set(ROOM_KINDS)
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


# The fields' labels as the error summary names them (a form's own ``labels`` come first): the
# same words as the labels on the pages, so "Date: Please choose a date." leads to the field.
FIELD_LABELS = {
    "address": _l("Address"),
    "attendees": _l("Number of people"),
    "building_id": _l("Building"),
    "capacity": _l("Capacity (people)"),
    "closure_end": _l("Last day"),
    "closure_reason": _l("Reason"),
    "closure_start": _l("First day"),
    "contact_name": _l("Name"),
    "date": _l("Date"),
    "deadline_date": _l("New deadline for answering offers"),
    "deadline_time": _l("Time"),
    "description": _l("Description"),
    "email": _l("E-mail"),
    "end": _l("To"),
    "entity_id": _l("Number (id)"),
    "from": _l("From date"),
    "kind": _l("Kind"),
    "max_advance_days": _l("Book at most this many days ahead"),
    "max_duration_minutes": _l("Longest booking (minutes)"),
    "min_duration_minutes": _l("Shortest booking (minutes)"),
    "min_notice_hours": _l("Book at least this many hours ahead"),
    "month": _l("Month"),
    "name": _l("Name"),
    "org_number": _l("Organisation number"),
    "organization_id": _l("Organisation"),
    "password": _l("Password"),
    "password_again": _l("Repeat the password"),
    "phone": _l("Phone"),
    "price_group": _l("Price group"),
    "role": _l("Role"),
    "start": _l("Start time"),
    "supervision_minimum_hours": _l("Supervision: at least this many hours"),
    "title": _l("What is it for?"),
    "to": _l("To date (inclusive)"),
    "until": _l("Last date"),
    "valid_from": _l("First day"),
    "version": _l("Name of the version"),
    "weekend_surcharge_percent": _l("Weekend and holiday rent: percent more"),
    "who": _l("Who (e-mail or user number)"),
}
_SIGNED = re.compile(r"[-+−]?[0-9]+")  # ASCII digits; a minus typed as − too


class Form:
    def __init__(self, source, labels: dict | None = None) -> None:
        self.source = source
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.labels: dict = dict(labels or {})

    @property
    def ok(self) -> bool:
        return not self.errors

    def label_of(self, name: str) -> str | None:
        """The field's label for the error summary; None for a message about the whole form."""
        label = self.labels.get(name) or FIELD_LABELS.get(name)
        return str(label) if label is not None else None

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str, default: str = "") -> str:
        value = self.source.get(name, default)
        value = (value if isinstance(value, str) else default).strip()
        self.values[name] = value
        return value

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.raw(name)
        if required and not value:
            self.error(name, _("Please fill in this field."))
        elif len(value) > max_length:
            self.error(name, _("At most %(n)s characters.", n=max_length))
        return value

    def integer(
        self,
        name: str,
        *,
        minimum: int,
        maximum: int,
        default: int | None = None,
        required: bool = False,
        too_small: str | None = None,
        too_large: str | None = None,
    ) -> int | None:
        """A whole number from ``minimum`` to ``maximum``; a number outside says which bound it
        broke (``too_small``/``too_large`` give the field's own words for it)."""
        value = self.raw(name, "" if default is None else str(default))
        if not value:
            if required:
                self.error(name, _("Please fill in this field."))
            return default
        if not _SIGNED.fullmatch(value):
            self.error(name, _("Please enter a whole number."))
            return default
        negative = value[0] in "-−"
        digits = value.lstrip("-+−").lstrip("0")
        # More digits than the maximum has is out of range: not converted (Python refuses to
        # convert more than 4300 digits, and has no need to try).
        if len(digits) > len(str(max(abs(minimum), abs(maximum)))):
            number = minimum - 1 if negative else maximum + 1
        else:
            number = int(digits or "0") * (-1 if negative else 1)
        if not minimum <= number <= maximum:
            generic = _("Please enter a number from %(min)s to %(max)s.", min=minimum, max=maximum)
            self.error(name, (too_small if number < minimum else too_large) or generic)
            return default
        return number

    def date(self, name: str, *, required: bool = True, default: date | None = None) -> date | None:
        value = self.raw(name, default.isoformat() if default else "")
        if not value:
            if required:
                self.error(name, _("Please choose a date."))
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.error(name, _("Please enter a date as YYYY-MM-DD."))
            return None
        if not 2000 <= parsed.year <= 2100:
            self.error(name, _("Please choose a date between the years 2000 and 2100."))
            return None
        return parsed

    def time(self, name: str, *, default: str = "") -> time | None:
        value = self.raw(name, default)
        match = _TIME.match(value)
        if not value:
            self.error(name, _("Please fill in a time, e.g. 18:00."))
            return None
        if not match:
            self.error(name, _("Please enter a time as HH:MM, e.g. 18:00."))
            return None
        return time(int(match.group(1)), int(match.group(2)))

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        return value in ("1", "on", "true", "yes")

    def choice(self, name: str, choices, default: str = "") -> str:
        value = self.raw(name, default)
        if value not in choices:
            self.values[name] = default
            return default
        return value


def local_instant(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, OSLO)


def today() -> date:
    return datetime.now(OSLO).date()


# --- room search ---------------------------------------------------------------------------


def search_form(args, category_choices) -> tuple[Form, dict | None]:
    """The search: date, start, length, capacity, kind, equipment, and whose price to show.
    Returns the form and, when a search was asked for and is valid, the criteria."""
    form = Form(args)
    searched = "date" in args
    day = form.date("date", default=today() + timedelta(days=1))
    start = form.time("start", default="18:00")
    length = form.integer("length", minimum=15, maximum=24 * 60, default=120)
    capacity = form.integer("capacity", minimum=1, maximum=100_000)
    kind = form.choice("kind", ROOM_KINDS)
    equipment = [tag for tag in args.getlist("equipment") if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", tag)]
    form.values["equipment"] = equipment
    price_for = form.choice("for", category_choices, next(iter(category_choices), ""))
    if day and day < today():
        form.error("date", _("Please choose today or a later date."))
    if not searched or not form.ok:
        return form, None
    begin = local_instant(day, start)
    return form, {
        "start": begin,
        "end": begin + timedelta(minutes=length),
        "length": length,
        "min_capacity": capacity,
        "kind": kind or None,
        "equipment": equipment,
        "for": price_for,
    }


# --- booking -------------------------------------------------------------------------------


# The room page's labels, for its error summary and its quote's "what is missing".
BOOKING_LABELS = {
    "organization_id": _l("Organisation"),
    "title": _l("What is it for?"),
    "date": _l("Date"),
    "start": _l("From"),
    "end": _l("To"),
    "attendees": _l("Number of people"),
    "until": _l("Last date"),
    "category": _l("Price category"),
}
CATEGORIES = ("free", "reduced", "full")


def _when(form: Form, now: datetime) -> dict | None:
    """The booking form's time: date, from, to, once or weekly until a date; checked for what
    needs no room (a time in the past, an end before the start, a series over a year)."""
    day = form.date("date")
    start = form.time("start", default="18:00")
    end = form.time("end", default="20:00")
    repeat = form.choice("repeat", ("once", "weekly"), "once")
    until = form.date("until", required=False)
    if repeat == "weekly" and not until and "until" not in form.errors:
        form.error("until", _("Please choose the last date of the weekly booking."))
    if day and day < now.date():
        form.error("date", _("That date has passed: choose today or a later date."))
    elif day and start and local_instant(day, start) < now:
        form.error("start", _("That time has passed: choose a later time."))
    if start and end and end <= start:
        form.error("end", _("The end must be after the start."))
    if repeat == "weekly" and day and until:
        if until < day:
            form.error("until", _("The last date must be on or after the first."))
        elif until > day + timedelta(days=MAX_SPAN_DAYS):
            last = day + timedelta(days=MAX_SPAN_DAYS)
            form.error(
                "until",
                _(
                    "A weekly booking can run for at most a year: choose a last date on or before %(date)s.",
                    date=last.strftime("%d.%m.%Y"),
                ),
            )
    if not form.ok:
        return None
    begin = local_instant(day, start)
    when = {"start": begin, "end": local_instant(day, end)}
    if repeat == "weekly":
        when["recurrence"] = {"rrule": f"FREQ=WEEKLY;UNTIL={until:%Y%m%d}"}
    return when


def booking_form(
    source,
    organization_ids: list[int],
    *,
    require_title: bool = True,
    capacity: int | None = None,
    now: datetime | None = None,
) -> tuple[Form, dict | None]:
    """The booking form on the room page: once, or weekly until a date. Returns the service's
    create data (without ``room_id``) when the input is complete. ``capacity`` is the room's:
    more people than it takes is said at the field."""
    form = Form(source, BOOKING_LABELS)
    choices = [str(i) for i in organization_ids]
    organization = form.raw("organization_id") or (choices[0] if len(choices) == 1 else "")
    if organization not in choices:
        form.error("organization_id", _("Please choose the organisation you book for."))
    title = form.text("title", required=require_title, max_length=200) or _("Booking")
    when = _when(form, now or datetime.now(OSLO))
    most = capacity or 100_000
    attendees = form.integer(
        "attendees",
        minimum=1,
        maximum=most,
        default=1,
        too_small=_("At least 1 person: enter how many will come."),
        too_large=_("Too many attendees: the room takes at most %(capacity)s.", capacity=most),
    )
    notes = form.text("notes", max_length=5000)
    own_supervisor = form.boolean("own_supervisor")
    public_title = form.boolean("public_title")
    skip_holidays = form.boolean("skip_holidays")
    on_conflict = form.choice("on_conflict", ("skip", "reject"), "skip")
    if not form.ok or when is None:
        return form, None
    data = {
        "organization_id": int(organization),
        "title": title,
        "start": when["start"],
        "end": when["end"],
        "attendees": attendees,
        "notes": notes,
        "own_supervisor": own_supervisor,
        "public_title": public_title,
        # Holidays are skipped in a series; a single date on a holiday is booked as asked.
        "skip_holidays": skip_holidays and "recurrence" in when,
        "on_conflict": on_conflict,
    }
    if "recurrence" in when:
        data["recurrence"] = when["recurrence"]
    return form, data


def estimate_form(source, *, now: datetime | None = None) -> tuple[Form, dict | None]:
    """The room page's price form for those who cannot book (anonymous visitors): the time, and
    whether they bring their own supervisor; priced for every category. Returns the quote
    service's input (without ``room_id`` and ``category``) when complete."""
    form = Form(source, BOOKING_LABELS)
    when = _when(form, now or datetime.now(OSLO))
    own_supervisor = form.boolean("own_supervisor")
    if when is None:
        return form, None
    return form, dict(when, own_supervisor=own_supervisor)


# --- registration --------------------------------------------------------------------------

FACTS = ("voluntary", "non_profit", "local", "registered_in_frivillighetsregisteret", "youth_activity")


def org_number_problem(value: str) -> str | None:
    """Why an organisation number is wrong, in words a treasurer understands; None when valid."""
    if not value:
        return _("Please fill in the organisation number.")
    if not value.isascii() or not value.isdigit() or len(value) != 9:
        return _("An organisation number has exactly 9 digits (you entered %(value)s).", value=value)
    if not is_valid_org_number(value):
        return _(
            "%(value)s is not a valid organisation number: the last digit (check digit) does not match. "
            "Check the number in the Brønnøysund Register Centre.",
            value=value,
        )
    return None


def registration_form(source, *, needs_password: bool) -> tuple[Form, dict | None]:
    form = Form(source)
    name = form.text("name", required=True, max_length=200)
    org_number = re.sub(r"[\s.]", "", form.raw("org_number"))
    form.values["org_number"] = org_number
    problem = org_number_problem(org_number)
    if problem:
        form.error("org_number", problem)
    contact_name = form.text("contact_name", required=True, max_length=200)
    email = form.text("email", required=True, max_length=254).lower()
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        form.error("email", _("Please enter a valid e-mail address."))
    elif email and not is_mailable(email):
        form.error("email", _("Please write the address in plain letters a–z (a domain as xn--…)."))
    phone = form.text("phone", required=True, max_length=40)
    if phone and not re.fullmatch(r"\+?[0-9 ()-]{8,20}", phone):
        form.error("phone", _("Please enter a phone number, e.g. +47 400 00 000."))
    facts = {fact: form.boolean(fact) for fact in FACTS}
    data = dict(facts, name=name, org_number=org_number, contact_name=contact_name, email=email, phone=phone)
    if needs_password:
        password = form.source.get("password", "")
        if len(password) < 10:
            form.error("password", _("Please choose a password of at least 10 characters."))
        elif password != form.source.get("password_again", ""):
            form.error("password_again", _("The two passwords differ."))
        data["password"] = password
    return form, (data if form.ok else None)
