r"""CTAB-GAN+: Zhao, Kunar, Birke, Chen & Chen (2022), "CTAB-GAN+: Enhancing Tabular Data
Synthesis" (arXiv:2204.00401): :class:`~edu_gen.tabular.synthesizers.ctabgan.CTABGAN` with

* the Wasserstein loss with gradient penalty (Gulrajani et al. 2017) instead of the vanilla
  GAN loss;
* the *general transform* (:func:`~edu_gen.tabular.encoding.general_encode`) for continuous
  columns with a single mode, named in ``general_columns``;
* optional **differential privacy** (``epsilon=...``):
  :class:`~edu_gen.tabular.synthesizers.private_training.PrivateTraining`, the training
  regime in which the critic and the classifier are players whose steps are DP-SGD (Abadi et
  al. 2016; :class:`~edu_gen.tabular.privacy.DPSGDPlayer`) - Poisson-sampled real rows, one
  clipped gradient per real row, Gaussian noise - and a Rényi-DP accountant reports
  :math:`(\varepsilon, \delta)` for the run (:attr:`CTABGANPlus.privacy`).

**What touches real data, and how each part is covered** (DP mode, :data:`COVERAGE`):

* the critic - DP-SGD. The per-row loss :math:`D(\hat r_i) - D(r_i) + \lambda\,\mathrm{GP}_i`
  (:func:`~edu_gen.tabular.synthesizers.private_training.critic_loss_per_row`) holds the
  gradient penalty *inside* (its interpolate mixes real row :math:`i`), so it is clipped and
  noised with the row. PacGAN packs would mix rows, so ``pac = 1``; the critic has no
  BatchNorm and runs without dropout. Real rows are Poisson-sampled uniformly (the
  per-category training-by-sampling would select rows by their values), and each real row's
  condition is one of its own columns, drawn uniformly;
* the generator - touches real data only through the critic (post-processing), *provided*
  nothing else does: so the **information loss is off** in DP mode (it needs the critic's
  features of real rows, a second, unnoised look at them), and generator batches carry no
  real rows. Consequence: the generator loses that moment-matching signal;
* the auxiliary classifier - trained on real rows, so it is trained with DP-SGD too, at the
  same sampling rate and noise multiplier; its steps are added to the accountant (RDP
  composes by addition), and the noise multiplier is chosen for the total number of steps;
* **not covered**: the encoder's Gaussian-mixture fit, the min-max ranges of the general
  transform and the category/mode frequencies of the conditional sampler (training and
  generation) are computed from the real rows without noise - as in the published code. A
  complete guarantee would release these marginals with their own DP mechanism (e.g. noisy
  histograms) and pay for them in the budget. The training log (losses) is a diagnostic and
  not private either; the released artefact is the generator.

The published DP code clips one gradient per 500-row batch instead of one per row, and lets
the gradient penalty, the information loss and the classifier see real rows without noise;
edu_gen's accounting covers exactly the parts listed above.
"""

from __future__ import annotations

import math

from edu_gen.core.checks import positive_float
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.privacy import check_delta
from edu_gen.tabular.synthesizers.ctabgan import CTABGAN
from edu_gen.tabular.synthesizers.private_training import PrivacyReport, PrivateTraining

__all__ = ["COVERAGE", "CTABGANPlus", "check_privacy"]

COVERAGE: dict[str, str] = {
    "critic (incl. gradient penalty)": "DP-SGD, per-row clipping + Gaussian noise",
    "auxiliary classifier": "DP-SGD, same q and sigma, composed in the accountant",
    "generator": "post-processing of the private critic and classifier",
    "information loss": "switched off (it would read real-row features)",
    "mixture fit, min-max ranges, sampler frequencies": "NOT covered (as in the published code)",
    "training log": "NOT covered (diagnostic only, not released)",
}
"""Every part of training that reads real rows and its status under the guarantee."""


def check_privacy(epsilon: float | None, delta: float | None) -> tuple[float | None, float | None]:
    """Validate ``(epsilon, delta)``: ``epsilon`` None or ``inf`` (not private) or > 0;
    ``delta`` None (default min(1e-5, 1/(10n))) or in the open interval (0, 1)."""
    if epsilon is not None:
        ok = isinstance(epsilon, int | float) and not isinstance(epsilon, bool)
        if not ok or math.isnan(epsilon) or epsilon <= 0:
            raise ValueError(f"epsilon: expected a number > 0 (or None/inf), got {epsilon!r}")
        epsilon = None if epsilon == math.inf else float(epsilon)
    if delta is not None:
        delta = check_delta(delta)
    return epsilon, delta


class CTABGANPlus(CTABGAN):
    """CTAB-GAN+ (see the module docstring): :class:`CTABGAN` with ``loss="wgan-gp"``,
    ``general_columns`` and, with ``epsilon``, the :class:`PrivateTraining` regime
    (:mod:`~edu_gen.tabular.synthesizers.private_training`). Only the
    defaults and the DP arguments differ; the model is CTAB-GAN's.

    Arguments beyond :class:`CTABGAN`'s:
        epsilon: target :math:`\\varepsilon` of the whole run (``None`` or ``inf``: not
            private). The noise multiplier comes from
            :func:`~edu_gen.tabular.privacy.noise_multiplier_for` for all DP steps.
        delta: :math:`\\delta` (default ``min(1e-5, 1/(10 n))`` for ``n`` training rows).
        clip_norm: the per-row clipping norm :math:`C`.
        pac: default 10, or 1 in DP mode (a pack > 1 is rejected there).
        info_weight: default 1, or 0 in DP mode (> 0 is rejected there).

    After a DP :meth:`fit`, :attr:`privacy` holds the :class:`PrivacyReport`.
    """

    label = "CTAB-GAN+"

    def __init__(
        self,
        schema: Schema,
        *,
        epsilon: float | None = None,
        delta: float | None = None,
        clip_norm: float = 1.0,
        loss: str = "wgan-gp",
        pac: int | None = None,
        info_weight: float | None = None,
        **kwargs: object,
    ) -> None:
        epsilon, delta = check_privacy(epsilon, delta)
        private = epsilon is not None
        if private:
            if loss != "wgan-gp":
                raise ValueError(f"loss: DP training uses 'wgan-gp', got {loss!r}")
            if pac not in (None, 1):
                raise ValueError(
                    f"pac: DP-SGD clips one gradient per real row and a pack mixes rows; "
                    f"use pac=1 (or leave it out) with epsilon, got {pac!r}"
                )
            if info_weight not in (None, 0, 0.0):
                raise ValueError(
                    "info_weight: the information loss reads real-row features outside "
                    "DP-SGD, so it is off in DP mode; leave it out or pass 0"
                )
        regime = PrivateTraining(epsilon, delta, clip_norm) if private else None
        pac = (1 if private else 10) if pac is None else pac
        info_weight = (0.0 if private else 1.0) if info_weight is None else info_weight
        super().__init__(
            schema, loss=loss, pac=pac, info_weight=info_weight, regime=regime, **kwargs
        )
        self.epsilon, self.delta = epsilon, delta
        self.clip_norm = positive_float("clip_norm", clip_norm)

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    @property
    def privacy(self) -> PrivacyReport | None:
        """The :class:`PrivacyReport` of the last DP :meth:`fit` (``None`` otherwise)."""
        if not self.private or self.history is None:
            return None
        critic_steps = int((self.history["player"] == "critic").sum())
        classifier = self.classifier_history
        return self.regime.report(critic_steps, 0 if classifier is None else len(classifier))
