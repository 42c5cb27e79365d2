"""Seasonal application rounds (SPEC §14): rounds, applications, allocation, offers, result."""

from __future__ import annotations

from flask_smorest import Blueprint

from booking.api.context import PAGINATION, SECURITY, current_actor, login_required, paginate
from booking.models import Allocation, Application, Round
from booking.schemas.rounds import (
    AllocationPatchSchema,
    AllocationRunSchema,
    AllocationSchema,
    ApplicationCreateSchema,
    ApplicationListArgs,
    ApplicationPatchSchema,
    ApplicationSchema,
    RoundInputSchema,
    RoundPatchSchema,
    RoundResultSchema,
    RoundSchema,
)
from booking.services import rounds

PREFIX = ""
blp = Blueprint("rounds", __name__, description="Seasonal application rounds (sesongtildeling)")
BEARER = [{"bearer": []}]


def round_view(round_: Round) -> dict:
    view = {key: getattr(round_, key) for key in RoundSchema().fields if hasattr(round_, key)}
    view.update(
        state=rounds.round_state(round_),
        seed=rounds.public_seed(round_),
        room_ids=round_.room_ids,
        rules=rounds.RULES_TEXT,
    )
    return view


def allocation_view(allocation: Allocation, round_: Round) -> dict:
    return {
        "id": allocation.id,
        "round_id": allocation.round_id,
        "application_id": allocation.application_id,
        "organization_id": allocation.organization_id,
        "wish_position": allocation.wish_position,
        "room_id": allocation.room_id,
        "weekday": allocation.weekday,
        "start": None if allocation.start_minute is None else rounds.minutes_text(allocation.start_minute),
        "end": None if allocation.end_minute is None else rounds.minutes_text(allocation.end_minute),
        "explanation": allocation.explanation,
        "order": allocation.order_index,
        "pass_number": allocation.pass_number,
        "manual": allocation.manual,
        "offer_state": rounds.offer_state(allocation, round_),
        "series_id": allocation.series_id,
        "decided_at": allocation.decided_at,
    }


def application_views(applications: list[Application], round_: Round, show_result: bool) -> list[dict]:
    results = rounds.allocations_by_application([a.id for a in applications]) if show_result else {}
    views = []
    for application in applications:
        view = {
            key: getattr(application, key)
            for key in ApplicationSchema().fields
            if key not in ("wishes", "allocation")
        }
        view["wishes"] = [
            {"room_id": w.room_id, "weekday": w.weekday, "start": w.start_minute, "end": w.end_minute}
            for w in application.wishes
        ]
        allocation = results.get(application.id)
        view["allocation"] = allocation_view(allocation, round_) if allocation is not None else None
        views.append(view)
    return views


def _application_view(application: Application) -> dict:
    """One application as its applicant sees it while the window is open (no result yet)."""
    return application_views([application], rounds.get_round(application.round_id), False)[0]


def _run_view(round_: Round, allocations: list[Allocation]) -> dict:
    return {
        "round_id": round_.id,
        "allocated_at": round_.allocated_at,
        "seed": round_.seed,
        "allocations": [allocation_view(a, round_) for a in allocations],
        "unallocated": [a.application_id for a in allocations if a.room_id is None],
    }


@blp.route("/rounds", methods=["GET"])
@blp.response(200, RoundSchema(many=True))
@blp.paginate(**PAGINATION)
@blp.doc(security=SECURITY)
def list_rounds(pagination_parameters):
    """Every round, newest season first (anyone: rounds and their rules are public)."""
    return [round_view(r) for r in paginate(rounds.list_rounds(), pagination_parameters)]


