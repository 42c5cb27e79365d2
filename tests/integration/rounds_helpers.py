"""Rounds in every state, written through the services, for tests that need one of each (the
authorization matrix among them): an open round with an application, a closed round not yet
allocated, an allocated round with a given allocation, and a published round with an offer.

Each round has a room of its own, with a season far from other test data, so the block on
ordinary booking (``season_allocation_pending``) touches nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from booking.extensions import db
from booking.services import rounds
from booking.services.access import Actor
from booking.services.rooms import create_room
from tests.integration.factories import ADMIN


@dataclass(frozen=True)
class RoundWorld:
    room_id: int
    open_round_id: int
    application_id: int
    closed_round_id: int
    allocated_round_id: int
    allocation_id: int
    published_round_id: int
    offer_id: int


def round_dates(now: datetime, *, closed: bool) -> dict:
    season_start = (now + timedelta(days=200)).date()
    season_start += timedelta(days=(7 - season_start.weekday()) % 7)  # a Monday
    opens_at = now - timedelta(hours=3) if closed else now - timedelta(hours=1)
    closes_at = now - timedelta(hours=1) if closed else now + timedelta(hours=1)
    return {
        "season_start": season_start,
        "season_end": season_start + timedelta(days=27),
        "opens_at": opens_at,
        "closes_at": closes_at,
        "publish_on": (now + timedelta(days=1)).date(),
        "offer_deadline": now + timedelta(days=5),
    }


def round_create_body(room_id: int, n: int) -> dict:
    """What an admin POSTs to /rounds (JSON)."""
    dates = round_dates(datetime.now(UTC), closed=False)
    return {"name": f"Runde {n}", "room_ids": [room_id], **{k: v.isoformat() for k, v in dates.items()}}


def application_body(organization_id: int, room_id: int) -> dict:
    return {
        "organization_id": organization_id,
        "attendees": 5,
        "wishes": [{"room_id": room_id, "weekday": 1, "start": "18:00", "end": "19:00"}],
    }


def build_rounds(building, organization, member_user, n: int) -> RoundWorld:
    """The four rounds (see the module), for ``organization``, applied for by ``member_user``."""
    now = datetime.now(UTC)
    room = create_room(
        ADMIN,
        {
            "building_id": building.id,
            "name": f"Runderom {n}",
            "kind": "meeting_room",
            "capacity": 20,
            "min_duration_minutes": 15,
        },
    )
    member = Actor(user_id=member_user.id, role="member", organization_ids=frozenset({organization.id}))
    wishes = [{"room_id": room.id, "weekday": 0, "start": 18 * 60, "end": 20 * 60}]

    def new_round(name: str, closed: bool):
        round_ = rounds.create_round(
            ADMIN, {"name": f"{name} {n}", "room_ids": [room.id], **round_dates(now, closed=closed)}
        )
        submitted = rounds.submit_application(
            member,
            round_.id,
            {"organization_id": organization.id, "attendees": 5, "wishes": wishes},
            now=round_.closes_at - timedelta(minutes=30),
        )
        return round_, submitted

    open_round, application = new_round("Åpen", closed=False)
    closed_round, _ = new_round("Lukket", closed=True)
    allocated_round, _ = new_round("Fordelt", closed=True)
    (allocation,) = rounds.allocate_round(ADMIN, allocated_round.id)
    published_round, _ = new_round("Publisert", closed=True)
    (offer,) = rounds.allocate_round(ADMIN, published_round.id)
    rounds.publish_round(ADMIN, published_round.id)
    db.session.commit()
    return RoundWorld(
        room.id,
        open_round.id,
        application.id,
        closed_round.id,
        allocated_round.id,
        allocation.id,
        published_round.id,
        offer.id,
    )


def round_values(endpoint: str, world: RoundWorld) -> dict:
    """URL values for the rounds' routes: each route gets the round in the state it acts on."""
    round_id = {
        "rounds.allocate_round": world.closed_round_id,
        "rounds.publish_round": world.allocated_round_id,
        "rounds.change_allocation": world.allocated_round_id,
        "rounds.round_result": world.published_round_id,
    }.get(endpoint, world.open_round_id)
    allocation_id = world.allocation_id if endpoint == "rounds.change_allocation" else world.offer_id
    return {"round_id": round_id, "application_id": world.application_id, "allocation_id": allocation_id}


def round_bodies(world: RoundWorld, organization_id: int, n: int) -> dict:
    """JSON a permitted caller would send, by endpoint."""
    return {
        "rounds.create_round": round_create_body(world.room_id, n),
        "rounds.update_round": {"name": f"Nytt navn {n}"},
        "rounds.submit_application": application_body(organization_id, world.room_id),
        "rounds.change_application": {"attendees": 7},
        "rounds.change_allocation": {"room_id": None},
    }
