r"""The forward process q and the reverse model p_θ of a DDPM (Ho, Jain & Abbeel 2020).

Notation (indexing convention in :mod:`edu_gen.models.diffusion.schedules`: t = 1..T, ᾱ_0 = 1):

* forward step :math:`q(x_t\mid x_{t-1}) = \mathcal N(\sqrt{\alpha_t}\,x_{t-1}, \beta_t I)`;
* closed form :math:`q(x_t\mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)`,
  i.e. :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`
  (:func:`q_sample`);
* posterior :math:`q(x_{t-1}\mid x_t, x_0) = \mathcal N(\tilde\mu_t, \tilde\beta_t I)` with
  :math:`\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t} x_0
  + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t} x_t` and
  :math:`\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t` (:func:`q_posterior`);
* ε ↔ x_0: :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon)/\sqrt{\bar\alpha_t}`;
* reverse step :math:`p_\theta(x_{t-1}\mid x_t)
  = \mathcal N(\tilde\mu_t(x_t, \hat x_0), \sigma_t^2 I)`
  with :math:`\sigma_t^2 \in \{\beta_t, \tilde\beta_t\}` (:func:`p_mean_variance`). Plugging in
  :math:`\hat x_0` gives :math:`\mu_\theta = \frac{1}{\sqrt{\alpha_t}}\big(x_t -
  \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon_\theta\big)`.

A denoiser is any callable ``model(x_t, t) -> ε̂`` with ``t`` an int64 tensor of shape [B]
holding values in 1..T.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from edu_gen.core.checks import finite_tensor, float_tensor, same_shape
from edu_gen.models.diffusion.schedules import Schedule, check_timesteps, extract

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, Tensor], Tensor]

VAR_TYPES: tuple[str, ...] = ("beta", "beta_tilde")


def _check_pair(a: Tensor, b: Tensor, na: str, nb: str) -> None:
    same_shape(nb, b, na, float_tensor(na, a))
    finite_tensor(na, a)  # NaN in, NaN out is never what a learner meant
    finite_tensor(nb, b)


def as_timesteps(t: Tensor | int, batch: int, T: int, device=None) -> Tensor:  # noqa: N803
    """An int (or [B] tensor) of time steps as a validated int64 tensor of shape [batch]."""
    if isinstance(t, int) and not isinstance(t, bool):
        t = torch.full((batch,), t, dtype=torch.int64, device=device)
    check_timesteps(t, T)
    if t.shape != (batch,):
        raise ValueError(
            f"t: expected shape ({batch},) (one step per example), got {tuple(t.shape)}"
        )
    return t


def q_sample(sched: Schedule, x0: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, a draw from q(x_t | x_0) given the noise ε."""
    _check_pair(x0, noise, "x0", "noise")
    t = as_timesteps(t, len(x0), sched.T, x0.device)
    ab = extract(sched.alpha_bar, t, x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def q_step(sched: Schedule, x_prev: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
    """One forward step x_t = √α_t x_{t-1} + √β_t ε, a draw from q(x_t | x_{t-1})."""
    _check_pair(x_prev, noise, "x_prev", "noise")
    t = as_timesteps(t, len(x_prev), sched.T, x_prev.device)
    return (
        extract(sched.alphas, t, x_prev).sqrt() * x_prev
        + extract(sched.betas, t, x_prev).sqrt() * noise
    )


def q_posterior(sched: Schedule, x0: Tensor, xt: Tensor, t: Tensor | int) -> tuple[Tensor, Tensor]:
    """Mean μ̃_t(x_t, x_0) and variance β̃_t (broadcastable [B, 1, ...]) of q(x_{t-1} | x_t, x_0)."""
    _check_pair(x0, xt, "x0", "xt")
    t = as_timesteps(t, len(x0), sched.T, x0.device)
    ab, ab_prev = sched.alpha_bar[1:], sched.alpha_bar[:-1]
    coef_x0 = torch.cat([ab.new_zeros(1), ab_prev.sqrt() * sched.betas[1:] / (1 - ab)])
    coef_xt = torch.cat([ab.new_zeros(1), sched.alphas[1:].sqrt() * (1 - ab_prev) / (1 - ab)])
    mean = extract(coef_x0, t, x0) * x0 + extract(coef_xt, t, x0) * xt
    return mean, extract(sched.posterior_variance, t, x0)


def predict_x0_from_eps(sched: Schedule, xt: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
    """x̂_0 = (x_t - √(1-ᾱ_t) ε) / √ᾱ_t."""
    _check_pair(xt, eps, "xt", "eps")
    t = as_timesteps(t, len(xt), sched.T, xt.device)
    ab = extract(sched.alpha_bar, t, xt)
    return (xt - (1 - ab).sqrt() * eps) / ab.sqrt()


def predict_eps_from_x0(sched: Schedule, xt: Tensor, t: Tensor | int, x0: Tensor) -> Tensor:
    """ε = (x_t - √ᾱ_t x_0) / √(1-ᾱ_t), the inverse of :func:`predict_x0_from_eps`."""
    _check_pair(xt, x0, "xt", "x0")
    t = as_timesteps(t, len(xt), sched.T, xt.device)
    ab = extract(sched.alpha_bar, t, xt)
    return (xt - ab.sqrt() * x0) / (1 - ab).sqrt()


class MeanVariance(NamedTuple):
    mean: Tensor
    variance: Tensor
    x0: Tensor
    eps: Tensor


def reverse_variance(sched: Schedule, var_type: str) -> Tensor:
    """σ_t² for t = 0..T: β_t (``"beta"``) or β̃_t (``"beta_tilde"``)."""
    if var_type not in VAR_TYPES:
        raise ValueError(f"var_type: expected one of {VAR_TYPES}, got {var_type!r}")
    return sched.betas if var_type == "beta" else sched.posterior_variance


def p_mean_variance(
    model: Denoiser,
    sched: Schedule,
    xt: Tensor,
    t: Tensor | int,
    var_type: str = "beta_tilde",
    clip: float | None = None,
) -> MeanVariance:
    """Mean and variance of p_θ(x_{t-1} | x_t), with the ε̂ and x̂_0 behind them.

    The mean is the posterior mean μ̃_t(x_t, x̂_0) at the predicted x̂_0; ``clip`` (e.g. 1.0
    for data in [-1, 1]) clamps x̂_0 into [-clip, clip] first (off by default).
    """
    t = as_timesteps(t, len(xt), sched.T, xt.device)
    eps = model(xt, t)
    x0 = predict_x0_from_eps(sched, xt, t, eps)
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
        eps = predict_eps_from_x0(sched, xt, t, x0)
    mean, _ = q_posterior(sched, x0, xt, t)
    var = extract(reverse_variance(sched, var_type), t, xt)
    return MeanVariance(mean, var, x0, eps)
