"""Tests for tabular.encoding (transformer, sampler) (chapter 10a).

Oracles: scipy.stats.norm for the mixture responsibilities, chi-square goodness-of-fit tests
(scipy.stats.chisquare) for every sampling law, and the ``ctgan`` package's DataTransformer
(test-only, skipped when absent) for the one-hot encoding. Each sampling test also checks
that a planted wrong sampler is rejected, so the tests bite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import chisquare, norm

from edu_gen.data.tables.schema import Column, Schema
from edu_gen.tabular.encoding import (
    ALPHA_LIMIT,
    ConditionalSampler,
    DataTransformer,
    category_probabilities,
    mode_denormalize,
    mode_log_responsibilities,
    mode_normalize,
    sample_modes,
)

P_MIN = 1e-4  # a correct sampler fails a chi-square test at this level once in 10,000 runs


def table(n: int = 1500, seed: int = 0, nan: bool = True) -> tuple[pd.DataFrame, Schema]:
    r = np.random.default_rng(seed)
    comp = r.random(n) < 0.4
    frame = pd.DataFrame(
        {
            "bimodal": np.where(comp, r.normal(-3, 0.5, n), r.normal(4, 1.0, n)),
            "spend": np.where(r.random(n) < 0.5, 0.0, r.exponential(5.0, n)),
            "count": r.poisson(20, n).astype("int64"),
            "colour": r.choice(["red", "green", "blue"], n, p=[0.6, 0.35, 0.05]),
            "rating": r.choice([1, 2, 3, 4, 5], n).astype("int64"),
            "flag": r.random(n) < 0.3,
        }
    )
    frame.loc[r.random(n) < 0.1, "spend"] = -1.0  # a second point mass
    if nan:
        frame.loc[r.random(n) < 0.05, "bimodal"] = np.nan
        frame.loc[r.random(n) < 0.05, "spend"] = np.nan  # mixed: point masses and NaN
        frame["colour"] = frame["colour"].astype(object)
        frame.loc[r.random(n) < 0.05, "colour"] = np.nan
    schema = Schema(
        (
            Column("bimodal", "continuous"),
            Column("spend", "mixed", point_masses=(0.0, -1.0)),
            Column("count", "continuous"),
            Column("colour", "categorical", categories=("red", "green", "blue")),
            Column("rating", "ordinal"),
            Column("flag", "categorical"),
        )
    )
    return frame, schema


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, DataTransformer, np.ndarray]:
    frame, schema = table()
    tr = DataTransformer(schema, seed=0).fit(frame)
    return frame, tr, tr.transform(frame)


# ------------------------------------------------------------------ layout and round trip
def test_layout_tiles_the_matrix(fitted):
    frame, tr, x = fitted
    assert x.dtype == np.float32 and x.shape == (len(frame), tr.output_dim)
    spans = tr.output_info
    assert spans[0].start == 0 and spans[-1].end == tr.output_dim
    assert all(a.end == b.start for a, b in zip(spans[:-1], spans[1:], strict=True))
    for s in spans:
        block = x[:, s.start : s.end]
        if s.activation == "tanh":
            assert s.role == "value" and s.width == 1 and np.abs(block).max() <= ALPHA_LIMIT
        else:
            assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(1) == 1).all()
    assert [s.column for s in tr.discrete_spans] == ["colour", "rating", "flag"]
    assert [s.column for s in tr.mode_spans] == ["bimodal", "spend", "count"]
    # colour: the schema's order plus a NaN slot; spend: 2 point masses + mixture modes
    assert tr.categories("colour")[:3] == ["red", "green", "blue"]
    assert np.isnan(tr.categories("colour")[3])
    info = tr.numeric_info("spend")
    assert info.n_modes == 2 + len(info.means) + 1 and info.has_nan
    assert tr.numeric_info("bimodal").has_nan


def test_round_trip_is_exact(fitted):
    frame, tr, x = fitted
    back = tr.inverse_transform(x)
    assert list(back.columns) == list(frame.columns)
    assert (back.dtypes == frame.dtypes).all()
    for name in ("colour", "rating", "flag"):
        pd.testing.assert_series_equal(back[name], frame[name])
    spend, spend_back = frame["spend"].to_numpy(), back["spend"].to_numpy()
    mass = np.isin(spend, (0.0, -1.0))
    assert (spend_back[mass] == spend[mass]).all()  # point masses exactly
    for name in ("bimodal", "spend", "count"):
        a, b = frame[name].to_numpy(float), back[name].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all()
        ok = ~np.isnan(a)
        np.testing.assert_allclose(b[ok], a[ok], rtol=0, atol=1e-6 * np.nanstd(a))
    assert (back["count"] == frame["count"]).all()  # integers round back exactly


def test_point_masses_and_nan_have_their_own_modes(fitted):
    frame, tr, x = fitted
    value, modes = tr.spans_of("spend")
    slot = x[:, modes.start : modes.end].argmax(1)
    spend = frame["spend"].to_numpy()
    assert (slot[spend == 0.0] == 0).all() and (slot[spend == -1.0] == 1).all()
    assert (slot[~np.isin(spend, (0.0, -1.0))] >= 2).all()
    assert (x[np.isin(spend, (0.0, -1.0)), value.start] == 0).all()
    assert (slot[np.isnan(spend)] == modes.width - 1).all()  # NaN: the last mode
    value, modes = tr.spans_of("bimodal")
    nan = frame["bimodal"].isna().to_numpy()
    assert (x[nan, modes.end - 1] == 1).all() and (x[~nan, modes.end - 1] == 0).all()


def test_transform_is_seeded(fitted):
    frame, tr, x = fitted
    np.testing.assert_array_equal(tr.transform(frame), x)
    assert not np.array_equal(tr.transform(frame, seed=1), x)  # ambiguous values move


def test_constant_and_integer_columns_round_trip():
    frame = pd.DataFrame({"c": np.full(50, 7.25), "k": np.arange(50) % 2})
    schema = Schema((Column("c", "continuous"), Column("k", "categorical")))
    tr = DataTransformer(schema).fit(frame)
    back = tr.inverse_transform(tr.transform(frame))
    pd.testing.assert_frame_equal(back, frame)


def test_heavy_tails_round_trip_exactly():
    """Tail values that no fitted mode covers widen a mode instead of being clipped."""
    r = np.random.default_rng(1)
    frame = pd.DataFrame({"t": r.standard_t(1.2, 5000)})
    tr = DataTransformer(Schema((Column("t", "continuous"),)), max_fit_rows=500).fit(frame)
    assert tr.numeric_info("t").widened > 0
    back = tr.inverse_transform(tr.transform(frame))["t"].to_numpy()
    x = frame["t"].to_numpy()
    info = tr.numeric_info("t")
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-6 * info.stds.max())
    assert tr.clipped == 0


def test_outliers_of_new_data_are_clipped_and_counted(fitted):
    frame, tr, _ = fitted
    new = frame.iloc[:3].copy()
    new["bimodal"] = [1e6, -1e6, 4.0]
    x = tr.transform(new)
    value = tr.spans_of("bimodal")[0]
    assert tr.clipped == 2
    np.testing.assert_allclose(np.abs(x[:2, value.start]), ALPHA_LIMIT, rtol=1e-6)


# ------------------------------------------------------------------ bad input
def test_bad_input_is_rejected(fitted):
    frame, tr, x = fitted
    with pytest.raises(RuntimeError, match="fit"):
        DataTransformer(tr.schema).transform(frame)
    with pytest.raises(ValueError, match="colour"):
        tr.transform(frame.assign(colour=["purple"] + list(frame["colour"].iloc[1:])))
    with pytest.raises(ValueError, match="missing values"):
        tr.transform(frame.assign(count=[np.nan] + list(frame["count"].iloc[1:].astype(float))))
    with pytest.raises(ValueError, match="lacks"):
        tr.transform(frame.drop(columns="flag"))
    with pytest.raises(ValueError, match="does not describe"):
        DataTransformer(tr.schema).fit(frame.assign(extra=1.0))
    with pytest.raises(ValueError, match="shape"):
        tr.inverse_transform(x[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        tr.inverse_transform(np.full_like(x, np.nan))
    with pytest.raises(TypeError, match="Schema"):
        DataTransformer({"a": "continuous"})
    with pytest.raises(ValueError, match="max_modes"):
        DataTransformer(tr.schema, max_modes=0)


# ------------------------------------------------------------------ the mixture
def test_finds_both_modes_of_a_clear_bimodal_column():
    frame, schema = table(n=3000, nan=False)
    tr = DataTransformer(schema, seed=3).fit(frame)
    info = tr.numeric_info("bimodal")
    near_a = np.abs(info.means + 3) < 1.5
    near_b = np.abs(info.means - 4) < 3.0
    assert (near_a | near_b).all()  # no mode in the empty gap between the two bumps
    assert abs(info.weights[near_a].sum() - 0.4) < 0.04
    # rows of the left bump are encoded with modes of the left bump
    x = tr.transform(frame)
    _, modes = tr.spans_of("bimodal")
    chosen = x[:, modes.start : modes.end].argmax(1)
    left = frame["bimodal"].to_numpy() < 0
    assert near_a[chosen[left]].mean() > 0.99 and near_b[chosen[~left]].mean() > 0.99


def test_responsibilities_match_scipy():
    means, stds, w = (
        np.array([-1.0, 0.5, 3.0]),
        np.array([0.5, 1.0, 2.0]),
        np.array([0.2, 0.5, 0.3]),
    )
    x = np.linspace(-4, 8, 50)
    joint = w * norm.pdf(x[:, None], means, stds)
    want = joint / joint.sum(1, keepdims=True)
    np.testing.assert_allclose(
        np.exp(mode_log_responsibilities(x, means, stds, w)), want, rtol=1e-10
    )
    # far in the tail the naive ratio underflows; the log-sum-exp form stays finite
    assert np.isfinite(mode_log_responsibilities(np.array([1e4]), means, stds, w)).all()


def test_normalize_and_denormalize_are_inverse():
    means, stds = np.array([-1.0, 2.0]), np.array([0.5, 3.0])
    x, modes = np.array([-1.2, 5.0, 2.0]), np.array([0, 1, 1])
    alpha = mode_normalize(x, modes, means, stds)
    np.testing.assert_allclose(alpha, [(-1.2 + 1) / 2.0, 3.0 / 12.0, 0.0])
    np.testing.assert_allclose(mode_denormalize(alpha, modes, means, stds), x)


def test_gumbel_max_samples_the_given_law():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    draws = sample_modes(np.log(np.tile(p, (20000, 1))), np.random.default_rng(0))
    counts = np.bincount(draws, minlength=4)
    assert chisquare(counts, 20000 * p).pvalue > P_MIN
    wrong = np.bincount(np.argmax(np.tile(p, (20000, 1)), 1), minlength=4)  # mutant: argmax
    assert chisquare(wrong, 20000 * p).pvalue < 1e-12


def test_mode_assignment_follows_the_responsibilities(fitted):
    """The encoder samples each value's mode from the posterior, not its argmax."""
    frame, tr, _ = fitted
    info = tr.numeric_info("bimodal")
    order = np.argsort(info.means)
    x0 = float(info.means[order[-1]] - 0.8 * info.stds[order[-1]])  # between right-hand modes
    alpha = (x0 - info.means) / (4 * info.stds)
    log_resp = mode_log_responsibilities(np.array([x0]), info.means, info.stds, info.weights)[0]
    resp = np.where(np.abs(alpha) <= ALPHA_LIMIT, np.exp(log_resp), 0.0)
    resp /= resp.sum()
    assert (resp > 0.02).sum() >= 2  # the test needs an ambiguous value
    n = 20000
    probe = frame.iloc[np.zeros(n, dtype=int)].assign(bimodal=x0)
    x = tr.transform(probe, seed=5)
    _, modes = tr.spans_of("bimodal")
    counts = np.bincount(x[:, modes.start : modes.end].argmax(1), minlength=modes.width)
    keep = resp > 0
    assert counts[: len(info.means)][~keep].sum() == 0
    assert chisquare(counts[: len(info.means)][keep], n * resp[keep]).pvalue > P_MIN


