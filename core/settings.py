"""Numbers a server's operator sets in environment variables (limits, budgets, timeouts), read one way: unset or
blank gives the default, anything that is not a number in range gives a ValueError naming the variable, the
value and what to do."""

from __future__ import annotations

import math
import os


def number_setting(variable: str, default: float, minimum: float = 0.0, positive: bool = False) -> float:
    """The number in ``variable`` (at least ``minimum``, and above 0 when ``positive``), else ``default``."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (minimum <= value < math.inf and (value > 0 or not positive)):
        wanted = "a positive number" if positive else f"a number of at least {minimum:g}"
        raise ValueError(f"{variable}={text[:20]!r} is not {wanted}; set it to one (default {default:g}), "
                         "or unset it")
    return value
