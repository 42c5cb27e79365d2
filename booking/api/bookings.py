import hashlib

from flask import Response, json, request
from flask_smorest import Blueprint
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from booking.api.context import PAGINATION, current_actor, login_required, paginate
from booking.domain.errors import BookingConflict, InvalidInput
from booking.extensions import db
from booking.models import IdempotencyKey, Series
from booking.schemas.bookings import (
    BookingCreateSchema,
    BookingListArgs,
    BookingPatchSchema,
    BookingSchema,
    CancelSchema,
    DryRunSchema,
    RejectSchema,
    SeriesCancelResultSchema,
    SeriesCancelSchema,
    SeriesSchema,
)
from booking.services import bookings
from booking.services.access import require_user

PREFIX = ""
blp = Blueprint("bookings", __name__, description="Bookings and series")
BEARER = [{"bearer": []}]
# One instance each: marshmallow builds a schema's fields (and its nested schemas) per instance.
BOOKING = BookingSchema()
SERIES = SeriesSchema()
DRY_RUN = DryRunSchema()
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The booking's ETag as read: the change applies only to that version (412 otherwise)",
}


def series_view(series: Series, **extra) -> dict:
    view = {
        key: getattr(series, key)
        for key in (
            "id",
            "room_id",
            "organization_id",
            "title",
            "rrule",
            "start",
            "end",
            "sequence",
            "occurrences",
        )
    }
    view["skipped"] = [
        {
            "start": s.original_start,
            "end": s.original_end,
            "reason": s.reason,
            "conflicts": (s.detail or {}).get("conflicts", []),
        }
        for s in series.skipped
    ]
    view["quote"] = bookings.series_quote(series)
    view.update(extra)
    return view


def _json_response(payload: dict, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def _dry_run(actor, data) -> Response:
    try:
        plan = bookings.plan_booking(actor, bookings.BookingRequest.from_input(data))
    except BookingConflict as conflict:
        body = {
            "dry_run": True,
            "outcome": "conflict",
            "status": None,
            "occurrences": [],
            "skipped": [],
            "conflicts": conflict.conflicts,
            "suggestions": conflict.suggestions,
            "quote": None,
            "displaced_booking_ids": [],
        }
        return _json_response(DRY_RUN.dump(body), 200)
    body = {
        "dry_run": True,
        "outcome": "created",
        "status": plan.status,
        "occurrences": [{"start": s, "end": e} for s, e in plan.occurrences],
        "skipped": [s.to_dict() for s in plan.skipped],
        "conflicts": [],
        "suggestions": [],
        "displaced_booking_ids": [b.id for b in plan.displaced],
        "quote": plan.quote,
    }
    return _json_response(DRY_RUN.dump(body), 200)


def _create(actor, data) -> Response:
    if data.get("dry_run"):
        return _dry_run(actor, data)
    created = bookings.create_booking(actor, bookings.BookingRequest.from_input(data))
    if isinstance(created, Series):
        return _json_response(
            SERIES.dump(series_view(created)), 201, {"Location": f"/api/v1/series/{created.id}"}
        )
    return _json_response(
        BOOKING.dump(created),
        201,
        {"Location": f"/api/v1/bookings/{created.id}", "ETag": created.etag},
    )


def _replay(row: IdempotencyKey, request_hash: str) -> Response:
    if row.request_hash != request_hash:
        raise InvalidInput({"Idempotency-Key": ["This key was used for a different request."]})
    return _json_response(
        row.body, row.status_code, dict(row.headers or {}, **{"Idempotent-Replayed": "true"})
    )


def _create_idempotently(actor, data, key: str) -> Response:
    """The first answer under a key is stored in the same transaction as the booking; a retry
    replays it. A concurrent retry's claim of the key waits on the key's unique index until the
    first request ends, then finds the key taken and replays the stored answer."""
    if len(key) > 200:
        raise InvalidInput({"Idempotency-Key": ["At most 200 characters."]})
    request_hash = hashlib.sha256(request.get_data()).hexdigest()
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = db.session.execute(
        dialect.insert(IdempotencyKey)
        .values(user_id=actor.user_id, key=key, request_hash=request_hash, status_code=0, body={}, headers={})
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if claimed is None:  # the key was used before (or by a retry that just committed): replay
        lookup = select(IdempotencyKey).where(
            IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key
        )
        return _replay(db.session.execute(lookup).scalar_one(), request_hash)
    response = _create(actor, data)
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed)
        .values(
            status_code=response.status_code,
            body=response.get_json(),
            headers={k: v for k, v in response.headers.items() if k in ("Location", "ETag")},
        )
    )
    return response


@blp.route("/bookings", methods=["POST"])
@login_required
@blp.arguments(BookingCreateSchema())
@blp.alt_response(
    201,
    # Exactly one matches an answer: both schemas refuse keys they do not name.
    schema={"oneOf": [BookingSchema, SeriesSchema]},
    description="The booking; or, with `recurrence`, the series",
    success=True,
)
@blp.alt_response(200, schema=DryRunSchema, description="With dry_run: what would happen", success=True)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="force without being an admin")
@blp.alt_response(409, description="Conflicts, with `conflicts` and `suggestions`")
@blp.alt_response(422, description="Invalid input, or a booking rule (`rule`) broken")
@blp.doc(
    security=BEARER,
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "A retry with the same key returns the first answer",
        }
    ],
)
def create_booking(data):
    """Book a room once, or as a series with `recurrence.rrule`"""
    actor = current_actor()
    require_user(actor)
    key = request.headers.get("Idempotency-Key")
    if key and not data.get("dry_run"):
        return _create_idempotently(actor, data, key.strip())
    return _create(actor, data)


