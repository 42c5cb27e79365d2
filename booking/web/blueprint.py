"""Every URL of the pages, in one flat list."""

from __future__ import annotations

from flask import Blueprint

from booking.web import (
    account,
    admin,
    buildings,
    favicon,
    grid,
    janitor,
    my,
    rooms,
    rounds,
    search,
    staff_people,
    staff_places,
    staff_support,
)
from booking.web.i18n import remember_language
from booking.web.security import check_csrf

bp = Blueprint("web", __name__)  # templates in booking/templates/web, files in booking/static

URLS = [
    # path, endpoint, view, methods
    ("/", "search_page", search.search_page, ["GET"]),
    ("/rooms/<int:room_id>", "room_page", rooms.room_page, ["GET"]),
    ("/rooms/<int:room_id>", "room_submit", rooms.room_submit, ["POST"]),
    ("/rooms/<int:room_id>/quote", "room_quote", rooms.room_quote, ["GET"]),
    ("/my", "my_page", my.my_page, ["GET"]),
    ("/my/bookings/<int:booking_id>/cancel", "cancel_booking_page", my.cancel_booking_page, ["GET"]),
    ("/my/bookings/<int:booking_id>/cancel", "cancel_booking_submit", my.cancel_booking_submit, ["POST"]),
    ("/my/series/<int:series_id>/cancel", "cancel_series_page", my.cancel_series_page, ["GET"]),
    ("/my/series/<int:series_id>/cancel", "cancel_series_submit", my.cancel_series_submit, ["POST"]),
    (
        "/my/organizations/<int:organization_id>/feed-token",
        "rotate_feed_submit",
        my.rotate_feed_submit,
        ["POST"],
    ),
    ("/my/organizations/<int:organization_id>/mail", "booking_mail_submit", my.booking_mail_submit, ["POST"]),
    ("/my/language", "mail_language_submit", my.mail_language_submit, ["POST"]),
    ("/my/confirm-email", "resend_confirmation_submit", my.resend_confirmation_submit, ["POST"]),
    ("/rounds", "rounds_page", rounds.list_page, ["GET"]),
    ("/rounds/<int:round_id>", "round_page", rounds.round_page, ["GET"]),
    ("/rounds/<int:round_id>/applications", "round_apply_submit", rounds.apply_submit, ["POST"]),
    (
        "/rounds/<int:round_id>/applications/<int:application_id>/rank",
        "round_rank_submit",
        rounds.rank_submit,
        ["POST"],
    ),
    (
        "/rounds/<int:round_id>/applications/<int:application_id>/withdraw",
        "round_withdraw_submit",
        rounds.withdraw_submit,
        ["POST"],
    ),
    (
        "/rounds/<int:round_id>/offers/<int:allocation_id>/accept",
        "round_accept_submit",
        rounds.accept_submit,
        ["POST"],
    ),
    (
        "/rounds/<int:round_id>/offers/<int:allocation_id>/decline",
        "round_decline_submit",
        rounds.decline_submit,
        ["POST"],
    ),
    ("/rounds/<int:round_id>/allocate", "round_allocate_submit", rounds.allocate_submit, ["POST"]),
    ("/rounds/<int:round_id>/publish", "round_publish_submit", rounds.publish_submit, ["POST"]),
    ("/rounds/<int:round_id>/close", "round_close_submit", rounds.close_submit, ["POST"]),
    ("/rounds/<int:round_id>/deadline", "round_deadline_submit", rounds.deadline_submit, ["POST"]),
    (
        "/rounds/<int:round_id>/allocations/<int:allocation_id>",
        "round_allocation_submit",
        rounds.allocation_submit,
        ["POST"],
    ),
    ("/janitor", "janitor_index", janitor.janitor_index, ["GET"]),
    ("/janitor/<int:building_id>", "janitor_day", janitor.janitor_day, ["GET"]),
    (
        "/janitor/<int:building_id>/morning-sheet",
        "morning_sheet_submit",
        janitor.morning_sheet_submit,
        ["POST"],
    ),
    ("/admin", "admin_page", admin.admin_page, ["GET"]),
    ("/admin/bookings/<int:booking_id>/approve", "approve_submit", admin.approve_submit, ["POST"]),
    ("/admin/bookings/<int:booking_id>/reject", "reject_submit", admin.reject_submit, ["POST"]),
    ("/admin/organizations/<int:organization_id>/verify", "verify_submit", admin.verify_submit, ["POST"]),
    (
        "/admin/organizations/<int:organization_id>/reject",
        "reject_organization_submit",
        admin.reject_organization_submit,
        ["POST"],
    ),
    ("/admin/organizations/<int:organization_id>/reprice", "reprice_page", admin.reprice_page, ["GET"]),
    ("/admin/organizations/<int:organization_id>/reprice", "reprice_submit", admin.reprice_submit, ["POST"]),
    ("/admin/outbox/<int:message_id>/retry", "retry_mail_submit", admin.retry_mail_submit, ["POST"]),
    ("/login", "login", account.login_page, ["GET"]),
    ("/login", "login_submit", account.login_submit, ["POST"]),
    ("/logout", "logout_submit", account.logout_submit, ["POST"]),
    ("/register", "register_page", account.register_page, ["GET"]),
    ("/register", "register_submit", account.register_submit, ["POST"]),
    ("/confirm-email/<token>", "confirm_email_page", account.confirm_email_page, ["GET"]),
    ("/confirm-email/<token>", "confirm_email_submit", account.confirm_email_submit, ["POST"]),
    ("/password-reset", "password_reset_page", account.password_reset_page, ["GET"]),
    ("/password-reset", "password_reset_submit", account.password_reset_submit, ["POST"]),
    ("/password-reset/<token>", "password_reset_token_page", account.password_reset_token_page, ["GET"]),
    (
        "/password-reset/<token>",
        "password_reset_token_submit",
        account.password_reset_token_submit,
        ["POST"],
    ),
]

# The back office (SPEC §15): each module lists its own pages.
URLS += admin.URLS + staff_places.URLS + staff_people.URLS + staff_support.URLS
URLS += grid.URLS + buildings.URLS  # the week grid's fragment, a building's public page
URLS += janitor.URLS  # all buildings' day sheets on one page, the janitor's calendar link
URLS += favicon.URLS  # the site's icon under its old name

for path, endpoint, view, methods in URLS:
    bp.add_url_rule(path, endpoint, view, methods=methods)

bp.before_request(check_csrf)
bp.before_request(remember_language)
