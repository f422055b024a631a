"""Exercise specs and the ``check`` used in exercise notebooks.

An :class:`Exercise` pairs a reference implementation (usually the package's own
function) with a generator of randomised inputs. ``check(id, student_fn)`` runs the
student's function on a list of tests (:func:`~edu_gen.course.grading.cases.test_cases`):
``n_cases`` random inputs, one case per argument with that argument alone changed, and the
spec's stability and edge cases. Each test checks the contracts of
:mod:`edu_gen.course.grading.core` in order (inputs unchanged, type and dtype, values,
gradient) and fails on the first one broken, with feedback that names it. Points are the
share of tests passed. Known wrong implementations (``mistakes``) turn a value failure
into a hint, but only when the answer matches the mistake and the mistake differs from the
reference on that test.

* An exercise whose body still raises ``NotImplementedError`` is "not attempted":
  0 points, printed, never a traceback.
* A function with the wrong signature gets feedback, not a crash; so does one that raises
  anything, ``SystemExit`` (``sys.exit``) included. Only ``KeyboardInterrupt`` goes
  through, so that a learner can still stop a hanging cell.
* Under validation (``EDU_GEN_STRICT=1``) an attempted exercise that loses points
  raises :class:`CheckFailed`, so a wrong solution notebook fails nbval.
* With ``EDU_GEN_GRADING_REPORT=path`` every result is appended there as JSON (the
  grading CLI collects them).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edu_gen.core import config
from edu_gen.course.grading import specs  # noqa: F401  (registers every chapter's exercises)
from edu_gen.course.grading.cases import (
    NotAttempted,
    TestCase,
    TestResult,
    gradient_applies,
    run_test,
    test_cases,
)
from edu_gen.course.grading.contracts import flat, same_output
from edu_gen.course.grading.core import (
    ARGUMENTS,
    CONTRACTS,
    EDGE,
    GRADIENT,
    INPUTS,
    REGISTRY,
    STABILITY,
    TYPE,
    VALUES,
    CheckFailed,
    Exercise,
    to_numpy,
)

__all__ = [
    "Result",
    "TestCase",
    "TestResult",
    "check",
    "get",
    "gradient_applies",
    "grade",
    "same_output",
    "test_cases",
]


def get(exercise_id: str) -> Exercise:
    try:
        return REGISTRY[exercise_id]
    except KeyError:
        raise KeyError(
            f"unknown exercise {exercise_id!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


@dataclass
class Result:
    """``contracts`` maps every contract checked for this exercise to ``"kept"``,
    ``"broken"``, ``"not reached"`` (every test failed before it) or ``"skipped"``."""

    exercise: str
    status: str  # "passed" | "partial" | "failed" | "not attempted" | "invalid"
    points: float
    max_points: int
    tests: list[TestResult] = field(default_factory=list)
    hint: str | None = None
    contracts: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<{self.exercise}: {self.status}, {self.points:g}/{self.max_points} points>"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def broken(self) -> list[str]:
        """The contracts broken in at least one test, in :data:`CONTRACTS` order."""
        return [name for name, state in self.contracts.items() if state == "broken"]

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
        k = 0
        while k < len(self.tests):  # consecutive tests with one outcome share a line
            test, end = self.tests[k], k + 1
            while end < len(self.tests) and _same_line(self.tests[end], test):
                end += 1
            group = self.tests[k:end]
            labels = sorted({t.label for t in group}, key=[t.label for t in group].index)
            numbers = f"test {k + 1}" if end == k + 1 else f"tests {k + 1}-{end}"
            mark = "✔" if test.passed else "✘"
            lines.append(f"  {mark} {numbers} ({'; '.join(labels)}): {test.message}")
            k = end
        if self.contracts:
            marks = {"kept": "✔", "broken": "✘", "not reached": "?", "skipped": "-"}
            lines.append(
                "  contracts: " + ", ".join(f"{n} {marks[s]}" for n, s in self.contracts.items())
            )
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _same_line(a: TestResult, b: TestResult) -> bool:
    return a.passed == b.passed and a.message == b.message and a.contract == b.contract


def output_scale(*values: Any) -> float:
    biggest = 0.0
    for value in values:
        for leaf in flat(value):
            try:
                a = to_numpy(leaf).astype(float)
            except Exception:  # noqa: BLE001 - not numeric: no scale
                continue
            a = np.abs(a[np.isfinite(a)])
            biggest = max(biggest, float(a.max()) if a.size else 0.0)
    return biggest


def _mistake_hint(exercise: Exercise, case: TestCase, got: Any, want: Any) -> str | None:
    """The hint of a planted mistake that ``got`` matches while the mistake differs from the
    reference on this test (on the outputs' scale, so a tiny output cannot match anything)."""
    for hint, wrong in exercise.mistakes.items():
        try:
            bad = exercise.observe(wrong, case.make())
            scale = output_scale(bad, want)
            if want is not None and same_output(bad, want, scale):
                continue  # the mistake is right here: it tells nothing
            if same_output(got, bad, scale):
                return hint
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - a hint is best effort
            continue
    return None


def _contract_states(
    exercise: Exercise, tests: list[TestResult], seen: set, skip, gradient: bool
) -> dict:
    applicable = [VALUES]
    applicable += [INPUTS] if exercise.check_inputs else []
    applicable += [TYPE] if exercise.check_type else []
    applicable += [GRADIENT] if gradient else []
    applicable += [ARGUMENTS] if any(t.contract == ARGUMENTS for t in tests) else []
    applicable += [STABILITY] if exercise.stability else []
    applicable += [EDGE] if exercise.edge_cases else []
    broken = {t.broken for t in tests}
    states = {}
    for name in sorted(applicable, key=CONTRACTS.index):
        if name in skip:
            states[name] = "skipped"
        elif name in broken:
            states[name] = "broken"
        else:
            states[name] = "kept" if name in seen else "not reached"
    return states


def grade(exercise: Exercise, fn: Any, *, skip: Collection[str] = ()) -> Result:
    """Grade ``fn`` against ``exercise`` without printing or raising.

    ``skip`` names contracts not to check (the tests use it to show that a wrong answer is
    caught by one contract and by no other).
    """
    zero = Result(exercise.id, "invalid", 0.0, exercise.points)
    if not callable(fn):
        zero.hint = f"expected a function, got {type(fn).__name__}"
        return zero
    # a skipped contract's own cases (changed arguments, stability, edge) are not run
    cases = [case for case in test_cases(exercise) if case.contract not in skip]
    names = list(cases[0].make().keys())
    try:
        inspect.signature(fn).bind(*names)
    except TypeError:
        zero.hint = f"expected a function called as f({', '.join(names)})"
        return zero
    except ValueError:  # builtins without a signature: just try them
        pass
    gradient = gradient_applies(exercise)
    tests: list[TestResult] = []
    outputs: list[tuple[Any, Any]] = []
    seen: set[str] = set()
    for index, case in enumerate(cases):
        try:
            test, got, want = run_test(exercise, fn, case, skip, seen, gradient=gradient)
        except NotAttempted:
            if index == 0:
                return Result(exercise.id, "not attempted", 0.0, exercise.points)
            test, got, want = (
                TestResult(
                    case.seed,
                    False,
                    "raised NotImplementedError",
                    case.label,
                    case.contract,
                    case.contract,
                ),
                None,
                None,
            )
        tests.append(test)
        outputs.append((got, want))
    n_passed = sum(t.passed for t in tests)
    points = min(float(exercise.points), round(exercise.points * n_passed / len(tests), 2))
    status = "passed" if n_passed == len(tests) else "partial" if n_passed else "failed"
    result = Result(exercise.id, status, points, exercise.points, tests)
    result.contracts = _contract_states(exercise, tests, seen, skip, gradient)
    value_contracts = (VALUES, ARGUMENTS, STABILITY, EDGE)
    for case, test, (got, want) in zip(cases, tests, outputs, strict=True):
        if test.passed or test.broken not in value_contracts or got is None:
            continue
        result.hint = _mistake_hint(exercise, case, got, want)
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
        "contracts": result.contracts,
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
