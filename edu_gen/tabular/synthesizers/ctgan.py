r"""CTGAN: the conditional tabular GAN of Xu et al. (2019), "Modeling Tabular Data using
Conditional GAN" (NeurIPS).

The pieces, each a small function or module here:

* **data** - :class:`~edu_gen.tabular.encoding.transformer.DataTransformer` (mode-specific
  normalisation, one-hot categoricals) and
  :class:`~edu_gen.tabular.encoding.sampler.ConditionalSampler` (conditional vector, training-by-
  sampling with log-frequency, real frequencies at generation);
* **generator** :math:`G(z, \text{cond})`, :math:`z\sim\mathcal N(0, I_{128})`: two
  :class:`Residual` blocks :math:`h \mapsto [\mathrm{ReLU}(\mathrm{BN}(Wh + b)), h]` (each
  block's output is concatenated to its input) and a linear layer to the encoded width;
* **output activations** (:class:`SpanActivation`): :math:`\tanh` on every :math:`\alpha`,
  Gumbel-softmax (Jang et al. 2017) :math:`\mathrm{softmax}((\ell + g)/\tau)`, :math:`\tau=0.2`,
  :math:`g\sim\text{Gumbel}(0,1)`, on every one-hot span - all spans at once through one padded
  gather, no loop over columns;
* **critic** :math:`D` on PacGAN packs of ``pac = 10`` rows (Lin et al. 2018,
  :func:`gan.pack`) of :math:`[\hat r, \text{cond}]`: Linear-LeakyReLU(0.2)-Dropout(0.5)
  layers and a linear score;
* **losses** - WGAN-GP (Gulrajani et al. 2017, :func:`edu_gen.models.gan.gradient_penalty`, one
  interpolation weight and one gradient norm per pack):

  .. math:: L_D = \mathbb E[D(\hat r, c)] - \mathbb E[D(r, c)] + \lambda\,\mathrm{GP},\qquad
            L_G = -\mathbb E[D(\hat r, c)] + \mathbb E\big[\mathrm{CE}(\hat\ell_{j^*}, c^*)\big],

  where the second generator term is the **conditional cross-entropy**: the generator's logits
  :math:`\hat\ell_{j^*}` of the conditioned column must put the conditioned category
  :math:`c^*` first (otherwise the generator could ignore the condition);
* **optimiser** Adam, lr 2e-4, betas (0.5, 0.9), weight decay 1e-6; one critic update per
  generator update; batch 500.

Training runs through :func:`edu_gen.core.train.fit`: each ``fit`` step is one player's update
(the batches say whose turn it is; the other player's parameters get no gradient, and Adam
keeps per-parameter state, so one optimiser equals the paper's two). One epoch is
``N // batch_size`` critic + generator rounds, as in the reference code, and checkpoints
resume bit-for-bit on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.core.config import get_device
from edu_gen.core.train import History, fit
from edu_gen.data.tables.schema import Schema
from edu_gen.models.gan import gradient_penalty, pack
from edu_gen.tabular.encoding.sampler import FREQUENCIES, Condition, ConditionalSampler
from edu_gen.tabular.encoding.transformer import DataTransformer, Span

Tensor = torch.Tensor

__all__ = [
    "CTGAN",
    "Discriminator",
    "Generator",
    "Residual",
    "SoftmaxSpans",
    "SpanActivation",
    "conditional_cross_entropy",
    "ctgan_objective",
]


# ----------------------------------------------------------------------------- layout


class SoftmaxSpans(nn.Module):
    """Several one-hot spans of a row gathered into one padded ``[B, S, W]`` block.

    ``index[s, w]`` is the column of entry ``w`` of span ``s`` (padding points at column 0)
    and ``valid[s, w]`` marks real entries, so a softmax over every span is one masked
    softmax over the last dimension instead of a Python loop over columns.
    """

    def __init__(self, spans: Sequence[Span]) -> None:
        super().__init__()
        spans = list(spans)
        width = max((s.width for s in spans), default=0)
        index = torch.zeros(len(spans), width, dtype=torch.long)
        valid = torch.zeros(len(spans), width, dtype=torch.bool)
        for i, s in enumerate(spans):
            index[i, : s.width] = torch.arange(s.start, s.end)
            valid[i, : s.width] = True
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("valid", valid, persistent=False)
        self.n_spans, self.width = len(spans), width

    def gather(self, x: Tensor, fill: float = float("-inf")) -> Tensor:
        """``x[:, index]`` with padding set to ``fill``: shape ``[B, S, W]``."""
        return x[:, self.index].masked_fill(~self.valid, fill)


class SpanActivation(nn.Module):
    r"""Generator output activations: :math:`\tanh` on ``tanh`` spans, Gumbel-softmax on the rest.

    ``forward(logits, gumbel=None)``: ``gumbel`` (shape ``[B, S, W]``, standard Gumbel
    noise) may be passed for reproducible sampling; otherwise it is drawn on the logits'
    device. With ``hard=True`` the one-hots are exact (argmax of :math:`\ell + g`, i.e. a
    draw from :math:`\mathrm{softmax}(\ell)`), as used at sampling time.
    """

    def __init__(self, spans: Sequence[Span], tau: float = 0.2) -> None:
        super().__init__()
        self.tau = positive_float("tau", tau)
        tanh_cols = [c for s in spans if s.activation == "tanh" for c in range(s.start, s.end)]
        soft = [s for s in spans if s.activation == "softmax"]
        self.soft = SoftmaxSpans(soft)
        soft_cols = self.soft.index[self.soft.valid]
        order = torch.cat([torch.as_tensor(tanh_cols, dtype=torch.long), soft_cols])
        dim = max((s.end for s in spans), default=0)
        if sorted(order.tolist()) != list(range(dim)):
            raise ValueError("spans: expected spans that tile 0..output_dim without overlap")
        self.register_buffer("tanh_cols", torch.as_tensor(tanh_cols, dtype=torch.long), False)
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        self.dim = dim

    def gumbel_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """Standard Gumbel noise ``-log(E)``, :math:`E\\sim\\text{Exp}(1)` clamped away from 0."""
        e = torch.empty(batch, self.soft.n_spans, self.soft.width).exponential_(generator=generator)
        return -e.clamp_min(torch.finfo(e.dtype).tiny).log()

    def forward(self, logits: Tensor, gumbel: Tensor | None = None, hard: bool = False) -> Tensor:
        if logits.dim() != 2 or logits.shape[1] != self.dim:
            raise ValueError(f"logits: expected shape [B, {self.dim}], got {tuple(logits.shape)}")
        if gumbel is None:
            e = torch.empty(
                logits.shape[0], self.soft.n_spans, self.soft.width, device=logits.device
            ).exponential_()
            gumbel = -e.clamp_min(torch.finfo(e.dtype).tiny).log()
        scores = (self.soft.gather(logits) + gumbel.to(logits)) / self.tau
        if hard:
            probs = F.one_hot(scores.argmax(-1), self.soft.width).to(logits.dtype)
        else:
            probs = torch.softmax(scores, dim=-1)
        values = torch.tanh(logits[:, self.tanh_cols])
        return torch.cat([values, probs[:, self.soft.valid]], 1)[:, self.inverse]


def conditional_cross_entropy(
    logits: Tensor, spans: SoftmaxSpans, span: Tensor, category: Tensor
) -> Tensor:
    r"""Batch mean of :math:`-\log\mathrm{softmax}(\ell_{j_i})_{c_i}`: the generator's raw logits
    ``logits`` of the conditioned column :math:`j_i` (one of ``spans``) scored against the
    conditioned category :math:`c_i` of every row :math:`i`."""
    if spans.n_spans == 0:
        return logits.sum() * 0.0
    chosen = spans.gather(logits)[torch.arange(len(span), device=logits.device), span]
    return F.cross_entropy(chosen, category)


# ----------------------------------------------------------------------------- networks


class Residual(nn.Module):
    """:math:`h \\mapsto [\\mathrm{ReLU}(\\mathrm{BN}(Wh + b)),\\ h]`; adds ``out_dim`` features."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(positive_int("in_dim", in_dim), positive_int("out_dim", out_dim))
        self.bn = nn.BatchNorm1d(out_dim)

    def forward(self, h: Tensor) -> Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(h))), h], dim=1)


