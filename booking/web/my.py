"""``/my``: a member's organisations, their upcoming bookings and series with the price each one
keeps (its snapshot, never priced again) and totals per month, cancelling with the fee shown first
(a series date by date), what was declined or cancelled and why, each organisation's private
calendar feed, and the member's choices about e-mail (booking mails per organisation, the
language of mails, a new confirmation link)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from babel.dates import format_date, get_day_names
from babel.lists import format_list
from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from booking.domain import recurrence
from booking.domain.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied
from booking.extensions import db
from booking.models import Booking, Organization, Series, User
from booking.models.types import utcnow
from booking.services import accounts, bookings, browse
from booking.web import feeds
from booking.web.common import (
    CANCELLATION_RULES,
    LINE_NAMES,
    UNIT_NAMES,
    notify,
    render,
    require_login,
    see_other,
    status_reason_text,
)
from booking.web.forms import Form
from booking.web.i18n import LANGUAGES, language, money, span
from booking.web.security import safe_next
from booking.web.staff_people import MORE_LINE_NAMES
from pricing.cancellation import FREE_DAYS, days_before
from pricing.quotes import MOVE_CODES, RENT_CODES, SUPERVISION_CODES
from pricing.weekly import OSLO

# --- what a booking costs (its snapshot) ---------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    name: str
    quantity: int
    unit: str
    amount_ore: int


@dataclass(frozen=True)
class Price:
    """A booking's price as it was fixed when booked (``Booking.quote``), split for the page."""

    total_ore: int
    rent_ore: int
    supervision_ore: int
    moves_ore: int  # what earlier moves still owe (SPEC §11)
    lines: tuple[PriceLine, ...]

    @property
    def parts(self) -> str:
        """``rent kr 0,00, supervision kr 600,00`` (the kinds the total is made of)."""
        parts = [_("rent %(amount)s", amount=money(self.rent_ore))]
        if self.supervision_ore:
            parts.append(_("supervision %(amount)s", amount=money(self.supervision_ore)))
        if self.moves_ore:
            parts.append(_("earlier moves %(amount)s", amount=money(self.moves_ore)))
        return format_list(parts, locale=language())

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.total_ore, self.rent_ore, self.supervision_ore, self.moves_ore)


def _line_name(code: str, description: str) -> str:
    name = LINE_NAMES.get(code) or MORE_LINE_NAMES.get(code)
    return str(name) if name else description


def price_of(booking: Booking) -> Price:
    snapshot = booking.quote or {}
    lines = snapshot.get("lines") or ()

    def amount(codes) -> int:
        return sum(int(line["amount_ore"]) for line in lines if line.get("code") in codes)

    return Price(
        total_ore=int(snapshot.get("total_ore") or 0),
        rent_ore=amount(RENT_CODES),
        supervision_ore=amount(SUPERVISION_CODES),
        moves_ore=amount(MOVE_CODES),
        lines=tuple(
            PriceLine(
                _line_name(line.get("code", ""), line.get("description", "")),
                int(line.get("quantity") or 0),
                str(UNIT_NAMES.get(line.get("unit"), line.get("unit") or "")),
                int(line["amount_ore"]),
            )
            for line in lines
        ),
    )


# --- how a series repeats, in words ---------------------------------------------------------

ORDINALS = {
    1: _l("first"),
    2: _l("second"),
    3: _l("third"),
    4: _l("fourth"),
    5: _l("fifth"),
    -1: _l("last"),
    -2: _l("second to last"),
}


