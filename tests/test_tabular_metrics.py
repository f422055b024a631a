"""Tests of edu_gen.tabular.metrics against hand-computable cases and library identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from edu_gen.data.tables import asia, fair_label, grid, mixed, ring
from edu_gen.data.tables.schema import Column, Schema, schema_from
from edu_gen.tabular import metrics
from edu_gen.tabular.metrics import (
    MODELS,
    IndependentMarginals,
    association_difference,
    association_matrix,
    column_similarity,
    correlation_ratio,
    cramers_v,
    discrete_keys,
    distance_to_closest_record,
    feature_encoder,
    independent_marginals,
    likelihood_fitness,
    ml_utility,
    similarity,
    utility,
)

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """Train/test rows of the mixed simulated table (correlated columns, a binary label)."""
    source = mixed()
    return source.sample(1500, seed=0), source.sample(1000, seed=1), source.schema


def _shifted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["amount"] = out["amount"] + 2.0
    out["segment"] = out["segment"].map({"low": "mid", "mid": "high", "high": "low"})
    return out


# ----------------------------------------------------------------------------- similarity


def test_identical_tables_are_at_distance_zero(table) -> None:
    train, _, schema = table
    sim = column_similarity(train, train.copy(), schema)
    assert (sim["value"] == 0).all() and (sim["missing_gap"] == 0).all()
    assert set(sim["metric"]) == {"js_distance", "wasserstein"}
    assert sim.loc["spend", "metric"] == "wasserstein"  # mixed counts as numeric
    diff = association_difference(train, train.copy(), schema)
    assert diff.norm == 0 and diff.mean_abs == 0
    dcr = distance_to_closest_record(train, train.copy(), train.iloc[:100], schema)
    assert dcr.loc["synthetic", "median"] == 0 and dcr.loc["synthetic", "exact"] == 1


def test_shifted_tables_are_farther(table) -> None:
    train, _, schema = table
    sim = column_similarity(train, _shifted(train), schema)
    span = np.ptp(train["amount"])
    assert sim.loc["amount", "value"] == pytest.approx(2.0 / span, rel=1e-9)  # pure shift
    assert sim.loc["segment", "value"] > 0.2
    assert sim.loc[["spend", "channel", "rating", "label"], "value"].eq(0).all()
    # A shift and a relabelling move the marginals but keep every association ...
    assert association_difference(train, _shifted(train), schema).norm < 1e-12
    # ... while breaking the tie between amount and segment changes it.
    broken = train.assign(segment=train["segment"].sample(frac=1, random_state=0).to_numpy())
    diff = association_difference(train, broken, schema)
    assert diff.difference.loc["amount", "segment"] > 0.7 and diff.norm > 1.0


def _js_hand_case() -> None:
    """p = (1, 0), q = (1/2, 1/2): JSD = 1/2 KL(p||m) + 1/2 KL(q||m) with m = (3/4, 1/4)."""
    real = pd.DataFrame({"c": ["a"] * 4})
    syn = pd.DataFrame({"c": ["a", "b"] * 2})
    schema = schema_from({"c": "categorical"})
    divergence = 0.5 * np.log2(4 / 3) + 0.5 * (0.5 * np.log2(2 / 3) + 0.5 * np.log2(2))
    value = column_similarity(real, syn, schema).loc["c", "value"]
    assert value == pytest.approx(np.sqrt(divergence), abs=1e-12)


def test_js_distance_hand_case() -> None:
    _js_hand_case()
    real = pd.DataFrame({"c": ["a", "a"]})
    schema = schema_from({"c": "categorical"})
    assert column_similarity(real, pd.DataFrame({"c": ["b"]}), schema).iloc[0]["value"] == 1.0


def test_js_mutant_returning_the_divergence_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def squared(p, q, base):
        return jensenshannon(p, q, base) ** 2

    monkeypatch.setattr(similarity, "jensenshannon", squared)
    with pytest.raises(AssertionError):
        _js_hand_case()


def test_wasserstein_uses_the_real_range_and_ignores_nan() -> None:
    schema = schema_from({"v": "continuous"})
    real = pd.DataFrame({"v": [0.0, 10.0, np.nan]})
    syn = pd.DataFrame({"v": [5.0, 15.0]})
    row = column_similarity(real, syn, schema).loc["v"]
    assert row["value"] == pytest.approx(0.5) and row["missing_gap"] == pytest.approx(1 / 3)
    discrete = schema_from({"c": "categorical"})
    keys = column_similarity(
        pd.DataFrame({"c": [1, 2, np.nan]}), pd.DataFrame({"c": [1.0, 2.0, np.nan]}), discrete
    )
    assert keys.loc["c", "value"] == 0  # 1 and 1.0 are one category, NaN its own
    with pytest.raises(ValueError, match="synthetic.*'v' has no value"):
        column_similarity(real, pd.DataFrame({"v": [np.nan]}), schema)


# ----------------------------------------------------------------------------- associations


def test_association_measures_against_scipy() -> None:
    rng = np.random.default_rng(0)
    groups = pd.Series(rng.choice(["a", "b", "c"], 300))
    values = pd.Series(groups.map({"a": 0.0, "b": 1.0, "c": 3.0}) + rng.normal(0, 1, 300))
    f = stats.f_oneway(*(values[groups == g] for g in "abc")).statistic
    eta2 = f * 2 / (f * 2 + 300 - 3)  # ANOVA identity eta^2 = F(k-1) / (F(k-1) + n - k)
    assert correlation_ratio(groups, values) == pytest.approx(np.sqrt(eta2), rel=1e-10)
    assert correlation_ratio(groups, pd.Series(np.ones(300))) == 0.0
    same = pd.Series(["x", "y"] * 50)
    assert cramers_v(same, same.map({"x": "p", "y": "q"})) == pytest.approx(1.0)
    assert cramers_v(same, pd.Series(["k"] * 100)) == 0.0
    frame = pd.DataFrame({"u": values, "w": 2 * values + rng.normal(0, 1, 300), "g": groups})
    schema = schema_from({"u": "continuous", "w": "continuous", "g": "categorical"})
    matrix = association_matrix(frame, schema)
    assert matrix.loc["u", "w"] == pytest.approx(np.corrcoef(frame["u"], frame["w"])[0, 1])
    assert matrix.loc["g", "u"] == matrix.loc["u", "g"] == correlation_ratio(groups, values)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)


def test_independent_marginals_keep_marginals_and_destroy_association(table) -> None:
    train, _, schema = table
    fake = independent_marginals(train, 8000, seed=1)
    assert list(fake.columns) == list(train.columns)
    assert (fake.dtypes == train.dtypes).all()
    assert column_similarity(train, fake, schema)["value"].max() < 0.03
    real_assoc = association_matrix(train, schema)
    assert real_assoc.loc["amount", "segment"] > 0.8  # the table is correlated ...
    diff = association_difference(train, fake, schema)
    assert diff.synthetic.loc["amount", "segment"] < 0.05  # ... the baseline is not
    assert diff.norm > 1.0 and diff.mean_abs > 0.1
    with_nan = mixed(missing=0.2).sample(2000, seed=3)
    resampled = IndependentMarginals().fit(with_nan).sample(5000, seed=0)
    assert resampled["spend"].isna().mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(RuntimeError, match="fit"):
        IndependentMarginals().sample(3)


# ----------------------------------------------------------------------------- ML utility


def test_ml_utility_real_beats_shuffled_labels(table) -> None:
    train, test, schema = table
    shuffled = train.copy()
    shuffled["label"] = np.random.default_rng(0).permutation(shuffled["label"].to_numpy())
    result = ml_utility(train, test, shuffled, schema, models=("linear", "tree"), seed=0)
    assert list(result.columns) == ["real", "synthetic", "difference"]
    assert set(result.index.get_level_values("metric")) == {"accuracy", "f1", "auc"}
    auc = result.xs("auc", level="metric")
    # A model fitted to noise labels still ranks by some mix of informative features, so its
    # AUC strays from 0.5 more than a coin would; it stays far below the real-trained model.
    assert (auc["real"] > 0.75).all() and (auc["synthetic"] < 0.7).all()
    assert (auc["real"] - auc["synthetic"] > 0.15).all()
    np.testing.assert_allclose(result["difference"], result["real"] - result["synthetic"])
    same = ml_utility(train, test, train, schema, models=("linear",), seed=0)
    np.testing.assert_allclose(same["difference"], 0.0, atol=1e-12)


def test_ml_utility_label_from_an_excluded_target() -> None:
    """The fair-style task: a label derived from a mixed column that is not a feature."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=1200)
    amount = np.where(x + rng.normal(0, 0.5, 1200) > 0.3, np.exp(x), 0.0)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=1200), "affairs": amount})
    schema = Schema(
        (
            Column("x", "continuous"),
            Column("noise", "continuous"),
            Column("affairs", "mixed", (0.0,)),
        )
    )
    train, test = frame.iloc[:800], frame.iloc[800:]
    seen: list[list[str]] = []
    original = utility._fit

    def spy(model, x_frame, y, encoder, task):
        seen.append(list(x_frame.columns))
        return original(model, x_frame, y, encoder, task)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utility, "_fit", spy)
        result = ml_utility(
            train, test, train, schema, target="affairs", label=fair_label, models=MODELS
        )
    assert len(seen) == 2 * len(MODELS)
    assert all(cols == ["x", "noise"] for cols in seen)  # the target never is a feature
    auc = result.xs("auc", level="metric")
    assert (auc["real"] > 0.8).all() and (auc["difference"] == 0).all()


