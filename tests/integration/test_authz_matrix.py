"""Authorization matrix: every route of the app (read from ``app.url_map``) × every role, against
an explicit table of expected answers. A route without a row fails ``test_every_route_has_a_rule``,
so a new endpoint cannot ship without someone deciding who may use it.

Roles: anonymous; a member of the organisation that owns the data ("own") and a member of another;
the janitor of the building that holds the data and the janitor of another; an admin. API routes
are called with bearer tokens, pages with a logged-in session (and a valid CSRF token on POSTs).
Routes that change data get a fresh set of data for each role, so one role's success does not
change the next role's answer.

Statuses: 2xx means the role could do it; 401/403 (and 303 to the login page for pages, 404 for a
capability URL it does not hold) that it could not. 422 for members of other organisations and
janitors booking is the ``not_a_member`` rule (SPEC §4).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app

from booking.domain.organizations import synthetic_org_number
from booking.feeds import service as feed_service
from booking.services.access import Actor
from booking.services.auth import actor_for
from booking.services.bookings import BookingRequest, create_booking
from booking.web.security import LOGIN_KEY
from pricing import DEFAULT_PRICE_LIST, PRICE_GROUPS
from tests.integration.rounds_helpers import RoundWorld, build_rounds, round_bodies, round_values
from tests.integration.web_helpers import session_secret

ROLES = ("anonymous", "member_own", "member_other", "janitor_own", "janitor_other", "admin")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_numbers = itertools.count(1)


def _org_number(n: int) -> str:
    return synthetic_org_number(70_000_000, n)


@dataclass
class World:
    building: object
    other_building: object
    room: object
    approval_room: object
    organization: object
    other_organization: object
    users: dict
    booking: object
    pending: object
    series: object
    org_feed_token: str
    janitor_feed_token: str
    start: datetime
    n: int
    failed_message_id: int
    admin_token_id: int
    rounds: RoundWorld | None = None  # built for the rounds' routes only (see round_world)

    def round_world(self, endpoint: str) -> RoundWorld | None:
        """The four rounds of ``rounds_helpers`` for a route of the rounds, API or page (costly: not
        for every route of the table)."""
        if not _is_round_route(endpoint):
            return None
        if self.rounds is None:
            from booking.extensions import db

            self.rounds = build_rounds(
                self.building, self.organization, self.users["member_own"].user, self.n
            )
            db.session.commit()
        return self.rounds

    def values(self, endpoint: str) -> dict:
        booking_id = (
            self.pending.id
            if endpoint.endswith(("approve_booking", "reject_booking", "approve_submit", "reject_submit"))
            else self.booking.id
        )
        return {
            **(
                round_values(ROUND_PAGES.get(endpoint, endpoint), self.round_world(endpoint))
                if _is_round_route(endpoint)
                else {}
            ),
            "room_id": self.room.id,
            "building_id": self.building.id,
            "booking_id": booking_id,
            "organization_id": self.organization.id,
            "series_id": self.series.id,
            "message_id": self.failed_message_id,
            "token_id": self.admin_token_id,
            "org_number": self.organization.org_number,
            "user_id": self.users[
                "janitor_own" if endpoint == "users.remove_building" else "member_own"
            ].user.id,
            "token": _link(self, ACCOUNT_LINKS[endpoint])
            if endpoint in ACCOUNT_LINKS
            else self.janitor_feed_token
            if "janitor" in endpoint
            else self.org_feed_token,
            "filename": "does-not-exist.css",
        }


def build_world(make) -> World:
    """Two buildings, rooms, two organisations, a user of every role, a confirmed booking, a
    pending request, a weekly series and feed tokens, written in one transaction."""
    from sqlalchemy import select

    from booking.extensions import db
    from booking.models import ApiToken, OutboxEvent, OutboxMessage, RegistryUnit
    from booking.services.auth import hash_token, issue_token
    from booking.services.buildings import create_building
    from booking.services.organizations import register_organization, update_organization
    from booking.services.rooms import create_room
    from booking.services.users import add_user
    from tests.integration.factories import ADMIN, Login, org_number

    n = next(_numbers)
    building, other_building = (
        create_building(ADMIN, {"name": f"Matrix {n}{side}", "opening_hours": []}) for side in "ab"
    )

    def room(where, **extra):
        return create_room(
            ADMIN,
            {
                "building_id": where.id,
                "name": f"Rom {next(_numbers)}",
                "kind": "meeting_room",
                "capacity": 20,
                "min_duration_minutes": 15,
                **extra,
            },
        )

    main_room, approval_room = room(building), room(building, kind="hall", requires_approval=True)
    room(other_building)
    organizations = []
    for _ in range(2):
        k = 100_000 + next(_numbers)
        organization = register_organization(
            Actor(),
            {
                "name": f"Lag {k}",
                "org_number": org_number(k),
                "contact_name": "Kari",
                "email": f"lag{k}@example.test",
            },
        )
        update_organization(ADMIN, organization.id, {"verified": True})
        organizations.append(organization)
    organization, other_organization = organizations
    # the register knows the organisation (GET /registry/{org_number})
    db.session.add(RegistryUnit(org_number=organization.org_number, name=organization.name, form_code="FLI"))

    def user(role, organizations=(), buildings=()):
        k = next(_numbers)
        created = add_user(
            {
                "email": f"matrix{k}@example.test",
                "name": f"M {k}",
                "role": role,
                "organization_ids": [o.id for o in organizations],
                "building_ids": [b.id for b in buildings],
            }
        )
        return Login(created, issue_token(created))

    users = {
        "member_own": user("member", [organization]),
        "member_other": user("member", [other_organization]),
        "janitor_own": user("janitor", buildings=[building]),
        "janitor_other": user("janitor", buildings=[other_building]),
        "admin": user("admin"),
    }
    member = actor_for(users["member_own"].user)
    start = (datetime.now(UTC) + timedelta(days=20)).replace(hour=16, minute=0, second=0, microsecond=0)
    base = {"organization_id": organization.id, "title": "Øving", "attendees": 5}
    booking = create_booking(
        member,
        BookingRequest.from_input(
            {**base, "room_id": main_room.id, "start": start, "end": start + timedelta(hours=2)}
        ),
    )
    pending = create_booking(
        member,
        BookingRequest.from_input(
            {**base, "room_id": approval_room.id, "start": start, "end": start + timedelta(hours=2)}
        ),
    )
    series = create_booking(
        member,
        BookingRequest.from_input(
            {
                **base,
                "room_id": main_room.id,
                "start": start + timedelta(hours=3),
                "end": start + timedelta(hours=4),
                "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
            }
        ),
    )
    secret = current_app.config["SECRET_KEY"]
    org_token = feed_service.rotate_organization_token(ADMIN, organization.id, secret)
    janitor_token = feed_service.rotate_janitor_token(actor_for(users["janitor_own"].user), secret)
    failed = OutboxMessage(  # a mail the server refused, for the outbox routes
        event=OutboxEvent(kind="organization_verified", params={"organization_id": organization.id}),
        recipient=f"refused{n}@example.test",
        message_id=f"<matrix.{n}@example.test>",
        state="failed",
        attempts=1,
        last_error="550 No such mailbox",
    )
    db.session.add(failed)
    db.session.commit()
    admin_token_id = db.session.scalar(
        select(ApiToken.id).where(ApiToken.token_hash == hash_token(users["admin"].token))
    )
    return World(
        building,
        other_building,
        main_room,
        approval_room,
        organization,
        other_organization,
        users,
        booking,
        pending,
        series,
        org_token,
        janitor_token,
        start,
        n,
        failed.id,
        admin_token_id,
    )


# The rounds' pages take the round in the state of the API route that does the same (rounds_helpers).
ROUND_PAGES = {
    "web.round_allocate_submit": "rounds.allocate_round",
    "web.round_publish_submit": "rounds.publish_round",
    "web.round_accept_submit": "rounds.round_result",  # a published round and its offer
    "web.round_decline_submit": "rounds.round_result",
    "web.round_allocation_submit": "rounds.change_allocation",  # an allocated round's result
}


def _is_round_route(endpoint: str) -> bool:
    return endpoint.startswith(("rounds.", "web.round"))


# Pages reached by a link mailed to the user (SPEC §12): a capability URL, like a feed's.
ACCOUNT_LINKS = {
    "web.confirm_email_page": "confirm",
    "web.confirm_email_submit": "confirm",
    "web.password_reset_token_page": "reset",
    "web.password_reset_token_submit": "reset",
}


def _link(w: World, purpose: str) -> str:
    """A current mailed-link token of the organisation's member."""
    from booking.models.types import utcnow
    from booking.services.accounts import link_token

    return link_token(w.users["member_own"].user, purpose, utcnow())


