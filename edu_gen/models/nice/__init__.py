r"""NICE: non-linear independent components estimation (Dinh, Krueger & Bengio 2015), chapter 06.

A bijection :math:`h = f(x)` with a tractable Jacobian gives an exact log-likelihood by the
change of variables

.. math::
    \log p_X(x) = \log p_H(f(x)) + \log\left|\det\frac{\partial f(x)}{\partial x}\right|.

NICE builds :math:`f` from

* **additive coupling layers** — split the coordinates into two halves :math:`I_1, I_2`
  (here: even and odd indices, alternating from layer to layer) and set
  :math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})` with any network
  :math:`m`. The Jacobian is unit triangular, so :math:`\log|\det J| = 0`, and the inverse is
  :math:`x_{I_2} = y_{I_2} - m(y_{I_1})`;
* a final **diagonal scaling** :math:`h = S\odot y` with :math:`S_{ii} = e^{s_i} > 0`, whose
  log-determinant is :math:`\sum_i\log S_{ii} = \sum_i s_i`;
* a factorised **prior** :math:`p_H(h) = \prod_d p(h_d)`: standard logistic
  (:math:`\log p(h) = -\mathrm{softplus}(h) - \mathrm{softplus}(-h)`) or standard Gaussian.

For discrete images, :func:`dequantize` adds uniform noise to the grey levels and rescales to
:math:`[0, 1)`; :func:`bits_per_dim` converts a log-density of the rescaled data back to bits
per pixel of the *level* scale, including the rescaling's log-determinant. Optionally
(``NICE(..., logit_alpha=α)``) the flow first maps :math:`[0, 1)` onto the real line by the
logit transform of Dinh, Sohl-Dickstein & Bengio (2017, Real NVP),
:math:`z = \operatorname{logit}(\alpha + (1 - 2\alpha)x)` (:func:`logit_forward`), whose
log-determinant is part of :math:`\log p_X(x)`.

The family's API: ``model.log_prob(x)`` (the change of variables above),
``model.sample(n, generator=...)`` (a tensor ``[n, D]``) and, for discrete images,
``nll_objective(n_levels, generator)``, the ``fit`` loss ``(model, batch)`` that dequantises
each batch afresh and minimises :math:`-\log p_X(x)` per dimension.

Two modules, imported here so that ``from edu_gen.models import nice`` gives every name:
:mod:`~edu_gen.models.nice.layers` (additive coupling, scaling, logit preprocessing, and the
affine coupling of Real NVP as a second instance of the coupling law) and
:mod:`~edu_gen.models.nice.flow` (priors, the :class:`NICE` model, dequantisation,
bits/dim, the training loss).
"""

from edu_gen.models.nice.flow import (
    NICE,
    PRIORS,
    bits_per_dim,
    dequantize,
    gaussian_log_prob,
    logistic_log_prob,
    nll_objective,
    prior_log_prob,
    prior_sample,
)
from edu_gen.models.nice.layers import (
    AdditiveCoupling,
    AffineCoupling,
    Scaling,
    affine_coupling_forward,
    affine_coupling_inverse,
    coupling_forward,
    coupling_inverse,
    coupling_net,
    logit_forward,
    logit_inverse,
    partition,
    scaling_log_det,
)

__all__ = [
    "NICE",
    "PRIORS",
    "AdditiveCoupling",
    "AffineCoupling",
    "Scaling",
    "affine_coupling_forward",
    "affine_coupling_inverse",
    "bits_per_dim",
    "coupling_forward",
    "coupling_inverse",
    "coupling_net",
    "dequantize",
    "gaussian_log_prob",
    "logistic_log_prob",
    "logit_forward",
    "logit_inverse",
    "nll_objective",
    "partition",
    "prior_log_prob",
    "prior_sample",
    "scaling_log_det",
]
