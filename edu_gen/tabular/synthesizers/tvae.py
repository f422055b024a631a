r"""TVAE: the tabular variational autoencoder of Xu et al. (2019).

A VAE (Kingma & Welling 2014; chapter 04) on the encoded rows :math:`r` of
:class:`~edu_gen.tabular.encoding.transformer.DataTransformer`: encoder
:math:`q_\phi(z\mid r) = \mathcal N(\mu_\phi(r), \mathrm{diag}\,e^{\ell_\phi(r)})` and decoder
outputs :math:`(\hat\alpha, \hat\ell)` with *per-column* likelihoods

.. math::
    \log p_\theta(r\mid z) = \sum_{\alpha\text{ columns}}
        \log\mathcal N\big(\alpha;\ \tanh\hat\alpha,\ \sigma_\alpha^2\big)
      + \sum_{\text{one-hot spans } s} \log\mathrm{softmax}(\hat\ell_s)_{c_s},

a Gaussian for every :math:`\alpha` with its own learned :math:`\sigma_\alpha` (one per column,
shared by all rows, kept in :math:`(0.01, 1)` by :math:`\sigma = 0.01 + 0.99\,\mathrm{sigmoid}(s)`)
and a categorical for every one-hot span (mode indicators and categories, :math:`c_s` the
active entry). Training maximises

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
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.core.config import get_device
from edu_gen.core.distributions import clamp_logvar, kl_normal, log_normal
from edu_gen.core.train import History, fit
from edu_gen.data.tables.schema import Schema
from edu_gen.models.vae import reparameterize
from edu_gen.tabular.encoding.transformer import DataTransformer, Span
from edu_gen.tabular.synthesizers.ctgan import SoftmaxSpans, _check_seed, _seeded

Tensor = torch.Tensor

__all__ = ["TVAE", "TVAENet", "tvae_elbo", "tvae_loss"]

SIGMA_RANGE = (0.01, 1.0)
"""The range of the learned :math:`\\sigma_\\alpha` (the reference code clips to it)."""
DECODES = ("sample", "argmax")


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


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
        self.encoder = _mlp(enc)
        self.to_mu = nn.Linear(enc[-1], self.latent_dim)
        self.to_logvar = nn.Linear(enc[-1], self.latent_dim)
        self.decoder = nn.Sequential(_mlp(dec), nn.Linear(dec[-1], self.data_dim))
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


def tvae_elbo(net: TVAENet, rows: Tensor, loss_factor: float = 1.0) -> dict[str, Tensor]:
    """Per-row ``elbo``, ``recon`` (:math:`\\log p(r|z)`), ``kl`` and the training ``objective``
    :math:`\\lambda\\,\\text{recon} - \\text{KL}` (``loss_factor`` = :math:`\\lambda`)."""
    mu, logvar = net.encode(rows)
    z = reparameterize(mu, logvar)
    recon = net.log_likelihood(rows, net.decoder(z))
    kl = kl_normal(mu, logvar)
    return {"elbo": recon - kl, "recon": recon, "kl": kl, "objective": loss_factor * recon - kl}


def tvae_loss(loss_factor: float = 2.0):
    """``loss_fn(net, batch)`` for :func:`edu_gen.core.train.fit`: minus the mean objective."""
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


class _Shuffled:
    """Mini-batches of the rows of ``data`` in a fresh random order every epoch.

    Equivalent to a shuffling ``DataLoader`` without per-row indexing and collation; its
    ``generator`` is found, saved and restored by :func:`edu_gen.core.train.fit`.
    """

    def __init__(self, data: Tensor, batch_size: int, seed: int) -> None:
        self.data, self.batch_size = data, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        order = torch.randperm(len(self.data), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            yield self.data[order[start : start + self.batch_size]]


class TVAE:
    """Tabular VAE (Xu et al. 2019) with the same ``fit``/``sample`` API as
    :class:`CTGAN`. Defaults follow the reference code: latent 128,
    hidden (128, 128), Adam lr 1e-3 with weight decay 1e-5, batch 500, ``loss_factor`` 2."""

    def __init__(
        self,
        schema: Schema,
        *,
        embedding_dim: int = 128,
        compress_dims: Sequence[int] = (128, 128),
        decompress_dims: Sequence[int] = (128, 128),
        batch_size: int = 500,
        epochs: int = 300,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        loss_factor: float = 2.0,
        max_modes: int = 10,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        self.schema = schema
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.compress_dims = tuple(compress_dims)
        self.decompress_dims = tuple(decompress_dims)
        self.batch_size = positive_int("batch_size", batch_size)
        self.epochs = positive_int("epochs", epochs)
        self.lr = positive_float("lr", lr)
        if isinstance(weight_decay, bool) or weight_decay < 0:
            raise ValueError(f"weight_decay: expected a non-negative number, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.loss_factor = positive_float("loss_factor", loss_factor)
        self.max_modes = positive_int("max_modes", max_modes)
        self.seed = _check_seed(seed)
        self.device = get_device(None if device is None else str(device))
        self.transformer: DataTransformer | None = None
        self.net: TVAENet | None = None
        self.history: History | None = None

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        epochs: int | None = None,
        checkpoint: str | Path | None = None,
        progress: bool = True,
    ) -> TVAE:
        """Fit the transformer and the VAE on ``frame``; returns ``self``.

        See :meth:`CTGAN.fit` for ``epochs`` and ``checkpoint``."""
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        self.transformer = DataTransformer(self.schema, max_modes=self.max_modes, seed=self.seed)
        data = torch.from_numpy(self.transformer.fit(frame).transform(frame))
        with _seeded(self.seed, torch.device("cpu")):
            self.net = TVAENet(
                self.transformer.output_info,
                embedding_dim=self.embedding_dim,
                compress_dims=self.compress_dims,
                decompress_dims=self.decompress_dims,
            )
        loader = _Shuffled(data, self.batch_size, seed=self.seed)
        optimizer = torch.optim.Adam(
            self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        with _seeded(self.seed, self.device):
            self.history = fit(
                self.net,
                tvae_loss(self.loss_factor),
                loader,
                epochs=epochs,
                optimizer=optimizer,
                device=self.device,
                checkpoint=checkpoint,
                checkpoint_every=len(loader),
                progress=progress,
                desc="TVAE",
            )
        return self

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, decode: str = "sample") -> pd.DataFrame:
        """``n`` synthetic rows (see the module docstring for ``decode``)."""
        if self.net is None:
            raise RuntimeError("TVAE: call fit(frame) first")
        positive_int("n", n)
        if decode not in DECODES:
            raise ValueError(f"decode: expected one of {DECODES}, got {decode!r}")
        if seed is None:
            seed = int(torch.randint(2**62, (1,)).item())
        g = torch.Generator().manual_seed(_check_seed(seed))
        net = self.net
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        chunks = []
        try:
            for start in range(0, n, self.batch_size):
                b = min(self.batch_size, n - start)
                z = torch.randn(b, net.latent_dim, generator=g)
                eps = torch.randn(b, len(net.alpha_cols), generator=g)
                e = torch.empty(b, net.soft.n_spans, net.soft.width).exponential_(generator=g)
                gumbel = -e.clamp_min(torch.finfo(e.dtype).tiny).log()
                logits = net.decoder(z.to(device))
                alpha = torch.tanh(logits[:, net.alpha_cols]) + net.sigma * eps.to(device)
                scores = net.soft.gather(logits)
                if decode == "sample":
                    scores = scores + gumbel.to(device)
                rows = logits.clone()
                rows[:, net.alpha_cols] = alpha.clamp(-1.0, 1.0)
                rows[:, net.soft.index[net.soft.valid]] = scores[:, net.soft.valid]
                chunks.append(rows.cpu())
        finally:
            net.train(was_training)
        return self.transformer.inverse_transform(torch.cat(chunks).numpy())

    def losses(self) -> pd.DataFrame:
        """Per-epoch means of the loss, the ELBO and the KL."""
        if self.history is None:
            raise RuntimeError("TVAE: call fit(frame) first")
        h = pd.DataFrame({k: self.history[k] for k in self.history.keys()})
        return h.groupby("epoch")[["loss", "elbo", "kl"]].mean()
