"""Where downloaded data live: one cache root for every data set.

``<root>/<name>/`` holds data set ``name``'s files, where ``<root>`` is the caller's
argument, else the ``EDU_GEN_DATA`` environment variable, else ``~/.cache/edu_gen``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EDU_GEN_DATA"
"""Environment variable naming the cache root."""
DEFAULT_CACHE = Path("~/.cache/edu_gen")
"""The cache root when neither an argument nor :data:`ENV_VAR` gives one."""


def cache_folder(
    name: str, root: str | os.PathLike | None = None, *, argument: str = "root"
) -> Path:
    """``<root>/<name>``: ``root``, else ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``.

    ``argument`` is the caller's name for ``root``, used in the error for a bad value.
    """
    if root is None:
        root = os.environ.get(ENV_VAR) or DEFAULT_CACHE
    elif not isinstance(root, str | os.PathLike):
        raise ValueError(f"{argument}: expected a folder path or None, got {root!r}")
    return Path(root).expanduser() / name