class Generator(nn.Sequential):
    """Residual blocks of widths ``dims``, then a linear layer to ``out_dim``."""

    def __init__(self, in_dim: int, dims: Sequence[int], out_dim: int) -> None:
        layers: list[nn.Module] = []
        width = positive_int("in_dim", in_dim)
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        layers.append(nn.Linear(width, positive_int("out_dim", out_dim)))
        super().__init__(*layers)


class Discriminator(nn.Module):
    """PacGAN critic: packs of ``pac`` rows of width ``in_dim`` → one score per pack."""

    def __init__(self, in_dim: int, dims: Sequence[int], pac: int = 10) -> None:
        super().__init__()
        self.pac = positive_int("pac", pac)
        layers: list[nn.Module] = []
        width = positive_int("in_dim", in_dim) * pac
        for d in dims:
            layers += [
                nn.Linear(width, positive_int("dims", d)),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.5),
            ]
            width = d
        layers.append(nn.Linear(width, 1))
        self.seq = nn.Sequential(*layers)

    def forward(self, rows: Tensor) -> Tensor:
        return self.seq(pack(rows, self.pac)).squeeze(-1)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Within the block, scores carry gradients to the inputs but not to the critic."""
        params = [p for p in self.parameters() if p.requires_grad]
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in params:
                p.requires_grad_(True)


class CTGANNet(nn.Module):
    """The trainable parts: ``generator``, ``discriminator`` and the output ``activation``."""

    def __init__(
        self,
        spans: Sequence[Span],
        cond_spans: Sequence[Span],
        cond_dim: int,
        *,
        embedding_dim: int,
        generator_dims: Sequence[int],
        discriminator_dims: Sequence[int],
        pac: int,
        tau: float,
    ) -> None:
        super().__init__()
        self.activation = SpanActivation(spans, tau)
        self.cond_spans = SoftmaxSpans(cond_spans)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.cond_dim = cond_dim
        self.data_dim = self.activation.dim
        self.generator = Generator(embedding_dim + cond_dim, generator_dims, self.data_dim)
        self.discriminator = Discriminator(self.data_dim + cond_dim, discriminator_dims, pac)

    @property
    def pac(self) -> int:
        return self.discriminator.pac

    def generate(self, z: Tensor, cond: Tensor, gumbel: Tensor | None = None, hard: bool = False):
        """``(logits, activated rows)`` of :math:`G(z, \\text{cond})`."""
        logits = self.generator(torch.cat([z, cond], dim=1))
        return logits, self.activation(logits, gumbel, hard)


def ctgan_objective(gp_weight: float = 10.0):
    """A ``loss_fn(net, batch)`` for :func:`edu_gen.core.train.fit` (see the module docstring).

    A batch with ``"real"`` is a critic turn: :math:`L_D` on real rows paired with their
    conditions and on generated rows (no gradient to :math:`G`). Otherwise it is a generator
    turn: :math:`L_G` with the critic frozen. Logged: ``generator_step`` (0/1); on critic
    turns ``critic_gap`` (:math:`\\mathbb E[D(r)] - \\mathbb E[D(\\hat r)]`, the Wasserstein
    estimate) and ``penalty``; on generator turns ``cond_ce``; entries that do not apply are 0.
    """
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, (int, float)) or gp_weight < 0:
        raise ValueError(f"gp_weight: expected a non-negative number, got {gp_weight!r}")

    def loss_fn(net: CTGANNet, batch: Mapping[str, Tensor]) -> dict[str, Tensor | float]:
        cond = batch["cond"]
        z = torch.randn(cond.shape[0], net.embedding_dim, device=cond.device)
        if "real" in batch:
            with torch.no_grad():
                _, fake = net.generate(z, cond)
            fake = torch.cat([fake, cond], dim=1)
            real = torch.cat([batch["real"], batch["real_cond"]], dim=1)
            gap = net.discriminator(real).mean() - net.discriminator(fake).mean()
            penalty = gradient_penalty(net.discriminator, real, fake, weight=gp_weight, pac=net.pac)
            return {
                "loss": -gap + penalty,
                "generator_step": 0.0,
                "critic_gap": gap.detach(),
                "penalty": penalty.detach(),
                "cond_ce": 0.0,
            }
        logits, fake = net.generate(z, cond)
        with net.discriminator.frozen():
            score = net.discriminator(torch.cat([fake, cond], dim=1)).mean()
        ce = conditional_cross_entropy(logits, net.cond_spans, batch["span"], batch["category"])
        return {
            "loss": -score + ce,
            "generator_step": 1.0,
            "critic_gap": 0.0,
            "penalty": 0.0,
            "cond_ce": ce.detach(),
        }

    return loss_fn


class _Batches:
    """One epoch: ``steps`` rounds of ``critic_steps`` critic batches and one generator batch.

    Batches are drawn lazily from the sampler, whose ``generator`` :func:`edu_gen.core.train.fit`
    finds (attribute ``generator``), saves and restores.
    """

    def __init__(
        self, data: Tensor, sampler: ConditionalSampler, batch: int, steps: int, critic_steps: int
    ) -> None:
        self.data, self.sampler = data, sampler
        self.batch, self.steps, self.critic_steps = batch, steps, critic_steps
        self.generator = sampler.generator

    def __len__(self) -> int:
        return self.steps * (self.critic_steps + 1)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for _ in range(self.steps):
            for _ in range(self.critic_steps):
                c = self.sampler.sample_train(self.batch)
                perm = torch.randperm(self.batch, generator=self.generator)
                yield {"cond": c.cond, "real": self.data[c.rows[perm]], "real_cond": c.cond[perm]}
            c = self.sampler.sample_train(self.batch)
            yield {"cond": c.cond, "span": c.span, "category": c.category}


# ----------------------------------------------------------------------------- the model


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    return seed


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG (and the CUDA one in use) inside, restore the caller's after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class CTGAN:
    """Conditional tabular GAN (Xu et al. 2019) for tables described by ``schema``.

    ``CTGAN(schema, ...).fit(frame)`` then ``.sample(n)`` → a DataFrame with the schema's
    columns and the fitted dtypes. Defaults follow the paper's reference code. ``tau`` is the
    Gumbel-softmax temperature, ``max_modes`` the transformer's mixture size, ``device``
    defaults to :func:`edu_gen.core.config.get_device`. Attributes after :meth:`fit`:
    ``transformer``, ``sampler``, ``net`` and ``history`` (one record per player update).
    """

    def __init__(
        self,
        schema: Schema,
        *,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (256, 256),
        pac: int = 10,
        batch_size: int = 500,
        epochs: int = 300,
        discriminator_steps: int = 1,
        log_frequency: bool = True,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.9),
        weight_decay: float = 1e-6,
        gp_weight: float = 10.0,
        tau: float = 0.2,
        max_modes: int = 10,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        self.schema = schema
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.generator_dims = tuple(positive_int("generator_dims", d) for d in generator_dims)
        self.discriminator_dims = tuple(
            positive_int("discriminator_dims", d) for d in discriminator_dims
        )
        self.pac = positive_int("pac", pac)
        self.batch_size = positive_int("batch_size", batch_size)
        if batch_size % pac:
            raise ValueError(
                f"batch_size: expected a multiple of pac={pac} (packs of real and generated "
                f"rows), got {batch_size}"
            )
        self.epochs = positive_int("epochs", epochs)
        self.discriminator_steps = positive_int("discriminator_steps", discriminator_steps)
        self.log_frequency = bool(log_frequency)
        self.lr = positive_float("lr", lr)
        self.betas = tuple(float(b) for b in betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        if isinstance(weight_decay, bool) or weight_decay < 0:
            raise ValueError(f"weight_decay: expected a non-negative number, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.gp_weight = gp_weight
        self.tau = positive_float("tau", tau)
        self.max_modes = positive_int("max_modes", max_modes)
        self.seed = _check_seed(seed)
        self.device = get_device(None if device is None else str(device))
        self.transformer: DataTransformer | None = None
        self.sampler: ConditionalSampler | None = None
        self.net: CTGANNet | None = None
        self.history: History | None = None

    def _prepare(self, frame: pd.DataFrame) -> Tensor:
        self.transformer = DataTransformer(self.schema, max_modes=self.max_modes, seed=self.seed)
        encoded = self.transformer.fit(frame).transform(frame)
        self.sampler = ConditionalSampler(
            encoded,
            self.transformer.discrete_spans,
            log_frequency=self.log_frequency,
            seed=self.seed,
        )
        with _seeded(self.seed, torch.device("cpu")):
            self.net = CTGANNet(
                self.transformer.output_info,
                self.transformer.discrete_spans,
                self.sampler.cond_dim,
                embedding_dim=self.embedding_dim,
                generator_dims=self.generator_dims,
                discriminator_dims=self.discriminator_dims,
                pac=self.pac,
                tau=self.tau,
            )
        return torch.from_numpy(encoded)

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        epochs: int | None = None,
        checkpoint: str | Path | None = None,
        progress: bool = True,
    ) -> CTGAN:
        """Fit the transformer, the sampler and the networks on ``frame``; returns ``self``.

        ``epochs`` (default: the constructor's) is the total budget; with ``checkpoint``, a
        run that finds the file resumes from it (same frame and settings needed) and the
        result equals an uninterrupted run bit for bit on CPU. Every call starts from fresh
        networks unless it resumes.

        Raises:
            ValueError: ``frame`` does not match the schema (names the column and why).
        """
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        data = self._prepare(frame)
        steps = max(len(data) // self.batch_size, 1)
        batches = _Batches(data, self.sampler, self.batch_size, steps, self.discriminator_steps)
        optimizer = torch.optim.Adam(
            self.net.parameters(), lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
        )
        with _seeded(self.seed, self.device):
            self.history = fit(
                self.net,
                ctgan_objective(self.gp_weight),
                batches,
                epochs=epochs,
                optimizer=optimizer,
                device=self.device,
                checkpoint=checkpoint,
                checkpoint_every=len(batches),
                progress=progress,
                desc="CTGAN",
            )
        return self

    def _check_fitted(self) -> None:
        if self.net is None:
            raise RuntimeError("CTGAN: call fit(frame) first")

    def losses(self) -> pd.DataFrame:
        """Per-epoch means of the critic loss and the generator loss (and their parts)."""
        self._check_fitted()
        h = pd.DataFrame({k: self.history[k] for k in self.history.keys()})
        critic, gen = h[h.generator_step == 0], h[h.generator_step == 1]
        return pd.DataFrame(
            {
                "critic": critic.groupby("epoch")["loss"].mean(),
                "critic_gap": critic.groupby("epoch")["critic_gap"].mean(),
                "penalty": critic.groupby("epoch")["penalty"].mean(),
                "generator": gen.groupby("epoch")["loss"].mean(),
                "cond_ce": gen.groupby("epoch")["cond_ce"].mean(),
            }
        )

    def _fixed_condition(self, condition: Mapping[str, object], batch: int) -> Condition:
        if not isinstance(condition, Mapping) or len(condition) != 1:
            raise ValueError(
                f"condition: expected {{column: value}} for one column, got {condition!r}"
            )
        ((name, value),) = condition.items()
        columns = [s.column for s in self.sampler.spans]
        if name not in columns:
            raise ValueError(f"condition: {name!r} is not a discrete column; choose from {columns}")
        cats = self.transformer.categories(name)
        matches = [i for i, c in enumerate(cats) if c == value or (_isnan(c) and _isnan(value))]
        if not matches:
            raise ValueError(f"condition: {value!r} is not a category of {name!r}: {cats}")
        return self.sampler.condition_on(columns.index(name), matches[0], batch)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        condition: Mapping[str, object] | None = None,
        frequency: str = "real",
    ) -> pd.DataFrame:
        """``n`` synthetic rows.

        ``seed`` makes the draw reproducible (independent of the global RNG). ``condition``
        ``{column: value}`` feeds that category's conditional vector to every row (it makes
        the category likely, as in the paper, without forcing it). ``frequency``: the
        conditional vectors' law, ``"real"`` (default, see
        :meth:`~edu_gen.tabular.encoding.sampler.ConditionalSampler.sample_generation`) or ``"log"``
        (the ``ctgan`` package, inflates rare categories).
        """
        self._check_fitted()
        positive_int("n", n)
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency: expected one of {FREQUENCIES}, got {frequency!r}")
        if seed is None:
            seed = int(torch.randint(2**62, (1,)).item())
        g = torch.Generator().manual_seed(_check_seed(seed))
        device = next(self.net.parameters()).device
        was_training = self.net.training
        self.net.eval()
        chunks = []
        try:
            for start in range(0, n, self.batch_size):
                b = min(self.batch_size, n - start)
                if condition is not None:
                    c = self._fixed_condition(condition, b)
                else:
                    c = self.sampler.sample_generation(b, frequency=frequency, generator=g)
                z = torch.randn(b, self.embedding_dim, generator=g)
                gumbel = self.net.activation.gumbel_noise(b, g)
                _, rows = self.net.generate(
                    z.to(device), c.cond.to(device), gumbel.to(device), hard=True
                )
                chunks.append(rows.cpu())
        finally:
            self.net.train(was_training)
        return self.transformer.inverse_transform(torch.cat(chunks).numpy())


def _isnan(value: object) -> bool:
    return isinstance(value, float) and np.isnan(value)