def repeat_pattern(series: Series) -> str:
    """``every Tuesday``, ``every other Monday and Thursday``, ``the second Tuesday of every
    month``: the series' rule in the page's language (weekdays in Oslo time)."""
    rule = recurrence.parse_rrule(series.rrule)
    first = series.start.astimezone(OSLO)
    names = get_day_names("wide", locale=language())
    weekdays = format_list([names[d] for _, d in rule.byday] or [names[first.weekday()]], locale=language())
    if rule.freq == "DAILY":
        if rule.interval == 1:
            return _("every day")
        return _("every %(num)s days", num=rule.interval)
    if rule.freq == "WEEKLY":
        if rule.interval == 1:
            return _("every %(weekdays)s", weekdays=weekdays)
        if rule.interval == 2:
            return _("every other %(weekdays)s", weekdays=weekdays)
        return _("every %(num)s weeks on %(weekdays)s", num=rule.interval, weekdays=weekdays)
    if rule.byday:
        days = format_list(
            [
                _("the %(ordinal)s %(weekday)s", ordinal=ORDINALS.get(n, str(n)), weekday=names[d])
                if n
                else names[d]
                for n, d in rule.byday
            ],
            locale=language(),
        )
        if rule.interval == 1:
            return _("%(days)s of every month", days=days)
        return _("%(days)s of every %(num)s months", days=days, num=rule.interval)
    if rule.interval == 1:
        return _("on day %(day)s of every month", day=first.day)
    return _("on day %(day)s of every %(num)s months", day=first.day, num=rule.interval)


_RANGE_FORMATS = {
    # (start in the same year, start in another year, end)
    "nb": ("dd.MM.", "dd.MM.y", "dd.MM.y"),
    "en": ("d MMM", "d MMM y", "d MMM y"),
}


def date_range(first: datetime, last: datetime) -> str:
    """``14.01.–24.06.2027`` (bokmål), ``14 Jan – 24 Jun 2027`` (English); one date alone."""
    locale = language()
    first_day, last_day = first.astimezone(OSLO).date(), last.astimezone(OSLO).date()
    same_year, other_year, end = _RANGE_FORMATS[locale]
    if first_day == last_day:
        return format_date(last_day, end, locale=locale)
    begin = format_date(
        first_day, same_year if first_day.year == last_day.year else other_year, locale=locale
    )
    dash = "–" if locale == "nb" else "\u2009–\u2009"
    return f"{begin}{dash}{format_date(last_day, end, locale=locale)}"


def series_summary(series: Series, dates: list[Booking], upcoming: bool = True) -> str:
    """``every Tuesday 18:00–20:00, 14.01.–24.06.2027 (24 upcoming dates)``."""
    values = dict(
        pattern=repeat_pattern(series),
        time=span(series.start, series.end),
        range=date_range(dates[0].start, dates[-1].start),
    )
    if upcoming:
        return ngettext(
            "%(pattern)s %(time)s, %(range)s (%(num)s upcoming date)",
            "%(pattern)s %(time)s, %(range)s (%(num)s upcoming dates)",
            len(dates),
            **values,
        )
    return ngettext(
        "%(pattern)s %(time)s, %(range)s (%(num)s date)",
        "%(pattern)s %(time)s, %(range)s (%(num)s dates)",
        len(dates),
        **values,
    )


# --- the page --------------------------------------------------------------------------------


@dataclass
class SeriesGroup:
    series: Series
    occurrences: list[Booking] = field(default_factory=list)
    summary: str = ""
    price_each: Price | None = None  # when every upcoming date costs the same
    total_ore: int = 0


@dataclass
class MonthTotal:
    label: str
    dates: int = 0
    confirmed_ore: int = 0
    pending_ore: int = 0


@dataclass
class OrganizationBookings:
    organization: Organization
    series: list[SeriesGroup] = field(default_factory=list)
    singles: list[Booking] = field(default_factory=list)
    feed: feeds.FeedLinks | None = None
    booking_mail: bool = True
    months: list[MonthTotal] = field(default_factory=list)
    total: MonthTotal | None = None


@dataclass
class Decision:
    """What happened to a booking, or to the dates of a series alike (same status and reason)."""

    status: str
    reason: str
    occurrences: list[Booking]
    summary: str = ""
    fee_ore: int | None = None  # cancellation fees charged, when cancelled

    @property
    def first(self) -> Booking:
        return self.occurrences[0]


