"""What an exercise spec is made of: :class:`Exercise`, its extra :class:`Case`s, the
registry, comparisons and the perturbation that varies one argument at a time.

The chapter spec modules (``grading/specs/chNN.py``) import from here and register their
exercises; :mod:`edu_gen.course.grading.checker` runs them (``check``, ``grade``).

Every exercise is checked against the same **contracts** (:data:`CONTRACTS`), declared
once per exercise with defaults that fit most:

* ``values`` — the output matches the reference on ``n_cases`` random inputs;
* ``inputs unchanged`` — no tensor, array or model argument is modified in place;
* ``type and dtype`` — the same kind of output as the reference (tensor, array, Python
  int, tuple of the same length) with the same dtype;
* ``gradient`` — where the reference's output carries a gradient (to the arguments named
  in ``grad_inputs``, to every floating tensor argument by default, and to the parameters
  of any ``nn.Module`` argument), the learner's does too and it is the same gradient;
* ``each argument used`` — one extra case per argument, that argument alone changed
  (:func:`perturb`, or the spec's ``perturb[name]``): ignoring it or recomputing it from
  the others gives the old output;
* ``stability`` / ``edge cases`` — the spec's extra :class:`Case`s: extreme inputs where
  a stable formula stays finite, and the corner cases the exercise's text implies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from edu_gen.core import rng

Inputs = Mapping[str, Any]
Compare = Callable[[Any, Any, Inputs], tuple[bool, str]]
Perturb = Callable[[Inputs, torch.Generator], Any]

VALUES, INPUTS, TYPE, GRADIENT = "values", "inputs unchanged", "type and dtype", "gradient"
ARGUMENTS, STABILITY, EDGE = "each argument used", "stability", "edge cases"
CONTRACTS = (VALUES, INPUTS, TYPE, GRADIENT, ARGUMENTS, STABILITY, EDGE)
"""Every contract ``check`` knows, in the order a test checks them."""


class CheckFailed(AssertionError):
    """Raised in strict mode when an attempted exercise does not get full marks."""


def to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: what ``Exercise.inputs(seed)`` draws from."""
    return rng.generator(seed)


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


@dataclass(frozen=True)
class Case:
    """An extra test that random inputs never draw: a stability or an edge case.

    ``inputs(seed)`` builds the arguments (called afresh for the learner and for the
    reference, with the exercise's first case seed); ``label`` says in a learner's words
    what is special about them ("logits of ±10⁴"), ``advice`` what to do when the case
    fails; ``compare`` replaces the exercise's comparison for this case.
    """

    label: str
    inputs: Callable[[int], Inputs]
    advice: str = ""
    compare: Compare | None = None