def test_agrees_with_the_ctgan_package_on_one_hots():
    pkg = pytest.importorskip("ctgan.data_transformer")
    frame, schema = table(n=400, nan=False)
    ours = DataTransformer(schema).fit(frame)
    x = ours.transform(frame)
    theirs = pkg.DataTransformer()
    theirs.fit(frame, discrete_columns=["colour", "rating", "flag"])
    y = theirs.transform(frame)
    start = 0
    for info in theirs._column_transform_info_list:
        width = info.output_dimensions
        if info.column_type == "discrete":
            (span,) = ours.spans_of(info.column_name)
            block, mine = y[:, start : start + width], x[:, span.start : span.end]
            # the same one-hot up to the order of the categories
            assert width == span.width
            perm = [int(np.flatnonzero((block == mine[:, [j]]).all(0))[0]) for j in range(width)]
            np.testing.assert_array_equal(block[:, perm], mine)
        start += width
    # both decode their own encoding back to the data (the package's continuous to ~1e-6)
    back = theirs.inverse_transform(y)
    np.testing.assert_allclose(back["bimodal"], frame["bimodal"], atol=1e-5)
    np.testing.assert_allclose(ours.inverse_transform(x)["bimodal"], frame["bimodal"], atol=1e-5)


# ------------------------------------------------------------------ the conditional sampler
@pytest.fixture(scope="module")
def sampler(fitted) -> ConditionalSampler:
    _, tr, x = fitted
    return ConditionalSampler(x, tr.discrete_spans, seed=0)


