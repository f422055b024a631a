r"""Mode-specific normalisation of one number (Xu et al. 2019, sec. 4.2): the equations.

A variational Gaussian mixture :math:`\sum_k w_k\,\mathcal N(\mu_k, \sigma_k^2)` is fitted to a
continuous column (:func:`fit_modes`). A value :math:`x` gets a mode :math:`k` *sampled* from
the posterior responsibilities (:func:`mode_log_responsibilities`, :func:`sample_modes`)

.. math:: \rho_k(x) = \frac{w_k\,\mathcal N(x;\mu_k,\sigma_k^2)}
                          {\sum_j w_j\,\mathcal N(x;\mu_j,\sigma_j^2)},

and is stored as :math:`\alpha = (x-\mu_k)/(4\sigma_k)` (:func:`mode_normalize`) next to the
one-hot :math:`\beta = e_k`; the inverse is :math:`x = \mu_k + 4\sigma_k\alpha`
(:func:`mode_denormalize`). :math:`|\alpha|` must stay below :data:`ALPHA_LIMIT` for the
inverse to be exact, which :func:`widen_to_cover` guarantees for the fitted values.

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

import numpy as np
from scipy.special import logsumexp

from edu_gen.core.checks import finite_tensor, non_empty

__all__ = [
    "ALPHA_LIMIT",
    "STD_MULTIPLIER",
    "fit_modes",
    "mode_denormalize",
    "mode_log_responsibilities",
    "mode_normalize",
    "sample_modes",
    "widen_to_cover",
]

STD_MULTIPLIER = 4.0
""":math:`\\alpha = (x - \\mu_k) / (4\\sigma_k)`: values within :math:`4\\sigma` land in [-1, 1]."""
ALPHA_LIMIT = 0.99
"""Largest :math:`|\\alpha|` stored (Xu et al. clip to [-0.99, 0.99])."""
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def mode_log_responsibilities(
    x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    r""":math:`\log\rho_k(x) = \log w_k + \log\mathcal N(x;\mu_k,\sigma_k^2) - \log\sum_j(\cdot)`.

    ``x`` has shape ``[n]``; returns ``[n, K]`` (a stable log-sum-exp normalises each row).
    """
    x = np.asarray(x, dtype=float)[:, None]
    means, stds = np.asarray(means, dtype=float), _stds(stds)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=float))
    z = (x - means) / stds
    log_joint = log_w - 0.5 * z**2 - np.log(stds) - LOG_SQRT_2PI
    return log_joint - logsumexp(log_joint, axis=1, keepdims=True)


def sample_modes(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""One categorical draw per row of ``log_probs`` ``[n, K]`` by the Gumbel-max trick.

    :math:`k = \arg\max_k(\log p_k + g_k)` with i.i.d. :math:`g_k\sim\text{Gumbel}(0, 1)` has
    law :math:`p`; entries of ``-inf`` are never chosen (each row needs a finite entry).
    """
    log_probs = finite_tensor("log_probs", np.asarray(log_probs, dtype=float), allow_neg_inf=True)
    if log_probs.ndim != 2 or np.isneginf(log_probs).all(axis=1).any():
        raise ValueError(
            f"log_probs: expected [n, K] with a finite entry in every row, got shape "
            f"{log_probs.shape} with {int(np.isneginf(log_probs).all(axis=1).sum())} all -inf rows"
        )
    return np.argmax(log_probs + rng.gumbel(size=log_probs.shape), axis=1)


def mode_normalize(
    x: np.ndarray, modes: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    r""":math:`\alpha = (x - \mu_k)/(4\sigma_k)` for each value and its mode ``k`` (no clipping)."""
    modes = np.asarray(modes)
    return (np.asarray(x, dtype=float) - means[modes]) / (STD_MULTIPLIER * _stds(stds)[modes])


def mode_denormalize(
    alpha: np.ndarray, modes: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    r"""The inverse :math:`x = \mu_k + 4\sigma_k\alpha`."""
    modes = np.asarray(modes)
    return means[modes] + STD_MULTIPLIER * stds[modes] * np.asarray(alpha, dtype=float)


def _stds(stds: np.ndarray) -> np.ndarray:
    """Mode standard deviations: positive and finite (a zero would divide by zero)."""
    stds = np.asarray(stds, dtype=float)
    if not np.all((stds > 0) & np.isfinite(stds)):
        raise ValueError(f"stds: expected positive finite standard deviations, got {stds}")
    return stds


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

    values = finite_tensor("values", non_empty("values", np.asarray(values, dtype=float)))
    if values.ndim != 1:
        raise ValueError(f"values: expected a 1-D array, got shape {values.shape}")
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


def widen_to_cover(
    values: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> tuple[np.ndarray, int]:
    r"""Grow the std of the nearest mode (in std units) of every value no mode covers.

    A value more than :math:`4 \cdot 0.99\,\sigma` from every mode would need
    :math:`|\alpha| > 0.99`; its nearest mode's :math:`\sigma_k` is widened just enough.
    Returns the new stds and how many values forced a widening.
    """
    reach = STD_MULTIPLIER * ALPHA_LIMIT
    dist = np.abs(values[:, None] - means) / stds
    nearest = dist.argmin(1)
    outside = dist[np.arange(len(values)), nearest] > reach
    stds = stds.copy()
    if outside.any():
        need = np.abs(values[outside] - means[nearest[outside]]) / reach * (1 + 1e-6)
        np.maximum.at(stds, nearest[outside], need)
    return stds, int(outside.sum())
