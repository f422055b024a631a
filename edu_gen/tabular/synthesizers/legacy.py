"""Checkpoints written before training had players, upgraded so that they resume.

Until the players protocol (:mod:`edu_gen.core.train.players`), a GAN synthesizer trained
with *one* Adam over the generator's and the critic's parameters, and its history said whose
turn a step was with a ``generator_step`` column (0: critic, 1: generator). Adam keeps its
state per parameter, so that one optimiser's state splits exactly into one per player, and
the history into ``player`` rows; :func:`upgrade_checkpoint` rewrites such a file in the
current format (the old file is kept as ``<name>.prev``), after which it resumes exactly as
it would have. A file that does not fit the model is refused with a message that names it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_gen.core.train import CheckpointError, Player, load_checkpoint, save_checkpoint
from edu_gen.core.train.resume import FORMAT

__all__ = ["LegacyLayout", "upgrade_checkpoint"]

TURN_COLUMN = "generator_step"
"""The old history's turn marker: 0.0 on critic steps, 1.0 on generator steps."""


@dataclass(frozen=True)
class LegacyLayout:
    """How a pre-players checkpoint maps onto the players.

    ``optimizer_order``: the players whose parameters, concatenated in this order, the one
    optimiser held. ``metrics``: what each player logs now, players in the order they first
    move (the old history logged 0 for the other player's metrics).
    """

    optimizer_order: tuple[str, ...]
    metrics: Mapping[str, tuple[str, ...]]


def _one_optimizer(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The single optimiser state of an old file, or None for a file with players."""
    if state.get("format") == "edu_gen.fit/1" and "optimizer" in state:
        return state["optimizer"]
    optimizers = state.get("optimizers")
    if (
        state.get("format") == FORMAT
        and isinstance(optimizers, dict)
        and list(optimizers) == ["model"]
    ):
        return optimizers["model"]  # written while the loop had players but the GAN did not
    return None


def _split(
    path: Path, saved: Mapping[str, Any], players: Mapping[str, Player], order: Sequence[str]
) -> dict[str, Any]:
    sizes = [len(players[name].parameters()) for name in order]
    groups = saved["param_groups"]
    n_saved = sum(len(g["params"]) for g in groups)
    if len(groups) != 1 or n_saved != sum(sizes):
        raise CheckpointError(
            f"checkpoint {path} was written before training had players, by one optimiser "
            f"over {n_saved} parameters in {len(groups)} group(s); this model's players "
            f"{list(order)} have {sum(sizes)}. It belongs to another model: delete it (or use "
            "another checkpoint path) to train from scratch."
        )
    (group,) = groups
    ids, out, start = list(group["params"]), {}, 0
    for name, size in zip(order, sizes, strict=True):
        mine = ids[start : start + size]
        state = {i: saved["state"][old] for i, old in enumerate(mine) if old in saved["state"]}
        out[name] = {"state": state, "param_groups": [dict(group, params=list(range(size)))]}
        start += size
    return out


def _history(path: Path, old: Mapping[str, list], layout: LegacyLayout) -> dict[str, list]:
    if TURN_COLUMN not in old:
        raise CheckpointError(
            f"checkpoint {path}: its history has no {TURN_COLUMN!r} column to tell the players "
            "apart; delete it (or use another checkpoint path) to train from scratch."
        )
    names = list(layout.metrics)
    turn_player = {0.0: "critic", 1.0: "generator"}
    player = [turn_player[float(t)] for t in old[TURN_COLUMN]]
    columns = {"step": list(old["step"]), "epoch": list(old["epoch"]), "player": player}
    columns["loss"] = list(old["loss"])
    for name in names:
        for key in layout.metrics[name]:
            pairs = zip(old[key], player, strict=True)
            columns[key] = [value if who == name else math.nan for value, who in pairs]
    return columns


def upgrade_checkpoint(path: Path, players: Mapping[str, Player], layout: LegacyLayout) -> bool:
    """Rewrite an old one-optimiser checkpoint at ``path`` for ``players``; True if it did.

    Files written with players, and missing files, are left alone (``fit`` reads them).

    Raises:
        CheckpointError: an old file whose optimiser does not fit these players.
    """
    if not isinstance(players, Mapping) or not path.is_file():
        return False
    state = load_checkpoint(path)
    saved = _one_optimizer(state)
    if saved is None:
        return False
    upgraded = dict(state)
    upgraded.pop("optimizer", None)
    upgraded["format"] = FORMAT
    upgraded["optimizers"] = _split(path, saved, players, layout.optimizer_order)
    upgraded["history"] = _history(path, state["history"], layout)
    save_checkpoint(path, **upgraded)
    return True
