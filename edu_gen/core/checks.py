"""Argument checks shared by the package: one clear message per kind of bad input.

Every check takes the argument's ``name`` first, returns the value it accepted and raises
``ValueError`` (or ``TypeError`` for a wrong type) whose message names the argument and
says what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from types import EllipsisType

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
