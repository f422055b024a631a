"""What every measure needs first: frames checked against a schema, discrete values as
comparable keys, and one numeric encoding of a table for scikit-learn.

Frames are checked by their *columns* only (same names, numbers in numeric columns): a
synthetic table may legitimately miss a rare category or a point mass, which
:meth:`Schema.validate` would reject. NaN is allowed everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from edu_gen.data.tables.schema import Schema

__all__ = ["MISSING", "check_frame", "discrete_keys", "feature_encoder"]

MISSING = "<missing>"
"""The category a missing value (NaN) of a discrete column becomes."""


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
