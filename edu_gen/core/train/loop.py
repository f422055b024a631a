"""The training loop every chapter uses: :func:`fit`.

Training a model is gradient descent on a loss. Each step ``fit`` runs

    θ ← θ − η ∇θ L(θ; batch)

where θ are the model's parameters, ``batch`` is the next item from ``data``,
``L = loss_fn(model, batch)`` and η is the learning rate. Back-propagation computes
∇θ L and the optimizer (Adam by default) takes the step; Adam rescales the gradient
per parameter, but the idea is the same. With several players (a GAN's critic and
generator) each item of ``data`` is a :class:`~edu_gen.core.train.players.Turn` and the
step is that player's: its loss, its parameters, its optimiser.

Around that one line ``fit`` adds what a course needs:

* a ``tqdm`` progress bar showing the running loss;
* a :class:`~edu_gen.core.train.history.History` of every step's loss and extra metrics;
* a hard stop on a NaN/inf loss (:class:`FloatingPointError` naming the step);
* checkpoints that survive a Colab disconnect. With ``checkpoint=path`` the model, the
  optimisers, counters, history and all random-number-generator states are saved
  atomically every ``checkpoint_every`` steps; calling ``fit`` again resumes, and on
  CPU the result is bit-for-bit the same as an uninterrupted run
  (:mod:`edu_gen.core.train.resume` explains how).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.core.config import get_device
from edu_gen.core.train.checkpoint import save_checkpoint
from edu_gen.core.train.history import History
from edu_gen.core.train.players import LossFn, Player, Turn
from edu_gen.core.train.resume import Progress, epoch_batches, fit_state, restore_run
from edu_gen.core.train.rng_state import collect_generators

__all__ = ["fit"]

SINGLE = "model"
"""The name of the one player when ``fit`` gets a loss function."""


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


def _len_or_none(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _check_budget(data: Any, steps: Any, epochs: Any) -> None:
    if isinstance(data, Iterator) or not isinstance(data, Iterable):
        raise ValueError(
            f"data: expected a re-iterable such as a DataLoader or a list of batches, got "
            f"{type(data).__name__} (a one-shot iterator cannot be replayed for every epoch)"
        )
    if _len_or_none(data) == 0:
        raise ValueError("data: expected at least one batch, got an empty iterable")
    if (steps is None) == (epochs is None):
        raise ValueError(
            f"fit: pass exactly one of steps= or epochs= (the total training budget), "
            f"got steps={steps!r}, epochs={epochs!r}"
        )
    if steps is not None:
        positive_int("steps", steps)
    if epochs is not None:
        positive_int("epochs", epochs)


def _players(
    model: nn.Module, objective: Any, optimizer: Any, lr: float, grad_clip: float | None
) -> dict[str, Player]:
    """The players of the run: ``objective``'s, or one ``"model"`` player for a loss function."""
    if isinstance(objective, Mapping):
        given = (("optimizer", optimizer), ("grad_clip", grad_clip))
        passed = [name for name, value in given if value is not None]
        passed += ["lr"] if lr != 1e-3 else []  # lr=1e-3 is the default: cannot tell
        if passed:
            raise ValueError(
                f"fit: {', '.join(passed)} cannot be passed with a dict of players; each "
                "Player carries its own optimizer and grad_clip"
            )
        if not objective:
            raise ValueError("objective: expected at least one player, got an empty dict")
        for name, player in objective.items():
            if not isinstance(name, str) or not isinstance(player, Player):
                raise TypeError(
                    f"objective: expected a dict {{name: Player}}, got {name!r}: "
                    f"{type(player).__name__}"
                )
        players = dict(objective)
    elif callable(objective):
        if optimizer is None:
            positive_float("lr", lr)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        players = {SINGLE: Player(objective, optimizer, grad_clip=grad_clip)}
    else:
        raise TypeError(
            "objective: expected a callable loss_fn(model, batch) or a dict {name: Player}, "
            f"got {objective!r}"
        )
    own = {id(p) for p in model.parameters()}
    for name, player in players.items():
        foreign = sum(id(p) not in own for p in player.parameters())
        if foreign:
            raise ValueError(
                f"optimizer: {foreign} of its parameters (player {name!r}) do not belong to "
                "model; fit saves only the model, so build the optimizer on model.parameters()"
            )
    return players


def _turn(item: Any, players: Mapping[str, Player], single: bool, step: int) -> Turn:
    """``item`` as a Turn of one of ``players`` (for a loss function: any item is its batch)."""
    if single:
        return Turn(SINGLE, item)
    if not isinstance(item, Turn):
        raise TypeError(
            f"data: item {step} is a {type(item).__name__}, but with a dict of players every "
            f"item must be a Turn(player, batch) naming one of {list(players)}"
        )
    if item.player not in players:
        raise ValueError(
            f"data: item {step} is a turn of {item.player!r}, not one of {list(players)}"
        )
    return item


