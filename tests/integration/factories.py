"""Test data factories: ``make.room(capacity=10)`` with overrides, committed at once."""

from __future__ import annotations

from dataclasses import dataclass

from booking.domain.organizations import synthetic_org_number
from booking.extensions import db
from booking.services.access import Actor
from booking.services.auth import issue_token
from booking.services.buildings import create_building
from booking.services.organizations import register_organization, update_organization
from booking.services.rooms import create_room
from booking.services.users import add_user
from pricing.weekly import parse_windows

ADMIN = Actor(user_id=0, role="admin")
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def org_number(n: int) -> str:
    """The n-th organisation number of the test range."""
    return synthetic_org_number(80_000_000, n)


@dataclass
class Login:
    user: object
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class Factories:
    def __init__(self, counter):
        self.counter = counter

    def building(self, **overrides):
        data = {
            "name": f"Building {next(self.counter)}",
            "address": "Storgata 1",
            "staffed_hours": parse_windows(
                {"day": d, "start": "08:00", "end": "16:00"} for d in EVERY_DAY[:5]
            ),
            "opening_hours": [],
            "closures": [],
        }
        data.update(overrides)
        building = create_building(ADMIN, data)
        db.session.commit()
        return building

    def room(self, building=None, **overrides):
        building = building or self.building()
        data = {
            "building_id": building.id,
            "name": f"Room {next(self.counter)}",
            "kind": "meeting_room",
            "capacity": 20,
            "min_duration_minutes": 15,
        }
        data.update(overrides)
        room = create_room(ADMIN, data)
        db.session.commit()
        return room

    def organization(self, verified=True, **overrides):
        n = next(self.counter)
        data = {
            "name": f"Org {n}",
            "org_number": org_number(n),
            "contact_name": "Kari",
            "email": f"org{n}@example.test",
            "phone": "+47 400 00 000",
            "voluntary": True,
            "local": True,
        }
        data.update(overrides)
        org = register_organization(Actor(), data)
        if verified:
            update_organization(ADMIN, org.id, {"verified": True})
        db.session.commit()
        return org

    def user(
        self, role="member", organizations=(), buildings=(), password="correct horse battery", **overrides
    ):
        n = next(self.counter)
        data = {
            "email": f"user{n}@example.test",
            "name": f"User {n}",
            "role": role,
            "password": password,
            "organization_ids": [o.id for o in organizations],
            "building_ids": [b.id for b in buildings],
        }
        data.update(overrides)
        user = add_user(data)
        token = issue_token(user)
        db.session.commit()
        return Login(user, token)

    def admin(self):
        return self.user("admin")

    def member(self, organization=None):
        return self.user("member", organizations=[organization or self.organization()])

    def janitor(self, *buildings):
        return self.user("janitor", buildings=buildings)
