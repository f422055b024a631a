"""What an exercise spec is made of: :class:`Exercise`, the registry, comparisons.

The chapter spec modules (``grading/specs/chNN.py``) import from here and register their
exercises; :mod:`edu_gen.course.grading.checker` runs them (``check``, ``grade``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

Inputs = Mapping[str, Any]
Compare = Callable[[Any, Any, Inputs], tuple[bool, str]]


class CheckFailed(AssertionError):
    """Raised in strict mode when an attempted exercise does not get full marks."""


def to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: what ``Exercise.inputs(seed)`` draws from."""
    return torch.Generator().manual_seed(seed)


def allclose(atol: float = 1e-5, rtol: float = 1e-4) -> Compare:
    """Compare shapes and values (tensors, arrays, scalars, or tuples of them)."""

    def compare(got: Any, want: Any, inputs: Inputs) -> tuple[bool, str]:
        if isinstance(want, tuple | list):
            if not isinstance(got, tuple | list) or len(got) != len(want):
                return False, f"expected a tuple of {len(want)} values, got {type(got).__name__}"
            for index, (g, w) in enumerate(zip(got, want, strict=True)):
                ok, msg = compare(g, w, inputs)
                if not ok:
                    return False, f"output[{index}]: {msg}"
            return True, "ok"
        if want is not None and got is None:
            return False, "returned None (missing return?)"
        g, w = to_numpy(got), to_numpy(want)
        if g.shape != w.shape:
            return False, f"shape {tuple(g.shape)}, expected {tuple(w.shape)}"
        if not np.all(np.isfinite(g.astype(float))):
            return False, "output contains NaN or inf"
        if not np.allclose(g, w, atol=atol, rtol=rtol):
            err = float(np.max(np.abs(g.astype(float) - w.astype(float))))
            return False, f"values differ from the reference (max abs error {err:.3g})"
        return True, "ok"

    return compare


@dataclass
class Exercise:
    """One graded exercise.

    ``inputs(seed)`` returns the arguments (in call order) for one randomised test;
    it is called afresh for the student and for the reference so neither can see the
    other's in-place changes or random-number draws. ``compare(got, want, inputs)``
    returns ``(ok, message)``; set ``reference=None`` and use a property ``compare``
    when outputs are random (then ``want`` is None, and ``stand_in`` is the implementation
    later cells use until the learner's passes).
    """

    id: str
    title: str
    inputs: Callable[[int], Inputs]
    reference: Callable[..., Any] | None
    compare: Compare = field(default_factory=allclose)
    n_cases: int = 5
    points: int = 10
    mistakes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    stand_in: Callable[..., Any] | None = None

    def stand_in_fn(self) -> Callable[..., Any]:
        """What later cells use until the learner's answer passes: ``stand_in`` if given
        (needed where ``reference`` is None), else ``reference``."""
        fn = self.stand_in if self.stand_in is not None else self.reference
        if fn is None:
            raise ValueError(f"exercise {self.id!r}: no reference and no stand_in to use")
        return fn

    def case_seeds(self) -> list[int]:
        base = sum(ord(ch) * 31**i for i, ch in enumerate(self.id)) % 100_000
        return [base + k for k in range(self.n_cases)]


REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in REGISTRY:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    REGISTRY[exercise.id] = exercise
    return exercise
