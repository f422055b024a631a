"""Exercise specs and the ``check`` used in exercise notebooks.

An :class:`Exercise` pairs a reference implementation (usually the package's own
function) with a generator of randomised inputs. ``check(id, student_fn)`` runs the
student's function on ``n_cases`` inputs drawn from fixed seeds, compares each
result with the reference (or with a property), and prints per-test feedback and
points. Known wrong implementations (``mistakes``) turn a failure into a hint.

* An exercise whose body still raises ``NotImplementedError`` is "not attempted":
  0 points, printed, never a traceback.
* A function with the wrong signature gets feedback, not a crash.
* Under validation (``EDU_GEN_STRICT=1``) an attempted exercise that loses points
  raises :class:`CheckFailed`, so a wrong solution notebook fails nbval.
* With ``EDU_GEN_GRADING_REPORT=path`` every result is appended there as JSON (the
  grading CLI collects them).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edu_gen.core import config
from edu_gen.course.grading import specs  # noqa: F401  (registers every chapter's exercises)
from edu_gen.course.grading.core import REGISTRY, CheckFailed, Exercise, to_numpy


def get(exercise_id: str) -> Exercise:
    try:
        return REGISTRY[exercise_id]
    except KeyError:
        raise KeyError(
            f"unknown exercise {exercise_id!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


@dataclass
class TestResult:
    seed: int
    passed: bool
    message: str


@dataclass
class Result:
    exercise: str
    status: str  # "passed" | "partial" | "failed" | "not attempted" | "invalid"
    points: float
    max_points: int
    tests: list[TestResult] = field(default_factory=list)
    hint: str | None = None

    def __repr__(self) -> str:
        return f"<{self.exercise}: {self.status}, {self.points:g}/{self.max_points} points>"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def choose(self, student_fn: Callable[..., Any]) -> Callable[..., Any]:
        """The student's function once it passes, else the exercise's stand-in.

        The stand-in (the spec's ``stand_in``, by default its ``reference``) lets the rest
        of the notebook run while the exercise is unattempted; a notebook never imports it.
        """
        if self.passed:
            return student_fn
        print(f"({self.exercise}: using the reference implementation until yours passes)")
        return get(self.exercise).stand_in_fn()

    def report(self) -> str:
        lines = [f"{self.exercise}: {self.status} — {self.points:g}/{self.max_points} points"]
        for k, test in enumerate(self.tests, 1):
            mark = "✔" if test.passed else "✘"
            lines.append(f"  {mark} test {k} (seed {test.seed}): {test.message}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _run_case(exercise: Exercise, fn: Callable[..., Any], seed: int) -> tuple[bool, str, Any]:
    args = list(exercise.inputs(seed).values())
    got = fn(*args)
    want = None
    if exercise.reference is not None:
        want = exercise.reference(*exercise.inputs(seed).values())
    ok, message = exercise.compare(got, want, exercise.inputs(seed))
    return ok, message, got


def same_output(got: Any, bad: Any) -> bool:
    """Equal shapes and values, NaN/inf included (a mistake may well overflow)."""
    if isinstance(bad, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(bad)
            and all(same_output(g, b) for g, b in zip(got, bad, strict=True))
        )
    g, b = to_numpy(got), to_numpy(bad)
    if g.shape != b.shape:
        return False
    return bool(np.allclose(g.astype(float), b.astype(float), atol=1e-6, rtol=1e-5, equal_nan=True))


def _matches_mistake(exercise: Exercise, fn: Callable[..., Any], seed: int) -> str | None:
    """Return the hint of a known mistake whose output equals the student's."""
    got = fn(*exercise.inputs(seed).values())
    for hint, wrong in exercise.mistakes.items():
        try:
            if same_output(got, wrong(*exercise.inputs(seed).values())):
                return hint
        except Exception:  # noqa: BLE001 - a hint is best effort
            continue
    return None


def grade(exercise: Exercise, fn: Any) -> Result:
    """Grade ``fn`` against ``exercise`` without printing or raising."""
    zero = Result(exercise.id, "invalid", 0.0, exercise.points)
    if not callable(fn):
        zero.hint = f"expected a function, got {type(fn).__name__}"
        return zero
    names = list(exercise.inputs(exercise.case_seeds()[0]).keys())
    try:
        inspect.signature(fn).bind(*names)
    except TypeError:
        zero.hint = f"expected a function called as f({', '.join(names)})"
        return zero
    except ValueError:  # builtins without a signature: just try them
        pass
    tests: list[TestResult] = []
    for seed in exercise.case_seeds():
        try:
            ok, message, _ = _run_case(exercise, fn, seed)
        except NotImplementedError:
            return Result(exercise.id, "not attempted", 0.0, exercise.points)
        except Exception as error:  # noqa: BLE001 - feedback, not a crash
            ok, message = False, f"raised {type(error).__name__}: {error}"
        tests.append(TestResult(seed, ok, message))
    n_passed = sum(t.passed for t in tests)
    points = round(exercise.points * n_passed / len(tests), 2)
    status = "passed" if n_passed == len(tests) else "partial" if n_passed else "failed"
    result = Result(exercise.id, status, points, exercise.points, tests)
    for test in tests if status != "passed" else []:
        if test.passed or test.message.startswith("raised"):
            continue
        try:
            result.hint = _matches_mistake(exercise, fn, test.seed)
        except Exception:  # noqa: BLE001 - a hint is best effort
            result.hint = None
        if result.hint:
            break
    return result


def _record(result: Result) -> None:
    path = os.environ.get("EDU_GEN_GRADING_REPORT")
    if not path:
        return
    row = {
        "exercise": result.exercise,
        "status": result.status,
        "points": result.points,
        "max_points": result.max_points,
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def check(exercise_id: str, fn: Any) -> Result:
    """Grade ``fn`` for ``exercise_id``, print feedback, record it, return the result."""
    exercise = get(exercise_id)
    result = grade(exercise, fn)
    print(result.report())
    _record(result)
    if config.strict() and result.status not in ("passed", "not attempted"):
        raise CheckFailed(result.report())
    return result
