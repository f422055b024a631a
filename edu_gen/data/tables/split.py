"""A deterministic (optionally stratified) train/test split of a table's rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int


def train_test_split_table(
    frame: pd.DataFrame,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: str | Sequence[object] | np.ndarray | pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the rows of ``frame`` into ``(train, test)`` with scikit-learn, deterministically.

    Args:
        frame: the table.
        test_size: share of rows in ``test`` (0 < test_size < 1).
        seed: the split's seed (the same seed gives the same split).
        stratify: ``None``, the name of a column of ``frame``, or one label per row (e.g.
            ``fair_label(frame["affairs"])``): each label keeps its share in both parts.

    Returns:
        ``train`` and ``test`` with fresh 0..n-1 indices.
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(test_size, bool) or not isinstance(test_size, float | int):
        raise ValueError(f"test_size: expected a number in (0, 1), got {test_size!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size: expected a number in (0, 1), got {test_size!r}")
    positive_int("seed", seed, minimum=0)
    if isinstance(stratify, str):
        if stratify not in frame.columns:
            raise ValueError(f"stratify: {stratify!r} is not a column of frame")
        labels = frame[stratify].to_numpy()
    elif stratify is None:
        labels = None
    else:
        labels = np.asarray(stratify)
        if labels.shape != (len(frame),):
            raise ValueError(
                f"stratify: expected a column name or {len(frame)} labels, got shape {labels.shape}"
            )
    n_test = int(np.ceil(test_size * len(frame)))
    if n_test < 1 or n_test >= len(frame):
        raise ValueError(f"test_size: {test_size} of {len(frame)} rows leaves an empty part")
    try:
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as exc:  # e.g. a class with a single member cannot be stratified
        raise ValueError(f"stratify: {exc}") from exc
    return train.reset_index(drop=True), test.reset_index(drop=True)