def fit(
    model: nn.Module,
    objective: LossFn | Mapping[str, Player],
    data: Iterable[Any],
    *,
    steps: int | None = None,
    epochs: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: str | torch.device | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    resume: bool = True,
    progress: bool = True,
    desc: str = "train",
    grad_clip: float | None = None,
    rng: Sequence[torch.Generator] = (),
) -> History:
    """Train ``model`` over ``data``; return the :class:`History` of every step.

    Args:
        model: the network; it is moved to ``device`` and left in its original train/eval
            mode afterwards.
        objective: ``loss_fn(model, batch)`` returning a scalar tensor, or a dict with a
            scalar ``"loss"`` tensor plus other scalar metrics to log — one player, every
            item of ``data`` its batch. Or a dict ``{name: Player}``: every item of ``data``
            is then a :class:`Turn` and ``players[turn.player].update(model, batch)`` is the
            step; the history gets a ``player`` column.
        data: a re-iterable (DataLoader, list of batches, TurnCycle). Each batch is moved to
            ``device``, including tensors inside tuples, lists and dicts.
        steps, epochs: the total budget; pass exactly one.
        optimizer, lr, grad_clip: the single player's optimiser (default
            ``torch.optim.Adam(model.parameters(), lr=lr)``) and gradient-norm clip; not
            with a dict of players.
        device: defaults to :func:`edu_gen.core.config.get_device`.
        checkpoint: file to save to every ``checkpoint_every`` steps and at the end.
        resume: continue from ``checkpoint`` if it exists (exactly, on CPU).
        progress: show a progress bar titled ``desc``.
        rng: torch.Generators used during training (by the data or the losses) whose states
            checkpoints save and restore. A DataLoader's own generators (``generator=`` of the
            loader and of its RandomSampler, also inside a TurnCycle) are found without it.

    Raises:
        FloatingPointError: a loss (or metric) is NaN/inf; the model is not updated.
        CheckpointError: the checkpoint is unreadable or belongs to another model.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    players = _players(model, objective, optimizer, lr, grad_clip)
    single = not isinstance(objective, Mapping)
    _check_budget(data, steps, epochs)
    positive_int("checkpoint_every", checkpoint_every)
    device = get_device(None if device is None else str(device))
    model.to(device)

    path = Path(checkpoint) if checkpoint is not None else None
    generators = collect_generators(data, rng)
    run = restore_run(path, model, players, len(generators)) if path and resume else None
    run = run or Progress()
    if (steps is not None and run.step > steps) or (epochs is not None and run.epoch > epochs):
        raise ValueError(
            f"checkpoint {path} is already at step {run.step} (epoch {run.epoch}), past the "
            f"budget steps={steps}, epochs={epochs}; raise the budget or pass resume=False"
        )

    def finished() -> bool:
        return run.step >= steps if steps is not None else run.epoch >= epochs

    if finished():
        return run.history

    def save() -> None:
        save_checkpoint(path, **fit_state(model, players, run, generators))

    n_batches = _len_or_none(data)
    total = steps if steps is not None else (epochs * n_batches if n_batches else None)
    bar = tqdm(total=total, initial=run.step, desc=desc, disable=not progress, dynamic_ncols=True)
    running = run.history.last("loss") if len(run.history) else None
    saved_at = run.key()
    was_training = model.training
    model.train()
    try:
        while not finished():
            for item in epoch_batches(data, run, generators, path):
                run.step += 1
                run.position += 1
                turn = _turn(item, players, single, run.step)
                record = _step(model, players[turn.player], turn, device, run, single)
                run.history.append(record)
                loss = record["loss"]
                running = loss if running is None else 0.9 * running + 0.1 * loss
                bar.set_postfix(loss=f"{running:.4g}", refresh=False)
                bar.update(1)
                if path is not None and run.step % checkpoint_every == 0:
                    save()
                    saved_at = run.key()
                if steps is not None and run.step >= steps:
                    break
            else:
                if run.position == 0:
                    raise ValueError(f"data: epoch {run.epoch} yielded no batches")
                run.epoch += 1
                run.position = 0
        if path is not None and run.key() != saved_at:
            save()
    finally:
        bar.close()
        model.train(was_training)
    return run.history


def _step(
    model: nn.Module, player: Player, turn: Turn, device: torch.device, run: Progress, single: bool
) -> dict[str, Any]:
    """One player's update; returns the history record (counters first)."""
    counters: dict[str, Any] = {"step": run.step, "epoch": run.epoch}
    where = f"step {run.step} (epoch {run.epoch})"
    if not single:
        counters["player"] = turn.player
        where += f", player {turn.player!r}"
    try:
        record = player.update(model, _to_device(turn.batch, device))
    except FloatingPointError as exc:
        raise FloatingPointError(f"{where}: {exc}") from exc
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        # a model's own error (a shape mismatch, say): keep its type, say where it happened
        if hasattr(exc, "add_note"):
            exc.add_note(f"fit: raised at {where}, on a batch of {_describe(turn.batch)}")
        raise
    return {**counters, **record}


def _describe(batch: Any) -> str:
    """Shapes and dtypes of a batch, for an error message: ``tensor[64, 784] float32``."""
    if isinstance(batch, torch.Tensor):
        return f"tensor{list(batch.shape)} {str(batch.dtype).removeprefix('torch.')}"
    if isinstance(batch, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in batch.items()) + "}"
    if isinstance(batch, tuple | list):
        return "(" + ", ".join(_describe(v) for v in batch) + ")"
    return type(batch).__name__
