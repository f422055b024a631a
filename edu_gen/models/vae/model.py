r"""The VAE itself: reparameterisation, the Gaussian encoder, the model and its ELBO loss.

See :mod:`edu_gen.models.vae` for the equations (eq. 17.13, 17.16).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from edu_gen.core.checks import (
    bounded_float,
    choice,
    model_dtype,
    non_empty,
    positive_int,
    same_shape,
    shaped_tensor,
)
from edu_gen.core.distributions import clamp_logvar, kl_normal
from edu_gen.core.nn import mlp
from edu_gen.models.vae.decoders import AutoregressiveDecoder, BernoulliDecoder, GaussianDecoder

Tensor = torch.Tensor

LIKELIHOODS = ("bernoulli", "gaussian", "autoregressive")
"""The decoders :func:`make_vae` can build."""


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    r""":math:`z = \mu + \sigma\odot\varepsilon` with :math:`\sigma = e^{\ell/2}` (eq. 17.13).

    ``eps`` defaults to fresh standard-normal noise of ``mu``'s shape; pass ``eps`` of shape
    ``[k, *mu.shape]`` to draw ``k`` samples per example. Shapes are checked (no sync).
    """
    same_shape("logvar", logvar, "mu", mu)
    if eps is not None and (eps.dim() < mu.dim() or eps.shape[eps.dim() - mu.dim() :] != mu.shape):
        raise ValueError(
            f"eps: expected the shape of mu {tuple(mu.shape)} with optional leading sample "
            f"dimensions, got {tuple(eps.shape)}"
        )
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


class GaussianEncoder(nn.Module):
    r""":math:`q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,e^{\ell_\phi(x)})`.

    An MLP trunk with two linear heads; the log-variance is clamped to
    :data:`edu_gen.core.distributions.LOGVAR_RANGE`.
    """

    def __init__(self, in_dim: int, latent_dim: int, hidden: Sequence[int] = (128,)) -> None:
        super().__init__()
        self.in_dim = positive_int("in_dim", in_dim)
        self.latent_dim = positive_int("latent_dim", latent_dim)
        for i, h in enumerate(hidden):
            positive_int(f"hidden[{i}]", h)
        self.trunk = nn.Sequential(mlp([in_dim, *hidden]), nn.ReLU()) if hidden else nn.Identity()
        width = hidden[-1] if hidden else in_dim
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        model_dtype("x", shaped_tensor("x", x, (..., self.in_dim)), self.mu.weight.dtype)
        h = self.trunk(x)
        return self.mu(h), clamp_logvar(self.logvar(h))


class VAE(nn.Module):
    """Encoder :math:`q_\\phi(z|x)` + decoder :math:`p_\\theta(x|z)` + prior :math:`N(0, I)`."""

    def __init__(self, encoder: GaussianEncoder, decoder: nn.Module) -> None:
        super().__init__()
        if encoder.latent_dim != decoder.latent_dim:
            raise ValueError(
                f"decoder: expected latent_dim {encoder.latent_dim} (the encoder's), "
                f"got {decoder.latent_dim}"
            )
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim, self.in_dim = encoder.latent_dim, encoder.in_dim

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`(\\mu_\\phi(x), \\ell_\\phi(x))`."""
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction at the posterior mean: the decoder's mean at :math:`z=\\mu(x)`."""
        mu, _ = self.encode(x)
        return self.decoder.mean(mu)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decoder means at ``n`` prior draws :math:`z\\sim N(0, I)`: a tensor ``[n, in_dim]``."""
        positive_int("n", n)
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype).to(p.device)
        return self.decoder.mean(z)


def make_vae(
    in_dim: int,
    latent_dim: int,
    hidden: Sequence[int] = (128,),
    likelihood: str = "bernoulli",
    **decoder_kwargs: object,
) -> VAE:
    """An MLP VAE; ``likelihood`` is one of :data:`LIKELIHOODS`.

    The encoder is built first, then the decoder (its hidden sizes reversed), so the same
    seed gives the same weights.
    """
    encoder = GaussianEncoder(in_dim, latent_dim, hidden)
    choice("likelihood", likelihood, LIKELIHOODS)
    if likelihood == "bernoulli" and decoder_kwargs:
        raise ValueError(
            f"decoder_kwargs: the Bernoulli decoder takes none, got {sorted(decoder_kwargs)}"
        )
    if likelihood == "bernoulli":
        decoder: nn.Module = BernoulliDecoder(latent_dim, in_dim, tuple(reversed(hidden)))
    elif likelihood == "gaussian":
        decoder = GaussianDecoder(latent_dim, in_dim, tuple(reversed(hidden)), **decoder_kwargs)
    else:
        decoder = AutoregressiveDecoder(latent_dim, in_dim, **decoder_kwargs)
    return VAE(encoder, decoder)


def elbo(model: VAE, x: Tensor, beta: float = 1.0, free_bits: float = 0.0) -> dict[str, Tensor]:
    r"""Per-example ELBO :math:`\log p(x\mid z) - \mathrm{KL}(q(z\mid x)\,\|\,p(z))` (eq. 17.16).

    One reparameterised sample for the reconstruction term, the closed-form KL for the
    rest. Returns ``elbo``, ``recon`` (:math:`\log p(x|z)`), ``kl`` (each ``[N]``), the
    per-unit KL ``kl_units`` (``[N, d]``) and ``objective``: the per-example quantity to
    *maximise*, :math:`\text{recon} - \beta\sum_u \max(\mathrm{KL}_u, \lambda)` where the
    free-bits floor :math:`\lambda` (nats per unit, Kingma et al. 2016) applies to the
    batch-mean KL of each unit. ``beta=1, free_bits=0`` gives the ELBO itself.
    """
    bounded_float("beta", beta, 0.0)
    bounded_float("free_bits", free_bits, 0.0)
    non_empty("x", x)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar)
    recon = model.decoder.log_prob(x, z)
    kl_units = kl_normal(mu.unsqueeze(-1), logvar.unsqueeze(-1))  # [N, d], one per unit
    kl = kl_units.sum(-1)
    if free_bits > 0:
        # KL_u is replaced by lambda where the batch mean falls below it: no gradient there
        floor = (kl_units.mean(0) < free_bits).to(kl_units.dtype)
        penalty = (kl_units * (1 - floor) + free_bits * floor).sum(-1)
    else:
        penalty = kl
    return {
        "elbo": recon - kl,
        "recon": recon,
        "kl": kl,
        "kl_units": kl_units,
        "objective": recon - beta * penalty,
    }


def vae_loss(
    model: VAE, batch: Tensor | Sequence[Tensor], beta: float = 1.0, free_bits: float = 0.0
) -> dict[str, Tensor]:
    """The VAE's loss for :func:`edu_gen.core.train.fit`: minus the batch-mean ELBO (eq. 17.16).

    ``batch`` is ``x`` or a tuple/list whose first item is ``x``. Returns ``loss`` (minus the
    mean :func:`elbo` objective, with ``beta`` and ``free_bits``) and the metrics ``elbo``, ``kl``.
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    out = elbo(model, x, beta, free_bits)
    return {
        "loss": -out["objective"].mean(),
        "elbo": out["elbo"].mean().detach(),
        "kl": out["kl"].mean().detach(),
    }
