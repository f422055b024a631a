"""The catalogue of tables by name: the real tables and the simulated ones with a density."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from edu_gen.data.tables.bayesnet import BayesianNetwork, asia
from edu_gen.data.tables.fair_survey import fair
from edu_gen.data.tables.mixtures import GaussianMixtureTable, grid, gridr, ring
from edu_gen.data.tables.schema import Schema
from edu_gen.data.tables.uci_adult import adult

TABLES: Mapping[str, Callable[..., tuple[pd.DataFrame, Schema]]] = {"fair": fair, "adult": adult}
"""Name -> loader of the real tables."""

SIMULATED: dict[str, Callable[[], GaussianMixtureTable | BayesianNetwork]] = {
    "grid": grid,
    "gridr": gridr,
    "ring": ring,
    "asia": asia,
}
"""Name -> constructor of the simulated tables with a known density."""
