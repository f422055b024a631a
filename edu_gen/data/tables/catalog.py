"""Tables for the tabular chapters: a real embedded table, tables with a known density, Adult.

* :func:`fair` - the Fair (1978) extramarital-affairs survey bundled with statsmodels
  (6,366 rows, no download), with its :class:`~edu_gen.data.tables.schema.Schema` and the
  machine-learning task ``affairs > 0`` (:data:`FAIR_TASK`).
* :func:`grid`, :func:`ring`, :func:`gridr` - 2-D Gaussian mixtures and :func:`asia` - the
  Asia Bayesian network: the simulated tables of the CTGAN benchmark (Xu et al., 2019,
  "Modeling Tabular Data using Conditional GAN"). Each knows its exact log-density, so the
  likelihood fitness ``L_syn`` / ``L_test`` of :mod:`edu_gen.tabular.metrics` can be computed.
* :func:`mixed` - a simulated table that shows every difficulty of tabular data at once
  (multimodal column, point mass plus long tail, a rare category, a categorical tied to a
  continuous column, missing values on request).
* :func:`adult` - UCI Adult (Kohavi, 1996), downloaded once into a verified cache.
* :func:`train_test_split_table` - a deterministic (optionally stratified) row split.

Every loader returns ``(frame, schema)``; every simulated table has ``schema``,
``sample(n, seed)`` and, where the density is known, ``log_likelihood(frame)`` (one value per
row, natural log) and ``refit(frame, seed=...)`` (the same model family fitted to ``frame``).

statsmodels and scikit-learn are imported inside the functions that need them, so importing
:mod:`edu_gen.data` (done by every image lesson) stays fast.
"""

from __future__ import annotations

import io
import itertools
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import norm

from edu_gen.core.checks import positive_int
from edu_gen.data.download import DatasetUnavailableError, fetch
from edu_gen.data.tables.schema import Column, Schema

Seed = int | np.random.Generator

# ----------------------------------------------------------------------------- fair

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


# ----------------------------------------------------------------------------- splitting


