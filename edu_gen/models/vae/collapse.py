r"""Posterior collapse (chapter 04): a diagnostic and a remedy.

* :func:`active_units` (Burda et al. 2016, sec. 5.2): a latent unit :math:`u` is *active*
  when :math:`A_u = \mathrm{Cov}_x(\mathbb E_{q(z|x)}[z_u]) > 10^{-2}`;
* KL warm-up, :func:`kl_warmup` and the ``fit`` loss :class:`KLWarmup` (Bowman et al. 2016;
  Sønderby et al. 2016). Free bits (Kingma et al. 2016) is the ``free_bits`` argument of
  :func:`edu_gen.models.vae.elbo`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from edu_gen.core.checks import bounded_float, positive_float, positive_int
from edu_gen.models.vae.model import VAE, vae_loss

Tensor = torch.Tensor


def kl_warmup(step: int, warmup_steps: int, start: float = 0.0) -> float:
    r"""Linear KL warm-up :math:`\beta_t = \min(1, \beta_0 + (1-\beta_0)\,t/T)`.

    Early in training the KL term is switched (mostly) off, so the encoder can put
    information into :math:`z` before the prior pulls it back (Bowman et al. 2016).
    """
    positive_int("step", step, 0)
    positive_int("warmup_steps", warmup_steps, 0)
    bounded_float("start", start, 0.0, 1.0)
    if warmup_steps == 0:
        return 1.0
    return min(1.0, start + (1.0 - start) * step / warmup_steps)


class KLWarmup:
    """A ``fit`` loss whose KL weight follows :func:`kl_warmup` over its own call count.

    The counter lives in this object, not in a checkpoint: do not resume such a run.
    """

    def __init__(self, warmup_steps: int, start: float = 0.0, free_bits: float = 0.0) -> None:
        kl_warmup(0, warmup_steps, start)  # validates
        bounded_float("free_bits", free_bits, 0.0)
        self.warmup_steps, self.start, self.free_bits = warmup_steps, start, free_bits
        self.step = 0

    def __call__(self, model: VAE, batch: Tensor | Sequence[Tensor]) -> dict[str, Tensor]:
        beta = kl_warmup(self.step, self.warmup_steps, self.start)
        self.step += 1
        out = vae_loss(model, batch, beta, self.free_bits)
        out["beta"] = torch.tensor(beta)
        return out


@torch.no_grad()
def active_units(model: VAE, x: Tensor, threshold: float = 1e-2) -> tuple[int, Tensor]:
    r"""Number of active latent units and :math:`A_u = \mathrm{Cov}_x(\mathbb E_{q(z|x)}[z_u])`.

    Burda et al. (2016, sec. 5.2): unit :math:`u` is active when the posterior mean
    :math:`\mu_u(x)` varies across the data, :math:`A_u > 10^{-2}`. An inactive unit has
    :math:`q(z_u|x)\approx p(z_u)` for every :math:`x`: it carries no information.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x: expected a batch [N >= 2, D], got {tuple(x.shape)}")
    positive_float("threshold", threshold)
    mu, _ = model.encode(x)
    variances = mu.var(dim=0, unbiased=True)
    return int((variances > threshold).sum()), variances
