r"""One column at a time: what the transformer learns about a column, and its encoding.

* **categorical / ordinal** (:class:`DiscreteInfo`) - the category of each row as an index
  into the schema's categories (:func:`discrete_codes`), one slot more for "missing" when the
  fitted column had NaN;
* **continuous / mixed** (:class:`NumericInfo`, :func:`fit_numeric`) - the declared point
  masses first (CTAB-GAN's mixed-type encoder: each is a mode of its own with
  :math:`\alpha = 0`), then the mixture modes of :mod:`~edu_gen.tabular.encoding.modes`, then
  "missing" (:math:`\alpha = 0`). :func:`encode_numeric` gives every row its
  :math:`(\alpha, \text{mode})`, :func:`decode_numeric` inverts it exactly.

A mixture mode is sampled among the modes with :math:`|\alpha|\le 0.99` only
(responsibilities renormalised over them); a new value outside every mode goes to the
nearest mode and is clipped to :math:`\pm 0.99` (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_gen.tabular.encoding.modes import (
    ALPHA_LIMIT,
    STD_MULTIPLIER,
    fit_modes,
    mode_denormalize,
    mode_log_responsibilities,
    sample_modes,
    widen_to_cover,
)

__all__ = [
    "DiscreteInfo",
    "NumericInfo",
    "decode_numeric",
    "discrete_codes",
    "encode_numeric",
    "fit_numeric",
    "restore_dtype",
]


@dataclass(frozen=True)
class NumericInfo:
    """The fitted encoding of one continuous or mixed column.

    The mode indicator has ``len(point_masses) + len(means) + has_nan`` slots, in that order.
    ``means``/``stds``/``weights`` describe the kept mixture modes in the column's units
    (``weights`` renormalised over the kept modes, and relative to the non-mass, non-missing
    rows). ``widened`` counts fitted values that forced a mode's std to grow
    (:func:`~edu_gen.tabular.encoding.modes.widen_to_cover`); ``iterations``/``converged``
    report the mixture fit.
    """

    name: str
    point_masses: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    has_nan: bool
    widened: int
    iterations: int
    converged: bool
    dtype: object

    @property
    def n_modes(self) -> int:
        return len(self.point_masses) + len(self.means) + int(self.has_nan)


@dataclass(frozen=True)
class DiscreteInfo:
    """The fitted categories of one categorical/ordinal column (NaN gets one more slot)."""

    name: str
    categories: tuple[object, ...]
    has_nan: bool
    dtype: object

    @property
    def n_slots(self) -> int:
        return len(self.categories) + int(self.has_nan)


def fit_numeric(
    name: str,
    series: pd.Series,
    masses: tuple[float, ...],
    *,
    max_modes: int,
    weight_threshold: float,
    max_fit_rows: int | None,
    seed: int,
) -> NumericInfo:
    """Fit the modes of a numeric column: the mixture on the values that are neither a point
    mass nor missing, then :func:`widen_to_cover` so every fitted value is encoded exactly."""
    x = series.to_numpy(dtype=float, na_value=np.nan)
    nan = np.isnan(x)
    rest = x[~nan & ~np.isin(x, masses)]
    empty = np.zeros(0)
    means, stds, weights, iterations, converged = empty, empty, empty, 0, True
    widened = 0
    if len(rest):
        means, stds, weights, iterations, converged = fit_modes(
            rest,
            max_modes=max_modes,
            weight_threshold=weight_threshold,
            max_fit_rows=max_fit_rows,
            seed=seed,
        )
        stds, widened = widen_to_cover(rest, means, stds)
    return NumericInfo(
        name=name,
        point_masses=np.asarray(masses, dtype=float),
        means=means,
        stds=stds,
        weights=weights,
        has_nan=bool(nan.any()),
        widened=widened,
        iterations=iterations,
        converged=converged,
        dtype=series.dtype,
    )


def discrete_codes(info: DiscreteInfo, series: pd.Series) -> np.ndarray:
    """The slot of every value of a discrete column (ValueError for an unknown category, or
    for NaN in a column that had none when fitted)."""
    codes = pd.Categorical(series, categories=list(info.categories)).codes.astype(np.int64)
    nan = series.isna().to_numpy()
    unknown = (codes < 0) & ~nan
    if unknown.any():
        bad = sorted({str(v) for v in series[unknown].unique()})[:5]
        raise ValueError(
            f"column {info.name!r}: unknown categor{'y' if len(bad) == 1 else 'ies'} {bad}; "
            f"fitted categories are {list(info.categories)}"
        )
    if nan.any():
        if not info.has_nan:
            raise ValueError(f"column {info.name!r}: has missing values but had none when fitted")
        codes[nan] = len(info.categories)
    return codes


def encode_numeric(
    info: NumericInfo, series: pd.Series, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(alpha, modes, clipped)`` of every value: point masses and NaN exactly, mixture
    values with a sampled feasible mode (see the module docstring); ``clipped`` counts the
    values outside every mode."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise ValueError(f"column {info.name!r}: expected numbers, got dtype {series.dtype}")
    x = series.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(x).any():
        raise ValueError(f"column {info.name!r}: contains ±inf; expected finite numbers")
    n_mass, n_mix = len(info.point_masses), len(info.means)
    modes = np.zeros(len(x), dtype=np.int64)
    alpha = np.zeros(len(x))
    nan = np.isnan(x)
    if nan.any():
        if not info.has_nan:
            raise ValueError(f"column {info.name!r}: has missing values but had none when fitted")
        modes[nan] = n_mass + n_mix
    is_mass = np.zeros(len(x), dtype=bool)
    for j, m in enumerate(info.point_masses):
        hit = x == m
        modes[hit] = j
        is_mass |= hit
    rest = ~nan & ~is_mass
    clipped = 0
    if rest.any():
        if n_mix == 0:
            raise ValueError(
                f"column {info.name!r}: every fitted value was a point mass or missing, so "
                f"values other than {info.point_masses.tolist()} cannot be encoded"
            )
        v = x[rest]
        log_resp = mode_log_responsibilities(v, info.means, info.stds, info.weights)
        all_alpha = (v[:, None] - info.means) / (STD_MULTIPLIER * info.stds)
        feasible = np.abs(all_alpha) <= ALPHA_LIMIT
        stranded = ~feasible.any(1)
        log_resp = np.where(feasible, log_resp, -np.inf)
        log_resp[stranded] = 0.0  # placeholder row; replaced by the nearest mode below
        k = sample_modes(log_resp, rng)
        if stranded.any():
            k[stranded] = np.abs(all_alpha[stranded]).argmin(1)
            clipped = int(stranded.sum())
        alpha[rest] = np.clip(all_alpha[np.arange(len(v)), k], -ALPHA_LIMIT, ALPHA_LIMIT)
        modes[rest] = n_mass + k
    return alpha, modes, clipped


def decode_numeric(info: NumericInfo, alpha: np.ndarray, modes: np.ndarray) -> np.ndarray:
    """The values back from ``(alpha, modes)``: point masses and NaN exactly, mixture modes
    by :func:`~edu_gen.tabular.encoding.modes.mode_denormalize`."""
    n_mass, n_mix = len(info.point_masses), len(info.means)
    out = np.full(len(modes), np.nan)
    mass = modes < n_mass
    out[mass] = info.point_masses[modes[mass]]
    mix = (modes >= n_mass) & (modes < n_mass + n_mix)
    out[mix] = mode_denormalize(alpha[mix], modes[mix] - n_mass, info.means, info.stds)
    return out


def restore_dtype(values: pd.Series, dtype: object) -> pd.Series:
    """Cast decoded values to the fitted dtype (integers rounded first)."""
    if pd.api.types.is_integer_dtype(dtype) and values.dtype.kind == "f":
        values = values.round()
    if pd.api.types.is_bool_dtype(dtype) and values.isna().any():
        return values.astype("boolean")
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values.infer_objects()