def train_test_split_table(
    frame: pd.DataFrame,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: str | Sequence[object] | np.ndarray | pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the rows of ``frame`` into ``(train, test)`` with scikit-learn, deterministically.

    Args:
        frame: the table.
        test_size: share of rows in ``test`` (0 < test_size < 1).
        seed: the split's seed (the same seed gives the same split).
        stratify: ``None``, the name of a column of ``frame``, or one label per row (e.g.
            ``fair_label(frame["affairs"])``): each label keeps its share in both parts.

    Returns:
        ``train`` and ``test`` with fresh 0..n-1 indices.
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(test_size, bool) or not isinstance(test_size, float | int):
        raise ValueError(f"test_size: expected a number in (0, 1), got {test_size!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size: expected a number in (0, 1), got {test_size!r}")
    positive_int("seed", seed, minimum=0)
    if isinstance(stratify, str):
        if stratify not in frame.columns:
            raise ValueError(f"stratify: {stratify!r} is not a column of frame")
        labels = frame[stratify].to_numpy()
    elif stratify is None:
        labels = None
    else:
        labels = np.asarray(stratify)
        if labels.shape != (len(frame),):
            raise ValueError(
                f"stratify: expected a column name or {len(frame)} labels, got shape {labels.shape}"
            )
    n_test = int(np.ceil(test_size * len(frame)))
    if n_test < 1 or n_test >= len(frame):
        raise ValueError(f"test_size: {test_size} of {len(frame)} rows leaves an empty part")
    try:
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as exc:  # e.g. a class with a single member cannot be stratified
        raise ValueError(f"stratify: {exc}") from exc
    return train.reset_index(drop=True), test.reset_index(drop=True)


# ----------------------------------------------------------------------------- helpers


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    positive_int("seed", seed, minimum=0)
    return np.random.default_rng(seed)


def _columns_of(frame: pd.DataFrame, names: Sequence[str], argument: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{argument}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"{argument}: lacks column(s) {missing}; expected {list(names)}")
    if len(frame) == 0:
        raise ValueError(f"{argument}: expected at least one row")
    return frame[list(names)]


def _numeric_matrix(frame: pd.DataFrame, names: Sequence[str], argument: str) -> np.ndarray:
    sub = _columns_of(frame, names, argument)
    try:
        values = sub.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{argument}: columns {list(names)} must hold numbers ({exc})") from exc
    if not np.isfinite(values).all():
        raise ValueError(f"{argument}: columns {list(names)} hold NaN or inf; expected finite")
    return values


# ----------------------------------------------------------------------------- Gaussian mixtures


@dataclass(frozen=True, eq=False)
class FittedDensity:
    """A density fitted to rows (the ``refit`` of a simulated table); ``log_likelihood`` per row."""

    columns: tuple[str, ...]
    model: object
    """The fitted estimator (a scikit-learn ``GaussianMixture`` for the mixtures)."""

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        x = _numeric_matrix(frame, self.columns, "frame")
        return self.model.score_samples(x)  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class GaussianMixtureTable:
    """A 2-D isotropic Gaussian mixture: ``p(x) = sum_k w_k N(x; mu_k, std^2 I)``.

    ``log_likelihood`` is exact: ``log p(x) = logsumexp_k [log w_k + sum_d log N(x_d; mu_kd,
    std)]`` (scipy's ``norm.logpdf`` and ``logsumexp``). ``refit`` fits scikit-learn's
    ``GaussianMixture`` with as many full-covariance components as the true mixture - the
    model fitted to synthetic rows for ``L_test`` (Xu et al., 2019, Sec. 5.1).
    """

    name: str
    means: np.ndarray = field(repr=False)
    std: float
    weights: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    columns: tuple[str, str] = ("x", "y")

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=float)
        if means.ndim != 2 or means.shape[1] != len(self.columns) or len(means) < 1:
            raise ValueError(f"means: expected shape [K, {len(self.columns)}], got {means.shape}")
        weights = (
            np.full(len(means), 1.0 / len(means))
            if self.weights is None
            else np.asarray(self.weights, dtype=float)
        )
        if weights.shape != (len(means),) or (weights < 0).any():
            raise ValueError(f"weights: expected {len(means)} non-negative numbers")
        if not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"weights: expected a sum of 1, got {weights.sum()}")
        if not (isinstance(self.std, float | int) and np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std: expected a positive number, got {self.std!r}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "weights", weights)

    @property
    def schema(self) -> Schema:
        return Schema(tuple(Column(c, "continuous") for c in self.columns))

    @property
    def n_components(self) -> int:
        return len(self.means)

    def sample(self, n: int, seed: Seed = 0) -> pd.DataFrame:
        """``n`` i.i.d. rows: a component ``k ~ w``, then ``x ~ N(mu_k, std^2 I)``."""
        positive_int("n", n)
        rng = _rng(seed)
        k = rng.choice(self.n_components, size=n, p=self.weights)
        x = self.means[k] + self.std * rng.standard_normal((n, len(self.columns)))
        return pd.DataFrame(x, columns=list(self.columns))

    def log_likelihood(self, frame: pd.DataFrame) -> np.ndarray:
        """Exact ``log p(row)`` for every row of ``frame`` (natural log)."""
        x = _numeric_matrix(frame, self.columns, "frame")
        per_dim = norm.logpdf(x[:, None, :], loc=self.means[None], scale=self.std)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        return logsumexp(per_dim.sum(-1) + log_w, axis=1)

    def refit(self, frame: pd.DataFrame, *, seed: int = 0) -> FittedDensity:
        """A ``GaussianMixture(n_components=K, covariance_type="full")`` fitted to ``frame``."""
        from sklearn.mixture import GaussianMixture

        x = _numeric_matrix(frame, self.columns, "frame")
        if len(x) < self.n_components:
            raise ValueError(
                f"frame: {len(x)} rows cannot fit {self.n_components} mixture components"
            )
        model = GaussianMixture(self.n_components, covariance_type="full", random_state=seed)
        return FittedDensity(self.columns, model.fit(x))


