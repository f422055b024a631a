r"""DP-SGD inside :func:`edu_gen.core.train.fit`: :class:`DPSGDPlayer` and :class:`PoissonBatches`.

:func:`edu_gen.core.train.fit` lets each :class:`~edu_gen.core.train.Player` update its own
parameters. An ordinary player back-propagates a batch loss; a private one needs a loss *per
row*, so that every row's gradient can be clipped before the sum and the noise
(:func:`~edu_gen.tabular.privacy.dpsgd.dp_step`). Its loss function therefore returns a
:class:`PrivateStep` - which module is trained, its per-row loss and the rows, and the
numbers to log - and :meth:`DPSGDPlayer.update` takes the step with its :class:`DPSGD`
(which writes the noisy gradient to ``p.grad``, calls the player's real optimiser and adds
one step to the accountant). :class:`PoissonBatches` gives the player's epoch of Poisson
batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from edu_gen.core.train import Player
from edu_gen.tabular.privacy.dpsgd import DPSGD, LossPerExample

__all__ = ["DPSGDPlayer", "PoissonBatches", "PrivateStep"]


@dataclass(frozen=True)
class PrivateStep:
    """One DP-SGD step's work: ``loss(module, *rows) -> Tensor[B]`` differentiated per row of
    ``rows`` with respect to ``module``'s parameters; ``log`` the numbers to record (its
    ``"loss"`` entry is what the history shows as the loss; computed without gradient)."""

    module: nn.Module
    loss: LossPerExample
    rows: Sequence[Tensor]
    log: Mapping[str, Tensor | float] = field(default_factory=dict)


class DPSGDPlayer(Player):
    """A player whose update is one step of ``dp`` (:class:`DPSGD`).

    ``step_fn(model, batch) -> PrivateStep`` plays the part of a loss function; ``optimizer``
    (over the private module's parameters) takes the step on the noisy gradient. The
    accountant of ``dp`` counts every update. No ``grad_clip``: clipping is per row.
    """

    def __init__(
        self,
        dp: DPSGD,
        step_fn: Callable[[nn.Module, Any], PrivateStep],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        super().__init__(step_fn, optimizer)
        if not isinstance(dp, DPSGD):
            raise TypeError(f"dp: expected a DPSGD, got {type(dp).__name__}")
        self.dp = dp

    def update(self, model: nn.Module, batch: Any) -> dict[str, float]:
        """zero_grad; ``step_fn``; the logged numbers must be finite (FloatingPointError,
        model untouched); then ``dp.step`` (clip, sum, noise, ``optimizer.step()``, one
        accountant step). Returns the logged numbers (``"loss"`` first)."""
        self.optimizer.zero_grad(set_to_none=True)
        step = self.loss_fn(model, batch)
        if not isinstance(step, PrivateStep) or "loss" not in step.log:
            raise ValueError("step_fn: expected a PrivateStep whose log has a 'loss' entry")
        log = {key: float(value) for key, value in step.log.items()}
        for key, value in log.items():
            if not math.isfinite(value):
                raise FloatingPointError(f"metric {key!r} is {value} (not finite)")
        self.dp.step(step.module, step.loss, tuple(step.rows), self.optimizer)
        return log


class PoissonBatches:
    """``steps`` Poisson batches of the full ``data`` (``n`` rows), each drawn by
    :meth:`DPSGD.sample` with ``dp``'s generator: one epoch of a private player's data."""

    def __init__(self, data: Tensor, steps: int, dp: DPSGD) -> None:
        self.data, self.steps, self.dp = data, steps, dp

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Tensor]:
        for _ in range(self.steps):
            yield self.dp.sample(self.data)[0]
