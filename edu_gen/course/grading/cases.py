"""The tests of one exercise and how one test runs.

:func:`test_cases` lists what ``check`` runs: the random cases, one case per argument with
that argument alone changed, the spec's stability and edge cases. :func:`run_test` runs one
of them against a learner's function and checks the contracts in order — inputs
unchanged, type and dtype, values, gradient — stopping at the first one broken.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from edu_gen.course.grading.contracts import (
    changed_input,
    flat,
    grad_leaves,
    gradient_problem,
    snapshot,
    type_problem,
)
from edu_gen.course.grading.core import (
    ARGUMENTS,
    EDGE,
    GRADIENT,
    INPUTS,
    STABILITY,
    TYPE,
    VALUES,
    Compare,
    Exercise,
    perturb,
    seeded_generator,
)


@dataclass
class TestResult:
    """One test: ``contract`` is what the test is about (``values`` for random inputs,
    ``each argument used``, ``stability``, ``edge cases``); ``broken`` the contract it
    broke (``""`` when it passed)."""

    seed: int
    passed: bool
    message: str
    label: str = "random inputs"
    contract: str = VALUES
    broken: str = ""


# ------------------------------------------------------------------------ test cases


@dataclass(frozen=True)
class TestCase:
    """One test of an exercise: ``make()`` builds its arguments afresh on every call."""

    seed: int
    label: str
    contract: str
    make: Callable[[], dict[str, Any]]
    compare: Compare
    advice: str = ""


def _random_case(exercise: Exercise, seed: int) -> TestCase:
    return TestCase(
        seed, "random inputs", VALUES, lambda: dict(exercise.inputs(seed)), exercise.compare
    )


def _argument_case(exercise: Exercise, seed: int, index: int, name: str) -> TestCase:
    change = exercise.perturb.get(name, lambda inputs, g: perturb(inputs[name], g))

    def make() -> dict[str, Any]:
        inputs = dict(exercise.inputs(seed))
        inputs[name] = change(inputs, seeded_generator(seed * 31 + index))
        return inputs

    advice = (
        f"with only `{name}` changed, your result should change as the reference's does: "
        f"does your function use its argument `{name}` (not a fixed value, nor one recomputed "
        "from the other arguments)?"
    )
    return TestCase(seed, f"only `{name}` changed", ARGUMENTS, make, exercise.compare, advice)


def test_cases(exercise: Exercise) -> list[TestCase]:
    """Every test ``check`` runs for ``exercise``, in order: random inputs, one argument
    changed at a time, stability cases, edge cases."""
    seeds = exercise.case_seeds()
    cases = [_random_case(exercise, seed) for seed in seeds]
    base = seeds[exercise.argument_case]
    names = list(exercise.inputs(base))
    for index, name in enumerate(names):
        if name in exercise.perturb and exercise.perturb[name] is None:
            continue
        cases.append(_argument_case(exercise, base, index, name))
    first = seeds[0]
    for contract, extra in ((STABILITY, exercise.stability), (EDGE, exercise.edge_cases)):
        for case in extra:
            cases.append(
                TestCase(
                    first,
                    f"{'stability' if contract == STABILITY else 'edge case'}: {case.label}",
                    contract,
                    lambda case=case: dict(case.inputs(first)),
                    case.compare or exercise.compare,
                    case.advice,
                )
            )
    return cases


test_cases.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
TestCase.__test__ = False  # type: ignore[attr-defined]
TestResult.__test__ = False  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ running


class NotAttempted(Exception):
    """The learner's function still raises ``NotImplementedError``."""


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return (
            f"called sys.exit({error.code!r}) (raised SystemExit): a graded function must "
            "return its result, not stop Python"
        )
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a hostile __str__ still gets feedback
        text = "<unprintable>"
    return f"raised {type(error).__name__}: {text}"


def _call(fn: Callable[..., Any], inputs: dict[str, Any]) -> tuple[Any, str | None]:
    """``fn(*inputs)``: its result and ``None``, or ``None`` and what went wrong."""
    try:
        return fn(*inputs.values()), None
    except KeyboardInterrupt:
        raise
    except NotImplementedError:
        raise NotAttempted from None
    except BaseException as error:  # noqa: BLE001 - SystemExit included: feedback, not exit
        return None, _describe(error)


