"""Concurrent histories of the booking lifecycle (SPEC §11) and their checker.

Think Jepsen, small: client threads send random lifecycle requests (create, approve, reject,
cancel, move, edit, an admin's forced create) through real app servers, with fresh, stale or no
``If-Match``, and each request is recorded with what was sent, what was answered and when.
Afterwards ``check_history`` reads the final state from the database and from the API and lists
every promise of SPEC §4 and §11 the history broke; ``explain`` tells the requests that led to
each. Used by ``tests/integration/test_lifecycle_history.py`` (a CI size) and by
``python -m bench history`` (bigger).

The checker trusts nothing the clients believed: whether an ``If-Match`` was stale is worked out
from the times and sequences of the recorded answers, not from how the client picked it.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bench.common import require_loopback
from booking.domain.organizations import synthetic_org_number
from booking.domain.timeslots import occupied_until, overlaps
from booking.extensions import db
from booking.models import Booking, Occupancy, Room, room_units
from booking.services.access import Actor
from booking.services.auth import issue_token
from booking.services.buildings import create_building
from booking.services.organizations import register_organization, update_organization
from booking.services.rooms import create_room
from booking.services.users import add_user
from pricing.weekly import OSLO, parse_windows

API = "/api/v1"
OPEN = ("pending", "confirmed")
# Answers of these always change the booking they are about; a PATCH may change nothing.
CHANGING = frozenset({"create", "admin_create", "force", "approve", "reject", "cancel"})
# action -> weight in a client's random choice
ACTIONS = {
    "create": 20,
    "admin_create": 4,
    "force": 6,
    "approve": 12,
    "reject": 5,
    "cancel": 12,
    "move": 20,
    "edit": 12,
    "get": 9,
}
DAYS_AHEAD = (5, 10)  # under 7 days (full rent on cancel) and 7-14 days (half rent)
PROBLEM_JSON = "application/problem+json"


# --- the world a history plays in ------------------------------------------------------------


@dataclass(frozen=True)
class RoomInfo:
    id: int
    name: str
    unit_ids: frozenset[int]
    buffer_minutes: int
    requires_approval: bool


@dataclass(frozen=True)
class World:
    """One building's rooms, organisations and users for one history: a divisible gym (the
    whole and its halves, buffers differing), a hall that requires approval, and a plain room."""

    number: int
    rooms: tuple[RoomInfo, ...]
    organization_ids: tuple[int, ...]
    members: tuple[tuple[int, str], ...]  # (organisation id, member token), one per client
    admin_token: str
    days: tuple[date, ...]

    def room(self, room_id: int) -> RoomInfo | None:
        return next((r for r in self.rooms if r.id == room_id), None)

    @property
    def room_ids(self) -> list[int]:
        return [r.id for r in self.rooms]


def build_world(number: int, clients: int, today: date | None = None) -> World:
    """Create the world of history ``number`` through the services (needs an app context);
    commits. ``number`` keeps names, e-mails and organisation numbers of several worlds in one
    database apart."""
    admin = Actor(user_id=0, role="admin")
    building = create_building(
        admin,
        {
            "name": f"History {number}",
            "address": "Storgata 1",
            # staffed on weekday daytime: the evening bookings are priced with supervision
            "staffed_hours": parse_windows(
                {"day": d, "start": "08:00", "end": "16:00"} for d in ("mon", "tue", "wed", "thu", "fri")
            ),
            "opening_hours": [],
            "closures": [],
        },
    )

    def room(name: str, **fields: Any) -> Room:
        data = {"building_id": building.id, "name": name, "capacity": 60, "min_duration_minutes": 30}
        return create_room(admin, {**data, **fields})

    half_a = room("Gym A", kind="gym")
    half_b = room("Gym B", kind="gym", buffer_minutes=10)
    whole = room("Gym A+B", kind="gym", buffer_minutes=15, part_ids=[half_a.id, half_b.id])
    hall = room("Hall", kind="hall", capacity=200, requires_approval=True, buffer_minutes=30)
    plain = room("Meeting room", kind="meeting_room", capacity=30)
    organizations = []
    for k, category in enumerate(("reduced", "full", "reduced")):
        n = number * 10 + k
        organization = register_organization(
            Actor(),
            {
                "name": f"History {number} org {k}",
                "org_number": synthetic_org_number(70_000_000, n),
                "contact_name": "Kari",
                "email": f"history{number}-org{k}@example.test",
                "phone": "+47 400 00 000",
                "voluntary": True,
                "local": True,
            },
        )
        update_organization(admin, organization.id, {"verified": True, "price_category": category})
        organizations.append(organization.id)
    members = []
    for k in range(clients):
        organization_id = organizations[k % len(organizations)]
        user = add_user(
            {
                "email": f"history{number}-member{k}@example.test",
                "name": f"Member {k}",
                "role": "member",
                "organization_ids": [organization_id],
            }
        )
        members.append((organization_id, issue_token(user)))
    admin_user = add_user({"email": f"history{number}-admin@example.test", "name": "Admin", "role": "admin"})
    admin_token = issue_token(admin_user)
    db.session.commit()
    rooms = []
    for r in (half_a, half_b, whole, hall, plain):
        units = db.session.execute(select(room_units.c.unit_id).where(room_units.c.room_id == r.id)).scalars()
        rooms.append(RoomInfo(r.id, r.name, frozenset(units), r.buffer_minutes, r.requires_approval))
    today = today or datetime.now(OSLO).date()
    return World(
        number=number,
        rooms=tuple(rooms),
        organization_ids=tuple(organizations),
        members=tuple(members),
        admin_token=admin_token,
        days=tuple(today + timedelta(days=d) for d in DAYS_AHEAD),
    )


# --- recording -------------------------------------------------------------------------------


@dataclass
class Op:
    """One request of a history and its answer; ``sent``/``received`` are monotonic seconds."""

    client: int
    number: int
    action: str
    actor: str
    method: str
    path: str
    body: dict | None
    booking_id: int | None
    if_match: str | None
    auxiliary: bool = False  # the read that fetched a fresh ETag for the next request
    sent: float = 0.0
    received: float = 0.0
    status: int = 0
    content_type: str = ""
    answer: Any = None
    etag: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def booking(self) -> dict | None:
        """The booking a 2xx answer carries."""
        if self.ok and isinstance(self.answer, dict) and "id" in self.answer and "status" in self.answer:
            return self.answer
        return None

    def describe(self, origin: float) -> str:
        target = f" [{self.booking_id}]" if self.booking_id and str(self.booking_id) not in self.path else ""
        sent = f" {json.dumps(self.body, ensure_ascii=False)}" if self.body else ""
        precondition = f" If-Match: {self.if_match}" if self.if_match else ""
        return (
            f"{self.sent - origin:7.3f}-{self.received - origin:7.3f}s c{self.client}#{self.number} "
            f"{self.actor}: {self.method} {self.path}{target}{sent}{precondition} -> {self._outcome()}"
        )

    def _outcome(self) -> str:
        if self.status == 0:
            return f"no answer ({self.error})"
        booking = self.booking
        if booking is not None:
            return f"{self.status} {describe_booking(booking)}"
        if isinstance(self.answer, dict) and "title" in self.answer:
            rule = f" rule={self.answer['rule']}" if self.answer.get("rule") else ""
            return f"{self.status} {self.answer['title']}{rule}: {str(self.answer.get('detail', ''))[:120]}"
        return f"{self.status} {str(self.answer)[:160]}"


def describe_booking(booking: dict) -> str:
    start, end = _instant(booking.get("start")), _instant(booking.get("end"))
    span = f"{start:%d.%m %H:%M}-{end:%H:%M}" if start and end else "?"
    fee = booking.get("cancellation_fee")
    fee_text = f" fee={fee.get('total_ore')} ({fee.get('rule')})" if isinstance(fee, dict) else ""
    return (
        f"#{booking.get('id')} seq={booking.get('sequence')} {booking.get('status')} "
        f"room {booking.get('room_id')} {span}{fee_text}"
    )


@dataclass
class History:
    number: int
    seed: int
    clients: int
    operations: int
    started: float
    ops: list[Op] = field(default_factory=list)

    def about(self, booking_id: int) -> list[Op]:
        """The requests that targeted or answered about ``booking_id``, in the order they were sent."""
        found = [
            op
            for op in self.ops
            if op.booking_id == booking_id or (op.booking is not None and op.booking["id"] == booking_id)
        ]
        return sorted(found, key=lambda op: op.sent)


def send(
    base_url: str, method: str, path: str, token: str, body: dict | None = None, if_match: str | None = None
) -> tuple[int, str, Any, str | None, str]:
    """One request on a connection of its own, never retried (a retried POST could act twice):
    status (0 when no answer came), content type, parsed JSON body, ETag header, error text."""
    require_loopback(base_url)
    parts = urlsplit(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if if_match is not None:
        headers["If-Match"] = if_match
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        status, content_type, etag = (
            response.status,
            response.getheader("Content-Type", ""),
            response.getheader("ETag"),
        )
    except (OSError, http.client.HTTPException) as error:
        return 0, "", None, None, repr(error)
    finally:
        connection.close()
    try:
        answer = json.loads(data) if data else None
    except ValueError:
        answer = data[:300].decode("utf-8", "replace")
    return status, content_type, answer, etag, ""


def etag_of(booking: dict) -> str:
    """The contract's ETag of a booking at its sequence."""
    return f'"booking-{booking["id"]}-{booking["sequence"]}"'


