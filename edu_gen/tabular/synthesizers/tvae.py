r"""TVAE: the tabular variational autoencoder of Xu et al. (2019).

A VAE (Kingma & Welling 2014; chapter 04) on the encoded rows :math:`r` of
:class:`~edu_gen.tabular.encoding.DataTransformer`: encoder
:math:`q_\phi(z\mid r) = \mathcal N(\mu_\phi(r), \mathrm{diag}\,e^{\ell_\phi(r)})` and decoder
outputs :math:`(\hat\alpha, \hat\ell)` with *per-column* likelihoods

.. math::
    \log p_\theta(r\mid z) = \sum_{\alpha\text{ columns}}
        \log\mathcal N\big(\alpha;\ \tanh\hat\alpha,\ \sigma_\alpha^2\big)
      + \sum_{\text{one-hot spans } s} \log\mathrm{softmax}(\hat\ell_s)_{c_s},

a Gaussian for every :math:`\alpha` with its own learned :math:`\sigma_\alpha` (one per column,
shared by all rows, kept in :math:`(0.01, 1)` by :math:`\sigma = 0.01 + 0.99\,\mathrm{sigmoid}(s)`)
and a categorical for every one-hot span (mode indicators and categories, :math:`c_s` the
active entry). Training maximises (:func:`tvae_elbo`, :func:`tvae_loss`)

.. math:: \lambda\,\mathbb E_{q}[\log p_\theta(r\mid z)]
          - \mathrm{KL}(q_\phi(z\mid r)\,\|\,\mathcal N(0, I))

with one reparameterised sample (:func:`edu_gen.models.vae.reparameterize`), the closed-form KL
(:func:`edu_gen.core.distributions.kl_normal`) and :func:`edu_gen.core.distributions.log_normal`.
:math:`\lambda = 1` is the ELBO; the reference code weights the reconstruction by
``loss_factor`` :math:`\lambda = 2` (the default here, for comparability), and the history logs
the true ELBO either way. Encoder log-variances are clamped to
:data:`edu_gen.core.distributions.LOGVAR_RANGE`.

Sampling draws :math:`z\sim\mathcal N(0,I)` and then a row from :math:`p_\theta(r\mid z)`:
:math:`\alpha = \tanh\hat\alpha + \sigma_\alpha\varepsilon` and a category from each softmax
(``decode="sample"``, the default). ``decode="argmax"`` takes the most likely category
instead, as the ``ctgan`` package does - which never produces a category that is nowhere
the most likely, so rare categories vanish.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pandas as pd
import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import choice, positive_float, positive_int
from edu_gen.core.distributions import clamp_logvar, kl_normal, log_normal
from edu_gen.core.nn import mlp
from edu_gen.core.train.players import LossFn
from edu_gen.data.tables.schema import Schema
from edu_gen.models.vae import reparameterize
from edu_gen.tabular.encoding import DataTransformer, Span
from edu_gen.tabular.synthesizers.base import Phase, Synthesizer
from edu_gen.tabular.synthesizers.spans import SoftmaxSpans

Tensor = torch.Tensor

__all__ = ["DECODES", "SIGMA_RANGE", "TVAE", "ShuffledRows", "TVAENet", "tvae_elbo", "tvae_loss"]

SIGMA_RANGE = (0.01, 1.0)
"""The range of the learned :math:`\\sigma_\\alpha` (the reference code clips to it)."""
DECODES = ("sample", "argmax")


class TVAENet(nn.Module):
    """Encoder MLP → :math:`(\\mu, \\ell)`, decoder MLP → logits, and :math:`\\sigma_\\alpha`."""

    def __init__(
        self,
        spans: Sequence[Span],
        *,
        embedding_dim: int = 128,
        compress_dims: Sequence[int] = (128, 128),
        decompress_dims: Sequence[int] = (128, 128),
    ) -> None:
        super().__init__()
        spans = list(spans)
        self.data_dim = max(s.end for s in spans)
        self.latent_dim = positive_int("embedding_dim", embedding_dim)
        enc = [self.data_dim, *(positive_int("compress_dims", d) for d in compress_dims)]
        dec = [self.latent_dim, *(positive_int("decompress_dims", d) for d in decompress_dims)]
        self.encoder = mlp(enc, "relu", last="relu")
        self.to_mu = nn.Linear(enc[-1], self.latent_dim)
        self.to_logvar = nn.Linear(enc[-1], self.latent_dim)
        self.decoder = nn.Sequential(
            mlp(dec, "relu", last="relu"), nn.Linear(dec[-1], self.data_dim)
        )
        alpha_cols = [s.start for s in spans if s.activation == "tanh"]
        self.register_buffer("alpha_cols", torch.as_tensor(alpha_cols, dtype=torch.long), False)
        self.soft = SoftmaxSpans([s for s in spans if s.activation == "softmax"])
        lo, hi = SIGMA_RANGE
        start = math.log((0.1 - lo) / (hi - 0.1))  # sigma = 0.1 at initialisation
        self.sigma_logit = nn.Parameter(torch.full((len(alpha_cols),), start))

    @property
    def sigma(self) -> Tensor:
        lo, hi = SIGMA_RANGE
        return lo + (hi - lo) * torch.sigmoid(self.sigma_logit)

    def encode(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(rows)
        return self.to_mu(h), clamp_logvar(self.to_logvar(h))

    def log_likelihood(self, rows: Tensor, logits: Tensor) -> Tensor:
        """:math:`\\log p_\\theta(r\\mid z)` per row from the decoder's ``logits`` (see module)."""
        alpha = rows[:, self.alpha_cols]
        mean = torch.tanh(logits[:, self.alpha_cols])
        gauss = log_normal(alpha, mean, 2 * torch.log(self.sigma))
        log_probs = torch.log_softmax(self.soft.gather(logits), dim=-1)
        onehot = self.soft.gather(rows, fill=0.0)
        cat = (onehot * log_probs.masked_fill(~self.soft.valid, 0.0)).sum((1, 2))
        return gauss + cat

    def draw(self, n: int, generator: torch.Generator, decode: str = "sample") -> Tensor:
        """``n`` encoded rows from :math:`p_\\theta(r\\mid z)`, :math:`z\\sim\\mathcal N(0,I)`,
        all noise from ``generator`` (see the module docstring for ``decode``)."""
        device = self.alpha_cols.device
        z = torch.randn(n, self.latent_dim, generator=generator)
        eps = torch.randn(n, len(self.alpha_cols), generator=generator)
        gumbel = self.soft.gumbel_noise(n, generator)
        logits = self.decoder(z.to(device))
        alpha = torch.tanh(logits[:, self.alpha_cols]) + self.sigma * eps.to(device)
        scores = self.soft.gather(logits)
        if decode == "sample":
            scores = scores + gumbel.to(device)
        rows = logits.clone()
        rows[:, self.alpha_cols] = alpha.clamp(-1.0, 1.0)
        rows[:, self.soft.index[self.soft.valid]] = scores[:, self.soft.valid]
        return rows


