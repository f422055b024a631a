"""Where a run stands (:class:`Progress`), its checkpoint, and the exact replay of an epoch.

A ``fit`` checkpoint (format ``edu_gen.fit/2``) holds the model's state, every player's
optimiser state by name, the counters (``step``, ``epoch`` and ``position``, the batches
done in the epoch), the history, and two sets of RNG states: at the checkpoint step and at
the start of its epoch. Files of format ``edu_gen.fit/1`` (one ``"optimizer"``) still load
into a run with one player. Since checkpoints carry a checksum (``"checksum"``, written and
verified by :mod:`edu_gen.core.train.checkpoint`, outside this format and stripped on load)
a corrupted file is an error; older files of either format, without one, load unchecked.

How the exact resume works: on resume the RNG states of the epoch's start are restored, the
epoch's data iterator is created again (so a shuffling ``DataLoader`` draws the same
permutation), the batches already used are skipped, and finally the RNG states of the
checkpoint step are restored so that random noise inside the loss is the same as well.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edu_gen.core.train import rng_state
from edu_gen.core.train.checkpoint import CheckpointError, load_checkpoint, previous_path
from edu_gen.core.train.history import History
from edu_gen.core.train.integrity import remove_stale_temporaries
from edu_gen.core.train.players import Player

__all__ = ["FORMAT", "Progress", "epoch_batches", "fit_state", "restore_run"]

FORMAT = "edu_gen.fit/2"
FORMAT_SINGLE = "edu_gen.fit/1"  # before players: one optimizer, saved as "optimizer"
_COMMON_KEYS = ("format", "model", "step", "epoch", "position", "history", "rng")


@dataclass
class Progress:
    """Where training stands: ``position`` batches of ``epoch`` are done, ``step`` in all."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    history: History = field(default_factory=History)
    rng_epoch: dict[str, Any] | None = None  # RNG states at the start of ``epoch``
    rng_step: dict[str, Any] | None = None  # RNG states right after ``step`` (on resume)

    def key(self) -> tuple[int, int, int]:
        return (self.step, self.epoch, self.position)


def fit_state(
    model: nn.Module,
    players: Mapping[str, Player],
    run: Progress,
    generators: Sequence[torch.Generator],
) -> dict[str, Any]:
    """Everything :func:`restore_run` needs, as keyword arguments of ``save_checkpoint``."""
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizers": {name: p.optimizer.state_dict() for name, p in players.items()},
        "step": run.step,
        "epoch": run.epoch,
        "position": run.position,
        "history": run.history.state_dict(),
        "rng": rng_state.capture(generators),
        "rng_epoch_start": run.rng_epoch,
    }


def _load_model(path: Path, model: nn.Module, saved: Mapping[str, Tensor]) -> None:
    current = model.state_dict()
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    wrong = [
        f"{k} {tuple(saved[k].shape)} vs {tuple(current[k].shape)}"
        for k in current
        if k in saved and saved[k].shape != current[k].shape
    ]
    problems = [
        f"{label} {items[:10]}"
        for label, items in (
            ("keys missing from the checkpoint", missing),
            ("keys not in the model", unexpected),
            ("shape mismatches (checkpoint vs model)", wrong),
        )
        if items
    ]
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not match the model: {'; '.join(problems)}. "
            "Use another checkpoint path, or resume=False to start over."
        )
    model.load_state_dict(saved)


