r"""Gradient estimators for :math:`\nabla_\theta\,\mathbb E_{q_\theta(z)}[f(z)]` (chapter 04).

Training a VAE needs the gradient of an expectation whose *distribution* depends on the
parameters. Two unbiased Monte Carlo estimators exist (Kingma & Welling 2014, sec. 2.2-2.4;
Mohamed et al. 2020, *Monte Carlo gradient estimation in machine learning*):

* **score function** (REINFORCE, likelihood ratio; Williams 1992)

  .. math:: \nabla_\theta \mathbb E_q[f(z)]
            = \mathbb E_q\big[f(z)\,\nabla_\theta \log q_\theta(z)\big]

  It needs only :math:`\log q` and values of :math:`f` (which may be discontinuous), but
  its variance is usually large.
* **pathwise** (reparameterisation). Write :math:`z = g_\theta(\varepsilon)` with noise
  :math:`\varepsilon \sim p(\varepsilon)` that does not depend on :math:`\theta`; then

  .. math:: \nabla_\theta \mathbb E_q[f(z)] = \mathbb E_{p(\varepsilon)}\big[\nabla_z f(z)\,
            \nabla_\theta g_\theta(\varepsilon)\big].

  It needs a differentiable :math:`f` and a differentiable sampler :math:`g`.

For the Gaussian :math:`q = \mathcal N(\mu, \sigma^2)` with :math:`\theta = (\mu, \sigma)`:
:math:`z = \mu + \sigma\varepsilon`, the score is
:math:`\partial_\mu \log q = (z-\mu)/\sigma^2`,
:math:`\partial_\sigma \log q = ((z-\mu)^2 - \sigma^2)/\sigma^3`, and the pathwise terms are
:math:`f'(z)` and :math:`f'(z)\,\varepsilon`.

The second half of the module lists *reparameterisable families* (Kingma & Welling 2014,
sec. 2.4): a sampler :math:`z = g(\varepsilon; \text{params})` from standard noise by a
location-scale map, an inverse CDF applied to :math:`u \sim U(0,1)`, or a transform of
other reparameterisable variables (log-normal, Erlang, chi-squared). Length: both halves
stay in one module of about 300 lines: the chapter runs the estimators on these families.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from edu_gen.core.checks import (
    choice,
    finite_float,
    finite_tensor,
    float_tensor,
    in_range,
    positive_float,
    positive_int,
    shaped_tensor,
)

Tensor = torch.Tensor
Fn = Callable[[Tensor], Tensor]

__all__ = [
    "FAMILIES",
    "TEST_FUNCTIONS",
    "Family",
    "analytic_gradient",
    "cauchy_icdf",
    "chi2_transform",
    "draw_noise",
    "erlang_transform",
    "estimator_summary",
    "exponential_icdf",
    "gaussian_score",
    "location_scale",
    "log_normal_transform",
    "logistic_icdf",
    "pathwise_gradient",
    "rayleigh_icdf",
    "rsample",
    "score_function_gradient",
]


# --------------------------------------------------------------------------- checks


def _as_scalar(name: str, value: float | Tensor, positive: bool = False) -> Tensor:
    """A 0-d float64 tensor from a number or 0-d tensor; clear errors otherwise."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a scalar, got a tensor of shape {value.shape}")
        value = value.detach().to(torch.float64).item()
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    number = positive_float(name, value) if positive else finite_float(name, value)
    return torch.tensor(number, dtype=torch.float64)


def _check_noise(name: str, eps: Tensor, kind: str) -> Tensor:
    finite_tensor(name, float_tensor(name, eps))
    if kind == "uniform" and not torch.all((eps > 0) & (eps < 1)):
        raise ValueError(f"{name}: expected uniform noise strictly inside (0, 1)")
    return eps


# ----------------------------------------------------------------- the two estimators


