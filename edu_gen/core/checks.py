"""Argument checks shared by the package: one clear message per kind of bad input.

Every check takes the argument's ``name`` first, returns the value it accepted and raises
``ValueError`` (or ``TypeError`` for a wrong type) whose message names the argument and
says what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import torch

Tensor = torch.Tensor


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


def choice(name: str, value: object, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices``, else ValueError listing the valid values."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def float_dtype(name: str, dtype: object) -> torch.dtype:
    """``dtype`` if it is a floating torch dtype, else ValueError naming ``name``."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"{name}: expected a floating torch dtype such as torch.float32, got {dtype!r}"
        )
    return dtype


def float_tensor(name: str, value: object, ndim: int | None = None) -> Tensor:
    """``value`` if it is a floating-point tensor (with ``ndim`` dimensions when given).

    TypeError for anything else (an int tensor, an array, a list), ValueError for the wrong
    number of dimensions; both name ``name``.
    """
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got {got}")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(value.shape)}")
    return value