GM_VARIANCE = 0.05
"""Per-coordinate variance of every mixture component (std = sqrt(0.05) ~ 0.224), the value
in the generation script published with the CTGAN benchmark (SDGym)."""


def grid() -> GaussianMixtureTable:
    """``grid``: 25 equal-weight components centred on ``{-4, -2, 0, 2, 4}^2``, variance 0.05."""
    centres = np.array(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=float)
    return GaussianMixtureTable("grid", centres, float(np.sqrt(GM_VARIANCE)))


def gridr(offset_seed: int = 0) -> GaussianMixtureTable:
    """``gridr``: the ``grid`` centres each moved by a fixed uniform offset in [-0.5, 0.5)^2.

    The offsets are drawn once from ``numpy.random.default_rng(offset_seed)`` so the density
    is the same in every run (the benchmark script drew them from a global seed).
    """
    positive_int("offset_seed", offset_seed, minimum=0)
    base = grid().means
    offsets = np.random.default_rng(offset_seed).uniform(-0.5, 0.5, size=base.shape)
    return GaussianMixtureTable("gridr", base + offsets, float(np.sqrt(GM_VARIANCE)))


def ring() -> GaussianMixtureTable:
    """``ring``: 8 equally weighted components on the unit circle (every 45°), variance 0.05."""
    angles = np.arange(8) * np.pi / 4
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixtureTable("ring", centres, float(np.sqrt(GM_VARIANCE)))


# ----------------------------------------------------------------------------- Bayesian network


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
        rng = _rng(seed)
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
        sub = _columns_of(frame, self.columns, argument)
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


SIMULATED: dict[str, Callable[[], GaussianMixtureTable | BayesianNetwork]] = {
    "grid": grid,
    "gridr": gridr,
    "ring": ring,
    "asia": asia,
}
"""Name -> constructor of the simulated tables with a known density."""


# ----------------------------------------------------------------------------- mixed-type table