def sequence_of_etag(etag: str | None, booking_id: int) -> int | None:
    if not etag:
        return None
    prefix = f"booking-{booking_id}-"
    value = etag.strip().removeprefix("W/").strip('"')
    if not value.startswith(prefix) or not value[len(prefix) :].isdigit():
        return None
    return int(value[len(prefix) :])


@dataclass
class _Known:
    """What the clients together last heard of a booking (to pick targets, not to judge)."""

    id: int
    organization_id: int
    room_id: int
    status: str
    sequence: int
    start: datetime
    end: datetime
    learned: int  # order of first sighting: recent bookings are the contested ones
    sequences: set[int] = field(default_factory=set)


class _Knowledge:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bookings: dict[int, _Known] = {}

    def learn(self, booking: dict) -> None:
        with self.lock:
            known = self.bookings.get(booking["id"])
            sequence = booking.get("sequence", -1)
            if known is None:
                known = _Known(
                    booking["id"],
                    booking["organization_id"],
                    booking["room_id"],
                    booking["status"],
                    sequence,
                    _instant(booking["start"]),
                    _instant(booking["end"]),
                    len(self.bookings),
                )
                self.bookings[known.id] = known
            elif sequence > known.sequence:
                known.status, known.sequence, known.room_id = booking["status"], sequence, booking["room_id"]
                known.start, known.end = _instant(booking["start"]), _instant(booking["end"])
            known.sequences.add(sequence)

    def pick(
        self, rng: random.Random, statuses: Iterable[str] = OPEN, organization_id: int | None = None
    ) -> _Known | None:
        """A booking in one of ``statuses``; most often one of the latest, so that clients meet
        on the same bookings."""
        with self.lock:
            candidates = [
                b
                for b in self.bookings.values()
                if b.status in statuses and organization_id in (None, b.organization_id)
            ]
            if not candidates:
                return None
            candidates.sort(key=lambda b: b.learned)
            if rng.random() < 0.6:
                candidates = candidates[-6:]
            return rng.choice(candidates)

    def stale_etag(self, rng: random.Random, known: _Known) -> str:
        """An ETag of the booking other than the latest one heard of: an older sequence, or one
        not reached (yet)."""
        with self.lock:
            older = sorted(s for s in known.sequences if 0 <= s < known.sequence)
            sequence = rng.choice(older) if older else known.sequence + rng.choice((1, 3))
        return f'"booking-{known.id}-{sequence}"'


