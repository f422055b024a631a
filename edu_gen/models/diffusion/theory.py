r"""Closed forms behind the theory checks of chapters 08-09 (DDPM's score view, DDIM's q_σ).

* DDIM's non-Markovian forward process (Song, Meng & Ermon 2021, eq. 6-7): given x_0 it starts
  from :math:`x_T\sim\mathcal N(\sqrt{\bar\alpha_T}x_0, (1-\bar\alpha_T)I)` and runs *backwards*
  through :math:`q_\sigma(x_{t-1}\mid x_t,x_0) = \mathcal N(\sqrt{\bar\alpha_{t-1}}x_0 +
  \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\,\frac{x_t-\sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}},
  \sigma_t^2 I)` (:func:`q_sigma_mean`, :func:`q_sigma_chain`). Lemma 1: every marginal
  :math:`q_\sigma(x_t\mid x_0)` is still :math:`\mathcal N(\sqrt{\bar\alpha_t}x_0,
  (1-\bar\alpha_t)I)`.
* Theorem 1's weights: with :math:`p_\theta(x_{t-1}\mid x_t) = q_\sigma(x_{t-1}\mid x_t,\hat x_0)`
  (and :math:`\mathcal N(\hat x_0, \sigma_1^2 I)` at t = 1), each term of
  :math:`J_\sigma` is :math:`\gamma_t\lVert\varepsilon-\varepsilon_\theta(x_t,t)\rVert^2` plus a
  constant, :math:`\gamma_t = k_t^2(1-\bar\alpha_t)/(2\sigma_t^2\bar\alpha_t)` with
  :math:`k_t = \sqrt{\bar\alpha_{t-1}} - \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}
  \sqrt{\bar\alpha_t/(1-\bar\alpha_t)}` (:func:`ddim_elbo_weights`).
* The probability-flow view of DDIM (Song et al. 2021, §4.3): with
  :math:`\bar x = x/\sqrt{\bar\alpha}` and :math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}`,
  the η = 0 update is one Euler step of :math:`d\bar x/d\sigma = \varepsilon_\theta`
  (:func:`flow_sigma`, :func:`euler_flow_step`).
* The score view (Song & Ermon 2019; Song et al. 2021): for data from an isotropic Gaussian
  mixture the noised marginal :math:`q_t` is again a mixture, so :math:`\log q_t`, its score
  and the optimal denoiser :math:`\mathbb E[\varepsilon\mid x_t]` are closed forms
  (:class:`GaussianMixture`).

Indexing as in :mod:`edu_gen.models.diffusion.schedules`: t = 1..T, ``alpha_bar[0] = 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from edu_gen.models.diffusion.schedules import Schedule

Tensor = torch.Tensor


def q_sigma_mean(sched: Schedule, x0: Tensor, xt: Tensor, t: int, sigma: float) -> Tensor:
    """Mean of q_σ(x_{t-1} | x_t, x_0) for one step t in 2..T and its σ_t."""
    if not 2 <= t <= sched.T:
        raise ValueError(f"t: expected an int in 2..T={sched.T}, got {t!r}")
    ab_t, ab_prev = sched.alpha_bar_at(t), sched.alpha_bar_at(t - 1)
    if sigma < 0 or sigma**2 > 1 - ab_prev:
        raise ValueError(f"sigma: expected 0 <= sigma <= sqrt(1 - alpha_bar[t-1]), got {sigma}")
    direction = (xt - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5  # the ε that x_t implies
    return ab_prev**0.5 * x0 + (1 - ab_prev - sigma**2) ** 0.5 * direction


def step_sigmas(sched: Schedule, eta: float) -> list[float]:
    """σ_t(η) of the consecutive step t → t-1, as a list indexed by t (entries 0 and 1 are 0)."""
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta: expected a number in [0, 1], got {eta!r}")
    out = [0.0, 0.0]
    for t in range(2, sched.T + 1):
        ab_t, ab_prev = sched.alpha_bar_at(t), sched.alpha_bar_at(t - 1)
        out.append(eta * max((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev), 0.0) ** 0.5)
    return out


@torch.no_grad()
def q_sigma_chain(
    sched: Schedule,
    x0: Tensor,
    eta: float,
    keep: list[int],
    *,
    generator: torch.Generator | None = None,
    sigmas: list[float] | None = None,
) -> dict[int, Tensor]:
    """Draw x_T, x_{T-1}, …, x_1 from DDIM's forward process q_σ(x_{1:T} | x_0); keep some x_t.

    The chain runs backwards as in the paper's construction: x_T ~ q(x_T | x_0), then
    x_{t-1} ~ q_σ(x_{t-1} | x_t, x_0) with σ_t(η) (or the given ``sigmas``, indexed by t).
    Returns ``{t: x_t}`` for the steps in ``keep``.
    """
    if any(not 1 <= t <= sched.T for t in keep):
        raise ValueError(f"keep: expected steps in 1..T={sched.T}, got {keep}")
    sigmas = step_sigmas(sched, eta) if sigmas is None else sigmas
    ab_T = sched.alpha_bar_at(sched.T)  # noqa: N806
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    x = ab_T**0.5 * x0 + (1 - ab_T) ** 0.5 * noise
    out = {sched.T: x.clone()} if sched.T in keep else {}
    for t in range(sched.T, 1, -1):
        x = q_sigma_mean(sched, x0, x, t, sigmas[t])
        if sigmas[t] > 0:  # σ_t = 0 (η = 0) draws nothing: the step is deterministic
            x = x + sigmas[t] * torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        if t - 1 in keep:
            out[t - 1] = x.clone()
    return out


def ddim_elbo_weights(sched: Schedule, sigmas: list[float], sigma_1: float) -> Tensor:
    """γ_1..γ_T (index t, entry 0 unused) of Theorem 1: J_σ = Σ_t γ_t E‖ε − ε_θ(x_t, t)‖² + C.

    ``sigmas[t]`` (t = 2..T) must be positive; ``sigma_1`` is the decoder's standard deviation.
    """
    if sigma_1 <= 0 or any(s <= 0 for s in sigmas[2 : sched.T + 1]):
        raise ValueError("sigmas: Theorem 1 needs sigma_t > 0 for every t (and sigma_1 > 0)")
    gamma = [0.0]
    for t in range(1, sched.T + 1):
        ab_t, ab_prev = sched.alpha_bar_at(t), sched.alpha_bar_at(t - 1)
        sigma = sigma_1 if t == 1 else sigmas[t]
        c = 0.0 if t == 1 else (1 - ab_prev - sigma**2) ** 0.5
        k = ab_prev**0.5 - c * (ab_t / (1 - ab_t)) ** 0.5
        gamma.append(k**2 * (1 - ab_t) / (2 * sigma**2 * ab_t))
    return torch.tensor(gamma, dtype=torch.float64)


def flow_sigma(alpha_bar: float) -> float:
    """σ = √((1 − ᾱ)/ᾱ), the noise level of the rescaled x̄ = x/√ᾱ = x_0 + σ ε."""
    return ((1 - alpha_bar) / alpha_bar) ** 0.5


def euler_flow_step(sched: Schedule, x: Tensor, eps: Tensor, t: int, s: int) -> Tensor:
    """One Euler step of dx̄/dσ = ε from σ_t to σ_s, written back in x: x_s = √ᾱ_s x̄_s."""
    ab_t, ab_s = sched.alpha_bar_at(t), sched.alpha_bar_at(s)
    x_bar = x / ab_t**0.5
    x_bar_s = x_bar + (flow_sigma(ab_s) - flow_sigma(ab_t)) * eps
    return ab_s**0.5 * x_bar_s


@dataclass(frozen=True)
class GaussianMixture:
    """Data x_0 ~ Σ_k w_k N(μ_k, s_k² I) (``means`` [K, D], ``stds`` [K], ``weights`` [K])."""

    means: Tensor
    stds: Tensor
    weights: Tensor

    def __post_init__(self) -> None:
        k = len(self.means)
        if self.means.dim() != 2 or self.stds.shape != (k,) or self.weights.shape != (k,):
            raise ValueError("expected means [K, D], stds [K] and weights [K]")
        if not math.isclose(float(self.weights.sum()), 1.0, rel_tol=1e-9):
            raise ValueError("weights: expected probabilities that sum to 1")

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws x_0 from the mixture (float64)."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return self.means[comp] + self.stds[comp, None] * noise

    def _components(self, sched: Schedule, t: int) -> tuple[Tensor, Tensor]:
        ab = sched.alpha_bar_at(t)
        return ab**0.5 * self.means, ab * self.stds**2 + (1 - ab)  # means, variances of q_t

    def log_density(self, sched: Schedule, x: Tensor, t: int) -> Tensor:
        """log q_t(x) of the noised marginal at step t (t = 0: the data), for x [B, D]."""
        mean, var = self._components(sched, t)
        d = x.shape[1]
        sq = (x[:, None, :] - mean[None]).pow(2).sum(-1)  # [B, K]
        log_comp = -0.5 * sq / var - 0.5 * d * torch.log(2 * math.pi * var)
        return torch.logsumexp(torch.log(self.weights) + log_comp, dim=1)

    def score(self, sched: Schedule, x: Tensor, t: int) -> Tensor:
        """∇_x log q_t(x), by automatic differentiation of :meth:`log_density`."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_density(sched, x, t).sum(), x)
        return grad

    def optimal_eps(self, sched: Schedule, x: Tensor, t: int) -> Tensor:
        """E[ε | x_t = x], the minimiser of L_simple at step t, from the posterior over components.

        Given component k, x_t is Gaussian and E[ε | x_t, k] = √(1−ᾱ)(x_t − √ᾱ μ_k)/v_k with
        v_k = ᾱ s_k² + 1 − ᾱ; average over the responsibilities p(k | x_t).
        """
        mean, var = self._components(sched, t)
        ab = sched.alpha_bar_at(t)
        d = x.shape[1]
        sq = (x[:, None, :] - mean[None]).pow(2).sum(-1)
        log_comp = -0.5 * sq / var - 0.5 * d * torch.log(2 * math.pi * var)
        resp = torch.softmax(torch.log(self.weights) + log_comp, dim=1)  # p(k | x_t)
        eps_k = (1 - ab) ** 0.5 * (x[:, None, :] - mean[None]) / var[None, :, None]
        return (resp[..., None] * eps_k).sum(1)