# --- requests --------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


def body_for(endpoint: str, w: World):
    """JSON (API) or form (pages) a permitted caller would send."""
    later = w.start + timedelta(days=1)
    return {
        "tokens.create_token": {"email": "login@example.test", "password": "correct horse battery"},
        "bookings.create_booking": {
            "room_id": w.room.id,
            "organization_id": w.organization.id,
            "title": "Ny",
            "start": _iso(later),
            "end": _iso(later + timedelta(hours=1)),
        },
        "bookings.update_booking": {"title": "Nytt navn"},
        "bookings.cancel_booking": {},
        "bookings.reject_booking": {"reason": "Opptatt"},
        "bookings.cancel_series": {},
        "buildings.create_building": {"name": f"Nytt bygg {w.n}"},
        "buildings.update_building": {"address": "Ny vei 2"},
        "organizations.register_organization": {
            "name": f"Nytt lag {w.n}",
            "org_number": _org_number(w.n),
            "contact_name": "Kari",
            "email": f"lag{w.n}@example.test",
        },
        "organizations.update_organization": {"verified": True},
        "pricing.create_price_list": {
            **DEFAULT_PRICE_LIST.to_dict(),
            "version": f"test-{w.n}",
            "valid_from": f"{2030 + w.n % 60}-01-01",
        },
        "pricing.create_quote": {
            "room_id": w.room.id,
            "organization_id": w.organization.id,
            "start": _iso(later),
            "end": _iso(later + timedelta(hours=1)),
        },
        "rooms.create_room": {
            "building_id": w.building.id,
            "name": f"Nytt rom {w.n}",
            "kind": "meeting_room",
            "capacity": 10,
        },
        "rooms.update_room": {"capacity": 30},
        "users.create_user": {"email": f"ny{w.n}@example.test", "name": "Ny", "role": "member"},
        "web.room_submit": {
            "date": later.date().isoformat(),
            "start": "10:00",
            "end": "11:00",
            "organization_id": str(w.organization.id),
            "title": "Ny",
            "attendees": "5",
            "action": "book",
        },
        "web.cancel_booking_submit": {},
        "web.cancel_series_submit": {},
        "web.reject_submit": {"reason": "Opptatt"},
        "web.login_submit": {"email": "login@example.test", "password": "correct horse battery"},
        "web.register_submit": {
            "name": f"Skjemalag {w.n}",
            "org_number": _org_number(w.n + 5000),
            "contact_name": "Kari",
            "email": f"skjema{w.n}@example.test",
            "phone": "+47 400 00 000",
            "password": "a long enough password",
            "password_again": "a long enough password",
        },
        "web.verify_submit": {"price_category": "reduced"},
        "accounts.request_password_reset": {"email": "login@example.test"},
        "accounts.reset_password": {"token": _link(w, "reset"), "password": "a long enough password"},
        "accounts.confirm_email": {"token": _link(w, "confirm")},
        "users.update_me": {"language": "en"},
        "users.update_my_organization": {"booking_mail": False},
        "users.update_my_building": {"morning_sheet": True},
        "web.password_reset_submit": {"email": "login@example.test"},
        "web.password_reset_token_submit": {
            "password": "a long enough password",
            "password_again": "a long enough password",
        },
        "web.booking_mail_submit": {"booking_mail": "on"},
        "web.staff_building_create_submit": {"name": f"Nytt bygg {w.n}", "opening_mon": "08:00-22:00"},
        "web.staff_building_submit": {"name": f"Matrix {w.n}a", "address": "Ny vei 2"},
        "web.staff_closure_add_submit": {"closure_start": "2030-12-24", "closure_end": "2030-12-26"},
        "web.staff_room_create_submit": {"name": f"Nytt rom {w.n}", "kind": "meeting_room", "capacity": "10"},
        "web.staff_room_submit": {
            "name": w.room.name,
            "kind": "meeting_room",
            "price_group": "meeting_room",
            "supervision": "outside_staffed_hours",
            "capacity": "30",
            "min_duration_minutes": "15",
            "max_duration_minutes": "720",
            "buffer_minutes": "0",
            "min_notice_hours": "0",
            "max_advance_days": "365",
            "active": "on",
        },
        "web.staff_price_list_create_submit": {
            "version": f"side-{w.n}",
            "valid_from": f"{2030 + w.n % 60}-06-01",
            **{f"rate_{g}_{c}": "100" for g in PRICE_GROUPS for c in ("reduced", "full")},
        },
        "web.mail_language_submit": {"language": "en"},
        "web.morning_sheet_submit": {"morning_sheet": "on"},
        **(
            round_bodies(w.round_world(endpoint), w.organization.id, w.n)
            if endpoint.startswith("rounds.")
            else {}
        ),
        "web.round_apply_submit": {
            "organization_id": str(w.organization.id),
            "wish1_room": str(w.round_world(endpoint).room_id)
            if endpoint == "web.round_apply_submit"
            else "",
            "wish1_weekday": "0",
            "wish1_start": "18:00",
            "wish1_end": "19:00",
            "attendees": "5",
        },
    }.get(endpoint, {})