class _Client:
    def __init__(
        self,
        number: int,
        urls: list[str],
        world: World,
        knowledge: _Knowledge,
        rng: random.Random,
        record: Callable[[Op], None],
        origin: float,
    ) -> None:
        self.number, self.urls, self.world, self.knowledge = number, urls, world, knowledge
        self.rng, self.record, self.origin = rng, record, origin
        self.organization_id, self.member_token = world.members[number % len(world.members)]
        self.count = 0

    def run(self, operations: int, deadline: float) -> None:
        actions, weights = zip(*ACTIONS.items(), strict=True)
        for _ in range(operations):
            if clock.monotonic() > deadline:
                return
            getattr(self, "_" + self.rng.choices(actions, weights)[0])()

    # -- requests --

    def _request(
        self,
        action: str,
        admin: bool,
        method: str,
        path: str,
        body: dict | None = None,
        booking_id: int | None = None,
        if_match: str | None = None,
        auxiliary: bool = False,
    ) -> Op:
        self.count += 1
        op = Op(
            client=self.number,
            number=self.count,
            action=action,
            actor="admin" if admin else f"org {self.organization_id}",
            method=method,
            path=path,
            body=body,
            booking_id=booking_id,
            if_match=if_match,
            auxiliary=auxiliary,
        )
        token = self.world.admin_token if admin else self.member_token
        url = self.urls[self.rng.randrange(len(self.urls))]
        op.sent = clock.monotonic()
        op.status, op.content_type, op.answer, op.etag, op.error = send(
            url, method, API + path, token, body, if_match
        )
        op.received = clock.monotonic()
        self.record(op)
        if op.booking is not None:
            self.knowledge.learn(op.booking)
        return op

    def _precondition(self, known: _Known, admin: bool) -> str | None:
        """No If-Match, a fresh one (read just before), or a stale one."""
        draw = self.rng.random()
        if draw < 0.4:
            return None
        if draw < 0.75:
            read = self._request(
                "get", admin, "GET", f"/bookings/{known.id}", booking_id=known.id, auxiliary=True
            )
            return (read.etag or etag_of(read.booking)) if read.booking else None
        return self.knowledge.stale_etag(self.rng, known)

    def _slot(self, day: date | None = None) -> tuple[datetime, datetime]:
        day = day or self.rng.choice(self.world.days)
        start = datetime.combine(day, time(17), OSLO) + timedelta(minutes=30 * self.rng.randrange(10))
        return start, start + timedelta(minutes=self.rng.choice((30, 60, 90, 120)))

    def _room(self) -> RoomInfo:
        # the hall (approval) and the gym's three rooms carry the interesting cases
        return self.rng.choices(self.world.rooms, (2, 2, 2, 3, 1))[0]

    def _create_body(self, room: RoomInfo, organization_id: int, start: datetime, end: datetime) -> dict:
        return {
            "room_id": room.id,
            "organization_id": organization_id,
            "title": f"History c{self.number}",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "attendees": self.rng.choice((5, 10, 20, 40)),
            "own_supervisor": self.rng.random() < 0.2,
        }

    # -- actions --

    def _create(self) -> None:
        start, end = self._slot()
        body = self._create_body(self._room(), self.organization_id, start, end)
        self._request("create", False, "POST", "/bookings", body)

    def _admin_create(self) -> None:
        start, end = self._slot()
        body = self._create_body(self._room(), self.rng.choice(self.world.organization_ids), start, end)
        self._request("admin_create", True, "POST", "/bookings", body)

    def _force(self) -> None:
        """An admin books over what is there: most often onto a confirmed booking, in a room
        sharing a unit with it."""
        target = self.knowledge.pick(self.rng, ("confirmed",))
        if target is not None and self.rng.random() < 0.7:
            held = self.world.room(target.room_id)
            sharing = [r for r in self.world.rooms if held is None or r.unit_ids & held.unit_ids]
            room = self.rng.choice(sharing)
            start = target.start + timedelta(minutes=self.rng.choice((-30, 0, 30)))
            end = start + timedelta(minutes=self.rng.choice((30, 60, 90)))
        else:
            room, (start, end) = self._room(), self._slot()
        body = self._create_body(room, self.rng.choice(self.world.organization_ids), start, end)
        body["force"] = True
        self._request("force", True, "POST", "/bookings", body)

    def _decide(self, action: str) -> None:
        target = self.knowledge.pick(self.rng, ("pending",)) or self.knowledge.pick(self.rng, OPEN)
        if target is None:
            return self._create()
        if_match = self._precondition(target, True)
        body = {"reason": "History"} if action == "reject" else None
        self._request(action, True, "POST", f"/bookings/{target.id}/{action}", body, target.id, if_match)

    def _approve(self) -> None:
        self._decide("approve")

    def _reject(self) -> None:
        self._decide("reject")

    def _target(self) -> tuple[_Known | None, bool]:
        """A booking to cancel or change, and whether the admin acts (otherwise the member, on
        one of their organisation's bookings; now and then on another's, which is refused)."""
        admin = self.rng.random() < 0.3
        own = None if admin or self.rng.random() < 0.05 else self.organization_id
        return self.knowledge.pick(self.rng, OPEN, own), admin

    def _cancel(self) -> None:
        target, admin = self._target()
        if target is None:
            return self._create()
        if_match = self._precondition(target, admin)
        self._request("cancel", admin, "POST", f"/bookings/{target.id}/cancel", {}, target.id, if_match)

    def _move(self) -> None:
        target, admin = self._target()
        if target is None:
            return self._create()
        draw = self.rng.random()
        if draw < 0.4:
            start, end = self._slot()
        elif draw < 0.7:
            shift = timedelta(minutes=self.rng.choice((-90, -60, -30, 30, 60, 90)))
            start, end = target.start + shift, target.end + shift
        else:  # shorten or lengthen
            start = target.start
            end = start + timedelta(minutes=self.rng.choice((30, 60, 90, 120)))
        body: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
        if self.rng.random() < 0.3:
            body["room_id"] = self._room().id
        if_match = self._precondition(target, admin)
        self._request("move", admin, "PATCH", f"/bookings/{target.id}", body, target.id, if_match)

    def _edit(self) -> None:
        target, admin = self._target()
        if target is None:
            return self._create()
        values = {
            "title": self.rng.choice(("Trening", "Øving")),
            "attendees": self.rng.choice((5, 10, 20)),
            "notes": self.rng.choice(("", "Nøkkel i resepsjonen")),
            "public_title": self.rng.random() < 0.5,
            "own_supervisor": self.rng.random() < 0.5,
        }
        keys = self.rng.sample(sorted(values), self.rng.choice((1, 2)))
        if_match = self._precondition(target, admin)
        body = {k: values[k] for k in keys}
        self._request("edit", admin, "PATCH", f"/bookings/{target.id}", body, target.id, if_match)

    def _get(self) -> None:
        target = self.knowledge.pick(self.rng, ("pending", "confirmed", "cancelled", "rejected"))
        if target is None:
            return self._create()
        self._request("get", self.rng.random() < 0.5, "GET", f"/bookings/{target.id}", booking_id=target.id)


