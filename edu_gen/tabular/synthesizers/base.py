"""What every synthesizer shares: ``fit(frame)``, ``sample(n, seed=...)``, ``losses()``.

A synthesizer is a :class:`Synthesizer` that says three things:

* :meth:`~Synthesizer.prepare` - fit the encoder on the frame, build the network; returns the
  encoded rows;
* :meth:`~Synthesizer.phases` - the training, as one or more :class:`Phase` s, each one call
  of :func:`edu_gen.core.train.fit` (e.g. CTAB-GAN's classifier, then its GAN). Only the last
  phase is checkpointed and resumed; earlier ones are retrained deterministically;
* its ``sample`` method, which validates its options and calls :meth:`~Synthesizer.generate`
  with a function that draws ``b`` encoded rows from a ``torch.Generator``.

The rest is written once here: argument checks, seeding (:func:`edu_gen.core.rng.seeded`
around the network's initialisation and around training, so the global RNG of the caller is
untouched and the same seed gives the same numbers), checkpoints (including the upgrade of
files written before training had players, :mod:`~edu_gen.tabular.synthesizers.legacy`),
batched sampling in eval mode, and the per-epoch loss table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import positive_int
from edu_gen.core.config import get_device
from edu_gen.core.train import History, Player, fit
from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.synthesizers.legacy import LegacyLayout, upgrade_checkpoint

Tensor = torch.Tensor

__all__ = ["Phase", "Synthesizer"]


@dataclass
class Phase:
    """One call of :func:`edu_gen.core.train.fit`.

    ``model`` is trained by ``objective`` (a ``{name: Player}`` dict, with ``data`` yielding
    :class:`~edu_gen.core.train.Turn` s; or one loss function with its ``optimizer``) for
    ``epochs`` passes over ``data``. ``name`` keys :attr:`Synthesizer.histories`, ``desc``
    titles the progress bar. ``rng``: the generators ``data`` draws from (saved in
    checkpoints). ``freeze``: ``model`` is frozen afterwards (a pretrained part that later
    phases use but do not train). ``legacy``: how checkpoints written before training had
    players map onto ``objective``'s players (:mod:`~edu_gen.tabular.synthesizers.legacy`).
    """

    name: str
    desc: str
    model: nn.Module
    objective: Mapping[str, Player] | Callable[..., Any]
    data: Iterable[Any]
    epochs: int
    optimizer: torch.optim.Optimizer | None = None
    rng: tuple[torch.Generator, ...] = ()
    freeze: bool = False
    legacy: LegacyLayout | None = None


class Synthesizer(ABC):
    """Base of the tabular synthesizers (see the module docstring).

    Attributes after :meth:`fit`: ``transformer`` (the encoder), ``net`` (the networks),
    ``histories`` (one :class:`~edu_gen.core.train.History` per phase) and ``history`` (the
    last phase's, one record per player update).
    """

    label = "synthesizer"

    def __init__(
        self,
        schema: Schema,
        *,
        batch_size: int = 500,
        epochs: int = 300,
        max_modes: int = 10,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        self.schema = schema
        self.batch_size = positive_int("batch_size", batch_size)
        self.epochs = positive_int("epochs", epochs)
        self.max_modes = positive_int("max_modes", max_modes)
        self.seed = rng.check_seed(seed)
        self.device = get_device(None if device is None else str(device))
        self.transformer: Any = None
        self.net: nn.Module | None = None
        self.histories: dict[str, History] = {}

    # -- what a synthesizer defines ----------------------------------------------------------
    @abstractmethod
    def prepare(self, frame: pd.DataFrame) -> Tensor:
        """Fit the encoder (and sampler) on ``frame``, build ``self.net``; the encoded rows."""

    @abstractmethod
    def phases(self, data: Tensor, epochs: int) -> list[Phase]:
        """The training of ``self.net`` on the encoded rows ``data`` for ``epochs`` epochs."""

    # -- written once ----------------------------------------------------------------------
    def build(self, make: Callable[[], nn.Module]) -> nn.Module:
        """``make()`` with torch's global RNG seeded by the synthesizer's seed (initialisation)."""
        with rng.seeded(self.seed):
            return make()

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        epochs: int | None = None,
        checkpoint: str | Path | None = None,
        progress: bool = True,
    ) -> Synthesizer:
        """Fit the encoder and the networks on ``frame``; returns ``self``.

        ``epochs`` (default: the constructor's) is the total budget; with ``checkpoint``, a
        run that finds the file resumes from it (same frame and settings needed) and the
        result equals an uninterrupted run bit for bit on CPU. Every call starts from fresh
        networks unless it resumes.

        Raises:
            ValueError: ``frame`` does not match the schema (names the column and why).
            edu_gen.core.train.CheckpointError: the checkpoint belongs to another model.
        """
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        data = self.prepare(frame)
        self.histories = {}
        with rng.seeded(self.seed, self.device):
            plan = self.phases(data, epochs)
            for i, phase in enumerate(plan):
                path = checkpoint if i == len(plan) - 1 else None
                if path is not None and phase.legacy is not None:
                    upgrade_checkpoint(Path(path), phase.objective, phase.legacy)
                self.histories[phase.name] = fit(
                    phase.model,
                    phase.objective,
                    phase.data,
                    epochs=phase.epochs,
                    optimizer=phase.optimizer,
                    device=self.device,
                    checkpoint=path,
                    checkpoint_every=len(phase.data),
                    progress=progress,
                    desc=phase.desc,
                    rng=phase.rng,
                )
                if phase.freeze:
                    phase.model.requires_grad_(False)
                    phase.model.eval()
        return self

    @property
    def history(self) -> History | None:
        """The last phase's history (the main model's training)."""
        return list(self.histories.values())[-1] if self.histories else None

    def check_fitted(self) -> None:
        """RuntimeError unless :meth:`fit` has run."""
        if self.net is None or self.history is None:
            raise RuntimeError(f"{self.label}: call fit(frame) first")

    @torch.no_grad()
    def generate(
        self, n: int, seed: int | None, draw: Callable[[int, torch.Generator], Tensor]
    ) -> pd.DataFrame:
        """``n`` decoded rows, drawn in batches of ``batch_size`` as ``draw(b, generator)``
        with the network in eval mode. ``seed`` makes the draw reproducible and independent
        of the global RNG (``None``: a seed drawn from it)."""
        self.check_fitted()
        positive_int("n", n)
        if seed is None:
            seed = int(torch.randint(2**62, (1,)).item())
        g = rng.generator(seed)
        was_training = self.net.training
        self.net.eval()
        chunks = []
        try:
            for start in range(0, n, self.batch_size):
                chunks.append(draw(min(self.batch_size, n - start), g).cpu())
        finally:
            self.net.train(was_training)
        return self.transformer.inverse_transform(torch.cat(chunks).numpy())

    def losses(self) -> pd.DataFrame:
        """Per-epoch means of what training logged.

        With players (a GAN): for each player in order, its loss (column named after the
        player) and its metrics. With one loss function (TVAE): ``loss`` and its metrics.
        """
        self.check_fitted()
        history = self.history
        table = pd.DataFrame({key: history[key] for key in history.keys()})
        if "player" not in table:
            return table.drop(columns="step").groupby("epoch").mean()
        out = {}
        for player in history.players():
            rows = table[table.player == player].groupby("epoch")
            for key in history.select(player).metrics():
                out[player if key == "loss" else key] = rows[key].mean()
        return pd.DataFrame(out)