def _totals(group: OrganizationBookings, upcoming: list[Booking], prices: dict[int, Price]) -> None:
    months: dict[tuple[int, int], MonthTotal] = {}
    total = MonthTotal(_("Total"))
    for booking in upcoming:
        local = booking.start.astimezone(OSLO)
        month = months.setdefault(
            (local.year, local.month), MonthTotal(format_date(local.date(), "LLLL y", locale=language()))
        )
        amount = prices[booking.id].total_ore
        for bucket in (month, total):
            bucket.dates += 1
            if booking.status == "pending":
                bucket.pending_ore += amount
            else:
                bucket.confirmed_ore += amount
    group.months = [months[key] for key in sorted(months)]
    group.total = total if upcoming else None


def _group(
    organizations: list[Organization], upcoming: list[Booking], prices: dict[int, Price]
) -> list[OrganizationBookings]:
    groups = {o.id: OrganizationBookings(o) for o in organizations}
    series: dict[int, SeriesGroup] = {}
    mine: dict[int, list[Booking]] = {o.id: [] for o in organizations}
    for booking in upcoming:
        group = groups.get(booking.organization_id)
        if group is None:
            continue
        mine[booking.organization_id].append(booking)
        if booking.series_id is None:
            group.singles.append(booking)
            continue
        if booking.series_id not in series:
            series[booking.series_id] = SeriesGroup(booking.series)
            group.series.append(series[booking.series_id])
        series[booking.series_id].occurrences.append(booking)
    for sg in series.values():
        sg.summary = series_summary(sg.series, sg.occurrences)
        dated = [prices[b.id] for b in sg.occurrences]
        sg.total_ore = sum(p.total_ore for p in dated)
        sg.price_each = dated[0] if len({p.key for p in dated}) == 1 else None
    for group in groups.values():
        _totals(group, mine[group.organization.id], prices)
    return list(groups.values())


def _decisions(decided: list[Booking]) -> list[Decision]:
    """Declined and cancelled bookings, the dates of one series with the same outcome together."""
    entries: list[Decision] = []
    together: dict[tuple, Decision] = {}
    for booking in decided:
        reason = status_reason_text(booking.status_reason)
        fee = (booking.cancellation_fee or {}).get("total_ore") if booking.status == "cancelled" else None
        key = (booking.series_id, booking.status, reason)
        if booking.series_id is not None and key in together:
            entry = together[key]
            entry.occurrences.append(booking)
            if fee is not None:
                entry.fee_ore = (entry.fee_ore or 0) + int(fee)
            continue
        entry = Decision(str(booking.status), reason, [booking], fee_ore=None if fee is None else int(fee))
        entries.append(entry)
        if booking.series_id is not None:
            together[key] = entry
    for entry in entries:
        if len(entry.occurrences) > 1:
            entry.summary = series_summary(entry.first.series, entry.occurrences, upcoming=False)
    return entries


def my_page():
    who = require_login()
    if who.role == "janitor":
        return redirect(url_for("web.janitor_index"), 303)
    if who.is_admin:
        return redirect(url_for("web.admin_page"), 303)
    now = utcnow()
    organizations = browse.organizations_of(who)
    upcoming = browse.upcoming_bookings(who, now)
    prices = {booking.id: price_of(booking) for booking in upcoming}
    groups = _group(organizations, upcoming, prices)
    mail = {choice.id: choice.booking_mail for choice in accounts.organization_mail(who.user_id)}
    for group in groups:
        group.feed = feeds.links_for(who, group.organization)
        group.booking_mail = mail.get(group.organization.id, True)
    return render(
        "my.html",
        groups=groups,
        prices=prices,
        decided=_decisions(browse.recent_decisions(who, now)),
        user=db.session.get(User, who.user_id),
    )


def cancel_booking_page(booking_id: int):
    """The fee first: nothing is cancelled until the user confirms (POST)."""
    who = require_login()
    booking, fee = bookings.cancel_booking(who, booking_id, dry_run=True)
    return render(
        "cancel.html",
        booking=booking,
        fee=fee,
        rule_text=_rule_text(booking, fee.rule, utcnow()),
        price=price_of(booking),
    )


def _rule_text(booking: Booking, rule: str, now: datetime) -> str:
    """The rule's words; a request not approved yet is free to withdraw at any time, which the
    14 days' rule (the code a withdrawal is given) says only of a start 14 days or more ahead."""
    if booking.status == "pending" and rule == "free_14_days" and now > days_before(booking.start, FREE_DAYS):
        rule = "withdraw"
    return str(CANCELLATION_RULES.get(rule, rule))


