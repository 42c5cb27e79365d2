"""Logging in and out, an association registering itself, confirming the e-mail address and
choosing a new password with a mailed link."""

from __future__ import annotations

import re

from flask import redirect, request, url_for
from flask_babel import gettext as _

from booking.domain.errors import InvalidInput, NotAuthenticated, StateConflict
from booking.services import accounts
from booking.services.auth import AddressNotConfirmed, authenticate_password
from booking.services.organizations import receive_registration
from booking.web.common import actor, notify, render, see_other
from booking.web.forms import FACTS, Form, org_number_problem, registration_form
from booking.web.i18n import language
from booking.web.security import log_in, log_out, safe_next

# Pages reached by a mailed link hold its token in their address: kept out of caches.
PRIVATE = {"Cache-Control": "no-store"}


def _home_for(role: str) -> str:
    return {"admin": "/admin", "janitor": "/janitor"}.get(role, "/my")


def login_page():
    form = Form(request.args)
    form.raw("email")
    return render("login.html", form=form, next=safe_next(request.args.get("next"), ""))


def login_submit():
    """Log in with e-mail and password. A user whose address is unconfirmed (and only with the
    right password, so the answer tells nobody else anything) is not logged in: the page says
    so and mails a new link at once (at most one per five minutes, ``accounts.LINK_MAIL_INTERVAL``;
    the login form's rate limit applies as to every attempt). That answer is a 200: the request
    did its work (the mail), and a page below 400 commits it."""
    form = Form(request.form)
    email = form.raw("email")
    next_path = safe_next(request.form.get("next"), "")
    try:
        user = authenticate_password(email, request.form.get("password", ""))
    except NotAuthenticated:
        form.error("password", _("Wrong e-mail or password."))
        return render("login.html", 401, form=form, next=next_path)
    except AddressNotConfirmed as refused:
        accounts.request_email_confirmation(refused.user)
        return render("login.html", form=form, next=next_path, unconfirmed=refused.user.email)
    log_in(user.id)
    return redirect(next_path or _home_for(user.role), 303)


def logout_submit():
    """End the session on the server too: a copy of the cookie is refused from now on."""
    log_out()
    notify(_("You are logged out."))
    return see_other("web.search_page")


def register_page():
    return render(
        "register.html", form=Form(request.args), facts=FACTS, needs_password=not actor().is_authenticated
    )


def register_submit():
    """Register an organisation. Nobody is logged in by it: an anonymous registrant confirms the
    address with the mailed link first (SPEC §13), and gets the same page whether or not the
    number or the address is registered already (the address gets a mail that says so). The
    page shows the registration as received next to what the register says about the number.
    A logged-in member registering another organisation gets the same page with a link to it;
    a taken number is told to them on the form (409), as the API does."""
    who = actor()
    needs_password = not who.is_authenticated
    form, data = registration_form(request.form, needs_password=needs_password)
    if data is None:
        return render("register.html", 422, form=form, facts=FACTS, needs_password=needs_password)
    try:
        registration = receive_registration(who, data, language=language())
    except InvalidInput as error:
        if "org_number" in error.errors:
            form.error("org_number", org_number_problem(data["org_number"]) or error.errors["org_number"][0])
        else:
            form.error("name", "; ".join(m for ms in error.errors.values() for m in ms))
        return render("register.html", 422, form=form, facts=FACTS, needs_password=needs_password)
    except StateConflict:
        form.error(
            "org_number",
            _("The organisation number %(number)s is registered already.", number=data["org_number"]),
        )
        return render("register.html", 409, form=form, facts=FACTS, needs_password=needs_password)
    return render(
        "registered.html",
        receipt=registration.receipt,
        organization=registration.organization,
        facts=FACTS,
        stated=data,
    )


# --- e-mail address confirmation ---------------------------------------------------------------


def _invalid_link_message(error: accounts.InvalidLink) -> str:
    if error.expired:
        return _("The link has expired.")
    return _("The link is not valid, or it has been used already.")


def confirm_email_page(token: str):
    """A button, not the confirmation: mail scanners open links, and a GET changes nothing."""
    try:
        user = accounts.user_for_link(token, accounts.CONFIRM)
    except accounts.InvalidLink as error:
        page, status = render("confirm_email.html", 400, problem=_invalid_link_message(error), token=token)
        return page, status, PRIVATE
    page, status = render("confirm_email.html", user=user, problem=None, token=token)
    return page, status, PRIVATE


def confirm_email_submit(token: str):
    try:
        user = accounts.confirm_email(token)
    except accounts.InvalidLink as error:
        page, status = render("confirm_email.html", 400, problem=_invalid_link_message(error), token=token)
        return page, status, PRIVATE
    notify(_("Thank you: the e-mail address %(email)s is confirmed.", email=user.email))
    if actor().user_id == user.id:
        return redirect(_home_for(user.role), 303)
    return redirect(url_for("web.login", email=user.email), 303)


# --- password reset ------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def password_reset_page():
    form = Form(request.args)
    form.raw("email")
    return render("password_reset.html", form=form, sent=False)


def password_reset_submit():
    """The same answer whether or not there is an account with the address."""
    form = Form(request.form)
    email = form.text("email", required=True, max_length=254).lower()
    if email and not _EMAIL.fullmatch(email):
        form.error("email", _("Please enter a valid e-mail address."))
    if not form.ok:
        return render("password_reset.html", 422, form=form, sent=False)
    accounts.request_password_reset(email)
    return render("password_reset.html", form=form, sent=True)


def _new_password(form: Form) -> str | None:
    password = form.source.get("password", "")
    password = password if isinstance(password, str) else ""
    if len(password) < accounts.MIN_PASSWORD_LENGTH:
        form.error("password", _("Please choose a password of at least 10 characters."))
    elif len(password) > accounts.MAX_PASSWORD_LENGTH:
        form.error("password", _("At most %(n)s characters.", n=accounts.MAX_PASSWORD_LENGTH))
    elif password != form.source.get("password_again", ""):
        form.error("password_again", _("The two passwords differ."))
    return password if form.ok else None


def _choose_page(token: str, status: int = 200, **context):
    context.setdefault("form", Form({}))
    context.setdefault("problem", None)
    page, status = render("password_reset_choose.html", status, token=token, **context)
    return page, status, PRIVATE


def password_reset_token_page(token: str):
    try:
        user = accounts.user_for_link(token, accounts.RESET)
    except accounts.InvalidLink as error:
        return _choose_page(token, 400, problem=_invalid_link_message(error))
    return _choose_page(token, user=user)


def password_reset_token_submit(token: str):
    form = Form(request.form)
    password = _new_password(form)
    if password is None:
        try:
            user = accounts.user_for_link(token, accounts.RESET)
        except accounts.InvalidLink as error:
            return _choose_page(token, 400, problem=_invalid_link_message(error))
        return _choose_page(token, 422, form=form, user=user)
    try:
        user = accounts.reset_password(token, password)
    except accounts.InvalidLink as error:
        return _choose_page(token, 400, problem=_invalid_link_message(error))
    log_in(user.id)
    notify(_("Your new password is saved, and you are logged in."))
    return redirect(_home_for(user.role), 303)
