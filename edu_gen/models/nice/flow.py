r"""The NICE flow: priors, the model, and scoring discrete images (dequantisation, bits/dim).

See :mod:`edu_gen.models.nice` for the change of variables (the equation every function
here serves).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import choice, float_tensor, positive_int
from edu_gen.core.rng import check_generator
from edu_gen.models.nice.layers import (
    AdditiveCoupling,
    Scaling,
    check_alpha,
    check_rows,
    logit_forward,
    logit_inverse,
    partition,
)

Tensor = torch.Tensor
_LOG_2PI = math.log(2 * math.pi)
PRIORS = ("logistic", "gaussian")


def logistic_log_prob(h: Tensor) -> Tensor:
    r"""Factorised standard logistic log-density (reduces over the last dimension).

    :math:`\log p(h) = \sum_d -\mathrm{softplus}(h_d) - \mathrm{softplus}(-h_d)`,
    stable for any :math:`|h|`.
    """
    float_tensor("h", h)
    return -(F.softplus(h) + F.softplus(-h)).sum(-1)


def gaussian_log_prob(h: Tensor) -> Tensor:
    r"""Factorised standard normal: :math:`\sum_d -\tfrac12(h_d^2 + \log 2\pi)`."""
    float_tensor("h", h)
    return -0.5 * (h**2 + _LOG_2PI).sum(-1)


def prior_log_prob(h: Tensor, prior: str = "logistic") -> Tensor:
    """The log-density of ``h`` under the named factorised prior (see :data:`PRIORS`)."""
    choice("prior", prior, PRIORS)
    return logistic_log_prob(h) if prior == "logistic" else gaussian_log_prob(h)


def prior_sample(
    n: int, dim: int, prior: str = "logistic", generator: torch.Generator | None = None
) -> Tensor:
    r"""``[n, dim]`` prior samples; logistic by inversion, :math:`h = \log u - \log(1 - u)`."""
    positive_int("n", n)
    positive_int("dim", dim)
    choice("prior", prior, PRIORS)
    if prior == "gaussian":
        return torch.randn(n, dim, generator=generator)
    u = torch.rand(n, dim, generator=generator).clamp(1e-7, 1 - 1e-7)
    return torch.log(u) - torch.log1p(-u)


class NICE(nn.Module):
    r"""A stack of additive couplings (alternating partitions) and a final diagonal scaling.

    Dinh et al. (2015) use 4 couplings whose :math:`m` has 5 hidden ReLU layers of 1000 units
    and a logistic prior on MNIST; the defaults here are smaller for CPUs.

    With ``logit_alpha=α`` the flow starts with :func:`logit_forward` (data in :math:`[0, 1]`);
    its log-determinant is included in :meth:`forward` and :meth:`log_prob`, and
    :meth:`inverse` ends with :func:`logit_inverse`, so samples lie in :math:`(0, 1)`.
    """

    def __init__(
        self,
        dim: int,
        n_couplings: int = 4,
        hidden: int = 1000,
        n_hidden: int = 5,
        prior: str = "logistic",
        logit_alpha: float | None = None,
    ) -> None:
        super().__init__()
        choice("prior", prior, PRIORS)
        partition(dim, 0)  # a clear error for a 1-D input
        self.dim, self.prior = dim, prior
        self.logit_alpha = None if logit_alpha is None else check_alpha(logit_alpha)
        self.couplings = nn.ModuleList(
            AdditiveCoupling(dim, k % 2, hidden, n_hidden)
            for k in range(positive_int("n_couplings", n_couplings))
        )
        self.scaling = Scaling(dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``h = f(x)`` and :math:`\\log|\\det\\partial f/\\partial x|` per row."""
        check_rows("x", x, self.dim)
        log_det = x.new_zeros(x.shape[0])
        if self.logit_alpha is not None:
            x, log_det = logit_forward(x, self.logit_alpha)
        for layer in self.couplings:
            log_det = log_det + layer.log_det_jacobian(x)
            x = layer(x)
        log_det = log_det + self.scaling.log_det_jacobian(x)
        return self.scaling(x), log_det

    def inverse(self, h: Tensor) -> Tensor:
        """``x = f^{-1}(h)``: undo the scaling, then the couplings in reverse order."""
        x = self.scaling.inverse(h)
        for layer in reversed(self.couplings):
            x = layer.inverse(x)
        return x if self.logit_alpha is None else logit_inverse(x, self.logit_alpha)

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log p_X(x) = \log p_H(f(x)) + \log|\det J_f(x)|`, one value per row."""
        h, log_det = self(x)
        return prior_log_prob(h, self.prior) + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples :math:`x = f^{-1}(h)`, :math:`h\\sim p_H`: a tensor ``[n, dim]``."""
        device = self.scaling.log_scale.device
        return self.inverse(prior_sample(n, self.dim, self.prior, generator).to(device))


def dequantize(levels: Tensor, n_levels: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform dequantisation :math:`x = (k + u) / L`, :math:`u\sim U[0, 1)^D`, in :math:`[0, 1)`.

    ``levels`` holds integer grey levels :math:`k\in\{0,\dots,L-1\}` (as floats or ints); for
    the digits :math:`L = 17`. A continuous density on the result lower-bounds the discrete
    likelihood of the levels (Theis, van den Oord & Bethge 2016).
    """
    positive_int("n_levels", n_levels, 2)
    if bool(torch.any(levels < 0)) or bool(torch.any(levels > n_levels - 1)):
        raise ValueError(f"levels: expected grey levels in [0, {n_levels - 1}]")
    if bool(torch.any(levels != torch.round(levels))):
        raise ValueError("levels: expected integer grey levels (use the 'levels' view)")
    u = torch.rand(levels.shape, generator=generator, dtype=torch.float32).to(levels.device)
    return (levels.float() + u) / n_levels


def bits_per_dim(log_px: Tensor, dim: int, n_levels: int) -> Tensor:
    r"""Bits per dimension on the level scale from :math:`\log p(x)` of :math:`x = y / L`.

    The dequantised levels :math:`y\in[0, L)^D` have density
    :math:`p_Y(y) = p_X(y/L)\,L^{-D}` (the rescaling's log-determinant is :math:`-D\log L`), so

    .. math:: \text{bits/dim} = \frac{-\log p_X(x) + D\log L}{D\log 2}.

    Forgetting the :math:`D\log L` term reports a number :math:`\log_2 L` bits too small
    (4.09 for the digits). A uniform density on :math:`[0, 1)^D` scores exactly
    :math:`\log_2 L`. ``log_px`` may be one value per example; the result has its shape.
    """
    float_tensor("log_px", log_px)
    positive_int("dim", dim)
    positive_int("n_levels", n_levels, 2)
    return (-log_px + dim * math.log(n_levels)) / (dim * math.log(2))


def nll_objective(
    n_levels: int, generator: torch.Generator | None = None
) -> Callable[[NICE, Tensor | Sequence[Tensor]], dict[str, Tensor]]:
    r"""The flow's loss for ``fit`` on discrete images: minus :math:`\log p_X(x)` per dimension.

    ``loss_fn(model, batch)`` takes grey levels (the batch, or its first item), dequantises
    them afresh with :func:`dequantize` (drawing from ``generator``) and returns ``loss``
    :math:`= -\frac1D\,\overline{\log p_X(x)}` (the change of variables, :meth:`NICE.log_prob`)
    and the metric ``bits_per_dim`` (:func:`bits_per_dim`, on the level scale).
    """
    positive_int("n_levels", n_levels, 2)
    check_generator(generator)

    def loss_fn(model: NICE, batch: Tensor | Sequence[Tensor]) -> dict[str, Tensor]:
        levels = batch[0] if isinstance(batch, tuple | list) else batch
        log_px = model.log_prob(dequantize(levels, n_levels, generator).to(levels.device))
        return {
            "loss": -log_px.mean() / model.dim,
            "bits_per_dim": bits_per_dim(log_px.detach(), model.dim, n_levels).mean(),
        }

    return loss_fn
