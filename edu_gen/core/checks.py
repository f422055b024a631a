"""Argument checks shared by the package: one clear message per kind of bad input.

Every check takes the argument's ``name`` first, returns the value it accepted and raises
``ValueError`` (or ``TypeError`` for a wrong type) whose message names the argument and
says what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from types import EllipsisType
from typing import TypeVar

import numpy as np
import torch

Tensor = torch.Tensor
Array = TypeVar("Array", Tensor, np.ndarray)


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


def bounded_float(name: str, value: object, low: float, high: float | None = None) -> float:
    """``value`` (a number or a one-element tensor) as a float in ``[low, high]``.

    ``high=None`` leaves it unbounded above. TypeError for a non-number or NaN, ValueError
    for a value outside the range; both name ``name``.
    """
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise ValueError(f"{name}: expected a value in {bounds}, got {value!r}")
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


def _fits(dims: tuple[int, ...], shape: tuple[int | str | EllipsisType, ...]) -> bool:
    if Ellipsis in shape:
        cut = shape.index(Ellipsis)
        head, tail = shape[:cut], shape[cut + 1 :]
        return len(dims) >= len(head) + len(tail) and (
            _fits(dims[: len(head)], head) and _fits(dims[len(dims) - len(tail) :], tail)
        )
    pairs = zip(shape, dims, strict=False)
    return len(dims) == len(shape) and all(isinstance(s, str) or s == d for s, d in pairs)


def shaped_tensor(name: str, value: object, shape: Sequence[int | str | EllipsisType]) -> Tensor:
    """``value`` if it is a tensor of ``shape``, else ValueError naming ``name`` and the shape.

    Entries of ``shape``: an int is a fixed size, a string (``"batch"``, ``"D"``) any size,
    and one ``...`` any number of dimensions, so ``(..., 10)`` is "last dimension 10" and
    ``("batch", "D", ...)`` is "at least two dimensions". The message reads, e.g.,
    ``x: expected shape [batch, 10], got (4, 9)``.
    """
    if not isinstance(value, Tensor) or not _fits(tuple(value.shape), tuple(shape)):
        got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        wanted = ", ".join("..." if s is Ellipsis else str(s) for s in shape)
        raise ValueError(f"{name}: expected shape [{wanted}], got {got}")
    return value


def same_shape(name: str, value: object, like_name: str, like: Tensor) -> Tensor:
    """``value`` if it is a tensor with ``like``'s shape, else ValueError naming both."""
    if not isinstance(value, Tensor) or value.shape != like.shape:
        got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(
            f"{name}: expected the shape of {like_name} {tuple(like.shape)}, got {got}"
        )
    return value


def model_dtype(name: str, value: Tensor, dtype: torch.dtype) -> Tensor:
    """``value`` if its dtype is ``dtype`` (a model's parameters'), else ValueError."""
    if value.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the model's), got {value.dtype}")
    return value


# ------------------------------------------------------------------ tensor contents


def _rows(bad: Tensor, most: int = 5) -> str:
    """``"rows [2, 7]"`` (the first ``most`` offending rows along dim 0) of a boolean mask."""
    if bad.dim() == 0:
        return "the value"
    rows = bad.reshape(bad.shape[0], -1).any(1).nonzero().flatten()
    shown = ", ".join(str(int(i)) for i in rows[:most])
    more = f", ... ({len(rows)} of {bad.shape[0]})" if len(rows) > most else ""
    return f"rows [{shown}{more}]"


def _kinds(t: Tensor, bad: Tensor) -> str:
    """What the offending entries are: ``NaN``, ``inf``, ``-inf`` or values."""
    found = []
    if bool(torch.isnan(t).any()):
        found.append("NaN")
    if bool(torch.isposinf(t).any()):
        found.append("inf")
    if bool(torch.isneginf(t[bad]).any()):
        found.append("-inf")
    return "/".join(found)


def finite_tensor(name: str, value: Array, *, allow_neg_inf: bool = False) -> Array:
    """``value`` if it is a tensor (or array) without NaN or inf, else ValueError naming ``name``
    and the first offending rows.

    ``allow_neg_inf=True`` accepts ``-inf`` (a log-density or log-weight of 0). Integer and
    boolean tensors are always finite. The message reads, e.g.,
    ``x: expected finite values, got NaN in rows [2]``.
    """
    t = torch.as_tensor(value) if isinstance(value, np.ndarray) else value
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if not t.is_floating_point():
        return value
    ok = ~(torch.isnan(t) | torch.isposinf(t)) if allow_neg_inf else torch.isfinite(t)
    if not bool(ok.all()):
        bad = ~ok
        wanted = "finite values or -inf" if allow_neg_inf else "finite values"
        raise ValueError(f"{name}: expected {wanted}, got {_kinds(t, bad)} in {_rows(bad)}")
    return value


def in_range(name: str, value: object, low: float, high: float, what: str = "") -> Tensor:
    """``value`` if every entry lies in ``[low, high]`` (so no NaN), else ValueError naming rows.

    ``what`` says why, e.g. ``"Bernoulli data"``: ``x: expected values in [0, 1] (Bernoulli
    data), got 5 in rows [0, 1]``.
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    inside = (value >= low) & (value <= high)
    if not bool(inside.all()):
        bad = ~inside
        first = value[bad].flatten()[0].item()
        why = f" ({what})" if what else ""
        raise ValueError(
            f"{name}: expected values in [{low:g}, {high:g}]{why}, got {first:g} in {_rows(bad)}"
        )
    return value


def non_empty(name: str, value: Array, dim: int = 0) -> Array:
    """``value`` if it is a tensor (or array) with at least one entry along ``dim``."""
    ok = isinstance(value, Tensor | np.ndarray) and value.ndim > 0
    if not ok or value.shape[dim] == 0:
        got = tuple(value.shape) if isinstance(value, Tensor | np.ndarray) else type(value).__name__
        raise ValueError(f"{name}: expected at least one row (a non-empty batch), got {got}")
    return value


def nonzero_vectors(name: str, value: object) -> Tensor:
    """``value`` if no vector along its last dimension is all zeros (a direction is needed)."""
    if not isinstance(value, Tensor) or value.dim() == 0:
        got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name}: expected vectors (at least one dimension), got {got}")
    zero = (value == 0).all(-1)
    if bool(zero.any()):
        where = _rows(zero) if zero.dim() else "the vector"
        raise ValueError(f"{name}: expected non-zero vectors, got a zero vector in {where}")
    return value


def finite_float(name: str, value: object) -> float:
    """``value`` (a number or one-element tensor) as a finite float, else ValueError."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)
