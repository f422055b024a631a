r"""Machine-learning utility (Xu et al. 2019; Zhao et al. 2021): train the same small models
once on the real training rows and once on the synthetic rows, test both on held-out real
rows (accuracy, F1, ROC AUC; MAPE, explained variance, :math:`R^2` for regression). The
difference real - synthetic is the utility lost by training on synthetic data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    explained_variance_score,
    f1_score,
    mean_absolute_percentage_error,
    r2_score,
    roc_auc_score,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.metrics.frames import check_frame, discrete_keys, feature_encoder

__all__ = ["CLASSIFICATION_METRICS", "MODELS", "REGRESSION_METRICS", "TASKS", "ml_utility"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
MODELS: tuple[str, ...] = ("linear", "tree", "forest", "mlp")
"""Model names for :func:`ml_utility`: logistic/ridge regression, a decision tree, a random
forest and a one-hidden-layer perceptron."""
CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "f1", "auc")
REGRESSION_METRICS: tuple[str, ...] = ("mape", "evs", "r2")


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
