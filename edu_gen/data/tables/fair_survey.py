"""The Fair (1978) extramarital-affairs survey: the embedded real table of chapters 10a-10b.

statsmodels bundles it (6,366 rows, no download); statsmodels is imported inside
:func:`fair`, so importing this module stays fast.
"""

from __future__ import annotations

import pandas as pd

from edu_gen.data.tables.schema import Column, Schema

FAIR_OCCUPATIONS: dict[int, str] = {
    1: "student",
    2: "farming_unskilled",
    3: "white_collar",
    4: "teacher_nurse_technician",
    5: "managerial",
    6: "professional",
}
"""The occupation codes of the survey (statsmodels' description) and the labels used here."""


def fair_label(affairs: pd.Series) -> pd.Series:
    """The binary ML-utility label of :func:`fair`: "had an affair", ``affairs > 0``."""
    return affairs > 0


FAIR_TASK: dict[str, object] = {"target": "affairs", "label": fair_label, "task": "binary"}
"""Keyword arguments for :func:`edu_gen.tabular.metrics.ml_utility` on :func:`fair`: the label
is derived from ``affairs`` and ``affairs`` itself is not a feature (it would give the label
away)."""


def fair_schema() -> Schema:
    """The schema of :func:`fair`, with the reason for each kind.

    * ``rate_marriage`` (1-5), ``religious`` (1-4), ``educ`` (9/12/14/16/17/20 years) -
      **ordinal**: ordered ratings/levels with a handful of values; their spacing has no
      meaning (``educ`` codes levels by typical years of schooling).
    * ``children`` (0, 1, 2, 3, 4, 5.5) - **ordinal**: a count, but top-coded (5.5 stands for
      "five or more"), so it is six ordered levels rather than a number to interpolate.
    * ``occupation``, ``occupation_husb`` - **categorical**: unordered job groups, stored as
      text labels (:data:`FAIR_OCCUPATIONS`). ``occupation == "student"`` is 0.64% of the rows:
      the rare category of the chapter.
    * ``age``, ``yrs_married`` - **continuous**, the quantities they measure. Note that in
      this data set they are **binned**: the survey recorded intervals, and statsmodels
      stores the interval midpoints (age: 6 values 17.5-42; years married: 7 values
      0.5-23). A continuous model sees a few spikes - a strongly multimodal column, which is
      exactly what mode-specific normalisation is for. Override them to ``ordinal`` to model
      the bins instead.
    * ``affairs`` - **mixed** with a point mass at 0.0: 67.8% of the rows are exactly 0 and
      the rest form a long tail up to 57.6 (a time-spent measure). It is the target.
    """
    return Schema(
        (
            Column("rate_marriage", "ordinal", categories=(1, 2, 3, 4, 5)),
            Column("age", "continuous"),
            Column("yrs_married", "continuous"),
            Column("children", "ordinal", categories=(0.0, 1.0, 2.0, 3.0, 4.0, 5.5)),
            Column("religious", "ordinal", categories=(1, 2, 3, 4)),
            Column("educ", "ordinal", categories=(9, 12, 14, 16, 17, 20)),
            Column("occupation", "categorical", categories=tuple(FAIR_OCCUPATIONS.values())),
            Column("occupation_husb", "categorical", categories=tuple(FAIR_OCCUPATIONS.values())),
            Column("affairs", "mixed", point_masses=(0.0,)),
        ),
        target="affairs",
    )


def fair() -> tuple[pd.DataFrame, Schema]:
    """The Fair affairs survey (Fair, 1978, J. Political Economy 86(1)) as ``(frame, schema)``.

    6,366 rows from statsmodels' bundled copy; no network. Ratings and education are int64,
    occupations are text labels, the other columns float64. See :func:`fair_schema` for the
    kind of every column and why, and :data:`FAIR_TASK` for the ML-utility task.
    """
    from statsmodels.datasets import fair as fair_data

    raw = fair_data.load_pandas().data
    frame = pd.DataFrame(
        {
            "rate_marriage": raw["rate_marriage"].astype("int64"),
            "age": raw["age"].astype("float64"),
            "yrs_married": raw["yrs_married"].astype("float64"),
            "children": raw["children"].astype("float64"),
            "religious": raw["religious"].astype("int64"),
            "educ": raw["educ"].astype("int64"),
            "occupation": raw["occupation"].astype("int64").map(FAIR_OCCUPATIONS),
            "occupation_husb": raw["occupation_husb"].astype("int64").map(FAIR_OCCUPATIONS),
            "affairs": raw["affairs"].astype("float64"),
        }
    )
    schema = fair_schema()
    schema.validate(frame)
    return frame, schema
