r"""The conditional vector and training-by-sampling (Xu et al. 2019, sec. 4.3), vectorised.

A conditional generator :math:`G(z, c)` is told which category of which discrete column a
row should have. During training a condition is drawn as

1. a conditioned column :math:`j` uniformly among the :math:`J` one-hot spans;
2. a category :math:`c` of column :math:`j` with probability proportional to
   :math:`\log(1 + n_{jc})` (:math:`n_{jc}` = rows with that category), which lifts rare
   categories so the generator sees them (``log_frequency=False``: proportional to
   :math:`n_{jc}`);
3. the conditional vector :math:`\text{cond} = e_{\text{offset}_j + c}` (all categories of
   all conditioned columns side by side), the mask :math:`m = e_j`, and - for the critic - a
   real row drawn uniformly among the rows with :math:`x_j = c`, so real and generated rows
   of a batch share their conditions ("training-by-sampling").

Everything is batched tensor arithmetic: the category is an inverse-CDF lookup
(``searchsorted``), and the real row is ``rows[first[g] + floor(u * count[g])]`` in an index
array ``rows`` sorted by (column, category) - no per-row Python loop (the ``ctgan`` package
calls ``np.random.choice`` once per row).

At **generation** time the log-frequency must not be used: it would inflate rare
categories. :meth:`ConditionalSampler.sample_generation` draws :math:`j` uniformly and then
:math:`c` with the *real* frequency :math:`n_{jc}/N`, so that
:math:`\sum_j \tfrac1J\sum_c \tfrac{n_{jc}}N\,p(x\mid x_j = c) = p(x)`: a perfect conditional
generator then reproduces every marginal. ``frequency="log"`` reproduces the ``ctgan``
package, which samples a (column, category) pair with probability proportional to
:math:`\log(1 + n_{jc})` over all pairs.

Randomness comes from :attr:`ConditionalSampler.generator` (a ``torch.Generator``); the
synthesizers pass it to :func:`edu_gen.core.train.fit` as ``rng=``, so checkpoints save and
restore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from edu_gen.core.checks import finite_tensor, positive_int, same_shape
from edu_gen.tabular.encoding.transformer import Span

Tensor = torch.Tensor

__all__ = [
    "FREQUENCIES",
    "Condition",
    "ConditionalSampler",
    "category_probabilities",
    "conditional_vector",
]

FREQUENCIES = ("real", "log")


@dataclass(frozen=True)
class Condition:
    """A batch of conditions.

    ``cond`` ``[B, n_categories]`` one-hot over all conditioned categories; ``mask``
    ``[B, n_spans]`` one-hot of the conditioned column; ``span`` and ``category`` ``[B]`` the
    same as integers (category within its column); ``rows`` ``[B]`` indices of real rows with
    that category (``None`` for generation-time conditions).
    """

    cond: Tensor
    mask: Tensor
    span: Tensor
    category: Tensor
    rows: Tensor | None = None


def conditional_vector(
    span: Tensor, category: Tensor, widths: Sequence[int]
) -> tuple[Tensor, Tensor]:
    r"""The conditional vector and mask of a batch of (column, category) conditions.

    For row :math:`i` conditioned on category :math:`c_i` of discrete column :math:`j_i`:
    ``cond[i]`` is one-hot at :math:`o_{j_i} + c_i` over all conditioned categories, where
    :math:`o_j = \sum_{l<j} w_l` adds the widths of the columns before :math:`j`, and
    ``mask[i]`` is the one-hot :math:`e_{j_i}` over the columns.
    """
    same_shape("category", category, "span", span)
    if span.dim() != 1:
        raise ValueError(f"span: expected a 1-D tensor of column indices, got {tuple(span.shape)}")
    w = torch.as_tensor(list(widths), dtype=torch.long)
    if len(span) and not bool(((span >= 0) & (span < len(w))).all()):
        raise ValueError(f"span: expected column indices in 0..{len(w) - 1}, got {span.tolist()}")
    if len(span) and not bool(((category >= 0) & (category < w.to(span.device)[span])).all()):
        raise ValueError(
            f"category: expected each category below its column's width {list(widths)}, got "
            f"{category.tolist()} for columns {span.tolist()}"
        )
    batch = len(span)
    offsets = torch.zeros(len(widths), dtype=torch.long)
    offsets[1:] = torch.as_tensor(list(widths[:-1]), dtype=torch.long).cumsum(0)
    cond = torch.zeros(batch, int(sum(widths)))
    mask = torch.zeros(batch, len(widths))
    if len(widths):
        rows = torch.arange(batch)
        cond[rows, offsets[span] + category] = 1.0
        mask[rows, span] = 1.0
    return cond, mask


def category_probabilities(counts: np.ndarray, log_frequency: bool = True) -> np.ndarray:
    r""":math:`p_c \propto \log(1 + n_c)` (or :math:`\propto n_c`) for one column's counts."""
    counts = finite_tensor("counts", np.asarray(counts, dtype=float))
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"counts: expected non-negative counts with a positive sum, got {counts}")
    weight = np.log1p(counts) if log_frequency else counts
    return weight / weight.sum()


