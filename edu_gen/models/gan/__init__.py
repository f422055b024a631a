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

Modules (every name is importable from ``edu_gen.models.gan``):

* :mod:`~edu_gen.models.gan.losses` — losses on discriminator logits (minimax,
  non-saturating, Wasserstein), :func:`gradient_penalty` (WGAN-GP) and :func:`pack` (PacGAN);
* :mod:`~edu_gen.models.gan.divergences` — :func:`optimal_discriminator`,
  :func:`value_on_grid` and :func:`jsd` on densities sampled on a grid;
* :mod:`~edu_gen.models.gan.ring` — the ring of Gaussians and mode counting;
* :mod:`~edu_gen.models.gan.training` — :class:`GAN`, and the two players
  (:func:`gan_players`) and their turns (:func:`gan_turns`) for
  :func:`edu_gen.core.train.fit`.
"""

from edu_gen.models.gan.divergences import jsd, optimal_discriminator, value_on_grid
from edu_gen.models.gan.losses import (
    LOG_4,
    critic_loss_wasserstein,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_saturating,
    generator_loss_wasserstein,
    gradient_penalty,
    minimax_value,
    pack,
)
from edu_gen.models.gan.ring import count_modes, mode_counts, ring_centres, sample_ring
from edu_gen.models.gan.training import (
    GAN,
    GAN_LOSSES,
    StackedLinear,
    critic_objective,
    gan_players,
    gan_turns,
    generator_objective,
    mlp,
)

__all__ = [
    "GAN",
    "GAN_LOSSES",
    "LOG_4",
    "StackedLinear",
    "count_modes",
    "critic_loss_wasserstein",
    "critic_objective",
    "discriminator_loss",
    "gan_players",
    "gan_turns",
    "generator_loss_nonsaturating",
    "generator_loss_saturating",
    "generator_loss_wasserstein",
    "generator_objective",
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
]
