r"""Maximum likelihood as KL minimisation (chapter 00).

For a data distribution :math:`p_{\text{data}}` and a model :math:`p_\theta`,

.. math::
    \mathrm{KL}(p_{\text{data}}\,\|\,p_\theta)
    = \underbrace{-\mathbb E_{p_{\text{data}}}[\log p_\theta(x)]}_{\text{cross-entropy}}
      - \underbrace{H(p_{\text{data}})}_{\text{does not depend on }\theta},

so minimising the forward KL over :math:`\theta` is the same as maximising the expected
log-likelihood. With only a sample :math:`x_1,\dots,x_N` the expectation becomes the
*empirical* log-likelihood :math:`\frac1N\sum_n\log p_\theta(x_n)`, and maximising it is
empirical risk minimisation (ERM) with the loss :math:`-\log p_\theta(x)`.

The module offers

* densities on a uniform grid: :func:`entropy`, :func:`cross_entropy`, :func:`kl_divergence`
  (Riemann sums with spacing ``dx``; pass ``dx=1`` for probability vectors);
* :func:`gaussian_cross_entropy` — the cross-entropy of *any* distribution with a given mean
  and variance against a Gaussian, in closed form (it only needs those two moments);
* models: :class:`GaussianMixture1D` (an explicit density, used as :math:`p_{\text{data}}`),
  :func:`gaussian_mle` (ERM over the restricted Gaussian family),
  :func:`fit_gaussian_mixture` (ERM over mixtures: a hypothesis space that grows with the
  number of components) and :class:`HistogramDensity` (the most flexible: its
  maximum-likelihood fit is the normalised histogram), plus :func:`implicit_sample`, an
  *implicit* model that can only be sampled;
* :func:`empirical_log_likelihood`;
* at image size: :class:`PixelHistograms` (every pixel its own histogram of grey levels) and
  :func:`fit_bernoulli_mixture` (EM for a :class:`BernoulliMixture` of binary
  images; one component = independent pixels).
"""

from edu_gen.models.likelihood.bernoulli_mixture import BernoulliMixture, fit_bernoulli_mixture
from edu_gen.models.likelihood.densities import (
    GaussianMixture1D,
    HistogramDensity,
    PixelHistograms,
    fit_gaussian_mixture,
    gaussian_log_prob,
    gaussian_mle,
    histogram_mle,
    implicit_sample,
)
from edu_gen.models.likelihood.divergences import (
    cross_entropy,
    empirical_log_likelihood,
    entropy,
    gaussian_cross_entropy,
    grid,
    kl_divergence,
)

__all__ = [
    "BernoulliMixture",
    "GaussianMixture1D",
    "HistogramDensity",
    "PixelHistograms",
    "cross_entropy",
    "empirical_log_likelihood",
    "entropy",
    "fit_bernoulli_mixture",
    "fit_gaussian_mixture",
    "gaussian_cross_entropy",
    "gaussian_log_prob",
    "gaussian_mle",
    "grid",
    "histogram_mle",
    "implicit_sample",
    "kl_divergence",
]
