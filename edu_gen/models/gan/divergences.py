r"""The game on a grid: the optimal discriminator, :math:`V(G, D)` and the JSD.

For a fixed generator with density :math:`p_g` the best discriminator is
:math:`D^*(x) = p_{\text{data}}(x) / (p_{\text{data}}(x) + p_g(x))`, and then
:math:`V(G, D^*) = 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_g) - \log 4`, smallest
(:math:`-\log 4`) exactly when :math:`p_g = p_{\text{data}}`. The functions take densities
sampled on a uniform grid (spacing ``dx``) and reduce over the last dimension.
"""

from __future__ import annotations

import math

import torch

from edu_gen.core.checks import float_tensor, in_range, positive_float

Tensor = torch.Tensor

__all__ = ["jsd", "optimal_discriminator", "value_on_grid"]


def _densities(p_data: Tensor, p_g: Tensor, names: tuple[str, str] = ("p_data", "p_g")) -> None:
    """Two finite, non-negative densities on the same grid (``names``: the caller's)."""
    pair = ", ".join(names)
    for name, p in zip(names, (p_data, p_g), strict=True):
        if float_tensor(name, p).dim() == 0:
            raise ValueError(f"{pair}: expected densities on a grid, got a scalar {name}")
    if p_data.shape != p_g.shape:
        raise ValueError(
            f"{pair}: expected the same grid, got {names[0]} {tuple(p_data.shape)} and "
            f"{names[1]} {tuple(p_g.shape)}"
        )
    for name, p in zip(names, (p_data, p_g), strict=True):
        if not bool(torch.all(torch.isfinite(p))) or bool(torch.any(p < 0)):
            raise ValueError(f"{name}: expected finite, non-negative densities (not log-densities)")


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    r""":math:`D^*(x) = p_{\text{data}}(x) / (p_{\text{data}}(x) + p_g(x))`, pointwise.

    Where both densities are 0 every value of D is optimal; we return 1/2 there (never NaN).
    """
    _densities(p_data, p_g)
    total = p_data + p_g
    return torch.where(total > 0, p_data / torch.where(total > 0, total, 1.0), 0.5)


def value_on_grid(p_data: Tensor, p_g: Tensor, d: Tensor, dx: float) -> Tensor:
    r""":math:`V(G,D) = \int p_{\text{data}}\log D + p_g\log(1-D)\,dx` as a Riemann sum.

    ``d`` holds the discriminator's probabilities :math:`D(x)` on the same grid; terms with a
    zero density contribute 0 (``torch.xlogy``). :math:`D` and :math:`1 - D` are clamped
    below at the dtype's smallest normal number (log ≈ −708 in float64), so a :math:`D^*`
    that rounds to exactly 1 where :math:`p_g` is negligible (but not 0) adds a negligible
    term instead of :math:`-\infty`.
    """
    _densities(p_data, p_g)
    float_tensor("d", d)
    positive_float("dx", dx)
    if d.shape[-1] != p_data.shape[-1]:
        raise ValueError(f"d: expected the grid size {p_data.shape[-1]}, got {tuple(d.shape)}")
    in_range("d", d, 0.0, 1.0, "probabilities: apply a sigmoid to logits")
    tiny = torch.finfo(d.dtype).tiny
    real_term = torch.xlogy(p_data, d.clamp_min(tiny))
    fake_term = torch.xlogy(p_g, (1 - d).clamp_min(tiny))
    return (real_term + fake_term).sum(-1) * dx


def jsd(p: Tensor, q: Tensor, dx: float = 1.0, *, log_densities: bool = False) -> Tensor:
    r"""Jensen-Shannon divergence in nats on a shared grid, :math:`\in[0, \log 2]`.

    .. math::
        \mathrm{JSD}(p\,\|\,q) = \tfrac12\mathrm{KL}(p\,\|\,m) + \tfrac12\mathrm{KL}(q\,\|\,m),
        \qquad m = \tfrac12(p + q).

    ``p`` and ``q`` are densities sampled on a uniform grid with spacing ``dx`` (or probability
    vectors with ``dx=1``); with ``log_densities=True`` they are their logarithms (``-inf``
    allowed), which keeps tails that would underflow to 0 as densities. Reduces over the last
    dimension.

    Computed in log space: :math:`\log m = \mathrm{logaddexp}(\log p, \log q) - \log 2`.
    Forming :math:`m = (p + q)/2` directly fails where a density is *subnormal* (below
    ~2.2e-308 in float64, ~1.2e-38 in float32): halving the smallest subnormal rounds to 0,
    so :math:`m = 0 < p` there, the KL term is ``inf`` and the gradient NaN. Differentiable:
    cells where a density is exactly 0 contribute 0 and get a zero gradient.
    """
    positive_float("dx", dx)
    if log_densities:
        log_p, log_q = _log_densities(p, q)
    else:
        _densities(p, q, ("p", "q"))
        log_p, log_q = _safe_log(p), _safe_log(q)
    # where both are -inf, logaddexp's gradient is 0·NaN: give it finite stand-ins (unused)
    both_zero = torch.isneginf(log_p) & torch.isneginf(log_q)
    log_m = torch.logaddexp(
        torch.where(both_zero, 0.0, log_p), torch.where(both_zero, 0.0, log_q)
    ) - math.log(2.0)
    return 0.5 * (_kl_terms(log_p, log_m) + _kl_terms(log_q, log_m)).sum(-1) * dx


def _log_densities(log_p: Tensor, log_q: Tensor) -> tuple[Tensor, Tensor]:
    """Two log-densities on the same grid: real values or ``-inf`` (density 0)."""
    for name, t in (("log_p", log_p), ("log_q", log_q)):
        if float_tensor(name, t).dim() == 0:
            raise ValueError(f"log_p, log_q: expected log-densities on a grid, got a scalar {name}")
        if bool(torch.any(torch.isnan(t) | torch.isposinf(t))):
            raise ValueError(f"{name}: expected log-densities (finite or -inf), got NaN or +inf")
    if log_p.shape != log_q.shape:
        raise ValueError(
            f"log_p, log_q: expected the same grid, got log_p {tuple(log_p.shape)} and "
            f"log_q {tuple(log_q.shape)}"
        )
    return log_p, log_q


def _safe_log(p: Tensor) -> Tensor:
    """``log p`` with ``-inf`` where ``p = 0``, and a zero (not NaN) gradient there."""
    positive = p > 0
    return torch.where(positive, torch.log(torch.where(positive, p, 1.0)), -math.inf)


def _kl_terms(log_a: Tensor, log_m: Tensor) -> Tensor:
    r"""Cellwise :math:`a\,(\log a - \log m)`, 0 where :math:`a = 0` (value and gradient)."""
    present = ~torch.isneginf(log_a)
    safe_a = torch.where(present, log_a, 0.0)
    safe_m = torch.where(present, log_m, 0.0)
    return torch.where(present, torch.exp(safe_a) * (safe_a - safe_m), 0.0)
