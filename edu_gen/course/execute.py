"""Run a notebook headless in a fresh kernel: the one place the course calls nbclient.

``edu-gen run`` (claims), ``edu-gen grade`` (exercises) and ``edu-gen slides --execute``
(figures) all execute notebooks; they differ only in the environment variables the kernel
gets and in what they read back afterwards.

The kernel talks to this process over IPC (Unix domain sockets in a private temporary
folder) where the platform has them: over TCP, ipykernel ≥ 7 prints a warning about
unencrypted traffic for every notebook. On Windows it stays TCP on localhost.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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
    on_cell: Callable[[int, int], None] | None = None,
) -> nbformat.NotebookNode:
    """Execute ``nb`` in place, in ``cwd``, with ``env`` added to this process's environment.

    The kernel gets the environment; this process's own ``os.environ`` is left alone.
    ``on_cell(done, total)`` is called after each code cell that runs (``total``: the
    non-empty code cells). nbclient's errors (a failing cell when ``allow_errors`` is false,
    a cell timeout, a dead kernel) propagate to the caller.
    """
    from nbclient import NotebookClient
    from traitlets.config import Config

    kernel = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    total = count_code_cells(nb)
    done = 0

    def executed(**_: Any) -> None:
        nonlocal done
        done += 1
        if on_cell is not None:
            on_cell(done, total)

    with tempfile.TemporaryDirectory(prefix="edu-gen-kernel-") as sockets:
        config = Config()
        if os.name == "posix":  # IPC: no network port, no "TCP without encryption" warning
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = os.path.join(sockets, "ipc")
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=kernel,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
            on_cell_executed=executed,
            config=config,
        )
        client.execute(env={**os.environ, **env})
    return nb


def count_code_cells(nb: nbformat.NotebookNode) -> int:
    """The code cells of ``nb`` that execution runs (nbclient skips empty ones)."""
    return sum(cell.cell_type == "code" and bool(cell.source.strip()) for cell in nb.cells)


def cell_errors(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """``(ename, evalue)`` of every error output in the executed notebook, in cell order."""
    return [
        (str(out.get("ename", "error")), str(out.get("evalue", "")))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
