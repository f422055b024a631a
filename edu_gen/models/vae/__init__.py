r"""The variational autoencoder (chapter 04; Kingma & Welling 2014, Rezende et al. 2014).

Generative model :math:`p_\theta(x, z) = p(z)\,p_\theta(x\mid z)` with the prior
:math:`p(z) = \mathcal N(0, I)`; inference model (encoder)
:math:`q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`. Both are
trained by maximising the evidence lower bound (ELBO, eq. 17.16)

.. math:: \mathcal L(x) = \mathbb E_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]
          - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big) \le \log p_\theta(x),

where the expectation uses one reparameterised sample :math:`z = \mu + \sigma\odot\varepsilon`,
:math:`\varepsilon\sim\mathcal N(0,I)`, and the KL is in closed form
(:func:`edu_gen.core.distributions.kl_normal`).

The family's API: ``vae_loss(model, batch)`` (minus the ELBO, for ``fit``),
``model.sample(n, generator=...)`` (a tensor of decoder means at prior draws) and, for
:math:`\log p_\theta(x)`, the importance-weighted estimate
:func:`edu_gen.models.iwae.log_marginal_likelihood` (chapter 05).

Three modules, imported here so that ``from edu_gen.models import vae`` gives every name:

* :mod:`~edu_gen.models.vae.model` - :func:`reparameterize` (eq. 17.13),
  :class:`GaussianEncoder`, :class:`VAE`, :func:`make_vae`, :func:`elbo`, :func:`vae_loss`;
* :mod:`~edu_gen.models.vae.decoders` - :class:`BernoulliDecoder`, :class:`GaussianDecoder`
  and the strong :class:`AutoregressiveDecoder` (a MADE fed with :math:`z`) that makes
  posterior collapse easy to provoke;
* :mod:`~edu_gen.models.vae.collapse` - the diagnostic :func:`active_units` and the KL
  warm-up :func:`kl_warmup` / :class:`KLWarmup` (free bits is an argument of :func:`elbo`).
"""

from edu_gen.models.vae.collapse import KLWarmup, active_units, kl_warmup
from edu_gen.models.vae.decoders import (
    AutoregressiveDecoder,
    BernoulliDecoder,
    GaussianDecoder,
    bernoulli_log_prob,
)
from edu_gen.models.vae.model import (
    LIKELIHOODS,
    VAE,
    GaussianEncoder,
    elbo,
    make_vae,
    reparameterize,
    vae_loss,
)

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "AutoregressiveDecoder",
    "BernoulliDecoder",
    "GaussianDecoder",
    "GaussianEncoder",
    "KLWarmup",
    "active_units",
    "bernoulli_log_prob",
    "elbo",
    "kl_warmup",
    "make_vae",
    "reparameterize",
    "vae_loss",
]
