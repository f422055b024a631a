"""Tables for the tabular chapters: a real embedded table, tables with a known density, Adult.

* :func:`fair` - the Fair (1978) extramarital-affairs survey bundled with statsmodels
  (6,366 rows, no download), with its :class:`~edu_gen.data.tables.schema.Schema` and the
  machine-learning task ``affairs > 0`` (:data:`FAIR_TASK`).
* :func:`grid`, :func:`ring`, :func:`gridr` - 2-D Gaussian mixtures and :func:`asia` - the
  Asia Bayesian network: the simulated tables of the CTGAN benchmark (Xu et al., 2019,
  "Modeling Tabular Data using Conditional GAN"). Each knows its exact log-density, so the
  likelihood fitness ``L_syn`` / ``L_test`` of :mod:`edu_gen.tabular.metrics` can be computed.
* :func:`mixed` - a simulated table that shows every difficulty of tabular data at once
  (multimodal column, point mass plus long tail, a rare category, a categorical tied to a
  continuous column, missing values on request).
* :func:`adult` - UCI Adult (Kohavi, 1996): cached, taken from an installed package that ships
  the files, or downloaded once; always SHA-256 verified.
* :func:`train_test_split_table` - a deterministic (optionally stratified) row split.

Every loader returns ``(frame, schema)``; every simulated table has ``schema``,
``sample(n, seed)`` and, where the density is known, ``log_likelihood(frame)`` (one value per
row, natural log) and ``refit(frame, seed=...)`` (the same model family fitted to ``frame``).

statsmodels and scikit-learn are imported inside the functions that need them, so importing
:mod:`edu_gen.data` (done by every image lesson) stays fast.

Modules: :mod:`~edu_gen.data.tables.schema` (column kinds), :mod:`~.fair_survey`,
:mod:`~.uci_adult`, :mod:`~.mixtures` (Gaussian-mixture tables), :mod:`~.bayesnet`
(Bayesian networks, Asia), :mod:`~.mixed_types`, :mod:`~.split`, :mod:`~.frames` (helpers of
the simulated tables) and :mod:`~.catalog` (:data:`TABLES`, :data:`SIMULATED` by name).
"""

from edu_gen.data.tables.bayesnet import (
    BayesianNetwork,
    Node,
    asia,
)
from edu_gen.data.tables.catalog import (
    SIMULATED,
    TABLES,
)
from edu_gen.data.tables.fair_survey import (
    FAIR_OCCUPATIONS,
    FAIR_TASK,
    fair,
    fair_label,
    fair_schema,
)
from edu_gen.data.tables.mixed_types import (
    MixedTable,
    mixed,
)
from edu_gen.data.tables.mixtures import (
    GM_VARIANCE,
    FittedDensity,
    GaussianMixtureTable,
    grid,
    gridr,
    ring,
)
from edu_gen.data.tables.schema import (
    DISCRETE_KINDS,
    KINDS,
    Column,
    Schema,
    schema_from,
)
from edu_gen.data.tables.split import (
    train_test_split_table,
)
from edu_gen.data.tables.uci_adult import (
    ADULT_BUNDLES,
    ADULT_COLUMNS,
    ADULT_FILES,
    ADULT_LABELS,
    ADULT_MIRRORS,
    ADULT_NUMERIC,
    ADULT_SPLITS,
    ADULT_ZIP,
    ADULT_ZIP_URLS,
    AdultFile,
    TableUnavailableError,
    adult,
    adult_cache_dir,
    adult_schema,
    adult_split,
    bundled_adult_file,
    parse_adult,
)

__all__ = [
    "ADULT_BUNDLES",
    "ADULT_COLUMNS",
    "ADULT_FILES",
    "ADULT_LABELS",
    "ADULT_MIRRORS",
    "ADULT_NUMERIC",
    "ADULT_SPLITS",
    "ADULT_ZIP",
    "ADULT_ZIP_URLS",
    "DISCRETE_KINDS",
    "FAIR_OCCUPATIONS",
    "FAIR_TASK",
    "GM_VARIANCE",
    "KINDS",
    "SIMULATED",
    "TABLES",
    "AdultFile",
    "BayesianNetwork",
    "Column",
    "FittedDensity",
    "GaussianMixtureTable",
    "MixedTable",
    "Node",
    "Schema",
    "TableUnavailableError",
    "adult",
    "adult_cache_dir",
    "adult_schema",
    "adult_split",
    "bundled_adult_file",
    "asia",
    "fair",
    "fair_label",
    "fair_schema",
    "grid",
    "gridr",
    "mixed",
    "parse_adult",
    "ring",
    "schema_from",
    "train_test_split_table",
]
