r"""Turning a table into the matrix a tabular generator sees, and back (Xu et al. 2019).

Every column becomes one or two *spans* of the output matrix:

* **categorical / ordinal** - a one-hot vector over the schema's categories (in the schema's
  order), one slot more for "missing" when the fitted column had NaN: a ``softmax`` span.
* **continuous** - *mode-specific normalisation* (Xu et al. 2019, sec. 4.2). A variational
  Gaussian mixture :math:`\sum_k w_k\,\mathcal N(\mu_k, \sigma_k^2)` is fitted to the column.
  For a value :math:`x` a mode :math:`k` is *sampled* from the posterior responsibilities

  .. math:: \rho_k(x) = \frac{w_k\,\mathcal N(x;\mu_k,\sigma_k^2)}
                            {\sum_j w_j\,\mathcal N(x;\mu_j,\sigma_j^2)},

  and :math:`x` is stored as the scalar :math:`\alpha = (x-\mu_k)/(4\sigma_k)` (a ``tanh`` span)
  next to the one-hot mode indicator :math:`\beta = e_k` (a ``softmax`` span). The inverse is
  :math:`x = \mu_k + 4\sigma_k\alpha`.
* **mixed** (Zhao et al. 2021, CTAB-GAN's mixed-type encoder) - the declared point masses
  (e.g. ``affairs = 0``) are modes of their own with :math:`\alpha = 0`; the other values go
  through the mixture as above. The indicator is [point masses..., mixture modes...].
* **missing values** in a numeric column are one more mode (last, :math:`\alpha = 0`).

So the inverse is exact: categories, point masses and NaN come back exactly, and a mixture
value up to the float32 rounding of :math:`\alpha`, :math:`|\hat x - x| \le 4\sigma_k\cdot 2^{-24}
< 10^{-6}\sigma_k`.

Keeping it exact needs :math:`|\alpha|\le 0.99` (a generator's ``tanh`` cannot reach 1, and Xu
et al. clip there). Two rules guarantee it for the rows seen by :meth:`DataTransformer.fit`:
the mode is sampled among the modes with :math:`|\alpha|\le 0.99` only (responsibilities
renormalised over them), and after fitting, a mode's :math:`\sigma_k` is widened just enough to
cover any fitted value that lies more than :math:`3.96\,\sigma` from every mode (rare tail
values; the count is in :attr:`NumericInfo.widened`). New data outside every mode is clipped to
the nearest mode's :math:`\pm 0.99` (counted in :attr:`DataTransformer.clipped`).

Speed (the ``ctgan`` package spends 8-16 s on a 10,000-row table, see ``benchmarks/``):

* the mixture is scikit-learn's ``BayesianGaussianMixture`` (Dirichlet-process prior with
  concentration 0.001, so surplus components get weights near 0 and modes below
  ``weight_threshold`` are dropped), with ``covariance_type="spherical"`` - in one dimension
  identical to ``"full"`` but without per-component Cholesky factorisations - on the
  column standardised to mean 0 / std 1, ``max_iter=100`` and a tolerance of
  :math:`10^{-4}` nats *per row* (scikit-learn's variational bound is a sum over the rows, so
  its ``tol=1e-3`` default - what the package uses - asks for a change below
  :math:`10^{-7}` per row on 10,000 rows, which the slowly-shrinking surplus components
  never reach in 100 iterations), and at most ``min(max_modes, distinct values)`` components;
* it is fitted on a uniform random subsample of at most ``max_fit_rows`` values (default
  2,000): the modes of a one-dimensional density are well determined by a few thousand
  points, and the cost of an EM iteration grows with the rows. Every row is still encoded;
* the mode of every row is drawn at once with the Gumbel-max trick,
  :math:`k = \arg\max_k(\log\rho_k + g_k)`, :math:`g_k\sim\text{Gumbel}(0,1)`, which samples
  exactly from :math:`\rho` (no per-row Python loop, no worker pool).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.schema import Schema

__all__ = [
    "ALPHA_LIMIT",
    "STD_MULTIPLIER",
    "DataTransformer",
    "NumericInfo",
    "Span",
    "fit_modes",
    "mode_denormalize",
    "mode_log_responsibilities",
    "mode_normalize",
    "sample_modes",
]

STD_MULTIPLIER = 4.0
""":math:`\\alpha = (x - \\mu_k) / (4\\sigma_k)`: values within :math:`4\\sigma` land in [-1, 1]."""
ALPHA_LIMIT = 0.99
"""Largest :math:`|\\alpha|` stored (Xu et al. clip to [-0.99, 0.99])."""
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class Span:
    """Columns ``start:end`` of the encoded matrix that belong to table column ``column``.

    ``activation`` is what a generator applies there (``tanh`` for :math:`\\alpha`,
    ``softmax`` for one-hots); ``role`` is ``"value"`` (:math:`\\alpha`), ``"mode"`` (the mode
    indicator of a numeric column) or ``"category"`` (a categorical/ordinal one-hot).
    """

    column: str
    start: int
    end: int
    activation: Literal["tanh", "softmax"]
    role: Literal["value", "mode", "category"]

    @property
    def width(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class NumericInfo:
    """The fitted encoding of one continuous or mixed column.

    The mode indicator has ``len(point_masses) + len(means) + has_nan`` slots, in that order.
    ``means``/``stds``/``weights`` describe the kept mixture modes in the column's units
    (``weights`` renormalised over the kept modes, and relative to the non-mass, non-missing
    rows). ``widened`` counts fitted values that forced a mode's std to grow (see the module
    docstring); ``iterations``/``converged`` report the mixture fit.
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
class _DiscreteInfo:
    name: str
    categories: tuple[object, ...]
    has_nan: bool
    dtype: object

    @property
    def n_slots(self) -> int:
        return len(self.categories) + int(self.has_nan)


