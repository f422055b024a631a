"""A discrete Bayesian network with exact sampling and log-likelihood, and the Asia network.

``asia`` is the CTGAN benchmark's simulated categorical table (Xu et al., 2019).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_int
from edu_gen.data.tables.frames import Seed, as_rng, select_columns
from edu_gen.data.tables.schema import Column, Schema


@dataclass(frozen=True, eq=False)
class Node:
    """One variable of a discrete Bayesian network.

    ``cpt[i_1, ..., i_p, :]`` is ``P(node | parent_1 = states_1[i_1], ...)``: one axis per
    parent (in ``parents`` order, sized by that parent's states) and a last axis over
    ``states``.
    """

    name: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    cpt: np.ndarray


class BayesianNetwork:
    """A discrete Bayesian network ``p(x) = prod_i P(x_i | parents(x_i))``.

    Nodes must come in topological order (parents first). ``sample`` is ancestral sampling,
    vectorised over rows; ``log_likelihood`` is the exact ``sum_i log P(x_i | parents)``, which
    is ``-inf`` for a row the network gives probability 0 (e.g. a violated deterministic node).
    ``refit`` re-estimates every table from a frame with the same structure.
    """

    def __init__(self, name: str, nodes: Sequence[Node]) -> None:
        self.name = name
        self.nodes: tuple[Node, ...] = tuple(nodes)
        seen: dict[str, Node] = {}
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(f"nodes: duplicate node {node.name!r}")
            if len(node.states) < 2 or len(set(node.states)) != len(node.states):
                raise ValueError(f"node {node.name!r}: expected at least 2 distinct states")
            late = [p for p in node.parents if p not in seen]
            if late:
                raise ValueError(
                    f"node {node.name!r}: parents {late} must come earlier (topological order)"
                )
            shape = tuple(len(seen[p].states) for p in node.parents) + (len(node.states),)
            cpt = np.asarray(node.cpt, dtype=float)
            if cpt.shape != shape:
                raise ValueError(f"node {node.name!r}: cpt shape {cpt.shape}, expected {shape}")
            if (cpt < 0).any() or not np.allclose(cpt.sum(-1), 1.0):
                raise ValueError(f"node {node.name!r}: every cpt row must be a distribution")
            seen[node.name] = node
        self._nodes = seen

    def __repr__(self) -> str:
        return f"BayesianNetwork({self.name!r}, nodes={[n.name for n in self.nodes]})"

    @property
    def columns(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def schema(self) -> Schema:
        return Schema(tuple(Column(n.name, "categorical", categories=n.states) for n in self.nodes))

    def sample(self, n: int, seed: Seed = 0) -> pd.DataFrame:
        """``n`` i.i.d. rows by ancestral sampling (inverse CDF of each conditional table)."""
        positive_int("n", n)
        rng = as_rng(seed)
        codes: dict[str, np.ndarray] = {}
        for node in self.nodes:
            probs = np.asarray(node.cpt, dtype=float)[tuple(codes[p] for p in node.parents)]
            probs = np.broadcast_to(probs, (n, len(node.states)))
            cdf = np.cumsum(probs, axis=1)
            u = rng.random((n, 1)) * cdf[:, -1:]
            codes[node.name] = np.minimum((u >= cdf).sum(1), len(node.states) - 1)
        return pd.DataFrame(
            {
                node.name: np.asarray(node.states, dtype=object)[codes[node.name]]
                for node in self.nodes
            }
        )

    def _codes(self, frame: pd.DataFrame, argument: str) -> dict[str, np.ndarray]:
        sub = select_columns(frame, self.columns, argument)
        codes = {}
        for node in self.nodes:
            lookup = {s: i for i, s in enumerate(node.states)}
            mapped = sub[node.name].map(lookup)
            if mapped.isna().any():
                bad = sorted(set(sub[node.name][mapped.isna()].astype(str)))[:5]
                raise ValueError(
                    f"{argument}: column {node.name!r} holds {bad}, expected one of {node.states}"
                )
            codes[node.name] = mapped.to_numpy(dtype=int)
        return codes

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        """Exact ``log p(row)`` per row (natural log; ``-inf`` where the probability is 0)."""
        codes = self._codes(frame, "frame")
        total = np.zeros(len(frame))
        with np.errstate(divide="ignore"):
            for node in self.nodes:
                index = tuple(codes[p] for p in node.parents) + (codes[node.name],)
                total += np.log(np.asarray(node.cpt, dtype=float)[index])
        return total

    def refit(self, frame: pd.DataFrame, *, alpha: float = 1.0, seed: int = 0) -> BayesianNetwork:
        """The same structure with tables re-estimated from ``frame`` by Laplace smoothing.

        ``P(x_i = s | parents = j) = (count(s, j) + alpha) / (count(j) + alpha * |states|)``;
        ``alpha > 0`` keeps every probability positive, so held-out rows never get ``-inf``.
        ``seed`` is unused (the estimate is deterministic); it is accepted so every
        simulated table's ``refit`` can be called the same way.
        """
        if isinstance(alpha, bool) or not isinstance(alpha, float | int) or not alpha > 0:
            raise ValueError(f"alpha: expected a positive number, got {alpha!r}")
        codes = self._codes(frame, "frame")
        nodes = []
        for node in self.nodes:
            shape = np.asarray(node.cpt).shape
            counts = np.zeros(shape)
            index = tuple(codes[p] for p in node.parents) + (codes[node.name],)
            np.add.at(counts, index, 1.0)
            cpt = (counts + alpha) / (counts.sum(-1, keepdims=True) + alpha * shape[-1])
            nodes.append(Node(node.name, node.states, node.parents, cpt))
        return BayesianNetwork(f"{self.name} (refit)", nodes)

    def all_states(self) -> pd.DataFrame:
        """Every joint state, one row each (``prod |states|`` rows) - for exact sums."""
        combos = itertools.product(*(n.states for n in self.nodes))
        return pd.DataFrame(list(combos), columns=self.columns)


def asia() -> BayesianNetwork:
    """The Asia ("chest clinic") network of Lauritzen & Spiegelhalter (1988, JRSS B 50(2)).

    Eight yes/no variables: ``asia`` (visit to Asia), ``smoke``, ``tub`` (tuberculosis),
    ``lung`` (lung cancer), ``bronc`` (bronchitis), ``either`` (tub or lung - deterministic),
    ``xray`` (positive X-ray) and ``dysp`` (dyspnoea), with the paper's probabilities:
    P(asia)=0.01, P(smoke)=0.5, P(tub|asia)=0.05/0.01, P(lung|smoke)=0.1/0.01,
    P(bronc|smoke)=0.6/0.3, P(xray|either)=0.98/0.05, P(dysp|bronc, either)=0.9 (yes, yes),
    0.8 (yes, no), 0.7 (no, yes), 0.1 (no, no). States are ``("no", "yes")``.
    """
    states = ("no", "yes")

    def yes(p: float) -> list[float]:
        return [1.0 - p, p]

    # Parent axes are indexed by the parent's state code: 0 = "no", 1 = "yes".
    nodes = [
        Node("asia", states, (), np.array(yes(0.01))),
        Node("smoke", states, (), np.array(yes(0.5))),
        Node("tub", states, ("asia",), np.array([yes(0.01), yes(0.05)])),
        Node("lung", states, ("smoke",), np.array([yes(0.01), yes(0.1)])),
        Node("bronc", states, ("smoke",), np.array([yes(0.3), yes(0.6)])),
        Node(
            "either",
            states,
            ("tub", "lung"),
            np.array([[yes(0.0), yes(1.0)], [yes(1.0), yes(1.0)]]),
        ),
        Node("xray", states, ("either",), np.array([yes(0.05), yes(0.98)])),
        Node(
            "dysp",
            states,
            ("bronc", "either"),
            np.array([[yes(0.1), yes(0.7)], [yes(0.8), yes(0.9)]]),
        ),
    ]
    return BayesianNetwork("asia", nodes)
