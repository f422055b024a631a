r"""Decoders :math:`p_\theta(x\mid z)` of the VAE (chapter 04).

Every decoder has ``latent_dim``, ``out_dim``, ``log_prob(x, z)`` (one value per example,
with any extra leading sample dimensions of ``z`` kept) and ``mean(z)``:

* :class:`BernoulliDecoder` — binary pixels, :math:`\log p(x\mid z) = \sum_j x_j a_j -
  \mathrm{softplus}(a_j)` from logits :math:`a` (:func:`bernoulli_log_prob`);
* :class:`GaussianDecoder` — real pixels, :math:`\mathcal N(x; m_\theta(z), \sigma^2 I)` with
  one learned (clamped) log-variance shared by all pixels, or a fixed one;
* :class:`AutoregressiveDecoder` — a *strong* decoder (a MADE, Germain et al. 2015, fed
  with :math:`z`): :math:`p(x\mid z) = \prod_j p(x_j \mid x_{<j}, z)`. It can model the
  data without :math:`z`, which makes **posterior collapse** easy to provoke
  (Bowman et al. 2016; Chen et al. 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import choice, finite_tensor, in_range, positive_int, shaped_tensor
from edu_gen.core.distributions import LOGVAR_RANGE, clamp_logvar, log_normal
from edu_gen.core.nn import mlp

Tensor = torch.Tensor


def bernoulli_log_prob(x: Tensor, logits: Tensor) -> Tensor:
    r""":math:`\log p(x\mid a) = \sum_j x_j a_j - \mathrm{softplus}(a_j)` (last dim summed).

    ``x`` must lie in [0, 1] (binary pixels or grey levels read as probabilities): outside it
    the formula still returns finite numbers, but they are no log-likelihood.
    """
    in_range("x", x, 0.0, 1.0, "Bernoulli data")
    return (x * logits - F.softplus(logits)).sum(dim=-1)


class BernoulliDecoder(nn.Module):
    r""":math:`p_\theta(x\mid z) = \prod_j \mathrm{Bernoulli}(x_j; \sigma(a_j(z)))`."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (128,)) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.out_dim = positive_int("out_dim", out_dim)
        self.net = mlp([latent_dim, *hidden, out_dim])

    def forward(self, z: Tensor) -> Tensor:
        """Logits :math:`a(z)`, shape ``[..., out_dim]``."""
        return self.net(shaped_tensor("z", z, (..., self.latent_dim)))

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        """:math:`\\log p(x\\mid z)`; ``z`` may carry extra leading sample dims."""
        shaped_tensor("x", x, (..., self.out_dim))
        return bernoulli_log_prob(x, self(z))

    def mean(self, z: Tensor) -> Tensor:
        """Pixel probabilities :math:`\\sigma(a(z))`."""
        return torch.sigmoid(self(z))


class GaussianDecoder(nn.Module):
    r""":math:`p_\theta(x\mid z) = \mathcal N(x; m_\theta(z), e^{\ell} I)`.

    ``logvar=None`` learns one log-variance :math:`\ell` shared by all pixels (clamped to
    ``[min_logvar, LOGVAR_RANGE[1]]``); a float fixes it. ``out_activation="sigmoid"``
    keeps the mean in (0, 1) (Kingma & Welling 2014, sec. 5).
    """

    def __init__(
        self,
        latent_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (128,),
        *,
        logvar: float | None = None,
        min_logvar: float = -6.0,
        out_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.out_dim = positive_int("out_dim", out_dim)
        choice("out_activation", out_activation, ("sigmoid", "identity"))
        if not LOGVAR_RANGE[0] <= min_logvar < LOGVAR_RANGE[1]:
            raise ValueError(f"min_logvar: expected a value in {LOGVAR_RANGE}, got {min_logvar!r}")
        self.net = mlp([latent_dim, *hidden, out_dim])
        self.out_activation = out_activation
        self.min_logvar = float(min_logvar)
        if logvar is None:
            self.raw_logvar = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("raw_logvar", torch.tensor(float(logvar)))

    @property
    def logvar(self) -> Tensor:
        """The (clamped) decoder log-variance :math:`\\ell`."""
        return clamp_logvar(self.raw_logvar, self.min_logvar, LOGVAR_RANGE[1])

    def mean(self, z: Tensor) -> Tensor:
        out = self.net(shaped_tensor("z", z, (..., self.latent_dim)))
        return torch.sigmoid(out) if self.out_activation == "sigmoid" else out

    def forward(self, z: Tensor) -> Tensor:
        return self.mean(z)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        finite_tensor("x", shaped_tensor("x", x, (..., self.out_dim)))
        return log_normal(x, self.mean(z), self.logvar)


class _MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (a MADE layer)."""

    def __init__(self, n_in: int, n_out: int, mask: Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class AutoregressiveDecoder(nn.Module):
    r"""A strong decoder :math:`p(x|z) = \prod_j \mathrm{Bernoulli}(x_j; \sigma(a_j(x_{<j}, z)))`.

    A MADE (Germain et al. 2015) whose hidden layer and outputs also see :math:`z`: hidden
    unit :math:`h` has degree :math:`m(h)\in\{1,\dots,D-1\}` and sees pixels :math:`j` with
    :math:`j < m(h)` (0-based), output :math:`j` sees hidden units with :math:`m(h) \le j`
    plus a direct masked link from pixels :math:`< j`. Log-likelihoods take one pass
    (the true pixels are fed in); sampling takes :math:`D` passes.
    """

    def __init__(self, latent_dim: int, out_dim: int, width: int = 256) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.out_dim = d = positive_int("out_dim", out_dim)
        hidden = positive_int("width", width)
        if d < 2:
            raise ValueError(f"out_dim: an autoregressive decoder needs >= 2 pixels, got {d}")
        degree = torch.arange(hidden) % (d - 1) + 1  # m(h) in 1..D-1
        pixel = torch.arange(d)
        self.x_to_h = _MaskedLinear(d, hidden, (pixel[None, :] < degree[:, None]).float())
        self.h_to_out = _MaskedLinear(hidden, d, (degree[None, :] <= pixel[:, None]).float())
        self.x_to_out = _MaskedLinear(d, d, (pixel[None, :] < pixel[:, None]).float())
        self.z_to_h = nn.Linear(latent_dim, hidden, bias=False)
        self.z_to_out = nn.Linear(latent_dim, d, bias=False)

    def logits(self, x: Tensor, z: Tensor) -> Tensor:
        """Logits :math:`a_j(x_{<j}, z)` for all j; ``x`` broadcasts over ``z``'s leading dims."""
        shaped_tensor("x", x, (..., self.out_dim))
        shaped_tensor("z", z, (..., self.latent_dim))
        x = x.expand(*z.shape[:-1], self.out_dim) if z.dim() > x.dim() else x
        h = torch.relu(self.x_to_h(x) + self.z_to_h(z))
        return self.h_to_out(h) + self.x_to_out(x) + self.z_to_out(z)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        return bernoulli_log_prob(x, self.logits(x, z))

    @torch.no_grad()
    def sample(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw :math:`x\\sim p(x\\mid z)` pixel by pixel (``D`` forward passes)."""
        x = torch.zeros(*z.shape[:-1], self.out_dim, dtype=z.dtype, device=z.device)
        for j in range(self.out_dim):
            p = torch.sigmoid(self.logits(x, z)[..., j])
            u = torch.rand(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            x[..., j] = (u < p).to(x.dtype)
        return x

    def mean(self, z: Tensor) -> Tensor:
        """A sample (the pixel means depend on earlier pixels, so there is no closed form)."""
        return self.sample(z)
