r"""CTAB-GAN's encodings (Zhao et al. 2021; 2022): the mixed-type encoding of one column,
the general transform, and :class:`TableEncoder`, a transformer that applies both.

* **mixed-type encoding** (:func:`mixed_encode`) - a column with point masses
  (``fair.affairs = 0``) gets one mode per point mass, with :math:`\alpha = 0`, and the other
  values go through the Gaussian mixture; :class:`DataTransformer`'s ``mixed`` kind does this
  for a whole table, :func:`mixed_encode` is the equation for one column with given modes.
* **general transform** (CTAB-GAN+, :func:`general_encode`) - a continuous column with a
  single mode becomes one number :math:`\alpha = 2(x - \min)/(\max - \min) - 1` in
  :math:`[-1, 1]`, with no mode indicator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from edu_gen.core.checks import finite_float
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.encoding.columns import NumericInfo
from edu_gen.tabular.encoding.modes import mode_normalize
from edu_gen.tabular.encoding.transformer import DataTransformer, Span

Tensor = torch.Tensor

__all__ = ["TableEncoder", "general_decode", "general_encode", "mixed_encode"]


def mixed_encode(
    x: Tensor, point_masses: Tensor, means: Tensor, stds: Tensor, modes: Tensor
) -> tuple[Tensor, Tensor]:
    r"""The mixed-type encoding of one column, given each value's mixture mode.

    A value equal to point mass :math:`m_j` gets mode :math:`j` and :math:`\alpha = 0`; any
    other value gets mode :math:`M + k` (``k = modes[i]``, :math:`M` point masses first) and
    :math:`\alpha = (x - \mu_k)/(4\sigma_k)` (:func:`mode_normalize`).
    Returns ``(alpha [n], one-hot beta [n, M + K])``, in ``x``'s dtype. The transformer draws
    ``k`` from the responsibilities; here it is given, so the encoding is deterministic.
    """
    n_mass = len(point_masses)
    hit = x[:, None] == point_masses[None, :]
    is_mass = hit.any(1)
    mixture = mode_normalize(
        x.detach().cpu().numpy(), modes.cpu().numpy(), means.cpu().numpy(), stds.cpu().numpy()
    )
    alpha = torch.where(is_mass, torch.zeros_like(x), torch.as_tensor(mixture, dtype=x.dtype))
    index = torch.where(is_mass, hit.float().argmax(1), n_mass + modes)
    beta = torch.nn.functional.one_hot(index, n_mass + len(means)).to(x.dtype)
    return alpha, beta


def _range(low: float, high: float) -> tuple[float, float]:
    """A column's finite range ``low <= high`` (equal for a constant column)."""
    low, high = finite_float("low", low), finite_float("high", high)
    if high < low:
        raise ValueError(f"low, high: expected low <= high, got low={low!r}, high={high!r}")
    return low, high


def general_encode(x: np.ndarray, low: float, high: float) -> np.ndarray:
    r"""CTAB-GAN+'s general transform: :math:`\alpha = 2(x - \min)/(\max - \min) - 1` in
    [-1, 1] (clipped; a constant column maps to 0). No mode indicator."""
    x = np.asarray(x, dtype=float)
    low, high = _range(low, high)
    if high == low:
        return np.zeros_like(x)
    return np.clip(2 * (x - low) / (high - low) - 1, -1.0, 1.0)


def general_decode(alpha: np.ndarray, low: float, high: float) -> np.ndarray:
    r"""The inverse :math:`x = \min + (\alpha + 1)(\max - \min)/2` (``alpha`` clipped first)."""
    alpha = np.clip(np.asarray(alpha, dtype=float), -1.0, 1.0)
    low, high = _range(low, high)
    return low + (alpha + 1) * (high - low) / 2


class TableEncoder:
    """A :class:`DataTransformer` plus CTAB-GAN+'s *general transform* for the continuous
    columns named in ``general`` (one ``tanh`` value each, appended after the transformer's
    spans; see :func:`general_encode`). With ``general=()`` it is the transformer itself.
    Same interface: ``fit``, ``transform``, ``inverse_transform``, ``output_info``,
    ``discrete_spans``, ``mode_spans``, ``spans_of``, ``categories``, ``numeric_info``.
    """

    def __init__(
        self, schema: Schema, general: Sequence[str] = (), *, max_modes: int = 10, seed: int = 0
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        general = (general,) if isinstance(general, str) else tuple(general)
        for name in general:
            if name not in schema:
                raise ValueError(f"general_columns: {name!r} is not a column of {schema.names}")
            if schema[name].kind != "continuous":
                raise ValueError(
                    f"general_columns: {name!r} is {schema[name].kind}; the general transform "
                    "is for continuous columns (a mixed column needs its mode indicator for "
                    "the point masses)"
                )
        if len(set(general)) == len(schema):
            raise ValueError("general_columns: at least one column must stay mode-encoded")
        self.schema, self.general = schema, tuple(dict.fromkeys(general))
        rest = tuple(c for c in schema.columns if c.name not in self.general)
        self.inner = DataTransformer(Schema(rest), max_modes=max_modes, seed=seed)
        self.ranges: dict[str, tuple[float, float]] = {}
        self.dtypes: dict[str, object] = {}

    def fit(self, frame: pd.DataFrame) -> TableEncoder:
        self.schema.validate(frame)
        self.inner.fit(frame[self.inner.schema.names])
        for name in self.general:
            x = frame[name].to_numpy(dtype=float, na_value=np.nan)
            if np.isnan(x).any():
                raise ValueError(
                    f"general_columns: {name!r} has missing values; the general transform has "
                    "no missing-value mode, so leave it mode-encoded"
                )
            self.ranges[name] = (float(x.min()), float(x.max()))
            self.dtypes[name] = frame[name].dtype
        return self

    @property
    def output_info(self) -> list[Span]:
        start = self.inner.output_dim
        extra = [
            Span(n, start + i, start + i + 1, "tanh", "value") for i, n in enumerate(self.general)
        ]
        return self.inner.output_info + extra

    @property
    def output_dim(self) -> int:
        return self.inner.output_dim + len(self.general)

    @property
    def discrete_spans(self) -> list[Span]:
        return self.inner.discrete_spans

    @property
    def mode_spans(self) -> list[Span]:
        return self.inner.mode_spans

    def spans_of(self, name: str) -> list[Span]:
        self.schema[name]
        return [s for s in self.output_info if s.column == name]

    def categories(self, name: str) -> list[object]:
        return self.inner.categories(name)

    def numeric_info(self, name: str) -> NumericInfo:
        return self.inner.numeric_info(name)

    def transform(self, frame: pd.DataFrame, *, seed: int | None = None) -> np.ndarray:
        inner = self.inner.transform(frame[self.inner.schema.names], seed=seed)
        cols = [
            general_encode(frame[n].to_numpy(dtype=float), *self.ranges[n]) for n in self.general
        ]
        if not cols:
            return inner
        return np.concatenate([inner, np.stack(cols, 1).astype(np.float32)], 1)

    def inverse_transform(self, array: np.ndarray) -> pd.DataFrame:
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.output_dim:
            raise ValueError(f"array: expected shape [n, {self.output_dim}], got {array.shape}")
        out = self.inner.inverse_transform(array[:, : self.inner.output_dim])
        for i, name in enumerate(self.general):
            x = general_decode(array[:, self.inner.output_dim + i], *self.ranges[name])
            if pd.api.types.is_integer_dtype(self.dtypes[name]):
                x = np.round(x)
            out[name] = pd.Series(x).astype(self.dtypes[name])
        return out[self.schema.names]
