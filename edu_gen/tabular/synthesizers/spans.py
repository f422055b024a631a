r"""Output layers over the spans of an encoded row (:class:`~edu_gen.tabular.encoding.Span`).

* :class:`SoftmaxSpans` - all one-hot spans of a row gathered into one padded block, so a
  softmax over every span is one masked softmax instead of a loop over columns;
* :class:`SpanActivation` - a generator's output activations: :math:`\tanh` on every
  :math:`\alpha`, Gumbel-softmax (Jang et al. 2017) :math:`\mathrm{softmax}((\ell + g)/\tau)`,
  :math:`g\sim\text{Gumbel}(0,1)`, on every one-hot span;
* :func:`gumbel_noise` - the standard Gumbel draws :math:`g = -\log E`,
  :math:`E\sim\text{Exp}(1)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_float
from edu_gen.tabular.encoding import Span

Tensor = torch.Tensor

__all__ = ["SoftmaxSpans", "SpanActivation", "frozen", "gumbel_noise"]


def gumbel_noise(
    batch: int, n_spans: int, width: int, generator: torch.Generator | None = None
) -> Tensor:
    """Standard Gumbel noise ``-log(E)`` of shape ``[batch, n_spans, width]``,
    :math:`E\\sim\\text{Exp}(1)` clamped away from 0 (CPU, drawn from ``generator``)."""
    e = torch.empty(batch, n_spans, width).exponential_(generator=generator)
    return -e.clamp_min(torch.finfo(e.dtype).tiny).log()


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Within the block, ``module``'s outputs carry gradients to its inputs but not to its
    parameters (a player scoring its rows with another player's network)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class SoftmaxSpans(nn.Module):
    """Several one-hot spans of a row gathered into one padded ``[B, S, W]`` block.

    ``index[s, w]`` is the column of entry ``w`` of span ``s`` (padding points at column 0)
    and ``valid[s, w]`` marks real entries, so a softmax over every span is one masked
    softmax over the last dimension instead of a Python loop over columns.
    """

    def __init__(self, spans: Sequence[Span]) -> None:
        super().__init__()
        spans = list(spans)
        width = max((s.width for s in spans), default=0)
        index = torch.zeros(len(spans), width, dtype=torch.long)
        valid = torch.zeros(len(spans), width, dtype=torch.bool)
        for i, s in enumerate(spans):
            index[i, : s.width] = torch.arange(s.start, s.end)
            valid[i, : s.width] = True
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("valid", valid, persistent=False)
        self.n_spans, self.width = len(spans), width

    def gather(self, x: Tensor, fill: float = float("-inf")) -> Tensor:
        """``x[:, index]`` with padding set to ``fill``: shape ``[B, S, W]``."""
        return x[:, self.index].masked_fill(~self.valid, fill)

    def gumbel_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """:func:`gumbel_noise` for ``batch`` rows of these spans."""
        return gumbel_noise(batch, self.n_spans, self.width, generator)


class SpanActivation(nn.Module):
    r"""Generator output activations: :math:`\tanh` on ``tanh`` spans, Gumbel-softmax on the rest.

    ``forward(logits, gumbel=None)``: ``gumbel`` (shape ``[B, S, W]``, standard Gumbel
    noise) may be passed for reproducible sampling; otherwise it is drawn on the logits'
    device. With ``hard=True`` the one-hots are exact (argmax of :math:`\ell + g`, i.e. a
    draw from :math:`\mathrm{softmax}(\ell)`), as used at sampling time.
    """

    def __init__(self, spans: Sequence[Span], tau: float = 0.2) -> None:
        super().__init__()
        self.tau = positive_float("tau", tau)
        tanh_cols = [c for s in spans if s.activation == "tanh" for c in range(s.start, s.end)]
        soft = [s for s in spans if s.activation == "softmax"]
        self.soft = SoftmaxSpans(soft)
        soft_cols = self.soft.index[self.soft.valid]
        order = torch.cat([torch.as_tensor(tanh_cols, dtype=torch.long), soft_cols])
        dim = max((s.end for s in spans), default=0)
        if sorted(order.tolist()) != list(range(dim)):
            raise ValueError("spans: expected spans that tile 0..output_dim without overlap")
        self.register_buffer("tanh_cols", torch.as_tensor(tanh_cols, dtype=torch.long), False)
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        self.dim = dim

    def gumbel_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """Gumbel noise for ``batch`` rows of the one-hot spans (:func:`gumbel_noise`)."""
        return self.soft.gumbel_noise(batch, generator)

    def forward(self, logits: Tensor, gumbel: Tensor | None = None, hard: bool = False) -> Tensor:
        if logits.dim() != 2 or logits.shape[1] != self.dim:
            raise ValueError(f"logits: expected shape [B, {self.dim}], got {tuple(logits.shape)}")
        if gumbel is None:
            e = torch.empty(
                logits.shape[0], self.soft.n_spans, self.soft.width, device=logits.device
            ).exponential_()
            gumbel = -e.clamp_min(torch.finfo(e.dtype).tiny).log()
        scores = (self.soft.gather(logits) + gumbel.to(logits)) / self.tau
        if hard:
            probs = F.one_hot(scores.argmax(-1), self.soft.width).to(logits.dtype)
        else:
            probs = torch.softmax(scores, dim=-1)
        values = torch.tanh(logits[:, self.tanh_cols])
        return torch.cat([values, probs[:, self.soft.valid]], 1)[:, self.inverse]
