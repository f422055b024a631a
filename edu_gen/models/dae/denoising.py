r"""The denoising loss (eq. 17.3) and the manifold view of a DAE, on a 2-D toy manifold.

See :mod:`edu_gen.models.dae` for the equations. :func:`toy_manifold` (a circle in 2-D),
:func:`distance_to_manifold` and :func:`project_to_manifold` let the chapter measure how far
a trained DAE moves a corrupted point back toward the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from edu_gen.core.checks import bounded_float, choice, positive_int, shaped_tensor
from edu_gen.core.rng import check_generator
from edu_gen.models.autoencoder import LOSSES
from edu_gen.models.dae.corruption import Corruption, check_batch

Tensor = torch.Tensor


def dae_loss(model: nn.Module, x: Tensor, corrupt: Corruption, loss: str = "l2") -> Tensor:
    r"""Denoising loss :math:`L(x, g(f(\tilde x)))` with :math:`\tilde x\sim q_D(\tilde x|x)`.

    Eq. 17.3-17.4. ``corrupt`` draws :math:`\tilde x` from ``x`` (see
    :func:`~edu_gen.models.dae.corruption`); the model sees :math:`\tilde x` but the loss
    compares its output with the *clean* ``x``. ``loss="l2"`` is squared error on the model's
    output, ``loss="ce"`` the Bernoulli cross-entropy with the model's output read as logits
    (both from chapter 01, :data:`edu_gen.models.autoencoder.LOSSES`).
    """
    choice("loss", loss, LOSSES)
    if not callable(corrupt):
        raise TypeError(f"corrupt: expected a function x -> x_tilde, got {type(corrupt).__name__}")
    check_batch(x)
    x_tilde = corrupt(x)
    if not isinstance(x_tilde, Tensor) or x_tilde.shape != x.shape:
        got = tuple(x_tilde.shape) if isinstance(x_tilde, Tensor) else type(x_tilde).__name__
        raise ValueError(f"corrupt: expected it to return x's shape {tuple(x.shape)}, got {got}")
    return LOSSES[loss](x, model(x_tilde))


def dae_objective(corrupt: Corruption, loss: str = "l2") -> Callable[[nn.Module, Any], Tensor]:
    """The DAE's loss for ``fit``: ``loss_fn(model, batch)``, :func:`dae_loss` on the batch's x.

    A batch is a tensor ``x`` or a tuple/list whose first item is ``x`` (labels are ignored).
    """
    choice("loss", loss, LOSSES)

    def loss_fn(model: nn.Module, batch: Any) -> Tensor:
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return dae_loss(model, x, corrupt, loss)

    return loss_fn


@torch.no_grad()
def reconstruct(model: nn.Module, x_tilde: Tensor, loss: str = "l2") -> Tensor:
    r""":math:`\hat x = g(f(\tilde x))` in eval mode, without gradients.

    With ``loss="ce"`` the model outputs logits, so they are passed through a sigmoid.
    """
    choice("loss", loss, LOSSES)
    was_training = model.training
    model.eval()
    out = model(x_tilde)
    model.train(was_training)
    return torch.sigmoid(out) if loss == "ce" else out


# ------------------------------------------------------------ a 2-D toy manifold


def toy_manifold(
    n: int, generator: torch.Generator | None = None, *, radius: float = 1.0
) -> Tensor:
    r"""``n`` points on the circle :math:`\{x \in \mathbb R^2 : \lVert x\rVert = r\}`: ``[n, 2]``.

    The angles are uniform on :math:`[0, 2\pi)`.
    """
    positive_int("n", n)
    radius = bounded_float("radius", radius, 0.0)
    if radius == 0:
        raise ValueError("radius: expected a positive value, got 0")
    check_generator(generator)
    theta = 2 * math.pi * torch.rand(n, generator=generator)
    return radius * torch.stack([theta.cos(), theta.sin()], dim=1)


def _check_points(points: Any) -> Tensor:
    return shaped_tensor("points", check_batch(points, "points"), ("n", 2))


def distance_to_manifold(points: Tensor, radius: float = 1.0) -> Tensor:
    r"""Exact distance from each point to the circle of :func:`toy_manifold`, shape ``[n]``.

    The nearest point of the circle to :math:`p` lies on the ray through :math:`p`, so the
    Euclidean distance is :math:`\big|\lVert p\rVert - r\big|`.
    """
    _check_points(points)
    radius = bounded_float("radius", radius, 0.0)
    return (points.norm(dim=1) - radius).abs()


def project_to_manifold(points: Tensor, radius: float = 1.0) -> Tensor:
    r"""Nearest point of the circle, :math:`r\,p/\lVert p\rVert`; the origin goes to ``(r, 0)``."""
    _check_points(points)
    radius = bounded_float("radius", radius, 0.0)
    norm = points.norm(dim=1, keepdim=True)
    unit = torch.where(
        norm > 0, points / norm.clamp_min(1e-12), torch.tensor([1.0, 0.0]).to(points)
    )
    return radius * unit
