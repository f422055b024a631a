r"""Rényi differential privacy of the sampled Gaussian mechanism, and its accountant.

**Differential privacy.** A randomised algorithm :math:`M` is :math:`(\varepsilon, \delta)`-DP
if for all data sets :math:`D, D'` that differ in one row and every event :math:`S`,
:math:`P[M(D)\in S] \le e^{\varepsilon} P[M(D')\in S] + \delta`. It is
:math:`(\alpha, \varepsilon(\alpha))`-*Rényi* DP (Mironov 2017) if
:math:`D_\alpha(M(D)\,\|\,M(D')) \le \varepsilon(\alpha)`, with the Rényi divergence
:math:`D_\alpha(P\|Q) = \frac{1}{\alpha-1}\log \mathbb E_{Q}[(P/Q)^\alpha]`. RDP is
convenient because it *adds up* over a run: ``T`` steps at :math:`\varepsilon_t(\alpha)` give
:math:`\sum_t \varepsilon_t(\alpha)` (Mironov 2017, Prop. 1).

One DP-SGD step (:mod:`~edu_gen.tabular.privacy.dpsgd`) is the *sampled Gaussian mechanism*
with noise multiplier :math:`\sigma`: every row joins the batch with probability :math:`q`,
and Gaussian noise of std :math:`\sigma` times the sensitivity is added. Its RDP (Mironov,
Talwar & Zhang 2019) is :math:`\varepsilon(\alpha) = \frac{1}{\alpha-1}\log A_\alpha` with

.. math::
    A_\alpha = \mathbb E_{z\sim\mu_0}\Big[\Big(\frac{\mu(z)}{\mu_0(z)}\Big)^\alpha\Big],\quad
    \mu_0 = \mathcal N(0, \sigma^2),\ \mu_1 = \mathcal N(1, \sigma^2),\
    \mu = (1-q)\mu_0 + q\mu_1 .

Edge cases: :math:`q = 0` gives 0 and :math:`q = 1` the Gaussian mechanism,
:math:`\alpha/(2\sigma^2)`. :func:`rdp_sampled_gaussian` evaluates :math:`A_\alpha` in log
space (series below), :class:`RdpAccountant` composes the steps and converts to
:math:`(\varepsilon, \delta)` at the best order :math:`\alpha`:

* ``"classic"`` (Mironov 2017, Prop. 3):
  :math:`\varepsilon = \varepsilon(\alpha) + \frac{\log(1/\delta)}{\alpha - 1}`;
* ``"improved"`` (Balle et al. 2020, Thm. 21; what opacus' RDP accountant reports):
  :math:`\varepsilon = \varepsilon(\alpha) + \log\frac{\alpha-1}{\alpha}
  - \frac{\log\delta + \log\alpha}{\alpha-1}`, always below the classic value at the same
  order (both extra terms are negative for :math:`\alpha > 1`).

Length: a little over 300 lines, because the fractional-order series, the conversion and
the noise search are one derivation and read best together.

References: Mironov, *Rényi differential privacy*, CSF 2017. Mironov, Talwar & Zhang,
*Rényi differential privacy of the sampled Gaussian mechanism*, arXiv:1908.10530, 2019.
Balle et al., *Hypothesis testing interpretations and Rényi differential privacy*,
AISTATS 2020.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from edu_gen.core.checks import positive_float, positive_int

__all__ = [
    "CONVERSIONS",
    "DEFAULT_ORDERS",
    "RdpAccountant",
    "check_delta",
    "check_rate",
    "epsilon_from_rdp",
    "noise_multiplier_for",
    "rdp_sampled_gaussian",
]

DEFAULT_ORDERS: tuple[float, ...] = tuple([1 + x / 10 for x in range(1, 100)] + list(range(12, 64)))
"""Rényi orders searched for the best conversion: 1.1, 1.2, …, 10.9, then 12, 13, …, 63
(the same grid as opacus' ``RDPAccountant`` and TF-Privacy's ``compute_dp_sgd_privacy``)."""

CONVERSIONS = ("classic", "improved")
TAIL = -30.0
"""Series terms below :math:`e^{-30}` are dropped (:math:`A_\\alpha \\ge 1`, so relative 1e-13)."""


# --------------------------------------------------------------------------- checks
def check_rate(name: str, value: object) -> float:
    """``value`` as a sampling rate in [0, 1], else ValueError naming ``name``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a sampling rate in [0, 1], got {value!r}")
    return float(value)


