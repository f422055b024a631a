r"""Small GANs and their training with :func:`edu_gen.core.train.fit`.

:class:`GAN` holds a generator :math:`G: z \mapsto x` and a discriminator (critic)
:math:`D: x \mapsto` logit. Training alternates two players, each with its own optimiser:

* ``"critic"`` ascends :math:`V` in :math:`D` (the generated batch is detached, so the
  generator gets no gradient);
* ``"generator"`` descends its loss in :math:`G` (the discriminator is evaluated with
  frozen parameters, so it gets no gradient).

``fit(model, gan_players(model, ...), gan_turns(batches, n_critic))`` runs ``n_critic`` critic
turns, then one generator turn, and so on; each turn takes the next batch of the data (a
generator turn uses only its size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from edu_gen.core.checks import choice, float_tensor, positive_float, positive_int
from edu_gen.core.nn import StackedLinear
from edu_gen.core.nn import mlp as core_mlp
from edu_gen.core.train import Player, TurnCycle
from edu_gen.models.gan.losses import (
    critic_loss_wasserstein,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_saturating,
    generator_loss_wasserstein,
    gradient_penalty,
    pack,
)

Tensor = torch.Tensor

__all__ = [
    "GAN",
    "GAN_LOSSES",
    "StackedLinear",
    "critic_objective",
    "gan_players",
    "gan_turns",
    "generator_objective",
    "mlp",
]

GAN_LOSSES = ("saturating", "nonsaturating", "wgan-gp")
"""``loss`` names: the minimax generator loss, the non-saturating one, Wasserstein + GP."""


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (128, 128),
    slope: float = 0.2,
    *,
    activation: str = "leaky_relu",
    n_models: int = 1,
) -> nn.Sequential:
    """:func:`edu_gen.core.nn.mlp` as ``in_dim → hidden... → out_dim`` (linear output).

    The (in, out, hidden) form chapters 07 and 10a call; ``activation`` defaults to a
    leaky ReLU of negative ``slope``.
    """
    sizes = [in_dim, *hidden, out_dim]
    return core_mlp(sizes, activation, slope=slope, n_models=n_models)


class GAN(nn.Module):
    """A generator ``z → x`` and a discriminator (or critic) ``x → logit`` in one module.

    With ``pac > 1`` the discriminator sees :func:`pack`-ed groups of ``pac`` samples, so
    its input width is ``pac * data_dim``. ``out`` is a module applied to the generator's
    output (e.g. a sigmoid for pixels in [0, 1]).

    ``n_models > 1`` holds that many *independent* GANs (different initial weights, noise and
    data) trained in lockstep with stacked weights (:class:`StackedLinear`), e.g. one per seed.
    Batches are then laid out model by model: rows ``[s * m, (s + 1) * m)`` of a batch of
    ``n_models * m`` rows belong to model ``s``, for real data, samples and critic scores alike.
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        pac: int = 1,
        out: nn.Module | None = None,
        *,
        activation: str = "leaky_relu",
        n_models: int = 1,
    ) -> None:
        super().__init__()
        self.data_dim = positive_int("data_dim", data_dim)
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.pac = positive_int("pac", pac)
        self.n_models = positive_int("n_models", n_models)
        kw: dict[str, Any] = {"activation": activation, "n_models": n_models}
        self.generator = nn.Sequential(
            mlp(latent_dim, data_dim, hidden, **kw), out or nn.Identity()
        )
        self.discriminator = mlp(pac * data_dim, 1, hidden, **kw)

    def _per_model(self, net: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """Apply ``net`` to ``x`` of shape ``[n_models * m, k]`` model by model."""
        if self.n_models == 1:
            return net(x)
        if x.shape[0] % self.n_models:
            raise ValueError(
                f"x: {x.shape[0]} rows cannot be split evenly among n_models={self.n_models}"
            )
        out = net(x.reshape(self.n_models, x.shape[0] // self.n_models, x.shape[1]))
        return out.reshape(x.shape[0], *out.shape[2:])

    def generate(self, z: Tensor) -> Tensor:
        """``G(z)`` for latent codes ``z``: ``[n_models * n, latent_dim]``, model by model."""
        float_tensor("z", z)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z: expected shape [batch, {self.latent_dim}], got {tuple(z.shape)}")
        return self._per_model(self.generator, z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` generated samples ``G(z)`` per model, ``z ~ N(0, I)``: ``[n_models * n, ...]``.

        ``generator`` is the random-number generator for ``z`` (torch's keyword, as in every
        family's ``sample``; ``None``: torch's global one) — not the network ``G``, which is
        :attr:`generator` the module.
        """
        positive_int("n", n)
        device = next(self.parameters()).device
        z = torch.randn(self.n_models * n, self.latent_dim, generator=generator).to(device)
        return self.generate(z)

    def critic(self, x: Tensor, frozen: bool = False) -> Tensor:
        """Discriminator logits (critic scores) of packed ``x``, shape ``[len(x) / pac]``.

        ``frozen=True`` evaluates it without recording its parameters in the autograd graph:
        gradients reach ``x`` (and so the generator) but not the discriminator.
        """
        inputs = pack(x.reshape(x.shape[0], -1), self.pac)
        if not frozen:
            return self._per_model(self.discriminator, inputs).squeeze(-1)
        params = [p for p in self.discriminator.parameters() if p.requires_grad]
        try:  # the graph is recorded now, so switching back afterwards is safe
            for p in params:
                p.requires_grad_(False)
            return self._per_model(self.discriminator, inputs).squeeze(-1)
        finally:
            for p in params:
                p.requires_grad_(True)


def _real_rows(model: GAN, batch: object) -> Tensor:
    """The batch's samples (``x`` or ``(x, ...)``), cut to whole packs for every model."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    unit = model.pac * model.n_models
    n = x.shape[0] - x.shape[0] % unit
    if n == 0:
        raise ValueError(
            f"batch: expected at least pac * n_models = {unit} samples, got {x.shape[0]}"
        )
    return x[:n].reshape(n, -1)


def critic_objective(
    loss: str = "nonsaturating", gp_weight: float = 10.0
) -> Callable[[GAN, object], dict[str, Any]]:
    """The critic's ``loss_fn(model, batch)``: real rows against a detached generated batch.

    ``"wgan-gp"``: :func:`critic_loss_wasserstein` + :func:`gradient_penalty` (weight
    ``gp_weight``); otherwise :func:`discriminator_loss`. Logs ``generator_step = 0``.
    """
    choice("loss", loss, GAN_LOSSES)

    def critic_loss(model: GAN, batch: object) -> dict[str, Any]:
        x = _real_rows(model, batch)
        with torch.no_grad():
            fake = model.sample(x.shape[0] // model.n_models)
        real_scores, fake_scores = model.critic(x), model.critic(fake)
        if loss == "wgan-gp":
            value = critic_loss_wasserstein(real_scores, fake_scores) + gradient_penalty(
                model.critic, x, fake, weight=gp_weight, pac=model.pac
            )
        else:
            value = discriminator_loss(real_scores, fake_scores)
        return {"loss": value, "generator_step": 0.0}

    return critic_loss


def generator_objective(loss: str = "nonsaturating") -> Callable[[GAN, object], dict[str, Any]]:
    """The generator's ``loss_fn(model, batch)``: fool the frozen critic.

    It scores as many generated samples as the batch has (whole-pack) rows; logs
    ``generator_step = 1``.
    """
    choice("loss", loss, GAN_LOSSES)
    losses = {
        "wgan-gp": generator_loss_wasserstein,
        "saturating": generator_loss_saturating,
        "nonsaturating": generator_loss_nonsaturating,
    }

    def generator_loss(model: GAN, batch: object) -> dict[str, Any]:
        n = _real_rows(model, batch).shape[0]
        scores = model.critic(model.sample(n // model.n_models), frozen=True)
        return {"loss": losses[loss](scores), "generator_step": 1.0}

    return generator_loss


def gan_players(
    model: GAN,
    loss: str = "nonsaturating",
    *,
    lr: float = 1e-3,
    critic_lr: float | None = None,
    betas: tuple[float, float] = (0.5, 0.9),
    gp_weight: float = 10.0,
) -> dict[str, Player]:
    """The two players of :func:`fit`: ``"critic"`` and ``"generator"``, one Adam each.

    ``lr`` is the generator's learning rate and, unless ``critic_lr`` is given, the critic's;
    ``betas`` are Adam's for both (``(0.5, 0.9)``, as in WGAN-GP). ``loss`` is one of
    :data:`GAN_LOSSES`; ``gp_weight`` the gradient-penalty weight :math:`\\lambda` of
    ``"wgan-gp"``.
    """
    if not isinstance(model, GAN):
        raise TypeError(f"model: expected a gan.GAN, got {type(model).__name__}")
    lr = positive_float("lr", lr)
    critic_lr = lr if critic_lr is None else positive_float("critic_lr", critic_lr)
    critic_adam = torch.optim.Adam(model.discriminator.parameters(), lr=critic_lr, betas=betas)
    generator_adam = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas)
    return {
        "critic": Player(critic_objective(loss, gp_weight), critic_adam),
        "generator": Player(generator_objective(loss), generator_adam),
    }


def gan_turns(data: Iterable[Any], n_critic: int = 1) -> TurnCycle:
    """``n_critic`` critic turns, then one generator turn, each on the next batch of ``data``.

    A re-iterable :class:`~edu_gen.core.train.TurnCycle` with a length; ``fit(..., steps=k *
    (n_critic + 1))`` makes ``k`` generator steps.
    """
    positive_int("n_critic", n_critic)
    return TurnCycle(data, ["critic"] * n_critic + ["generator"])
