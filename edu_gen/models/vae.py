r"""The variational autoencoder (chapter 04; Kingma & Welling 2014, Rezende et al. 2014).

Generative model :math:`p_\theta(x, z) = p(z)\,p_\theta(x\mid z)` with the prior
:math:`p(z) = \mathcal N(0, I)`; inference model (encoder)
:math:`q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`. Both are
trained by maximising the evidence lower bound (ELBO, eq. 17.16)

.. math:: \mathcal L(x) = \mathbb E_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]
          - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big) \le \log p_\theta(x),

where the expectation uses one reparameterised sample :math:`z = \mu + \sigma\odot\varepsilon`,
:math:`\varepsilon\sim\mathcal N(0,I)`, and the KL is in closed form
(:func:`edu_gen.core.distributions.kl_normal`). Decoders:

* :class:`BernoulliDecoder` — binary pixels, :math:`\log p(x\mid z) = \sum_j x_j a_j -
  \mathrm{softplus}(a_j)` from logits :math:`a`;
* :class:`GaussianDecoder` — real pixels, :math:`\mathcal N(x; m_\theta(z), \sigma^2 I)` with
  one learned (clamped) log-variance shared by all pixels, or a fixed one;
* :class:`AutoregressiveDecoder` — a *strong* decoder (a MADE, Germain et al. 2015, fed
  with :math:`z`): :math:`p(x\mid z) = \prod_j p(x_j \mid x_{<j}, z)`. It can model the
  data without :math:`z`, which makes **posterior collapse** easy to provoke
  (Bowman et al. 2016; Chen et al. 2017).

Diagnostics and remedies: :func:`active_units` (Burda et al. 2016: a latent unit :math:`u`
is active when :math:`\mathrm{Cov}_x(\mathbb E_{q(z|x)}[z_u]) > 10^{-2}`), the KL warm-up
schedule :func:`kl_warmup` (Bowman et al. 2016; Sønderby et al. 2016) and free bits
(Kingma et al. 2016) in :func:`elbo`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_int
from edu_gen.core.distributions import LOGVAR_RANGE, clamp_logvar, kl_normal, log_normal

Tensor = torch.Tensor

__all__ = [
    "VAE",
    "AutoregressiveDecoder",
    "BernoulliDecoder",
    "GaussianDecoder",
    "GaussianEncoder",
    "KLWarmup",
    "active_units",
    "bernoulli_log_prob",
    "elbo",
    "kl_warmup",
    "make_vae",
    "reparameterize",
    "vae_loss",
]


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _check_last_dim(t: object, dim: int, name: str, dtype: torch.dtype | None = None) -> Tensor:
    if not isinstance(t, Tensor) or t.dim() < 1 or t.shape[-1] != dim:
        shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"{name}: expected shape [..., {dim}], got {shape}")
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype} (the model's), got {t.dtype}")
    return t


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    r""":math:`z = \mu + \sigma\odot\varepsilon` with :math:`\sigma = e^{\ell/2}` (eq. 17.13).

    ``eps`` defaults to fresh standard-normal noise of ``mu``'s shape; pass ``eps`` of shape
    ``[k, *mu.shape]`` to draw ``k`` samples per example.
    """
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def bernoulli_log_prob(x: Tensor, logits: Tensor) -> Tensor:
    r""":math:`\log p(x\mid a) = \sum_j x_j a_j - \mathrm{softplus}(a_j)` (last dim summed)."""
    return (x * logits - F.softplus(logits)).sum(dim=-1)


# ------------------------------------------------------------------------- encoder


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
        self.trunk = nn.Sequential(_mlp([in_dim, *hidden]), nn.ReLU()) if hidden else nn.Identity()
        width = hidden[-1] if hidden else in_dim
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        _check_last_dim(x, self.in_dim, "x", self.mu.weight.dtype)
        h = self.trunk(x)
        return self.mu(h), clamp_logvar(self.logvar(h))


# ------------------------------------------------------------------------ decoders


class BernoulliDecoder(nn.Module):
    r""":math:`p_\theta(x\mid z) = \prod_j \mathrm{Bernoulli}(x_j; \sigma(a_j(z)))`."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (128,)) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.out_dim = positive_int("out_dim", out_dim)
        self.net = _mlp([latent_dim, *hidden, out_dim])

    def forward(self, z: Tensor) -> Tensor:
        """Logits :math:`a(z)`, shape ``[..., out_dim]``."""
        return self.net(_check_last_dim(z, self.latent_dim, "z"))

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        """:math:`\\log p(x\\mid z)`; ``z`` may carry extra leading sample dims."""
        _check_last_dim(x, self.out_dim, "x")
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
        if out_activation not in ("sigmoid", "identity"):
            raise ValueError(
                f"out_activation: expected 'sigmoid' or 'identity', got {out_activation!r}"
            )
        if not LOGVAR_RANGE[0] <= min_logvar < LOGVAR_RANGE[1]:
            raise ValueError(f"min_logvar: expected a value in {LOGVAR_RANGE}, got {min_logvar!r}")
        self.net = _mlp([latent_dim, *hidden, out_dim])
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
        out = self.net(_check_last_dim(z, self.latent_dim, "z"))
        return torch.sigmoid(out) if self.out_activation == "sigmoid" else out

    def forward(self, z: Tensor) -> Tensor:
        return self.mean(z)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        _check_last_dim(x, self.out_dim, "x")
        return log_normal(x, self.mean(z), self.logvar)


