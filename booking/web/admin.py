"""``/admin``: requests to approve, competing requests with the suggested winner, new
organisations to verify (with their proposed price category and, next to what they said, what
the national register says about them), and mail that could not be delivered."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_babel import ngettext

from booking.domain.errors import BookingConflict, DomainError, NotAuthenticated, PermissionDenied
from booking.extensions import db
from booking.models.types import utcnow
from booking.services import bookings, browse, notifications, organizations, registry
from booking.services.access import require_admin
from booking.services.availability import competing_requests
from booking.web.common import notify, render, require_login, see_other
from pricing import CATEGORIES


def admin_page():
    who = require_login()
    require_admin(who)
    groups = competing_requests(who)
    for group in groups:  # the suggested winner first
        group["requests"].sort(key=lambda b: b.id != group["suggested_winner_id"])
    in_groups = {b.id for group in groups for b in group["requests"]}
    pending = [b for b in browse.pending_requests(who, utcnow()) if b.id not in in_groups]
    rooms = browse.rooms_by_id(b.room_id for group in groups for b in group["requests"])
    # Rejected organisations are not waiting for a decision (verifying one through the API lifts it).
    unverified = [
        o
        for o in db.session.execute(organizations.list_organizations(who, verified=False)).scalars()
        if o.rejected_at is None
    ]
    register = registry.facts_for_many(o.org_number for o in unverified)
    comparisons = {o.id: registry.compare(o, register.get(o.org_number)) for o in unverified}
    failed_mail = list(
        db.session.execute(notifications.outbox_messages(who, "failed").limit(FAILED_MAIL_SHOWN)).scalars()
    )
    return render(
        "admin.html",
        groups=groups,
        pending=pending,
        rooms=rooms,
        unverified=unverified,
        comparisons=comparisons,
        register_loaded=bool(register) or (bool(unverified) and registry.is_loaded()),
        categories=CATEGORIES,
        failed_mail=failed_mail,
    )


FAILED_MAIL_SHOWN = 20  # the newest; all of them: GET /api/v1/outbox?state=failed


def retry_mail_submit(message_id: int):
    """Send an undeliverable mail again (after the address was mended)."""
    who = require_login()
    require_admin(who)
    try:
        message = notifications.retry_message(who, message_id)
    except DomainError as error:
        return _fail(error, _("Could not send mail #%(id)s again", id=message_id))
    notify(_("The mail to %(address)s will be sent again.", address=message.recipient))
    return see_other("web.admin_page")


def _fail(error: DomainError, what: str):
    if isinstance(error, (PermissionDenied, NotAuthenticated)):
        raise error  # a 403 page, not a message on a page the user may not see
    if isinstance(error, BookingConflict):
        notify(_("%(what)s: the time is taken by a confirmed booking.", what=what), "error")
    else:
        notify(_("%(what)s: %(detail)s", what=what, detail=error.detail), "error")
    return see_other("web.admin_page")


def approve_submit(booking_id: int):
    who = require_login()
    require_admin(who)
    try:
        booking = bookings.approve_booking(who, booking_id)
    except DomainError as error:
        return _fail(error, _("Could not approve request #%(id)s", id=booking_id))
    notify(
        _(
            "Approved “%(title)s” for %(organization)s. Competing requests were declined.",
            title=booking.title,
            organization=booking.organization.name,
        )
    )
    return see_other("web.admin_page")


def reject_submit(booking_id: int):
    who = require_login()
    require_admin(who)
    reason = request.form.get("reason", "").strip()[:500]
    try:
        booking = bookings.reject_booking(who, booking_id, reason or "Not approved")
    except DomainError as error:
        return _fail(error, _("Could not decline request #%(id)s", id=booking_id))
    notify(
        _(
            "Declined “%(title)s” for %(organization)s.",
            title=booking.title,
            organization=booking.organization.name,
        )
    )
    return see_other("web.admin_page")


def verify_submit(organization_id: int):
    who = require_login()
    require_admin(who)
    category = request.form.get("price_category", "")
    if category not in CATEGORIES:
        notify(_("Please choose a price category."), "error")
        return see_other("web.admin_page")
    try:
        organization = organizations.update_organization(
            who, organization_id, {"verified": True, "price_category": category}
        )
    except DomainError as error:
        return _fail(error, _("Could not verify organisation #%(id)s", id=organization_id))
    notify(_("Verified %(name)s.", name=organization.name))
    if organizations.count_repriceable(organization):
        # Confirmed prices never change by themselves (SPEC §11): the admin decides, next page.
        return see_other("web.reprice_page", organization_id=organization.id)
    return see_other("web.admin_page")


def reject_organization_submit(organization_id: int):
    """Reject an organisation (SPEC §13): it can book nothing and its open requests are
    declined."""
    who = require_login()
    require_admin(who)
    try:
        organization = organizations.reject_organization(who, organization_id)
    except DomainError as error:
        return _fail(error, _("Could not reject organisation #%(id)s", id=organization_id))
    notify(_("Rejected %(name)s. Its open requests were declined.", name=organization.name))
    return see_other("web.admin_page")


def reprice_page(organization_id: int):
    """How many confirmed bookings keep a price of another category, and the one explicit
    action that re-prices them (SPEC §11)."""
    who = require_login()
    require_admin(who)
    organization = organizations.get_organization(organization_id)
    count = organizations.count_repriceable(organization)
    return render("reprice.html", organization=organization, count=count)


def reprice_submit(organization_id: int):
    who = require_login()
    require_admin(who)
    repriced = organizations.reprice_bookings(who, organization_id)
    notify(
        ngettext(
            "Re-priced %(num)d booking.",
            "Re-priced %(num)d bookings.",
            len(repriced),
        )
    )
    return see_other("web.admin_page")
