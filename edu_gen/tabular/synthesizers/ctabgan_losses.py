r"""CTAB-GAN's losses (Zhao, Kunar, Birke & Chen 2021) on the conditional GAN's networks.

* **information loss** (:func:`information_loss`) - the generator matches the first two
  moments of the discriminator's penultimate features :math:`f(\cdot)`
  (:func:`discriminator_features`) on real and generated rows:

  .. math:: L_{\text{info}} = \lVert \mathbb E f(r) - \mathbb E f(\hat r)\rVert_2
            + \lVert \mathrm{sd} f(r) - \mathrm{sd} f(\hat r)\rVert_2

  (batch mean and population standard deviation per feature);
* **auxiliary classifier** :math:`C` (:class:`AuxiliaryClassifier`) - an MLP trained on real
  rows (:func:`classifier_loss`) to predict a target column from all the other columns; its
  cross-entropy on generated rows,
  :math:`L_{\text{class}} = \mathbb E\,\mathrm{CE}(C(\hat r_{-t}), \arg\max \hat r_t)`, is added
  to the generator loss ("semantic consistency");
* the two players' losses (:func:`ctabgan_objective`):
  :math:`L_G = L_{\text{adv}} + L_{\text{cond}} + w_{\text{info}} L_{\text{info}}
  + w_{\text{class}} L_{\text{class}}`, with :math:`L_{\text{adv}}` the non-saturating GAN loss
  (``"vanilla"``) or the Wasserstein loss (``"wgan-gp"``, the critic then adds the gradient
  penalty), and :math:`L_{\text{cond}}` CTGAN's conditional cross-entropy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import choice, positive_int
from edu_gen.core.nn import mlp
from edu_gen.core.train.players import LossFn
from edu_gen.models.gan import (
    critic_loss_wasserstein,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_wasserstein,
    gradient_penalty,
)
from edu_gen.tabular.encoding import Span
from edu_gen.tabular.synthesizers.conditional import (
    conditional_cross_entropy,
    critic_rows,
    noise_for,
)
from edu_gen.tabular.synthesizers.networks import CTGANNet
from edu_gen.tabular.synthesizers.spans import frozen

Tensor = torch.Tensor

__all__ = [
    "LOSSES",
    "AuxiliaryClassifier",
    "classifier_loss",
    "ctabgan_objective",
    "discriminator_features",
    "information_loss",
]

LOSSES = ("vanilla", "wgan-gp")


def information_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    r""":math:`\lVert\bar f_r - \bar f_g\rVert_2 + \lVert s_r - s_g\rVert_2` for feature batches
    ``[B, H]`` (means and population standard deviations over the batch, per feature)."""
    if real_features.dim() != 2 or real_features.shape[1:] != fake_features.shape[1:]:
        raise ValueError(
            "real_features, fake_features: expected [B, H] batches with the same H, got "
            f"{tuple(real_features.shape)} and {tuple(fake_features.shape)}"
        )
    mean = real_features.mean(0) - fake_features.mean(0)
    sd = real_features.std(0, correction=0) - fake_features.std(0, correction=0)
    return mean.norm() + sd.norm()


def discriminator_features(discriminator: nn.Module, rows: Tensor) -> tuple[Tensor, Tensor]:
    """``(features, scores)``: the input of the discriminator's last linear layer (its
    penultimate features, one row per pack) and its scores, from one forward pass."""
    linears = [m for m in discriminator.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("discriminator: expected a module ending in an nn.Linear score layer")
    seen: list[Tensor] = []
    handle = linears[-1].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        scores = discriminator(rows)
    finally:
        handle.remove()
    return seen[-1], scores


class AuxiliaryClassifier(nn.Module):
    """MLP :math:`C(r_{-t})` predicting the class of the target span ``label`` from every
    other column of an encoded row (the target column's spans ``drop`` are left out).
    LeakyReLU hidden layers, no BatchNorm (so it can be trained with DP-SGD). For a numeric
    target the classes are its modes (point masses included); the published code regresses
    the value instead."""

    def __init__(self, data_dim: int, drop: Sequence[Span], label: Span, dims: Sequence[int]):
        super().__init__()
        dropped = {c for s in drop for c in range(s.start, s.end)}
        keep = [c for c in range(positive_int("data_dim", data_dim)) if c not in dropped]
        self.register_buffer("keep", torch.as_tensor(keep, dtype=torch.long), persistent=False)
        self.label = label
        sizes = [len(keep), *(positive_int("classifier_dims", d) for d in dims), label.width]
        self.mlp = mlp(sizes, "leaky_relu", slope=0.2)

    def forward(self, rows: Tensor) -> Tensor:
        """Class logits ``[B, label.width]``."""
        return self.mlp(rows[:, self.keep])

    def labels(self, rows: Tensor) -> Tensor:
        """The class of every row: argmax of its target span."""
        return rows[:, self.label.start : self.label.end].argmax(1)


def classifier_loss(clf: AuxiliaryClassifier, rows: Tensor) -> dict[str, Tensor]:
    """The classifier's training loss on real rows: the cross-entropy of its logits against
    each row's own class; logs the ``accuracy``."""
    logits = clf(rows)
    labels = clf.labels(rows)
    acc = (logits.argmax(1) == labels).float().mean()
    return {"loss": F.cross_entropy(logits, labels), "accuracy": acc.detach()}


def ctabgan_objective(
    loss: str = "vanilla",
    *,
    gp_weight: float = 10.0,
    info_weight: float = 1.0,
    classifier_weight: float = 1.0,
) -> dict[str, LossFn]:
    r"""The loss functions ``{"critic": ..., "generator": ...}`` of CTAB-GAN's two players.

    Critic (batch ``cond``, ``real``, ``real_cond``): :func:`discriminator_loss` for
    ``"vanilla"``, :math:`\mathbb E[D(\hat r)] - \mathbb E[D(r)] + \lambda\,\mathrm{GP}` for
    ``"wgan-gp"``. Generator (batch ``cond``, ``span``, ``category`` and, for the information
    loss, ``real``): :math:`L_G` of the module docstring with the critic and the classifier
    frozen; logs the parts ``adversarial``, ``cond_ce``, ``info`` and ``classifier`` (0 when
    a part is off).
    """
    choice("loss", loss, LOSSES)

    def critic(net: CTGANNet, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        real, fake = critic_rows(net, batch)
        d_real, d_fake = net.discriminator(real), net.discriminator(fake)
        if loss == "vanilla":
            return {"loss": discriminator_loss(d_real, d_fake)}
        penalty = gradient_penalty(net.discriminator, real, fake, weight=gp_weight, pac=net.pac)
        return {"loss": critic_loss_wasserstein(d_real, d_fake) + penalty}

    def generator(net: CTGANNet, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        cond = batch["cond"]
        logits, fake = net.generate(noise_for(net, cond), cond)
        with frozen(net.discriminator):
            fake_features, d_fake = discriminator_features(
                net.discriminator, torch.cat([fake, cond], 1)
            )
            info = torch.zeros((), device=cond.device)
            if info_weight > 0 and "real" in batch:
                with torch.no_grad():
                    real_features, _ = discriminator_features(
                        net.discriminator, torch.cat([batch["real"], cond], 1)
                    )
                info = information_loss(real_features, fake_features)
        if loss == "vanilla":
            adversarial = generator_loss_nonsaturating(d_fake)
        else:
            adversarial = generator_loss_wasserstein(d_fake)
        cond_ce = conditional_cross_entropy(
            logits, net.cond_spans, batch["span"], batch["category"]
        )
        classifier = torch.zeros((), device=cond.device)
        if net.classifier is not None:
            classifier = F.cross_entropy(net.classifier(fake), net.classifier.labels(fake.detach()))
        total = adversarial + cond_ce + info_weight * info + classifier_weight * classifier
        return {
            "loss": total, "adversarial": adversarial.detach(), "cond_ce": cond_ce.detach(),
            "info": info.detach(), "classifier": classifier.detach(),
        }  # fmt: skip

    return {"critic": critic, "generator": generator}
