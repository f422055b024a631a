"""The per-step log of a training run: :class:`History`.

One record per step: the counters ``step`` and ``epoch``, in a run with several players the
``player`` who moved, then the loss and whatever else the loss function logged. The data are
kept as plain lists (one column per key) so that they fit in a ``weights_only`` checkpoint.

Players may log different metrics (a critic its gradient penalty, a generator its
conditioning loss): a column holds NaN on the steps of a player that does not log it. Each
player (or, in a single-player run, every step) must log the same keys every time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["COUNTERS", "History"]

COUNTERS = ("step", "epoch", "player")
"""Keys :func:`~edu_gen.core.train.fit` writes itself; a loss function may not log them."""


class History:
    """Per-step training log: ``step``, ``epoch`` (``player``), ``loss`` and extra metrics.

    ``history["loss"]`` is a NumPy array with one entry per step. :meth:`select` keeps one
    player's steps and the keys that player logs.
    """

    def __init__(self, columns: Mapping[str, list[Any]] | None = None) -> None:
        self._columns: dict[str, list[Any]] = {}
        self._keys: dict[Any, frozenset[str]] = {}  # player (None: no player) -> its keys
        if columns:
            lengths = {str(key): len(values) for key, values in columns.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"columns: expected lists of equal length, got {lengths}")
            self._columns = {str(key): list(values) for key, values in columns.items()}
            for record in self.records:
                self._keys.setdefault(record.get("player"), _present(record))

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one step's record; a player (or, without players, every step) logs the same keys."""
        player = record.get("player")
        keys = frozenset(record)
        known = self._keys.get(player)
        if known is None and player is None and self._columns:
            known = frozenset(self._columns)
        if known is not None and keys != known:
            who = f"player {player!r}" if player is not None else "loss_fn"
            raise ValueError(
                f"record at step {record.get('step')}: keys {sorted(keys)} differ from "
                f"earlier steps {sorted(known)}; {who} must return the same metrics at every step"
            )
        self._keys[player] = keys
        n = len(self)
        for key in record:
            if key not in self._columns:  # a metric this step is the first to log
                self._columns[key] = [math.nan] * n
        for key, column in self._columns.items():
            column.append(record.get(key, math.nan))

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def __contains__(self, key: object) -> bool:
        return key in self._columns

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._columns:
            raise KeyError(f"{key!r} was not logged; available keys: {self.keys()}")
        return np.asarray(self._columns[key])

    def keys(self) -> list[str]:
        """All logged keys, the counters included."""
        return list(self._columns)

    def metrics(self) -> list[str]:
        """Logged quantities other than the counters ``step``, ``epoch`` and ``player``."""
        return [key for key in self._columns if key not in COUNTERS]

    def players(self) -> list[str]:
        """The players that moved, in order of their first step (``[]`` without players)."""
        return list(dict.fromkeys(self._columns.get("player", [])))

    def select(self, player: str) -> History:
        """The steps of ``player`` only, with the keys it logs (``player`` itself dropped)."""
        if player not in self._keys or player is None:
            raise KeyError(f"player {player!r} did not move; players: {self.players()}")
        keys = [key for key in self._columns if key in self._keys[player] and key != "player"]
        rows = [i for i, who in enumerate(self._columns["player"]) if who == player]
        return History({key: [self._columns[key][i] for i in rows] for key in keys})

    def last(self, key: str = "loss") -> float:
        """The most recent value of ``key``."""
        values = self[key]
        if values.size == 0:
            raise ValueError(f"history is empty: no {key!r} value logged yet")
        return values[-1].item()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The log as one dict per step (NaN where that step's player logs no such key)."""
        keys, columns = self.keys(), self._columns.values()
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]

    def state_dict(self) -> dict[str, list[Any]]:
        """Plain ``{key: list}`` copy, loadable with ``torch.load(weights_only=True)``."""
        return {key: list(values) for key, values in self._columns.items()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, list[Any]]) -> History:
        """Rebuild a history saved with :meth:`state_dict`."""
        if not isinstance(state, Mapping) or not all(isinstance(v, list) for v in state.values()):
            raise ValueError("state: expected a dict of lists as made by History.state_dict()")
        return cls(state)

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{metric: (steps, values)}``, each metric at the steps that logged it (no NaN)."""
        x = self["step"] if "step" in self else np.arange(1, len(self) + 1)
        found = {}
        for key in self.metrics():
            y = self[key].astype(float)
            logged = ~np.isnan(y)
            found[key] = (x[logged], y[logged])
        return found

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot :meth:`curves`; returns the Axes.

        ``keys``, ``logy`` and ``smooth`` as in :func:`~edu_gen.core.train.curves.draw_curves`.
        """
        from edu_gen.core.train.curves import draw_curves  # matplotlib loads on first plot

        return draw_curves(self.curves(), ax=ax, **kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History) or list(self._columns) != list(other._columns):
            return False
        return all(_same(self._columns[k], other._columns[k]) for k in self._columns)

    def __repr__(self) -> str:
        tail = f", last loss={self.last('loss'):.4g}" if "loss" in self and len(self) else ""
        return f"History({len(self)} steps, keys={self.metrics()}{tail})"


def _present(record: Mapping[str, Any]) -> frozenset[str]:
    """The keys a record really logged (a NaN fills a key its player does not log)."""
    return frozenset(k for k, v in record.items() if not (isinstance(v, float) and math.isnan(v)))


def _same(a: list[Any], b: list[Any]) -> bool:
    """Equal lists, where NaN equals NaN (the filler of keys a player does not log)."""
    nan = (float, np.floating)
    return len(a) == len(b) and all(
        x == y or (isinstance(x, nan) and isinstance(y, nan) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a, b, strict=True)
    )