def _optimizer_states(path: Path, state: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """The saved optimiser state of every player, by name (a ``fit/1`` file: its only one)."""
    if state["format"] == FORMAT_SINGLE and "optimizer" in state:
        if len(names) != 1:
            raise CheckpointError(
                f"checkpoint {path} was written by a one-optimizer fit (format "
                f"{FORMAT_SINGLE!r}); its optimizer state cannot be split among the players "
                f"{names}. Delete it (or pass resume=False) to train from scratch."
            )
        return {names[0]: state["optimizer"]}
    saved = state.get("optimizers")
    if state["format"] != FORMAT or not isinstance(saved, dict):
        raise CheckpointError(
            f"checkpoint {path} was not written by fit() (format {state['format']!r}). "
            "Use another checkpoint path or resume=False."
        )
    if sorted(saved) != sorted(names):
        raise CheckpointError(
            f"checkpoint {path} holds the optimizers of players {sorted(saved)}, but this run "
            f"has players {sorted(names)}. Use another checkpoint path or resume=False."
        )
    return saved


def restore_run(
    path: Path, model: nn.Module, players: Mapping[str, Player], n_generators: int
) -> Progress | None:
    """Load ``path`` into the model and the players' optimisers; None if nothing to resume."""
    prev = previous_path(path)
    remove_stale_temporaries(path)  # left by a save that was killed
    if not path.exists():
        if prev.exists():
            raise CheckpointError(
                f"checkpoint {path} is missing but {prev} exists (was a save interrupted?). "
                f"To resume from it, os.replace({str(prev)!r}, {str(path)!r}); to start "
                "over, delete it or pass resume=False."
            )
        return None
    state = load_checkpoint(path)
    missing = [key for key in _COMMON_KEYS if key not in state]
    if missing or state["format"] not in (FORMAT, FORMAT_SINGLE):
        raise CheckpointError(
            f"checkpoint {path} was not written by fit() (format {state.get('format')!r}, "
            f"missing {missing}). Use another checkpoint path or resume=False."
        )
    optimizer_states = _optimizer_states(path, state, list(players))
    _load_model(path, model, state["model"])
    for name, player in players.items():
        try:
            player.optimizer.load_state_dict(optimizer_states[name])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(
                f"checkpoint {path}: the optimizer state of player {name!r} does not fit "
                f"its optimizer ({exc})"
            ) from exc
    if len(state["rng"]["generators"]) != n_generators:
        warnings.warn(
            f"checkpoint {path} saved {len(state['rng']['generators'])} data generator "
            f"state(s) but this run has {n_generators}; the resumed data order will differ "
            "from an uninterrupted run",
            stacklevel=3,
        )
    if state["rng"]["cuda"] and not torch.cuda.is_available():
        warnings.warn(
            f"checkpoint {path} was written with CUDA; its CUDA random state cannot be "
            "restored here, so random draws after resuming will differ",
            stacklevel=3,
        )
    return Progress(
        step=state["step"],
        epoch=state["epoch"],
        position=state["position"],
        history=History.from_state_dict(state["history"]),
        rng_epoch=state.get("rng_epoch_start"),
        rng_step=state["rng"],
    )


def _skip(iterator: Iterator[Any], count: int, path: Path | None, epoch: int) -> None:
    """Consume the ``count`` batches that the checkpointed run already trained on."""
    for done in range(count):
        try:
            next(iterator)
        except StopIteration:
            raise CheckpointError(
                f"checkpoint {path} stopped after batch {count} of epoch {epoch}, but data "
                f"now yields only {done} batches per epoch: was the data or batch size changed?"
            ) from None


def epoch_batches(
    data: Iterable[Any], run: Progress, generators: Sequence[torch.Generator], path: Path | None
) -> Iterator[Any]:
    """Start the iterator of epoch ``run.epoch``; after a resume, replay it to ``run.position``."""
    if run.rng_step is not None and run.position == 0:
        # checkpoint at an epoch boundary: its RNG states are this epoch's start states
        rng_state.restore(run.rng_step, generators)
        run.rng_step = None
    if run.rng_step is None:
        run.rng_epoch = rng_state.capture(generators)
        return iter(data)
    rng_state.restore(run.rng_epoch, generators)
    batches = iter(data)
    _skip(batches, run.position, path, run.epoch)
    rng_state.restore(run.rng_step, generators)
    run.rng_step = None
    return batches
