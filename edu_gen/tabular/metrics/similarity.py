r"""How close are the synthetic columns and column pairs to the real ones?

* :func:`column_similarity` - per column: the Jensen-Shannon **distance** (scipy's
  ``jensenshannon`` with ``base=2``, i.e. :math:`\sqrt{\mathrm{JSD}}` in [0, 1]) between the
  category frequencies of a discrete column; the 1-Wasserstein distance (scipy's
  ``wasserstein_distance``) between the values of a numeric column after min-max scaling
  with the *real* column's range.
* :func:`association_difference` - the association matrix of every column pair (Pearson
  :math:`r` for two numeric columns, Cramér's V for two discrete ones, the correlation ratio
  :math:`\eta` for a numeric-discrete pair) of the real and of the synthetic table, their
  difference and its norm ("Diff. Corr." of CTAB-GAN).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import pearsonr, wasserstein_distance
from scipy.stats.contingency import association

from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.metrics.frames import check_frame, discrete_keys

__all__ = [
    "AssociationDifference",
    "association_difference",
    "association_matrix",
    "column_similarity",
    "correlation_ratio",
    "cramers_v",
    "pearson",
]


def _frequencies(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    a, b = discrete_keys(real), discrete_keys(synthetic)
    categories = sorted(set(a) | set(b))
    p = a.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    q = b.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    return p / p.sum(), q / q.sum()


def column_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Per-column distance between the real and the synthetic marginal distribution.

    * discrete (categorical/ordinal) column: ``scipy.spatial.distance.jensenshannon(p, q,
      base=2)`` of the category frequencies, NaN counted as a category - the Jensen-Shannon
      *distance* (square root of the divergence), 0 for equal frequencies, 1 for disjoint
      supports;
    * numeric (continuous/mixed) column: ``scipy.stats.wasserstein_distance`` of the
      non-missing values after min-max scaling with the real column's minimum and maximum
      (a constant real column is only shifted) - 0 for equal samples, and the distance
      the mass must move in units of the real range.

    Returns:
        A frame indexed by column with ``kind``, ``metric`` (``"js_distance"`` or
        ``"wasserstein"``), ``value`` and ``missing_gap`` (absolute difference of the NaN
        shares). Average per metric with ``table.groupby("metric")["value"].mean()``.

    Raises:
        ValueError: a frame whose columns differ from the schema, or a numeric column with no
            value at all in one of the frames.
    """
    check_frame(real, schema, "real")
    check_frame(synthetic, schema, "synthetic")
    rows = []
    for column in schema.columns:
        a, b = real[column.name], synthetic[column.name]
        gap = abs(float(a.isna().mean()) - float(b.isna().mean()))
        if column.is_discrete:
            p, q = _frequencies(a, b)
            value, metric = float(jensenshannon(p, q, base=2)), "js_distance"
        else:
            x, y = a.dropna().to_numpy(dtype=float), b.dropna().to_numpy(dtype=float)
            for argument, values in (("real", x), ("synthetic", y)):
                if len(values) == 0:
                    raise ValueError(f"{argument}: column {column.name!r} has no value at all")
            low, span = x.min(), np.ptp(x)
            span = span if span > 0 else 1.0
            value = float(wasserstein_distance((x - low) / span, (y - low) / span))
            metric = "wasserstein"
        rows.append((column.name, column.kind, metric, value, gap))
    table = pd.DataFrame(rows, columns=["column", "kind", "metric", "value", "missing_gap"])
    return table.set_index("column")


# ----------------------------------------------------------------------------- associations


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float:
    r"""The correlation ratio :math:`\eta` of a numeric column on a discrete one.

    :math:`\eta^2 = \sum_g n_g (\bar x_g - \bar x)^2 / \sum_i (x_i - \bar x)^2`: the share
    of the variance of ``values`` explained by the group means (Pearson, 1903). In [0, 1];
    0 when ``values`` is constant. Rows with a missing value are dropped; a missing category
    is its own group. (scipy has no function for it; the ANOVA identity
    :math:`\eta^2 = F(k-1) / (F(k-1) + n - k)` with scipy's ``f_oneway`` checks it in the tests.)
    """
    return _eta(discrete_keys(categories).to_numpy(), values.to_numpy(dtype=float))


