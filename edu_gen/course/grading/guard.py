"""Confinement and tamper evidence for the grading child.

:func:`isolate` gives a freshly forked child its own session (so its whole process group
can be killed), points its stdin/stdout/stderr at ``/dev/null`` (the server's pipes are
gone from it) and sets limits: no core dumps, CPU time a little over the wall-clock
limit, and at most ``MEMORY_BUDGET`` more address space than the server had mapped.

The grading server records, before any student code exists, every module of the grader,
numpy, torch and the standard modules the checks use, with the functions and classes they
bind and the members of the grader's classes and ``torch.Tensor``/``torch.nn.Module``.
After a graded function ran, :func:`changed` names any binding that no longer holds the
same object (``numpy.allclose = ...``, ``checker.Result = ...``, ``Tensor.__sub__ = ...``):
the exercise then scores 0. Names a lazy import adds are not changes. This is evidence, not
a sandbox: code that restores what it patched, or edits the record, is not caught.
"""

from __future__ import annotations

import io
import os
import resource
import sys
from typing import Any

MEMORY_BUDGET = 4 << 30
"""Bytes of address space a child may add to what the server had mapped."""
WATCHED = ("edu_gen", "numpy", "torch", "builtins", "math", "json", "copy", "inspect", "os")
WATCHED += ("sys", "functools", "operator", "dataclasses", "types")


def snapshot() -> dict[tuple[str, ...], Any]:
    """Every module of ``WATCHED`` and the functions and classes they bind, plus the
    attributes of the grader's classes and ``torch.Tensor``: what a patch would rebind."""
    import torch

    table: dict[tuple[str, ...], Any] = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in WATCHED:
            continue
        table[("module", name)] = module
        for key, value in list(vars(module).items()):
            if not callable(value):
                continue
            table[(name, key)] = value
            is_grader = isinstance(value, type) and value.__module__.startswith("edu_gen")
            if is_grader or value is torch.Tensor or value is torch.nn.Module:
                for attr, member in list(vars(value).items()):
                    table[(name, key, attr)] = member
    return table


def changed(table: dict[tuple[str, ...], Any]) -> list[str]:
    """The bindings of ``table`` that no longer hold the same object (a class's members are
    looked up on the original class, so a rebound class is named once)."""
    out = []
    missing = object()
    for key, value in table.items():
        if key[0] == "module":
            now = sys.modules.get(key[1], missing)
        elif len(key) == 3:
            now = vars(table[key[:2]]).get(key[2], missing)
        else:
            holder = sys.modules.get(key[0])
            now = vars(holder).get(key[1], missing) if holder is not None else missing
        if now is not value:
            out.append(".".join(key[1:] if key[0] == "module" else key))
    return out


def limits(seconds: float) -> None:
    """No core dumps; CPU time a little over the wall-clock limit; bounded memory."""
    cpu = int(seconds) + 5
    for kind, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, cpu)):
        try:
            resource.setrlimit(kind, (value, resource.getrlimit(kind)[1]))
        except (OSError, ValueError):  # a lower hard limit already applies
            pass
    try:
        with open("/proc/self/statm") as handle:  # Linux; elsewhere no memory limit
            mapped = int(handle.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY_BUDGET, mapped + MEMORY_BUDGET))
    except (OSError, ValueError):  # no /proc, or a lower hard limit already applies
        pass


def isolate(seconds: float) -> None:
    """Own session and process group, no inherited pipes, limits."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    sys.stdout, sys.stderr, sys.stdin = io.StringIO(), io.StringIO(), io.StringIO()
    limits(seconds)