def run_history(
    urls: list[str],
    world: World,
    *,
    clients: int,
    operations: int,
    seed: int,
    deadline: float | None = None,
) -> History:
    """Let ``clients`` threads do ``operations`` random actions each (fewer if ``deadline``, a
    ``time.monotonic()`` value, passes), all starting together; the recorded history."""
    for url in urls:
        require_loopback(url)
    history = History(world.number, seed, clients, operations, clock.monotonic())
    lock = threading.Lock()

    def record(op: Op) -> None:
        with lock:
            history.ops.append(op)

    knowledge = _Knowledge()
    barrier = threading.Barrier(clients)
    deadline = deadline if deadline is not None else clock.monotonic() + 600

    def play(number: int) -> None:
        client = _Client(
            number, urls, world, knowledge, random.Random(seed * 1000 + number), record, history.started
        )
        barrier.wait(timeout=60)
        client.run(operations, deadline)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(play, n) for n in range(clients)]:
            future.result()  # a client's own bug is raised here, not swallowed
    history.ops.sort(key=lambda op: op.sent)
    return history


# --- the final state -------------------------------------------------------------------------


@dataclass(frozen=True)
class FinalBooking:
    id: int
    room_id: int
    status: str
    start: datetime
    end: datetime
    sequence: int
    cancellation_fee: tuple | None
    status_reason: str

    def describe(self) -> str:
        fee = f" fee={self.cancellation_fee[0]} ({self.cancellation_fee[1]})" if self.cancellation_fee else ""
        reason = f" reason={self.status_reason!r}" if self.status_reason else ""
        span = f"{self.start.astimezone(OSLO):%d.%m %H:%M}-{self.end.astimezone(OSLO):%H:%M}"
        return f"#{self.id} seq={self.sequence} {self.status} room {self.room_id} {span}{fee}{reason}"


