"""Pure pricing (SPEC §5): price lists, itemized quotes, cancellation fees.

No Flask, no database, nothing from ``booking``: the service hands in a price list and a
:class:`QuoteRequest` and stores the :class:`Quote` it gets back as the booking's snapshot
(``Quote.to_dict()``; ``Quote.from_dict()`` reloads it). Later price lists never touch a snapshot.

Decisions
=========

Money
    Integer øre everywhere, no floats. :func:`round_ore` is the one rounding function: exact
    (``Fraction``) amounts to whole øre, halves away from zero ("half up" for the non-negative
    amounts used here). Rounding happens once per unit price and once for a 50 % cancellation;
    every line's amount is exactly ``quantity * unit_price_ore``, every total the sum of its lines.

Time
    Occurrences are aware datetimes in any zone and are judged in Europe/Oslo local time.
    Durations are real elapsed time (through UTC, never wall-clock subtraction), so 00:00–04:00
    is 3 hours on 2026-03-29 and 5 hours on 2026-10-25. Quotes keep instants in Oslo time.

Bands
    An instant is in the *weekend* band when its Oslo local date is a Saturday, a Sunday or in
    ``QuoteRequest.holidays``; otherwise *weekday*. The caller supplies the public holidays.

Rent
    Each occurrence is cut into half-hour slots counted from its start; the last may be partial
    ("per started 30 minutes": 1 h 15 min is 3 slots). Each slot is priced by the band at its
    start, so Fri 22:00 → Sat 01:00 is 4 weekday and 2 weekend slots. Unit prices:
    weekday ``hourly / 2``, weekend ``hourly * (100 + weekend_surcharge_percent) / 200``, each
    rounded with :func:`round_ore`. The ``free`` category gets no surcharge and price lists are
    validated to charge it 0; its rent lines are still listed, at 0 øre, to show what was booked.

Supervision (tilsyn)
    Supervised time is the part of an occurrence outside the staffed hours (mode
    ``outside_staffed_hours``, via :mod:`pricing.weekly`), the whole occurrence (``always``) or
    nothing (``never``). Its stretches are laid end to end and cut into hours counted from the
    first supervised instant: "per started hour of supervised time per occurrence", so two
    half-hour stretches around a staffed day make one started hour, not two. Each hour is priced by
    the band at its start instant (an hour starting Sat 00:30 is a weekend hour).

    Minimum: an occurrence that needs any supervision is charged at least
    ``supervision_minimum_hours`` × the rate of the band of its first supervised hour. This is a
    floor on the charge, not a top-up of missing hours, so that a longer booking never costs less:
    Sun 23:00–01:00 without staff is 1 weekend + 1 weekday hour = 450 + 300 NOK = 750 NOK, under
    the floor 2 × 450 NOK = 900 NOK, and so costs what Sun 23:00–23:30 costs. When the floor
    applies the occurrence has one line: ``supervision_minimum_hours`` hours at that band's rate.

    Every category pays supervision, ``free`` included. With ``own_supervisor`` there are no
    supervision lines, and the reason says so. ``supervision_reason`` texts (bokmål):
    ``"utenfor bemannet tid 16:00–19:00"`` (the unstaffed stretches, local clock, comma
    separated), ``"rommet krever alltid tilsyn"``, ``"egen tilsynsvakt (<reason>)"`` when waived,
    ``None`` when no supervision is needed. A quote's reason is its occurrences' distinct
    reasons joined by ``"; "``.

Lines
    Codes, in listing order: ``rent_weekday``, ``rent_weekend`` (unit ``half_hour``),
    ``supervision_weekday``, ``supervision_weekend`` (unit ``hour``), ``cancellation_rent``,
    ``cancellation_supervision`` (unit ``booking``, quantity 1). A quote's lines merge its
    occurrences' lines of the same code and unit price. All lines carry tax code ``"0"`` and 0 %
    VAT: rent is exempt (mval § 3-11), and supervision and cancellation fees are treated as part of
    the letting (an assumption for the accounts department to confirm).

Cancellation (:func:`cancellation_fee`), from the snapshot's own lines
    ``admin``: by an administrator, nothing. Otherwise, with *N days before* meaning the same Oslo
    wall-clock time N calendar days before the start (a deadline reads "22 March 18:00" across a
    DST change):

    - ``free_14_days``: cancelled at or before 14 days before: nothing. Exactly 14 days: free.
    - ``half_rent_7_days``: after that, at or before 7 days before: 50 % of the rent (rounded once,
      on the snapshot's total rent). Exactly 7 days: half.
    - ``full_rent``: later, but 48 hours or more before the start: all the rent.
    - ``full_rent_and_supervision``: under 48 real elapsed hours before the start (or after it):
      all the rent and all the supervision. Exactly 48 hours: supervision is not charged.

    Zero amounts make no line (a ``free`` booking cancelled late costs only its supervision).

Price lists
    :class:`PriceList` validates itself: every group of :data:`PRICE_GROUPS` with every category,
    no unknown ones, non-negative ints (``bool`` refused), ``free`` at 0. The version in force on
    a date is the one with the latest ``valid_from`` on or before it
    (:func:`price_list_in_force`); two different versions starting the same day are an error.
"""

from .cancellation import CANCELLATION_RULES, CancellationFee, cancellation_fee
from .money import round_ore
from .price_list import CATEGORIES, DEFAULT_PRICE_LIST, PRICE_GROUPS, Category, PriceList, price_list_in_force
from .quotes import (
    SUPERVISION_MODES,
    OccurrenceQuote,
    Quote,
    QuoteLine,
    QuoteRequest,
    SupervisionMode,
    quote,
)
from .weekly import OSLO, WeeklyWindow, covered_duration, elapsed, window_intervals

__all__ = [
    "CANCELLATION_RULES",
    "CATEGORIES",
    "DEFAULT_PRICE_LIST",
    "OSLO",
    "PRICE_GROUPS",
    "SUPERVISION_MODES",
    "CancellationFee",
    "Category",
    "OccurrenceQuote",
    "PriceList",
    "Quote",
    "QuoteLine",
    "QuoteRequest",
    "SupervisionMode",
    "WeeklyWindow",
    "cancellation_fee",
    "covered_duration",
    "elapsed",
    "price_list_in_force",
    "quote",
    "round_ore",
    "window_intervals",
]
