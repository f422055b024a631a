"""Differential privacy for training a discriminator (chapter 10b).

* :mod:`~edu_gen.tabular.privacy.rdp` - Rényi DP of the sampled Gaussian mechanism, the
  conversion to :math:`(\\varepsilon, \\delta)`, the accountant and the noise search;
* :mod:`~edu_gen.tabular.privacy.dpsgd` - DP-SGD: Poisson batches, per-example gradients,
  joint clipping, Gaussian noise (:func:`dp_step`, :class:`DPSGD`);
* :mod:`~edu_gen.tabular.privacy.player` - :class:`DPSGDPlayer`, a DP-SGD step as a player of
  :func:`edu_gen.core.train.fit`, and its :class:`PoissonBatches`.

Every public name is importable from here (``from edu_gen.tabular import privacy``).
"""

from edu_gen.tabular.privacy.dpsgd import (
    CHUNK_FLOATS,
    DPSGD,
    DPStepStats,
    LossPerExample,
    clip_and_sum,
    dp_step,
    gradient_penalty_per_row,
    per_example_grads,
    poisson_sample,
)
from edu_gen.tabular.privacy.player import DPSGDPlayer, PoissonBatches, PrivateStep
from edu_gen.tabular.privacy.rdp import (
    CONVERSIONS,
    DEFAULT_ORDERS,
    RdpAccountant,
    check_delta,
    check_rate,
    epsilon_from_rdp,
    noise_multiplier_for,
    rdp_sampled_gaussian,
)

__all__ = [
    "CHUNK_FLOATS",
    "CONVERSIONS",
    "DEFAULT_ORDERS",
    "DPSGD",
    "DPSGDPlayer",
    "DPStepStats",
    "LossPerExample",
    "PoissonBatches",
    "PrivateStep",
    "RdpAccountant",
    "check_delta",
    "check_rate",
    "clip_and_sum",
    "dp_step",
    "epsilon_from_rdp",
    "gradient_penalty_per_row",
    "noise_multiplier_for",
    "per_example_grads",
    "poisson_sample",
    "rdp_sampled_gaussian",
]
