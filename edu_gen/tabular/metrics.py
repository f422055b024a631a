r"""How good is a synthetic table? Utility, similarity, likelihood fitness and privacy.

The measures of the CTGAN benchmark (Xu et al., 2019) and of CTAB-GAN / CTAB-GAN+ (Zhao et
al., 2021; 2022), built on scikit-learn and scipy:

* :func:`ml_utility` - *machine-learning utility*: train the same small models once on the
  real training rows and once on the synthetic rows, test both on held-out real rows
  (accuracy, F1, ROC AUC; MAPE, explained variance, :math:`R^2` for regression). The
  difference real - synthetic is the utility lost by training on synthetic data.
* :func:`column_similarity` - per column: the Jensen-Shannon **distance** (scipy's
  ``jensenshannon`` with ``base=2``, i.e. :math:`\sqrt{\mathrm{JSD}}` in [0, 1]) between the
  category frequencies of a discrete column; the 1-Wasserstein distance (scipy's
  ``wasserstein_distance``) between the values of a numeric column after min-max scaling
  with the *real* column's range.
* :func:`association_difference` - the association matrix of every column pair (Pearson
  :math:`r` for two numeric columns, Cramér's V for two discrete ones, the correlation ratio
  :math:`\eta` for a numeric-discrete pair) of the real and of the synthetic table, their
  difference and its norm ("Diff. Corr." of CTAB-GAN).
* :func:`likelihood_fitness` - on a simulated table with a known density:
  :math:`L_{syn}` = mean log-likelihood of the synthetic rows under the true model, and
  :math:`L_{test}` = mean log-likelihood of real test rows under the true model's family
  refitted to the synthetic rows.
* :func:`distance_to_closest_record` - privacy: Euclidean distance from each synthetic row
  (and, for reference, each real hold-out row) to its nearest training row.
* :class:`IndependentMarginals` - the baseline that keeps every column's distribution and
  destroys every association: each column is resampled on its own.

Frames are checked against the schema by their *columns* only (same names, numbers in
numeric columns): a synthetic table may legitimately miss a rare category or a point mass,
which :meth:`Schema.validate` would reject. NaN is allowed everywhere; how each measure
treats it is stated in its docstring.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import pearsonr, wasserstein_distance
from scipy.stats.contingency import association
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    explained_variance_score,
    f1_score,
    mean_absolute_percentage_error,
    r2_score,
    roc_auc_score,
)
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.schema import Schema

MISSING = "<missing>"
"""The category a missing value (NaN) of a discrete column becomes."""
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
MODELS: tuple[str, ...] = ("linear", "tree", "forest", "mlp")
"""Model names for :func:`ml_utility`: logistic/ridge regression, a decision tree, a random
forest and a one-hidden-layer perceptron."""
CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "f1", "auc")
REGRESSION_METRICS: tuple[str, ...] = ("mape", "evs", "r2")


# ----------------------------------------------------------------------------- checks


def check_frame(frame: object, schema: Schema, argument: str) -> pd.DataFrame:
    """``frame`` if its columns are exactly the schema's, with numbers in numeric columns.

    Raises ValueError naming ``argument`` (TypeError for a non-DataFrame).
    """
    if not isinstance(schema, Schema):
        raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{argument}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [n for n in schema.names if n not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in schema]
    if missing or extra:
        raise ValueError(
            f"{argument}: columns differ from the schema (missing {missing}, unexpected {extra})"
        )
    if len(frame) == 0:
        raise ValueError(f"{argument}: expected at least one row")
    for name in schema.numeric:
        s = frame[name]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise ValueError(
                f"{argument}: column {name!r} is {schema[name].kind} but holds {s.dtype}"
            )
        if np.isinf(s.to_numpy(dtype=float)).any():
            raise ValueError(f"{argument}: column {name!r} holds ±inf")
    return frame


def discrete_keys(values: pd.Series) -> pd.Series:
    """One text key per value of a discrete column, equal for equal values across dtypes.

    Numbers become ``repr(float(v))`` (so the int 3 and the float 3.0 match), booleans and
    text stay as written, NaN becomes :data:`MISSING`.
    """
    if pd.api.types.is_bool_dtype(values):
        keys = values.astype(str)
    elif pd.api.types.is_numeric_dtype(values):
        keys = values.astype(float).map(repr)
    else:
        keys = values.map(_key_of)
    return keys.where(values.notna(), MISSING).astype(str)


def _key_of(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value))
    return str(value)


def _frame_keys(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([discrete_keys(frame[c]).to_numpy() for c in frame.columns])


# ----------------------------------------------------------------------------- encoding


def _mass_indicators(values: np.ndarray, masses: tuple[float, ...]) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.column_stack([(values[:, 0] == m).astype(float) for m in masses])


def feature_encoder(schema: Schema, columns: Sequence[str]) -> ColumnTransformer:
    """An unfitted scikit-learn encoder turning the ``columns`` of a frame into numbers.

    * discrete columns: :func:`discrete_keys` (NaN is its own category), then
      ``OneHotEncoder(handle_unknown="ignore")`` - a category unseen when fitting encodes
      as all zeros;
    * numeric (continuous and mixed) columns: ``SimpleImputer(strategy="median",
      add_indicator=True)`` (a 0/1 "was missing" column where the fitting data had NaN), then
      ``StandardScaler``;
    * each point mass ``m`` of a mixed column: an extra 0/1 column ``value == m``.
    """
    columns = list(columns)
    discrete = [c for c in columns if schema[c].is_discrete]
    numeric = [c for c in columns if not schema[c].is_discrete]
    parts: list[tuple[str, object, list[str]]] = []
    if discrete:
        to_keys = FunctionTransformer(_frame_keys, feature_names_out="one-to-one")
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("discrete", Pipeline([("keys", to_keys), ("onehot", onehot)]), discrete))
    if numeric:
        impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        parts.append(
            ("numeric", Pipeline([("impute", impute), ("scale", StandardScaler())]), numeric)
        )
    for c in numeric:
        masses = schema[c].point_masses
        if masses:
            indicator = FunctionTransformer(_mass_indicators, kw_args={"masses": masses})
            parts.append((f"mass_{c}", indicator, [c]))
    if not parts:
        raise ValueError("columns: expected at least one feature column")
    return ColumnTransformer(parts, remainder="drop")


# ----------------------------------------------------------------------------- ML utility


def _model(name: str, task: str, seed: int) -> object:
    classify = task != "regression"
    if name == "linear":
        return LogisticRegression(max_iter=1000) if classify else Ridge(alpha=1.0)
    if name == "tree":
        cls = DecisionTreeClassifier if classify else DecisionTreeRegressor
        return cls(max_depth=10, min_samples_leaf=5, random_state=seed)
    if name == "forest":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(n_estimators=50, min_samples_leaf=2, random_state=seed, n_jobs=1)
    cls = MLPClassifier if classify else MLPRegressor
    return cls(hidden_layer_sizes=(64,), max_iter=300, early_stopping=True, random_state=seed)


def _labels(
    frame: pd.DataFrame,
    target: str,
    label: Callable[[pd.Series], object] | None,
    task: str,
    argument: str,
) -> np.ndarray:
    raw = frame[target]
    y = raw if label is None else label(raw)
    y = pd.Series(np.asarray(y), index=frame.index) if not isinstance(y, pd.Series) else y
    if len(y) != len(frame):
        raise ValueError(f"label: returned {len(y)} values for {len(frame)} rows of {argument}")
    if y.isna().any():
        raise ValueError(f"{argument}: the label of {int(y.isna().sum())} row(s) is missing")
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise ValueError(f"target: task='regression' needs a numeric label, got {y.dtype}")
        return y.to_numpy(dtype=float)
    return discrete_keys(y).to_numpy()


def _score(
    task: str, classes: list[str], y_true: np.ndarray, model: object, x: pd.DataFrame
) -> dict[str, float]:
    if task == "regression":
        pred = model.predict(x)  # type: ignore[attr-defined]
        return {
            "mape": float(mean_absolute_percentage_error(y_true, pred)),
            "evs": float(explained_variance_score(y_true, pred)),
            "r2": float(r2_score(y_true, pred)),
        }
    pred = model.predict(x)  # type: ignore[attr-defined]
    fitted = list(model.classes_)  # type: ignore[attr-defined]
    proba_fitted = model.predict_proba(x)  # type: ignore[attr-defined]
    proba = np.zeros((len(x), len(classes)))
    for j, c in enumerate(fitted):
        proba[:, classes.index(c)] = proba_fitted[:, j]
    if task == "binary":
        positive = classes[1]
        f1 = f1_score(y_true, pred, pos_label=positive, zero_division=0.0)
        auc = roc_auc_score(y_true == positive, proba[:, 1])
    else:
        f1 = f1_score(y_true, pred, labels=classes, average="macro", zero_division=0.0)
        present = [j for j, c in enumerate(classes) if (y_true == c).any() and (y_true != c).any()]
        auc = np.mean([roc_auc_score(y_true == classes[j], proba[:, j]) for j in present])
    return {"accuracy": float(accuracy_score(y_true, pred)), "f1": float(f1), "auc": float(auc)}


def _fit(
    model: object, x: pd.DataFrame, y: np.ndarray, encoder: ColumnTransformer, task: str
) -> object:
    if task != "regression" and len(np.unique(y)) < 2:
        model = DummyClassifier(strategy="prior")  # one class: nothing to learn
    elif task == "regression" and np.ptp(y) == 0:
        model = DummyRegressor(strategy="mean")
    pipe = Pipeline([("encode", clone(encoder)), ("model", model)])
    with warnings.catch_warnings():
        # early stopping may end the MLP before its tolerance: expected, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipe.fit(x, y)


def ml_utility(
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    target: str | None = None,
    label: Callable[[pd.Series], object] | None = None,
    task: str = "binary",
    models: Sequence[str] = MODELS,
    seed: int = 0,
) -> pd.DataFrame:
    """Machine-learning utility: models trained on real vs synthetic rows, tested on real rows.

    For every model in ``models`` the same pipeline (:func:`feature_encoder` + the model,
    seeded with ``seed``) is fitted once on ``train`` and once on ``synthetic``; both are
    scored on ``test``.

    Args:
        train, test: real training and held-out rows; synthetic: the generated rows (a
            model should have been fitted on ``train`` only).
        schema: the table's schema (``schema.target`` is the default ``target``).
        target: the column the label comes from. It is **never** a feature.
        label: ``None`` (the label is the target column itself) or a function of the target
            column returning one label per row, e.g. ``lambda s: s > 0`` for ``fair``.
        task: ``"binary"`` (exactly 2 classes; the positive class is the second in sorted
            order of their :func:`discrete_keys`, i.e. ``True`` for booleans), ``"multiclass"``
            or ``"regression"`` (a numeric label).
        models: any of :data:`MODELS`.
        seed: seed of every model.

    Returns:
        A frame indexed by ``(model, metric)`` with columns ``real``, ``synthetic`` and
        ``difference`` = real - synthetic. Metrics: ``accuracy``, ``f1`` (binary: of the
        positive class; multiclass: macro), ``auc`` (ROC AUC; multiclass: macro one-vs-rest
        over the classes present in ``test``); regression: ``mape`` (lower is better, so
        a synthetic loss shows as a *negative* difference), ``evs``, ``r2``. Average over
        models with ``table.groupby(level="metric").mean()``. When the synthetic labels hold
        a single class, that model predicts the class prior (AUC 0.5).

    Raises:
        ValueError: unknown ``target``/``task``/``models``, a ``label`` giving one class on
            ``train`` (or not two classes for ``task="binary"``), synthetic labels outside the
            real classes, or a frame whose columns differ from the schema (named).
    """
    for argument, frame in (("train", train), ("test", test), ("synthetic", synthetic)):
        check_frame(frame, schema, argument)
    target = schema.target if target is None else target
    if target is None or target not in schema:
        raise ValueError(f"target: expected one of {schema.names}, got {target!r}")
    if task not in TASKS:
        raise ValueError(f"task: expected one of {list(TASKS)}, got {task!r}")
    if label is not None and not callable(label):
        raise ValueError(f"label: expected None or a function of the target column, got {label!r}")
    models = [models] if isinstance(models, str) else list(models)
    unknown = [m for m in models if m not in MODELS]
    if not models or unknown:
        raise ValueError(f"models: expected some of {list(MODELS)}, got {models}")
    positive_int("seed", seed, minimum=0)
    if label is None and task != "regression" and not schema[target].is_discrete:
        raise ValueError(
            f"target: {target!r} is {schema[target].kind}; a classification task needs a "
            "discrete target or a label function (label=...)"
        )

    y_train = _labels(train, target, label, task, "train")
    y_test = _labels(test, target, label, task, "test")
    y_syn = _labels(synthetic, target, label, task, "synthetic")
    classes: list[str] = []
    if task != "regression":
        classes = sorted(set(y_train) | set(y_test))
        if len(set(y_train)) < 2:
            raise ValueError(
                f"label: gives a single class {sorted(set(y_train))} on train; expected at least 2"
            )
        if task == "binary" and len(classes) != 2:
            raise ValueError(
                f"label: task='binary' needs exactly 2 classes, got {classes} (use "
                "task='multiclass')"
            )
        if len(set(y_test)) < 2:
            raise ValueError(f"test: holds a single class {sorted(set(y_test))}; AUC is undefined")
        foreign = sorted(set(y_syn) - set(classes))
        if foreign:
            raise ValueError(f"synthetic: labels {foreign[:5]} never occur in the real rows")

    features = [c for c in schema.names if c != target]
    encoder = feature_encoder(schema, features)
    rows = []
    for name in models:
        scores = {}
        for source, frame, y in (("real", train, y_train), ("synthetic", synthetic, y_syn)):
            fitted = _fit(_model(name, task, seed), frame[features], y, encoder, task)
            scores[source] = _score(task, classes, y_test, fitted, test[features])
        for metric in scores["real"]:
            real, syn = scores["real"][metric], scores["synthetic"][metric]
            rows.append((name, metric, real, syn, real - syn))
    table = pd.DataFrame(rows, columns=["model", "metric", "real", "synthetic", "difference"])
    return table.set_index(["model", "metric"])


# ----------------------------------------------------------------------------- similarity


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


# ----------------------------------------------------------------------------- likelihood


@dataclass(frozen=True)
class LikelihoodFitness:
    """``l_syn``: mean log-likelihood of the synthetic rows under the true model, over the rows
    it deems possible; ``impossible``: the share of synthetic rows with probability 0 under
    the true model (e.g. Asia's ``either`` != ``tub or lung``), which ``l_syn`` leaves out and
    which must be read beside it; ``l_test``: mean log-likelihood of real test rows under the
    true model's family refitted to the synthetic rows. Natural logs, per row."""

    l_syn: float
    l_test: float
    impossible: float


def likelihood_fitness(
    model_table: object, synthetic: pd.DataFrame, test: pd.DataFrame, *, seed: int = 0
) -> LikelihoodFitness:
    """Likelihood fitness of Xu et al. (2019, Sec. 5.1) on a simulated table.

    ``model_table`` is a simulated table with a known density (e.g.
    :func:`edu_gen.data.tables.grid` or :func:`~edu_gen.data.tables.asia`): it provides
    ``log_likelihood(frame)`` (exact) and ``refit(frame, seed=...)`` (for the Gaussian
    mixtures a scikit-learn ``GaussianMixture`` with the true number of components; for a
    Bayesian network the same structure with Laplace-smoothed tables).
    """
    for method in ("log_likelihood", "refit"):
        if not callable(getattr(model_table, method, None)):
            raise ValueError(
                f"model_table: expected a simulated table with a {method}() method, got "
                f"{type(model_table).__name__}"
            )
    positive_int("seed", seed, minimum=0)
    for argument, frame in (("synthetic", synthetic), ("test", test)):
        check_frame(frame, model_table.schema, argument)  # type: ignore[attr-defined]
    log_p = np.asarray(model_table.log_likelihood(synthetic), dtype=float)  # type: ignore[attr-defined]
    possible = np.isfinite(log_p)
    if not possible.any():
        raise ValueError("synthetic: every row has probability 0 under the true model")
    refitted = model_table.refit(synthetic, seed=seed)  # type: ignore[attr-defined]
    log_q = np.asarray(refitted.log_likelihood(test), dtype=float)
    if not np.isfinite(log_q).all():  # pragma: no cover - refits are smoothed
        raise ValueError("test: some rows have probability 0 under the refitted model")
    return LikelihoodFitness(
        l_syn=float(log_p[possible].mean()),
        l_test=float(log_q.mean()),
        impossible=float(1.0 - possible.mean()),
    )


# ----------------------------------------------------------------------------- privacy


def distance_to_closest_record(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
) -> pd.DataFrame:
    """Distance to the closest training record (DCR) of synthetic rows and of real hold-out rows.

    All three frames are encoded by one :func:`feature_encoder` fitted on ``train`` (numeric
    columns standardised, discrete columns one-hot, so two different categories are
    :math:`\\sqrt 2` apart); scikit-learn's ``NearestNeighbors`` (ball tree, Euclidean) finds
    each row's nearest training row. Hold-out rows were never trained on, so their DCR is
    the reference: synthetic rows much closer to the training rows than that suggest
    memorisation. An *exact copy* is a row at distance 0 (identical after encoding).

    Returns:
        A frame with rows ``synthetic`` and ``holdout`` and columns ``p5`` and ``median`` (of
        the DCR) and ``exact`` (share of exact copies).
    """
    for argument, frame in (("train", train), ("synthetic", synthetic), ("holdout", holdout)):
        check_frame(frame, schema, argument)
    encoder = feature_encoder(schema, schema.names).fit(train[schema.names])
    reference = encoder.transform(train[schema.names])
    search = NearestNeighbors(n_neighbors=1, algorithm="ball_tree").fit(reference)
    rows = {}
    for name, frame in (("synthetic", synthetic), ("holdout", holdout)):
        distances = search.kneighbors(encoder.transform(frame[schema.names]))[0][:, 0]
        rows[name] = {
            "p5": float(np.percentile(distances, 5)),
            "median": float(np.median(distances)),
            "exact": float(np.mean(distances == 0.0)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")[["p5", "median", "exact"]]


# ----------------------------------------------------------------------------- baseline


class IndependentMarginals:
    """Baseline synthesiser: every column drawn on its own from its empirical distribution.

    ``fit`` keeps the training columns; ``sample(n, seed)`` draws, for every column
    independently, ``n`` of its values with replacement (NaN included, dtypes kept). Each
    marginal is reproduced up to sampling noise, and every association between columns is
    destroyed - the bar a generative model of the *joint* distribution must clear.
    """

    def __init__(self) -> None:
        self.columns_: dict[str, pd.Series] | None = None

    def fit(self, frame: pd.DataFrame) -> IndependentMarginals:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0 or frame.shape[1] == 0:
            raise ValueError("frame: expected at least one row and one column")
        self.columns_ = {c: frame[c].reset_index(drop=True) for c in frame.columns}
        return self

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> pd.DataFrame:
        if self.columns_ is None:
            raise RuntimeError("IndependentMarginals: call fit(frame) before sample()")
        positive_int("n", n)
        if isinstance(seed, np.random.Generator):
            rng = seed
        else:
            rng = np.random.default_rng(positive_int("seed", seed, minimum=0))
        out = {}
        for name, values in self.columns_.items():
            index = rng.integers(0, len(values), size=n)
            out[name] = values.iloc[index].reset_index(drop=True)
        return pd.DataFrame(out)


def independent_marginals(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of :class:`IndependentMarginals` fitted to ``frame``."""
    return IndependentMarginals().fit(frame).sample(n, seed)
