"""Languages and formats of the pages: Norwegian bokmål by default, English on request.

The chosen language is kept in the session (``?lang=en`` or ``?lang=nb`` on any page sets it), so
it survives logging in and out. Message catalogues live in ``booking/translations``; the source
strings are English, so the English catalogue is nearly empty and bokmål carries the work.

Money and dates are formatted here and nowhere else: ``kr 1 250,00`` / ``NOK 1,250.00``,
``tirsdag 12. januar`` / ``Tuesday 12 January``. Times are always Europe/Oslo.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask import Flask, request, session
from flask_babel import Babel, get_locale, refresh

from pricing.weekly import OSLO

LANGUAGES = {"nb": "Norsk (bokmål)", "en": "English"}
DEFAULT_LANGUAGE = "nb"
SESSION_KEY = "lang"

_DATE_FORMATS = {
    # (weekday and day, with year, short for tables)
    "nb": {"long": "EEEE d. MMMM", "full": "EEEE d. MMMM y", "short": "EEE d. MMM", "plain": "d. MMMM y"},
    "en": {"long": "EEEE d MMMM", "full": "EEEE d MMMM y", "short": "EEE d MMM", "plain": "d MMMM y"},
}
# The currency sign before the amount in both languages, as Norwegian invoices write it.
_MONEY_FORMAT = "¤\u00a0#,##0.00"

babel = Babel()


def select_language() -> str:
    chosen = request.args.get("lang") if request else None
    if chosen in LANGUAGES:
        return chosen
    stored = session.get(SESSION_KEY) if request else None
    return stored if stored in LANGUAGES else DEFAULT_LANGUAGE


def remember_language() -> None:
    """``?lang=xx`` on a page stores the choice for the rest of the visit."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and session.get(SESSION_KEY) != chosen:
        session[SESSION_KEY] = chosen


def language() -> str:
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def money(ore: int | None) -> str:
    """Integer øre as a localised amount: ``kr 1 250,00`` (bokmål), ``NOK 1,250.00`` (English)."""
    if ore is None:
        return ""
    amount = Decimal(int(ore)) / 100  # exact: no float ever holds money
    return format_currency(amount, "NOK", format=_MONEY_FORMAT, locale=language(), currency_digits=False)


def number(value) -> str:
    return format_decimal(value, locale=language())


def _local(value: date | datetime) -> date | datetime:
    return value.astimezone(OSLO) if isinstance(value, datetime) else value


def day(value: date | datetime, style: str = "long") -> str:
    """A local date: ``tirsdag 12. januar`` (``long``), with the year (``full``), ``tir. 12. jan.``
    (``short``) or ``12. januar 2027`` (``plain``)."""
    value = _local(value)
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, _DATE_FORMATS[language()][style], locale=language())


def clock(value: datetime) -> str:
    """Local wall-clock time, 24-hour ``18:00`` in both languages."""
    return value.astimezone(OSLO).strftime("%H:%M")


def span(start: datetime, end: datetime) -> str:
    """``18:00–20:00``; an end on a later day gets its date."""
    start, end = start.astimezone(OSLO), end.astimezone(OSLO)
    if end.date() != start.date() and not (
        end.time().hour == 0 and end.time().minute == 0 and (end.date() - start.date()).days == 1
    ):
        return f"{clock(start)}–{day(end, 'short')} {clock(end)}"
    return f"{clock(start)}–{clock(end)}"


def isodate(value: date | datetime) -> str:
    """The local date as YYYY-MM-DD (for links and date inputs)."""
    value = _local(value)
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Oslo")
    babel.init_app(app, locale_selector=select_language)
    # Flask-Babel caches the locale on ``g``, which outlives a request when an app context is
    # shared (tests, CLI): choose afresh for every request.
    app.before_request(refresh)
    app.jinja_env.filters.update(
        money=money, day=day, clock=clock, number=number, isodate=isodate, interval=lambda pair: span(*pair)
    )
    app.jinja_env.globals.update(span=span, language=language, LANGUAGES=LANGUAGES)
