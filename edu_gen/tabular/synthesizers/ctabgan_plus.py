r"""CTAB-GAN+: Zhao, Kunar, Birke, Chen & Chen (2022), "CTAB-GAN+: Enhancing Tabular Data
Synthesis" (arXiv:2204.00401), on top of :class:`CTABGAN`.

Changes with respect to CTAB-GAN:

* the Wasserstein loss with gradient penalty (Gulrajani et al. 2017) instead of the vanilla
  GAN loss;
* the *general transform* (:func:`general_encode`) for continuous
  columns with a single mode, named in ``general_columns``;
* optional **differential privacy** (``epsilon=...``): the critic is trained with DP-SGD
  (Abadi et al. 2016) - Poisson-sampled real rows, one clipped gradient per real row, Gaussian
  noise - through :class:`edu_gen.tabular.privacy.DPSGD`, and a Rényi-DP accountant reports
  :math:`(\varepsilon, \delta)` for the run (:attr:`CTABGANPlus.privacy`).

**What touches real data, and how each part is covered** (DP mode):

* the critic - DP-SGD. The per-row loss :math:`D(\hat r_i) - D(r_i) + \lambda\,\mathrm{GP}_i`
  holds the gradient penalty *inside* (its interpolate mixes real row :math:`i`), so it is
  clipped and noised with the row. PacGAN packs would mix rows, so ``pac = 1``; the critic
  has no BatchNorm and runs without dropout. Real rows are Poisson-sampled uniformly (the
  per-category training-by-sampling would select rows by their values), and each real row's
  condition is one of its own columns, drawn uniformly;
* the generator - touches real data only through the critic (post-processing), *provided*
  nothing else does: so the **information loss is off** in DP mode (it needs the critic's
  features of real rows, a second, unnoised look at them). Consequence: the generator
  loses that moment-matching signal;
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from edu_gen.core.checks import positive_float
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.privacy import (
    DPSGD,
    DPStepStats,
    RdpAccountant,
    gradient_penalty_per_row,
    noise_multiplier_for,
)
from edu_gen.tabular.synthesizers.ctabgan import (
    CTABGAN,
    AuxiliaryClassifier,
    CTABGANNet,
    _GANBatches,
    _Rows,
)

Tensor = torch.Tensor

__all__ = [
    "COVERAGE",
    "CTABGANPlus",
    "PrivacyReport",
    "check_privacy",
    "critic_loss_per_row",
    "private_gradient_loss",
]

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
    ``delta`` None (default 1/n) or in the open interval (0, 1)."""
    if epsilon is not None:
        ok = isinstance(epsilon, int | float) and not isinstance(epsilon, bool)
        if not ok or math.isnan(epsilon) or epsilon <= 0:
            raise ValueError(f"epsilon: expected a number > 0 (or None/inf), got {epsilon!r}")
        epsilon = None if epsilon == math.inf else float(epsilon)
    if delta is not None:
        ok = isinstance(delta, int | float) and not isinstance(delta, bool)
        if not ok or not 0 < delta < 1:
            raise ValueError(
                f"delta: expected a probability in the open interval (0, 1), got {delta!r}"
            )
        delta = float(delta)
    return epsilon, delta


def critic_loss_per_row(gp_weight: float = 10.0) -> Callable[..., Tensor]:
    r"""The critic's loss of each (real, generated) pair, for DP-SGD:
    :math:`\ell_i = D(\hat r_i) - D(r_i) + \lambda(\lVert\nabla D(\epsilon_i r_i +
    (1-\epsilon_i)\hat r_i)\rVert_2 - 1)^2`, as ``loss(critic, real, fake, eps) -> [B]``
    (:func:`~edu_gen.tabular.privacy.gradient_penalty_per_row`). Its batch mean is the
    WGAN-GP critic loss with ``pac=1``."""
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, int | float) or gp_weight < 0:
        raise ValueError(f"gp_weight: expected a number >= 0, got {gp_weight!r}")

    def loss(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor):
        penalty = gradient_penalty_per_row(critic, real, fake, eps, gp_weight)
        return critic(fake).reshape(-1) - critic(real).reshape(-1) + penalty

    return loss


class _RecordOnly(torch.optim.Optimizer):
    """An optimizer whose ``step`` does nothing: :func:`~edu_gen.tabular.privacy.dp_step` then
    leaves the private gradient in ``p.grad`` for the caller."""

    def __init__(self, params: Sequence[nn.Parameter]) -> None:
        super().__init__(list(params), {})

    def step(self, closure: Callable | None = None) -> None:  # noqa: ARG002
        return None


