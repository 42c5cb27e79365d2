"""``/my``: a member's organisations, their upcoming bookings and series, cancelling with the fee
shown first, each organisation's private calendar feed, and the member's choices about e-mail
(booking mails per organisation, the language of mails, a new confirmation link)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import redirect, request, url_for
from flask_babel import gettext as _

from booking.domain.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied
from booking.extensions import db
from booking.models import Booking, Organization, Series, User
from booking.models.types import utcnow
from booking.services import accounts, bookings, browse
from booking.web import feeds
from booking.web.common import CANCELLATION_RULES, notify, render, require_login, see_other
from booking.web.forms import Form
from booking.web.i18n import LANGUAGES, money
from booking.web.security import safe_next
from pricing.weekly import OSLO


@dataclass
class SeriesGroup:
    series: Series
    occurrences: list[Booking] = field(default_factory=list)


@dataclass
class OrganizationBookings:
    organization: Organization
    series: list[SeriesGroup] = field(default_factory=list)
    singles: list[Booking] = field(default_factory=list)
    feed: feeds.FeedLinks | None = None
    booking_mail: bool = True


def _group(organizations: list[Organization], upcoming: list[Booking]) -> list[OrganizationBookings]:
    groups = {o.id: OrganizationBookings(o) for o in organizations}
    series: dict[int, SeriesGroup] = {}
    for booking in upcoming:
        group = groups.get(booking.organization_id)
        if group is None:
            continue
        if booking.series_id is None:
            group.singles.append(booking)
            continue
        if booking.series_id not in series:
            series[booking.series_id] = SeriesGroup(booking.series)
            group.series.append(series[booking.series_id])
        series[booking.series_id].occurrences.append(booking)
    return list(groups.values())


def my_page():
    who = require_login()
    if who.role == "janitor":
        return redirect(url_for("web.janitor_index"), 303)
    if who.is_admin:
        return redirect(url_for("web.admin_page"), 303)
    now = utcnow()
    organizations = browse.organizations_of(who)
    groups = _group(organizations, browse.upcoming_bookings(who, now))
    mail = {choice.id: choice.booking_mail for choice in accounts.organization_mail(who.user_id)}
    for group in groups:
        group.feed = feeds.links_for(who, group.organization)
        group.booking_mail = mail.get(group.organization.id, True)
    return render(
        "my.html",
        groups=groups,
        decided=browse.recent_decisions(who, now),
        user=db.session.get(User, who.user_id),
    )


def cancel_booking_page(booking_id: int):
    """The fee first: nothing is cancelled until the user confirms (POST)."""
    who = require_login()
    booking, fee = bookings.cancel_booking(who, booking_id, dry_run=True)
    return render(
        "cancel.html", booking=booking, fee=fee, rule_text=CANCELLATION_RULES.get(fee.rule, fee.rule)
    )


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
    who = require_login()
    from_date = _from_date()
    series, fee = bookings.cancel_series(who, series_id, from_date=from_date, dry_run=True)
    now = utcnow()
    affected = [
        b
        for b in series.occurrences
        if b.status in ("pending", "confirmed")
        and b.end > now
        and (from_date is None or b.start.astimezone(OSLO).date() >= from_date)
    ]
    return render("cancel_series.html", series=series, fee_ore=fee, affected=affected, from_date=from_date)


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