@dataclass(frozen=True)
class MixedTable:
    """A simulated table with the difficulties of real tabular data, and its schema.

    Generative story for one row (``z`` is a hidden mode, not a column):

    * ``z ~ Categorical(mode_weights)``;
    * ``amount ~ N(mode_means[z], mode_stds[z]^2)`` - **multimodal continuous**;
    * ``segment`` = ``SEGMENTS[z]`` with probability ``agreement``, else one of the other two
      uniformly - **a categorical tied to a continuous column**;
    * ``spend`` = 0 with probability ``zero_share``, else ``LogNormal(0.5 + 0.5 z, 0.9)`` -
      **mixed: a point mass at 0 and a long tail**; a share ``missing`` of it is NaN;
    * ``channel`` ~ ``Categorical(channel_probs)`` over ``CHANNELS``, independent - its last
      category (``"phone"``, 0.8%) is **rare** (< 1%);
    * ``rating`` = ``clip(round(3 + 0.3 amount + N(0, 0.7^2)), 1, 5)`` - **ordinal**;
    * ``label`` ~ Bernoulli(sigmoid(0.6 amount + 1.0 [spend > 0] + 0.8 [channel = store]
      - 0.7)) - a **binary target** for ML utility (bool).
    """

    mode_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    mode_means: tuple[float, float, float] = (-3.0, 0.5, 4.0)
    mode_stds: tuple[float, float, float] = (0.6, 0.8, 1.0)
    agreement: float = 0.9
    zero_share: float = 0.45
    channel_probs: tuple[float, float, float] = (0.62, 0.372, 0.008)
    missing: float = 0.0

    SEGMENTS = ("low", "mid", "high")
    CHANNELS = ("web", "store", "phone")

    def __post_init__(self) -> None:
        for name in ("mode_weights", "channel_probs"):
            p = np.asarray(getattr(self, name), dtype=float)
            if p.shape != (3,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
                raise ValueError(f"{name}: expected 3 probabilities summing to 1, got {p}")
        if np.asarray(self.mode_stds).shape != (3,) or min(self.mode_stds) <= 0:
            raise ValueError(f"mode_stds: expected 3 positive numbers, got {self.mode_stds}")
        for name in ("agreement", "zero_share"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")
        if not 0 <= self.missing < 1:
            raise ValueError(f"missing: expected a number in [0, 1), got {self.missing!r}")

    @property
    def schema(self) -> Schema:
        return Schema(
            (
                Column("amount", "continuous"),
                Column("segment", "categorical", categories=self.SEGMENTS),
                Column("spend", "mixed", point_masses=(0.0,)),
                Column("channel", "categorical", categories=self.CHANNELS),
                Column("rating", "ordinal", categories=(1, 2, 3, 4, 5)),
                Column("label", "categorical", categories=(False, True)),
            ),
            target="label",
        )

    def sample(self, n: int, seed: Seed = 0) -> pd.DataFrame:
        """``n`` i.i.d. rows of the table (columns and dtypes as in :attr:`schema`)."""
        positive_int("n", n)
        rng = _rng(seed)
        z = rng.choice(3, size=n, p=self.mode_weights)
        amount = np.asarray(self.mode_means)[z] + np.asarray(self.mode_stds)[z] * (
            rng.standard_normal(n)
        )
        other = (z + rng.integers(1, 3, size=n)) % 3  # one of the two other segments
        segment_code = np.where(rng.random(n) < self.agreement, z, other)
        positive = rng.random(n) >= self.zero_share
        tail = rng.lognormal(0.5 + 0.5 * z, 0.9)
        spend = np.where(positive, tail, 0.0)
        channel_code = rng.choice(3, size=n, p=self.channel_probs)
        rating = np.clip(np.rint(3 + 0.3 * amount + rng.normal(0, 0.7, n)), 1, 5).astype(int)
        logit = 0.6 * amount + 1.0 * positive + 0.8 * (channel_code == 1) - 0.7
        label = rng.random(n) < 1 / (1 + np.exp(-logit))
        if self.missing > 0:
            spend = np.where(rng.random(n) < self.missing, np.nan, spend)
        return pd.DataFrame(
            {
                "amount": amount,
                "segment": np.asarray(self.SEGMENTS, dtype=object)[segment_code],
                "spend": spend,
                "channel": np.asarray(self.CHANNELS, dtype=object)[channel_code],
                "rating": rating.astype("int64"),
                "label": label,
            }
        )


def mixed(**params: object) -> MixedTable:
    """The mixed-type simulated table (:class:`MixedTable`); ``params`` override its fields."""
    return MixedTable(**params)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- UCI Adult

ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
ADULT_NUMERIC: tuple[str, ...] = (
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)
ADULT_LABELS: tuple[str, str] = ("<=50K", ">50K")


@dataclass(frozen=True)
class AdultFile:
    """One file of the Adult distribution: its name, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int


# The two data files' SHA-256 digests and sizes as served by the UCI repository. No network
# is reachable where this module was written, so they were not measured here; they are the
# values pinned independently by many public projects that download these very files
# (e.g. GruAna/PreprocessData.jl and several data-provenance notes agree on both digests and on
# the sizes 3,974,305 and 2,003,153 bytes). A mismatch is reported as a ValueError by
# edu_gen.data.download.fetch and the bad file is never kept, so a wrong pin cannot slip
# through silently. The zip is UCI's newer distribution of the same files; its members are
# checked against the same digests.
ADULT_FILES: dict[str, AdultFile] = {
    "train": AdultFile(
        "adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d", 3_974_305
    ),
    "test": AdultFile(
        "adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05", 2_003_153
    ),
}
ADULT_MIRRORS: list[str] = ["https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"]
"""Base URLs serving ``adult.data`` and ``adult.test``, tried in order."""
ADULT_ZIP = AdultFile(
    "adult.zip", "7537312dd56c2b98035880805ce99e68183a30ee468aa5329d6df0fbb3cc21bb", 0
)
ADULT_ZIP_URLS: list[str] = ["https://archive.ics.uci.edu/static/public/2/adult.zip"]
"""Fallback: UCI's zip holding both files (its size is not pinned)."""
ADULT_SPLITS = ("train", "test", "all")


class TableUnavailableError(DatasetUnavailableError):
    """A downloadable table is neither cached nor reachable; points to the embedded ``fair``."""

    def __init__(self, dataset: str, directory: Path, files: Sequence[str], reason: str) -> None:
        super().__init__(dataset, directory, files, reason)
        message = (
            f"{dataset} is not available: {reason}. Its files are expected in "
            f"{self.directory} ({', '.join(self.files)}); copy them there by hand, or pass "
            "cache= / set the EDU_GEN_DATA environment variable to a folder that has an "
            f"'{self.directory.name}' subfolder with them. No download is needed for the "
            "embedded table: use edu_gen.data.fair() instead."
        )
        self.args = (message,)


def adult_cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """``<cache>/adult``: ``cache``, else ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``."""
    from edu_gen.data.images.mnist import DEFAULT_CACHE, ENV_VAR

    if cache is None:
        cache = os.environ.get(ENV_VAR) or DEFAULT_CACHE
    elif not isinstance(cache, str | os.PathLike):
        raise ValueError(f"cache: expected a folder path or None, got {cache!r}")
    return Path(cache).expanduser() / "adult"


def adult_schema() -> Schema:
    """Kinds of the Adult columns (the CTAB-GAN choices of Zhao et al., 2021).

    ``age``, ``fnlwgt``, ``hours_per_week`` continuous; ``capital_gain`` and ``capital_loss``
    mixed with a point mass at 0 (over 90% zeros); ``education_num`` ordinal (1-16); the text
    columns categorical; ``income`` (``"<=50K"``/``">50K"``) the target.
    """
    kinds: dict[str, Column] = {}
    for name in ADULT_COLUMNS:
        if name in ("capital_gain", "capital_loss"):
            kinds[name] = Column(name, "mixed", point_masses=(0.0,))
        elif name == "education_num":
            kinds[name] = Column(name, "ordinal", categories=tuple(float(v) for v in range(1, 17)))
        elif name in ADULT_NUMERIC:
            kinds[name] = Column(name, "continuous")
        elif name == "income":
            kinds[name] = Column(name, "categorical", categories=ADULT_LABELS)
        else:
            kinds[name] = Column(name, "categorical")
    return Schema(tuple(kinds.values()), target="income")


def parse_adult(source: str | os.PathLike | bytes, *, name: str = "adult") -> pd.DataFrame:
    """Parse one Adult file (``adult.data`` or ``adult.test`` format) into a frame.

    Fields are comma separated with a space after each comma; ``?`` marks a missing value
    (NaN); lines starting with ``|`` (the first line of ``adult.test``) and blank lines are
    skipped; the trailing ``.`` of the ``adult.test`` labels (``">50K."``) is removed. Numbers
    become float64 (whole numbers in the file), text is stripped.

    Raises:
        ValueError: a line without 15 fields, a non-number in a numeric column, or an income
            label other than ``<=50K`` / ``>50K`` (the message names ``name``).
    """
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    text = raw.decode("utf-8")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            comment="|",
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
            dtype=str,
            on_bad_lines="error",
            engine="python",
        )
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{name}: no data rows") from exc
    except pd.errors.ParserError as exc:
        raise ValueError(f"{name}: expected {len(ADULT_COLUMNS)} fields per line ({exc})") from exc
    if len(frame) == 0:
        raise ValueError(f"{name}: no data rows")
    if frame.shape[1] != len(ADULT_COLUMNS):
        raise ValueError(
            f"{name}: expected {len(ADULT_COLUMNS)} fields per line, found {frame.shape[1]}"
        )
    frame.columns = list(ADULT_COLUMNS)
    short = frame["income"].isna()
    if short.any():
        row = int(np.flatnonzero(short.to_numpy())[0])
        raise ValueError(
            f"{name}: data row {row} has no income label (fewer than {len(ADULT_COLUMNS)} "
            "fields, or '?')"
        )
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame["income"] = frame["income"].str.rstrip(".")
    bad = ~frame["income"].isin(ADULT_LABELS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{name}: data row {row} has income {frame['income'].iloc[row]!r}, "
            f"expected one of {ADULT_LABELS}"
        )
    for column in ADULT_NUMERIC:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{name}: data row {row}, column {column!r} holds {frame[column].iloc[row]!r}, "
                "expected a number"
            )
        frame[column] = numbers.astype("float64")
    return frame


