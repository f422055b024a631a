r"""What the network predicts and how its error is weighted: Ho et al. (2020), Table 2.

A reverse step :math:`p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)`
can be parameterised by three different network outputs, each mapped to the mean
:math:`\mu_\theta` through the posterior mean :math:`\tilde\mu_t(x_t, x_0)` of
:mod:`edu_gen.models.diffusion.process`:

* ``"eps"``: the noise, :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/
  \sqrt{\bar\alpha_t}` and :math:`\mu_\theta = \tilde\mu_t(x_t, \hat x_0)`;
* ``"x0"``: the clean data, :math:`\mu_\theta = \tilde\mu_t(x_t, \hat x_0)`;
* ``"mean"``: :math:`\mu_\theta` itself (the equivalent noise is
  :math:`\hat\varepsilon = (x_t - \sqrt{\alpha_t}\mu_\theta)\sqrt{1-\bar\alpha_t}/\beta_t`).

Two weightings of the error (:func:`parameterised_loss`):

* ``"simple"``: the unweighted squared error of the output against its own target
  (ε, x_0 or :math:`\tilde\mu_t`) — for ``"eps"`` this is :math:`L_\text{simple}`;
* ``"vlb"``: the true bound's term, whatever the output,
  :math:`L_{t-1} = \lVert\tilde\mu_t - \mu_\theta\rVert^2/(2\sigma_t^2)` (plus a constant), and
  at t = 1 the Gaussian decoder :math:`-\log\mathcal N(x_0; \mu_\theta(x_1, 1), \sigma_1^2 I)`
  up to its constant (:math:`\tilde\mu_1 = x_0` exactly, so one formula covers every t).

:func:`continuous_bound` evaluates the whole bound :math:`L_T + \sum_{t\ge2} L_{t-1} + L_0` in
nats per dimension for *continuous* data (the decoder is a density, not binned), which makes it
a likelihood bound for 2-D toy data. σ_1² is clipped to β̃_2 when σ_t² = β̃_t (β̃_1 = 0), as in
:func:`~edu_gen.models.diffusion.losses.vlb_terms`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from edu_gen.core import rng
from edu_gen.core.checks import choice, float_tensor
from edu_gen.core.distributions import kl_normal
from edu_gen.models.diffusion.process import (
    Denoiser,
    as_timesteps,
    predict_x0_from_eps,
    q_posterior,
    q_sample,
    reverse_variance,
)
from edu_gen.models.diffusion.schedules import Schedule, extract

Tensor = torch.Tensor
PARAMETERISATIONS: tuple[str, ...] = ("eps", "x0", "mean")
WEIGHTINGS: tuple[str, ...] = ("simple", "vlb")


def step_variance(sched: Schedule, var_type: str = "beta_tilde") -> Tensor:
    """σ_t² for t = 0..T with σ_1² clipped to β̃_2 for ``"beta_tilde"`` (β̃_1 = 0)."""
    var = reverse_variance(sched, var_type).clone()
    if var_type == "beta_tilde":
        var[1] = sched.posterior_variance[2]
    return var


def output_to_mean(sched: Schedule, kind: str, output: Tensor, xt: Tensor, t: Tensor) -> Tensor:
    """μ_θ(x_t, t) from the network's ``output`` under parameterisation ``kind``."""
    choice("kind", kind, PARAMETERISATIONS)
    if kind == "mean":
        return output
    x0 = predict_x0_from_eps(sched, xt, t, output) if kind == "eps" else output
    return q_posterior(sched, x0, xt, t)[0]


def output_to_eps(sched: Schedule, kind: str, output: Tensor, xt: Tensor, t: Tensor) -> Tensor:
    """The noise ε̂ equivalent to ``output``, so every sampler and bound can use the model."""
    choice("kind", kind, PARAMETERISATIONS)
    if kind == "eps":
        return output
    ab = extract(sched.alpha_bar, t, xt)
    if kind == "x0":
        return (xt - ab.sqrt() * output) / (1 - ab).sqrt()
    a, b = extract(sched.alphas, t, xt), extract(sched.betas, t, xt)
    return (xt - a.sqrt() * output) * (1 - ab).sqrt() / b


def as_eps_model(model: Denoiser, sched: Schedule, kind: str) -> Denoiser:
    """Wrap a network that predicts ``kind`` into an ε-denoiser ``(x_t, t) -> ε̂``."""
    choice("kind", kind, PARAMETERISATIONS)

    def eps_model(xt: Tensor, t: Tensor) -> Tensor:
        return output_to_eps(sched, kind, model(xt, t), xt, t)

    return eps_model