def test_condition_rows_are_consistent(fitted, sampler):
    _, tr, x = fitted
    c = sampler.sample_train(4000)
    assert c.cond.shape == (4000, sampler.cond_dim) and c.mask.shape == (4000, 3)
    assert (c.cond.sum(1) == 1).all() and (c.mask.sum(1) == 1).all()
    np.testing.assert_array_equal(c.mask.argmax(1), c.span)
    offsets = torch.as_tensor(sampler.offsets)
    np.testing.assert_array_equal(c.cond.argmax(1), offsets[c.span] + c.category)
    starts = np.array([s.start for s in tr.discrete_spans])
    picked = x[c.rows.numpy(), starts[c.span.numpy()] + c.category.numpy()]
    assert (picked == 1).all()  # every real row has the conditioned category


def test_training_conditions_use_log_frequency(fitted, sampler):
    n = 60000
    c = sampler.sample_train(n)
    assert chisquare(np.bincount(c.span, minlength=3), np.full(3, n / 3)).pvalue > P_MIN
    for j, counts in enumerate(np.split(sampler.counts, sampler.offsets[1:-1])):
        got = np.bincount(c.category[c.span == j], minlength=len(counts))
        total = got.sum()
        want = total * category_probabilities(counts, log_frequency=True)
        assert chisquare(got, want).pvalue > P_MIN
        if j == 0:  # colour has a 5% category: the real frequencies are rejected (mutant)
            real = total * category_probabilities(counts, log_frequency=False)
            assert chisquare(got, real).pvalue < 1e-12


