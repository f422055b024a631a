r"""CTAB-GAN: Zhao, Kunar, Birke & Chen (2021), "CTAB-GAN: Effective Table Data Synthesizing"
(ACML). CTAB-GAN+ (the WGAN-GP, general-transform and differentially private variant) is
:mod:`edu_gen.tabular.synthesizers.ctabgan_plus`.

CTAB-GAN keeps CTGAN's conditional generator and adds three things, built here from the
conditional-GAN parts (:mod:`~edu_gen.tabular.synthesizers.networks`,
:mod:`~edu_gen.tabular.synthesizers.conditional`):

* **mixed-type encoder** - a column with point masses (``fair.affairs = 0``) is encoded by
  :class:`~edu_gen.tabular.encoding.DataTransformer`'s ``mixed`` kind: each point mass is a
  mode of its own (:math:`\alpha = 0`), the other values go through the Gaussian mixture.
  The conditional vector covers the categorical columns *and* the mode indicators of the
  numeric columns, drawn with the log-frequency rule during training (long tails get seen)
  and with the real frequencies at generation time;
* **information loss** and **auxiliary classifier** loss
  (:mod:`~edu_gen.tabular.synthesizers.ctabgan_losses`, which also gives the full generator
  loss :math:`L_G`).

**Networks.** Zhao et al. reshape each encoded row into a square image and use
convolutional G and D. edu_gen uses CTGAN's MLPs instead (residual generator, packed MLP
critic): the same losses on a smaller, faster model, and the column order of a table has no
spatial meaning a convolution could exploit.

**Training** is two phases of :func:`edu_gen.core.train.fit`: the classifier (player
``"classifier"``, on real rows only, then frozen), then the GAN (players ``"critic"`` and
``"generator"``). The classifier never sees generated rows, so training it before the GAN
rather than alongside changes the schedule, not the method. *How* the critic and the
classifier see real rows is a composed part, the training ``regime``:
:class:`StandardTraining` here (training-by-sampling, ordinary gradient steps), DP-SGD in
CTAB-GAN+ (:class:`~edu_gen.tabular.synthesizers.ctabgan_plus.PrivateTraining`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import choice, positive_int
from edu_gen.core.train import Player, TurnCycle
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.encoding import ConditionalSampler, Span, TableEncoder
from edu_gen.tabular.synthesizers.base import Phase
from edu_gen.tabular.synthesizers.conditional import (
    ConditionalGANSynthesizer,
    GANTurns,
    TrainingBySampling,
)
from edu_gen.tabular.synthesizers.ctabgan_losses import (
    LOSSES,
    AuxiliaryClassifier,
    classifier_loss,
    ctabgan_objective,
)
from edu_gen.tabular.synthesizers.legacy import LegacyLayout
from edu_gen.tabular.synthesizers.networks import CTGANNet

Tensor = torch.Tensor
Batch = dict[str, Tensor]

__all__ = ["CTABGAN", "StandardTraining", "TrainingRegime", "UniformRows"]

LEGACY = LegacyLayout(
    optimizer_order=("generator", "critic"),
    metrics={"critic": (), "generator": ("adversarial", "cond_ce", "info", "classifier")},
)


class TrainingRegime(Protocol):
    """How CTAB-GAN's critic and classifier learn from real rows (a part of the model)."""

    def setup(self, model: CTABGAN, data: Tensor, rounds: int, epochs: int) -> None:
        """Called once per ``fit`` before any training (``rounds`` critic rounds per epoch)."""

    def gan_batches(
        self, model: CTABGAN, data: Tensor
    ) -> tuple[Callable[[], Batch], Callable[[], Batch]]:
        """``(critic_batch, generator_batch)`` drawing functions for the GAN's turns."""

    def critic_player(
        self, model: CTABGAN, loss_fn: Callable, optimizer: torch.optim.Optimizer
    ) -> Player:
        """The critic's player (``loss_fn`` is the ordinary critic loss)."""

    def classifier_rows(self, model: CTABGAN, data: Tensor, rounds: int) -> Iterable[Tensor]:
        """One classifier epoch of real-row batches."""

    def classifier_player(self, classifier: nn.Module, optimizer: torch.optim.Optimizer) -> Player:
        """The classifier's player."""


