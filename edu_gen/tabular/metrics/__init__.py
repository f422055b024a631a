r"""How good is a synthetic table? Utility, similarity, likelihood fitness and privacy.

The measures of the CTGAN benchmark (Xu et al., 2019) and of CTAB-GAN / CTAB-GAN+ (Zhao et
al., 2021; 2022), built on scikit-learn and scipy:

* :mod:`~edu_gen.tabular.metrics.utility` - :func:`ml_utility`, models trained on real vs
  synthetic rows and tested on held-out real rows;
* :mod:`~edu_gen.tabular.metrics.similarity` - :func:`column_similarity` (JS distance,
  Wasserstein distance per column) and :func:`association_difference` (Pearson, Cramér's V,
  correlation ratio for every column pair);
* :mod:`~edu_gen.tabular.metrics.likelihood` - :func:`likelihood_fitness` on a simulated
  table with a known density (:math:`L_{syn}`, :math:`L_{test}`);
* :mod:`~edu_gen.tabular.metrics.disclosure` - :func:`distance_to_closest_record`;
* :mod:`~edu_gen.tabular.metrics.baselines` - :class:`IndependentMarginals`, which keeps every
  column's distribution and destroys every association;
* :mod:`~edu_gen.tabular.metrics.chow_liu` - :class:`ChowLiuTree`, the Bayesian-network
  baseline (CLBN) of the CTGAN benchmark: the maximum-mutual-information spanning tree;
* :mod:`~edu_gen.tabular.metrics.frames` - the schema checks, discrete keys and feature
  encoder they share.

Every public name is importable from here: ``from edu_gen.tabular import metrics``, then
``metrics.ml_utility(...)``.
"""

from edu_gen.tabular.metrics.baselines import IndependentMarginals, independent_marginals
from edu_gen.tabular.metrics.chow_liu import ChowLiuTree, mutual_information
from edu_gen.tabular.metrics.disclosure import distance_to_closest_record
from edu_gen.tabular.metrics.frames import MISSING, check_frame, discrete_keys, feature_encoder
from edu_gen.tabular.metrics.likelihood import LikelihoodFitness, likelihood_fitness
from edu_gen.tabular.metrics.similarity import (
    AssociationDifference,
    association_difference,
    association_matrix,
    column_similarity,
    correlation_ratio,
    cramers_v,
    pearson,
)
from edu_gen.tabular.metrics.utility import (
    CLASSIFICATION_METRICS,
    MODELS,
    REGRESSION_METRICS,
    TASKS,
    ml_utility,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "MISSING",
    "MODELS",
    "REGRESSION_METRICS",
    "TASKS",
    "AssociationDifference",
    "ChowLiuTree",
    "IndependentMarginals",
    "LikelihoodFitness",
    "association_difference",
    "association_matrix",
    "check_frame",
    "column_similarity",
    "correlation_ratio",
    "cramers_v",
    "discrete_keys",
    "distance_to_closest_record",
    "feature_encoder",
    "independent_marginals",
    "likelihood_fitness",
    "ml_utility",
    "mutual_information",
    "pearson",
]