@dataclass(frozen=True)
class OccupancyRow:
    booking_id: int
    unit_id: int
    start: datetime
    occupied_until: datetime
    active: bool


@dataclass
class FinalState:
    bookings: dict[int, FinalBooking]
    occupancies: list[OccupancyRow]
    api: dict[int, tuple[int, Any, str | None]]  # booking id -> (status, body, ETag) of a GET as admin


def normalize_fee(fee: Any) -> tuple | None:
    """A cancellation fee as (total, rule, ((code, amount), ...)): the answer's and the stored
    one's shapes may differ in wording, never in these."""
    if not isinstance(fee, dict):
        return None
    lines = tuple(sorted((line.get("code"), line.get("amount_ore")) for line in fee.get("lines") or ()))
    return fee.get("total_ore"), fee.get("rule"), lines


def _status_text(status: Any) -> str:
    return str(getattr(status, "value", status))


def read_final_state(engine: Engine, world: World, api_url: str) -> FinalState:
    """The world's bookings and occupancies from the database (a connection of its own, so it
    sees what the servers committed), and each booking as the API shows it to an admin."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Booking.id,
                Booking.room_id,
                Booking.status,
                Booking.start,
                Booking.end,
                Booking.sequence,
                Booking.cancellation_fee,
                Booking.status_reason,
            ).where(Booking.room_id.in_(world.room_ids))
        ).all()
        bookings = {
            r.id: FinalBooking(
                r.id,
                r.room_id,
                _status_text(r.status),
                r.start,
                r.end,
                r.sequence,
                normalize_fee(r.cancellation_fee),
                r.status_reason or "",
            )
            for r in rows
        }
        units = {u for room in world.rooms for u in room.unit_ids}
        occupancies = [
            OccupancyRow(*row)
            for row in conn.execute(
                select(
                    Occupancy.booking_id,
                    Occupancy.unit_id,
                    Occupancy.start,
                    Occupancy.occupied_until,
                    Occupancy.active,
                ).where(Occupancy.booking_id.in_(list(bookings)) | Occupancy.unit_id.in_(list(units)))
            )
        ]
    api = {}
    for booking_id in sorted(bookings):
        status, _, answer, etag, _ = send(api_url, "GET", f"{API}/bookings/{booking_id}", world.admin_token)
        api[booking_id] = (status, answer, etag)
    return FinalState(bookings, occupancies, api)


# --- the checker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    kind: str
    message: str
    booking_ids: tuple[int, ...] = ()
    ops: tuple[Op, ...] = ()


@dataclass(frozen=True)
class _Seen:
    """A booking as one 2xx answer showed it."""

    op: Op
    id: int
    sequence: int
    status: str
    start: datetime | None
    end: datetime | None
    room_id: int
    fee: tuple | None
    rest: tuple  # (name, value) of the other fields: one sequence, one booking

    @property
    def essentials(self) -> tuple:
        return (self.status, self.start, self.end, self.room_id, self.fee)


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _seen(op: Op) -> _Seen | None:
    booking = op.booking
    if booking is None or not isinstance(booking.get("sequence"), int):
        return None
    rest = tuple(
        (key, json.dumps(booking.get(key), sort_keys=True))
        for key in (
            "title",
            "attendees",
            "notes",
            "public_title",
            "own_supervisor",
            "status_reason",
            "updated_at",
        )
    ) + (("quote total", (booking.get("quote") or {}).get("total_ore")),)
    return _Seen(
        op,
        booking["id"],
        booking["sequence"],
        booking.get("status"),
        _instant(booking.get("start")),
        _instant(booking.get("end")),
        booking.get("room_id"),
        normalize_fee(booking.get("cancellation_fee")),
        rest,
    )


def _fmt(essentials: tuple) -> str:
    status, start, end, room_id, fee = essentials
    span = f"{start.astimezone(OSLO):%d.%m %H:%M}-{end.astimezone(OSLO):%H:%M}" if start and end else "?"
    return f"{status} room {room_id} {span} fee={fee[0] if fee else None}"


class _Checker:
    def __init__(self, history: History, world: World, final: FinalState) -> None:
        self.history, self.world, self.final = history, world, final
        self.violations: list[Violation] = []
        self.seen: dict[int, list[_Seen]] = defaultdict(list)
        for op in history.ops:
            seen = _seen(op)
            if seen is not None:
                self.seen[seen.id].append(seen)

    def add(self, kind: str, message: str, booking_ids: Iterable[int] = (), ops: Iterable[Op] = ()) -> None:
        self.violations.append(Violation(kind, message, tuple(booking_ids), tuple(ops)))

    def run(self) -> list[Violation]:
        self.answers()
        self.occupancy()
        for booking_id in sorted(set(self.seen) | set(self.final.bookings)):
            self.sequences(booking_id)
            self.final_state(booking_id)
            self.endings(booking_id)
            self.preconditions(booking_id)
        self.unanswered_bookings()
        return self.violations

    # every answer: no 5xx, every error problem+json, every 2xx of an action a booking
    def answers(self) -> None:
        for op in self.history.ops:
            if op.status == 0:
                self.add(
                    "no_answer", f"no answer: {op.error}", [op.booking_id] if op.booking_id else [], [op]
                )
            elif op.status >= 500:
                self.add(
                    "server_error", f"answered {op.status}", [op.booking_id] if op.booking_id else [], [op]
                )
            if op.status >= 300 and not (
                op.content_type.startswith(PROBLEM_JSON)
                and isinstance(op.answer, dict)
                and op.answer.get("status") == op.status
                and op.answer.get("title")
            ):
                self.add(
                    "not_problem_json",
                    f"{op.status} answered as {op.content_type or 'nothing'}",
                    [op.booking_id] if op.booking_id else [],
                    [op],
                )
            if op.ok and _seen(op) is None:
                self.add(
                    "answer_without_booking", f"{op.status} without a booking and its sequence", [], [op]
                )
            seen = _seen(op)
            if seen is not None and op.etag is not None and op.etag != etag_of(op.booking):
                self.add(
                    "etag_mismatch",
                    f"ETag header {op.etag} but the body is at sequence {seen.sequence}",
                    [seen.id],
                    [op],
                )

    # the database: active occupancies never overlap, and they match each booking's status
    def occupancy(self) -> None:
        active_by_unit: dict[int, list[OccupancyRow]] = defaultdict(list)
        rows_by_booking: dict[int, list[OccupancyRow]] = defaultdict(list)
        for row in self.final.occupancies:
            rows_by_booking[row.booking_id].append(row)
            if row.active:
                active_by_unit[row.unit_id].append(row)
        for unit_id, rows in sorted(active_by_unit.items()):
            rows.sort(key=lambda r: r.start)
            for i, a in enumerate(rows):
                for b in rows[i + 1 :]:
                    if b.start >= a.occupied_until:
                        break
                    if a.booking_id != b.booking_id and overlaps(
                        a.start, a.occupied_until, b.start, b.occupied_until
                    ):
                        self.add(
                            "double_booking",
                            f"unit {unit_id} is held by #{a.booking_id} "
                            f"[{_local(a.start)}, {_local(a.occupied_until)}) and by #{b.booking_id} "
                            f"[{_local(b.start)}, {_local(b.occupied_until)})",
                            [a.booking_id, b.booking_id],
                        )
        for booking in self.final.bookings.values():
            room = self.world.room(booking.room_id)
            rows = rows_by_booking.get(booking.id, [])
            have = Counter((r.unit_id, r.start, r.occupied_until, r.active) for r in rows)
            if booking.status in OPEN and room is not None:
                until = occupied_until(booking.end, room.buffer_minutes)
                active = booking.status == "confirmed"
                want = Counter((u, booking.start, until, active) for u in sorted(room.unit_ids))
            else:
                want = Counter()
            if have != want:
                self.add(
                    "occupancy_mismatch",
                    f"#{booking.id} is {booking.status} in room {booking.room_id} "
                    f"{_local(booking.start)}-{_local(booking.end)}; its occupancy rows should be "
                    f"{_rows_text(want)} but are {_rows_text(have)}",
                    [booking.id],
                )

    # answers about one booking: each change its own sequence; one sequence, one booking
    def sequences(self, booking_id: int) -> None:
        by_sequence: dict[int, list[_Seen]] = defaultdict(list)
        for seen in self.seen.get(booking_id, []):
            by_sequence[seen.sequence].append(seen)
        for sequence, group in sorted(by_sequence.items()):
            changes = [s for s in group if s.op.action in CHANGING]
            if len(changes) > 1:
                self.add(
                    "sequence_reused",
                    f"{len(changes)} changes of #{booking_id} answered with one sequence {sequence}: "
                    + "; ".join(f"{s.op.action} -> {_fmt(s.essentials)}" for s in changes),
                    [booking_id],
                    [s.op for s in changes],
                )
            elif len({(s.essentials, s.rest) for s in group}) > 1:
                differing = sorted(
                    {name for s in group for (name, value) in s.rest if (name, value) not in group[0].rest}
                )
                self.add(
                    "sequence_reused",
                    f"answers about #{booking_id} at sequence {sequence} show different bookings "
                    f"(also differing: {', '.join(differing) or 'nothing else'}): "
                    + "; ".join(f"{s.op.action} -> {_fmt(s.essentials)}" for s in group),
                    [booking_id],
                    [s.op for s in group],
                )

    # the final booking (database and API) is the answer with the highest sequence, or a
    # change nobody was answered about that a competitor's success explains
    def final_state(self, booking_id: int) -> None:
        booking = self.final.bookings.get(booking_id)
        if booking is None:
            if self.seen.get(booking_id):
                self.add(
                    "lost_booking",
                    f"#{booking_id} was answered about but is not in the database",
                    [booking_id],
                )
            return
        api_status, api_body, api_etag = self.final.api.get(booking_id, (0, None, None))
        stored = (booking.status, booking.start, booking.end, booking.room_id, booking.cancellation_fee)
        if api_status != 200 or not isinstance(api_body, dict):
            self.add("api_disagrees", f"GET #{booking_id} answered {api_status}", [booking_id])
        else:
            shown = (
                api_body.get("status"),
                _instant(api_body.get("start")),
                _instant(api_body.get("end")),
                api_body.get("room_id"),
                normalize_fee(api_body.get("cancellation_fee")),
            )
            if shown != stored or api_body.get("sequence") != booking.sequence:
                self.add(
                    "api_disagrees",
                    f"the API shows #{booking_id} as seq={api_body.get('sequence')} {_fmt(shown)}, "
                    f"the database as seq={booking.sequence} {_fmt(stored)}",
                    [booking_id],
                )
            elif api_etag is not None and api_etag != etag_of(api_body):
                self.add(
                    "etag_mismatch",
                    f"GET #{booking_id}: ETag {api_etag} at sequence {booking.sequence}",
                    [booking_id],
                )
        seen = self.seen.get(booking_id)
        if not seen:
            return
        top = max(seen, key=lambda s: s.sequence)
        if booking.sequence < top.sequence:
            self.add(
                "sequence_went_back",
                f"#{booking_id} ends at sequence {booking.sequence} ({_fmt(stored)}), but {top.op.action} "
                f"answered sequence {top.sequence} ({_fmt(top.essentials)}): a change was lost",
                [booking_id],
                [top.op],
            )
        elif booking.sequence == top.sequence:
            if stored != top.essentials:
                self.add(
                    "answer_not_reflected",
                    f"#{booking_id} ends as {_fmt(stored)} but the answer with its final sequence "
                    f"{top.sequence} ({top.op.action}) said {_fmt(top.essentials)}",
                    [booking_id],
                    [top.op],
                )
        else:
            problem = self._unexplained(booking, top)
            if problem:
                self.add(
                    "unexplained_change",
                    f"#{booking_id} ends as seq={booking.sequence} {_fmt(stored)}; the last answer "
                    f"({top.op.action}) said seq={top.sequence} {_fmt(top.essentials)}: {problem}",
                    [booking_id],
                    [top.op],
                )

    def _unexplained(self, booking: FinalBooking, top: _Seen) -> str | None:
        """Why a booking's final change that no answer told of is not explained by a
        competitor (an approval, a confirmed create or an admin's force that took its units),
        or None when it is."""
        if booking.sequence != top.sequence + 1:
            return f"{booking.sequence - top.sequence} changes nobody was answered about"
        if booking.status == "rejected" and top.status != "pending":
            return "only a pending request is rejected for a competitor"
        if booking.status == "cancelled" and (booking.cancellation_fee or (0,))[0] != 0:
            return "a booking displaced by force is cancelled without a fee"
        if booking.status not in ("rejected", "cancelled"):
            return "only a competitor's rejection or an admin's force changes a booking unasked"
        room = self.world.room(top.room_id)
        if room is None or top.start is None or top.end is None:
            return "its last answered room or time is unknown"
        mine = (room.unit_ids, top.start, occupied_until(top.end, room.buffer_minutes))
        for seen_list in self.seen.values():
            for other in seen_list:
                if other.id == booking.id or other.status != "confirmed" or other.op.action == "get":
                    continue
                if other.op.received < top.op.sent:  # took effect before the state it would end
                    continue
                other_room = self.world.room(other.room_id)
                if other_room is None or other.start is None or other.end is None:
                    continue
                theirs = (
                    other_room.unit_ids,
                    other.start,
                    occupied_until(other.end, other_room.buffer_minutes),
                )
                if mine[0] & theirs[0] and overlaps(mine[1], mine[2], theirs[1], theirs[2]):
                    return None
        return "no competitor was confirmed on its units at its time after its last answer"

    # at most one successful end (cancel or reject), and the fee told is the fee stored
    def endings(self, booking_id: int) -> None:
        endings = [s for s in self.seen.get(booking_id, []) if s.op.action in ("cancel", "reject")]
        if len(endings) > 1:
            self.add(
                "ended_twice",
                f"#{booking_id} was ended successfully {len(endings)} times: "
                + "; ".join(f"{s.op.action} by {s.op.actor} -> {_fmt(s.essentials)}" for s in endings),
                [booking_id],
                [s.op for s in endings],
            )
        booking = self.final.bookings.get(booking_id)
        for seen in endings:
            if seen.op.action == "cancel" and booking is not None and seen.fee != booking.cancellation_fee:
                self.add(
                    "fee_mismatch",
                    f"cancel by {seen.op.actor} answered fee {seen.fee} but #{booking_id} stores "
                    f"{booking.cancellation_fee}",
                    [booking_id],
                    [seen.op],
                )

    # If-Match: 412 only when stale, and a stale one never succeeds
    def preconditions(self, booking_id: int) -> None:
        seen = self.seen.get(booking_id, [])
        booking = self.final.bookings.get(booking_id)
        for op in self.history.ops:
            if op.booking_id != booking_id or op.if_match is None or op.action == "get":
                continue
            sent = sequence_of_etag(op.if_match, booking_id)
            if sent is None or not (op.ok or op.status == 412):
                continue
            # The booking's sequence while this request was served: at least what any answer
            # received before it was sent showed; at most what any answer sent after it was
            # answered showed (sequences only grow), one less when that answer always changes
            # the booking (it found the sequence before its own); at most the final one.
            low = max((s.sequence for s in seen if s.op.received < op.sent), default=None)
            highs = [s.sequence - (s.op.action in CHANGING) for s in seen if s.op.sent > op.received]
            if booking is not None:
                highs.append(booking.sequence)
            high = min(highs, default=None)
            if op.status == 412 and low == sent and high == sent:
                self.add(
                    "precondition_wrong",
                    f"412 for If-Match {op.if_match}, but #{booking_id} was at sequence {sent} all along",
                    [booking_id],
                    [op],
                )
            if op.ok and ((low is not None and sent < low) or (high is not None and sent > high)):
                bound = f"at least {low}" if low is not None and sent < low else f"at most {high}"
                self.add(
                    "stale_if_match_accepted",
                    f"{op.action} with If-Match {op.if_match} answered {op.status}, but #{booking_id} "
                    f"was at sequence {bound} then",
                    [booking_id],
                    [op],
                )

    # a booking in the database that no answer told of
    def unanswered_bookings(self) -> None:
        created = {
            s.id
            for seen in self.seen.values()
            for s in seen
            if s.op.method == "POST" and s.op.path == "/bookings"
        }
        unknown_creates = [
            op
            for op in self.history.ops
            if op.path == "/bookings" and op.method == "POST" and not 200 <= op.status < 500
        ]
        if unknown_creates:
            return  # a create without an answer may have booked; reported as such above
        for booking_id in sorted(set(self.final.bookings) - created):
            self.add(
                "unanswered_booking",
                f"#{booking_id} is in the database ({self.final.bookings[booking_id].describe()}) but no "
                "create was answered with it",
                [booking_id],
            )


def _local(instant: datetime) -> str:
    return f"{instant.astimezone(OSLO):%d.%m %H:%M}"


def _rows_text(rows: Counter) -> str:
    if not rows:
        return "none"
    return ", ".join(
        f"unit {u} [{_local(s)}, {_local(e)}){'' if active else ' inactive'}" + (f" x{n}" if n > 1 else "")
        for (u, s, e, active), n in sorted(rows.items())
    )


def find_violations(history: History, world: World, final: FinalState) -> list[Violation]:
    """Every promise of SPEC §4 and §11 the history broke, judged from its record and the final state."""
    return _Checker(history, world, final).run()


def check_history(
    history: History, world: World, engine: Engine, api_url: str
) -> tuple[list[Violation], FinalState]:
    """Read the final state (database and API) and judge the history against it."""
    final = read_final_state(engine, world, api_url)
    return find_violations(history, world, final), final


# --- the explanation -------------------------------------------------------------------------


WINDOW = 40  # requests listed per booking in an explanation


def explain(
    violations: list[Violation], history: History, final: FinalState | None = None, *, limit: int = 12
) -> str:
    """The violations, each with the requests about the bookings concerned in the order they
    were sent (seconds since the history started; ``*`` marks the requests the violation is
    about), and the booking's final state and occupancy."""
    origin = history.started
    kinds = Counter(v.kind for v in violations)
    lines = [
        f"history {history.number} (seed {history.seed}, {history.clients} clients, "
        f"{sum(not op.auxiliary for op in history.ops)} operations, {len(history.ops)} requests): "
        f"{len(violations)} violation(s): " + ", ".join(f"{kind} x{n}" for kind, n in kinds.most_common())
    ]
    listed: set[int] = set()
    for violation in violations[:limit]:
        lines += ["", f"[{violation.kind}] {violation.message}"]
        marked = {id(op) for op in violation.ops}
        if not violation.booking_ids:
            lines += ["   *" + op.describe(origin) for op in violation.ops]
        for booking_id in violation.booking_ids[:3]:
            about = history.about(booking_id)
            if booking_id in listed:
                lines.append(f"  requests about #{booking_id}: listed above; the ones concerned:")
                lines += ["   *" + op.describe(origin) for op in about if id(op) in marked]
                continue
            listed.add(booking_id)
            last = max((i for i, op in enumerate(about) if id(op) in marked), default=len(about) - 1)
            first = max(0, min(last + 5, len(about)) - WINDOW)
            skipped = f", the first {first} left out" if first else ""
            lines.append(f"  requests about #{booking_id} ({len(about)}{skipped}):")
            for op in about[first : first + WINDOW]:
                lines.append(("   *" if id(op) in marked else "    ") + op.describe(origin))
            if final is not None and booking_id in final.bookings:
                lines.append(f"  final: {final.bookings[booking_id].describe()}")
                rows = [r for r in final.occupancies if r.booking_id == booking_id]
                held = Counter((r.unit_id, r.start, r.occupied_until, r.active) for r in rows)
                lines.append(f"  occupancy: {_rows_text(held)}")
    if len(violations) > limit:
        lines.append(f"\n... and {len(violations) - limit} more")
    return "\n".join(lines)