def _eta(groups: np.ndarray, values: np.ndarray) -> float:
    keep = ~np.isnan(values)
    x, groups = values[keep], groups[keep]
    if len(x) == 0:
        return 0.0
    total = float(((x - x.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    means = pd.Series(x).groupby(groups).transform("mean").to_numpy()
    between = float(((means - x.mean()) ** 2).sum())
    return math.sqrt(min(max(between / total, 0.0), 1.0))


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two discrete columns (scipy's ``association(method="cramer")``).

    Missing values are their own category; 0 when either column has a single category.
    """
    return _cramers_v(discrete_keys(a).to_numpy(), discrete_keys(b).to_numpy())


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    table = pd.crosstab(a, b).to_numpy()
    if min(table.shape) < 2:
        return 0.0
    return float(association(table, method="cramer"))


def pearson(a: pd.Series, b: pd.Series) -> float:
    """Pearson's r of two numeric columns on the rows where both are present (scipy).

    0 when fewer than 3 such rows remain or either column is constant on them.
    """
    return _pearson(a.to_numpy(dtype=float), b.to_numpy(dtype=float))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(pearsonr(x, y).statistic)


def association_matrix(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The symmetric matrix of pairwise associations, 1 on the diagonal.

    Pearson r (in [-1, 1]) for numeric-numeric pairs, Cramér's V (in [0, 1]) for
    discrete-discrete pairs and the correlation ratio (in [0, 1]) for numeric-discrete pairs;
    mixed columns count as numeric, ordinal as discrete.
    """
    check_frame(frame, schema, "frame")
    names = schema.names
    # each column converted once: text keys for discrete columns, floats for numeric ones
    data = {
        c.name: discrete_keys(frame[c.name]).to_numpy()
        if c.is_discrete
        else frame[c.name].to_numpy(dtype=float)
        for c in schema.columns
    }
    matrix = np.eye(len(names))
    for i, j in itertools.combinations(range(len(names)), 2):
        ci, cj = schema[names[i]], schema[names[j]]
        a, b = data[names[i]], data[names[j]]
        if ci.is_discrete and cj.is_discrete:
            value = _cramers_v(a, b)
        elif ci.is_discrete:
            value = _eta(a, b)
        elif cj.is_discrete:
            value = _eta(b, a)
        else:
            value = _pearson(a, b)
        matrix[i, j] = matrix[j, i] = value
    return pd.DataFrame(matrix, index=names, columns=names)


@dataclass(frozen=True)
class AssociationDifference:
    """Association matrices of a real and a synthetic table and how far apart they are.

    ``norm`` is the Frobenius norm of ``difference`` = real - synthetic (each pair counted
    twice, the diagonal is 0); ``mean_abs`` is the mean of ``|difference|`` over the pairs
    ``i < j``.
    """

    real: pd.DataFrame
    synthetic: pd.DataFrame
    difference: pd.DataFrame
    norm: float
    mean_abs: float


def association_difference(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema
) -> AssociationDifference:
    """Compare the pairwise associations of ``real`` and ``synthetic`` (see
    :func:`association_matrix`): 0 when every pair is as associated in both tables."""
    check_frame(real, schema, "real")
    check_frame(synthetic, schema, "synthetic")
    a, b = association_matrix(real, schema), association_matrix(synthetic, schema)
    diff = a - b
    values = diff.to_numpy()
    upper = values[np.triu_indices(len(values), k=1)]
    if not np.isfinite(values).all():  # pragma: no cover - every measure above is finite
        raise ValueError("association matrices are not finite")
    return AssociationDifference(
        real=a,
        synthetic=b,
        difference=diff,
        norm=float(np.linalg.norm(values)),
        mean_abs=float(np.abs(upper).mean()) if len(upper) else 0.0,
    )