class UniformRows:
    """``steps`` batches of ``batch_size`` rows of ``data`` drawn uniformly with replacement
    from ``self.generator`` (seeded with ``seed``)."""

    def __init__(self, data: Tensor, batch_size: int, steps: int, seed: int) -> None:
        self.data, self.batch_size, self.steps = data, batch_size, steps
        self.generator = rng.generator(seed)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Tensor]:
        for _ in range(self.steps):
            pick = torch.randint(len(self.data), (self.batch_size,), generator=self.generator)
            yield self.data[pick]


class StandardTraining:
    """The non-private regime: training-by-sampling for the critic (the generator batches
    carry real rows when the information loss is on), uniform batches for the classifier
    (seed + 1), ordinary gradient steps."""

    def setup(self, model: CTABGAN, data: Tensor, rounds: int, epochs: int) -> None:
        """Nothing to set up."""

    def gan_batches(self, model: CTABGAN, data: Tensor):
        batches = TrainingBySampling(
            data, model.sampler, model.batch_size, real_rows_for_generator=model.info_weight > 0
        )
        return batches.critic_batch, batches.generator_batch

    def critic_player(self, model: CTABGAN, loss_fn: Callable, optimizer) -> Player:
        return Player(loss_fn, optimizer)

    def classifier_rows(self, model: CTABGAN, data: Tensor, rounds: int) -> UniformRows:
        return UniformRows(data, model.batch_size, rounds, model.seed + 1)

    def classifier_player(self, classifier: nn.Module, optimizer) -> Player:
        return Player(classifier_loss, optimizer)


def _weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    if value == math.inf:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


