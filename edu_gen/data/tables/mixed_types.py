"""A simulated table with every difficulty of tabular data at once, and its schema.

A multimodal continuous column, a point mass plus a long tail, a rare category, a
categorical column tied to a continuous one, an ordinal rating, missing values on request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.frames import Seed, as_rng
from edu_gen.data.tables.schema import Column, Schema


@dataclass(frozen=True)
class MixedTable:
    """A simulated table with the difficulties of real tabular data, and its schema.

    Generative story for one row (``z`` is a hidden mode, not a column):

    * ``z ~ Categorical(mode_weights)``;
    * ``amount ~ N(mode_means[z], mode_stds[z]^2)`` - **multimodal continuous**;
    * ``segment`` = ``SEGMENTS[z]`` with probability ``agreement``, else one of the other two
      uniformly - **a categorical tied to a continuous column**;
    * ``spend`` = 0 with probability ``zero_share``, else ``LogNormal(0.5 + 0.5 z, 0.9)`` -
      **mixed: a point mass at 0 and a long tail**; a share ``missing`` of it is NaN;
    * ``channel`` ~ ``Categorical(channel_probs)`` over ``CHANNELS``, independent - its last
      category (``"phone"``, 0.8%) is **rare** (< 1%);
    * ``rating`` = ``clip(round(3 + 0.3 amount + N(0, 0.7^2)), 1, 5)`` - **ordinal**;
    * ``label`` ~ Bernoulli(sigmoid(0.6 amount + 1.0 [spend > 0] + 0.8 [channel = store]
      - 0.7)) - a **binary target** for ML utility (bool).
    """

    mode_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    mode_means: tuple[float, float, float] = (-3.0, 0.5, 4.0)
    mode_stds: tuple[float, float, float] = (0.6, 0.8, 1.0)
    agreement: float = 0.9
    zero_share: float = 0.45
    channel_probs: tuple[float, float, float] = (0.62, 0.372, 0.008)
    missing: float = 0.0

    SEGMENTS = ("low", "mid", "high")
    CHANNELS = ("web", "store", "phone")

    def __post_init__(self) -> None:
        for name in ("mode_weights", "channel_probs"):
            p = np.asarray(getattr(self, name), dtype=float)
            if p.shape != (3,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
                raise ValueError(f"{name}: expected 3 probabilities summing to 1, got {p}")
        if np.asarray(self.mode_stds).shape != (3,) or min(self.mode_stds) <= 0:
            raise ValueError(f"mode_stds: expected 3 positive numbers, got {self.mode_stds}")
        for name in ("agreement", "zero_share"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")
        if not 0 <= self.missing < 1:
            raise ValueError(f"missing: expected a number in [0, 1), got {self.missing!r}")

    @property
    def schema(self) -> Schema:
        return Schema(
            (
                Column("amount", "continuous"),
                Column("segment", "categorical", categories=self.SEGMENTS),
                Column("spend", "mixed", point_masses=(0.0,)),
                Column("channel", "categorical", categories=self.CHANNELS),
                Column("rating", "ordinal", categories=(1, 2, 3, 4, 5)),
                Column("label", "categorical", categories=(False, True)),
            ),
            target="label",
        )

    def sample(self, n: int, seed: Seed = 0) -> pd.DataFrame:
        """``n`` i.i.d. rows of the table (columns and dtypes as in :attr:`schema`)."""
        positive_int("n", n)
        rng = as_rng(seed)
        z = rng.choice(3, size=n, p=self.mode_weights)
        amount = np.asarray(self.mode_means)[z] + np.asarray(self.mode_stds)[z] * (
            rng.standard_normal(n)
        )
        other = (z + rng.integers(1, 3, size=n)) % 3  # one of the two other segments
        segment_code = np.where(rng.random(n) < self.agreement, z, other)
        positive = rng.random(n) >= self.zero_share
        tail = rng.lognormal(0.5 + 0.5 * z, 0.9)
        spend = np.where(positive, tail, 0.0)
        channel_code = rng.choice(3, size=n, p=self.channel_probs)
        rating = np.clip(np.rint(3 + 0.3 * amount + rng.normal(0, 0.7, n)), 1, 5).astype(int)
        logit = 0.6 * amount + 1.0 * positive + 0.8 * (channel_code == 1) - 0.7
        label = rng.random(n) < 1 / (1 + np.exp(-logit))
        if self.missing > 0:
            spend = np.where(rng.random(n) < self.missing, np.nan, spend)
        return pd.DataFrame(
            {
                "amount": amount,
                "segment": np.asarray(self.SEGMENTS, dtype=object)[segment_code],
                "spend": spend,
                "channel": np.asarray(self.CHANNELS, dtype=object)[channel_code],
                "rating": rating.astype("int64"),
                "label": label,
            }
        )


def mixed(**params: object) -> MixedTable:
    """The mixed-type simulated table (:class:`MixedTable`); ``params`` override its fields."""
    return MixedTable(**params)  # type: ignore[arg-type]
