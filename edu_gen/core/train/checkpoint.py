"""Checkpoint files that survive a crash: atomic :func:`save_checkpoint`, :func:`load_checkpoint`.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, written with
``torch.save`` and read back with ``torch.load(weights_only=True)`` (which refuses to run
code from the file). Saving writes a temporary file, fsyncs it, keeps the old file as
``<name>.prev`` and renames the new one into place, so a crash at any moment leaves at least
one complete checkpoint. Errors name the file and say how to recover (:func:`recovery_hint`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "previous_path",
    "recovery_hint",
    "save_checkpoint",
]


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or it does not fit the model being trained."""


def previous_path(path: Path) -> Path:
    """Where :func:`save_checkpoint` keeps the file it replaces: ``<name>.prev``."""
    return path.with_name(path.name + ".prev")


def recovery_hint(path: Path) -> str:
    """What to do about a bad checkpoint at ``path``: use its ``.prev`` backup, or start over."""
    prev = previous_path(path)
    if prev.exists():
        return (
            f"The previous checkpoint was kept at {prev}; to resume from it, move it into "
            f"place (os.replace({str(prev)!r}, {str(path)!r})) and run again."
        )
    return f"No previous checkpoint ({prev.name}) exists; delete {path} to start over."


def _check_weights_only(obj: Any, where: str) -> None:
    """Raise TypeError if ``obj`` would not load with ``torch.load(weights_only=True)``."""
    if isinstance(obj, Tensor) or type(obj) in (bool, int, float, str, type(None)):
        return
    if isinstance(obj, (torch.dtype, torch.device)):
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            _check_weights_only(key, f"{where} key {key!r}")
            _check_weights_only(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple, torch.Size):
        for index, value in enumerate(obj):
            _check_weights_only(value, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where}: a {type(obj).__module__}.{type(obj).__name__} cannot be loaded with "
        "torch.load(weights_only=True); convert it to a tensor, number, string, list or dict"
    )


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Atomically save ``state`` (tensors, numbers, strings, lists, dicts) to ``path``.

    The data are written to a temporary file in the same folder and fsynced; an existing
    file at ``path`` is kept as ``<name>.prev``; then the temporary file is renamed into
    place. Returns the path. The file loads with ``torch.load(path, weights_only=True)``.
    """
    if not state:
        raise ValueError("state: expected at least one keyword argument to save")
    _check_weights_only(state, "state")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.replace(path, previous_path(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises :class:`CheckpointError` (naming the file, and the ``.prev`` backup if one
    exists) when the file is truncated, corrupted or not a checkpoint at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}: {reason}). "
            + recovery_hint(path)
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, expected a dict. "
            + recovery_hint(path)
        )
    return state
