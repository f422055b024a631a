"""Tests of edu_gen.data.tables.schema: columns, inference, overrides and validation messages."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from edu_gen.data.tables.schema import Column, Schema, schema_from


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    spend = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(0, 1, n))
    return pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),  # many values -> continuous
            "spend": spend,  # 40% zeros -> mixed at 0
            "rating": rng.integers(1, 6, n),  # 5 values -> categorical
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),  # text -> categorical
            "member": rng.random(n) < 0.5,  # bool -> categorical
        }
    )


# ----------------------------------------------------------------------------- Column / Schema


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "kind": "continuous"}, "name"),
        ({"name": "a", "kind": "numeric"}, "'a': kind expected one of"),
        ({"name": "a", "kind": "mixed"}, "'a': a mixed column needs at least one point mass"),
        ({"name": "a", "kind": "continuous", "point_masses": (0.0,)}, "only for kind='mixed'"),
        ({"name": "a", "kind": "mixed", "point_masses": (0.0, 0.0)}, "distinct finite"),
        ({"name": "a", "kind": "mixed", "point_masses": (np.nan,)}, "distinct finite"),
        ({"name": "a", "kind": "continuous", "categories": (1, 2)}, "categorical/ordinal"),
    ],
)
def test_bad_columns_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Column(**kwargs)


def test_schema_construction_and_access() -> None:
    schema = schema_from(
        {
            "a": "continuous",
            "b": "ordinal",
            "c": Column("c", "mixed", (0.0, 1.0)),
            "d": "categorical",
        },
        target="d",
    )
    assert schema.names == ["a", "b", "c", "d"] and len(schema) == 4 and "c" in schema
    assert schema.numeric == ["a", "c"] and schema.discrete == ["b", "d"]
    assert schema.of_kind("mixed", "ordinal") == ["b", "c"]
    assert schema["c"].point_masses == (0.0, 1.0) and schema.target == "d"
    assert [c.name for c in schema] == schema.names
    assert schema.with_target(None).target is None
    assert pickle.loads(pickle.dumps(schema)) == schema
    with pytest.raises(KeyError, match="'z' is not in the schema"):
        schema["z"]
    with pytest.raises(ValueError, match="kinds"):
        schema.of_kind("numeric")


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Schema(()), ValueError, "at least one Column"),
        (lambda: Schema((Column("a", "continuous"),) * 2), ValueError, "duplicate.*'a'"),
        (lambda: Schema((Column("a", "continuous"),), target="b"), ValueError, "target: 'b'"),
        (lambda: Schema(("a",)), TypeError, "Column objects"),
    ],
)
def test_bad_schemas_are_rejected(build, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build()


def test_override(frame: pd.DataFrame) -> None:
    schema = Schema.infer(frame)
    changed = schema.override({"rating": "ordinal", "income": Column("income", "mixed", (50.0,))})
    assert changed["rating"].kind == "ordinal" and changed["income"].point_masses == (50.0,)
    back = changed.override({"income": "continuous"})
    assert back["income"].kind == "continuous" and back["income"].point_masses == ()
    assert schema["city"] == changed["city"]
    with pytest.raises(ValueError, match="overrides: unknown column.*'nope'"):
        schema.override({"nope": "continuous"})
    with pytest.raises(ValueError, match="Column is named 'x'"):
        schema.override({"income": Column("x", "continuous")})
    with pytest.raises(ValueError, match="needs at least one point mass"):
        schema.override({"income": "mixed"})


# ----------------------------------------------------------------------------- inference


def test_infer_guesses_every_kind(frame: pd.DataFrame) -> None:
    schema = Schema.infer(frame, target="member")
    kinds = {c.name: c.kind for c in schema}
    assert kinds == {
        "income": "continuous",
        "spend": "mixed",
        "rating": "categorical",
        "city": "categorical",
        "member": "categorical",
    }
    assert schema["spend"].point_masses == (0.0,) and schema.target == "member"
    assert Schema.infer(frame, max_categories=3)["rating"].kind == "mixed"  # >3 values, ties
    assert Schema.infer(frame, mass_share=0.5)["spend"].kind == "continuous"
    over = Schema.infer(frame, overrides={"rating": "ordinal"})
    assert over["rating"].kind == "ordinal"


def test_infer_on_fair_gives_the_documented_guess() -> None:
    from edu_gen.data.tables import fair

    data, declared = fair()
    guessed = Schema.infer(data)
    assert guessed["affairs"].kind == "mixed" and guessed["affairs"].point_masses == (0.0,)
    assert guessed["age"].kind == "categorical"  # binned: 6 values, hence declared by hand
    assert declared["age"].kind == "continuous"


def test_infer_rejects_bad_frames() -> None:
    with pytest.raises(TypeError, match="frame: expected a pandas DataFrame"):
        Schema.infer([[1, 2]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame: expected at least one row"):
        Schema.infer(pd.DataFrame({"a": []}))
    with pytest.raises(ValueError, match="'gone': every value is missing"):
        Schema.infer(pd.DataFrame({"a": [1.0, 2.0], "gone": [np.nan, np.nan]}))


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("columns", "data", "message"),
    [
        # unknown column: the schema names one the frame lacks, or the frame has an extra one
        ((Column("a", "continuous"), Column("b", "continuous")), {"a": [1.0, 2.0]}, r"\['b'\]"),
        ((Column("a", "continuous"),), {"a": [1.0, 2.0], "x": [1, 2]}, r"frame has.*\['x'\]"),
        # wrong type: text in a numeric column, or ±inf
        ((Column("a", "continuous"),), {"a": ["1", "2"]}, "'a': declared continuous but holds"),
        ((Column("a", "mixed", (0.0,)),), {"a": [True, False]}, "'a': declared mixed"),
        ((Column("a", "continuous"),), {"a": [1.0, np.inf]}, "'a': contains ±inf"),
        # all-NaN column
        ((Column("a", "continuous"),), {"a": [np.nan, np.nan]}, "'a': every value is missing"),
        # a categorical with a single value
        ((Column("c", "categorical"),), {"c": ["x", "x", np.nan]}, "'c': a categorical column"),
        # a point mass that never occurs
        ((Column("m", "mixed", (0.0,)),), {"m": [0.5, 1.5]}, r"'m': point mass\(es\) \[0.0\]"),
        # values outside the declared categories
        ((Column("o", "ordinal", categories=(1, 2)),), {"o": [1, 2, 3]}, "'o': values \\[3\\]"),
    ],
)
def test_validate_rejects_with_a_clear_message(columns, data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schema(columns).validate(pd.DataFrame(data))


def test_validate_accepts_good_frames_and_nan(frame: pd.DataFrame) -> None:
    schema = Schema.infer(frame)
    holes = frame.copy()
    holes.loc[::7, "income"] = np.nan
    holes.loc[::5, "city"] = np.nan
    schema.validate(holes)
    ints_as_floats = Schema((Column("o", "ordinal", categories=(1, 2, 3)),))
    ints_as_floats.validate(pd.DataFrame({"o": [1.0, 3.0]}))
    with pytest.raises(TypeError, match="frame"):
        schema.validate(frame.to_numpy())  # type: ignore[arg-type]


def test_validate_mutant_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A validate that forgot the point-mass check must fail the 'never occurs' case."""
    original = Schema.validate

    def forgetful(self: Schema, frame: pd.DataFrame) -> None:
        relaxed = Schema(
            tuple(Column(c.name, "continuous") if c.kind == "mixed" else c for c in self.columns)
        )
        original(relaxed, frame)

    monkeypatch.setattr(Schema, "validate", forgetful)
    schema = Schema((Column("m", "mixed", (0.0,)),))
    with pytest.raises(pytest.fail.Exception):
        with pytest.raises(ValueError, match="never occur"):
            schema.validate(pd.DataFrame({"m": [0.5, 1.5]}))


