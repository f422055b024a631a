r"""Maximum likelihood as KL minimisation (chapter 00).

For a data distribution :math:`p_{\text{data}}` and a model :math:`p_\theta`,

.. math::
    \mathrm{KL}(p_{\text{data}}\,\|\,p_\theta)
    = \underbrace{-\mathbb E_{p_{\text{data}}}[\log p_\theta(x)]}_{\text{cross-entropy}}
      - \underbrace{H(p_{\text{data}})}_{\text{does not depend on }\theta},

so minimising the forward KL over :math:`\theta` is the same as maximising the expected
log-likelihood. With only a sample :math:`x_1,\dots,x_N` the expectation becomes the
*empirical* log-likelihood :math:`\frac1N\sum_n\log p_\theta(x_n)`, and maximising it is
empirical risk minimisation (ERM) with the loss :math:`-\log p_\theta(x)`.

The module offers

* densities on a uniform grid: :func:`entropy`, :func:`cross_entropy`, :func:`kl_divergence`
  (Riemann sums with spacing ``dx``; pass ``dx=1`` for probability vectors);
* :func:`gaussian_cross_entropy` — the cross-entropy of *any* distribution with a given mean
  and variance against a Gaussian, in closed form (it only needs those two moments);
* models: :class:`GaussianMixture1D` (an explicit density, used as :math:`p_{\text{data}}`),
  :func:`gaussian_mle` (ERM over the restricted Gaussian family),
  :func:`fit_gaussian_mixture` (ERM over mixtures: a hypothesis space that grows with the
  number of components) and :class:`HistogramDensity` (the most flexible: its
  maximum-likelihood fit is the normalised histogram), plus :func:`implicit_sample`, an
  *implicit* model that can only be sampled;
* :func:`empirical_log_likelihood`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Tensor = torch.Tensor
_LOG_2PI = math.log(2.0 * math.pi)


def _float_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got {got}")
    return value


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _distribution(name: str, p: Tensor, dx: float, tol: float = 1e-2) -> Tensor:
    """Validate non-negative values that integrate to one along the last dimension."""
    _float_tensor(name, p)
    if p.dim() == 0:
        raise ValueError(f"{name}: expected at least one dimension (the grid), got a scalar")
    if not bool(torch.all(torch.isfinite(p))) or bool(torch.any(p < 0)):
        raise ValueError(f"{name}: expected finite, non-negative densities (not log-densities)")
    mass = p.sum(-1) * dx
    if bool(torch.any((mass - 1).abs() > tol)):
        worst = float(mass.flatten()[(mass - 1).abs().flatten().argmax()])
        raise ValueError(
            f"{name}: expected a normalised distribution (sum(p) * dx = 1 within {tol}), "
            f"got {worst:.4g}; widen the grid or pass the grid spacing as dx"
        )
    return p


def entropy(p: Tensor, dx: float = 1.0) -> Tensor:
    r"""Entropy on a grid, :math:`H(p) = -\sum_i p_i\log p_i\,\Delta x` (with 0 log 0 = 0)."""
    dx = _positive("dx", dx)
    p = _distribution("p", p, dx)
    return -torch.xlogy(p, p).sum(-1) * dx


def cross_entropy(p: Tensor, q: Tensor, dx: float = 1.0) -> Tensor:
    r""":math:`-\sum_i p_i\log q_i\,\Delta x = -\mathbb E_p[\log q]`; ``+inf`` where q = 0 < p."""
    dx = _positive("dx", dx)
    p, q = _distribution("p", p, dx), _distribution("q", q, dx)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p, q: expected the same grid, got {tuple(p.shape)} and {tuple(q.shape)}")
    return -torch.xlogy(p, q).sum(-1) * dx


def kl_divergence(p: Tensor, q: Tensor, dx: float = 1.0) -> Tensor:
    r""":math:`\mathrm{KL}(p\,\|\,q) = \sum_i p_i\log(p_i/q_i)\,\Delta x` on a shared grid.

    Terms with :math:`p_i = 0` contribute 0; a cell with :math:`q_i = 0 < p_i` makes the
    divergence ``+inf``. Reduces over the last dimension (leading dimensions broadcast), so
    ``kl_divergence(p_data, q_family)`` with ``q_family`` ``[n_theta, n_grid]`` returns one
    value per model.
    """
    dx = _positive("dx", dx)
    p, q = _distribution("p", p, dx), _distribution("q", q, dx)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p, q: expected the same grid, got {tuple(p.shape)} and {tuple(q.shape)}")
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(-1) * dx


def gaussian_cross_entropy(
    mean_p: Tensor | float, var_p: Tensor | float, mu: Tensor | float, logvar: Tensor | float
) -> Tensor:
    r""":math:`-\mathbb E_{x\sim p}[\log\mathcal N(x;\mu,e^{\ell})]` for any p with mean ``mean_p``
    and variance ``var_p``:

    .. math::
        \tfrac12\big[\log 2\pi + \ell + (\mathrm{var}_p + (\mathrm{mean}_p-\mu)^2)\,e^{-\ell}\big].

    Only the first two moments of :math:`p` enter, because :math:`\log\mathcal N` is a
    quadratic in :math:`x`. Arguments broadcast (scalars allowed).
    """
    args = [torch.as_tensor(v, dtype=torch.float64) if not isinstance(v, Tensor) else v for v in
            (mean_p, var_p, mu, logvar)]  # fmt: skip
    for name, t in zip(("mean_p", "var_p", "mu", "logvar"), args, strict=True):
        _float_tensor(name, t)
    mean_p, var_p, mu, logvar = args
    if bool(torch.any(var_p < 0)):
        raise ValueError("var_p: expected a non-negative variance")
    return 0.5 * (_LOG_2PI + logvar + (var_p + (mean_p - mu) ** 2) * torch.exp(-logvar))


def empirical_log_likelihood(log_prob: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    r""":math:`\frac1N\sum_{n=1}^N \log p_\theta(x_n)` — the ERM objective to *maximise*.

    ``log_prob`` maps the data ``x`` (``[N]`` or ``[N, D]``) to ``[N]`` log-densities. A data
    point the model finds impossible makes the result ``-inf`` (never NaN).
    """
    _float_tensor("x", x)
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"x: expected at least one data point, got shape {tuple(x.shape)}")
    values = log_prob(x)
    if not isinstance(values, Tensor) or values.shape != (x.shape[0],):
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(
            f"log_prob: expected one log-density per data point [{x.shape[0]}], got {shape}"
        )
    if bool(torch.any(torch.isnan(values))):
        raise ValueError("log_prob: returned NaN log-densities")
    return values.mean()


# ---------------------------------------------------------------------------- models


@dataclass(frozen=True)
class GaussianMixture1D:
    r"""An explicit 1-D density :math:`p(x) = \sum_k \pi_k\,\mathcal N(x;\mu_k,\sigma_k^2)`."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.weights)
        if n == 0 or len(self.means) != n or len(self.stds) != n:
            raise ValueError("weights, means, stds: expected three sequences of the same length")
        if any(w <= 0 for w in self.weights) or abs(sum(self.weights) - 1) > 1e-9:
            raise ValueError(f"weights: expected positive weights summing to 1, got {self.weights}")
        if any(s <= 0 for s in self.stds):
            raise ValueError(f"stds: expected positive standard deviations, got {self.stds}")

    def _params(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        opts = {"dtype": like.dtype, "device": like.device}
        return (
            torch.tensor(self.weights, **opts),
            torch.tensor(self.means, **opts),
            torch.tensor(self.stds, **opts),
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x)` element-wise (a stable ``logsumexp`` over components)."""
        _float_tensor("x", x)
        w, m, s = self._params(x)
        z = (x.unsqueeze(-1) - m) / s
        comp = -0.5 * (_LOG_2PI + z**2) - torch.log(s) + torch.log(w)
        return torch.logsumexp(comp, dim=-1)

    def prob(self, x: Tensor) -> Tensor:
        return torch.exp(self.log_prob(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws (float64): pick a component by its weight, then add Gaussian noise."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n: expected a positive int, got {n!r}")
        w, m, s = self._params(torch.zeros((), dtype=torch.float64))
        k = torch.multinomial(w, n, replacement=True, generator=generator)
        return m[k] + s[k] * torch.randn(n, generator=generator, dtype=torch.float64)

    def mean(self) -> float:
        return sum(w * m for w, m in zip(self.weights, self.means, strict=True))

    def var(self) -> float:
        """Total variance: within-component plus between-component spread."""
        second = sum(
            w * (s**2 + m**2) for w, m, s in zip(self.weights, self.means, self.stds, strict=True)
        )
        return second - self.mean() ** 2


def fit_gaussian_mixture(
    x: Tensor, n_components: int, *, seed: int = 0, n_init: int = 2
) -> GaussianMixture1D:
    r"""ERM over mixtures of ``n_components`` Gaussians: maximum likelihood by EM.

    Uses scikit-learn's ``GaussianMixture`` (EM with ``n_init`` restarts, a variance floor
    of :math:`10^{-6}`). More components = a larger hypothesis space; with few data points
    EM can shrink a component onto a single point, which sends the *training*
    log-likelihood up and the held-out one down.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    x = _float_tensor("x", x)
    if x.dim() != 1:
        raise ValueError(f"x: expected a 1-D tensor of data points, got shape {tuple(x.shape)}")
    if not isinstance(n_components, int) or isinstance(n_components, bool) or n_components < 1:
        raise ValueError(f"n_components: expected a positive int, got {n_components!r}")
    if n_components > x.numel():
        raise ValueError(
            f"n_components: expected at most one component per data point ({x.numel()}), "
            f"got {n_components}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(n_components, n_init=n_init, random_state=seed, reg_covar=1e-6)
        gm.fit(x.detach().cpu().double().numpy()[:, None])
    weights = gm.weights_ / gm.weights_.sum()
    return GaussianMixture1D(
        tuple(float(w) for w in weights),
        tuple(float(m) for m in gm.means_[:, 0]),
        tuple(float(c) ** 0.5 for c in gm.covariances_.reshape(-1)),
    )


def gaussian_mle(x: Tensor) -> tuple[Tensor, Tensor]:
    r"""Maximum-likelihood Gaussian: :math:`\hat\mu=\frac1N\sum x_n`,
    :math:`\hat\sigma^2=\frac1N\sum(x_n-\hat\mu)^2` (divide by N, not N-1). Returns (mean, var)."""
    x = _float_tensor("x", x)
    if x.dim() != 1 or x.numel() < 2:
        raise ValueError(f"x: expected a 1-D tensor with at least 2 points, got {tuple(x.shape)}")
    mean = x.mean()
    return mean, ((x - mean) ** 2).mean()


def gaussian_log_prob(x: Tensor, mean: Tensor | float, var: Tensor | float) -> Tensor:
    r""":math:`\log\mathcal N(x;\mu,\sigma^2)` element-wise for 1-D data."""
    _float_tensor("x", x)
    var = torch.as_tensor(var, dtype=x.dtype)
    if bool(torch.any(var <= 0)):
        raise ValueError(f"var: expected a positive variance, got {var}")
    return -0.5 * (_LOG_2PI + torch.log(var) + (x - mean) ** 2 / var)


def histogram_mle(x: Tensor, edges: Tensor) -> Tensor:
    r"""The maximum-likelihood piecewise-constant density on the bins ``edges``.

    With :math:`n_b` of the :math:`N` points in bin :math:`b` of width :math:`w_b`, the density
    :math:`\hat p_b = n_b / (N w_b)` maximises :math:`\sum_n\log p(x_n)` subject to
    :math:`\sum_b p_b w_b = 1` (a Lagrange-multiplier argument). ``edges`` ``[B+1]`` must be
    increasing and cover all of ``x``; returns the ``[B]`` densities.
    """
    x, edges = _float_tensor("x", x), _float_tensor("edges", edges)
    if edges.dim() != 1 or edges.numel() < 2 or bool(torch.any(edges[1:] <= edges[:-1])):
        raise ValueError("edges: expected an increasing 1-D tensor of at least 2 bin edges")
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"x: expected a non-empty 1-D tensor, got shape {tuple(x.shape)}")
    if bool(torch.any((x < edges[0]) | (x > edges[-1]))):
        raise ValueError(f"x: every point must lie in [{float(edges[0])}, {float(edges[-1])}]")
    index = (torch.bucketize(x, edges, right=True) - 1).clamp(0, edges.numel() - 2)
    counts = torch.bincount(index, minlength=edges.numel() - 1).to(edges.dtype)
    return counts / (x.numel() * (edges[1:] - edges[:-1]))


@dataclass(frozen=True)
class HistogramDensity:
    """A piecewise-constant density: ``densities[b]`` on ``[edges[b], edges[b+1])``, 0 outside."""

    edges: Tensor
    densities: Tensor

    @classmethod
    def fit(cls, x: Tensor, low: float, high: float, bins: int) -> HistogramDensity:
        """ERM (maximum likelihood) over histograms with ``bins`` equal bins on ``[low, high]``."""
        if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
            raise ValueError(f"bins: expected a positive int, got {bins!r}")
        if not low < high:
            raise ValueError(f"low, high: expected low < high, got {low}, {high}")
        edges = torch.linspace(low, high, bins + 1, dtype=x.dtype)
        return cls(edges, histogram_mle(x, edges))

    def log_prob(self, x: Tensor) -> Tensor:
        """``log density`` of each point: ``-inf`` in empty bins and outside the range."""
        _float_tensor("x", x)
        inside = (x >= self.edges[0]) & (x <= self.edges[-1])
        index = (torch.bucketize(x, self.edges, right=True) - 1).clamp(0, self.edges.numel() - 2)
        with torch.no_grad():
            dens = torch.where(inside, self.densities[index], torch.zeros_like(x))
        return torch.log(dens)  # log 0 = -inf, never NaN


def implicit_sample(n: int, generator: torch.Generator | None = None) -> Tensor:
    r"""An *implicit* model: :math:`x = G(\varepsilon)`, :math:`\varepsilon\sim\mathcal N(0, I_2)`.

    :math:`G(\varepsilon) = 1.5\sin(2\varepsilon_1) + 0.6\,\varepsilon_2^2 - 0.4\,\varepsilon_1`
    maps 2-D noise to 1-D. Sampling is one line, but the density of :math:`x` would need the
    integral :math:`\int\delta(x - G(\varepsilon))\,\mathcal N(\varepsilon;0,I)\,d\varepsilon`
    over a curve that has no closed form — the situation of a GAN's generator.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return 1.5 * torch.sin(2 * eps[:, 0]) + 0.6 * eps[:, 1] ** 2 - 0.4 * eps[:, 0]


def grid(low: float, high: float, n: int) -> tuple[Tensor, float]:
    """A uniform float64 grid of ``n`` cell centres on ``[low, high]`` and its spacing ``dx``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n: expected an int >= 2, got {n!r}")
    if not low < high:
        raise ValueError(f"low, high: expected low < high, got {low}, {high}")
    dx = (high - low) / n
    return low + dx * (torch.arange(n, dtype=torch.float64) + 0.5), dx


__all__: Sequence[str] = (
    "GaussianMixture1D",
    "HistogramDensity",
    "cross_entropy",
    "empirical_log_likelihood",
    "entropy",
    "fit_gaussian_mixture",
    "gaussian_cross_entropy",
    "gaussian_log_prob",
    "gaussian_mle",
    "grid",
    "histogram_mle",
    "implicit_sample",
    "kl_divergence",
)