class CTABGAN(ConditionalGANSynthesizer):
    """CTAB-GAN (Zhao et al. 2021) on the conditional-GAN parts; see the module docstring.

    Arguments beyond :class:`~edu_gen.tabular.synthesizers.ctgan.CTGAN`'s (see
    :class:`~edu_gen.tabular.synthesizers.conditional.ConditionalGANSynthesizer`):
        loss: ``"vanilla"`` (non-saturating GAN loss, CTAB-GAN) or ``"wgan-gp"``.
        info_weight: :math:`w_{\\text{info}}` (0 turns the information loss off).
        classifier_weight: :math:`w_{\\text{class}}` (0: no classifier is trained).
        classifier_target: the column the classifier predicts (default ``schema.target``).
        classifier_dims, classifier_epochs: the classifier's hidden widths and training
            epochs (Adam, lr 1e-3, the GAN's batch size).
        condition_on_modes: the conditional vector covers the numeric columns' mode
            indicators too (CTAB-GAN); ``False`` conditions on the categorical columns only.
        general_columns: continuous columns encoded by the general transform (CTAB-GAN+).
        regime: how the critic and classifier learn from real rows (default
            :class:`StandardTraining`; CTAB-GAN+ passes its DP-SGD regime).

    Raises:
        ValueError: unknown ``loss``, a negative weight, a classifier without a target, a
            target that is not a column or that uses the general transform.
    """

    label = "CTAB-GAN"

    def __init__(
        self,
        schema: Schema,
        *,
        loss: str = "vanilla",
        info_weight: float = 1.0,
        classifier_weight: float = 1.0,
        classifier_target: str | None = None,
        classifier_dims: Sequence[int] = (128, 128),
        classifier_epochs: int = 20,
        condition_on_modes: bool = True,
        general_columns: Sequence[str] = (),
        regime: TrainingRegime | None = None,
        **common: object,
    ) -> None:
        super().__init__(schema, **common)
        self.loss = choice("loss", loss, LOSSES)
        self.info_weight = _weight("info_weight", info_weight)
        self.classifier_weight = _weight("classifier_weight", classifier_weight)
        target = schema.target if classifier_target is None else classifier_target
        if self.classifier_weight > 0:
            if target is None:
                raise ValueError(
                    "classifier_target: the auxiliary classifier needs a target column; pass "
                    "classifier_target=... or a schema with a target (or classifier_weight=0)"
                )
            if target not in schema:
                raise ValueError(
                    f"classifier_target: {target!r} is not a column; columns are {schema.names}"
                )
            if target in tuple(general_columns):
                raise ValueError(
                    f"classifier_target: {target!r} uses the general transform, which has no "
                    "classes; keep it mode-encoded"
                )
        self.classifier_target = target if self.classifier_weight > 0 else None
        self.classifier_dims = tuple(positive_int("classifier_dims", d) for d in classifier_dims)
        self.classifier_epochs = positive_int("classifier_epochs", classifier_epochs)
        self.condition_on_modes = bool(condition_on_modes)
        self.general_columns = tuple(general_columns)
        TableEncoder(schema, self.general_columns)  # checks the names and kinds now
        self.regime = StandardTraining() if regime is None else regime

    @property
    def classifier_history(self):
        """The classifier phase's history (``None`` without a classifier or before fit)."""
        return self.histories.get("classifier")

    def cond_spans(self) -> list[Span]:
        """The spans the conditional vector covers: categories (and modes, by default)."""
        spans = self.transformer.discrete_spans
        if self.condition_on_modes:
            spans = sorted(spans + self.transformer.mode_spans, key=lambda s: s.start)
        return spans

    def prepare(self, frame) -> Tensor:
        self.transformer = TableEncoder(
            self.schema, self.general_columns, max_modes=self.max_modes, seed=self.seed
        )
        encoded = self.transformer.fit(frame).transform(frame)
        spans = self.cond_spans()
        self.sampler = ConditionalSampler(
            encoded, spans, log_frequency=self.settings.log_frequency, seed=self.seed
        )
        self.net = self.build(lambda: self._network(spans))
        return torch.from_numpy(encoded)

    def _network(self, cond_spans: list[Span]) -> CTGANNet:
        classifier = None
        if self.classifier_target is not None:
            own = self.transformer.spans_of(self.classifier_target)
            label = [s for s in own if s.activation == "softmax"][-1]
            classifier = AuxiliaryClassifier(
                self.transformer.output_dim, own, label, self.classifier_dims
            )
        info = self.transformer.output_info
        return self.settings.network(info, cond_spans, self.sampler.cond_dim, classifier)

    def phases(self, data: Tensor, epochs: int) -> list[Phase]:
        rounds = max(len(data) // self.batch_size, 1)
        self.regime.setup(self, data, rounds, epochs)
        plan = []
        clf = self.net.classifier
        if clf is not None:
            adam = torch.optim.Adam(clf.parameters(), lr=1e-3)
            rows = self.regime.classifier_rows(self, data, rounds)
            players = {"classifier": self.regime.classifier_player(clf, adam)}
            turns = TurnCycle(rows, ["classifier"])
            desc = f"{self.label} classifier"
            plan.append(
                Phase("classifier", desc, clf, players, turns, self.classifier_epochs, freeze=True)
            )
        losses = ctabgan_objective(
            self.loss,
            gp_weight=self.settings.gp_weight,
            info_weight=self.info_weight,
            classifier_weight=self.classifier_weight,
        )
        players = {
            "critic": self.regime.critic_player(
                self, losses["critic"], self.settings.adam(self.net.discriminator)
            ),
            "generator": Player(losses["generator"], self.settings.adam(self.net.generator)),
        }
        critic_batch, generator_batch = self.regime.gan_batches(self, data)
        turns = GANTurns(critic_batch, generator_batch, rounds, self.settings.discriminator_steps)
        gan = Phase(
            "gan", self.label, self.net, players, turns, epochs,
            rng=(self.sampler.generator,), legacy=LEGACY,
        )  # fmt: skip
        return [*plan, gan]
