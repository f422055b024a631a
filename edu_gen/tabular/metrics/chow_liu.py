r"""The Bayesian-network baseline of the CTGAN benchmark: a Chow-Liu tree (CLBN).

Chow & Liu (1968) showed that among all distributions that factorise over a tree,
:math:`p(x) = p(x_r)\prod_{i \ne r} p(x_i \mid x_{\mathrm{pa}(i)})`, the one closest to the data
in KL divergence (the maximum-likelihood tree) is found in two steps:

1. weigh every pair of columns by their empirical mutual information
   :math:`I(X_i; X_j) = \sum p(x_i, x_j) \log \frac{p(x_i, x_j)}{p(x_i)p(x_j)}`;
2. keep the **maximum spanning tree** of that weighted graph, orient it away from a root and
   fit every conditional table by counting.

Xu et al. (2019) use it (after discretising the numeric columns) as the "CLBN" baseline
beside CTGAN and TVAE. :class:`ChowLiuTree` is that baseline: continuous columns are cut
into equal-width bins (a ``mixed`` column keeps each point mass as its own state), the
tables are Laplace-smoothed, sampling is ancestral (a bin's value is drawn uniformly inside
it) and :meth:`ChowLiuTree.log_likelihood` is the exact log-density of that model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.metrics.frames import check_frame

__all__ = ["ChowLiuTree", "mutual_information"]


def mutual_information(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> float:
    """Plug-in mutual information (nats) of two integer-coded columns (``n_a``, ``n_b`` states)."""
    joint = np.zeros((n_a, n_b))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    seen = joint > 0
    return float((joint[seen] * np.log(joint[seen] / outer[seen])).sum())


@dataclass(frozen=True)
class _Coder:
    """Row values <-> state codes of one column: discrete labels, or bins plus point masses."""

    kind: str  # "discrete" or "binned"
    labels: tuple[object, ...] = ()  # discrete: the states; binned: the point masses
    edges: np.ndarray | None = None  # binned: bin edges (len = bins + 1)

    @property
    def n_states(self) -> int:
        bins = 0 if self.edges is None else len(self.edges) - 1
        return len(self.labels) + bins

    def encode(self, values: pd.Series, name: str) -> np.ndarray:
        if self.kind == "discrete":
            lookup = {_key(v): i for i, v in enumerate(self.labels)}
            codes = np.array([lookup.get(_key(v), -1) for v in values], dtype=int)
            if (codes < 0).any():
                bad = sorted({str(v) for v, c in zip(values, codes, strict=True) if c < 0})[:5]
                raise ValueError(f"frame: column {name!r} holds unseen values {bad}")
            return codes
        x = values.to_numpy(dtype=float)
        if np.isnan(x).any():
            raise ValueError(f"frame: column {name!r} has missing values; ChowLiuTree bins numbers")
        codes = len(self.labels) + np.clip(
            np.searchsorted(self.edges, x, side="right") - 1, 0, len(self.edges) - 2
        )
        for i, mass in enumerate(self.labels):
            codes[x == mass] = i
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "discrete":
            return np.asarray(self.labels, dtype=object)[codes]
        out = np.zeros(len(codes))
        masses = codes < len(self.labels)
        out[masses] = np.asarray(self.labels, dtype=float)[codes[masses]]
        b = codes[~masses] - len(self.labels)
        out[~masses] = rng.uniform(self.edges[b], self.edges[b + 1])
        return out

    def log_width(self, codes: np.ndarray) -> np.ndarray:
        """``log`` of each code's bin width (0 for a point mass or a label): density units."""
        if self.kind == "discrete":
            return np.zeros(len(codes))
        widths = np.diff(self.edges)
        b = codes - len(self.labels)
        return np.where(b >= 0, np.log(widths[np.maximum(b, 0)]), 0.0)


def _key(value: object) -> object:
    return "<missing>" if pd.isna(value) else value


