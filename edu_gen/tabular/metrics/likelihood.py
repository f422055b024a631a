"""Likelihood fitness (Xu et al. 2019, Sec. 5.1): on a simulated table with a known
density, how likely are the synthetic rows under the true model, and how well does the true
model's family refitted to them explain real test rows?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int
from edu_gen.tabular.metrics.frames import check_frame

__all__ = ["LikelihoodFitness", "likelihood_fitness"]


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
