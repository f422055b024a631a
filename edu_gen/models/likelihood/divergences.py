r"""Divergences between densities on a grid, and the empirical log-likelihood (chapter 00).

.. math::
    H(p) = -\int p\log p,\qquad H(p, q) = -\int p\log q,\qquad
    \mathrm{KL}(p\,\|\,q) = H(p, q) - H(p)

as Riemann sums with spacing ``dx`` (``dx=1`` for probability vectors), computed with
``torch.xlogy`` so that :math:`0\log 0 = 0`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from edu_gen.core.checks import finite_tensor, float_tensor, positive_float, positive_int

Tensor = torch.Tensor
LOG_2PI = math.log(2.0 * math.pi)


def _distribution(name: str, p: Tensor, dx: float, tol: float = 1e-2) -> Tensor:
    """Validate non-negative values that integrate to one along the last dimension."""
    float_tensor(name, p)
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
    dx = positive_float("dx", dx)
    p = _distribution("p", p, dx)
    return -torch.xlogy(p, p).sum(-1) * dx


def cross_entropy(p: Tensor, q: Tensor, dx: float = 1.0) -> Tensor:
    r""":math:`-\sum_i p_i\log q_i\,\Delta x = -\mathbb E_p[\log q]`; ``+inf`` where q = 0 < p."""
    dx = positive_float("dx", dx)
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
    dx = positive_float("dx", dx)
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
        finite_tensor(name, float_tensor(name, t))
    mean_p, var_p, mu, logvar = args
    if bool(torch.any(var_p < 0)):
        raise ValueError("var_p: expected a non-negative variance")
    return 0.5 * (LOG_2PI + logvar + (var_p + (mean_p - mu) ** 2) * torch.exp(-logvar))


def empirical_log_likelihood(log_prob: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    r""":math:`\frac1N\sum_{n=1}^N \log p_\theta(x_n)` — the ERM objective to *maximise*.

    ``log_prob`` maps the data ``x`` (``[N]`` or ``[N, D]``) to ``[N]`` log-densities. A data
    point the model finds impossible makes the result ``-inf`` (never NaN).
    """
    float_tensor("x", x)
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


def grid(low: float, high: float, n: int) -> tuple[Tensor, float]:
    """A uniform float64 grid of ``n`` cell centres on ``[low, high]`` and its spacing ``dx``."""
    positive_int("n", n, 2)
    if not low < high:
        raise ValueError(f"low, high: expected low < high, got {low}, {high}")
    dx = (high - low) / n
    return low + dx * (torch.arange(n, dtype=torch.float64) + 0.5), dx
