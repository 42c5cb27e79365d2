"""``/admin``: requests to approve, competing requests with the suggested winner, new
organisations to verify (with their proposed price category and, next to what they said, what
the national register says about them), and mail that could not be delivered."""

from __future__ import annotations

import re

from flask import request
from flask_babel import gettext as _
from flask_babel import ngettext

from booking.domain.errors import (
    BookingConflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    StateConflict,
)
from booking.domain.lifecycle import Status
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


def approve_page(booking_id: int):
    """What approving a request does (SPEC §15): the competing requests it will decline, with
    their organisations, times and attendees; the button carries their ids, so the approval
    declines exactly these or nothing (``approve_submit``)."""
    who = require_login()
    require_admin(who)
    return _confirmation(who, booking_id)


def _confirmation(who, booking_id: int, *, status: int = 200, changed: bool = False):
    booking = bookings.get_booking(who, booking_id)
    pending = booking.status is Status.PENDING
    return render(
        "admin_approve.html",
        status,
        booking=booking,
        pending=pending,
        rejections=bookings.approval_rejections(who, booking_id) if pending else [],
        changed=changed,
    )


_ID = re.compile(r"[0-9]{1,12}")


def _shown_rejections() -> set[int] | None:
    """The ids of the competing requests the admin was shown (the form's hidden ``reject``
    fields; none is none), or None for a value that is no id."""
    values = request.form.getlist("reject")
    if not all(_ID.fullmatch(value) for value in values):
        return None
    return {int(value) for value in values}


def approve_submit(booking_id: int):
    """Approve a request and decline the competing requests the admin was shown. If others
    would be declined now (one arrived or was withdrawn since), nothing is approved and the
    confirmation is shown again with what approving would do now."""
    who = require_login()
    require_admin(who)
    shown = _shown_rejections()
    if shown is None:
        raise InvalidInput({"reject": ["Each value must be the id of a request."]})
    try:
        booking = bookings.approve_booking(who, booking_id, expected_rejections=shown)
    except StateConflict as error:
        if "would_reject" not in error.extra:
            return _fail(error, _("Could not approve request #%(id)s", id=booking_id))
        # Shown from the form: the page said which requests it declines (and they changed since);
        # without it (a form of an older page), approving needs the confirmation first.
        return _confirmation(who, booking_id, status=409, changed="shown" in request.form)
    except DomainError as error:
        return _fail(error, _("Could not approve request #%(id)s", id=booking_id))
    if shown:
        notify(
            ngettext(
                "Approved “%(title)s” for %(organization)s. %(num)d competing request was declined.",
                "Approved “%(title)s” for %(organization)s. %(num)d competing requests were declined.",
                len(shown),
                title=booking.title,
                organization=booking.organization.name,
            )
        )
    else:
        notify(
            _(
                "Approved “%(title)s” for %(organization)s.",
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


# The pages of this module that the pages' blueprint adds (path, endpoint, view, methods).
URLS = [
    ("/admin/bookings/<int:booking_id>/approve", "approve_page", approve_page, ["GET"]),
]
