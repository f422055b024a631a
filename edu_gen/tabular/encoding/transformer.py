r"""Turning a table into the matrix a tabular generator sees, and back (Xu et al. 2019).

Every column becomes one or two *spans* of the output matrix (:class:`Span`):

* **categorical / ordinal** - a one-hot vector over the schema's categories (in the schema's
  order), one slot more for "missing" when the fitted column had NaN: a ``softmax`` span.
* **continuous** - *mode-specific normalisation* (:mod:`~edu_gen.tabular.encoding.modes`): the
  scalar :math:`\alpha = (x-\mu_k)/(4\sigma_k)` (a ``tanh`` span) next to the one-hot mode
  indicator :math:`\beta = e_k` (a ``softmax`` span), with :math:`k` sampled from the
  mixture's responsibilities.
* **mixed** (Zhao et al. 2021, CTAB-GAN's mixed-type encoder) - the declared point masses
  (e.g. ``affairs = 0``) are modes of their own with :math:`\alpha = 0`; the other values go
  through the mixture as above. The indicator is [point masses..., mixture modes...].
* **missing values** in a numeric column are one more mode (last, :math:`\alpha = 0`).

So the inverse is exact: categories, point masses and NaN come back exactly, and a mixture
value up to the float32 rounding of :math:`\alpha`, :math:`|\hat x - x| \le 4\sigma_k\cdot 2^{-24}
< 10^{-6}\sigma_k`. Keeping it exact needs :math:`|\alpha|\le 0.99` (a generator's ``tanh``
cannot reach 1, and Xu et al. clip there); :mod:`~edu_gen.tabular.encoding.columns` says how
that is guaranteed for the rows seen by :meth:`DataTransformer.fit` (the count of widened
modes is in :attr:`~edu_gen.tabular.encoding.columns.NumericInfo.widened`, of clipped new
values in :attr:`DataTransformer.clipped`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int
from edu_gen.core.rng import check_seed
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.encoding.columns import (
    DiscreteInfo,
    NumericInfo,
    decode_numeric,
    discrete_codes,
    encode_numeric,
    fit_numeric,
    restore_dtype,
)

__all__ = ["DataTransformer", "Span"]


@dataclass(frozen=True)
class Span:
    """Columns ``start:end`` of the encoded matrix that belong to table column ``column``.

    ``activation`` is what a generator applies there (``tanh`` for :math:`\\alpha`,
    ``softmax`` for one-hots); ``role`` is ``"value"`` (:math:`\\alpha`), ``"mode"`` (the mode
    indicator of a numeric column) or ``"category"`` (a categorical/ordinal one-hot).
    """

    column: str
    start: int
    end: int
    activation: Literal["tanh", "softmax"]
    role: Literal["value", "mode", "category"]

    @property
    def width(self) -> int:
        return self.end - self.start


class DataTransformer:
    """Encode a table for the tabular generators (CTGAN, TVAE, CTAB-GAN) and decode it back.

    ``DataTransformer(schema, max_modes=10, weight_threshold=0.005, seed=0)`` then
    :meth:`fit` on a frame; :meth:`transform` gives a float32 matrix laid out as
    :attr:`output_info` (one or two :class:`Span` per column, in schema order) and
    :meth:`inverse_transform` returns a frame with the schema's columns and the fitted dtypes.
    See the module docstring for the encoding and its exactness.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        max_fit_rows: int | None = 2000,
        seed: int = 0,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        self.schema = schema
        self.max_modes = positive_int("max_modes", max_modes)
        if isinstance(weight_threshold, bool) or not 0 <= weight_threshold < 1:
            raise ValueError(
                f"weight_threshold: expected a number in [0, 1), got {weight_threshold!r}"
            )
        self.weight_threshold = float(weight_threshold)
        if max_fit_rows is not None:
            positive_int("max_fit_rows", max_fit_rows, minimum=10)
        self.max_fit_rows = max_fit_rows
        self.seed = check_seed(seed)
        self.info: dict[str, NumericInfo | DiscreteInfo] = {}
        self.spans: list[Span] = []
        self.clipped = 0
        """How many values the last :meth:`transform` had to clip (outside every mode)."""

    # -- layout ----------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return bool(self.spans)

    def check_fitted(self) -> None:
        """RuntimeError unless :meth:`fit` has run."""
        if not self.fitted:
            raise RuntimeError("DataTransformer: call fit(frame) first")

    @property
    def output_info(self) -> list[Span]:
        """All spans in matrix order."""
        self.check_fitted()
        return list(self.spans)

    @property
    def output_dim(self) -> int:
        self.check_fitted()
        return self.spans[-1].end

    @property
    def discrete_spans(self) -> list[Span]:
        """The one-hot spans of the categorical/ordinal columns: what CTGAN conditions on."""
        return [s for s in self.output_info if s.role == "category"]

    @property
    def mode_spans(self) -> list[Span]:
        """The mode-indicator spans of the numeric columns (CTAB-GAN conditions on them)."""
        return [s for s in self.output_info if s.role == "mode"]

    def spans_of(self, name: str) -> list[Span]:
        """The spans of column ``name``."""
        self.schema[name]
        return [s for s in self.output_info if s.column == name]

    def numeric_info(self, name: str) -> NumericInfo:
        """The fitted modes of continuous/mixed column ``name``."""
        self.check_fitted()
        info = self.info.get(self.schema[name].name)
        if not isinstance(info, NumericInfo):
            raise ValueError(f"column {name!r}: is {self.schema[name].kind}, not continuous/mixed")
        return info

    def categories(self, name: str) -> list[object]:
        """The one-hot order of discrete column ``name`` (NaN last if it had missing values)."""
        self.check_fitted()
        info = self.info.get(self.schema[name].name)
        if not isinstance(info, DiscreteInfo):
            raise ValueError(
                f"column {name!r}: is {self.schema[name].kind}, not categorical/ordinal"
            )
        return list(info.categories) + ([np.nan] if info.has_nan else [])

    # -- fit -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> DataTransformer:
        """Learn the categories and the modes of every column of ``frame`` (validated first)."""
        self.schema.validate(frame)
        info: dict[str, NumericInfo | DiscreteInfo] = {}
        spans: list[Span] = []
        start = 0
        for index, column in enumerate(self.schema):
            series = frame[column.name]
            if column.is_discrete:
                cats = tuple(self.schema.categories_of(column.name, frame))
                item: NumericInfo | DiscreteInfo = DiscreteInfo(
                    column.name, cats, bool(series.isna().any()), series.dtype
                )
                spans.append(Span(column.name, start, start + item.n_slots, "softmax", "category"))
                start += item.n_slots
            else:
                item = fit_numeric(
                    column.name,
                    series,
                    column.point_masses,
                    max_modes=self.max_modes,
                    weight_threshold=self.weight_threshold,
                    max_fit_rows=self.max_fit_rows,
                    seed=self.seed + index,
                )
                spans.append(Span(column.name, start, start + 1, "tanh", "value"))
                spans.append(
                    Span(column.name, start + 1, start + 1 + item.n_modes, "softmax", "mode")
                )
                start += 1 + item.n_modes
            info[column.name] = item
        self.info, self.spans = info, spans
        return self

    # -- transform -------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, *, seed: int | None = None) -> np.ndarray:
        """Encode ``frame`` as a float32 matrix ``[len(frame), output_dim]``.

        The mode of each mixture value is sampled (seeded by ``seed``, default the
        transformer's), so the same call gives the same matrix.

        Raises:
            ValueError: a column is missing, a numeric column holds non-numbers or ±inf, a
                value is missing in a column that had none when fitted, or a discrete column
                holds a category the schema/fit does not know.
        """
        self.check_fitted()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        missing = [n for n in self.schema.names if n not in frame.columns]
        if missing:
            raise ValueError(f"frame: lacks column(s) {missing} of the schema")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        out = np.zeros((len(frame), self.output_dim), dtype=np.float32)
        self.clipped = 0
        for span in self.spans:
            if span.role == "value":
                continue
            info = self.info[span.column]
            series = frame[span.column]
            if isinstance(info, DiscreteInfo):
                codes = discrete_codes(info, series)
                out[np.arange(len(codes)), span.start + codes] = 1.0
            else:
                alpha, modes, clipped = encode_numeric(info, series, rng)
                self.clipped += clipped
                out[:, span.start - 1] = alpha
                out[np.arange(len(modes)), span.start + modes] = 1.0
        return out

    # -- inverse ---------------------------------------------------------------------------
    def inverse_transform(self, array: np.ndarray) -> pd.DataFrame:
        """Decode a matrix (encoded data, or generator output) back into a frame.

        One-hot spans are read by ``argmax`` (so soft outputs or logits work too);
        :math:`\\alpha` is clipped to [-1, 1]. Columns come back in schema order with the
        dtypes seen by :meth:`fit` (integer columns are rounded).
        """
        self.check_fitted()
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.output_dim:
            raise ValueError(
                f"array: expected shape [n, {self.output_dim}], got {tuple(array.shape)}"
            )
        if not np.isfinite(array).all():
            raise ValueError("array: contains NaN or ±inf")
        columns: dict[str, pd.Series] = {}
        for span in self.spans:
            if span.role == "value":
                continue
            info = self.info[span.column]
            index = array[:, span.start : span.end].argmax(1)
            if isinstance(info, DiscreteInfo):
                values = np.empty(len(index), dtype=object)
                lookup = np.asarray(list(info.categories) + [np.nan], dtype=object)
                values[:] = lookup[index]
                columns[span.column] = restore_dtype(pd.Series(values), info.dtype)
            else:
                alpha = np.clip(array[:, span.start - 1].astype(float), -1.0, 1.0)
                decoded = decode_numeric(info, alpha, index)
                columns[span.column] = restore_dtype(pd.Series(decoded), info.dtype)
        return pd.DataFrame(columns, columns=self.schema.names)