def _target(sched: Schedule, kind: str, x0: Tensor, xt: Tensor, t: Tensor, noise: Tensor):
    if kind == "eps":
        return noise
    return x0 if kind == "x0" else q_posterior(sched, x0, xt, t)[0]


def parameterised_loss(
    model: Callable[[Tensor, Tensor], Tensor],
    sched: Schedule,
    x0: Tensor,
    kind: str = "eps",
    weighting: str = "simple",
    *,
    var_type: str = "beta_tilde",
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """One-sample estimate of the training loss for ``kind`` × ``weighting`` (module docstring).

    t ~ U{1..T} then ε ~ N(0, I) are drawn per example from ``generator`` unless given.
    ``"simple"`` averages the squared error over batch and dimensions; ``"vlb"`` sums
    ‖μ̃_t − μ_θ‖²/(2σ_t²) over dimensions and averages over the batch (so that T times it
    estimates the bound's sum of terms, up to constants).
    """
    float_tensor("x0", x0)
    choice("kind", kind, PARAMETERISATIONS)
    choice("weighting", weighting, WEIGHTINGS)
    if t is None:
        t = rng.draw(torch.randint, 1, sched.T + 1, (len(x0),), generator=generator)
    t = as_timesteps(t, len(x0), sched.T, x0.device)
    if noise is None:
        noise = rng.draw(torch.randn, x0.shape, generator=generator, dtype=x0.dtype)
    xt = q_sample(sched, x0, t, noise)
    output = model(xt, t)
    if weighting == "simple":
        return (output - _target(sched, kind, x0, xt, t, noise)).pow(2).mean()
    mean_q = q_posterior(sched, x0, xt, t)[0]
    mean_p = output_to_mean(sched, kind, output, xt, t)
    var = extract(step_variance(sched, var_type), t, x0)
    per_example = ((mean_q - mean_p).pow(2) / (2 * var)).reshape(len(x0), -1).sum(1)
    return per_example.mean()


@torch.no_grad()
def continuous_bound(
    eps_model: Denoiser,
    sched: Schedule,
    x0: Tensor,
    *,
    var_type: str = "beta_tilde",
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """The variational bound on -log p(x_0) for continuous data, in nats per dimension.

    Returns ``{"prior": L_T, "terms": [T] with L_0 (a Gaussian density) at index 0 and the
    KL L_{t-1} at index t-1, "total"}``, each averaged over the batch; one x_t per example
    and step (T model calls). It upper-bounds the cross-entropy of the data under the model.
    """
    float_tensor("x0", x0)
    choice("var_type", var_type, ("beta", "beta_tilde"))
    flat = x0.reshape(len(x0), -1)
    dims = flat.shape[1]
    var = step_variance(sched, var_type)
    terms = []
    for step in range(1, sched.T + 1):
        t = as_timesteps(step, len(x0), sched.T, x0.device)
        noise = rng.draw(torch.randn, x0.shape, generator=generator, dtype=x0.dtype)
        xt = q_sample(sched, x0, t, noise)
        mean_p = output_to_mean(sched, "eps", eps_model(xt, t), xt, t).reshape(len(x0), -1)
        var_t = float(var[step])
        if step == 1:  # -log N(x_0; μ_θ(x_1, 1), σ_1² I)
            sq = (flat - mean_p).pow(2).sum(1)
            nll = 0.5 * sq / var_t + 0.5 * dims * math.log(2 * math.pi * var_t)
            terms.append(nll / dims)
        else:
            mean_q, var_q = q_posterior(sched, x0, xt, t)
            log_vq = torch.full_like(mean_p, math.log(float(var_q.flatten()[0])))
            log_vp = torch.full_like(mean_p, math.log(var_t))
            terms.append(kl_normal(mean_q.reshape(len(x0), -1), log_vq, mean_p, log_vp) / dims)
    ab_T = sched.alpha_bar_at(sched.T)  # noqa: N806
    prior = kl_normal(ab_T**0.5 * flat, torch.full_like(flat, math.log1p(-ab_T))) / dims
    per_t = torch.stack([term.mean() for term in terms])
    return {"prior": prior.mean(), "terms": per_t, "total": prior.mean() + per_t.sum()}