def check_delta(value: object) -> float:
    """``value`` as a :math:`\\delta` in the open interval (0, 1), else ValueError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value < 1:
        raise ValueError(
            f"delta: expected a probability in the open interval (0, 1), got {value!r}"
        )
    return float(value)


def _orders(orders: float | Sequence[float]) -> np.ndarray:
    alphas = np.asarray(orders, dtype=float)
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 1):
        raise ValueError(f"orders: expected finite Rényi orders > 1, got {orders!r}")
    return alphas


def _conversion(value: str) -> str:
    if value not in CONVERSIONS:
        raise ValueError(f"conversion: expected one of {list(CONVERSIONS)}, got {value!r}")
    return value


# --------------------------------------------------------------------------- RDP of one step
def _log_abs_binom(alpha: float, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\log|\\binom{\\alpha}{k}|` and its sign, for real ``alpha`` and integers ``k``."""
    log_abs = special.gammaln(alpha + 1) - special.gammaln(k + 1) - special.gammaln(alpha - k + 1)
    return log_abs, special.gammasgn(alpha - k + 1)


def _log_sum_exp(log_terms: np.ndarray, signs: np.ndarray | None = None) -> float:
    r""":math:`\log\sum_k s_k e^{t_k}`, shifted by :math:`\max_k t_k` so nothing overflows; the
    sum must be positive (here it is :math:`A_\alpha \ge 1`)."""
    top = float(np.max(log_terms))
    total = np.sum(np.exp(log_terms - top) if signs is None else signs * np.exp(log_terms - top))
    if not total > 0:  # pragma: no cover - A_alpha >= 1 mathematically
        raise FloatingPointError("cancellation in the RDP series: the sum is not positive")
    return top + math.log(total)


def _log_a_integer(q: float, sigma: float, alpha: int) -> float:
    r"""Integer :math:`\alpha`: expand :math:`((1-q) + q\,\mu_1/\mu_0)^\alpha` binomially,

    :math:`A_\alpha = \sum_{k=0}^{\alpha}\binom{\alpha}{k}(1-q)^{\alpha-k}q^k
    e^{(k^2-k)/(2\sigma^2)}`, using :math:`\mathbb E_{\mu_0}[(\mu_1/\mu_0)^k]
    = e^{(k^2-k)/(2\sigma^2)}`.
    """
    k = np.arange(alpha + 1, dtype=float)
    log_binom, _ = _log_abs_binom(alpha, k)
    log_terms = (
        log_binom + k * math.log(q) + (alpha - k) * math.log1p(-q) + (k * k - k) / (2 * sigma**2)
    )
    return _log_sum_exp(log_terms)


def _log_term(
    log_binom: np.ndarray, a: np.ndarray, b: np.ndarray, at: np.ndarray, q: float, sigma: float
) -> np.ndarray:
    r""":math:`\log\big[|\binom{\alpha}{k}|\, q^a (1-q)^b\, e^{(a^2-a)/(2\sigma^2)}\,
    \Phi(\text{at}/\sigma)\big]`, one series term of :func:`_log_a_fractional`."""
    moment = (a * a - a) / (2 * sigma**2)
    return log_binom + a * math.log(q) + b * math.log1p(-q) + moment + special.log_ndtr(at / sigma)


