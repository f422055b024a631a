"""Claim cells: a chapter's statements checked numerically.

``claim(statement, holds, **measured)`` prints a ✔/✘ line with the measured numbers.
Under validation (``EDU_GEN_STRICT=1``, set by the tests) a false claim raises
:class:`ClaimFailed`, so the notebook fails; otherwise it is reported and the lesson
goes on. With ``EDU_GEN_REPORT=path`` each claim is appended there as JSON (used by
``edu-gen run`` to print the per-chapter summary).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import torch

from edu_gen.core import config


class ClaimFailed(AssertionError):
    """A claim cell's statement did not hold."""


class Verdict:
    """What :func:`claim` returns: true when the claim held. Truthy like a bool and equal to
    one, but a notebook shows nothing for it, so a claim ending a cell adds no stray
    ``True``/``False`` under its printed line."""

    __slots__ = ("holds",)

    def __init__(self, holds: bool) -> None:
        self.holds = bool(holds)

    def __bool__(self) -> bool:
        return self.holds

    def __eq__(self, other: object) -> bool:
        return self.holds == other

    def __hash__(self) -> int:
        return hash(self.holds)

    def __repr__(self) -> str:
        return repr(self.holds)

    def _ipython_display_(self) -> None:
        """IPython's display hook calls this instead of printing the repr: show nothing."""


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:
        return value.item()
    return value


def _fmt(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) <= 8:
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def claim(
    statement: str,
    holds: bool | torch.Tensor,
    *,
    made_for: str | None = None,
    **measured: Any,
) -> Verdict:
    """Check one claim; print it with its measured numbers; raise in strict mode.

    ``made_for``: where a claim needs a run of a certain size (a trend that a one-epoch
    smoke run cannot show), the lesson passes a description of the runs it is made for when
    the current run is not one of them (e.g. ``made_for=None if long_run else "the 8×8 digits
    at every size, 28×28 at the gpu size"``). The claim is then printed with its numbers as
    *not checked* and neither counted nor raised.
    """
    numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in measured.items())
    if made_for is not None:
        if not isinstance(made_for, str) or not made_for.strip():
            raise ValueError(f"made_for: expected a description of the runs, got {made_for!r}")
        suffix = f"  [{numbers}]" if numbers else ""
        print(f"– not checked in this run (made for {made_for}): {statement}{suffix}")
        return Verdict(_plain(holds))
    holds = bool(_plain(holds))
    line = f"{'✔' if holds else '✘'} claim: {statement}" + (f"  [{numbers}]" if numbers else "")
    print(line)
    path = os.environ.get("EDU_GEN_REPORT")
    if path:
        row = {
            "claim": statement,
            "holds": holds,
            "measured": {k: _fmt(v) for k, v in measured.items()},
        }
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    if not holds and config.strict():
        raise ClaimFailed(line)
    return Verdict(holds)


def claim_close(
    statement: str, actual: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 0.0
) -> Verdict:
    """``|actual - expected| <= atol + rtol |expected|`` elementwise (NaN never holds)."""
    a = torch.as_tensor(_plain(actual), dtype=torch.float64)
    e = torch.as_tensor(_plain(expected), dtype=torch.float64)
    err = (a - e).abs()
    worst = err.max().item() if err.numel() else 0.0
    holds = bool(torch.all(err <= atol + rtol * e.abs()).item()) and not math.isnan(worst)
    return claim(
        statement, holds, max_abs_error=worst, tolerance=atol + rtol * e.abs().max().item()
    )