QUERY = {
    "schedule.building_schedule": lambda w: f"date={w.start.date().isoformat()}",
    "reports.support_report": lambda w: f"from={w.start.date().isoformat()}&to={w.start.date().isoformat()}",
    "pricing.list_invoices": lambda w: f"month={w.start.strftime('%Y-%m')}",
    "web.janitor_day": lambda w: f"date={w.start.date().isoformat()}",
}


def call(client, rule, method: str, role: str, w: World, make):
    endpoint = rule.endpoint
    path = rule.build(w.values(endpoint), append_unknown=False)[1]
    if endpoint in QUERY:
        path += "?" + QUERY[endpoint](w)
    if endpoint in ("tokens.create_token", "web.login_submit"):
        make.user("member", email="login@example.test") if not _has_login_user() else None
    body = body_for(endpoint, w)
    is_page = endpoint.startswith("web.") or endpoint in ("static",)
    headers = {}
    if role != "anonymous" and not is_page:
        headers["Authorization"] = f"Bearer {w.users[role].token}"
    with client.session_transaction() as session:
        session.clear()
        session["csrf_token"] = "matrix-csrf"
        if role != "anonymous" and is_page:
            session[LOGIN_KEY] = session_secret(client.application, w.users[role].user)
    if is_page and method == "POST":
        return client.open(path, method=method, data={**body, "csrf_token": "matrix-csrf"}, headers=headers)
    if method in ("POST", "PATCH", "PUT"):
        return client.open(path, method=method, json=body, headers=headers)
    return client.open(path, method=method, headers=headers)


