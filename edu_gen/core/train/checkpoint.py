"""Checkpoint files that survive a crash: atomic :func:`save_checkpoint`, :func:`load_checkpoint`.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, written with
``torch.save`` and read back with ``torch.load(weights_only=True)`` (which refuses to run
code from the file). Every file carries a SHA-256 of its content (key ``"checksum"``, see
:mod:`edu_gen.core.train.integrity`) that loading verifies, so flipped bytes are an error
rather than silently wrong weights. Saving writes a temporary file, fsyncs it, makes the old
file ``<name>.prev`` (a hard link, so the old name never goes missing) and renames the new
one into place: a kill at any moment leaves a complete checkpoint at ``<name>``. A file that
does not verify is never rotated into ``.prev``, so the last good copy survives. Errors name
the file and say how to recover (:func:`recovery_hint`).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from edu_gen.core.train.integrity import (
    CHECKSUM_KEY,
    content_digest,
    remove_stale_temporaries,
    temporary_path,
    writing,
)

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "previous_path",
    "recovery_hint",
    "save_checkpoint",
]

_VERIFIED: dict[str, tuple[int, int, int, int] | None] = {}
"""Files this process wrote or verified, with their stat signature then (skip re-reading)."""


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
            f"The previous checkpoint was kept at {prev} (a later save will not replace it "
            f"with this file); to resume from it, move it into place "
            f"(os.replace({str(prev)!r}, {str(path)!r})) and run again."
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


def _file_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint: {path} is a folder; expected a file path such as {path / 'run.pt'}"
        )
    return path


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remember_good(path: Path) -> None:
    _VERIFIED[os.path.abspath(path)] = _signature(path)


def _is_good(path: Path) -> bool:
    """Whether ``path`` holds a checkpoint that verifies (cached for files seen unchanged)."""
    signature = _signature(path)
    if signature is not None and _VERIFIED.get(os.path.abspath(path)) == signature:
        return True
    try:
        load_checkpoint(path)
    except (CheckpointError, OSError):
        return False
    return True


def _rotate(path: Path) -> None:
    """Make ``<name>.prev`` a copy of ``path`` atomically; ``path`` itself stays in place."""
    prev = previous_path(path)
    tmp = temporary_path(prev)
    with writing(tmp):
        try:
            tmp.unlink(missing_ok=True)
            try:
                os.link(path, tmp)  # a second name for the same file: instant, no copy
            except OSError:  # file systems without hard links (some network mounts)
                shutil.copyfile(path, tmp)
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
            os.replace(tmp, prev)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Atomically save ``state`` (tensors, numbers, strings, lists, dicts) to ``path``.

    The data and their :func:`~edu_gen.core.train.integrity.content_digest` (under the key
    ``"checksum"``) are written to a temporary file in the same folder and fsynced; an
    existing file at ``path`` that verifies becomes ``<name>.prev`` (one that does not is
    replaced without touching ``.prev``, which keeps the last good copy); then the temporary
    file is renamed into place. At every moment ``path`` is a complete file. Temporaries
    left by killed saves are removed first. Returns the path. The file loads with
    ``torch.load(path, weights_only=True)``.
    """
    if not state:
        raise ValueError("state: expected at least one keyword argument to save")
    if CHECKSUM_KEY in state:
        raise ValueError(
            f"state: the key {CHECKSUM_KEY!r} is reserved for the checksum save_checkpoint "
            "writes; rename that entry"
        )
    _check_weights_only(state, "state")
    path = _file_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    payload = {**state, CHECKSUM_KEY: content_digest(state)}
    tmp = temporary_path(path)
    with writing(tmp):
        try:
            with open(tmp, "wb") as handle:
                torch.save(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if path.exists():
                if _is_good(path):
                    _rotate(path)
                else:
                    warnings.warn(
                        f"checkpoint {path} does not verify; it is replaced by the new save "
                        f"and not kept as {previous_path(path).name}, which still holds the "
                        "last good copy",
                        stacklevel=2,
                    )
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _fsync_dir(path.parent)
    _remember_good(path)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    The content is checked against the checksum saved with it (files written before
    checksums load unchecked) and returned without the ``"checksum"`` entry. Temporaries
    left by killed saves of ``path`` are removed.

    Raises :class:`CheckpointError` (naming the file, and the ``.prev`` backup if one
    exists) when the file is truncated, corrupted or not a checkpoint at all.
    """
    path = _file_path(path)
    remove_stale_temporaries(path)
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
    if CHECKSUM_KEY in state:
        saved = state.pop(CHECKSUM_KEY)
        actual = content_digest(state)
        if saved != actual:
            raise CheckpointError(
                f"checkpoint {path} is corrupted: its content no longer matches the checksum "
                f"saved with it ({str(saved)[:23]}… vs {actual[:23]}…), so bytes changed after "
                "it was written. " + recovery_hint(path)
            )
    _remember_good(path)
    return state