def test_categories_of(frame: pd.DataFrame) -> None:
    schema = Schema.infer(frame).override(
        {"rating": Column("rating", "ordinal", categories=(5, 4, 3, 2, 1))}
    )
    assert schema.categories_of("rating") == [5, 4, 3, 2, 1]  # declared order kept
    assert schema.categories_of("city", frame) == ["Lima", "Oslo", "Pune"]
    mixed_types = pd.DataFrame({"c": ["b", 2, "a", 1.5]})
    assert Schema.infer(mixed_types).categories_of("c", mixed_types) == [1.5, 2, "a", "b"]
    with pytest.raises(ValueError, match="pass frame"):
        schema.categories_of("city")
    with pytest.raises(ValueError, match="'income': is continuous"):
        schema.categories_of("income", frame)


# ----------------------------------------------------------------------------- edge cases


def test_infer_on_integer_column_labels() -> None:
    frame = pd.DataFrame({0: np.arange(30.0), 1: ["a", "b"] * 15})
    with pytest.raises(ValueError, match="column names must be strings"):
        Schema.infer(frame)


def test_repeated_categories_are_rejected() -> None:
    with pytest.raises(ValueError, match="categories"):
        Column("c", "categorical", categories=("x", "x"))


def test_validate_names_an_empty_frame() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        Schema((Column("a", "continuous"),)).validate(
            pd.DataFrame({"a": pd.Series([], dtype=float)})
        )


def test_mixed_column_without_continuous_part_is_rejected() -> None:
    frame = pd.DataFrame({"m": [0.0] * 10, "c": ["a", "b"] * 5})
    schema = Schema((Column("m", "mixed", point_masses=(0.0,)), Column("c", "categorical")))
    with pytest.raises(ValueError, match="no continuous part"):
        schema.validate(frame)
