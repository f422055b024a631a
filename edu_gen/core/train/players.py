r"""Who moves at each step: :class:`Turn`, :class:`Player` and :class:`TurnCycle`.

Training is a sequence of steps, and each step one *player* updates its parameters:

    θ_p ← θ_p − η_p ∇θ_p L_p(θ; batch)

A plain model is one player (``fit`` names it ``"model"``). A GAN has two, the critic and the
generator, each with its own loss and its own optimiser; a private model adds a player whose
step is DP-SGD. ``fit(model, players, turns)`` takes a ``{name: Player}`` dict and data whose
every item is a :class:`Turn` naming the player who moves on that batch, so whose turn it is
is written in the data, never guessed from a counter or from the batch's keys.

* :class:`Player` — a loss function and the optimiser that descends it. Subclasses override
  :meth:`Player.update` for other kinds of step (per-example clipping and noise, a closed
  form): the contract is "update the parameters from this batch, return the logged numbers,
  raise :class:`FloatingPointError` (model untouched) on a non-finite loss".
* :class:`TurnCycle` — re-iterable turns: the players of ``order`` move in turn, each on the
  next batch of the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from edu_gen.core.checks import positive_float
from edu_gen.core.train.history import COUNTERS

__all__ = ["LossFn", "Player", "Turn", "TurnCycle", "split_loss"]

LossFn = Callable[[nn.Module, Any], "Tensor | Mapping[str, Tensor | float]"]


@dataclass(frozen=True)
class Turn:
    """One step's work: ``player`` (a key of fit's players) moves on ``batch``."""

    player: str
    batch: Any


def split_loss(out: Any) -> tuple[Tensor, dict[str, float]]:
    """Check a loss function's output; return the loss tensor and the other metrics as floats.

    ``out`` is a scalar tensor that requires grad, or a dict with such a ``"loss"`` and other
    scalars (tensors or numbers) to log. Raises ValueError for anything else and
    FloatingPointError for a non-finite metric.
    """
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise ValueError(f"loss_fn: returned a dict without a 'loss' entry (keys {list(out)})")
        loss, extras = out["loss"], {k: v for k, v in out.items() if k != "loss"}
    else:
        loss, extras = out, {}
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn: expected the loss to be a scalar tensor, got {got}")
    if not loss.requires_grad:
        raise ValueError(
            "loss_fn: the loss does not require grad (was it detached, computed under "
            "torch.no_grad(), or computed without the model?)"
        )
    metrics: dict[str, float] = {}
    for key, value in extras.items():
        if key in COUNTERS:
            raise ValueError(f"loss_fn: metric name {key!r} is reserved; use another name")
        if isinstance(value, Tensor) and value.numel() == 1:
            value = value.detach().item()
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"loss_fn: metric {key!r} must be a scalar, got {value!r}")
        if not math.isfinite(value):
            raise FloatingPointError(f"metric {key!r} is {value} (not finite)")
        metrics[str(key)] = float(value)
    return loss, metrics


class Player:
    """One participant of training: the loss it descends and the optimiser that steps for it.

    ``loss_fn(model, batch)`` returns a scalar tensor, or a dict with a scalar ``"loss"``
    tensor and other scalars to log. ``optimizer`` holds the parameters this player moves
    (all of them belong to the model ``fit`` trains, and only they are saved).
    ``grad_clip`` clips their gradient norm before each step.
    """

    def __init__(
        self, loss_fn: LossFn, optimizer: torch.optim.Optimizer, *, grad_clip: float | None = None
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn: expected a callable loss_fn(model, batch), got {loss_fn!r}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {optimizer!r}")
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.grad_clip = None if grad_clip is None else positive_float("grad_clip", grad_clip)

    def parameters(self) -> list[nn.Parameter]:
        """The parameters this player's optimiser steps."""
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def update(self, model: nn.Module, batch: Any) -> dict[str, float]:
        """One step θ ← θ − η ∇θ L(θ; batch) on this player's parameters.

        zero_grad; ``out = loss_fn(model, batch)``; the loss must be finite
        (:class:`FloatingPointError`, model untouched, otherwise); backward; optional
        gradient-norm clip; ``optimizer.step()``. Returns ``{"loss": float, **metrics}``.
        """
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = split_loss(self.loss_fn(model, batch))
        value = loss.detach().item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss is {value}; training stopped before updating the model. Try a "
                "lower lr, grad_clip=1.0, or look for log(0) / division by zero in loss_fn."
            )
        loss.backward()
        if self.grad_clip is not None:
            norm = nn.utils.clip_grad_norm_(self.parameters(), self.grad_clip).item()
            if not math.isfinite(norm):
                raise FloatingPointError(f"the gradient norm is {norm}; the model was not updated")
        self.optimizer.step()
        return {"loss": value, **metrics}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loss_fn!r}, {type(self.optimizer).__name__})"


class TurnCycle:
    """Re-iterable :class:`Turn` s: the players of ``order`` move in turn, each on the next batch.

    ``TurnCycle(batches, ["critic"] * 5 + ["generator"])`` gives five critic turns, then a
    generator turn, then five critic turns ... One iteration (an epoch of ``fit``) runs over
    ``data`` as many times as it takes for the cycle to end with the data: with 500 batches and
    a cycle of 6 turns, 3 passes (1,500 turns), so the order never restarts in the middle of a
    cycle. Data without a length are passed over once per iteration, the order restarting.

    DataLoader generators of ``data`` are found by ``fit`` through the cycle. A loader that
    shuffles with the *global* torch RNG resumes exactly only at the cycle's epoch boundaries
    when an epoch spans several passes: give it a ``generator=``.
    """

    def __init__(self, data: Iterable[Any], order: Sequence[str]) -> None:
        if isinstance(data, Iterator) or not isinstance(data, Iterable):
            raise ValueError(
                f"data: expected a re-iterable such as a DataLoader or a list of batches, got "
                f"{type(data).__name__}"
            )
        if isinstance(order, str) or not order or not all(isinstance(p, str) for p in order):
            raise ValueError(f"order: expected a non-empty list of player names, got {order!r}")
        self.data = data
        self.order = tuple(order)
        try:
            n = len(data)  # type: ignore[arg-type]
        except TypeError:
            n = None
        self.passes = 1 if not n else len(self.order) // math.gcd(n, len(self.order))

    def __len__(self) -> int:
        return len(self.data) * self.passes  # type: ignore[arg-type]  # TypeError without len

    def __iter__(self) -> Iterator[Turn]:
        k = 0
        for _ in range(self.passes):
            for batch in self.data:
                yield Turn(self.order[k % len(self.order)], batch)
                k += 1

    def __repr__(self) -> str:
        return f"TurnCycle({type(self.data).__name__}, order={list(self.order)})"
