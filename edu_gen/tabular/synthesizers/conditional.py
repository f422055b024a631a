r"""Training and sampling a conditional tabular GAN (Xu et al. 2019): the parts CTGAN and
CTAB-GAN share.

* **training-by-sampling** (:class:`TrainingBySampling`): a critic batch pairs the real rows
  drawn for a batch of training conditions with those conditions, shuffled, so real and
  generated rows of a batch share their conditions; a generator batch is conditions only
  (plus, for CTAB-GAN's information loss, the real rows drawn for them);
* **turns** (:class:`GANTurns`): one epoch is ``rounds`` rounds of ``critic_steps`` critic
  turns and one generator turn, each a :class:`~edu_gen.core.train.Turn` naming its player,
  for :func:`edu_gen.core.train.fit`;
* **conditional cross-entropy** (:func:`conditional_cross_entropy`): the generator's logits of
  the conditioned column must put the conditioned category first;
* **sampling** (:func:`draw_rows`): conditions with the real frequencies (or a fixed
  ``{column: value}``), :math:`z`, Gumbel noise, exact one-hots;
* :class:`ConditionalGANSynthesizer` - what CTGAN and CTAB-GAN share as synthesizers: the
  network settings (:class:`~edu_gen.tabular.synthesizers.networks.GANSettings`), the sampler
  and ``sample(n, seed=..., condition=..., frequency=...)``; each says only how it encodes
  the table (``prepare``) and how it trains (``phases``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from edu_gen.core.checks import choice
from edu_gen.core.train import Turn
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.encoding import FREQUENCIES, Condition, ConditionalSampler
from edu_gen.tabular.synthesizers.base import Synthesizer
from edu_gen.tabular.synthesizers.networks import CTGANNet, GANSettings
from edu_gen.tabular.synthesizers.spans import SoftmaxSpans

Tensor = torch.Tensor
Batch = dict[str, Tensor]

__all__ = [
    "ConditionalGANSynthesizer",
    "GANTurns",
    "TrainingBySampling",
    "conditional_cross_entropy",
    "critic_rows",
    "draw_rows",
    "fixed_condition",
    "noise_for",
]


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


def noise_for(net: CTGANNet, cond: Tensor) -> Tensor:
    """:math:`z\\sim\\mathcal N(0, I)`, one row per condition (torch's global RNG)."""
    return torch.randn(cond.shape[0], net.embedding_dim, device=cond.device)


def critic_rows(net: CTGANNet, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
    """``(real, fake)`` critic inputs of a critic batch: the real rows next to their own
    conditions, and rows generated (without gradient) for the batch's conditions next to
    those conditions."""
    cond = batch["cond"]
    with torch.no_grad():
        _, fake = net.generate(noise_for(net, cond), cond)
    fake = torch.cat([fake, cond], dim=1)
    real = torch.cat([batch["real"], batch["real_cond"]], dim=1)
    return real, fake


class TrainingBySampling:
    """Critic and generator batches of ``batch_size`` drawn by training-by-sampling from the
    encoded rows ``data`` with ``sampler`` (and its generator).

    ``real_rows_for_generator``: generator batches also carry the real rows drawn for their
    conditions (CTAB-GAN's information loss compares features of both).
    """

    def __init__(
        self,
        data: Tensor,
        sampler: ConditionalSampler,
        batch_size: int,
        *,
        real_rows_for_generator: bool = False,
    ) -> None:
        self.data, self.sampler, self.batch_size = data, sampler, batch_size
        self.real_rows_for_generator = real_rows_for_generator

    def critic_batch(self) -> Batch:
        """``cond`` for the generated rows; ``real`` rows with their conditions ``real_cond``
        (the same conditions, shuffled, so the critic cannot pair rows by position)."""
        c = self.sampler.sample_train(self.batch_size)
        perm = torch.randperm(len(c.rows), generator=self.sampler.generator)
        return {"cond": c.cond, "real": self.data[c.rows[perm]], "real_cond": c.cond[perm]}

    def generator_batch(self) -> Batch:
        """``cond`` with its column ``span`` and ``category`` (and ``real`` rows, see above)."""
        c = self.sampler.sample_train(self.batch_size)
        batch = {"cond": c.cond, "span": c.span, "category": c.category}
        if self.real_rows_for_generator:
            batch["real"] = self.data[c.rows]
        return batch


class GANTurns:
    """One epoch of turns: ``rounds`` × (``critic_steps`` critic turns, one generator turn).

    ``critic_batch()`` and ``generator_batch()`` draw each turn's batch when it is reached.
    Re-iterable, with a length, for :func:`edu_gen.core.train.fit`; the random generators the
    draws use go to ``fit`` as ``rng=`` so that a checkpoint resumes them exactly.
    """

    def __init__(
        self,
        critic_batch: Callable[[], Batch],
        generator_batch: Callable[[], Batch],
        rounds: int,
        critic_steps: int,
    ) -> None:
        self.critic_batch, self.generator_batch = critic_batch, generator_batch
        self.rounds, self.critic_steps = rounds, critic_steps

    def __len__(self) -> int:
        return self.rounds * (self.critic_steps + 1)

    def __iter__(self) -> Iterator[Turn]:
        for _ in range(self.rounds):
            for _ in range(self.critic_steps):
                yield Turn("critic", self.critic_batch())
            yield Turn("generator", self.generator_batch())


def _isnan(value: object) -> bool:
    return isinstance(value, float) and np.isnan(value)


def fixed_condition(
    sampler: ConditionalSampler, transformer, condition: Mapping[str, object], batch: int
) -> Condition:
    """``batch`` copies of the condition ``{column: value}`` (one discrete column)."""
    if not isinstance(condition, Mapping) or len(condition) != 1:
        raise ValueError(f"condition: expected {{column: value}} for one column, got {condition!r}")
    ((name, value),) = condition.items()
    columns = [s.column for s in sampler.spans]
    if name not in columns:
        raise ValueError(f"condition: {name!r} is not a discrete column; choose from {columns}")
    cats = transformer.categories(name)
    matches = [i for i, c in enumerate(cats) if c == value or (_isnan(c) and _isnan(value))]
    if not matches:
        raise ValueError(f"condition: {value!r} is not a category of {name!r}: {cats}")
    return sampler.condition_on(columns.index(name), matches[0], batch)


def draw_rows(
    net: CTGANNet,
    sampler: ConditionalSampler,
    transformer,
    n: int,
    generator: torch.Generator,
    *,
    condition: Mapping[str, object] | None,
    frequency: str,
) -> Tensor:
    """``n`` generated encoded rows (exact one-hots), all draws from ``generator``: the
    conditions (``frequency`` law, or the fixed ``condition``), then :math:`z`, then the
    Gumbel noise."""
    if condition is not None:
        c = fixed_condition(sampler, transformer, condition, n)
    else:
        c = sampler.sample_generation(n, frequency=frequency, generator=generator)
    z = torch.randn(n, net.embedding_dim, generator=generator)
    gumbel = net.activation.gumbel_noise(n, generator)
    device = next(net.parameters()).device
    _, rows = net.generate(z.to(device), c.cond.to(device), gumbel.to(device), hard=True)
    return rows


class ConditionalGANSynthesizer(Synthesizer):
    """A synthesizer built on a conditional GAN (CTGAN, CTAB-GAN).

    ``batch_size``, ``epochs``, ``max_modes``, ``seed`` and ``device`` as for every
    :class:`~edu_gen.tabular.synthesizers.base.Synthesizer`; the other keyword arguments
    (``embedding_dim``, ``generator_dims``, ``discriminator_dims``, ``pac``,
    ``discriminator_steps``, ``log_frequency``, ``lr``, ``betas``, ``weight_decay``,
    ``gp_weight``, ``tau``) are :class:`~edu_gen.tabular.synthesizers.networks.GANSettings`,
    kept in ``settings``. ``prepare`` must set ``sampler`` besides ``transformer`` and ``net``.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        batch_size: int = 500,
        epochs: int = 300,
        max_modes: int = 10,
        seed: int = 0,
        device: str | torch.device | None = None,
        **settings: object,
    ) -> None:
        super().__init__(
            schema,
            batch_size=batch_size,
            epochs=epochs,
            max_modes=max_modes,
            seed=seed,
            device=device,
        )
        self.settings = GANSettings(**settings)
        self.settings.check_batch_size(self.batch_size)
        self.sampler: ConditionalSampler | None = None

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
        :meth:`~edu_gen.tabular.encoding.ConditionalSampler.sample_generation`) or ``"log"``
        (the ``ctgan`` package, inflates rare categories).
        """
        choice("frequency", frequency, FREQUENCIES)
        return self.generate(
            n,
            seed,
            lambda b, g: draw_rows(
                self.net, self.sampler, self.transformer, b, g,
                condition=condition, frequency=frequency,
            ),
        )  # fmt: skip
