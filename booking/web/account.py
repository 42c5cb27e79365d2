"""Logging in and out, and an association registering itself."""

from __future__ import annotations

from flask import redirect, request
from flask_babel import gettext as _

from booking.domain.errors import InvalidInput, NotAuthenticated, StateConflict
from booking.extensions import db
from booking.services.auth import authenticate_password
from booking.services.organizations import register_organization
from booking.web.common import actor, category_name, notify, render, see_other
from booking.web.forms import FACTS, Form, org_number_problem, registration_form
from booking.web.security import log_in, log_out, safe_next


def _home_for(role: str) -> str:
    return {"admin": "/admin", "janitor": "/janitor"}.get(role, "/my")


def login_page():
    form = Form(request.args)
    form.raw("email")
    return render("login.html", form=form, next=safe_next(request.args.get("next"), ""))


def login_submit():
    form = Form(request.form)
    email = form.raw("email")
    next_path = safe_next(request.form.get("next"), "")
    try:
        user = authenticate_password(email, request.form.get("password", ""))
    except NotAuthenticated:
        form.error("password", _("Wrong e-mail or password."))
        return render("login.html", 401, form=form, next=next_path)
    log_in(user.id)
    return redirect(next_path or _home_for(user.role), 303)


def logout_submit():
    log_out()
    notify(_("You are logged out."))
    return see_other("web.search_page")


def register_page():
    return render(
        "register.html", form=Form(request.args), facts=FACTS, needs_password=not actor().is_authenticated
    )


def register_submit():
    who = actor()
    needs_password = not who.is_authenticated
    form, data = registration_form(request.form, needs_password=needs_password)
    if data is None:
        return render("register.html", 422, form=form, facts=FACTS, needs_password=needs_password)
    try:
        organization = register_organization(who, data)
    except InvalidInput as error:
        if "org_number" in error.errors:
            form.error("org_number", org_number_problem(data["org_number"]) or error.errors["org_number"][0])
        else:
            form.error("name", "; ".join(m for ms in error.errors.values() for m in ms))
        return render("register.html", 422, form=form, facts=FACTS, needs_password=needs_password)
    except StateConflict as error:
        field = "org_number" if "Organisation number" in error.detail else "email"
        form.error(
            field,
            _("The organisation number %(number)s is registered already.", number=data["org_number"])
            if field == "org_number"
            else _(
                "There is an account for %(email)s already: log in and register the organisation from there.",
                email=data["email"],
            ),
        )
        return render("register.html", 409, form=form, facts=FACTS, needs_password=needs_password)
    if needs_password:
        from booking.models import User

        user = db.session.execute(db.select(User).where(User.email == data["email"])).scalar_one()
        log_in(user.id)
    notify(
        _(
            "%(name)s is registered. Proposed price category: %(category)s. Until the municipality has "
            "verified the organisation, bookings are priced at full price.",
            name=organization.name,
            category=category_name(organization.proposed_category),
        )
    )
    return see_other("web.my_page")