def tvae_elbo(net: TVAENet, rows: Tensor, loss_factor: float = 1.0) -> dict[str, Tensor]:
    """Per-row ``elbo``, ``recon`` (:math:`\\log p(r|z)`), ``kl`` and the training ``objective``
    :math:`\\lambda\\,\\text{recon} - \\text{KL}` (``loss_factor`` = :math:`\\lambda`)."""
    mu, logvar = net.encode(rows)
    z = reparameterize(mu, logvar)
    recon = net.log_likelihood(rows, net.decoder(z))
    kl = kl_normal(mu, logvar)
    return {"elbo": recon - kl, "recon": recon, "kl": kl, "objective": loss_factor * recon - kl}


def tvae_loss(loss_factor: float = 2.0) -> LossFn:
    """``loss_fn(net, batch)`` for :func:`edu_gen.core.train.fit`: minus the mean objective of
    :func:`tvae_elbo`; logs the mean ``elbo`` and ``kl``."""
    positive_float("loss_factor", loss_factor)

    def loss_fn(net: TVAENet, batch: Sequence[Tensor] | Tensor) -> dict[str, Tensor]:
        rows = batch[0] if isinstance(batch, (tuple, list)) else batch
        out = tvae_elbo(net, rows, loss_factor)
        return {
            "loss": -out["objective"].mean(),
            "elbo": out["elbo"].mean().detach(),
            "kl": out["kl"].mean().detach(),
        }

    return loss_fn


class ShuffledRows:
    """Mini-batches of the rows of ``data`` in a fresh random order every epoch, drawn from
    ``self.generator`` (which the synthesizer passes to ``fit`` as ``rng=``); equivalent to a
    shuffling ``DataLoader`` without per-row indexing and collation."""

    def __init__(self, data: Tensor, batch_size: int, seed: int) -> None:
        self.data, self.batch_size = data, batch_size
        self.generator = rng.generator(seed)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        order = torch.randperm(len(self.data), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            yield self.data[order[start : start + self.batch_size]]


class TVAE(Synthesizer):
    """Tabular VAE (Xu et al. 2019) with the same ``fit``/``sample``/``losses`` as
    :class:`~edu_gen.tabular.synthesizers.ctgan.CTGAN`. Defaults follow the reference code:
    latent 128, hidden (128, 128), Adam lr 1e-3 with weight decay 1e-5, batch 500,
    ``loss_factor`` 2. One player: the loss :func:`tvae_loss`."""

    label = "TVAE"

    def __init__(
        self,
        schema: Schema,
        *,
        embedding_dim: int = 128,
        compress_dims: Sequence[int] = (128, 128),
        decompress_dims: Sequence[int] = (128, 128),
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        loss_factor: float = 2.0,
        **common: object,
    ) -> None:
        super().__init__(schema, **common)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.compress_dims = tuple(compress_dims)
        self.decompress_dims = tuple(decompress_dims)
        self.lr = positive_float("lr", lr)
        if isinstance(weight_decay, bool) or weight_decay < 0:
            raise ValueError(f"weight_decay: expected a non-negative number, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.loss_factor = positive_float("loss_factor", loss_factor)

    def prepare(self, frame: pd.DataFrame) -> Tensor:
        self.transformer = DataTransformer(self.schema, max_modes=self.max_modes, seed=self.seed)
        data = torch.from_numpy(self.transformer.fit(frame).transform(frame))
        spans = self.transformer.output_info
        self.net = self.build(
            lambda: TVAENet(
                spans,
                embedding_dim=self.embedding_dim,
                compress_dims=self.compress_dims,
                decompress_dims=self.decompress_dims,
            )
        )
        return data

    def phases(self, data: Tensor, epochs: int) -> list[Phase]:
        rows = ShuffledRows(data, self.batch_size, seed=self.seed)
        adam = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss = tvae_loss(self.loss_factor)
        return [Phase("vae", self.label, self.net, loss, rows, epochs, adam, (rows.generator,))]

    def sample(self, n: int, *, seed: int | None = None, decode: str = "sample") -> pd.DataFrame:
        """``n`` synthetic rows (see the module docstring for ``decode``)."""
        choice("decode", decode, DECODES)
        return self.generate(n, seed, lambda b, g: self.net.draw(b, g, decode))