# ----------------------------------------------------------------------------- equations


def mode_log_responsibilities(
    x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    r""":math:`\log\rho_k(x) = \log w_k + \log\mathcal N(x;\mu_k,\sigma_k^2) - \log\sum_j(\cdot)`.

    ``x`` has shape ``[n]``; returns ``[n, K]`` (a stable log-sum-exp normalises each row).
    """
    x = np.asarray(x, dtype=float)[:, None]
    means, stds = np.asarray(means, dtype=float), np.asarray(stds, dtype=float)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=float))
    z = (x - means) / stds
    log_joint = log_w - 0.5 * z**2 - np.log(stds) - _LOG_SQRT_2PI
    return log_joint - logsumexp(log_joint, axis=1, keepdims=True)


def sample_modes(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""One categorical draw per row of ``log_probs`` ``[n, K]`` by the Gumbel-max trick.

    :math:`k = \arg\max_k(\log p_k + g_k)` with i.i.d. :math:`g_k\sim\text{Gumbel}(0, 1)` has
    law :math:`p`; entries of ``-inf`` are never chosen (each row needs a finite entry).
    """
    log_probs = np.asarray(log_probs, dtype=float)
    return np.argmax(log_probs + rng.gumbel(size=log_probs.shape), axis=1)


def mode_normalize(
    x: np.ndarray, modes: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    r""":math:`\alpha = (x - \mu_k)/(4\sigma_k)` for each value and its mode ``k`` (no clipping)."""
    modes = np.asarray(modes)
    return (np.asarray(x, dtype=float) - means[modes]) / (STD_MULTIPLIER * stds[modes])


def mode_denormalize(
    alpha: np.ndarray, modes: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    r"""The inverse :math:`x = \mu_k + 4\sigma_k\alpha`."""
    modes = np.asarray(modes)
    return means[modes] + STD_MULTIPLIER * stds[modes] * np.asarray(alpha, dtype=float)


def fit_modes(
    values: np.ndarray,
    *,
    max_modes: int = 10,
    weight_threshold: float = 0.005,
    max_fit_rows: int | None = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """Fit the variational mixture to ``values`` (finite, 1-D); keep modes above the threshold.

    Returns ``(means, stds, weights, iterations, converged)`` in the units of ``values``
    (see the module docstring for the settings and the subsample).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    values = np.asarray(values, dtype=float)
    loc, scale = float(values.mean()), float(values.std())
    distinct = np.unique(values)
    if len(distinct) == 1 or scale == 0.0:
        one = np.ones(1)
        return distinct[:1].copy(), one * max(abs(float(distinct[0])), 1.0) * 1e-3, one, 0, True
    z = (values - loc) / scale
    rng = np.random.default_rng(seed)
    if max_fit_rows is not None and len(z) > max_fit_rows:
        z = z[rng.choice(len(z), size=max_fit_rows, replace=False)]
    mixture = BayesianGaussianMixture(
        n_components=int(min(max_modes, len(distinct), len(z))),
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        covariance_type="spherical",
        max_iter=100,
        tol=1e-4 * len(z),  # sklearn's variational bound is a sum over rows: 1e-4 nats per row
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(z[:, None])
    keep = mixture.weights_ > weight_threshold
    if not keep.any():
        keep = mixture.weights_ == mixture.weights_.max()
    weights = mixture.weights_[keep] / mixture.weights_[keep].sum()
    means = mixture.means_[keep, 0] * scale + loc
    stds = np.sqrt(mixture.covariances_[keep]) * scale
    return means, stds, weights, int(mixture.n_iter_), bool(mixture.converged_)


def _widen_to_cover(
    values: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> tuple[np.ndarray, int]:
    """Grow the std of the nearest mode (in std units) of every value no mode covers."""
    reach = STD_MULTIPLIER * ALPHA_LIMIT
    dist = np.abs(values[:, None] - means) / stds
    nearest = dist.argmin(1)
    outside = dist[np.arange(len(values)), nearest] > reach
    stds = stds.copy()
    if outside.any():
        need = np.abs(values[outside] - means[nearest[outside]]) / reach * (1 + 1e-6)
        np.maximum.at(stds, nearest[outside], need)
    return stds, int(outside.sum())


# ----------------------------------------------------------------------------- transformer


class DataTransformer:
    """Encode a table for the tabular generators (CTGAN, TVAE, CTAB-GAN) and decode it back.

    ``DataTransformer(schema, max_modes=10, weight_threshold=0.005, seed=0)`` then
    :meth:`fit` on a frame; :meth:`transform` gives a float32 matrix laid out as
    :attr:`output_info` (one or two :class:`Span` per column, in schema order) and
    :meth:`inverse_transform` returns a frame with the schema's columns and the fitted dtypes.
    See the module docstring for the encoding and its exactness.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        max_fit_rows: int | None = 2000,
        seed: int = 0,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        self.schema = schema
        self.max_modes = positive_int("max_modes", max_modes)
        if isinstance(weight_threshold, bool) or not 0 <= weight_threshold < 1:
            raise ValueError(
                f"weight_threshold: expected a number in [0, 1), got {weight_threshold!r}"
            )
        self.weight_threshold = float(weight_threshold)
        if max_fit_rows is not None:
            positive_int("max_fit_rows", max_fit_rows, minimum=10)
        self.max_fit_rows = max_fit_rows
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
        self.seed = seed
        self._info: dict[str, NumericInfo | _DiscreteInfo] = {}
        self._spans: list[Span] = []
        self.clipped = 0
        """How many values the last :meth:`transform` had to clip (outside every mode)."""

    # -- layout ----------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return bool(self._spans)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("DataTransformer: call fit(frame) first")

    @property
    def output_info(self) -> list[Span]:
        """All spans in matrix order."""
        self._check_fitted()
        return list(self._spans)

    @property
    def output_dim(self) -> int:
        self._check_fitted()
        return self._spans[-1].end

    @property
    def discrete_spans(self) -> list[Span]:
        """The one-hot spans of the categorical/ordinal columns: what CTGAN conditions on."""
        return [s for s in self.output_info if s.role == "category"]

    @property
    def mode_spans(self) -> list[Span]:
        """The mode-indicator spans of the numeric columns (CTAB-GAN conditions on them)."""
        return [s for s in self.output_info if s.role == "mode"]

    def spans_of(self, name: str) -> list[Span]:
        """The spans of column ``name``."""
        self.schema[name]
        return [s for s in self.output_info if s.column == name]

    def numeric_info(self, name: str) -> NumericInfo:
        """The fitted modes of continuous/mixed column ``name``."""
        self._check_fitted()
        info = self._info.get(self.schema[name].name)
        if not isinstance(info, NumericInfo):
            raise ValueError(f"column {name!r}: is {self.schema[name].kind}, not continuous/mixed")
        return info

    def categories(self, name: str) -> list[object]:
        """The one-hot order of discrete column ``name`` (NaN last if it had missing values)."""
        self._check_fitted()
        info = self._info.get(self.schema[name].name)
        if not isinstance(info, _DiscreteInfo):
            raise ValueError(
                f"column {name!r}: is {self.schema[name].kind}, not categorical/ordinal"
            )
        return list(info.categories) + ([np.nan] if info.has_nan else [])

    # -- fit -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> DataTransformer:
        """Learn the categories and the modes of every column of ``frame`` (validated first)."""
        self.schema.validate(frame)
        info: dict[str, NumericInfo | _DiscreteInfo] = {}
        spans: list[Span] = []
        start = 0
        for index, column in enumerate(self.schema):
            series = frame[column.name]
            if column.is_discrete:
                cats = tuple(self.schema.categories_of(column.name, frame))
                item: NumericInfo | _DiscreteInfo = _DiscreteInfo(
                    column.name, cats, bool(series.isna().any()), series.dtype
                )
                spans.append(Span(column.name, start, start + item.n_slots, "softmax", "category"))
                start += item.n_slots
            else:
                item = self._fit_numeric(column.name, series, column.point_masses, index)
                spans.append(Span(column.name, start, start + 1, "tanh", "value"))
                spans.append(
                    Span(column.name, start + 1, start + 1 + item.n_modes, "softmax", "mode")
                )
                start += 1 + item.n_modes
            info[column.name] = item
        self._info, self._spans = info, spans
        return self

    def _fit_numeric(
        self, name: str, series: pd.Series, masses: tuple[float, ...], index: int
    ) -> NumericInfo:
        x = series.to_numpy(dtype=float, na_value=np.nan)
        nan = np.isnan(x)
        rest = x[~nan & ~np.isin(x, masses)]
        empty = np.zeros(0)
        means, stds, weights, iterations, converged = empty, empty, empty, 0, True
        widened = 0
        if len(rest):
            means, stds, weights, iterations, converged = fit_modes(
                rest,
                max_modes=self.max_modes,
                weight_threshold=self.weight_threshold,
                max_fit_rows=self.max_fit_rows,
                seed=self.seed + index,
            )
            stds, widened = _widen_to_cover(rest, means, stds)
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

    # -- transform -------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, *, seed: int | None = None) -> np.ndarray:
        """Encode ``frame`` as a float32 matrix ``[len(frame), output_dim]``.

        The mode of each mixture value is sampled (seeded by ``seed``, default the
        transformer's), so the same call gives the same matrix.

        Raises:
            ValueError: a column is missing, a numeric column holds non-numbers or ±inf, a
                value is missing in a column that had none when fitted, or a discrete column
                holds a category the schema/fit does not know.
        """
        self._check_fitted()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        missing = [n for n in self.schema.names if n not in frame.columns]
        if missing:
            raise ValueError(f"frame: lacks column(s) {missing} of the schema")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        out = np.zeros((len(frame), self.output_dim), dtype=np.float32)
        self.clipped = 0
        for span in self._spans:
            if span.role == "value":
                continue
            info = self._info[span.column]
            series = frame[span.column]
            if isinstance(info, _DiscreteInfo):
                codes = self._codes(info, series)
                out[np.arange(len(codes)), span.start + codes] = 1.0
            else:
                alpha, modes = self._encode_numeric(info, series, rng)
                out[:, span.start - 1] = alpha
                out[np.arange(len(modes)), span.start + modes] = 1.0
        return out

    @staticmethod
    def _codes(info: _DiscreteInfo, series: pd.Series) -> np.ndarray:
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
                raise ValueError(
                    f"column {info.name!r}: has missing values but had none when fitted"
                )
            codes[nan] = len(info.categories)
        return codes

    def _encode_numeric(
        self, info: NumericInfo, series: pd.Series, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
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
                raise ValueError(
                    f"column {info.name!r}: has missing values but had none when fitted"
                )
            modes[nan] = n_mass + n_mix
        is_mass = np.zeros(len(x), dtype=bool)
        for j, m in enumerate(info.point_masses):
            hit = x == m
            modes[hit] = j
            is_mass |= hit
        rest = ~nan & ~is_mass
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
                self.clipped += int(stranded.sum())
            alpha[rest] = np.clip(all_alpha[np.arange(len(v)), k], -ALPHA_LIMIT, ALPHA_LIMIT)
            modes[rest] = n_mass + k
        return alpha, modes

    # -- inverse ---------------------------------------------------------------------------
    def inverse_transform(self, array: np.ndarray) -> pd.DataFrame:
        """Decode a matrix (encoded data, or generator output) back into a frame.

        One-hot spans are read by ``argmax`` (so soft outputs or logits work too);
        :math:`\\alpha` is clipped to [-1, 1]. Columns come back in schema order with the
        dtypes seen by :meth:`fit` (integer columns are rounded).
        """
        self._check_fitted()
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.output_dim:
            raise ValueError(
                f"array: expected shape [n, {self.output_dim}], got {tuple(array.shape)}"
            )
        if not np.isfinite(array).all():
            raise ValueError("array: contains NaN or ±inf")
        columns: dict[str, pd.Series] = {}
        for span in self._spans:
            if span.role == "value":
                continue
            info = self._info[span.column]
            index = array[:, span.start : span.end].argmax(1)
            if isinstance(info, _DiscreteInfo):
                values = np.empty(len(index), dtype=object)
                lookup = np.asarray(list(info.categories) + [np.nan], dtype=object)
                values[:] = lookup[index]
                columns[span.column] = _restore_dtype(pd.Series(values), info.dtype)
            else:
                alpha = np.clip(array[:, span.start - 1].astype(float), -1.0, 1.0)
                columns[span.column] = _restore_dtype(
                    pd.Series(self._decode_numeric(info, alpha, index)), info.dtype
                )
        return pd.DataFrame(columns, columns=self.schema.names)

    @staticmethod
    def _decode_numeric(info: NumericInfo, alpha: np.ndarray, modes: np.ndarray) -> np.ndarray:
        n_mass, n_mix = len(info.point_masses), len(info.means)
        out = np.full(len(modes), np.nan)
        mass = modes < n_mass
        out[mass] = info.point_masses[modes[mass]]
        mix = (modes >= n_mass) & (modes < n_mass + n_mix)
        out[mix] = mode_denormalize(alpha[mix], modes[mix] - n_mass, info.means, info.stds)
        return out


def _restore_dtype(values: pd.Series, dtype: object) -> pd.Series:
    """Cast decoded values to the fitted dtype (integers rounded first)."""
    if pd.api.types.is_integer_dtype(dtype) and values.dtype.kind == "f":
        values = values.round()
    if pd.api.types.is_bool_dtype(dtype) and values.isna().any():
        return values.astype("boolean")
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values.infer_objects()
