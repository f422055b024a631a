"""Run a notebook headless in a fresh kernel: the one place the course calls nbclient.

``edu-gen run`` (claims), ``edu-gen grade`` (exercises) and ``edu-gen slides --execute``
(figures) all execute notebooks; they differ only in the environment variables the kernel
gets and in what they read back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import nbformat

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
"""matplotlib backend that captures figures as cell outputs."""


def execute(
    nb: nbformat.NotebookNode,
    cwd: str | Path,
    *,
    env: Mapping[str, str],
    timeout: float,
    allow_errors: bool,
) -> nbformat.NotebookNode:
    """Execute ``nb`` in place, in ``cwd``, with ``env`` added to this process's environment.

    The kernel gets the environment; this process's own ``os.environ`` is left alone.
    nbclient's errors (a failing cell when ``allow_errors`` is false, a cell timeout, a dead
    kernel) propagate to the caller.
    """
    from nbclient import NotebookClient

    kernel = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env={**os.environ, **env})
    return nb


def cell_errors(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """``(ename, evalue)`` of every error output in the executed notebook, in cell order."""
    return [
        (str(out.get("ename", "error")), str(out.get("evalue", "")))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