def _has_login_user() -> bool:
    from sqlalchemy import select

    from booking.extensions import db
    from booking.models import User

    return db.session.execute(select(User.id).where(User.email == "login@example.test")).first() is not None


# --- the table -------------------------------------------------------------------------------


def row(anonymous, member_own, member_other, janitor_own, janitor_other, admin) -> dict[str, int]:
    return dict(
        zip(ROLES, (anonymous, member_own, member_other, janitor_own, janitor_other, admin), strict=True)
    )


def everyone(status: int) -> dict[str, int]:
    return row(*(status,) * 6)


def admin_only(status: int) -> dict[str, int]:
    return row(401, 403, 403, 403, 403, status)


def owner_or_admin(status: int) -> dict[str, int]:
    return row(401, status, 403, 403, 403, status)


def page_admin_only(status: int) -> dict[str, int]:
    return row(303, 403, 403, 403, 403, status)


EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # API: anyone
    ("GET", "/api/v1/buildings"): everyone(200),
    ("GET", "/api/v1/buildings/<int:building_id>"): everyone(200),
    ("GET", "/api/v1/buildings/<int:building_id>/feed"): everyone(200),
    ("GET", "/api/v1/rooms"): everyone(200),
    ("GET", "/api/v1/rooms/<int:room_id>"): everyone(200),
    ("GET", "/api/v1/rooms/<int:room_id>/availability"): everyone(200),
    ("GET", "/api/v1/rooms/<int:room_id>/feed"): everyone(200),
    ("GET", "/api/v1/price-lists"): everyone(200),
    # for an organisation: its members and admins (anyone may quote by `category`)
    ("POST", "/api/v1/quotes"): owner_or_admin(200),
    ("GET", "/api/v1/registry/<org_number>"): owner_or_admin(200),
    ("GET", "/api/v1/openapi.json"): everyone(200),
    ("GET", "/api/docs"): everyone(200),
    ("POST", "/api/v1/tokens"): everyone(201),
    ("GET", "/api/v1/tokens"): row(401, 200, 200, 200, 200, 200),
    ("DELETE", "/api/v1/tokens/current"): row(401, 204, 204, 204, 204, 204),
    ("DELETE", "/api/v1/tokens/<int:token_id>"): row(401, 404, 404, 404, 404, 204),  # the admin's token
    ("POST", "/api/v1/organizations"): everyone(201),  # self-registration
    ("GET", "/healthz"): everyone(200),
    ("GET", "/favicon.ico"): everyone(200),
    # API: anyone, the answer does not tell whether the address has an account (SPEC §13)
    ("POST", "/api/v1/password-reset"): everyone(202),
    # API: whoever holds a mailed link's token
    ("POST", "/api/v1/password-reset/confirm"): everyone(204),
    ("POST", "/api/v1/email-confirmation"): everyone(204),
    # seasonal rounds (SPEC §14): public rounds and results; members apply and answer offers for
    # their organisations; admins run the round
    ("GET", "/api/v1/rounds"): everyone(200),
    ("POST", "/api/v1/rounds"): admin_only(201),
    ("GET", "/api/v1/rounds/<int:round_id>"): everyone(200),
    ("PATCH", "/api/v1/rounds/<int:round_id>"): admin_only(200),
    ("GET", "/api/v1/rounds/<int:round_id>/applications"): row(401, 200, 200, 403, 403, 200),
    ("POST", "/api/v1/rounds/<int:round_id>/applications"): row(401, 201, 403, 403, 403, 201),
    ("PATCH", "/api/v1/applications/<int:application_id>"): row(401, 200, 403, 403, 403, 200),
    ("DELETE", "/api/v1/applications/<int:application_id>"): row(401, 200, 403, 403, 403, 200),
    ("POST", "/api/v1/rounds/<int:round_id>/allocate"): admin_only(200),
    ("PATCH", "/api/v1/allocations/<int:allocation_id>"): admin_only(200),
    ("POST", "/api/v1/rounds/<int:round_id>/publish"): admin_only(200),
    ("POST", "/api/v1/offers/<int:allocation_id>/accept"): row(401, 200, 403, 403, 403, 200),
    ("POST", "/api/v1/offers/<int:allocation_id>/decline"): row(401, 200, 403, 403, 403, 200),
    ("GET", "/api/v1/rounds/<int:round_id>/result"): everyone(200),
    ("GET", "/api/v1/reports/support"): admin_only(200),
    # API: logged in
    ("GET", "/api/v1/me"): row(401, 200, 200, 200, 200, 200),
    ("PATCH", "/api/v1/me"): row(401, 200, 200, 200, 200, 200),
    # mail choices: one's own organisations (members) and buildings (janitors) only
    ("PATCH", "/api/v1/me/organizations/<int:organization_id>"): row(401, 200, 403, 403, 403, 403),
    ("PATCH", "/api/v1/me/buildings/<int:building_id>"): row(401, 403, 403, 200, 403, 403),
    # API: admin
    ("POST", "/api/v1/buildings"): admin_only(201),
    ("PATCH", "/api/v1/buildings/<int:building_id>"): admin_only(200),
    ("POST", "/api/v1/rooms"): admin_only(201),
    ("PATCH", "/api/v1/rooms/<int:room_id>"): admin_only(200),
    ("PATCH", "/api/v1/organizations/<int:organization_id>"): admin_only(200),
    ("POST", "/api/v1/organizations/<int:organization_id>/reprice"): admin_only(200),
    ("POST", "/api/v1/organizations/<int:organization_id>/reject"): admin_only(200),
    ("POST", "/api/v1/users"): admin_only(201),
    ("POST", "/api/v1/users/<int:user_id>/deactivate"): admin_only(200),
    ("DELETE", "/api/v1/users/<int:user_id>/organizations/<int:organization_id>"): admin_only(204),
    ("DELETE", "/api/v1/users/<int:user_id>/buildings/<int:building_id>"): admin_only(204),
    ("POST", "/api/v1/price-lists"): admin_only(201),
    ("GET", "/api/v1/invoices"): admin_only(200),
    ("GET", "/api/v1/conflicts"): admin_only(200),
    ("GET", "/api/v1/audit-log"): admin_only(200),
    ("GET", "/api/v1/outbox"): admin_only(200),
    ("POST", "/api/v1/outbox/<int:message_id>/retry"): admin_only(200),
    ("POST", "/api/v1/bookings/<int:booking_id>/approve"): admin_only(200),
    ("POST", "/api/v1/bookings/<int:booking_id>/reject"): admin_only(200),
    # API: the organisation's members and admins
    ("POST", "/api/v1/bookings"): row(401, 201, 422, 422, 422, 201),
    ("GET", "/api/v1/bookings"): row(401, 200, 200, 403, 403, 200),  # a member lists only their own
    ("GET", "/api/v1/bookings/<int:booking_id>"): owner_or_admin(200),
    ("PATCH", "/api/v1/bookings/<int:booking_id>"): owner_or_admin(200),
    ("POST", "/api/v1/bookings/<int:booking_id>/cancel"): owner_or_admin(200),
    ("GET", "/api/v1/series/<int:series_id>"): owner_or_admin(200),
    ("POST", "/api/v1/series/<int:series_id>/cancel"): owner_or_admin(200),
    # janitors: organisations with a confirmed booking in their buildings
    ("GET", "/api/v1/organizations/<int:organization_id>"): row(401, 200, 403, 200, 403, 200),
    ("GET", "/api/v1/organizations"): row(401, 403, 403, 200, 200, 200),
    ("POST", "/api/v1/organizations/<int:organization_id>/feed-token"): owner_or_admin(201),
    ("GET", "/api/v1/organizations/<int:organization_id>/feed-token"): owner_or_admin(200),
    ("DELETE", "/api/v1/organizations/<int:organization_id>/feed-token"): owner_or_admin(204),
    # API: janitors
    ("GET", "/api/v1/buildings/<int:building_id>/schedule"): row(401, 403, 403, 200, 403, 200),
    ("POST", "/api/v1/me/feed-token"): row(401, 403, 403, 201, 201, 403),
    ("GET", "/api/v1/me/feed-token"): row(401, 403, 403, 200, 404, 403),  # the other has none yet
    ("DELETE", "/api/v1/me/feed-token"): row(401, 403, 403, 204, 204, 403),
    # feeds: public, or a capability URL (whoever holds the token)
    ("GET", "/feeds/rooms/<int:room_id>.ics"): everyone(200),
    ("GET", "/feeds/buildings/<int:building_id>.ics"): everyone(200),
    ("GET", "/feeds/org/<token>.ics"): everyone(200),
    ("GET", "/feeds/janitor/<token>.ics"): everyone(200),
    ("GET", "/static/<path:filename>"): everyone(404),
    # pages
    ("GET", "/"): everyone(200),
    ("GET", "/rooms/<int:room_id>"): everyone(200),
    ("GET", "/rooms/<int:room_id>/week"): everyone(200),  # the week grid as a fragment (grid.js)
    ("GET", "/buildings/<int:building_id>"): everyone(200),  # a building's public page with its feed link
    ("GET", "/rooms/<int:room_id>/quote"): everyone(200),
    # the booking form: whoever cannot book for the organisation gets the form back with an error
    ("POST", "/rooms/<int:room_id>"): row(422, 303, 422, 422, 422, 303),
    ("GET", "/login"): everyone(200),
    ("POST", "/login"): everyone(303),
    ("POST", "/logout"): everyone(303),
    ("GET", "/register"): everyone(200),
    # seasonal rounds' pages (SPEC §14): public; members apply and answer offers; admins run it
    ("GET", "/rounds"): everyone(200),
    ("GET", "/rounds/<int:round_id>"): everyone(200),
    ("POST", "/rounds/<int:round_id>/applications"): row(303, 303, 422, 422, 422, 303),
    ("POST", "/rounds/<int:round_id>/applications/<int:application_id>/withdraw"): row(
        303, 303, 403, 403, 403, 303
    ),
    ("POST", "/rounds/<int:round_id>/applications/<int:application_id>/rank"): row(
        303, 303, 403, 403, 403, 303
    ),
    ("POST", "/rounds/<int:round_id>/offers/<int:allocation_id>/accept"): row(303, 303, 403, 403, 403, 303),
    ("POST", "/rounds/<int:round_id>/offers/<int:allocation_id>/decline"): row(303, 303, 403, 403, 403, 303),
    ("POST", "/rounds/<int:round_id>/allocate"): page_admin_only(303),
    ("POST", "/rounds/<int:round_id>/publish"): page_admin_only(303),
    ("POST", "/rounds/<int:round_id>/close"): page_admin_only(303),
    # the back office (SPEC §15)
    ("GET", "/admin/bookings/<int:booking_id>/approve"): page_admin_only(200),
    ("GET", "/admin/buildings"): page_admin_only(200),
    ("POST", "/admin/buildings"): page_admin_only(303),
    ("GET", "/admin/buildings/<int:building_id>"): page_admin_only(200),
    ("POST", "/admin/buildings/<int:building_id>"): page_admin_only(303),
    ("POST", "/admin/buildings/<int:building_id>/closures"): page_admin_only(303),
    ("POST", "/admin/buildings/<int:building_id>/closures/remove"): page_admin_only(303),
    ("GET", "/admin/buildings/<int:building_id>/rooms"): page_admin_only(200),
    ("POST", "/admin/buildings/<int:building_id>/rooms"): page_admin_only(303),
    ("GET", "/admin/rooms/<int:room_id>"): page_admin_only(200),
    ("POST", "/admin/rooms/<int:room_id>"): page_admin_only(303),
    ("GET", "/admin/price-lists"): page_admin_only(200),
    ("POST", "/admin/price-lists"): page_admin_only(303),
    ("GET", "/admin/users"): page_admin_only(200),
    ("POST", "/admin/users"): page_admin_only(422),
    ("GET", "/admin/users/<int:user_id>"): page_admin_only(200),
    ("POST", "/admin/users/<int:user_id>/deactivate"): page_admin_only(303),
    ("POST", "/admin/users/<int:user_id>/organizations"): page_admin_only(422),
    ("POST", "/admin/users/<int:user_id>/organizations/<int:organization_id>/remove"): page_admin_only(303),
    ("POST", "/admin/users/<int:user_id>/buildings"): page_admin_only(422),
    ("POST", "/admin/users/<int:user_id>/buildings/<int:building_id>/remove"): page_admin_only(303),
    ("GET", "/admin/audit"): page_admin_only(200),
    ("GET", "/admin/invoices"): page_admin_only(200),
    ("GET", "/admin/invoices.csv"): page_admin_only(200),
    ("GET", "/admin/support"): page_admin_only(200),
    ("GET", "/admin/support.csv"): page_admin_only(200),
    ("POST", "/rounds/<int:round_id>/deadline"): page_admin_only(303),
    ("POST", "/rounds/<int:round_id>/allocations/<int:allocation_id>"): page_admin_only(303),
    ("POST", "/register"): everyone(200),
    ("GET", "/my"): row(303, 200, 200, 303, 303, 303),  # janitors and admins go to their own pages
    ("GET", "/my/bookings/<int:booking_id>/cancel"): row(303, 200, 403, 403, 403, 200),
    ("POST", "/my/bookings/<int:booking_id>/cancel"): row(303, 303, 403, 403, 403, 303),
    ("GET", "/my/series/<int:series_id>/cancel"): row(303, 200, 403, 403, 403, 200),
    ("POST", "/my/series/<int:series_id>/cancel"): row(303, 303, 403, 403, 403, 303),
    ("POST", "/my/organizations/<int:organization_id>/feed-token"): row(303, 303, 403, 403, 403, 303),
    ("POST", "/my/organizations/<int:organization_id>/mail"): row(303, 303, 403, 403, 403, 403),
    ("POST", "/my/language"): row(303, 303, 303, 303, 303, 303),
    ("POST", "/my/confirm-email"): row(303, 303, 303, 303, 303, 303),
    ("GET", "/confirm-email/<token>"): everyone(200),
    ("POST", "/confirm-email/<token>"): everyone(303),
    ("GET", "/password-reset"): everyone(200),
    ("POST", "/password-reset"): everyone(200),
    ("GET", "/password-reset/<token>"): everyone(200),
    ("POST", "/password-reset/<token>"): everyone(303),
    ("POST", "/janitor/<int:building_id>/morning-sheet"): row(303, 403, 403, 303, 403, 403),
    ("GET", "/janitor"): row(303, 200, 200, 303, 303, 200),  # members: an empty list; one building: its day
    ("GET", "/janitor/<int:building_id>"): row(303, 403, 403, 200, 403, 200),
    ("GET", "/janitor/all"): row(303, 403, 403, 200, 200, 200),  # a janitor: their own buildings; admin: all
    # a janitor's own link; admins have none
    ("POST", "/janitor/feed-token"): row(303, 403, 403, 303, 303, 403),
    ("GET", "/admin"): page_admin_only(200),
    ("POST", "/admin/bookings/<int:booking_id>/approve"): page_admin_only(303),
    ("POST", "/admin/bookings/<int:booking_id>/reject"): page_admin_only(303),
    ("POST", "/admin/organizations/<int:organization_id>/verify"): page_admin_only(303),
    ("POST", "/admin/organizations/<int:organization_id>/reject"): page_admin_only(303),
    ("GET", "/admin/organizations/<int:organization_id>/reprice"): page_admin_only(200),
    ("POST", "/admin/organizations/<int:organization_id>/reprice"): page_admin_only(303),
    ("POST", "/admin/outbox/<int:message_id>/retry"): page_admin_only(303),
}

