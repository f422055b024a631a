r"""Denoising autoencoders (chapter 02).

A denoising autoencoder (DAE; Vincent et al. 2008) is the autoencoder of chapter 01 fed
a *corrupted* copy of each example and asked to give back the *clean* one:

* corruption:      :math:`\tilde x \sim q_D(\tilde x \mid x)` (eq. 17.4)
* encoder/decoder: :math:`h = f(\tilde x) = s_f(W_1 \tilde x + b_1)`,
  :math:`\hat x = g(h) = s_g(W_2 h + b_2)`  (eq. 17.3)
* loss:            :math:`L(x, \hat x)` with :math:`L` from eq. 17.2 — the target is the
  clean :math:`x`; the corrupted :math:`\tilde x` appears only at the input.

Manifold view: with Gaussian noise the best squared-error reconstruction is
:math:`r^*(\tilde x) = \tilde x + \sigma^2 \nabla \log p_\sigma(\tilde x)` (Tweedie's
formula; :math:`p_\sigma` is the density of the corrupted points), and as
:math:`\sigma\to 0` a trained DAE's :math:`r(x) - x` estimates :math:`\sigma^2\nabla\log p(x)`
(Alain & Bengio 2014): the map points from a corrupted point back toward the data.

The family's API: ``dae_objective(corrupt)`` is the ``fit`` loss ``(model, batch)``; a DAE
is not a density model, so it has no ``sample`` or ``log_prob``.

Three modules, imported here so that ``from edu_gen.models import dae`` gives every name:

* :mod:`~edu_gen.models.dae.corruption` - the processes :math:`q_D` (Gaussian, masking,
  salt-and-pepper) and :func:`corruption`, which picks one by name;
* :mod:`~edu_gen.models.dae.denoising` - :func:`dae_loss`, :func:`dae_objective`,
  :func:`reconstruct`, and the 2-D toy manifold (a circle) with exact distances;
* :mod:`~edu_gen.models.dae.stacked` - the stacked DAE and greedy layer-wise pre-training
  (Vincent et al. 2010; Bengio et al. 2007).
"""

from edu_gen.models.autoencoder import LOSSES
from edu_gen.models.dae.corruption import (
    CORRUPTIONS,
    Corruption,
    corruption,
    gaussian_corrupt,
    masking_corrupt,
    salt_and_pepper_corrupt,
)
from edu_gen.models.dae.denoising import (
    dae_loss,
    dae_objective,
    distance_to_manifold,
    project_to_manifold,
    reconstruct,
    toy_manifold,
)
from edu_gen.models.dae.stacked import StackedDAE, classifier, pretrain_stack

__all__ = [
    "CORRUPTIONS",
    "LOSSES",
    "Corruption",
    "StackedDAE",
    "classifier",
    "corruption",
    "dae_loss",
    "dae_objective",
    "distance_to_manifold",
    "gaussian_corrupt",
    "masking_corrupt",
    "pretrain_stack",
    "project_to_manifold",
    "reconstruct",
    "salt_and_pepper_corrupt",
    "toy_manifold",
]
