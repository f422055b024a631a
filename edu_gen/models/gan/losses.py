r"""The GAN losses, on discriminator *logits* (or critic scores), and the two add-ons.

Goodfellow et al. (2014) pit a generator :math:`G` against a discriminator :math:`D` in

.. math::
    \min_G \max_D V(G, D), \qquad
    V(G, D) = \mathbb E_{x\sim p_{\text{data}}}[\log D(x)]
            + \mathbb E_{z\sim p_z}[\log(1 - D(G(z)))].

With logits :math:`a` (:math:`D = \sigma(a)`), :math:`\log D = \log\sigma(a)` and
:math:`\log(1 - D) = \log\sigma(-a)` never take the log of 0. Also here:
:func:`gradient_penalty` (WGAN-GP, Gulrajani et al. 2017) and :func:`pack` (PacGAN, Lin et
al. 2018), which the tabular GANs reuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from edu_gen.core.checks import float_tensor, positive_int

Tensor = torch.Tensor

__all__ = [
    "LOG_4",
    "critic_loss_wasserstein",
    "discriminator_loss",
    "generator_loss_nonsaturating",
    "generator_loss_saturating",
    "generator_loss_wasserstein",
    "gradient_penalty",
    "minimax_value",
    "pack",
]

LOG_4 = math.log(4.0)
"""The value of the game at its optimum, :math:`V(G^*, D^*) = -\\log 4`."""


def _pair(real: Tensor, fake: Tensor, names: tuple[str, str]) -> None:
    """Batched floating tensors of the same shape after the batch dimension."""
    float_tensor(names[0], real)
    float_tensor(names[1], fake)
    if real.dim() == 0 or fake.dim() == 0:
        raise ValueError(f"{names[0]}, {names[1]}: expected batched tensors, got a scalar")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"{names[0]}, {names[1]}: expected the same shape after the batch dimension, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )


def minimax_value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Monte Carlo estimate of the minimax value V(G, D).

    :math:`V = \mathbb E_{\text{data}}[\log D(x)] + \mathbb E_z[\log(1-D(G(z)))]`.

    ``real_logits``/``fake_logits`` are the discriminator's logits on a batch of real and of
    generated samples (any batch sizes); each expectation is a batch mean.
    """
    _pair(real_logits, fake_logits, ("real_logits", "fake_logits"))
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator *maximises* V: it minimises ``-minimax_value`` (binary cross-entropy)."""
    return -minimax_value(real_logits, fake_logits)


def generator_loss_saturating(fake_logits: Tensor) -> Tensor:
    r"""The minimax generator loss :math:`\mathbb E_z[\log(1 - D(G(z)))]` (to be minimised).

    Its gradient vanishes when :math:`D(G(z))\to 0`, i.e. exactly when the generator is bad.
    """
    float_tensor("fake_logits", fake_logits)
    return F.logsigmoid(-fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    r"""Non-saturating generator loss :math:`-\mathbb E_z[\log D(G(z))]` (Goodfellow 2014)."""
    float_tensor("fake_logits", fake_logits)
    return F.softplus(-fake_logits).mean()


def critic_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""WGAN critic loss :math:`\mathbb E[f(G(z))] - \mathbb E[f(x)]` (Arjovsky et al. 2017)."""
    _pair(real_scores, fake_scores, ("real_scores", "fake_scores"))
    return fake_scores.mean() - real_scores.mean()


def generator_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    r"""WGAN generator loss :math:`-\mathbb E[f(G(z))]`."""
    float_tensor("fake_scores", fake_scores)
    return -fake_scores.mean()


def pack(x: Tensor, pac: int) -> Tensor:
    r"""PacGAN packing: ``[n * pac, ...]`` → ``[n, pac * prod(...)]`` (Lin et al. 2018).

    Consecutive groups of ``pac`` rows (samples, tabular rows or images) become one input of
    the discriminator, which then sees ``pac`` samples at once and can notice a lack of
    variety (mode collapse). Pack real and fake batches separately: a pack is all real or
    all fake. ``pac=1`` only flattens the feature dimensions.

    Raises:
        ValueError: ``pac`` is not a positive int, ``x`` has no feature dimension, or the batch
            size is not a multiple of ``pac``.
    """
    float_tensor("x", x)
    pac = positive_int("pac", pac)
    if x.dim() < 2:
        raise ValueError(f"x: expected [batch, features...], got shape {tuple(x.shape)}")
    if x.shape[0] % pac:
        raise ValueError(
            f"x: batch size {x.shape[0]} is not a multiple of pac={pac}; use a batch size "
            f"divisible by pac (e.g. drop_last=True with batch_size = k * pac)"
        )
    return x.reshape(x.shape[0] // pac, -1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    pac: int = 1,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""WGAN-GP gradient penalty (Gulrajani et al. 2017).

    :math:`\lambda\,\mathbb E_{\hat x}[(\lVert\nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2]` where

    :math:`\hat x = \epsilon x + (1 - \epsilon)\tilde x` with :math:`\epsilon\sim U[0, 1]`, one
    :math:`\epsilon` per sample, between a real :math:`x` and a generated :math:`\tilde x`.
    Works for any ``[batch, ...]`` inputs: tabular rows ``[n, d]``,
    images ``[n, c, h, w]``; the gradient norm is taken over all non-batch dimensions.

    Args:
        critic: maps a ``[batch, ...]`` tensor to scores ``[batch]`` or ``[batch, 1]`` (with
            ``pac > 1``: to ``[batch / pac, ...]`` scores, the critic packing internally).
        real, fake: batches of the same shape; ``fake`` may carry a graph (it is detached).
        weight: :math:`\lambda` (10 in the paper).
        pac: PacGAN pack size. Groups of ``pac`` consecutive rows share one :math:`\epsilon`
            and one gradient norm, as when the critic applies :func:`pack` to its input.
        eps: the mixing weights, shape ``[batch / pac]`` in [0, 1]; drawn when ``None``.
        generator: the random-number generator for :math:`\epsilon` (when ``eps`` is None).

    Returns:
        A scalar tensor with a graph to the critic's parameters (``create_graph=True``), to
        be added to the critic loss.
    """
    float_tensor("real", real)
    float_tensor("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(
            f"real, fake: expected the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if real.dim() < 2:
        raise ValueError(f"real: expected [batch, features...], got shape {tuple(real.shape)}")
    pac = positive_int("pac", pac)
    if real.shape[0] % pac:
        raise ValueError(f"real: batch size {real.shape[0]} is not a multiple of pac={pac}")
    ok = isinstance(weight, int | float) and not isinstance(weight, bool)
    if not ok or not 0 <= weight < math.inf:
        raise ValueError(f"weight: expected a non-negative finite number, got {weight!r}")
    n_groups = real.shape[0] // pac
    if eps is None:
        eps = torch.rand(n_groups, generator=generator, dtype=real.dtype)
    elif float_tensor("eps", eps).shape != (n_groups,) or not bool(((eps >= 0) & (eps <= 1)).all()):
        raise ValueError(f"eps: expected shape ({n_groups},) with values in [0, 1]")
    eps = eps.to(real.device, real.dtype).repeat_interleave(pac, 0)
    eps = eps.reshape(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(n_groups, -1).norm(dim=1)
    return weight * ((norms - 1) ** 2).mean()
