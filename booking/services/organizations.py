from __future__ import annotations

from sqlalchemy import select

from booking.domain.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from booking.domain.organizations import is_valid_org_number, propose_price_category
from booking.extensions import db
from booking.models import Organization, User
from booking.services.access import Actor, can_act_for_organization, require_admin, require_role, require_user
from booking.services.users import add_user

FACTS = ("voluntary", "non_profit", "local", "registered_in_frivillighetsregisteret", "youth_activity")
EDITABLE = ("name", "contact_name", "email", "phone", *FACTS)


def get_organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organisation {organization_id}.")
    return organization


def read_organization(actor: Actor, organization_id: int) -> Organization:
    """Admins and janitors read every organisation (contacts are their daily work); members
    only their own."""
    require_user(actor)
    organization = get_organization(organization_id)
    if actor.role not in ("admin", "janitor") and not can_act_for_organization(actor, organization_id):
        raise PermissionDenied("You are not a member of this organisation.")
    return organization


def list_organizations(actor: Actor, verified: bool | None = None):
    require_role(actor, "admin", "janitor")
    query = select(Organization).order_by(Organization.name, Organization.id)
    if verified is not None:
        query = query.where(Organization.verified.is_(verified))
    return query


def _propose(organization: Organization) -> str:
    return propose_price_category(
        voluntary=organization.voluntary,
        local=organization.local,
        registered=organization.registered_in_frivillighetsregisteret,
        youth_activity=organization.youth_activity,
        non_profit=organization.non_profit,
    )


def register_organization(actor: Actor, data: dict) -> Organization:
    """Self-registration: anyone may register; the category is proposed from the facts and the
    organisation stays unverified (priced ``full``) until an admin verifies it. A logged-in
    member becomes a member of it; an anonymous registrant who gives a password gets a member
    account for the contact e-mail."""
    if not is_valid_org_number(data["org_number"]):
        raise InvalidInput({"org_number": ["Not a valid Norwegian organisation number (9 digits, mod-11)."]})
    if db.session.execute(
        select(Organization.id).where(Organization.org_number == data["org_number"])
    ).first():
        raise StateConflict(f"Organisation number {data['org_number']} is registered already.")
    organization = Organization(org_number=data["org_number"], verified=False)
    for key in EDITABLE:
        setattr(organization, key, data.get(key, False if key in FACTS else ""))
    organization.proposed_category = organization.price_category = _propose(organization)
    db.session.add(organization)
    db.session.flush()
    if actor.role == "member":
        db.session.get(User, actor.user_id).organizations.append(organization)
    elif not actor.is_authenticated and data.get("password"):
        add_user(
            {
                "email": organization.email,
                "name": organization.contact_name,
                "role": "member",
                "password": data["password"],
                "organization_ids": [organization.id],
            }
        )
    db.session.flush()
    return organization


def update_organization(actor: Actor, organization_id: int, data: dict) -> Organization:
    """Admin edits, including verification and the price category."""
    require_admin(actor)
    organization = get_organization(organization_id)
    for key in (*EDITABLE, "price_category", "verified"):
        if key in data:
            setattr(organization, key, data[key])
    if any(key in data for key in FACTS):
        organization.proposed_category = _propose(organization)
    db.session.flush()
    return organization