@blp.route("/rounds", methods=["POST"])
@login_required
@blp.arguments(RoundInputSchema())
@blp.response(201, RoundSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.doc(security=BEARER)
def create_round(data):
    """Create a round (admin): the season, its rooms (`room_ids` and/or every room of
    `building_ids`), the application window, the publication date and the offers' deadline. The
    lottery's seed is made now, at random; it is shown once the window has closed. Until the
    round is published, members cannot book inside its season in its rooms
    (`season_allocation_pending`)."""
    return round_view(rounds.create_round(current_actor(), data))


@blp.route("/rounds/<int:round_id>", methods=["GET"])
@blp.response(200, RoundSchema)
@blp.alt_response(404, description="No such round")
@blp.doc(security=SECURITY)
def get_round(round_id):
    """A round, its state and rules (anyone)."""
    return round_view(rounds.get_round(round_id))


@blp.route("/rounds/<int:round_id>", methods=["PATCH"])
@login_required
@blp.arguments(RoundPatchSchema())
@blp.response(200, RoundSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such round")
@blp.alt_response(409, description="Published: only offer_deadline may change")
@blp.doc(security=BEARER)
def update_round(data, round_id):
    """Change a round (admin) until it is published; then only `offer_deadline`."""
    return round_view(rounds.update_round(current_actor(), round_id, data))


@blp.route("/rounds/<int:round_id>/applications", methods=["GET"])
@login_required
@blp.arguments(ApplicationListArgs(), location="query", as_kwargs=True)
@blp.response(200, ApplicationSchema(many=True))
@blp.paginate(**PAGINATION)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Neither a member nor an admin")
@blp.alt_response(404, description="No such round")
@blp.doc(security=BEARER)
def list_applications(pagination_parameters, round_id, organization_id=None):
    """Applications of the round: admins all, members their organisations' own. Each carries
    its result (`allocation`, with the explanation) once published; admins see it once
    allocated. Filter by `organization_id`."""
    actor = current_actor()
    round_ = rounds.get_round(round_id)
    page = paginate(rounds.list_applications(actor, round_id, organization_id), pagination_parameters)
    return application_views(page, round_, actor.is_admin or round_.published_at is not None)


@blp.route("/rounds/<int:round_id>/applications", methods=["POST"])
@login_required
@blp.arguments(ApplicationCreateSchema())
@blp.response(201, ApplicationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation")
@blp.alt_response(404, description="No such round")
@blp.alt_response(409, description="The organisation uses this rank already")
@blp.doc(security=BEARER)
def submit_application(data, round_id):
    """Apply for one weekly time (a member of a verified organisation, during the window): up
    to three ranked wishes (room of the round, weekday, start, end), attendees, a description
    and whether it is for children and youth. `rank` (the organisation's own ranking of its
    applications, 1 = most wanted) defaults to the next free one. 422 with rule
    `application_window_closed` outside the window, `organization_not_verified` for an
    organisation not verified."""
    application = rounds.submit_application(current_actor(), round_id, data)
    return _application_view(application)


@blp.route("/applications/<int:application_id>", methods=["PATCH"])
@login_required
@blp.arguments(ApplicationPatchSchema())
@blp.response(200, ApplicationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of its organisation")
@blp.alt_response(404, description="No such application")
@blp.alt_response(409, description="Withdrawn")
@blp.doc(security=BEARER)
def change_application(data, application_id):
    """Change an application until the window closes. A `rank` held by another application of
    the organisation swaps the two."""
    application = rounds.change_application(current_actor(), application_id, data)
    return _application_view(application)


@blp.route("/applications/<int:application_id>", methods=["DELETE"])
@login_required
@blp.response(200, ApplicationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of its organisation")
@blp.alt_response(404, description="No such application")
@blp.alt_response(409, description="Withdrawn already")
@blp.doc(security=BEARER)
def withdraw_application(application_id):
    """Withdraw an application until the window closes; it is kept, marked withdrawn, and gives
    its rank up."""
    application = rounds.withdraw_application(current_actor(), application_id)
    return _application_view(application)


@blp.route("/rounds/<int:round_id>/allocate", methods=["POST"])
@login_required
@blp.response(200, AllocationRunSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such round")
@blp.alt_response(409, description="The window is still open")
@blp.doc(security=BEARER)
def allocate_round(round_id):
    """Allocate the round (admin) by the published rules, once the window has closed; answers
    every application's result with its explanation, in allocation order. Deterministic;
    repeatable until published (each run replaces the last, changes by hand included). After
    publication it gives the times freed by declined and lapsed offers to the applications that
    got nothing, in the same order, and offers them at once."""
    actor = current_actor()
    allocations = rounds.allocate_round(actor, round_id)
    return _run_view(rounds.get_round(round_id), allocations)


@blp.route("/allocations/<int:allocation_id>", methods=["PATCH"])
@login_required
@blp.arguments(AllocationPatchSchema())
@blp.response(200, AllocationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such allocation")
@blp.alt_response(409, description="Taken by a booking or another allocation, or an open/accepted offer")
@blp.doc(security=BEARER)
def change_allocation(data, allocation_id):
    """Set (`room_id`, `weekday`, `start`, `end`) or clear (`room_id: null`) a result by hand
    (admin; in the audit log). The time is checked like a wish: the room's rules (422 with the
    rule), confirmed bookings on the season's counting dates and the round's other times (409)."""
    allocation = rounds.change_allocation(current_actor(), allocation_id, data)
    return allocation_view(allocation, rounds.get_round(allocation.round_id))


@blp.route("/rounds/<int:round_id>/publish", methods=["POST"])
@login_required
@blp.response(200, RoundSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such round")
@blp.alt_response(409, description="Published already, or not allocated")
@blp.doc(security=BEARER)
def publish_round(round_id):
    """Publish (admin): every given time becomes an offer, each organisation is mailed its
    results, the result becomes public and the block on ordinary booking ends."""
    return round_view(rounds.publish_round(current_actor(), round_id))


@blp.route("/offers/<int:allocation_id>/accept", methods=["POST"])
@login_required
@blp.response(200, AllocationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation")
@blp.alt_response(404, description="No such offer")
@blp.alt_response(409, description="Answered already, or the deadline has passed")
@blp.doc(security=BEARER)
def accept_offer(allocation_id):
    """Accept an offer by the deadline: it becomes a weekly series of confirmed bookings for
    the season (holidays and closures skipped; `series_id`)."""
    allocation = rounds.accept_offer(current_actor(), allocation_id)
    return allocation_view(allocation, rounds.get_round(allocation.round_id))


@blp.route("/offers/<int:allocation_id>/decline", methods=["POST"])
@login_required
@blp.response(200, AllocationSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member of the organisation")
@blp.alt_response(404, description="No such offer")
@blp.alt_response(409, description="Answered already, or the deadline has passed")
@blp.doc(security=BEARER)
def decline_offer(allocation_id):
    """Decline an offer by the deadline: its time is freed for the applications that got nothing."""
    allocation = rounds.decline_offer(current_actor(), allocation_id)
    return allocation_view(allocation, rounds.get_round(allocation.round_id))


@blp.route("/rounds/<int:round_id>/result", methods=["GET"])
@blp.response(200, RoundResultSchema)
@blp.alt_response(404, description="No such round")
@blp.doc(security=SECURITY)
def round_result(round_id):
    """The published allocation per room (anyone): organisation, weekday and time of each offer
    open or accepted, with the rules and the seed; empty until published."""
    return rounds.round_result(round_id)
