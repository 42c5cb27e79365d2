"""Money is integer øre. This module holds the project's one rounding function."""

from __future__ import annotations

import math
from fractions import Fraction


def round_ore(value: Fraction | int) -> int:
    """Round an exact amount of øre to a whole øre, halves away from zero (commercial rounding;
    for the non-negative amounts pricing deals in, that is "half up").

    Floats are refused: they cannot hold most øre fractions exactly.
    """
    if isinstance(value, bool) or not isinstance(value, Fraction | int):
        raise TypeError(f"round_ore takes an int or a Fraction, not {type(value).__name__}")
    if value < 0:
        return -math.floor(-value + Fraction(1, 2))
    return math.floor(value + Fraction(1, 2))