def test_ml_utility_regression_and_multiclass(table) -> None:
    train, test, schema = table
    reg = ml_utility(
        train, test, train, schema, target="amount", task="regression", models=("linear", "forest")
    )
    assert set(reg.index.get_level_values("metric")) == {"mape", "evs", "r2"}
    assert (reg.xs("r2", level="metric")["real"] > 0.8).all()
    multi = ml_utility(
        train, test, independent_marginals(train, 1500, 2), schema,
        target="segment", task="multiclass", models=("tree",),
    )  # fmt: skip
    auc = multi.loc[("tree", "auc")]
    assert auc["real"] > 0.85 and auc["synthetic"] < 0.65


def test_ml_utility_synthetic_with_one_class_predicts_the_prior(table) -> None:
    train, test, schema = table
    collapsed = train.copy()
    collapsed["label"] = True
    result = ml_utility(train, test, collapsed, schema, models=("linear",))
    assert result.loc[("linear", "auc"), "synthetic"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"target": "nope"}, "target"),
        ({"target": "amount"}, "target"),  # continuous target without a label function
        ({"label": lambda s: s == s}, "label"),  # a single class
        ({"target": "segment"}, "label"),  # binary task with 3 classes
        ({"task": "ranking"}, "task"),
        ({"models": ("svm",)}, "models"),
        ({"label": 3}, "label"),
        ({"seed": -1}, "seed"),
    ],
)
def test_ml_utility_rejects_bad_arguments(table, kwargs: dict, argument: str) -> None:
    train, test, schema = table
    with pytest.raises(ValueError, match=argument):
        ml_utility(train, test, train, schema, **({"models": ("linear",)} | kwargs))