class ChowLiuTree:
    """Chow-Liu tree over a table's columns (the CLBN baseline of Xu et al. 2019).

    ``ChowLiuTree(schema, bins=20, alpha=1.0).fit(frame)`` discretises the continuous columns
    into ``bins`` equal-width bins over their training range (values outside it fall into the
    end bins), links the columns by the maximum-mutual-information spanning tree rooted at the
    first column, and estimates ``P(child | parent)`` with Laplace smoothing ``alpha``. After
    ``fit``: ``edges_`` lists the tree's ``(parent, child)`` pairs and ``mutual_information_``
    the matrix of pairwise mutual informations (nats). ``sample(n, seed)`` draws rows
    ancestrally; ``log_likelihood(frame)`` is each row's log-density (per unit of every
    continuous column: a bin's probability divided by its width).
    """

    def __init__(self, schema: Schema, *, bins: int = 20, alpha: float = 1.0) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected a Schema, got {type(schema).__name__}")
        self.schema = schema
        self.bins = positive_int("bins", bins, minimum=2)
        self.alpha = positive_float("alpha", alpha)
        self.edges_: list[tuple[str, str]] | None = None

    def _fit_coder(self, name: str, values: pd.Series) -> _Coder:
        column = self.schema[name]
        if column.is_discrete:
            labels = self.schema.categories_of(name, values.to_frame())
            if values.isna().any():
                labels.append(np.nan)  # a missing value is a state of its own
            return _Coder("discrete", tuple(labels))
        x = values.to_numpy(dtype=float)
        masses = tuple(float(m) for m in column.point_masses)
        rest = x[~np.isin(x, masses)] if masses else x
        low, high = (float(rest.min()), float(rest.max())) if len(rest) else (0.0, 1.0)
        if high <= low:
            high = low + 1.0
        return _Coder("binned", masses, np.linspace(low, high, self.bins + 1))

    def _codes(self, frame: pd.DataFrame) -> np.ndarray:
        return np.stack(
            [self._coders[n].encode(frame[n], n) for n in self.schema.names], axis=1
        ).astype(int)

    def fit(self, frame: pd.DataFrame) -> ChowLiuTree:
        frame = check_frame(frame, self.schema, "frame")
        names = self.schema.names
        self._coders = {n: self._fit_coder(n, frame[n]) for n in names}
        codes = self._codes(frame)
        sizes = [self._coders[n].n_states for n in names]
        d = len(names)
        mi = np.zeros((d, d))
        for i in range(d):
            for j in range(i + 1, d):
                mi[i, j] = mi[j, i] = mutual_information(
                    codes[:, i], codes[:, j], sizes[i], sizes[j]
                )
        self.mutual_information_ = pd.DataFrame(mi, index=names, columns=names)
        # Prim's algorithm for the maximum spanning tree, grown from the root (column 0):
        # each step adds the strongest link between the tree and a column outside it.
        parent = [-1] * d
        in_tree = [0]
        while len(in_tree) < d:
            outside = [j for j in range(d) if j not in in_tree]
            i, j = max(((i, j) for i in in_tree for j in outside), key=lambda e: mi[e])
            parent[j] = i
            in_tree.append(j)
        self._order, self._parent = in_tree, parent
        self.edges_ = [(names[parent[j]], names[j]) for j in in_tree[1:]]
        # Laplace-smoothed tables: the root's marginal, then P(child | parent) per edge.
        self._tables: dict[int, np.ndarray] = {}
        for j in in_tree:
            if parent[j] < 0:
                counts = np.bincount(codes[:, j], minlength=sizes[j]).astype(float)
            else:
                counts = np.zeros((sizes[parent[j]], sizes[j]))
                np.add.at(counts, (codes[:, parent[j]], codes[:, j]), 1.0)
            counts += self.alpha
            self._tables[j] = counts / counts.sum(-1, keepdims=True)
        return self

    def _check_fitted(self) -> None:
        if self.edges_ is None:
            raise RuntimeError("ChowLiuTree: call fit(frame) first")

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> pd.DataFrame:
        """``n`` rows by ancestral sampling along the tree (root first)."""
        self._check_fitted()
        positive_int("n", n)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        names = self.schema.names
        codes = np.zeros((n, len(names)), dtype=int)
        for j in self._order:
            table = self._tables[j]
            probs = table[None, :] if self._parent[j] < 0 else table[codes[:, self._parent[j]]]
            cdf = np.cumsum(np.broadcast_to(probs, (n, table.shape[-1])), axis=1)
            u = rng.random((n, 1)) * cdf[:, -1:]
            codes[:, j] = np.minimum((u >= cdf).sum(1), table.shape[-1] - 1)
        return pd.DataFrame(
            {n_: self._coders[n_].decode(codes[:, j], rng) for j, n_ in enumerate(names)}
        )

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        """Log-density of every row of ``frame`` under the fitted tree (natural log)."""
        self._check_fitted()
        frame = check_frame(frame, self.schema, "frame")
        codes = self._codes(frame)
        total = np.zeros(len(frame))
        for j, name in enumerate(self.schema.names):
            table = self._tables[j]
            p = (
                table[codes[:, j]]
                if self._parent[j] < 0
                else table[codes[:, self._parent[j]], codes[:, j]]
            )
            total += np.log(p) - self._coders[name].log_width(codes[:, j])
        return total