def _extract_member(archive: Path, item: AdultFile, dest: Path) -> None:
    """Copy one verified member of ``archive`` to ``dest`` (atomically)."""
    import hashlib

    with zipfile.ZipFile(archive) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        if item.name not in names:
            raise ValueError(f"{archive.name}: has no member {item.name}")
        data = zf.read(names[item.name])
    actual = hashlib.sha256(data).hexdigest()
    if actual != item.sha256:
        raise ValueError(
            f"SHA-256 mismatch for {item.name} (member of {archive.name}): expected "
            f"{item.sha256}, got {actual}"
        )
    handle = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            handle.write(data)
        os.replace(handle.name, dest)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _adult_paths(
    folder: Path, items: list[AdultFile], download: bool, timeout: float
) -> list[Path]:
    every = [f.name for f in ADULT_FILES.values()]
    missing = [f for f in items if not (folder / f.name).is_file()]
    if not download and missing:
        reason = f"download=False and {', '.join(f.name for f in missing)} not in the cache"
        raise TableUnavailableError("UCI Adult", folder, every, reason)
    paths = []
    for item in items:
        dest = folder / item.name
        urls = [mirror + item.name for mirror in ADULT_MIRRORS]
        try:
            paths.append(
                fetch(urls, dest, item.sha256, timeout, dataset="UCI Adult", download=download)
            )
            continue
        except DatasetUnavailableError as exc:
            first = exc.reason
        try:  # the mirrors of the plain file failed: try UCI's zip of both files
            archive = fetch(ADULT_ZIP_URLS, folder / ADULT_ZIP.name, ADULT_ZIP.sha256, timeout)
        except DatasetUnavailableError as exc:
            raise TableUnavailableError(
                "UCI Adult", folder, every, f"{first}; {exc.reason}"
            ) from exc
        _extract_member(archive, item, dest)
        paths.append(dest)
    return paths


