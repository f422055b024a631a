r"""Training losses of a DDPM: L_simple and the terms of the variational bound.

The negative ELBO of the diffusion model (Sohl-Dickstein et al. 2015; Ho et al. 2020, eq. 5)
splits into

.. math::
    L = \underbrace{D_{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{L_T}
      + \sum_{t=2}^{T} \underbrace{D_{KL}(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))}_{L_{t-1}}
      \underbrace{- \log p_\theta(x_0|x_1)}_{L_0}.

With an ε-parameterised mean and σ_t² fixed, each KL term is a weighted squared error,
:math:`L_{t-1} = \frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}\lVert\varepsilon -
\varepsilon_\theta(x_t, t)\rVert^2 + C_t` (:func:`kl_weight`; C_t is 0 when σ_t² = β̃_t);
dropping the weights gives :math:`L_{simple} = \mathbb E_{t,x_0,\varepsilon}\lVert\varepsilon -
\varepsilon_\theta(x_t,t)\rVert^2` (:func:`l_simple`). L_0 uses the discretised Gaussian decoder
(:func:`discretized_gaussian_log_likelihood`). Everything reported "in bits/dim" is divided by
D ln 2.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from edu_gen.core import rng
from edu_gen.core.checks import float_tensor, positive_int
from edu_gen.core.distributions import kl_normal
from edu_gen.models.diffusion.process import (
    Denoiser,
    MeanVariance,
    as_timesteps,
    p_mean_variance,
    q_posterior,
    q_sample,
    reverse_variance,
)
from edu_gen.models.diffusion.schedules import Schedule, extract

Tensor = torch.Tensor

LOG_PROB_FLOOR = 1e-12
"""Smallest bin probability used inside a log (a bin mass below it is scored as 1e-12)."""


def l_simple(
    model: Denoiser,
    sched: Schedule,
    x0: Tensor,
    generator: torch.Generator | None = None,
    *,
    t: Tensor | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """L_simple (Ho et al. 2020, eq. 14; Algorithm 1): the mean of ‖ε - ε_θ(x_t, t)‖².

    The mean runs over the batch and the pixels; one t ~ U{1..T} and one ε ~ N(0, I) are
    drawn per example (t first, then ε, from ``generator``), unless they are given: ``t``
    an int64 tensor [B] of steps in 1..T, ``noise`` a tensor shaped like ``x0``.
    """
    if not isinstance(x0, Tensor) or not x0.is_floating_point() or x0.dim() < 2:
        raise ValueError("x0: expected a floating-point batch of shape [B, ...]")
    if t is None:
        t = rng.draw(
            torch.randint, 1, sched.T + 1, (len(x0),), generator=generator, device=x0.device
        )
    if noise is None:
        noise = rng.draw(
            torch.randn, x0.shape, generator=generator, device=x0.device, dtype=x0.dtype
        )
    return (noise - model(q_sample(sched, x0, t, noise), t)).pow(2).mean()


def _flat(x: Tensor) -> Tensor:
    return x.reshape(len(x), -1)


def prior_kl_bpd(sched: Schedule, x0: Tensor) -> Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) per example, in bits/dim (needs no model)."""
    t = torch.full((len(x0),), sched.T, dtype=torch.int64, device=x0.device)
    ab = extract(sched.alpha_bar, t, x0)
    mean = _flat(ab.sqrt() * x0)
    logvar = torch.log1p(-ab).reshape(len(x0), 1).expand_as(mean)
    return kl_normal(mean, logvar) / (mean.shape[1] * math.log(2))


def kl_weight(sched: Schedule, t: Tensor, var_type: str = "beta_tilde") -> Tensor:
    """β_t² / (2 σ_t² α_t (1 - ᾱ_t)), the weight of ‖ε - ε_θ‖² in L_{t-1} (t >= 2)."""
    var = reverse_variance(sched, var_type)
    w = sched.betas**2 / (2 * var * sched.alphas * (1 - sched.alpha_bar))
    return w[t]