@dataclass
class Exercise:
    """One graded exercise.

    ``inputs(seed)`` returns the arguments (in call order) for one randomised test;
    it is called afresh for the student and for the reference so neither can see the
    other's in-place changes or random-number draws. ``compare(got, want, inputs)``
    returns ``(ok, message)``, ``inputs`` being the arguments the learner's function was
    called with; set ``reference=None`` and use a property ``compare`` when outputs are
    random (then ``want`` is None, and ``stand_in`` is the implementation later cells use
    until the learner's passes).

    Contracts (see the module docstring): ``grad_inputs`` names the tensor arguments whose
    gradient is checked (``None``: every floating tensor argument; ``()``: none, only the
    parameters of ``nn.Module`` arguments); ``gradient_note`` is added to the feedback
    when the gradient is lost; ``check_inputs`` and ``check_type`` switch those contracts
    off; ``perturb`` overrides how one argument is changed for its ``each argument used``
    case (``None`` for no such case), and ``argument_case`` picks the random case (an index
    into ``case_seeds()``) whose inputs those cases change; ``stability`` and
    ``edge_cases`` are extra :class:`Case`s; ``unstable`` is an implementation that is
    right on ordinary inputs but overflows or underflows at extreme ones (the stability
    cases must reject it; the tests check that they do).
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
    grad_inputs: tuple[str, ...] | None = None
    gradient_note: str = ""
    check_inputs: bool = True
    check_type: bool = True
    perturb: dict[str, Perturb | None] = field(default_factory=dict)
    argument_case: int = 0
    stability: tuple[Case, ...] = ()
    edge_cases: tuple[Case, ...] = ()
    unstable: Callable[..., Any] | None = None
    changes: tuple[str, ...] = ()
    outcome: Callable[[Any, Inputs], Any] | None = None

    def observe(self, fn: Callable[..., Any], inputs: Inputs) -> Any:
        """What is graded of one call ``fn(*inputs)``: its result, or
        ``outcome(result, inputs)`` where the call is meant to change its arguments."""
        result = fn(*inputs.values())
        return result if self.outcome is None else self.outcome(result, inputs)

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


def state_after(*modules: str) -> Callable[[Any, Inputs], Any]:
    """An ``outcome`` for a training step: the returned value (the loss, or a tuple of
    losses) and then, for each named ``nn.Module`` argument, all of its parameters after
    the call, flattened into one vector (the optimiser step is graded through them)."""

    def outcome(result: Any, inputs: Inputs) -> tuple[Any, ...]:
        states = []
        for name in modules:
            params = [p.detach().reshape(-1) for p in inputs[name].parameters()]
            states.append(torch.cat(params) if params else torch.zeros(0))
        return (result, *states)

    return outcome


def stale_gradients(module: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """Give every parameter a random ``.grad``, as left over by an earlier backward pass:
    a training step that forgets ``optimizer.zero_grad()`` then steps the wrong way."""
    for p in module.parameters():
        p.grad = torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p.dtype)
    return module


REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in REGISTRY:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    REGISTRY[exercise.id] = exercise
    return exercise


# ------------------------------------------------------------ one argument changed


def _perturb_tensor(value: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A changed copy that stays in the value's domain (sign, [0, 1], {0, 1}, integers)."""
    v = value.detach().clone()
    if v.numel() == 0:
        return v
    if v.dtype == torch.bool or not (v.is_floating_point() or v.is_complex()):
        if v.dim() and v.shape[0] > 1 and not torch.all(v == v.reshape(-1)[0]):
            return v.roll(1, 0)  # the same values, in other rows
        return ~v if v.dtype == torch.bool else v + 1
    noise = torch.randn(v.shape, generator=g, dtype=torch.float64).to(v.dtype)
    if torch.all((v == 0) | (v == 1)):
        flip = torch.rand(v.shape, generator=g) < 0.3
        flip.reshape(-1)[0] = True
        return torch.where(flip, 1 - v, v)
    if torch.all((v >= 0) & (v <= 1)):
        return v ** torch.exp(0.3 * noise)  # stays in [0, 1]
    if torch.all(v >= 0):
        return v * torch.exp(0.1 * noise)
    scale = float(v.std()) if v.numel() > 1 else float(v.abs().max())
    return v + 0.1 * max(scale, 1e-3) * noise


def perturb(value: Any, generator: torch.Generator) -> Any:
    """``value`` changed a little, in a way that keeps it a valid argument of its kind.

    Tensors and arrays: multiplicative noise for non-negative values, a power for values
    in [0, 1], flipped entries for 0/1 values, rows rolled for integers; numbers: scaled
    by 0.9 (0 becomes 0.05), ints + 1; a generator: seeded differently; a model: its
    parameters scaled by noise; a function: its outputs scaled by 1.1.
    """
    if isinstance(value, torch.Generator):
        return seeded_generator(value.initial_seed() + 1)
    if isinstance(value, torch.nn.Module):
        changed = copy.deepcopy(value)
        with torch.no_grad():
            tensors = [*changed.parameters(), *changed.buffers()]
            tensors += [t for t in vars(changed).values() if isinstance(t, torch.Tensor)]
            for tensor in tensors:
                if tensor.is_floating_point():
                    noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
                    tensor.mul_(1 + 0.1 * noise.to(tensor.dtype))
        return changed
    if isinstance(value, torch.Tensor):
        return _perturb_tensor(value, generator)
    if isinstance(value, np.ndarray):
        return _perturb_tensor(torch.from_numpy(value.copy()), generator).numpy()
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return 0.9 * value if value != 0 else 0.05
    if isinstance(value, list | tuple):
        return type(value)(perturb(torch.tensor(value), generator).tolist())
    if callable(value):

        def scaled(*args: Any, **kwargs: Any) -> Any:
            out = value(*args, **kwargs)
            return out * 1.1 if isinstance(out, torch.Tensor | np.ndarray | float) else out

        return scaled
    raise TypeError(f"cannot perturb a {type(value).__name__}; give the spec a perturb= entry")
