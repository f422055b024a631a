r"""Explicit and implicit density models for chapter 00's ERM demo.

:class:`GaussianMixture1D` plays :math:`p_{\text{data}}`; the hypothesis spaces grow from
:func:`gaussian_mle` (one Gaussian) through :func:`fit_gaussian_mixture` to
:class:`HistogramDensity` (the normalised histogram, the most flexible maximum-likelihood
fit); :func:`implicit_sample` is a model that can only be sampled. At image size,
:class:`PixelHistograms` is the same histogram per pixel of grey levels (the independent-pixel
baseline of chapters 06 and 08).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from edu_gen.core.checks import finite_tensor, float_tensor, positive_int
from edu_gen.models.likelihood.divergences import LOG_2PI

Tensor = torch.Tensor


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
        if not all(w > 0 for w in self.weights) or not abs(sum(self.weights) - 1) <= 1e-9:
            raise ValueError(f"weights: expected positive weights summing to 1, got {self.weights}")
        if not all(0 < s < math.inf for s in self.stds):
            raise ValueError(f"stds: expected positive finite standard deviations, got {self.stds}")
        if not all(math.isfinite(m) for m in self.means):
            raise ValueError(f"means: expected finite means, got {self.means}")

    def _params(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        opts = {"dtype": like.dtype, "device": like.device}
        return (
            torch.tensor(self.weights, **opts),
            torch.tensor(self.means, **opts),
            torch.tensor(self.stds, **opts),
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x)` element-wise (a stable ``logsumexp`` over components)."""
        finite_tensor("x", float_tensor("x", x))
        w, m, s = self._params(x)
        z = (x.unsqueeze(-1) - m) / s
        comp = -0.5 * (LOG_2PI + z**2) - torch.log(s) + torch.log(w)
        return torch.logsumexp(comp, dim=-1)

    def prob(self, x: Tensor) -> Tensor:
        return torch.exp(self.log_prob(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws (float64): pick a component by its weight, then add Gaussian noise."""
        positive_int("n", n)
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

    x = finite_tensor("x", float_tensor("x", x))
    if x.dim() != 1:
        raise ValueError(f"x: expected a 1-D tensor of data points, got shape {tuple(x.shape)}")
    positive_int("n_components", n_components)
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
    x = finite_tensor("x", float_tensor("x", x))
    if x.dim() != 1 or x.numel() < 2:
        raise ValueError(f"x: expected a 1-D tensor with at least 2 points, got {tuple(x.shape)}")
    mean = x.mean()
    return mean, ((x - mean) ** 2).mean()


def gaussian_log_prob(x: Tensor, mean: Tensor | float, var: Tensor | float) -> Tensor:
    r""":math:`\log\mathcal N(x;\mu,\sigma^2)` element-wise for 1-D data."""
    float_tensor("x", x)
    var = torch.as_tensor(var, dtype=x.dtype)
    if not bool(torch.all((var > 0) & (var < math.inf))):
        raise ValueError(f"var: expected a positive variance, got {var}")
    return -0.5 * (LOG_2PI + torch.log(var) + (x - mean) ** 2 / var)


def histogram_mle(x: Tensor, edges: Tensor) -> Tensor:
    r"""The maximum-likelihood piecewise-constant density on the bins ``edges``.

    With :math:`n_b` of the :math:`N` points in bin :math:`b` of width :math:`w_b`, the density
    :math:`\hat p_b = n_b / (N w_b)` maximises :math:`\sum_n\log p(x_n)` subject to
    :math:`\sum_b p_b w_b = 1` (a Lagrange-multiplier argument). ``edges`` ``[B+1]`` must be
    increasing and cover all of ``x``; returns the ``[B]`` densities.
    """
    x, edges = finite_tensor("x", float_tensor("x", x)), float_tensor("edges", edges)
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
        positive_int("bins", bins)
        if not low < high:
            raise ValueError(f"low, high: expected low < high, got {low}, {high}")
        edges = torch.linspace(low, high, bins + 1, dtype=x.dtype)
        return cls(edges, histogram_mle(x, edges))

    def log_prob(self, x: Tensor) -> Tensor:
        """``log density`` of each point: ``-inf`` in empty bins and outside the range."""
        finite_tensor("x", float_tensor("x", x))
        inside = (x >= self.edges[0]) & (x <= self.edges[-1])
        index = (torch.bucketize(x, self.edges, right=True) - 1).clamp(0, self.edges.numel() - 2)
        with torch.no_grad():
            dens = torch.where(inside, self.densities[index], torch.zeros_like(x))
        return torch.log(dens)  # log 0 = -inf, never NaN


def _grey_levels(levels: Tensor, n_levels: int) -> Tensor:
    """``levels`` as a long ``[N, D]`` tensor of integers in ``0..n_levels-1``, or an error."""
    if not isinstance(levels, Tensor) or levels.dim() != 2 or len(levels) == 0:
        shape = tuple(levels.shape) if isinstance(levels, Tensor) else type(levels).__name__
        raise ValueError(f"levels: expected a non-empty [N, D] tensor, got {shape}")
    if levels.is_floating_point() and not bool((levels == levels.round()).all()):
        raise ValueError("levels: expected integer grey levels")
    if bool(((levels < 0) | (levels >= n_levels)).any()):
        raise ValueError(f"levels: expected values in 0..{n_levels - 1}")
    return levels.long()


@dataclass(frozen=True)
class PixelHistograms:
    r"""Independent pixels, each with its own smoothed histogram of the ``L`` grey levels.

    :math:`P_d(k) = (n_{dk} + \alpha) / (N + \alpha L)` from the counts :math:`n_{dk}` of level
    :math:`k` at pixel :math:`d` in :math:`N` training images, and
    :math:`\log p(x) = \sum_d \log P_d(x_d)`: exact, and a baseline that knows every pixel's
    grey levels but nothing about how pixels go together. ``log_probs`` is ``[D, L]``.
    """

    log_probs: Tensor

    @classmethod
    def fit(cls, levels: Tensor, n_levels: int, smoothing: float = 1.0) -> PixelHistograms:
        """Count the integer ``levels`` ``[N, D]`` (in ``0..n_levels-1``) and add ``smoothing``
        (α > 0: add-one is 1, add-half 0.5) to every count."""
        levels = _grey_levels(levels, positive_int("n_levels", n_levels))
        if not smoothing > 0:
            raise ValueError(f"smoothing: expected a positive pseudo-count, got {smoothing!r}")
        counts = torch.nn.functional.one_hot(levels, n_levels).sum(0).double() + smoothing
        return cls((counts / counts.sum(1, keepdim=True)).log())

    def log_prob(self, levels: Tensor) -> Tensor:
        r""":math:`\log p(x)` in nats for each row of the integer ``levels`` ``[N, D]``."""
        n_pixels, n_levels = self.log_probs.shape
        levels = _grey_levels(levels, n_levels)
        if levels.shape[1] != n_pixels:
            raise ValueError(f"levels: expected {n_pixels} pixels per row, got {levels.shape[1]}")
        return self.log_probs.gather(1, levels.T).sum(0)


def implicit_sample(n: int, generator: torch.Generator | None = None) -> Tensor:
    r"""An *implicit* model: :math:`x = G(\varepsilon)`, :math:`\varepsilon\sim\mathcal N(0, I_2)`.

    :math:`G(\varepsilon) = 1.5\sin(2\varepsilon_1) + 0.6\,\varepsilon_2^2 - 0.4\,\varepsilon_1`
    maps 2-D noise to 1-D. Sampling is one line, but the density of :math:`x` would need the
    integral :math:`\int\delta(x - G(\varepsilon))\,\mathcal N(\varepsilon;0,I)\,d\varepsilon`
    over a curve that has no closed form — the situation of a GAN's generator.
    """
    positive_int("n", n)
    eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return 1.5 * torch.sin(2 * eps[:, 0]) + 0.6 * eps[:, 1] ** 2 - 0.4 * eps[:, 0]