def discretized_gaussian_log_likelihood(
    x: Tensor, mean: Tensor, log_scale: Tensor, levels: int = 256
) -> Tensor:
    r"""log p(x) per element for data on ``levels`` equally spaced values in [-1, 1].

    Each value owns the bin :math:`[x - h, x + h]`, :math:`h = 1/(\text{levels} - 1)`; the two
    outermost bins extend to ∓∞ (Ho et al. 2020, eq. 13). The Gaussian is N(mean, e^{2 log_scale}).
    Bin masses below :data:`LOG_PROB_FLOOR` are floored there, so the log is never -inf.
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels: expected an int >= 2, got {levels!r}")
    if float(x.min()) < -1 - 1e-6 or float(x.max()) > 1 + 1e-6:
        raise ValueError("x: expected data scaled to [-1, 1]")
    h = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    upper, lower = (x - mean + h) * inv_s, (x - mean - h) * inv_s
    log_cdf_upper = torch.special.log_ndtr(upper)  # log Φ(upper)
    log_sf_lower = torch.special.log_ndtr(-lower)  # log (1 - Φ(lower))
    # middle bins: log(Φ(upper) - Φ(lower)), computed on the side with less cancellation
    mass = torch.where(
        lower > 0,
        torch.special.ndtr(-lower) - torch.special.ndtr(-upper),
        torch.special.ndtr(upper) - torch.special.ndtr(lower),
    )
    log_mid = torch.log(mass.clamp(min=LOG_PROB_FLOOR))
    out = torch.where(
        x < -1 + h / 2, log_cdf_upper, torch.where(x > 1 - h / 2, log_sf_lower, log_mid)
    )
    return out.clamp(min=math.log(LOG_PROB_FLOOR))


def _reverse_step(
    model: Denoiser, sched: Schedule, x0: Tensor, t: Tensor, noise: Tensor, var_type: str
) -> tuple[Tensor, MeanVariance]:
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε and the model's p_θ(x_{t-1} | x_t) at steps ``t``."""
    xt = q_sample(sched, x0, t, noise)
    return xt, p_mean_variance(model, sched, xt, t, var_type)


def _decoder_bpd(
    out: MeanVariance, sched: Schedule, x0: Tensor, levels: int, var_type: str
) -> Tensor:
    """L_0 = -log p_θ(x_0 | x_1) per example, in bits/dim, with the discretised decoder."""
    # β̃_1 = 0 would make the decoder a point mass; as in Ho et al.'s code the variance at
    # t = 1 is clipped to β̃_2 (σ_1² = β_1 for var_type="beta").
    var1 = sched.betas[1] if var_type == "beta" else sched.posterior_variance[2]
    log_scale = torch.full_like(x0, 0.5 * math.log(float(var1)))
    ll = discretized_gaussian_log_likelihood(x0, out.mean, log_scale, levels)
    return -_flat(ll).sum(1) / (x0[0].numel() * math.log(2))


def _kl_bpd(sched: Schedule, x0: Tensor, xt: Tensor, t: Tensor, out: MeanVariance) -> Tensor:
    """L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ‖ p_θ(x_{t-1} | x_t)) per example in bits/dim (t ≥ 2)."""
    mean_q, var_q = q_posterior(sched, x0, xt, t)
    kl = kl_normal(
        _flat(mean_q),
        _flat(var_q.log().expand_as(x0)),
        _flat(out.mean),
        _flat(out.variance.log().expand_as(x0)),
    )
    return kl / (x0[0].numel() * math.log(2))


