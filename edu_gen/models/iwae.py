r"""Importance sampling and the importance-weighted autoencoder (chapter 05).

**Importance sampling** (eq. 17.20). For any proposal :math:`q` with :math:`q > 0` where
:math:`p f \ne 0`,

.. math:: \mathbb E_p[f] = \mathbb E_q\Big[\frac{p(z)}{q(z)} f(z)\Big]
          \approx \frac1L \sum_{l=1}^L \frac{p(z^l)}{q(z^l)} f(z^l), \quad z^l\sim q.

With the indicator :math:`f = 1_{z>1}` this estimates a tail probability (eq. 17.21).
**Rejection sampling** draws :math:`z\sim q`, :math:`u\sim U(0,1)` and keeps :math:`z` when
:math:`u < p(z)/(M q(z))`, for an envelope :math:`Mq \ge p`; the kept draws follow
:math:`p` exactly and, for normalised :math:`p` and :math:`q`, a fraction :math:`1/M` is kept.

**IWAE** (Burda, Grosse & Salakhutdinov 2016; eq. 17.22-17.24). With
:math:`z_i = \mu_\phi(x) + \sigma_\phi(x)\odot\varepsilon_i` and importance weights
:math:`w_i = p_\theta(x, z_i)/q_\phi(z_i\mid x)`,

.. math:: \mathcal L_k(x) = \mathbb E\Big[\log \frac1k\sum_{i=1}^k w_i\Big]
          \le \mathcal L_{k+1}(x) \le \log p_\theta(x),

:math:`\mathcal L_1` is the ELBO and :math:`\mathcal L_k \to \log p_\theta(x)` as
:math:`k\to\infty`. Weights are handled as :math:`\log w_i` and combined with
``torch.logsumexp`` (which subtracts the maximum first), so nothing overflows: a raw
:math:`w_i = e^{-500}` is 0 in float64, its logarithm is fine. A large-:math:`k` bound is
the standard estimator of :math:`\log p_\theta(x)` and of the test negative log-likelihood
(:func:`log_marginal_likelihood`).

The family's API: an IWAE is a :class:`~edu_gen.models.vae.VAE` trained with
``iwae_loss(model, batch, k)``; it samples with ``model.sample(n, generator=...)``, and
``log_marginal_likelihood(model, x, k)`` is its (and any VAE's) ``log_prob`` estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from edu_gen.core.checks import (
    bounded_float,
    finite_float,
    finite_tensor,
    float_tensor,
    non_empty,
    positive_int,
)
from edu_gen.core.distributions import log_normal
from edu_gen.models.vae import VAE, reparameterize

Tensor = torch.Tensor

__all__ = [
    "bounds_by_k",
    "effective_sample_size",
    "importance_estimate",
    "iwae_bound",
    "iwae_loss",
    "log_importance_weights",
    "log_marginal_likelihood",
    "multi_sample_elbo_loss",
    "rejection_sample",
    "sample_log_weights",
    "tail_probability",
]


# ------------------------------------------------------------ importance sampling


def importance_estimate(f_values: Tensor, log_p: Tensor, log_q: Tensor) -> tuple[Tensor, Tensor]:
    r"""Estimate :math:`\mathbb E_p[f]` from draws :math:`z^l\sim q` (eq. 17.20).

    Inputs are ``[L]`` tensors evaluated at the same draws: :math:`f(z^l)`,
    :math:`\log p(z^l)`, :math:`\log q(z^l)`. Returns the estimate
    :math:`\frac1L\sum_l w_l f(z^l)` with :math:`w_l = e^{\log p - \log q}`, and its standard
    error.
    """
    if not (f_values.shape == log_p.shape == log_q.shape) or f_values.dim() != 1:
        raise ValueError(
            "f_values, log_p, log_q: expected 1-D tensors of one length, got "
            f"{tuple(f_values.shape)}, {tuple(log_p.shape)}, {tuple(log_q.shape)}"
        )
    if len(f_values) < 2:
        raise ValueError("f_values: expected at least 2 draws for a standard error")
    finite_tensor("f_values", f_values)
    finite_tensor("log_p", log_p, allow_neg_inf=True)
    finite_tensor("log_q", log_q)
    terms = torch.exp(log_p - log_q) * f_values
    return terms.mean(), terms.std() / math.sqrt(len(terms))


def tail_probability(
    n: int,
    threshold: float = 1.0,
    proposal_mean: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r""":math:`P(Z > c)` for :math:`Z\sim\mathcal N(0,1)` by importance sampling (eq. 17.21).

    The proposal is :math:`q = \mathcal N(\text{proposal\_mean}, 1)`; ``proposal_mean=0`` is
    plain Monte Carlo (all weights 1). A proposal centred near the threshold puts most
    draws where the indicator is 1 and lowers the variance. Returns (estimate, SE).
    """
    positive_int("n", n, 2)
    bounded_float("threshold", threshold, -math.inf)
    finite_float("proposal_mean", proposal_mean)
    z = proposal_mean + torch.randn(n, 1, generator=generator, dtype=torch.float64)
    log_p = log_normal(z, 0.0, 0.0)
    log_q = log_normal(z, proposal_mean, 0.0)
    return importance_estimate((z[:, 0] > threshold).double(), log_p, log_q)


def rejection_sample(
    log_p: Callable[[Tensor], Tensor],
    sample_q: Callable[[int], Tensor],
    log_q: Callable[[Tensor], Tensor],
    log_m: float,
    n: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, float]:
    r"""Rejection sampling with envelope :math:`M q(z) \ge p(z)`.

    Draws ``n`` proposals :math:`z\sim q` and keeps those with
    :math:`\log u < \log p(z) - \log M - \log q(z)`. Returns the kept draws and the
    acceptance rate (:math:`1/M` in expectation when :math:`p, q` are normalised). Raises
    if a proposal violates the envelope, since the kept draws would then not follow
    :math:`p`.
    """
    positive_int("n", n)
    z = sample_q(n)
    log_ratio = log_p(z) - log_m - log_q(z)
    if torch.any(log_ratio > 1e-9):
        worst = log_ratio.max().exp().item()
        raise ValueError(
            f"log_m: the envelope M q(z) is below p(z) somewhere (p / (M q) = {worst:.3g} > 1); "
            "increase M"
        )
    u = torch.rand(log_ratio.shape, generator=generator, dtype=log_ratio.dtype)
    keep = torch.log(u) < log_ratio
    return z[keep], keep.double().mean().item()


def effective_sample_size(log_w: Tensor, dim: int = 0) -> Tensor:
    r"""Kish's effective sample size :math:`(\sum w)^2/\sum w^2`, from log-weights.

    Computed as :math:`\exp(2\,\mathrm{LSE}(\log w) - \mathrm{LSE}(2\log w))`: between 1
    (one weight dominates) and :math:`k` (all equal). ``log_w`` may hold ``-inf`` (a zero
    weight), but every slice along ``dim`` needs a finite one.
    """
    finite_tensor("log_w", float_tensor("log_w", log_w), allow_neg_inf=True)
    non_empty("log_w", log_w, dim)
    all_zero = torch.isneginf(log_w).all(dim)
    if bool(all_zero.any()):
        raise ValueError(
            f"log_w: expected at least one finite log-weight per slice of dim {dim}, got all -inf "
            f"(every weight 0) in {int(all_zero.sum())} of them"
        )
    return torch.exp(2 * torch.logsumexp(log_w, dim) - torch.logsumexp(2 * log_w, dim))


# --------------------------------------------------------------------------- IWAE


def log_importance_weights(model: VAE, x: Tensor, k: int, eps: Tensor | None = None) -> Tensor:
    r""":math:`\log w_i = \log p_\theta(x\mid z_i) + \log p(z_i) - \log q_\phi(z_i\mid x)`.

    ``k`` reparameterised draws per example (eq. 17.23); returns ``[k, N]``. Gradients flow
    to encoder and decoder. ``eps`` (``[k, N, d]``) fixes the noise.
    """
    positive_int("k", k)
    if x.dim() != 2:
        raise ValueError(f"x: expected a batch [N, D], got {tuple(x.shape)}")
    mu, logvar = model.encode(x)
    if eps is None:
        eps = torch.randn(k, *mu.shape, dtype=mu.dtype, device=mu.device)
    elif eps.shape != (k, *mu.shape):
        raise ValueError(f"eps: expected shape {(k, *mu.shape)}, got {tuple(eps.shape)}")
    z = reparameterize(mu, logvar, eps)  # [k, N, d]
    log_px_z = model.decoder.log_prob(x, z)
    return log_px_z + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)


def iwae_bound(log_w: Tensor, dim: int = 0) -> Tensor:
    r""":math:`\log\frac1k\sum_i w_i = \mathrm{logsumexp}_i(\log w_i) - \log k` (eq. 17.24).

    One sample of the bound per example; ``k`` is ``log_w.shape[dim]``. Stable for any
    finite log-weights (no ``exp`` of large numbers is ever formed).
    """
    if not isinstance(log_w, Tensor) or not log_w.is_floating_point() or log_w.dim() == 0:
        raise ValueError("log_w: expected a floating tensor with a sample dimension")
    k = log_w.shape[dim]
    if k == 0:
        raise ValueError(f"log_w: dimension {dim} (the k samples) is empty")
    finite_tensor("log_w", log_w, allow_neg_inf=True)
    return torch.logsumexp(log_w, dim) - math.log(k)


def iwae_loss(model: VAE, batch: Tensor | Sequence[Tensor], k: int) -> dict[str, Tensor]:
    """Loss for :func:`edu_gen.core.train.fit`: minus the batch mean of :math:`\\mathcal L_k`.

    ``k=1`` is exactly the VAE trained with a Monte Carlo (not closed-form) KL term.
    """
    x = non_empty("x", batch[0] if isinstance(batch, (tuple, list)) else batch)
    bound = iwae_bound(log_importance_weights(model, x, k))
    return {"loss": -bound.mean(), f"L_{k}": bound.mean().detach()}


def multi_sample_elbo_loss(
    model: VAE, batch: Tensor | Sequence[Tensor], k: int
) -> dict[str, Tensor]:
    r"""Loss of a VAE trained with ``k`` samples per example: minus :math:`\frac1k\sum_i\log w_i`.

    The "VAE, k samples" column of Burda et al. (2016, Table 1): the same ``k`` draws (and
    cost) as :func:`iwae_loss`, but averaged *outside* the log — still the plain ELBO, just a
    lower-variance estimate of it.
    """
    x = non_empty("x", batch[0] if isinstance(batch, (tuple, list)) else batch)
    elbo = log_importance_weights(model, x, k).mean(0)
    return {"loss": -elbo.mean(), "elbo": elbo.mean().detach()}


@torch.no_grad()
def sample_log_weights(model: VAE, x: Tensor, k: int, chunk: int = 500) -> Tensor:
    """``[k, N]`` log-weights drawn ``chunk`` at a time (memory stays ``chunk × N × D``)."""
    positive_int("k", k)
    positive_int("chunk", chunk)
    parts = [log_importance_weights(model, x, min(chunk, k - s)) for s in range(0, k, chunk)]
    return torch.cat(parts, 0)


@torch.no_grad()
def log_marginal_likelihood(model: VAE, x: Tensor, k: int = 5000, chunk: int = 500) -> Tensor:
    r"""Estimate :math:`\log p_\theta(x)` per example by :math:`\mathcal L_k` with large ``k``.

    Burda et al. (2016) use :math:`k = 5000`; the test NLL is ``-mean`` of this. It is
    still a (slightly) low estimate on average: :math:`\mathbb E[\mathcal L_k]\le\log p(x)`.
    """
    return iwae_bound(sample_log_weights(model, x, k, chunk))


def bounds_by_k(log_w: Tensor, ks: Sequence[int]) -> dict[int, Tensor]:
    r"""Estimate :math:`\mathcal L_k(x)` for several ``k`` from one pool of ``[S, N]`` log-weights.

    The ``S`` draws per example are split into :math:`\lfloor S/k\rfloor` disjoint groups of
    ``k``; each group gives one sample of the bound, and their average estimates
    :math:`\mathcal L_k(x)`. Returns ``{k: [N] per-example estimates}``; average over
    examples (and take differences between ``k`` per example, which are far less noisy than
    the bounds themselves) in the caller.
    """
    if log_w.dim() != 2:
        raise ValueError(f"log_w: expected [S, N] log-weights, got {tuple(log_w.shape)}")
    finite_tensor("log_w", log_w, allow_neg_inf=True)
    s, n = log_w.shape
    out = {}
    for k in ks:
        positive_int("k", k)
        if k > s:
            raise ValueError(f"ks: k={k} is larger than the {s} log-weights per example")
        groups = s // k
        per_group = iwae_bound(log_w[: groups * k].reshape(groups, k, n), dim=1)  # [groups, N]
        out[k] = per_group.mean(0)
    return out
