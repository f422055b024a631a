r"""2-D Gaussian-mixture tables with a known density: ``grid``, ``gridr``, ``ring``.

The simulated tables of the CTGAN benchmark (Xu et al., 2019, "Modeling Tabular Data using
Conditional GAN"), :math:`p(x) = \sum_k w_k\,\mathcal N(x; \mu_k, \sigma^2 I)`. Each knows its
exact log-density, so the likelihood fitness ``L_syn`` / ``L_test`` of
:mod:`edu_gen.tabular.metrics` can be computed; ``refit`` fits scikit-learn's
``GaussianMixture`` (imported when called) for ``L_test``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import norm

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.frames import Seed, as_rng, numeric_matrix
from edu_gen.data.tables.schema import Column, Schema


@dataclass(frozen=True, eq=False)
class FittedDensity:
    """A density fitted to rows (the ``refit`` of a simulated table); ``log_likelihood`` per row."""

    columns: tuple[str, ...]
    model: object
    """The fitted estimator (a scikit-learn ``GaussianMixture`` for the mixtures)."""

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        x = numeric_matrix(frame, self.columns, "frame")
        return self.model.score_samples(x)  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class GaussianMixtureTable:
    """A 2-D isotropic Gaussian mixture: ``p(x) = sum_k w_k N(x; mu_k, std^2 I)``.

    ``log_likelihood`` is exact: ``log p(x) = logsumexp_k [log w_k + sum_d log N(x_d; mu_kd,
    std)]`` (scipy's ``norm.logpdf`` and ``logsumexp``). ``refit`` fits scikit-learn's
    ``GaussianMixture`` with as many full-covariance components as the true mixture - the
    model fitted to synthetic rows for ``L_test`` (Xu et al., 2019, Sec. 5.1).
    """

    name: str
    means: np.ndarray = field(repr=False)
    std: float
    weights: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    columns: tuple[str, str] = ("x", "y")

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=float)
        if means.ndim != 2 or means.shape[1] != len(self.columns) or len(means) < 1:
            raise ValueError(f"means: expected shape [K, {len(self.columns)}], got {means.shape}")
        weights = (
            np.full(len(means), 1.0 / len(means))
            if self.weights is None
            else np.asarray(self.weights, dtype=float)
        )
        if weights.shape != (len(means),) or (weights < 0).any():
            raise ValueError(f"weights: expected {len(means)} non-negative numbers")
        if not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"weights: expected a sum of 1, got {weights.sum()}")
        if not (isinstance(self.std, float | int) and np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std: expected a positive number, got {self.std!r}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "weights", weights)

    @property
    def schema(self) -> Schema:
        return Schema(tuple(Column(c, "continuous") for c in self.columns))

    @property
    def n_components(self) -> int:
        return len(self.means)

    def sample(self, n: int, seed: Seed = 0) -> pd.DataFrame:
        """``n`` i.i.d. rows: a component ``k ~ w``, then ``x ~ N(mu_k, std^2 I)``."""
        positive_int("n", n)
        rng = as_rng(seed)
        k = rng.choice(self.n_components, size=n, p=self.weights)
        x = self.means[k] + self.std * rng.standard_normal((n, len(self.columns)))
        return pd.DataFrame(x, columns=list(self.columns))

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        """Exact ``log p(row)`` for every row of ``frame`` (natural log)."""
        x = numeric_matrix(frame, self.columns, "frame")
        per_dim = norm.logpdf(x[:, None, :], loc=self.means[None], scale=self.std)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        return logsumexp(per_dim.sum(-1) + log_w, axis=1)

    def refit(self, frame: pd.DataFrame, *, seed: int = 0) -> FittedDensity:
        """A ``GaussianMixture(n_components=K, covariance_type="full")`` fitted to ``frame``."""
        from sklearn.mixture import GaussianMixture

        x = numeric_matrix(frame, self.columns, "frame")
        if len(x) < self.n_components:
            raise ValueError(
                f"frame: {len(x)} rows cannot fit {self.n_components} mixture components"
            )
        model = GaussianMixture(self.n_components, covariance_type="full", random_state=seed)
        return FittedDensity(self.columns, model.fit(x))


GM_VARIANCE = 0.05
"""Per-coordinate variance of every mixture component (std = sqrt(0.05) ~ 0.224), the value
in the generation script published with the CTGAN benchmark (SDGym)."""


def grid() -> GaussianMixtureTable:
    """``grid``: 25 equal-weight components centred on ``{-4, -2, 0, 2, 4}^2``, variance 0.05."""
    centres = np.array(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=float)
    return GaussianMixtureTable("grid", centres, float(np.sqrt(GM_VARIANCE)))


def gridr(offset_seed: int = 0) -> GaussianMixtureTable:
    """``gridr``: the ``grid`` centres each moved by a fixed uniform offset in [-0.5, 0.5)^2.

    The offsets are drawn once from ``numpy.random.default_rng(offset_seed)`` so the density
    is the same in every run (the benchmark script drew them from a global seed).
    """
    positive_int("offset_seed", offset_seed, minimum=0)
    base = grid().means
    offsets = np.random.default_rng(offset_seed).uniform(-0.5, 0.5, size=base.shape)
    return GaussianMixtureTable("gridr", base + offsets, float(np.sqrt(GM_VARIANCE)))


def ring() -> GaussianMixtureTable:
    """``ring``: 8 equally weighted components on the unit circle (every 45°), variance 0.05."""
    angles = np.arange(8) * np.pi / 4
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixtureTable("ring", centres, float(np.sqrt(GM_VARIANCE)))