@blp.route("/bookings", methods=["GET"])
@login_required
@blp.arguments(BookingListArgs(), location="query", as_kwargs=True)
@blp.response(200, BookingSchema(many=True))
@blp.paginate(**PAGINATION)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not a member or admin")
@blp.doc(security=BEARER)
def list_bookings(pagination_parameters, **filters):
    """Bookings of your organisations (admins: all), filtered by room, building, organisation,
    series, status and time (`from`, `to`)"""
    return paginate(bookings.list_bookings(current_actor(), filters), pagination_parameters)


@blp.route("/bookings/<int:booking_id>", methods=["GET"])
@login_required
@blp.response(200, BookingSchema, headers={"ETag": {"schema": {"type": "string"}}})
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Another organisation's booking")
@blp.alt_response(404, description="No such booking")
@blp.doc(security=BEARER)
def get_booking(booking_id):
    """A booking; its ETag goes into If-Match when changing it"""
    booking = bookings.get_booking(current_actor(), booking_id)
    return booking, 200, {"ETag": booking.etag}


@blp.route("/bookings/<int:booking_id>", methods=["PATCH"])
@login_required
@blp.arguments(BookingPatchSchema())
@blp.response(200, BookingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Another organisation's booking")
@blp.alt_response(404, description="No such booking")
@blp.alt_response(409, description="The new time conflicts, or the booking is closed")
@blp.alt_response(412, description="If-Match does not match the current ETag")
@blp.alt_response(422, description="Invalid input or a booking rule broken")
@blp.doc(security=BEARER, parameters=[IF_MATCH])
def update_booking(data, booking_id):
    """Edit or reschedule a booking (re-checked, re-quoted; SEQUENCE moves on)"""
    change = bookings.ChangeRequest(**data)
    booking = bookings.update_booking(current_actor(), booking_id, change, request.headers.get("If-Match"))
    return booking, 200, {"ETag": booking.etag}


@blp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@login_required
@blp.arguments(CancelSchema())
@blp.response(200, BookingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Another organisation's booking")
@blp.alt_response(404, description="No such booking")
@blp.alt_response(409, description="Already cancelled or rejected, or started (members)")
@blp.alt_response(412, description="If-Match does not match the current ETag")
@blp.doc(security=BEARER, parameters=[IF_MATCH])
def cancel_booking(data, booking_id):
    """Withdraw a request or cancel a booking, with the fee of SPEC §5 in `cancellation_fee`;
    `dry_run` shows the fee only"""
    booking, fee = bookings.cancel_booking(
        current_actor(), booking_id, data["reason"], data["dry_run"], if_match=request.headers.get("If-Match")
    )
    if data["dry_run"]:  # the booking as it is, with the fee cancelling it now would cost
        return _json_response(dict(BOOKING.dump(booking), cancellation_fee=fee.to_dict()), 200)
    return booking, 200, {"ETag": booking.etag}


@blp.route("/bookings/<int:booking_id>/approve", methods=["POST"])
@login_required
@blp.response(200, BookingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such booking")
@blp.alt_response(409, description="Not pending, or the time is taken")
@blp.alt_response(412, description="If-Match does not match the current ETag")
@blp.doc(security=BEARER, parameters=[IF_MATCH])
def approve_booking(booking_id):
    """Approve a pending request; competing requests are rejected with the reason"""
    booking = bookings.approve_booking(current_actor(), booking_id, request.headers.get("If-Match"))
    return booking, 200, {"ETag": booking.etag}


@blp.route("/bookings/<int:booking_id>/reject", methods=["POST"])
@login_required
@blp.arguments(RejectSchema())
@blp.response(200, BookingSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(404, description="No such booking")
@blp.alt_response(409, description="Not pending")
@blp.alt_response(412, description="If-Match does not match the current ETag")
@blp.doc(security=BEARER, parameters=[IF_MATCH])
def reject_booking(data, booking_id):
    """Reject a pending request"""
    booking = bookings.reject_booking(
        current_actor(), booking_id, data["reason"], request.headers.get("If-Match")
    )
    return booking, 200, {"ETag": booking.etag}


@blp.route("/series/<int:series_id>", methods=["GET"])
@login_required
@blp.response(200, SeriesSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Another organisation's series")
@blp.alt_response(404, description="No such series")
@blp.doc(security=BEARER)
def get_series(series_id):
    """A series: rule, occurrences, skipped dates and price"""
    return series_view(bookings.get_series(current_actor(), series_id))


@blp.route("/series/<int:series_id>/cancel", methods=["POST"])
@login_required
@blp.arguments(SeriesCancelSchema())
@blp.response(200, SeriesCancelResultSchema)
@blp.alt_response(401, description="Not logged in")
@blp.alt_response(403, description="Another organisation's series")
@blp.alt_response(404, description="No such series")
@blp.doc(security=BEARER)
def cancel_series(data, series_id):
    """Cancel a whole series, or its occurrences from a date on"""
    series, fee = bookings.cancel_series(
        current_actor(), series_id, data.get("from_date"), data["reason"], data["dry_run"]
    )
    return series_view(series, dry_run=data["dry_run"], fee_total_ore=fee)
