"""The baseline every synthesizer must beat: independent marginals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int

__all__ = ["IndependentMarginals", "independent_marginals"]


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