def vlb_terms(
    model: Denoiser,
    sched: Schedule,
    x0: Tensor,
    *,
    levels: int = 256,
    var_type: str = "beta_tilde",
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Every term of the bound for a batch ``x0`` in [-1, 1], in bits/dim, averaged over it.

    Returns ``{"prior": L_T, "terms": [T] tensor with L_0 at index 0 and L_{t-1} at index
    t-1, "total": L_T + Σ terms}``. One model call per t (T calls in all). The decoder L_0
    uses σ_1² = β̃_2 (``"beta_tilde"``, since β̃_1 = 0) or β_1 (``"beta"``).
    """
    terms = []
    for step in range(1, sched.T + 1):
        t = as_timesteps(step, len(x0), sched.T, x0.device)
        noise = rng.draw(
            torch.randn, x0.shape, generator=generator, device=x0.device, dtype=x0.dtype
        )
        xt, out = _reverse_step(model, sched, x0, t, noise, var_type)
        if step == 1:
            terms.append(_decoder_bpd(out, sched, x0, levels, var_type))
        else:
            terms.append(_kl_bpd(sched, x0, xt, t, out))
    per_t = torch.stack([term.mean() for term in terms])
    prior = prior_kl_bpd(sched, x0).mean()
    return {"prior": prior, "terms": per_t, "total": prior + per_t.sum()}


def bound_strata(T: int, n: int) -> Tensor:  # noqa: N803
    """Edges ``2 = e_0 < e_1 < … < e_K = T + 1`` of at most ``n`` strata of the steps 2..T.

    Stratum k holds the steps ``e_k ≤ t < e_{k+1}``. The edges are spaced geometrically, so
    the small steps, where the terms of an L_simple-trained model change fastest, get strata
    of one step each; ``n ≥ T - 1`` gives every step its own stratum.
    """
    T, n = positive_int("T", T, minimum=2), positive_int("n", n)  # noqa: N806
    if n >= T - 1:
        return torch.arange(2, T + 2)
    edges = torch.tensor(np.geomspace(2, T + 1, n + 1)).round().long()
    edges[0], edges[-1] = 2, T + 1
    return torch.unique(edges)  # sorted; rounding may merge a few narrow strata


def vlb_estimate(
    model: Denoiser,
    sched: Schedule,
    x0: Tensor,
    *,
    strata: int,
    levels: int = 256,
    var_type: str = "beta_tilde",
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> dict[str, Tensor]:
    r"""An unbiased estimate of the bound per example, from one step per stratum of t.

    The bound :math:`L = L_T + L_0 + \sum_{t=2}^T L_{t-1}` (Ho et al. 2020, eq. 5) costs T
    model calls per example. Split the steps 2..T into strata :math:`S_1, \dots, S_K`
    (:func:`bound_strata`) and draw one :math:`t_k` uniformly from each, separately for every
    example, with a fresh x_t ~ q(x_t | x_0):

    .. math::
        \hat L = L_T + L_0 + \sum_{k=1}^{K} |S_k|\, L_{t_k-1}, \qquad
        \mathbb E[\hat L] = L,

    since :math:`\mathbb E_{t_k}[|S_k| L_{t_k-1}] = \sum_{t\in S_k} L_{t-1}`. That is K + 1
    model calls per example (K strata and the decoder at t = 1). The per-example estimates
    are independent, so ``stderr`` (their standard deviation over √N) is the standard error
    of ``total`` as an estimate of the data set's mean bound, the spread of the test images
    included. With ``strata ≥ T - 1`` every stratum is one step and the estimate is the
    bound itself (the noise of x_t aside), as in :func:`vlb_terms`.

    Returns, in bits/dim: ``prior`` [N] (L_T), ``decoder`` [N] (L_0), ``strata`` [N, K] (the
    terms |S_k| L_{t_k-1}), ``per_example`` [N], ``total`` and ``stderr`` (scalars), with
    ``edges`` [K + 1] (:func:`bound_strata`) and ``t`` [N, K], the steps drawn. ``x0`` is a
    batch in [-1, 1] on the model's device; ``batch_size`` examples go through the model at
    once (default: all). Draws come from ``generator``: every t first (none when every
    stratum is one step), then each batch's noise, x_1's first and then one per stratum in
    order of t — with one batch and every step its own stratum, the very draws of
    :func:`vlb_terms`.
    """
    float_tensor("x0", x0)
    if x0.dim() < 2 or len(x0) == 0:
        raise ValueError(f"x0: expected a non-empty batch [N, ...], got shape {tuple(x0.shape)}")
    if var_type not in ("beta", "beta_tilde"):
        raise ValueError(f"var_type: expected 'beta' or 'beta_tilde', got {var_type!r}")
    n = len(x0)
    batch_size = n if batch_size is None else positive_int("batch_size", batch_size)
    edges = bound_strata(sched.T, positive_int("strata", strata))
    width = torch.diff(edges)
    if bool((width == 1).all()):  # every step its own stratum: nothing to draw
        t_all = edges[:-1].expand(n, -1)
    else:
        u = rng.draw(torch.rand, (n, len(width)), generator=generator, dtype=torch.float64)
        t_all = edges[:-1] + (u * width).long().clamp(max=width - 1)  # uniform in each stratum
    decoder, kls = [], []
    for start in range(0, n, batch_size):
        xb = x0[start : start + batch_size]
        tb = t_all[start : start + batch_size].to(xb.device)

        def noise(xb: Tensor = xb) -> Tensor:
            return rng.draw(
                torch.randn, xb.shape, generator=generator, device=xb.device, dtype=xb.dtype
            )

        one = torch.ones(len(xb), dtype=torch.int64, device=xb.device)
        _, out = _reverse_step(model, sched, xb, one, noise(), var_type)
        decoder.append(_decoder_bpd(out, sched, xb, levels, var_type))
        row = []
        for k in range(len(width)):
            xt, out = _reverse_step(model, sched, xb, tb[:, k], noise(), var_type)
            row.append(_kl_bpd(sched, xb, xt, tb[:, k], out))
        kls.append(torch.stack(row, 1))
    terms = torch.cat(kls) * width.to(kls[0])
    dec = torch.cat(decoder)
    prior = prior_kl_bpd(sched, x0)
    per_example = prior + dec + terms.sum(1)
    stderr = (
        per_example.std() / math.sqrt(n) if n > 1 else torch.full_like(per_example[0], math.nan)
    )
    return {
        "prior": prior,
        "decoder": dec,
        "strata": terms,
        "per_example": per_example,
        "total": per_example.mean(),
        "stderr": stderr,
        "edges": edges,
        "t": t_all,
    }