def private_gradient_loss(
    module: nn.Module,
    per_row_loss: Callable[..., Tensor],
    rows: Sequence[Tensor],
    dp: DPSGD,
    value: Tensor | float = 0.0,
) -> tuple[Tensor, DPStepStats]:
    r"""One DP-SGD gradient of ``module`` as a loss for :func:`edu_gen.core.train.fit`.

    ``dp.step`` (clip every row's gradient, sum, add :math:`\mathcal N(0,\sigma^2C^2)`,
    divide by :math:`qn`, one accountant step) runs with a record-only optimizer; the noisy
    gradient :math:`\tilde g` is taken out of ``p.grad`` and returned as the surrogate
    :math:`\langle\theta, \tilde g\rangle - \langle\theta, \tilde g\rangle_{\text{detached}} +
    \text{value}`, whose gradient is exactly :math:`\tilde g` and whose value is ``value``
    (what gets logged). ``fit`` back-propagates it and its optimizer takes the step.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    stats = dp.step(module, per_row_loss, tuple(rows), _RecordOnly(params))
    surrogate = torch.zeros(())
    for p in params:
        g, p.grad = p.grad, None
        surrogate = surrogate + (p * g).sum()
    return surrogate - surrogate.detach() + value, stats


@dataclass(frozen=True)
class PrivacyReport:
    """The guarantee of a DP run: ``(epsilon, delta)`` from the RDP accountant for
    ``discriminator_steps + classifier_steps`` steps at ``sample_rate`` and
    ``noise_multiplier`` (chosen so that ``epsilon <= target_epsilon``)."""

    epsilon: float
    delta: float
    target_epsilon: float
    noise_multiplier: float
    sample_rate: float
    clip_norm: float
    discriminator_steps: int
    classifier_steps: int


class _DPBatches(_GANBatches):
    """Critic batches: Poisson-sampled real rows, each conditioned on one of its own columns;
    generator batches: conditions only (no real rows: the information loss is off)."""

    def __init__(self, model: CTABGANPlus, data: Tensor, steps: int) -> None:
        super().__init__(model, data, steps)
        sampler = model.sampler
        codes = [data[:, s.start : s.end].argmax(1) for s in sampler.spans]
        self.codes = torch.stack(codes, 1) if codes else torch.zeros(len(data), 0, dtype=torch.long)
        self.offsets = torch.as_tensor(sampler.offsets[:-1], dtype=torch.long)

    def critic_batch(self) -> dict[str, Tensor]:
        (index,) = self.model.dp_discriminator.sample(torch.arange(len(self.data)))
        cond = torch.zeros(len(index), self.model.sampler.cond_dim)
        if self.model.sampler.n_spans and len(index):
            span = torch.randint(
                self.model.sampler.n_spans, (len(index),), generator=self.generator
            )
            cond[torch.arange(len(index)), self.offsets[span] + self.codes[index, span]] = 1.0
        return {"cond": cond, "real": self.data[index], "real_cond": cond}

    def generator_batch(self) -> dict[str, Tensor]:
        batch = super().generator_batch()
        del batch["real"]
        return batch


class _PoissonRows(_Rows):
    """Poisson batches of the encoded rows for the DP classifier."""

    def __init__(self, data: Tensor, steps: int, dp: DPSGD) -> None:
        super().__init__(data, 1, steps, 0)
        self.generator, self.dp = dp.generator, dp

    def __iter__(self):
        for _ in range(self.steps):
            yield self.dp.sample(self.data)[0]


class CTABGANPlus(CTABGAN):
    """CTAB-GAN+ (see the module docstring): :class:`CTABGAN` with
    ``loss="wgan-gp"``, ``general_columns`` and optional DP.

    Arguments beyond :class:`CTABGAN`'s:
        epsilon: target :math:`\\varepsilon` of the whole run (``None`` or ``inf``: not
            private). The noise multiplier comes from
            :func:`~edu_gen.tabular.privacy.noise_multiplier_for` for all DP steps.
        delta: :math:`\\delta` (default ``1/n`` for ``n`` training rows).
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
        **kwargs,
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
        pac = (1 if private else 10) if pac is None else pac
        info_weight = (0.0 if private else 1.0) if info_weight is None else info_weight
        super().__init__(schema, loss=loss, pac=pac, info_weight=info_weight, **kwargs)
        self.epsilon, self.delta = epsilon, delta
        self.clip_norm = positive_float("clip_norm", clip_norm)
        self.privacy: PrivacyReport | None = None
        self.dp_discriminator: DPSGD | None = None
        self.dp_classifier: DPSGD | None = None

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    # -- set-up ----------------------------------------------------------------------------
    def _before_training(self, data: Tensor, steps: int, epochs: int) -> None:
        self.privacy = None
        if not self.private:
            return
        n = len(data)
        if self.batch_size > n:
            raise ValueError(f"batch_size: expected at most the {n} training rows in DP mode")
        q = self.batch_size / n
        delta = 1.0 / n if self.delta is None else self.delta
        d_steps = epochs * steps * self.discriminator_steps
        c_steps = self.classifier_epochs * steps if self.net.classifier is not None else 0
        sigma = noise_multiplier_for(self.epsilon, delta, q, d_steps + c_steps)
        for module in self.net.discriminator.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0  # per-example gradients under vmap: no dropout in the critic
        accountant = RdpAccountant()
        self.dp_discriminator = DPSGD(
            n=n, sample_rate=q, noise_multiplier=sigma, clip_norm=self.clip_norm,
            generator=self.sampler.generator, accountant=accountant,
        )  # fmt: skip
        self.dp_classifier = DPSGD(
            n=n, sample_rate=q, noise_multiplier=sigma, clip_norm=self.clip_norm,
            generator=torch.Generator().manual_seed(self.seed + 1), accountant=accountant,
        )  # fmt: skip
        self._delta_used = delta

    def _batches(self, data: Tensor, steps: int):
        return _DPBatches(self, data, steps) if self.private else super()._batches(data, steps)

    def _classifier_batches(self, data: Tensor, steps: int):
        if not self.private:
            return super()._classifier_batches(data, steps)
        return _PoissonRows(data, steps, self.dp_classifier)

    def _classifier_loss_fn(self):
        if not self.private:
            return super()._classifier_loss_fn()
        import torch.nn.functional as F

        def per_row(call: Callable[[Tensor], Tensor], rows: Tensor) -> Tensor:
            return F.cross_entropy(call(rows), clf.labels(rows), reduction="none")

        clf: AuxiliaryClassifier = self.net.classifier

        def loss_fn(model: AuxiliaryClassifier, rows: Tensor) -> dict[str, Tensor]:
            with torch.no_grad():
                logits, labels = model(rows), model.labels(rows)
                ce = F.cross_entropy(logits, labels) if len(rows) else torch.zeros(())
                acc = (logits.argmax(1) == labels).float().mean() if len(rows) else ce
            loss, _ = private_gradient_loss(model, per_row, (rows,), self.dp_classifier, ce)
            return {"loss": loss, "accuracy": acc}

        return loss_fn

    # -- losses ----------------------------------------------------------------------------
    def _critic_loss(self, net: CTABGANNet, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if not self.private:
            return super()._critic_loss(net, batch)
        real, cond = batch["real"], batch["real_cond"]
        b = len(real)
        z = torch.randn(max(b, 2), net.embedding_dim, device=cond.device)
        pad = torch.zeros(max(2 - b, 0), cond.shape[1], device=cond.device)
        with torch.no_grad():
            _, fake = net.generate(z, torch.cat([cond, pad]))
        real_in, fake_in = torch.cat([real, cond], 1), torch.cat([fake[:b], cond], 1)
        eps = torch.rand(b, generator=self.dp_discriminator.generator)
        with torch.no_grad():
            gap = (net.discriminator(fake_in).sum() - net.discriminator(real_in).sum()) / max(b, 1)
        loss, _ = private_gradient_loss(
            net.discriminator,
            critic_loss_per_row(self.gp_weight),
            (real_in, fake_in, eps),
            self.dp_discriminator,
            gap,
        )
        return {"loss": loss}

    # -- training --------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, **kwargs) -> CTABGANPlus:
        """As :meth:`CTABGAN.fit <edu_gen.tabular.synthesizers.ctabgan.CTABGAN.fit>`; in DP mode the
        :attr:`privacy` report is computed from the steps actually taken (counted in the
        training histories, so a resumed run is accounted in full)."""
        super().fit(frame, **kwargs)
        if self.private:
            d_steps = int((self.history["generator_step"] == 0).sum())
            c_steps = len(self.classifier_history) if self.net.classifier is not None else 0
            dp = self.dp_discriminator
            accountant = RdpAccountant()
            accountant.step(dp.sample_rate, dp.noise_multiplier, d_steps)
            if c_steps:
                accountant.step(dp.sample_rate, dp.noise_multiplier, c_steps)
            self.privacy = PrivacyReport(
                epsilon=accountant.get_epsilon(self._delta_used),
                delta=self._delta_used,
                target_epsilon=self.epsilon,
                noise_multiplier=dp.noise_multiplier,
                sample_rate=dp.sample_rate,
                clip_norm=self.clip_norm,
                discriminator_steps=d_steps,
                classifier_steps=c_steps,
            )
        return self
