"""Tabular synthesizers: ``fit(frame)``, ``sample(n, seed=...)`` returning a frame,
``losses()`` per epoch.

* :class:`CTGAN` (:mod:`~edu_gen.tabular.synthesizers.ctgan`) - objective
  :func:`ctgan_objective` (WGAN-GP + conditional cross-entropy), players critic / generator;
* :class:`TVAE` (:mod:`~edu_gen.tabular.synthesizers.tvae`) - loss :func:`tvae_loss` (minus
  the weighted ELBO), one player;
* :class:`CTABGAN` (:mod:`~edu_gen.tabular.synthesizers.ctabgan`) - objective
  :func:`ctabgan_objective` (+ information and classifier losses), a classifier phase, then
  critic / generator;
* :class:`CTABGANPlus` (:mod:`~edu_gen.tabular.synthesizers.ctabgan_plus`) - the same with
  WGAN-GP, general transform and, with ``epsilon``, DP-SGD critic and classifier players
  (:mod:`~edu_gen.tabular.synthesizers.private_training`).

Shared parts: :mod:`~edu_gen.tabular.synthesizers.base` (fit / sample / losses /
checkpoints, written once), :mod:`~edu_gen.tabular.synthesizers.networks` and
:mod:`~edu_gen.tabular.synthesizers.conditional` (the conditional GAN),
:mod:`~edu_gen.tabular.synthesizers.spans` (output activations).

Every public name is importable from here (``from edu_gen.tabular.synthesizers import CTGAN``).
"""

from edu_gen.tabular.synthesizers.base import Phase, Synthesizer
from edu_gen.tabular.synthesizers.conditional import (
    ConditionalGANSynthesizer,
    GANTurns,
    TrainingBySampling,
    conditional_cross_entropy,
)
from edu_gen.tabular.synthesizers.ctabgan import (
    CTABGAN,
    StandardTraining,
    TrainingRegime,
    UniformRows,
)
from edu_gen.tabular.synthesizers.ctabgan_losses import (
    LOSSES,
    AuxiliaryClassifier,
    classifier_loss,
    ctabgan_objective,
    discriminator_features,
    information_loss,
)
from edu_gen.tabular.synthesizers.ctabgan_plus import COVERAGE, CTABGANPlus, check_privacy
from edu_gen.tabular.synthesizers.ctgan import CTGAN, ctgan_objective
from edu_gen.tabular.synthesizers.networks import (
    CTGANNet,
    Discriminator,
    GANSettings,
    Generator,
    Residual,
)
from edu_gen.tabular.synthesizers.private_training import (
    PrivacyReport,
    PrivateTraining,
    critic_loss_per_row,
    default_delta,
)
from edu_gen.tabular.synthesizers.spans import SoftmaxSpans, SpanActivation, frozen, gumbel_noise
from edu_gen.tabular.synthesizers.tvae import TVAE, ShuffledRows, TVAENet, tvae_elbo, tvae_loss

__all__ = [
    "default_delta",
    "COVERAGE",
    "CTABGAN",
    "CTGAN",
    "LOSSES",
    "TVAE",
    "AuxiliaryClassifier",
    "CTABGANPlus",
    "CTGANNet",
    "ConditionalGANSynthesizer",
    "Discriminator",
    "GANSettings",
    "GANTurns",
    "Generator",
    "Phase",
    "PrivacyReport",
    "PrivateTraining",
    "Residual",
    "ShuffledRows",
    "SoftmaxSpans",
    "SpanActivation",
    "StandardTraining",
    "Synthesizer",
    "TVAENet",
    "TrainingBySampling",
    "TrainingRegime",
    "UniformRows",
    "check_privacy",
    "classifier_loss",
    "conditional_cross_entropy",
    "critic_loss_per_row",
    "ctabgan_objective",
    "ctgan_objective",
    "discriminator_features",
    "frozen",
    "gumbel_noise",
    "information_loss",
    "tvae_elbo",
    "tvae_loss",
]
