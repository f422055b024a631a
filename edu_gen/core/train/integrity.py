"""What makes a checkpoint file trustworthy: its content digest and its stale temporaries.

:func:`content_digest` is a SHA-256 over a checkpoint's *content* (every key, tensor dtype,
shape and byte, number and string, in order), not over the bytes of the file: it is the same
after a ``torch.save``/``torch.load`` round trip, so :func:`~edu_gen.core.train.checkpoint.
load_checkpoint` can recompute it and compare with the one saved in the file under
:data:`CHECKSUM_KEY`. A flipped byte inside a tensor, which ``torch.load`` reads without
complaint, then changes the digest.

A save writes ``.<name>.tmp-<pid>`` (and ``.<name>.prev.tmp-<pid>`` while rotating the
backup) before renaming it into place; a process killed mid-save leaves that file behind.
:func:`remove_stale_temporaries` deletes those whose process is no longer alive.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "CHECKSUM_KEY",
    "content_digest",
    "remove_stale_temporaries",
    "stale_temporaries",
    "temporary_path",
    "writing",
]

CHECKSUM_KEY = "checksum"
"""The key under which a checkpoint stores ``"sha256:<hex digest of the rest>"``."""

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
_WRITING: set[Path] = set()  # temporaries this process is writing right now


def _feed(digest: Any, tag: str, data: Any) -> None:  # bytes, or a 1-d uint8 array
    digest.update(f"{tag}:{len(data)}:".encode())
    digest.update(data)


def _walk(digest: Any, obj: Any) -> None:
    if isinstance(obj, Tensor):
        flat = obj.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        _feed(digest, f"tensor {obj.dtype} {tuple(obj.shape)}", flat.numpy())  # no copy
    elif isinstance(obj, Mapping):
        _feed(digest, "map", str(len(obj)).encode())
        for key, value in obj.items():
            _walk(digest, key)
            _walk(digest, value)
    elif isinstance(obj, (list, tuple)):  # also torch.Size
        _feed(digest, "seq", str(len(obj)).encode())
        for value in obj:
            _walk(digest, value)
    else:  # bool, int, float, str, None, torch.dtype, torch.device: repr is exact
        _feed(digest, type(obj).__name__, repr(obj).encode())


def content_digest(state: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of ``state`` without its :data:`CHECKSUM_KEY` entry."""
    digest = hashlib.sha256()
    _walk(digest, {key: value for key, value in state.items() if key != CHECKSUM_KEY})
    return "sha256:" + digest.hexdigest()


def temporary_path(path: Path) -> Path:
    """Where this process writes the next version of ``path`` before renaming it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def writing(tmp: Path) -> Iterator[Path]:
    """Mark ``tmp`` as being written by this process, so it is never taken for stale."""
    _WRITING.add(tmp)
    try:
        yield tmp
    finally:
        _WRITING.discard(tmp)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, and not being written (checked by the caller): left by a crash
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: the process exists, run by another user
        return True
    return True


def stale_temporaries(path: Path) -> list[Path]:
    """Temporaries of ``path`` (and of its ``.prev``) left by saves whose process died."""
    names = {path.name, path.name + ".prev"}
    if not path.parent.is_dir():
        return []
    found = []
    for candidate in sorted(path.parent.iterdir()):
        match = _TEMPORARY.match(candidate.name)
        if match is None or match["name"] not in names or candidate in _WRITING:
            continue
        if not _alive(int(match["pid"])):
            found.append(candidate)
    return found


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``path``; return the files removed."""
    removed = []
    for stale in stale_temporaries(path):
        try:
            stale.unlink()
        except FileNotFoundError:  # another process cleaned it first
            continue
        removed.append(stale)
    return removed
