"""The Chow-Liu tree baseline (CLBN): structure recovery, likelihood, sampling, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edu_gen.data import tables
from edu_gen.data.tables.bayesnet import BayesianNetwork, Node
from edu_gen.data.tables.schema import Column, Schema
from edu_gen.tabular import metrics
from edu_gen.tabular.metrics import ChowLiuTree


def chain() -> BayesianNetwork:
    """a -> b -> c -> d (and e hanging off b): a tree whose edges Chow-Liu must recover."""
    s = ("0", "1", "2")
    copy = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    return BayesianNetwork(
        "chain",
        [
            Node("a", s, (), np.array([0.5, 0.3, 0.2])),
            Node("b", s, ("a",), copy),
            Node("c", s, ("b",), copy[::-1]),
            Node("d", s, ("c",), copy),
            Node("e", s, ("b",), copy[:, [1, 2, 0]]),
        ],
    )


def undirected(edges):
    return {frozenset(e) for e in edges}


def test_recovers_the_true_tree_of_a_simulated_chain():
    net = chain()
    cl = ChowLiuTree(net.schema).fit(net.sample(5000, seed=0))
    assert undirected(cl.edges_) == {
        frozenset(e) for e in [("a", "b"), ("b", "c"), ("c", "d"), ("b", "e")]
    }
    assert len(cl.edges_) == len(net.columns) - 1
    mi = cl.mutual_information_
    assert np.allclose(mi.to_numpy(), mi.to_numpy().T) and (mi.to_numpy() >= 0).all()


def test_mutual_information_closed_forms():
    x = np.arange(1000) % 4
    assert metrics.mutual_information(x, x, 4, 4) == pytest.approx(np.log(4))
    assert metrics.mutual_information(x, np.zeros(1000, dtype=int), 4, 1) == pytest.approx(0.0)


def test_likelihood_on_asia_approaches_the_true_network():
    net = tables.asia()
    test = net.sample(5000, seed=1)
    cl = ChowLiuTree(net.schema).fit(net.sample(20_000, seed=0))
    true, tree = net.log_likelihood(test).mean(), cl.log_likelihood(test).mean()
    marg = net.sample(20_000, seed=0)
    indep_ll = sum(
        np.log(marg[c].value_counts(normalize=True).reindex(test[c]).to_numpy())
        for c in net.columns
    ).mean()
    # a tree cannot hold Asia's two-parent nodes exactly, but it comes close (< 0.1 nats/row)
    assert true - 0.1 < tree < true + 0.01
    assert tree > indep_ll + 0.3  # and far above independent columns


def test_discrete_log_likelihood_is_a_normalised_distribution():
    net = chain()
    cl = ChowLiuTree(net.schema, alpha=0.5).fit(net.sample(500, seed=0))
    p = np.exp(cl.log_likelihood(net.all_states()))
    assert p.sum() == pytest.approx(1.0)


def test_continuous_density_integrates_to_one_and_samples_stay_in_range():
    ring = tables.ring()
    train = ring.sample(2000, seed=0)
    cl = ChowLiuTree(ring.schema, bins=10).fit(train)
    rows = cl.sample(3000, seed=1)
    assert list(rows.columns) == ["x", "y"] and rows.notna().all().all()
    for c in ("x", "y"):
        assert train[c].min() <= rows[c].min() and rows[c].max() <= train[c].max()
    # midpoint rule on the fitted grid: the density is constant on each cell, so it is exact
    ex, ey = (cl._coders[c].edges for c in ("x", "y"))
    mx, my = (ex[1:] + ex[:-1]) / 2, (ey[1:] + ey[:-1]) / 2
    gx, gy = np.meshgrid(mx, my)
    density = np.exp(cl.log_likelihood(pd.DataFrame({"x": gx.ravel(), "y": gy.ravel()})))
    assert (density * np.diff(ex)[0] * np.diff(ey)[0]).sum() == pytest.approx(1.0)
    # and on the ring it beats independent columns on held-out rows
    fit = metrics.likelihood_fitness(ring, rows, ring.sample(2000, seed=2))
    marg = metrics.likelihood_fitness(
        ring, metrics.independent_marginals(train, 3000), ring.sample(2000, seed=2)
    )
    assert fit.l_syn > marg.l_syn


def test_mixed_column_keeps_its_point_mass_and_sampling_is_seeded():
    rng = np.random.default_rng(0)
    x = np.where(rng.random(1000) < 0.4, 0.0, rng.exponential(1.0, 1000) + 0.1)
    label = np.where(x == 0, "none", "some")
    frame = pd.DataFrame({"x": x, "label": label})
    schema = Schema((Column("x", "mixed", point_masses=(0.0,)), Column("label", "categorical")))
    cl = ChowLiuTree(schema).fit(frame)
    rows = cl.sample(4000, seed=3)
    assert ((rows["x"] == 0) == (rows["label"] == "none")).mean() > 0.97
    assert abs((rows["x"] == 0).mean() - 0.4) < 0.05
    pd.testing.assert_frame_equal(rows, cl.sample(4000, seed=3))


def test_bad_inputs():
    net = chain()
    with pytest.raises(TypeError, match="schema"):
        ChowLiuTree(net.columns)
    with pytest.raises(ValueError, match="bins"):
        ChowLiuTree(net.schema, bins=1)
    with pytest.raises(ValueError, match="alpha"):
        ChowLiuTree(net.schema, alpha=0)
    with pytest.raises(RuntimeError, match="fit"):
        ChowLiuTree(net.schema).sample(3)
    cl = ChowLiuTree(net.schema).fit(net.sample(200, seed=0))
    with pytest.raises(ValueError, match="unseen"):
        cl.log_likelihood(net.sample(5, seed=0).assign(a="9"))
    with pytest.raises(ValueError, match="columns differ"):
        cl.log_likelihood(net.sample(5, seed=0).drop(columns="a"))