def adult(
    split: str = "all",
    *,
    cache: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 30.0,
) -> tuple[pd.DataFrame, Schema]:
    """UCI Adult census income (Kohavi, 1996) as ``(frame, schema)``.

    ``adult.data`` (32,561 rows) and ``adult.test`` (16,281 rows) are downloaded once into
    ``<cache>/adult`` (see :func:`adult_cache_dir`) with :func:`edu_gen.data.download.fetch`:
    mirrors tried in order with ``timeout``, SHA-256 verified, moved into place atomically;
    if the plain files cannot be reached, UCI's zip of both is tried. Parsing: see
    :func:`parse_adult`; :func:`adult_schema` gives the kinds.

    Args:
        split: ``"train"`` (adult.data), ``"test"`` (adult.test) or ``"all"`` (both, in that
            order, with fresh indices).
        cache: cache root folder (default ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``).
        download: ``False`` never touches the network.
        timeout: seconds a mirror may stall before the next is tried.

    Raises:
        TableUnavailableError: (a :class:`DatasetUnavailableError`) the files are neither cached
            nor downloadable; the message names the folder and points to :func:`fair`.
        ValueError: a bad argument, a file whose SHA-256 differs from the pinned one, or a
            file that does not parse.
    """
    if not isinstance(split, str) or split not in ADULT_SPLITS:
        raise ValueError(f"split: expected one of {list(ADULT_SPLITS)}, got {split!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
    keys = ["train", "test"] if split == "all" else [split]
    folder = adult_cache_dir(cache)
    items = [ADULT_FILES[k] for k in keys]
    paths = _adult_paths(folder, items, download, float(timeout))
    frames = [parse_adult(path, name=path.name) for path in paths]
    frame = pd.concat(frames, ignore_index=True)
    schema = adult_schema()
    schema.validate(frame)
    return frame, schema


TABLES: Mapping[str, Callable[..., tuple[pd.DataFrame, Schema]]] = {"fair": fair, "adult": adult}
"""Name -> loader of the real tables."""
