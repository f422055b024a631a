"""Helpers for the simulated tables: a seed or NumPy generator, and checked column access.

Every simulated table's ``sample(n, seed)`` takes a :data:`Seed`; its ``log_likelihood`` and
``refit`` read their columns with :func:`select_columns` / :func:`numeric_matrix`, whose
errors name the argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int

Seed = int | np.random.Generator
"""A non-negative int seed, or a NumPy generator to draw from."""


def as_rng(seed: Seed) -> np.random.Generator:
    """``seed`` itself if it is a NumPy generator, else ``numpy.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    positive_int("seed", seed, minimum=0)
    return np.random.default_rng(seed)


def select_columns(frame: pd.DataFrame, names: Sequence[str], argument: str) -> pd.DataFrame:
    """The columns ``names`` of ``frame`` (which must have rows); errors name ``argument``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{argument}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"{argument}: lacks column(s) {missing}; expected {list(names)}")
    if len(frame) == 0:
        raise ValueError(f"{argument}: expected at least one row")
    return frame[list(names)]


def numeric_matrix(frame: pd.DataFrame, names: Sequence[str], argument: str) -> np.ndarray:
    """The columns ``names`` as a finite float matrix ``[rows, len(names)]``."""
    sub = select_columns(frame, names, argument)
    try:
        values = sub.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{argument}: columns {list(names)} must hold numbers ({exc})") from exc
    if not np.isfinite(values).all():
        raise ValueError(f"{argument}: columns {list(names)} hold NaN or inf; expected finite")
    return values
