r"""Generative adversarial networks through the Jensen-Shannon lens (chapter 07).

Goodfellow et al. (2014) pit a generator :math:`G` against a discriminator :math:`D` in

.. math::
    \min_G \max_D V(G, D), \qquad
    V(G, D) = \mathbb E_{x\sim p_{\text{data}}}[\log D(x)]
            + \mathbb E_{z\sim p_z}[\log(1 - D(G(z)))].

For a fixed generator with density :math:`p_g` the best discriminator is
:math:`D^*(x) = p_{\text{data}}(x) / (p_{\text{data}}(x) + p_g(x))`, and then
:math:`V(G, D^*) = 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_g) - \log 4`, smallest
(:math:`-\log 4`) exactly when :math:`p_g = p_{\text{data}}`.

The module offers

* losses on discriminator *logits* :math:`a` (:math:`D = \sigma(a)`, so
  :math:`\log D = \log\sigma(a)` and :math:`\log(1 - D) = \log\sigma(-a)` never take the log
  of 0): :func:`minimax_value`, :func:`discriminator_loss`, :func:`generator_loss_saturating`,
  :func:`generator_loss_nonsaturating`, and the Wasserstein pair
  :func:`critic_loss_wasserstein`, :func:`generator_loss_wasserstein`;
* densities on a grid: :func:`optimal_discriminator`, :func:`value_on_grid`, :func:`jsd`;
* :func:`gradient_penalty` (WGAN-GP, Gulrajani et al. 2017) and :func:`pack` (PacGAN,
  Lin et al. 2018) — the tabular chapter imports both from here;
* the 2-D ring of Gaussians and mode counting: :func:`ring_centres`, :func:`sample_ring`,
  :func:`mode_counts`, :func:`count_modes`;
* small models and a training objective for :func:`edu_gen.core.train.fit`: :func:`mlp`,
  :class:`GAN` and :func:`gan_objective` (alternating discriminator/generator updates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_int
from edu_gen.models.likelihood import kl_divergence

Tensor = torch.Tensor
LOG_4 = math.log(4.0)
"""The value of the game at its optimum, :math:`V(G^*, D^*) = -\\log 4`."""


# --------------------------------------------------------------------------- checks
def _tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got {got}")
    return value


def _pair(real: Tensor, fake: Tensor, names: tuple[str, str]) -> None:
    _tensor(names[0], real)
    _tensor(names[1], fake)
    if real.dim() == 0 or fake.dim() == 0:
        raise ValueError(f"{names[0]}, {names[1]}: expected batched tensors, got a scalar")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"{names[0]}, {names[1]}: expected the same shape after the batch dimension, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )


# --------------------------------------------------------------------------- losses
def minimax_value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Monte Carlo estimate of the minimax value V(G, D).

    :math:`V = \mathbb E_{\text{data}}[\log D(x)] + \mathbb E_z[\log(1-D(G(z)))]`.

    ``real_logits``/``fake_logits`` are the discriminator's logits on a batch of real and of
    generated samples (any batch sizes); each expectation is a batch mean.
    """
    _pair(real_logits, fake_logits, ("real_logits", "fake_logits"))
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator *maximises* V: it minimises ``-minimax_value`` (binary cross-entropy)."""
    return -minimax_value(real_logits, fake_logits)


def generator_loss_saturating(fake_logits: Tensor) -> Tensor:
    r"""The minimax generator loss :math:`\mathbb E_z[\log(1 - D(G(z)))]` (to be minimised).

    Its gradient vanishes when :math:`D(G(z))\to 0`, i.e. exactly when the generator is bad.
    """
    _tensor("fake_logits", fake_logits)
    return F.logsigmoid(-fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    r"""Non-saturating generator loss :math:`-\mathbb E_z[\log D(G(z))]` (Goodfellow 2014)."""
    _tensor("fake_logits", fake_logits)
    return F.softplus(-fake_logits).mean()


def critic_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    r"""WGAN critic loss :math:`\mathbb E[f(G(z))] - \mathbb E[f(x)]` (Arjovsky et al. 2017)."""
    _pair(real_scores, fake_scores, ("real_scores", "fake_scores"))
    return fake_scores.mean() - real_scores.mean()


def generator_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    r"""WGAN generator loss :math:`-\mathbb E[f(G(z))]`."""
    _tensor("fake_scores", fake_scores)
    return -fake_scores.mean()


# --------------------------------------------------------------------------- densities on a grid
def _densities(p_data: Tensor, p_g: Tensor) -> None:
    _pair(p_data, p_g, ("p_data", "p_g"))
    if p_data.shape != p_g.shape:
        raise ValueError(
            f"p_data, p_g: expected the same grid, got {tuple(p_data.shape)} and {tuple(p_g.shape)}"
        )
    for name, p in (("p_data", p_data), ("p_g", p_g)):
        if not bool(torch.all(torch.isfinite(p))) or bool(torch.any(p < 0)):
            raise ValueError(f"{name}: expected finite, non-negative densities (not log-densities)")


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    r""":math:`D^*(x) = p_{\text{data}}(x) / (p_{\text{data}}(x) + p_g(x))`, pointwise.

    Where both densities are 0 every value of D is optimal; we return 1/2 there (never NaN).
    """
    _densities(p_data, p_g)
    total = p_data + p_g
    return torch.where(total > 0, p_data / torch.where(total > 0, total, 1.0), 0.5)


def _xlogy(x: Tensor, y: Tensor) -> Tensor:
    return torch.where(x > 0, x * torch.log(torch.where(x > 0, y, torch.ones_like(y))), 0.0)


def value_on_grid(p_data: Tensor, p_g: Tensor, d: Tensor, dx: float) -> Tensor:
    r""":math:`V(G,D) = \int p_{\text{data}}\log D + p_g\log(1-D)\,dx` as a Riemann sum.

    ``d`` holds the discriminator's probabilities :math:`D(x)` on the same grid; terms with a
    zero density contribute 0. Reduces over the last dimension. :math:`D` and :math:`1 - D`
    are clamped below at the dtype's smallest normal number (log ≈ −708 in float64), so a
    :math:`D^*` that rounds to exactly 1 where :math:`p_g` is negligible (but not 0) adds a
    negligible term instead of :math:`-\infty`.
    """
    _densities(p_data, p_g)
    _tensor("d", d)
    if d.shape[-1] != p_data.shape[-1]:
        raise ValueError(f"d: expected the grid size {p_data.shape[-1]}, got {tuple(d.shape)}")
    if bool(torch.any((d < 0) | (d > 1))):
        raise ValueError("d: expected probabilities in [0, 1] (apply a sigmoid to logits)")
    tiny = torch.finfo(d.dtype).tiny
    return (_xlogy(p_data, d.clamp_min(tiny)) + _xlogy(p_g, (1 - d).clamp_min(tiny))).sum(-1) * dx


def jsd(p: Tensor, q: Tensor, dx: float = 1.0) -> Tensor:
    r"""Jensen-Shannon divergence in nats on a shared grid, :math:`\in[0, \log 2]`.

    .. math::
        \mathrm{JSD}(p\,\|\,q) = \tfrac12\mathrm{KL}(p\,\|\,m) + \tfrac12\mathrm{KL}(q\,\|\,m),
        \qquad m = \tfrac12(p + q).

    ``p`` and ``q`` are densities sampled on a uniform grid with spacing ``dx`` (or probability
    vectors with ``dx=1``); reduces over the last dimension.
    """
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


# --------------------------------------------------------------------------- WGAN-GP and PacGAN
def pack(x: Tensor, pac: int) -> Tensor:
    r"""PacGAN packing: ``[n * pac, ...]`` → ``[n, pac * prod(...)]`` (Lin et al. 2018).

    Consecutive groups of ``pac`` rows (samples, tabular rows or images) become one input of
    the discriminator, which then sees ``pac`` samples at once and can notice a lack of
    variety (mode collapse). Pack real and fake batches separately: a pack is all real or
    all fake. ``pac=1`` only flattens the feature dimensions.

    Raises:
        ValueError: ``pac`` is not a positive int, ``x`` has no feature dimension, or the batch
            size is not a multiple of ``pac``.
    """
    _tensor("x", x)
    pac = positive_int("pac", pac)
    if x.dim() < 2:
        raise ValueError(f"x: expected [batch, features...], got shape {tuple(x.shape)}")
    if x.shape[0] % pac:
        raise ValueError(
            f"x: batch size {x.shape[0]} is not a multiple of pac={pac}; use a batch size "
            f"divisible by pac (e.g. drop_last=True with batch_size = k * pac)"
        )
    return x.reshape(x.shape[0] // pac, -1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    pac: int = 1,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""WGAN-GP gradient penalty (Gulrajani et al. 2017).

    :math:`\lambda\,\mathbb E_{\hat x}[(\lVert\nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2]` where

    :math:`\hat x = \epsilon x + (1 - \epsilon)\tilde x` with :math:`\epsilon\sim U[0, 1]`, one
    :math:`\epsilon` per sample, between a real :math:`x` and a generated :math:`\tilde x`.
    Works for any ``[batch, ...]`` inputs: tabular rows ``[n, d]``,
    images ``[n, c, h, w]``; the gradient norm is taken over all non-batch dimensions.

    Args:
        critic: maps a ``[batch, ...]`` tensor to scores ``[batch]`` or ``[batch, 1]`` (with
            ``pac > 1``: to ``[batch / pac, ...]`` scores, the critic packing internally).
        real, fake: batches of the same shape; ``fake`` may carry a graph (it is detached).
        weight: :math:`\lambda` (10 in the paper).
        pac: PacGAN pack size. Groups of ``pac`` consecutive rows share one :math:`\epsilon`
            and one gradient norm, as when the critic applies :func:`pack` to its input.
        eps: the mixing weights, shape ``[batch / pac]`` in [0, 1]; drawn when ``None``.
        generator: random-number generator for :math:`\epsilon` (when ``eps`` is ``None``).

    Returns:
        A scalar tensor with a graph to the critic's parameters (``create_graph=True``), to
        be added to the critic loss.
    """
    _tensor("real", real)
    _tensor("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(
            f"real, fake: expected the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if real.dim() < 2:
        raise ValueError(f"real: expected [batch, features...], got shape {tuple(real.shape)}")
    pac = positive_int("pac", pac)
    if real.shape[0] % pac:
        raise ValueError(f"real: batch size {real.shape[0]} is not a multiple of pac={pac}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise ValueError(f"weight: expected a non-negative number, got {weight!r}")
    n_groups = real.shape[0] // pac
    if eps is None:
        eps = torch.rand(n_groups, generator=generator, dtype=real.dtype)
    elif _tensor("eps", eps).shape != (n_groups,) or bool(torch.any((eps < 0) | (eps > 1))):
        raise ValueError(f"eps: expected shape ({n_groups},) with values in [0, 1]")
    eps = eps.to(real.device, real.dtype).repeat_interleave(pac, 0)
    eps = eps.reshape(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(n_groups, -1).norm(dim=1)
    return weight * ((norms - 1) ** 2).mean()


# --------------------------------------------------------------------------- 8-Gaussian ring
def ring_centres(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """``n_modes`` points evenly spaced on a circle of ``radius``, shape ``[n_modes, 2]``."""
    positive_int("n_modes", n_modes)
    angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float32) / n_modes
    return radius * torch.stack([angle.cos(), angle.sin()], 1)


def sample_ring(
    n: int,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``n`` samples of an equal-weight mixture of Gaussians on a ring, shape ``[n, 2]``."""
    positive_int("n", n)
    centres = ring_centres(n_modes, radius)
    idx = torch.randint(n_modes, (n,), generator=generator)
    return centres[idx] + std * torch.randn(n, 2, generator=generator)


def mode_counts(samples: Tensor, centres: Tensor, max_dist: float) -> Tensor:
    """How many samples lie within ``max_dist`` of each centre (nearest centre wins).

    Samples farther than ``max_dist`` from every centre are counted nowhere (low quality).
    """
    _tensor("samples", samples)
    _tensor("centres", centres)
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"samples, centres: expected [n, d] and [k, d], got {tuple(samples.shape)} "
            f"and {tuple(centres.shape)}"
        )
    dist = torch.cdist(samples.float(), centres.float())
    nearest = dist.min(1)
    close = nearest.values <= max_dist
    return torch.bincount(nearest.indices[close], minlength=centres.shape[0])


def count_modes(
    samples: Tensor, centres: Tensor, max_dist: float, min_fraction: float = 0.02
) -> int:
    """Number of modes that receive at least ``min_fraction`` of the samples (within ``max_dist``).

    With 8 equal modes a perfect generator puts 1/8 = 12.5 % on each; the default 2 % counts a
    mode as covered even when it is clearly under-weighted, but not for a few stray points.
    """
    counts = mode_counts(samples, centres, max_dist)
    return int((counts >= min_fraction * samples.shape[0]).sum())


# --------------------------------------------------------------------------- models and training
_ACTIVATIONS: dict[str, Callable[[float], nn.Module]] = {  # name -> module given the slope
    "leaky_relu": nn.LeakyReLU,
    "relu": lambda _slope: nn.ReLU(),
    "tanh": lambda _slope: nn.Tanh(),
}


class StackedLinear(nn.Module):
    r"""``n_models`` independent linear layers evaluated in one batched matrix product.

    :math:`y_s = x_s W_s + b_s` for every model :math:`s`: the input is
    ``[n_models, batch, in_dim]``, the output ``[n_models, batch, out_dim]``. Each slice is
    initialised like :class:`torch.nn.Linear`. Training several small networks this way (for
    several seeds at once) costs about one network's worth of Python overhead per step.
    """

    def __init__(self, n_models: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.n_models = positive_int("n_models", n_models)
        bound = 1 / math.sqrt(positive_int("in_dim", in_dim))
        shape = (n_models, in_dim, positive_int("out_dim", out_dim))
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[0] != self.n_models or x.shape[2] != self.weight.shape[1]:
            raise ValueError(
                f"x: expected shape [{self.n_models}, batch, {self.weight.shape[1]}], got "
                f"{tuple(x.shape)}"
            )
        return torch.baddbmm(self.bias, x, self.weight)


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (128, 128),
    slope: float = 0.2,
    *,
    activation: str = "leaky_relu",
    n_models: int = 1,
) -> nn.Sequential:
    """A multilayer perceptron ``in_dim → hidden... → out_dim`` (linear output).

    ``activation``: ``"leaky_relu"`` (negative ``slope``), ``"relu"`` or ``"tanh"``. With
    ``n_models > 1`` every layer is a :class:`StackedLinear`: the network maps
    ``[n_models, batch, in_dim]`` to ``[n_models, batch, out_dim]``, one independent MLP per model.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected one of {list(_ACTIVATIONS)}, got {activation!r}")
    positive_int("n_models", n_models)

    def linear(a: int, b: int) -> nn.Module:
        return nn.Linear(a, b) if n_models == 1 else StackedLinear(n_models, a, b)

    layers: list[nn.Module] = []
    width = positive_int("in_dim", in_dim)
    for h in hidden:
        layers += [linear(width, positive_int("hidden", h)), _ACTIVATIONS[activation](slope)]
        width = h
    layers.append(linear(width, positive_int("out_dim", out_dim)))
    return nn.Sequential(*layers)


class GAN(nn.Module):
    """A generator ``z → x`` and a discriminator (or critic) ``x → logit`` in one module.

    With ``pac > 1`` the discriminator sees :func:`pack`-ed groups of ``pac`` samples, so
    its input width is ``pac * data_dim``. The buffer ``step`` counts training steps (saved in
    checkpoints) so that :func:`gan_objective` can alternate the two players.

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
        kw = {"activation": activation, "n_models": n_models}
        self.generator = nn.Sequential(
            mlp(latent_dim, data_dim, hidden, **kw), out or nn.Identity()
        )
        self.discriminator = mlp(pac * data_dim, 1, hidden, **kw)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

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
        _tensor("z", z)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z: expected shape [batch, {self.latent_dim}], got {tuple(z.shape)}")
        return self._per_model(self.generator, z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` generated samples ``G(z)`` per model, ``z ~ N(0, I)``: ``[n_models * n, ...]``."""
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


GAN_LOSSES = ("saturating", "nonsaturating", "wgan-gp")


def gan_objective(
    loss: str = "nonsaturating", n_critic: int = 1, gp_weight: float = 10.0
) -> Callable[[GAN, object], dict[str, Tensor]]:
    """A ``loss_fn(model, batch)`` for :func:`edu_gen.core.train.fit` that alternates the players.

    Of every ``n_critic + 1`` steps, the first ``n_critic`` update the discriminator (the
    generated batch is detached, so the generator gets no gradient) and the last updates the
    generator (the discriminator is evaluated with detached parameters, so it gets no
    gradient; Adam skips parameters without a gradient). ``batch`` is ``x`` or ``(x, ...)``.

    ``loss``: ``"saturating"`` (the minimax generator loss), ``"nonsaturating"`` or
    ``"wgan-gp"`` (Wasserstein critic plus :func:`gradient_penalty`).
    """
    if loss not in GAN_LOSSES:
        raise ValueError(f"loss: expected one of {list(GAN_LOSSES)}, got {loss!r}")
    positive_int("n_critic", n_critic)

    def loss_fn(model: GAN, batch: object) -> dict[str, Tensor]:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        unit = model.pac * model.n_models  # whole packs for every model
        n = x.shape[0] - x.shape[0] % unit
        if n == 0:
            raise ValueError(
                f"batch: expected at least pac * n_models = {unit} samples, got {x.shape[0]}"
            )
        x = x[:n].reshape(n, -1)
        generator_turn = int(model.step) % (n_critic + 1) == n_critic
        model.step += 1
        with torch.set_grad_enabled(generator_turn):  # G is updated on its turns only
            fake = model.sample(n // model.n_models)
        if generator_turn:
            scores = model.critic(fake, frozen=True)
            if loss == "wgan-gp":
                value = generator_loss_wasserstein(scores)
            elif loss == "saturating":
                value = generator_loss_saturating(scores)
            else:
                value = generator_loss_nonsaturating(scores)
        else:
            real_scores, fake_scores = model.critic(x), model.critic(fake)
            if loss == "wgan-gp":
                value = critic_loss_wasserstein(real_scores, fake_scores) + gradient_penalty(
                    model.critic, x, fake, weight=gp_weight, pac=model.pac
                )
            else:
                value = discriminator_loss(real_scores, fake_scores)
        return {"loss": value, "generator_step": torch.tensor(float(generator_turn))}

    return loss_fn


__all__: Sequence[str] = (
    "GAN",
    "GAN_LOSSES",
    "LOG_4",
    "StackedLinear",
    "count_modes",
    "critic_loss_wasserstein",
    "discriminator_loss",
    "gan_objective",
    "generator_loss_nonsaturating",
    "generator_loss_saturating",
    "generator_loss_wasserstein",
    "gradient_penalty",
    "jsd",
    "minimax_value",
    "mlp",
    "mode_counts",
    "optimal_discriminator",
    "pack",
    "ring_centres",
    "sample_ring",
    "value_on_grid",
)