def test_frames_must_match_the_schema(table) -> None:
    train, test, schema = table
    for argument, position in (("train", 0), ("test", 1), ("synthetic", 2)):
        frames = [train, test, train]
        frames[position] = train.drop(columns="rating")
        with pytest.raises(ValueError, match=f"{argument}: columns differ.*rating"):
            ml_utility(*frames, schema, models=("linear",))
    extra = train.assign(bonus=1.0)
    with pytest.raises(ValueError, match="synthetic.*unexpected \\['bonus'\\]"):
        column_similarity(train, extra, schema)
    wrong = train.assign(amount=train["amount"].astype(str))
    with pytest.raises(ValueError, match="real: column 'amount'"):
        association_difference(wrong, train, schema)
    with pytest.raises(ValueError, match="holdout"):
        distance_to_closest_record(train, train, train.iloc[:0], schema)


# ----------------------------------------------------------------------------- likelihood


def test_likelihood_fitness_on_mixtures() -> None:
    model = ring()
    test = model.sample(1000, seed=1)
    good = likelihood_fitness(model, model.sample(2000, seed=2), test)
    expected = model.log_likelihood(model.sample(20_000, seed=3)).mean()  # -entropy
    assert good.l_syn == pytest.approx(expected, abs=0.06) and good.impossible == 0
    assert good.l_test == pytest.approx(expected, abs=0.1)
    collapsed = grid().sample(2000, seed=2) / 4  # wrong spread: few rows near the ring
    bad = likelihood_fitness(model, collapsed, test)
    assert bad.l_syn < good.l_syn - 0.5 and bad.l_test < good.l_test - 0.5


