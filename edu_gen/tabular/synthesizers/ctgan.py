r"""CTGAN: the conditional tabular GAN of Xu et al. (2019), "Modeling Tabular Data using
Conditional GAN" (NeurIPS).

The pieces:

* **data** - :class:`~edu_gen.tabular.encoding.DataTransformer` (mode-specific normalisation,
  one-hot categoricals) and :class:`~edu_gen.tabular.encoding.ConditionalSampler` (conditional
  vector, training-by-sampling with log-frequency, real frequencies at generation);
* **networks** (:mod:`~edu_gen.tabular.synthesizers.networks`) - a residual generator
  :math:`G(z, \text{cond})` with tanh / Gumbel-softmax outputs (:math:`\tau = 0.2`), and a
  PacGAN critic :math:`D` on packs of ``pac = 10`` rows;
* **objective** (:func:`ctgan_objective`) - WGAN-GP (Gulrajani et al. 2017,
  :func:`edu_gen.models.gan.gradient_penalty`, one interpolation weight and one gradient norm
  per pack):

  .. math:: L_D = \mathbb E[D(\hat r, c)] - \mathbb E[D(r, c)] + \lambda\,\mathrm{GP},\qquad
            L_G = -\mathbb E[D(\hat r, c)] + \mathbb E\big[\mathrm{CE}(\hat\ell_{j^*}, c^*)\big],

  where the second generator term is the **conditional cross-entropy**: the generator's logits
  :math:`\hat\ell_{j^*}` of the conditioned column must put the conditioned category
  :math:`c^*` first (otherwise the generator could ignore the condition);
* **optimisers** - one Adam per player (lr 2e-4, betas (0.5, 0.9), weight decay 1e-6), one
  critic turn per generator turn, batch 500.

Training runs through :func:`edu_gen.core.train.fit` with the players ``"critic"`` and
``"generator"``; every item of an epoch is a :class:`~edu_gen.core.train.Turn` naming the
player (:class:`~edu_gen.tabular.synthesizers.conditional.GANTurns`). One epoch is
``N // batch_size`` critic + generator rounds, as in the reference code, and checkpoints
resume bit-for-bit on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from edu_gen.core.train import Player
from edu_gen.core.train.players import LossFn
from edu_gen.models.gan import gradient_penalty
from edu_gen.tabular.encoding import ConditionalSampler, DataTransformer
from edu_gen.tabular.synthesizers.base import Phase
from edu_gen.tabular.synthesizers.conditional import (
    ConditionalGANSynthesizer,
    GANTurns,
    TrainingBySampling,
    conditional_cross_entropy,
    critic_rows,
    noise_for,
)
from edu_gen.tabular.synthesizers.legacy import LegacyLayout
from edu_gen.tabular.synthesizers.networks import CTGANNet
from edu_gen.tabular.synthesizers.spans import frozen

Tensor = torch.Tensor

__all__ = ["CTGAN", "ctgan_objective"]

LEGACY = LegacyLayout(
    optimizer_order=("generator", "critic"),
    metrics={"critic": ("critic_gap", "penalty"), "generator": ("cond_ce",)},
)


def ctgan_objective(gp_weight: float = 10.0) -> dict[str, LossFn]:
    r"""The loss functions ``{"critic": ..., "generator": ...}`` of the two players.

    Critic, on a batch with ``cond``, ``real`` and ``real_cond``:
    :math:`L_D = \mathbb E[D(\hat r)] - \mathbb E[D(r)] + \lambda\,\mathrm{GP}` with generated
    rows :math:`\hat r` (no gradient to :math:`G`); logs ``critic_gap``
    (:math:`\mathbb E[D(r)] - \mathbb E[D(\hat r)]`, the Wasserstein estimate) and ``penalty``.
    Generator, on a batch with ``cond``, ``span`` and ``category``:
    :math:`L_G = -\mathbb E[D(\hat r)] + \mathrm{CE}` with the critic frozen; logs ``cond_ce``.
    """
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, (int, float)) or gp_weight < 0:
        raise ValueError(f"gp_weight: expected a non-negative number, got {gp_weight!r}")

    def critic_loss(net: CTGANNet, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        real, fake = critic_rows(net, batch)
        gap = net.discriminator(real).mean() - net.discriminator(fake).mean()
        penalty = gradient_penalty(net.discriminator, real, fake, weight=gp_weight, pac=net.pac)
        return {"loss": -gap + penalty, "critic_gap": gap.detach(), "penalty": penalty.detach()}

    def generator_loss(net: CTGANNet, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        cond = batch["cond"]
        logits, fake = net.generate(noise_for(net, cond), cond)
        with frozen(net.discriminator):
            score = net.discriminator(torch.cat([fake, cond], dim=1)).mean()
        ce = conditional_cross_entropy(logits, net.cond_spans, batch["span"], batch["category"])
        return {"loss": -score + ce, "cond_ce": ce.detach()}

    return {"critic": critic_loss, "generator": generator_loss}


class CTGAN(ConditionalGANSynthesizer):
    """Conditional tabular GAN (Xu et al. 2019) for tables described by ``schema``.

    ``CTGAN(schema, ...).fit(frame)`` then ``.sample(n)`` → a DataFrame with the schema's
    columns and the fitted dtypes. Arguments: see
    :class:`~edu_gen.tabular.synthesizers.conditional.ConditionalGANSynthesizer` (the
    defaults are the paper's). After :meth:`fit`: ``transformer``, ``sampler``, ``net``,
    ``history`` (one record per player update).
    """

    label = "CTGAN"

    def prepare(self, frame: pd.DataFrame) -> Tensor:
        self.transformer = DataTransformer(self.schema, max_modes=self.max_modes, seed=self.seed)
        encoded = self.transformer.fit(frame).transform(frame)
        spans = self.transformer.discrete_spans
        self.sampler = ConditionalSampler(
            encoded, spans, log_frequency=self.settings.log_frequency, seed=self.seed
        )
        info, cond_dim = self.transformer.output_info, self.sampler.cond_dim
        self.net = self.build(lambda: self.settings.network(info, spans, cond_dim))
        return torch.from_numpy(encoded)

    def phases(self, data: Tensor, epochs: int) -> list[Phase]:
        losses = ctgan_objective(self.settings.gp_weight)
        players = {
            "critic": Player(losses["critic"], self.settings.adam(self.net.discriminator)),
            "generator": Player(losses["generator"], self.settings.adam(self.net.generator)),
        }
        batches = TrainingBySampling(data, self.sampler, self.batch_size)
        rounds = max(len(data) // self.batch_size, 1)
        turns = GANTurns(
            batches.critic_batch, batches.generator_batch, rounds, self.settings.discriminator_steps
        )
        rng = (self.sampler.generator,)
        return [Phase("gan", self.label, self.net, players, turns, epochs, rng=rng, legacy=LEGACY)]