SUCCESS = range(200, 400)


def routes(app) -> list[tuple[str, object]]:
    return sorted(
        ((method, rule) for rule in app.url_map.iter_rules() for method in rule.methods - SKIPPED_METHODS),
        key=lambda mr: (mr[1].rule, mr[0]),
    )


def _route_ids():
    from booking import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "RATELIMIT_ENABLED": False})
    return [f"{method} {rule.rule}" for method, rule in routes(app)]


ROUTE_IDS = _route_ids()


def test_every_route_has_a_rule(app):
    missing = [f"{m} {r.rule}" for m, r in routes(app) if (m, r.rule) not in EXPECTED]
    assert not missing, f"routes without a row in EXPECTED of {__name__}: {missing}"
    stale = [key for key in EXPECTED if key not in {(m, r.rule) for m, r in routes(app)}]
    assert not stale, f"rows for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route", ROUTE_IDS)
def test_route_answers_each_role_as_the_table_says(client, make, route):
    method, path = route.split(" ", 1)
    [rule] = [r for m, r in routes(client.application) if m == method and r.rule == path]
    expected = EXPECTED.get((method, path))
    assert expected is not None, f"add a row for {route} to EXPECTED"
    world = build_world(make)
    answers = {}
    for role in ROLES:
        response = call(client, rule, method, role, world, make)
        answers[role] = response.status_code
        if expected[role] in SUCCESS and response.status_code not in SUCCESS:
            answers[role] = f"{response.status_code}: {response.get_data(as_text=True)[:200]}"
        if response.status_code == 303 and expected[role] == 303 and role == "anonymous" and method == "GET":
            assert "/login" in response.headers["Location"]
        if method != "GET" and response.status_code in SUCCESS:
            world = build_world(make)  # the change may have used the data up: fresh data for the next role
    assert answers == expected, route