def gaussian_score(z: Tensor, mu: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    r"""Score of :math:`\mathcal N(\mu,\sigma^2)`: :math:`(\partial_\mu, \partial_\sigma)\log q(z)`.

    :math:`\partial_\mu \log q = (z-\mu)/\sigma^2` and
    :math:`\partial_\sigma \log q = \big((z-\mu)^2 - \sigma^2\big)/\sigma^3`.
    """
    d = z - mu
    return d / sigma**2, (d**2 - sigma**2) / sigma**3


def score_function_gradient(
    f: Fn, mu: float | Tensor, sigma: float | Tensor, eps: Tensor
) -> Tensor:
    r"""Per-sample score-function estimates :math:`f(z)\nabla_{\mu,\sigma}\log q(z)`.

    ``eps`` are standard normal draws (any shape ``[n]``); :math:`z = \mu + \sigma\varepsilon`.
    Returns ``[n, 2]``: column 0 estimates :math:`\partial_\mu \mathbb E[f]`, column 1
    :math:`\partial_\sigma \mathbb E[f]`. Their mean is the estimator; each row is unbiased.
    """
    mu, sigma = _as_scalar("mu", mu), _as_scalar("sigma", sigma, positive=True)
    eps = _check_noise("eps", eps, "normal").to(torch.float64).reshape(-1)
    z = mu + sigma * eps
    fz = f(z)
    d_mu, d_sigma = gaussian_score(z, mu, sigma)
    return torch.stack([fz * d_mu, fz * d_sigma], dim=1)


def pathwise_gradient(f: Fn, mu: float | Tensor, sigma: float | Tensor, eps: Tensor) -> Tensor:
    r"""Per-sample pathwise estimates :math:`f'(z)\,(\partial_\mu z, \partial_\sigma z)`.

    With :math:`z = \mu + \sigma\varepsilon`: :math:`\partial_\mu z = 1`,
    :math:`\partial_\sigma z = \varepsilon`. :math:`f'` comes from autograd, so ``f`` must be
    an element-wise differentiable torch function. Returns ``[n, 2]`` as
    :func:`score_function_gradient`.
    """
    mu, sigma = _as_scalar("mu", mu), _as_scalar("sigma", sigma, positive=True)
    eps = _check_noise("eps", eps, "normal").to(torch.float64).reshape(-1)
    # one copy of (mu, sigma) per sample, so autograd returns per-sample gradients
    mus = mu.expand(eps.shape).clone().requires_grad_(True)
    sigmas = sigma.expand(eps.shape).clone().requires_grad_(True)
    z = mus + sigmas * eps
    fz = f(z)
    if fz.shape != z.shape:
        raise ValueError(f"f: expected an element-wise function, got output shape {fz.shape}")
    if not fz.requires_grad:
        return torch.zeros(len(eps), 2, dtype=torch.float64)  # f does not depend on z
    g_mu, g_sigma = torch.autograd.grad(fz.sum(), (mus, sigmas), allow_unused=True)
    g_mu = torch.zeros_like(eps) if g_mu is None else g_mu
    g_sigma = torch.zeros_like(eps) if g_sigma is None else g_sigma
    return torch.stack([g_mu, g_sigma], dim=1).detach()


def analytic_gradient(
    expectation: Callable[[Tensor, Tensor], Tensor], mu: float | Tensor, sigma: float | Tensor
) -> Tensor:
    r"""Exact :math:`(\partial_\mu, \partial_\sigma)\,\mathbb E[f]` from a closed form.

    ``expectation(mu, sigma)`` is :math:`\mathbb E_{\mathcal N(\mu,\sigma^2)}[f(z)]` written
    with torch operations; autograd differentiates it. Returns a ``[2]`` tensor.
    """
    mu = _as_scalar("mu", mu).requires_grad_(True)
    sigma = _as_scalar("sigma", sigma, positive=True).requires_grad_(True)
    g_mu, g_sigma = torch.autograd.grad(expectation(mu, sigma), (mu, sigma))
    return torch.stack([g_mu, g_sigma])


def estimator_summary(samples: Tensor, truth: Tensor) -> dict[str, Tensor]:
    r"""Mean, variance, standard error and z-score of per-sample gradient estimates.

    ``samples``: ``[n, p]``; ``truth``: ``[p]``. The z-score
    :math:`(\bar g - g)/\mathrm{SE}` is approximately standard normal for an unbiased
    estimator with finite variance, so :math:`|z| < 4` is the unbiasedness check.
    """
    if samples.dim() != 2 or samples.shape[0] < 2:
        raise ValueError(f"samples: expected shape [n >= 2, p], got {tuple(samples.shape)}")
    shaped_tensor("truth", truth, (samples.shape[1],))
    mean = samples.mean(0)
    var = samples.var(0)
    se = (var / samples.shape[0]).sqrt()
    return {"mean": mean, "var": var, "se": se, "z": (mean - truth) / se}


TEST_FUNCTIONS: dict[str, tuple[Fn, Callable[[Tensor, Tensor], Tensor]]] = {
    "z^2": (lambda z: z**2, lambda m, s: m**2 + s**2),
    "sin z": (torch.sin, lambda m, s: torch.sin(m) * torch.exp(-(s**2) / 2)),
    "exp(z/2)": (lambda z: torch.exp(z / 2), lambda m, s: torch.exp(m / 2 + s**2 / 8)),
    "1[z > 0]": (
        lambda z: (z > 0).to(z.dtype),
        lambda m, s: 0.5 * torch.erfc(-m / (s * math.sqrt(2.0))),
    ),
}
r"""Name → (``f``, :math:`\mathbb E_{\mathcal N(\mu,\sigma^2)}[f]` in closed form).

The indicator is discontinuous: its pathwise estimate is 0 almost surely (biased), while
the score-function estimator stays unbiased — the one case where only the score works.
"""


# ------------------------------------------------------------ reparameterisable families


def location_scale(eps: Tensor, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    r"""Location-scale map :math:`z = \mathrm{loc} + \mathrm{scale}\cdot\varepsilon`."""
    return loc + scale * eps


def exponential_icdf(u: Tensor, rate: Tensor | float) -> Tensor:
    r"""Inverse CDF of Exponential(rate): :math:`z = -\log(1-u)/\lambda`."""
    _check_noise("u", u, "uniform")
    return -torch.log1p(-u) / rate


def logistic_icdf(u: Tensor, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    r"""Inverse CDF of Logistic(loc, scale): :math:`z = \mathrm{loc} + s\log\frac{u}{1-u}`."""
    _check_noise("u", u, "uniform")
    return loc + scale * (torch.log(u) - torch.log1p(-u))


def cauchy_icdf(u: Tensor, loc: Tensor | float, scale: Tensor | float) -> Tensor:
    r"""Inverse CDF of Cauchy(loc, scale): :math:`z = \mathrm{loc} + s\tan(\pi(u-\tfrac12))`."""
    _check_noise("u", u, "uniform")
    return loc + scale * torch.tan(math.pi * (u - 0.5))


def rayleigh_icdf(u: Tensor, scale: Tensor | float) -> Tensor:
    r"""Inverse CDF of Rayleigh(scale): :math:`z = s\sqrt{-2\log(1-u)}`."""
    _check_noise("u", u, "uniform")
    return scale * torch.sqrt(-2 * torch.log1p(-u))


def log_normal_transform(eps: Tensor, mu: Tensor | float, sigma: Tensor | float) -> Tensor:
    r"""Log-normal as a transform of a Gaussian: :math:`z = \exp(\mu + \sigma\varepsilon)`."""
    return torch.exp(mu + sigma * eps)


def erlang_transform(u: Tensor, rate: Tensor | float) -> Tensor:
    r"""Gamma(k, rate) with integer k as a sum of k exponentials: :math:`-\sum_i \log u_i/\lambda`.

    ``u``: ``[n, k]`` uniforms; returns ``[n]``.
    """
    return exponential_icdf(u, rate).sum(dim=-1)


def chi2_transform(eps: Tensor) -> Tensor:
    r""":math:`\chi^2_k` as a sum of k squared standard normals; ``eps``: ``[n, k]``."""
    return (eps**2).sum(dim=-1)


@dataclass(frozen=True)
class Family:
    """A reparameterisable family: the noise it needs and its sampler ``g``."""

    kind: str  # "location-scale" | "inverse CDF" | "transform"
    noise: str  # "normal" | "uniform"
    g: Callable[..., Tensor]
    defaults: dict[str, float]
    noise_dim: str | None = None  # parameter giving a trailing noise dimension (e.g. "k")


FAMILIES: dict[str, Family] = {
    "normal": Family("location-scale", "normal", location_scale, {"loc": 0.0, "scale": 1.0}),
    "exponential": Family("inverse CDF", "uniform", exponential_icdf, {"rate": 1.0}),
    "logistic": Family("inverse CDF", "uniform", logistic_icdf, {"loc": 0.0, "scale": 1.0}),
    "cauchy": Family("inverse CDF", "uniform", cauchy_icdf, {"loc": 0.0, "scale": 1.0}),
    "rayleigh": Family("inverse CDF", "uniform", rayleigh_icdf, {"scale": 1.0}),
    "log-normal": Family("transform", "normal", log_normal_transform, {"mu": 0.0, "sigma": 1.0}),
    "erlang": Family("transform", "uniform", erlang_transform, {"k": 3, "rate": 1.0}, "k"),
    "chi2": Family("transform", "normal", chi2_transform, {"k": 4}, "k"),
}
"""Name → :class:`Family`. Parameters are passed to :func:`rsample` by keyword."""


def draw_noise(
    kind: str, shape: tuple[int, ...], generator: torch.Generator | None = None
) -> Tensor:
    """Standard noise: ``"normal"`` N(0, 1) or ``"uniform"`` U(0, 1) (float64, never 0 or 1)."""
    if kind == "normal":
        return torch.randn(shape, generator=generator, dtype=torch.float64)
    if kind == "uniform":
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        tiny = torch.finfo(torch.float64).tiny
        return u.clamp(tiny, 1 - 2**-53)
    raise ValueError(f"kind: expected 'normal' or 'uniform', got {kind!r}")


def rsample(
    name: str, n: int, generator: torch.Generator | None = None, **params: float | Tensor
) -> Tensor:
    r"""``n`` reparameterised draws :math:`z = g(\varepsilon; \text{params})` from family ``name``.

    Gradients flow to any tensor parameter with ``requires_grad``. Unknown parameter names
    raise; missing ones take the family's defaults (:data:`FAMILIES`).
    """
    choice("name", name, FAMILIES)
    positive_int("n", n)
    family = FAMILIES[name]
    unknown = set(params) - set(family.defaults)
    if unknown:
        raise ValueError(
            f"params: {name} takes {sorted(family.defaults)}, got unknown {sorted(unknown)}"
        )
    values = {**family.defaults, **params}
    shape: tuple[int, ...] = (n,)
    if family.noise_dim is not None:
        shape = (n, positive_int(family.noise_dim, values.pop(family.noise_dim)))
    for key, value in values.items():
        positive = key in ("scale", "rate", "sigma")
        if isinstance(value, Tensor) and positive:
            in_range(key, value, torch.finfo(torch.float64).tiny, math.inf, "a positive parameter")
        elif isinstance(value, Tensor):
            finite_tensor(key, value)
        else:
            positive_float(key, value) if positive else finite_float(key, value)
    eps = draw_noise(family.noise, shape, generator)
    return family.g(eps, **values)
