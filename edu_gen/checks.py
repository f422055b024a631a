"""Argument checks shared by the modules: one clear message per kind of bad input."""

from __future__ import annotations

import math


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools rejected), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name}: expected {wanted}, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    """``value`` as a finite float > 0 (bools rejected), else ValueError naming ``name``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)