def _log_a_fractional(q: float, sigma: float, alpha: float) -> float:
    r"""Fractional :math:`\alpha` (Mironov, Talwar & Zhang 2019, Sec. 3.3).

    Split the integral at :math:`z_0 = \sigma^2\log(1/q - 1) + 1/2`, where
    :math:`q\mu_1 = (1-q)\mu_0`; on each side the smaller part is expanded in a convergent
    binomial series (:math:`\binom{\alpha}{k}` changes sign for :math:`k > \alpha + 1`):

    .. math::
        A_\alpha = \sum_{k\ge0}\binom{\alpha}{k}\Big[(1-q)^{\alpha-k}q^k
        e^{\frac{k^2-k}{2\sigma^2}}\Phi\big(\tfrac{z_0-k}{\sigma}\big)
        + q^{\alpha-k}(1-q)^k e^{\frac{j^2-j}{2\sigma^2}}\Phi\big(\tfrac{j-z_0}{\sigma}\big)\Big],
        \quad j = \alpha - k .

    The series stops at the first ``k`` where both terms fall below :math:`e^{-30}`.
    """
    log_q, log_1mq = math.log(q), math.log1p(-q)
    z0 = sigma**2 * (log_1mq - log_q) + 0.5
    n_terms = 64
    while True:
        k = np.arange(n_terms, dtype=float)
        j = alpha - k
        log_binom, sign = _log_abs_binom(alpha, k)
        log_s0 = _log_term(log_binom, k, j, z0 - k, q, sigma)
        log_s1 = _log_term(log_binom, j, k, j - z0, q, sigma)
        small = np.maximum(log_s0, log_s1) < TAIL
        if small.any():
            stop = int(np.argmax(small)) + 1
            break
        if n_terms > 10**7:  # pragma: no cover - not reached for orders < 10^3
            raise RuntimeError(f"the RDP series did not converge for alpha={alpha}, q={q}")
        n_terms *= 4
    log_terms = np.concatenate([log_s0[:stop], log_s1[:stop]])
    signs = np.concatenate([sign[:stop], sign[:stop]])
    return _log_sum_exp(log_terms, signs)


def rdp_sampled_gaussian(
    q: float, noise_multiplier: float, orders: float | Sequence[float] = DEFAULT_ORDERS
) -> np.ndarray:
    r"""RDP :math:`\varepsilon(\alpha) = \frac{1}{\alpha-1}\log A_\alpha` of *one* step of the
    Poisson-subsampled Gaussian mechanism (sensitivity 1, noise std ``noise_multiplier``).

    Args:
        q: sampling rate in [0, 1]; ``q = 0`` gives 0, ``q = 1`` gives :math:`\alpha/(2\sigma^2)`.
        noise_multiplier: :math:`\sigma > 0`.
        orders: one Rényi order or a sequence of them, each finite and > 1.

    Returns:
        An array shaped like ``orders`` (0-d for a single order).
    """
    q = check_rate("q", q)
    sigma = positive_float("noise_multiplier", noise_multiplier)
    alphas = _orders(orders)
    if q == 0:
        return np.zeros_like(alphas)
    if q == 1:
        return alphas / (2 * sigma**2)
    log_a = [
        _log_a_integer(q, sigma, int(a))
        if float(a).is_integer()
        else _log_a_fractional(q, sigma, a)
        for a in alphas.ravel()
    ]
    return np.asarray(log_a).reshape(alphas.shape) / (alphas - 1)


# --------------------------------------------------------------------------- RDP -> (eps, delta)
def epsilon_from_rdp(
    rdp: Sequence[float] | np.ndarray,
    orders: Sequence[float] | np.ndarray,
    delta: float,
    conversion: str = "improved",
) -> tuple[float, float]:
    r"""The smallest :math:`\varepsilon` over ``orders`` for the given RDP curve; returns
    ``(epsilon, best_order)``. See the module docstring for the two conversions. A curve of
    zeros (nothing released) gives ``(0, nan)``; the improved formula alone would report a
    small positive value there, and any value below 0 is reported as 0."""
    delta = check_delta(delta)
    _conversion(conversion)
    alphas = _orders(orders).ravel()
    rdp = np.asarray(rdp, dtype=float).ravel()
    if rdp.shape != alphas.shape:
        raise ValueError(f"rdp: expected one value per order ({alphas.size}), got {rdp.size}")
    if not np.any(rdp):
        return 0.0, math.nan
    if conversion == "classic":
        eps = rdp - math.log(delta) / (alphas - 1)
    else:
        eps = rdp + np.log1p(-1 / alphas) - (math.log(delta) + np.log(alphas)) / (alphas - 1)
    best = int(np.argmin(eps))
    return max(float(eps[best]), 0.0), float(alphas[best])