class ConditionalSampler:
    """Condition sampler over the one-hot ``spans`` of an encoded matrix ``data``.

    Args:
        data: the encoded training matrix ``[N, D]`` (from
            :meth:`~edu_gen.tabular.encoding.transformer.DataTransformer.transform`).
        spans: the one-hot spans to condition on (CTGAN: the transformer's
            ``discrete_spans``; CTAB-GAN adds its ``mode_spans``). May be empty: then no
            condition is used and real rows are drawn uniformly.
        log_frequency: training categories drawn proportionally to :math:`\\log(1+n)`.
        seed: seed of :attr:`generator`.
    """

    def __init__(
        self,
        data: np.ndarray | Tensor,
        spans: Sequence[Span],
        *,
        log_frequency: bool = True,
        seed: int = 0,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.detach().cpu().numpy()
        data = np.asarray(data)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(f"data: expected a non-empty matrix [N, D], got shape {data.shape}")
        self.n_rows = len(data)
        self.spans = list(spans)
        self.log_frequency = bool(log_frequency)
        self.generator = torch.Generator().manual_seed(seed)
        widths, counts, codes = [], [], []
        for span in self.spans:
            if span.activation != "softmax" or span.end > data.shape[1]:
                raise ValueError(f"spans: {span} is not a one-hot span of data {data.shape}")
            block = data[:, span.start : span.end]
            if not np.all(block.sum(1) == 1) or not np.all((block == 0) | (block == 1)):
                raise ValueError(
                    f"data: span of column {span.column!r} is not one-hot in every row"
                )
            code = block.argmax(1)
            widths.append(span.width)
            counts.append(np.bincount(code, minlength=span.width))
            codes.append(code)
        self.n_spans = len(self.spans)
        self.widths = np.asarray(widths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).astype(np.int64)
        self.cond_dim = int(self.offsets[-1])
        self.counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        # rows sorted by global category id; first[g] = where category g's rows begin
        if codes:
            global_ids = np.concatenate(
                [c + o for c, o in zip(codes, self.offsets[:-1], strict=True)]
            )
            row_ids = np.tile(np.arange(self.n_rows), self.n_spans)
            order = np.argsort(global_ids, kind="stable")
            rows = row_ids[order]
        else:
            rows = np.zeros(0, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(self.counts)[:-1]]) if codes else np.zeros(0)
        self._rows = torch.as_tensor(rows, dtype=torch.long)
        self._first = torch.as_tensor(first, dtype=torch.long)
        self._count = torch.as_tensor(self.counts, dtype=torch.long)
        self._offsets = torch.as_tensor(self.offsets[:-1], dtype=torch.long)
        self._train_cdf = self._cdfs(log_frequency)
        self._real_cdf = self._cdfs(False)
        flat = np.log1p(self.counts.astype(float))
        self._flat_log_cdf = torch.as_tensor(_cdf(flat / flat.sum()) if codes else np.zeros(0))

    def _cdfs(self, log_frequency: bool) -> Tensor:
        """Per-span CDFs padded to the widest span with 1.0 (never selected)."""
        width = int(self.widths.max()) if self.n_spans else 0
        out = np.ones((self.n_spans, width))
        for j in range(self.n_spans):
            counts = self.counts[self.offsets[j] : self.offsets[j + 1]]
            out[j, : self.widths[j]] = _cdf(category_probabilities(counts, log_frequency))
        return torch.as_tensor(out)

    def frequencies(self, *, log_frequency: bool | None = None) -> list[np.ndarray]:
        """Per conditioned column, the category probabilities used for training (default) or
        the real frequencies (``log_frequency=False``)."""
        lf = self.log_frequency if log_frequency is None else log_frequency
        return [
            category_probabilities(self.counts[self.offsets[j] : self.offsets[j + 1]], lf)
            for j in range(self.n_spans)
        ]

    def _generator(self, generator: torch.Generator | None) -> torch.Generator:
        return self.generator if generator is None else generator

    def _build(self, span: Tensor, category: Tensor, rows: Tensor | None) -> Condition:
        cond, mask = conditional_vector(span, category, self.widths.tolist())
        return Condition(cond, mask, span, category, rows)

    def sample_train(self, batch: int, generator: torch.Generator | None = None) -> Condition:
        """``batch`` training conditions (log-frequency) and real rows satisfying them."""
        positive_int("batch", batch)
        g = self._generator(generator)
        if self.n_spans == 0:
            rows = torch.randint(self.n_rows, (batch,), generator=g)
            empty = torch.zeros(batch, dtype=torch.long)
            return Condition(torch.zeros(batch, 0), torch.zeros(batch, 0), empty, empty, rows)
        span = torch.randint(self.n_spans, (batch,), generator=g)
        category = _inverse_cdf(
            self._train_cdf[span], torch.rand(batch, 1, generator=g, dtype=torch.float64)
        )
        ids = self._offsets[span] + category
        u = torch.rand(batch, generator=g, dtype=torch.float64)
        pick = (u * self._count[ids]).long().clamp_max_(self._count[ids] - 1)
        rows = self._rows[self._first[ids] + pick]
        return self._build(span, category, rows)

    def sample_generation(
        self, batch: int, *, frequency: str = "real", generator: torch.Generator | None = None
    ) -> Condition:
        """``batch`` generation-time conditions.

        ``frequency="real"`` (default): column uniform, category with its real frequency, so
        sampled rows keep the data's marginals. ``"log"``: the ``ctgan`` package's rule (a
        (column, category) pair proportional to :math:`\\log(1 + n)`), which inflates rare
        categories.
        """
        positive_int("batch", batch)
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency: expected one of {FREQUENCIES}, got {frequency!r}")
        g = self._generator(generator)
        if self.n_spans == 0:
            empty = torch.zeros(batch, dtype=torch.long)
            return Condition(torch.zeros(batch, 0), torch.zeros(batch, 0), empty, empty)
        if frequency == "real":
            span = torch.randint(self.n_spans, (batch,), generator=g)
            u = torch.rand(batch, 1, generator=g, dtype=torch.float64)
            category = _inverse_cdf(self._real_cdf[span], u)
        else:
            u = torch.rand(batch, 1, generator=g, dtype=torch.float64)
            ids = torch.searchsorted(self._flat_log_cdf, u.squeeze(1), right=True)
            span = torch.searchsorted(self._offsets, ids, right=True) - 1
            category = ids - self._offsets[span]
        return self._build(span, category, None)

    def condition_on(self, span_index: int, category: int, batch: int) -> Condition:
        """``batch`` copies of one fixed condition (column ``span_index``, category index)."""
        positive_int("batch", batch)
        if not 0 <= span_index < self.n_spans:
            raise ValueError(f"span_index: expected 0..{self.n_spans - 1}, got {span_index}")
        if not 0 <= category < self.widths[span_index]:
            raise ValueError(f"category: expected 0..{self.widths[span_index] - 1}, got {category}")
        span = torch.full((batch,), span_index, dtype=torch.long)
        return self._build(span, torch.full((batch,), category, dtype=torch.long), None)


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative sums, exactly 1 from the last category with p > 0 on, so that a uniform
    ``u`` in [0, 1) never selects a trailing category of probability 0."""
    cdf = np.cumsum(p)
    cdf[np.flatnonzero(p > 0)[-1] :] = 1.0
    return cdf


def _inverse_cdf(cdf: Tensor, u: Tensor) -> Tensor:
    """Index of the first CDF entry above ``u`` (rows of ``cdf`` are sorted); skips p = 0."""
    return torch.searchsorted(cdf, u, right=True).squeeze(1)