def cancel_booking_submit(booking_id: int):
    who = require_login()
    try:
        booking, fee = bookings.cancel_booking(
            who, booking_id, reason=request.form.get("reason", "").strip()[:500]
        )
    except (PermissionDenied, NotFound, NotAuthenticated):
        raise
    except DomainError as error:
        notify(_("The booking could not be cancelled: %(detail)s", detail=error.detail), "error")
        return see_other("web.my_page")
    notify(
        _("Cancelled “%(title)s”. Cancellation fee: %(fee)s.", title=booking.title, fee=money(fee.total_ore))
    )
    return see_other("web.my_page")


def _from_date() -> date | None:
    try:
        return date.fromisoformat(request.values.get("from", ""))
    except ValueError:
        return None


def cancel_series_page(series_id: int):
    """Every date that would be cancelled with its fee and the rule behind it, then the total."""
    who = require_login()
    from_date = _from_date()
    now = utcnow()
    series, fee = bookings.cancel_series(who, series_id, from_date=from_date, dry_run=True, now=now)
    dates = [
        (booking, charged, _rule_text(booking, charged.rule, now))
        for booking, charged in bookings.series_cancellation_fees(who, series_id, from_date, now)
    ]
    return render(
        "cancel_series.html",
        series=series,
        fee_ore=fee,
        affected=[booking for booking, _, _ in dates],
        dates=dates,
        summary=series_summary(series, [b for b, _, _ in dates]) if dates else "",
        from_date=from_date,
    )


def cancel_series_submit(series_id: int):
    who = require_login()
    try:
        series, fee = bookings.cancel_series(
            who, series_id, from_date=_from_date(), reason=request.form.get("reason", "").strip()[:500]
        )
    except (PermissionDenied, NotFound, NotAuthenticated):
        raise
    except DomainError as error:
        notify(_("The series could not be cancelled: %(detail)s", detail=error.detail), "error")
        return see_other("web.my_page")
    notify(
        _("Cancelled the series “%(title)s”. Cancellation fee: %(fee)s.", title=series.title, fee=money(fee))
    )
    return see_other("web.my_page")


def rotate_feed_submit(organization_id: int):
    who = require_login()
    try:
        feeds.rotate(who, organization_id)
    except (PermissionDenied, NotFound, NotAuthenticated):
        raise
    except DomainError as error:
        notify(_("The calendar link could not be renewed: %(detail)s", detail=error.detail), "error")
        return see_other("web.my_page")
    notify(_("New calendar link made. The old link no longer works: update it in your calendar app."))
    return redirect(url_for("web.my_page") + f"#feed-{organization_id}", 303)


def booking_mail_submit(organization_id: int):
    """The member's choice of booking mails about one organisation (an unticked box is off)."""
    who = require_login()
    on = Form(request.form).boolean("booking_mail")
    choice = accounts.set_booking_mail(who, organization_id, on)
    if on:
        notify(_("You will get e-mails about the bookings of %(name)s.", name=choice.name))
    else:
        notify(_("You will no longer get e-mails about the bookings of %(name)s.", name=choice.name))
    return redirect(url_for("web.my_page") + f"#mail-{organization_id}", 303)


def mail_language_submit():
    """The language of the user's e-mails (members on ``/my``, janitors on their day sheet)."""
    who = require_login()
    chosen = request.form.get("language", "")
    accounts.set_language(who, chosen)
    notify(_("Language of your e-mails: %(language)s.", language=LANGUAGES[chosen]))
    return redirect(safe_next(request.form.get("next"), url_for("web.my_page")), 303)


def resend_confirmation_submit():
    """A new link to confirm the address (the first one is valid 48 hours)."""
    who = require_login()
    user = db.session.get(User, who.user_id)
    if user.email_confirmed_at is not None:
        notify(_("Your e-mail address is confirmed already."))
    else:
        accounts.request_email_confirmation(user)
        notify(_("We have sent a new link to %(email)s. It is valid for 48 hours.", email=user.email))
    return see_other("web.my_page")