class _StudentError(Exception):
    """The learner's function failed inside the gradient check."""


def gradient_applies(exercise: Exercise) -> bool:
    """Whether the reference's output (the stand-in's, for random outputs) carries a
    gradient to the exercise's ``grad_inputs`` or model parameters (one call of it)."""
    inputs = dict(exercise.inputs(exercise.case_seeds()[0]))
    if not grad_leaves(inputs, exercise.grad_inputs):
        return False
    try:
        out = flat(exercise.stand_in_fn()(*inputs.values()))
    except Exception:  # noqa: BLE001 - a reference that needs plain tensors: no gradient
        return False
    return any(getattr(t, "requires_grad", False) for t in out)


def run_test(
    exercise: Exercise,
    fn: Callable[..., Any],
    case: TestCase,
    skip: Collection[str] = (),
    seen: set[str] | None = None,
    *,
    gradient: bool | None = None,
) -> tuple[TestResult, Any, Any]:
    """One test: ``(result, the learner's output, the reference's output)``.

    ``skip`` names contracts not to check, ``seen`` collects those that were; ``gradient``
    is :func:`gradient_applies` (computed here when not given).
    """
    seen = set() if seen is None else seen
    if gradient is None:
        gradient = gradient_applies(exercise)
    got = want = None

    def fail(contract: str, message: str) -> tuple[TestResult, Any, Any]:
        return TestResult(case.seed, False, message, case.label, case.contract, contract), got, want

    inputs = case.make()
    kept = {k: v for k, v in inputs.items() if k not in exercise.changes}
    before = snapshot(kept) if exercise.check_inputs and INPUTS not in skip else None
    got, error = _call(fn, inputs)
    if error:
        return fail(case.contract, error)
    try:
        if before is not None:
            seen.add(INPUTS)
            if message := changed_input(kept, before):
                return fail(INPUTS, message)
        if exercise.reference is not None:
            reference_inputs = case.make()
            want = exercise.reference(*reference_inputs.values())
        if exercise.check_type and TYPE not in skip:
            seen.add(TYPE)
            expected = want if exercise.reference is not None else None
            if expected is None and exercise.stand_in is not None:
                expected = exercise.stand_in(*case.make().values())
            if message := type_problem(got, expected):
                return fail(TYPE, message)
        if exercise.outcome is not None:  # a step: its result and the state it left
            got = exercise.outcome(got, inputs)
            if exercise.reference is not None:
                want = exercise.outcome(want, reference_inputs)
        if case.contract not in skip:
            seen.add(case.contract)
            ok, message = case.compare(got, want, inputs)
            if not ok:
                return fail(case.contract, f"{message}; {case.advice}" if case.advice else message)
        # gradients on random inputs and changed arguments; at extreme or degenerate inputs
        # even the reference's gradient can be ill-conditioned (arccos at 1, say)
        if gradient and case.contract in (VALUES, ARGUMENTS) and GRADIENT not in skip:

            def student(args: dict[str, Any]) -> Any:
                out, problem = _call(fn, args)
                if problem:
                    raise _StudentError(problem)
                return out

            applies, message = gradient_problem(
                student,
                lambda args: exercise.stand_in_fn()(*args.values()),
                case.make,
                exercise.grad_inputs,
                case.seed,
                exercise.gradient_note,
                compare=exercise.reference is not None,  # random outputs: kept, not equal
            )
            if applies:
                seen.add(GRADIENT)
            if message:
                return fail(GRADIENT, message)
    except _StudentError as error:
        return fail(GRADIENT, f"{error} (called with inputs that require grad)")
    except NotAttempted:
        return fail(GRADIENT, "raised NotImplementedError with inputs that require grad")
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - an odd result is feedback, not a crash
        return fail(case.contract, f"could not check your result: {_describe(error)}")
    return TestResult(case.seed, True, "ok", case.label, case.contract), got, want