def test_likelihood_fitness_on_asia_counts_impossible_rows() -> None:
    net = asia()
    test = net.sample(2000, seed=1)
    good = likelihood_fitness(net, net.sample(3000, seed=2), test)
    states = net.all_states()
    p = np.exp(net.log_likelihood(states))
    neg_entropy = float((p[p > 0] * np.log(p[p > 0])).sum())
    assert good.impossible == 0 and good.l_syn == pytest.approx(neg_entropy, abs=0.08)
    broken = net.sample(3000, seed=2)
    broken["either"] = "no"  # violates either = tub or lung on the rows with a disease
    bad = likelihood_fitness(net, broken, test)
    share = ((broken["tub"] == "yes") | (broken["lung"] == "yes")).mean()
    assert bad.impossible == pytest.approx(share) and bad.impossible > 0.03
    assert bad.l_test < good.l_test
    fake = independent_marginals(net.sample(3000, seed=4), 3000, seed=0)
    assert likelihood_fitness(net, fake, test).impossible > 0.03


def test_likelihood_fitness_rejects_a_table_without_density(table) -> None:
    train, test, _ = table
    with pytest.raises(ValueError, match="model_table"):
        likelihood_fitness(mixed(), train, test)


# ----------------------------------------------------------------------------- privacy and encoding


def test_distance_to_closest_record(table) -> None:
    train, test, schema = table
    copies = train.sample(300, random_state=0)
    noisy = copies.assign(amount=copies["amount"] + 0.5)
    dcr = distance_to_closest_record(train, copies, test, schema)
    assert dcr.loc["synthetic", "exact"] == 1 and dcr.loc["synthetic", "p5"] == 0
    assert dcr.loc["holdout", "exact"] == 0 and dcr.loc["holdout", "median"] > 0
    moved = distance_to_closest_record(train, noisy, test, schema)
    assert moved.loc["synthetic", "exact"] == 0
    assert moved.loc["synthetic", "median"] > dcr.loc["synthetic", "median"]
    assert list(moved.columns) == ["p5", "median", "exact"]


def test_feature_encoder_handles_nan_unseen_categories_and_point_masses() -> None:
    schema = Schema(
        (Column("c", "categorical"), Column("m", "mixed", (0.0,)), Column("v", "continuous"))
    )
    fit_rows = pd.DataFrame({"c": ["a", "b", np.nan], "m": [0.0, 2.0, 4.0], "v": [1.0, np.nan, 3]})
    encoder = feature_encoder(schema, schema.names).fit(fit_rows)
    new = pd.DataFrame({"c": ["z"], "m": [0.0], "v": [np.nan]})
    out = encoder.transform(new)
    assert np.isfinite(out).all()
    assert out.shape[1] == 3 + 2 + 1 + 1  # one-hot a/b/<missing>, m and v scaled, v-missing, m==0
    assert out[0, :3].tolist() == [0.0, 0.0, 0.0]  # unseen category: all zeros
    assert out[0, -1] == 1.0  # the point-mass indicator
    assert discrete_keys(pd.Series([1, True, "x", np.nan], dtype=object)).tolist() == [
        "1.0",
        "True",
        "x",
        metrics.MISSING,
    ]
