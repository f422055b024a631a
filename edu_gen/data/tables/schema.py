"""What each column of a table is: the schema every tabular model and metric reads.

A column is one of four kinds (the distinctions Xu et al. 2019 and Zhao et al. 2021 make):

* ``continuous`` - real values, possibly multimodal (mode-specific normalisation);
* ``categorical`` - unordered labels, encoded one-hot;
* ``ordinal`` - ordered labels (e.g. a 1-5 rating), one-hot for the generators but with
  an order the metrics may use;
* ``mixed`` - continuous values plus *point masses*: exact values that occur with positive
  probability (``fair.affairs`` is 0 for 68% of the rows). The point masses are listed.

Missing values (NaN) are allowed in any column that is not entirely missing; the tabular
transformer encodes them explicitly.

:meth:`Schema.infer` guesses the kinds from a data frame (numbers with few distinct values
→ categorical, numbers with one value repeated in ≥ ``mass_share`` of the rows → mixed,
other numbers → continuous, strings/booleans/pandas categoricals → categorical), and
``overrides`` corrects the guess. :meth:`Schema.validate` rejects a schema that does not fit a
frame with an error naming the column and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

ColumnKind = Literal["continuous", "categorical", "ordinal", "mixed"]
KINDS: tuple[str, ...] = ("continuous", "categorical", "ordinal", "mixed")
DISCRETE_KINDS: tuple[str, ...] = ("categorical", "ordinal")


@dataclass(frozen=True)
class Column:
    """One column: its ``name``, ``kind`` and, for ``mixed`` columns, the ``point_masses``.

    ``categories`` (discrete kinds, optional) fixes the label set and, for ``ordinal``,
    their order; when ``None`` the observed values are used (sorted).
    """

    name: str
    kind: ColumnKind
    point_masses: tuple[float, ...] = ()
    categories: tuple[object, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name: expected a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(
                f"column {self.name!r}: kind expected one of {KINDS}, got {self.kind!r}"
            )
        masses = tuple(float(m) for m in self.point_masses)
        if self.kind == "mixed" and not masses:
            raise ValueError(
                f"column {self.name!r}: a mixed column needs at least one point mass "
                "(e.g. point_masses=(0.0,)); without one declare it continuous"
            )
        if self.kind != "mixed" and masses:
            raise ValueError(
                f"column {self.name!r}: point_masses are only for kind='mixed', got kind "
                f"{self.kind!r}"
            )
        if any(not np.isfinite(m) for m in masses) or len(set(masses)) != len(masses):
            raise ValueError(
                f"column {self.name!r}: point_masses must be distinct finite numbers, got {masses}"
            )
        object.__setattr__(self, "point_masses", masses)
        if self.categories is not None:
            if self.kind not in DISCRETE_KINDS:
                raise ValueError(
                    f"column {self.name!r}: categories are only for categorical/ordinal columns"
                )
            cats = tuple(self.categories)
            if len(set(cats)) != len(cats):
                raise ValueError(f"column {self.name!r}: categories must be distinct, got {cats}")
            object.__setattr__(self, "categories", cats)

    @property
    def is_discrete(self) -> bool:
        """True for categorical and ordinal columns."""
        return self.kind in DISCRETE_KINDS


@dataclass(frozen=True)
class Schema:
    """The columns of a table in order, and optionally the ``target`` column for ML utility."""

    columns: tuple[Column, ...]
    target: str | None = None
    _index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = tuple(self.columns)
        if not cols:
            raise ValueError("columns: expected at least one Column")
        for c in cols:
            if not isinstance(c, Column):
                raise TypeError(f"columns: expected Column objects, got {type(c).__name__}")
        names = [c.name for c in cols]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns: duplicate column names {dupes}")
        if self.target is not None and self.target not in names:
            raise ValueError(f"target: {self.target!r} is not one of the columns {names}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "_index", {c.name: c for c in cols})

    # -- access ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Column:
        if name not in self._index:
            raise KeyError(f"column {name!r} is not in the schema {self.names}")
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def of_kind(self, *kinds: str) -> list[str]:
        """Names of the columns whose kind is one of ``kinds``."""
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"kinds: expected some of {KINDS}, got {bad}")
        return [c.name for c in self.columns if c.kind in kinds]

    @property
    def discrete(self) -> list[str]:
        """Categorical and ordinal column names."""
        return self.of_kind(*DISCRETE_KINDS)

    @property
    def numeric(self) -> list[str]:
        """Continuous and mixed column names."""
        return self.of_kind("continuous", "mixed")

    def with_target(self, target: str | None) -> Schema:
        return Schema(self.columns, target)

    def override(self, overrides: Mapping[str, str | Column]) -> Schema:
        """A copy where each named column gets a new kind (a string) or a whole new Column.

        Changing a column to ``mixed`` by name alone needs its point masses, so pass a
        :class:`Column` for that.
        """
        unknown = [n for n in overrides if n not in self._index]
        if unknown:
            raise ValueError(f"overrides: unknown column(s) {unknown}; columns are {self.names}")
        cols = []
        for c in self.columns:
            new = overrides.get(c.name)
            if new is None:
                cols.append(c)
            elif isinstance(new, Column):
                if new.name != c.name:
                    raise ValueError(
                        f"overrides[{c.name!r}]: Column is named {new.name!r}, expected {c.name!r}"
                    )
                cols.append(new)
            else:
                cols.append(replace(c, kind=new, point_masses=(), categories=None))
        return Schema(tuple(cols), self.target)

    # -- inference and validation ---------------------------------------------------------
    @classmethod
    def infer(
        cls,
        frame: pd.DataFrame,
        *,
        target: str | None = None,
        overrides: Mapping[str, str | Column] | None = None,
        max_categories: int = 20,
        mass_share: float = 0.1,
    ) -> Schema:
        """Guess a schema from ``frame`` (see the module docstring), then apply ``overrides``.

        Numbers with at most ``max_categories`` distinct values become categorical; a number
        column where a single value holds at least ``mass_share`` of the non-missing rows
        (and the rest vary) becomes mixed with that value as its point mass.
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise ValueError("frame: expected at least one row")
        cols = []
        for name in frame.columns:
            if not isinstance(name, str):
                raise ValueError(
                    f"frame: column names must be strings, got {name!r}; "
                    "use frame.rename(columns=str)"
                )
            s = frame[name]
            values = s.dropna()
            if len(values) == 0:
                raise ValueError(f"column {name!r}: every value is missing; drop the column")
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                cols.append(Column(str(name), "categorical"))
                continue
            counts = values.value_counts()
            if len(counts) <= max_categories:
                cols.append(Column(str(name), "categorical"))
            elif counts.iloc[0] >= mass_share * len(values):
                cols.append(Column(str(name), "mixed", point_masses=(float(counts.index[0]),)))
            else:
                cols.append(Column(str(name), "continuous"))
        schema = cls(tuple(cols), target)
        if overrides:
            schema = schema.override(overrides)
        schema.validate(frame)
        return schema

    def validate(self, frame: pd.DataFrame) -> None:
        """Raise ValueError naming the column when ``frame`` does not fit this schema."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise ValueError("frame: expected at least one row")
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise ValueError(f"schema names column(s) {missing} that the frame lacks")
        extra = [str(n) for n in frame.columns if n not in self._index]
        if extra:
            raise ValueError(f"frame has column(s) {extra} that the schema does not describe")
        for c in self.columns:
            s = frame[c.name]
            values = s.dropna()
            if len(values) == 0:
                raise ValueError(f"column {c.name!r}: every value is missing; drop the column")
            if c.kind in ("continuous", "mixed"):
                if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                    raise ValueError(
                        f"column {c.name!r}: declared {c.kind} but holds {s.dtype} values; "
                        "expected numbers (declare it categorical instead)"
                    )
                if not np.isfinite(values.to_numpy(dtype=float)).all():
                    raise ValueError(f"column {c.name!r}: contains ±inf; expected finite numbers")
            if c.kind == "mixed":
                arr = values.to_numpy(dtype=float)
                absent = [m for m in c.point_masses if not np.any(arr == m)]
                if absent:
                    raise ValueError(
                        f"column {c.name!r}: point mass(es) {absent} never occur in the data"
                    )
                if np.isin(arr, c.point_masses).all():
                    raise ValueError(
                        f"column {c.name!r}: every value is a point mass, so there is no "
                        "continuous part; declare it categorical"
                    )
            if c.is_discrete:
                observed = set(values.unique().tolist())
                if len(observed) < 2:
                    raise ValueError(
                        f"column {c.name!r}: a {c.kind} column needs at least 2 distinct values, "
                        f"found {sorted(observed, key=str)}; drop the column"
                    )
                if c.categories is not None:
                    unknown = observed - set(c.categories)
                    if unknown:
                        raise ValueError(
                            f"column {c.name!r}: values {sorted(unknown, key=str)[:5]} are not in "
                            f"the declared categories"
                        )

    def categories_of(self, name: str, frame: pd.DataFrame | None = None) -> list[object]:
        """The label set of discrete column ``name`` (declared, else observed in ``frame``)."""
        c = self[name]
        if not c.is_discrete:
            raise ValueError(f"column {name!r}: is {c.kind}, expected categorical or ordinal")
        if c.categories is not None:
            return list(c.categories)
        if frame is None:
            raise ValueError(f"column {name!r}: no declared categories; pass frame")
        return sorted(frame[name].dropna().unique().tolist(), key=_sort_key)


def _sort_key(v: object) -> tuple[int, object]:
    return (0, v) if isinstance(v, (int, float, np.number)) else (1, str(v))


def schema_from(kinds: Mapping[str, str | Column], *, target: str | None = None) -> Schema:
    """Build a schema from ``{name: kind or Column}`` (kept in the mapping's order)."""
    cols: Iterable[Column] = (
        v if isinstance(v, Column) else Column(name, v)  # type: ignore[arg-type]
        for name, v in kinds.items()
    )
    return Schema(tuple(cols), target)