def test_real_rows_are_uniform_within_a_category(fitted, sampler):
    frame, _, _ = fitted
    c = sampler.sample_train(60000)
    sel = (c.span == 0) & (c.category == 2)  # colour == "blue"
    rows = c.rows[sel].numpy()
    blue = np.flatnonzero((frame["colour"] == "blue").to_numpy())
    assert set(rows) <= set(blue)
    counts = np.bincount(np.searchsorted(blue, rows), minlength=len(blue))
    assert chisquare(counts).pvalue > P_MIN


def test_generation_uses_real_frequencies_by_default(fitted, sampler):
    n = 60000
    g = sampler.sample_generation(n, generator=torch.Generator().manual_seed(1))
    for j, counts in enumerate(np.split(sampler.counts, sampler.offsets[1:-1])):
        got = np.bincount(g.category[g.span == j], minlength=len(counts))
        want = got.sum() * category_probabilities(counts, log_frequency=False)
        assert chisquare(got[counts > 0], want[counts > 0]).pvalue > P_MIN
    # the package's rule: (column, category) pairs proportional to log(1 + n)
    g = sampler.sample_generation(n, frequency="log", generator=torch.Generator().manual_seed(2))
    ids = (torch.as_tensor(sampler.offsets)[g.span] + g.category).numpy()
    want = np.log1p(sampler.counts) / np.log1p(sampler.counts).sum()
    assert chisquare(np.bincount(ids, minlength=len(want)), n * want).pvalue > P_MIN
    with pytest.raises(ValueError, match="frequency"):
        sampler.sample_generation(3, frequency="uniform")


def test_sampler_edge_cases(fitted):
    frame, tr, x = fitted
    s = ConditionalSampler(x, [], seed=0)  # nothing to condition on: uniform rows
    c = s.sample_train(8)
    assert c.cond.shape == (8, 0) and c.rows.shape == (8,)
    schema = Schema((Column("k", "categorical", categories=("a", "b", "never")),))
    small = pd.DataFrame({"k": ["a"] * 30 + ["b"] * 10})
    t2 = DataTransformer(schema).fit(small)
    s2 = ConditionalSampler(t2.transform(small), t2.discrete_spans, seed=0)
    assert (s2.sample_train(5000).category < 2).all()  # a declared but absent category
    assert (s2.sample_generation(5000).category < 2).all()
    a = ConditionalSampler(x, tr.discrete_spans, seed=7).sample_train(50)
    b = ConditionalSampler(x, tr.discrete_spans, seed=7).sample_train(50)
    assert torch.equal(a.rows, b.rows) and torch.equal(a.cond, b.cond)
    with pytest.raises(ValueError, match="one-hot"):
        ConditionalSampler(x * 0.5, tr.discrete_spans)
    with pytest.raises(ValueError, match="batch"):
        s2.sample_train(0)
    with pytest.raises(ValueError, match="category"):
        s2.condition_on(0, 3, 4)
