"""Who may do what: every role and scope check of the service lives here."""

from __future__ import annotations

from dataclasses import dataclass, field

from booking.domain.errors import NotAuthenticated, PermissionDenied


@dataclass(frozen=True)
class Actor:
    """The acting user as the services see it; ``None`` user_id means anonymous."""

    user_id: int | None = None
    role: str = "anonymous"
    organization_ids: frozenset[int] = field(default_factory=frozenset)
    building_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Actor()


def require_user(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise NotAuthenticated("Send 'Authorization: Bearer <token>' (POST /api/v1/tokens gives one).")


def require_role(actor: Actor, *roles: str) -> None:
    require_user(actor)
    if actor.role not in roles:
        raise PermissionDenied(f"This needs the role {' or '.join(roles)}.")


def require_admin(actor: Actor) -> None:
    require_role(actor, "admin")


def can_act_for_organization(actor: Actor, organization_id: int) -> bool:
    return actor.is_admin or (actor.role == "member" and organization_id in actor.organization_ids)


def require_organization(actor: Actor, organization_id: int) -> None:
    """Members act for their own organisations only; admins for all."""
    require_user(actor)
    if not can_act_for_organization(actor, organization_id):
        raise PermissionDenied("You are not a member of this organisation.")


def can_read_building_private(actor: Actor, building_id: int) -> bool:
    return actor.is_admin or (actor.role == "janitor" and building_id in actor.building_ids)


def require_building_staff(actor: Actor, building_id: int) -> None:
    """Janitors see only the buildings assigned to them; admins see all."""
    require_user(actor)
    if not can_read_building_private(actor, building_id):
        raise PermissionDenied("This building is not assigned to you.")
