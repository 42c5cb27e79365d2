"""Rate limits on logging in (Flask-Limiter): the API's ``POST /api/v1/tokens`` and the login
form's ``POST /login`` share one budget per client address, so password guessing is slow
whichever door it uses.

Counters live in memory by default (per worker process: with several workers the effective limit
is that many times higher) and in Redis when ``BOOKING_RATELIMIT_STORAGE_URL`` is set, which all
workers and app servers then share. If that storage cannot be reached, the limiter falls back to
memory and logs it rather than refusing every login. A limited request gets ``429`` as
problem+json (an HTML page on the login form) with ``Retry-After`` in seconds.

Behind a reverse proxy the client address is the proxy's unless ``BOOKING_TRUSTED_PROXIES`` says
how many proxies set ``X-Forwarded-For`` (see ``booking.config``).
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# endpoint -> config key of its limit
LIMITED_ENDPOINTS = {
    "tokens.create_token": "BOOKING_RATELIMIT_LOGIN",
    "web.login_submit": "BOOKING_RATELIMIT_LOGIN",
    # Asking for a password reset link probes accounts as logging in does: the same budget.
    "accounts.request_password_reset": "BOOKING_RATELIMIT_LOGIN",
    "web.password_reset_submit": "BOOKING_RATELIMIT_LOGIN",
    # Registering mails whatever address is typed in and probes what is registered as logging in
    # probes accounts (SPEC §13): the same budget. A logged-in member registering another
    # organisation spends it too.
    "organizations.register_organization": "BOOKING_RATELIMIT_LOGIN",
    "web.register_submit": "BOOKING_RATELIMIT_LOGIN",
}
LOGIN_SCOPE = "login"  # one shared budget for both login doors


def _limit_of(config_key: str):
    return lambda: current_app.config[config_key]


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter and put the login limits on the login endpoints (call after every
    blueprint is registered)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "booking")
    app.config.setdefault("BOOKING_RATELIMIT_LOGIN", "10 per minute;100 per hour")

    @app.after_request
    def _retry_after_only_when_limited(response):
        # Registered before the limiter's own hook, so it runs after it (Flask runs them in
        # reverse): the limit headers stay, Retry-After only where it means something.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    # One limiter per app: Flask-Limiter keeps its storage and switches on the instance.
    limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
    limiter.init_app(app)
    app.extensions["booking.limiter"] = limiter  # Flask-Limiter itself keeps only a weak reference
    for endpoint, config_key in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.shared_limit(
                _limit_of(config_key),
                scope=LOGIN_SCOPE,
                error_message="Too many login attempts from this address; wait and try again.",
            )(view)
