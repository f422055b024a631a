r"""CTAB-GAN+'s differentially private training regime: :class:`PrivateTraining`.

A part that :class:`~edu_gen.tabular.synthesizers.ctabgan.CTABGAN` is composed with (its
``regime``), with the same methods as
:class:`~edu_gen.tabular.synthesizers.ctabgan.StandardTraining`: it decides how the critic and
the auxiliary classifier learn from real rows. Here both are players whose update is a DP-SGD
step (:class:`~edu_gen.tabular.privacy.DPSGDPlayer`) on Poisson batches, the critic with the
per-row loss :func:`critic_loss_per_row` (gradient penalty inside), and one Rényi-DP
accountant counts all their steps; :meth:`PrivateTraining.report` turns the steps taken into
the run's :class:`PrivacyReport`. :mod:`~edu_gen.tabular.synthesizers.ctabgan_plus` explains
what the guarantee covers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import positive_float
from edu_gen.tabular.privacy import (
    DPSGD,
    DPSGDPlayer,
    PoissonBatches,
    PrivateStep,
    RdpAccountant,
    gradient_penalty_per_row,
    noise_multiplier_for,
)
from edu_gen.tabular.synthesizers.networks import CTGANNet

if TYPE_CHECKING:
    from edu_gen.tabular.synthesizers.ctabgan import CTABGAN

Tensor = torch.Tensor

__all__ = ["PrivacyReport", "PrivateTraining", "critic_loss_per_row"]


def default_delta(n: int) -> float:
    """δ = min(1e-5, 1/(10 n)) for ``n`` training rows: well below 1/n, because δ = 1/n
    already allows a mechanism that publishes one whole row (Abadi et al. 2016 use 1e-5)."""
    return min(1e-5, 1.0 / (10 * n))


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


class PrivateTraining:
    """The DP-SGD training regime of CTAB-GAN+ (see the module docstring): the same methods
    as :class:`~edu_gen.tabular.synthesizers.ctabgan.StandardTraining`.

    :meth:`setup` chooses the noise multiplier :math:`\\sigma` for every DP step of the run
    (``epochs × rounds × discriminator_steps`` critic steps plus ``classifier_epochs ×
    rounds`` classifier steps at :math:`q` = batch size / rows), turns the critic's dropout
    off and makes ``critic_dp`` (the sampler's generator: batches and noise) and
    ``classifier_dp`` (seed + 1), which share one accountant.
    """

    def __init__(self, epsilon: float, delta: float | None = None, clip_norm: float = 1.0):
        self.epsilon = positive_float("epsilon", epsilon)
        self.delta = delta
        self.clip_norm = positive_float("clip_norm", clip_norm)
        self.critic_dp: DPSGD | None = None
        self.classifier_dp: DPSGD | None = None
        self.delta_used: float | None = None

    def setup(self, model: CTABGAN, data: Tensor, rounds: int, epochs: int) -> None:
        n = len(data)
        if model.batch_size > n:
            raise ValueError(f"batch_size: expected at most the {n} training rows in DP mode")
        q = model.batch_size / n
        self.delta_used = default_delta(n) if self.delta is None else self.delta
        d_steps = epochs * rounds * model.settings.discriminator_steps
        c_steps = model.classifier_epochs * rounds if model.net.classifier is not None else 0
        sigma = noise_multiplier_for(self.epsilon, self.delta_used, q, d_steps + c_steps)
        for module in model.net.discriminator.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0  # per-example gradients under vmap: no dropout in the critic
        accountant = RdpAccountant()
        self.critic_dp = DPSGD(
            n=n, sample_rate=q, noise_multiplier=sigma, clip_norm=self.clip_norm,
            generator=model.sampler.generator, accountant=accountant,
        )  # fmt: skip
        self.classifier_dp = DPSGD(
            n=n, sample_rate=q, noise_multiplier=sigma, clip_norm=self.clip_norm,
            generator=rng.generator(model.seed + 1), accountant=accountant,
        )  # fmt: skip

    def gan_batches(self, model: CTABGAN, data: Tensor):
        """Critic batches: Poisson-sampled real rows, each conditioned on one of its own
        columns; generator batches: training conditions only (no real rows)."""
        sampler, dp = model.sampler, self.critic_dp
        codes = [data[:, s.start : s.end].argmax(1) for s in sampler.spans]
        device = data.device
        empty = torch.zeros(len(data), 0, dtype=torch.long, device=device)
        codes = torch.stack(codes, 1) if codes else empty
        offsets = torch.as_tensor(sampler.offsets[:-1], dtype=torch.long, device=device)

        def critic_batch() -> dict[str, Tensor]:
            (index,) = dp.sample(torch.arange(len(data), device=device))
            cond = torch.zeros(len(index), sampler.cond_dim, device=device)
            if sampler.n_spans and len(index):
                span = rng.draw(
                    torch.randint,
                    sampler.n_spans,
                    (len(index),),
                    generator=sampler.generator,
                    device=device,
                )
                rows = torch.arange(len(index), device=device)
                cond[rows, offsets[span] + codes[index, span]] = 1.0
            return {"cond": cond, "real": data[index], "real_cond": cond}

        def generator_batch() -> dict[str, Tensor]:
            c = sampler.sample_train(model.batch_size)
            return {"cond": c.cond, "span": c.span, "category": c.category}

        return critic_batch, generator_batch

    def critic_player(self, model: CTABGAN, loss_fn: Callable, optimizer) -> DPSGDPlayer:
        """DP-SGD on :func:`critic_loss_per_row` (``loss_fn``, the batch loss, is not used);
        logs :math:`\\bar D(\\hat r) - \\bar D(r)` (the batch critic loss without its penalty)."""
        per_row, dp = critic_loss_per_row(model.settings.gp_weight), self.critic_dp

        def step(net: CTGANNet, batch: dict[str, Tensor]) -> PrivateStep:
            real, cond = batch["real"], batch["real_cond"]
            b = len(real)  # Poisson: may be 0 or 1, but the generator's BatchNorm needs 2 rows
            z = torch.randn(max(b, 2), net.embedding_dim, device=cond.device)
            pad = torch.zeros(max(2 - b, 0), cond.shape[1], device=cond.device)
            with torch.no_grad():
                _, fake = net.generate(z, torch.cat([cond, pad]))
            real_in, fake_in = torch.cat([real, cond], 1), torch.cat([fake[:b], cond], 1)
            eps = rng.draw(torch.rand, b, generator=dp.generator, device=real.device)
            with torch.no_grad():
                d = net.discriminator
                gap = (d(fake_in).sum() - d(real_in).sum()) / max(b, 1)
            return PrivateStep(net.discriminator, per_row, (real_in, fake_in, eps), {"loss": gap})

        return DPSGDPlayer(dp, step, optimizer)

    def classifier_rows(self, model: CTABGAN, data: Tensor, rounds: int) -> PoissonBatches:
        """``rounds`` Poisson batches of the rows (classifier_dp's generator)."""
        return PoissonBatches(data, rounds, self.classifier_dp)

    def classifier_player(self, classifier: nn.Module, optimizer) -> DPSGDPlayer:
        """DP-SGD on the per-row cross-entropy; logs the batch cross-entropy and accuracy."""

        def per_row(call: Callable[[Tensor], Tensor], rows: Tensor) -> Tensor:
            return F.cross_entropy(call(rows), classifier.labels(rows), reduction="none")

        def step(clf: nn.Module, rows: Tensor) -> PrivateStep:
            with torch.no_grad():
                logits, labels = clf(rows), clf.labels(rows)
                ce = F.cross_entropy(logits, labels) if len(rows) else torch.zeros(())
                acc = (logits.argmax(1) == labels).float().mean() if len(rows) else ce
            return PrivateStep(clf, per_row, (rows,), {"loss": ce, "accuracy": acc})

        return DPSGDPlayer(self.classifier_dp, step, optimizer)

    def report(self, critic_steps: int, classifier_steps: int) -> PrivacyReport:
        """The guarantee of a run that took these DP steps (counted in the histories, so a
        resumed run is accounted in full)."""
        dp = self.critic_dp
        accountant = RdpAccountant()
        accountant.step(dp.sample_rate, dp.noise_multiplier, critic_steps)
        if classifier_steps:
            accountant.step(dp.sample_rate, dp.noise_multiplier, classifier_steps)
        return PrivacyReport(
            epsilon=accountant.get_epsilon(self.delta_used),
            delta=self.delta_used,
            target_epsilon=self.epsilon,
            noise_multiplier=dp.noise_multiplier,
            sample_rate=dp.sample_rate,
            clip_norm=self.clip_norm,
            discriminator_steps=critic_steps,
            classifier_steps=classifier_steps,
        )