@dataclass
class RdpAccountant:
    r"""Composes sampled-Gaussian steps by adding their RDP curves (Mironov 2017, Prop. 1).

    ``history`` holds ``(sample_rate, noise_multiplier, steps)`` triples, so the sampling
    rate and the noise may change during a run; consecutive identical steps are merged.
    """

    orders: tuple[float, ...] = DEFAULT_ORDERS
    conversion: str = "improved"
    history: list[tuple[float, float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.orders = tuple(float(a) for a in _orders(self.orders).ravel())
        _conversion(self.conversion)

    def step(self, sample_rate: float, noise_multiplier: float, steps: int = 1) -> None:
        """Record ``steps`` DP-SGD steps at sampling rate ``q`` and noise multiplier ``σ``."""
        q = check_rate("sample_rate", sample_rate)
        sigma = positive_float("noise_multiplier", noise_multiplier)
        positive_int("steps", steps)
        if self.history and self.history[-1][:2] == (q, sigma):
            self.history[-1] = (q, sigma, self.history[-1][2] + steps)
        else:
            self.history.append((q, sigma, steps))

    def rdp(self) -> np.ndarray:
        r""":math:`\sum_t \varepsilon_t(\alpha)` at every order (zeros before the first step)."""
        total = np.zeros(len(self.orders))
        for q, sigma, steps in self.history:
            total += steps * rdp_sampled_gaussian(q, sigma, self.orders)
        return total

    def get_privacy_spent(self, delta: float) -> tuple[float, float]:
        """``(epsilon, best_order)`` for the run so far at the given ``delta``."""
        return epsilon_from_rdp(self.rdp(), self.orders, delta, self.conversion)

    def get_epsilon(self, delta: float) -> float:
        """:math:`\\varepsilon` spent so far at the given ``delta``."""
        return self.get_privacy_spent(delta)[0]


def noise_multiplier_for(
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    *,
    orders: Sequence[float] = DEFAULT_ORDERS,
    conversion: str = "improved",
    rtol: float = 1e-4,
) -> float:
    r"""The smallest :math:`\sigma` (to relative precision ``rtol``) whose run of ``steps``
    steps at rate ``sample_rate`` spends at most ``target_epsilon``.

    :math:`\varepsilon` falls as :math:`\sigma` grows, so :math:`\sigma` is bracketed by
    doubling/halving and then bisected geometrically; the upper end is returned, so the
    budget is never exceeded.
    """
    target = positive_float("target_epsilon", target_epsilon)
    delta = check_delta(delta)
    q = check_rate("sample_rate", sample_rate)
    if q == 0:
        raise ValueError("sample_rate: expected a sampling rate in (0, 1], got 0 (no data used)")
    positive_int("steps", steps)
    positive_float("rtol", rtol)

    def epsilon(sigma: float) -> float:
        rdp = steps * rdp_sampled_gaussian(q, sigma, orders)
        return epsilon_from_rdp(rdp, orders, delta, conversion)[0]

    low, high = 0.5, 1.0
    while epsilon(high) > target:
        low, high = high, 2 * high
        if high > 1e6:
            raise ValueError(f"target_epsilon: {target} is out of reach with sigma <= 1e6")
    while epsilon(low) <= target:
        low, high = low / 2, low
        if low < 1e-6:
            raise ValueError(f"target_epsilon: {target} is reached even with sigma < 1e-6")
    while high / low - 1 > rtol:
        mid = math.sqrt(low * high)
        low, high = (low, mid) if epsilon(mid) <= target else (mid, high)
    return high