class _MaskedLinear(nn.Linear):
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
        _check_last_dim(x, self.out_dim, "x")
        _check_last_dim(z, self.latent_dim, "z")
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


# ----------------------------------------------------------------------------- VAE


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
        """Decoder means at ``n`` prior draws :math:`z\\sim N(0, I)`."""
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
    """An MLP VAE; ``likelihood`` is ``"bernoulli"``, ``"gaussian"`` or ``"autoregressive"``."""
    encoder = GaussianEncoder(in_dim, latent_dim, hidden)
    if likelihood == "bernoulli" and decoder_kwargs:
        raise ValueError(
            f"decoder_kwargs: the Bernoulli decoder takes none, got {sorted(decoder_kwargs)}"
        )
    if likelihood == "bernoulli":
        decoder: nn.Module = BernoulliDecoder(latent_dim, in_dim, tuple(reversed(hidden)))
    elif likelihood == "gaussian":
        decoder = GaussianDecoder(latent_dim, in_dim, tuple(reversed(hidden)), **decoder_kwargs)
    elif likelihood == "autoregressive":
        decoder = AutoregressiveDecoder(latent_dim, in_dim, **decoder_kwargs)
    else:
        raise ValueError(
            f"likelihood: expected 'bernoulli', 'gaussian' or 'autoregressive', got {likelihood!r}"
        )
    return VAE(encoder, decoder)


# --------------------------------------------------------------------- objectives


def elbo(model: VAE, x: Tensor, beta: float = 1.0, free_bits: float = 0.0) -> dict[str, Tensor]:
    r"""Per-example ELBO :math:`\log p(x\mid z) - \mathrm{KL}(q(z\mid x)\,\|\,p(z))` (eq. 17.16).

    One reparameterised sample for the reconstruction term, the closed-form KL for the
    rest. Returns ``elbo``, ``recon`` (:math:`\log p(x|z)`), ``kl`` (each ``[N]``), the
    per-unit KL ``kl_units`` (``[N, d]``) and ``objective``: the per-example quantity to
    *maximise*, :math:`\text{recon} - \beta\sum_u \max(\mathrm{KL}_u, \lambda)` where the
    free-bits floor :math:`\lambda` (nats per unit, Kingma et al. 2016) applies to the
    batch-mean KL of each unit. ``beta=1, free_bits=0`` gives the ELBO itself.
    """
    if beta < 0:
        raise ValueError(f"beta: expected a non-negative KL weight, got {beta!r}")
    if free_bits < 0:
        raise ValueError(f"free_bits: expected a non-negative number of nats, got {free_bits!r}")
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
    """Loss for :func:`edu_gen.core.train.fit`: minus the batch-mean objective, plus metrics."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    out = elbo(model, x, beta, free_bits)
    return {
        "loss": -out["objective"].mean(),
        "elbo": out["elbo"].mean().detach(),
        "kl": out["kl"].mean().detach(),
    }


def kl_warmup(step: int, warmup_steps: int, start: float = 0.0) -> float:
    r"""Linear KL warm-up :math:`\beta_t = \min(1, \beta_0 + (1-\beta_0)\,t/T)`.

    Early in training the KL term is switched (mostly) off, so the encoder can put
    information into :math:`z` before the prior pulls it back (Bowman et al. 2016).
    """
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected a non-negative int, got {warmup_steps!r}")
    if not 0.0 <= start <= 1.0:
        raise ValueError(f"start: expected a KL weight in [0, 1], got {start!r}")
    if warmup_steps == 0:
        return 1.0
    return min(1.0, start + (1.0 - start) * step / warmup_steps)


class KLWarmup:
    """A ``fit`` loss whose KL weight follows :func:`kl_warmup` over its own call count.

    The counter lives in this object, not in a checkpoint: do not resume such a run.
    """

    def __init__(self, warmup_steps: int, start: float = 0.0, free_bits: float = 0.0) -> None:
        kl_warmup(0, warmup_steps, start)  # validates
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
    if threshold <= 0:
        raise ValueError(f"threshold: expected a positive number, got {threshold!r}")
    mu, _ = model.encode(x)
    variances = mu.var(dim=0, unbiased=True)
    return int((variances > threshold).sum()), variances
