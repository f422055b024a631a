"""The contract checks ``check`` runs on every test besides the value comparison.

Each returns ``None`` when the contract holds and a message in a learner's words when it
does not: :func:`changed_input` (inputs unchanged), :func:`type_problem` (type and
dtype), :func:`gradient_problem` (gradient kept and equal to the reference's).
:func:`same_output` is the scale-relative closeness used to match planted mistakes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from edu_gen.course.grading.core import seeded_generator, to_numpy

Tensor = torch.Tensor


# ------------------------------------------------------------------ inputs unchanged


def _copy(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.nn.Module):
        return {k: t.detach().clone() for k, t in value.state_dict(keep_vars=True).items()}
    if isinstance(value, list | tuple | dict):
        return repr(value) if len(repr(value)) < 10_000 else None
    return None


def snapshot(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Copies of every argument that a function could change in place."""
    return {name: _copy(value) for name, value in inputs.items()}


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point():
            return bool(torch.all((a == b) | (torch.isnan(a) & torch.isnan(b))))
        return bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a == b


def changed_input(inputs: Mapping[str, Any], before: Mapping[str, Any]) -> str | None:
    """A message naming the first argument that differs from its snapshot ``before``."""
    for name, value in inputs.items():
        old = before.get(name)
        if old is None:
            continue
        if isinstance(value, torch.nn.Module):
            now = _copy(value)
            if now.keys() != old.keys() or not all(_equal(now[k], old[k]) for k in old):
                return (
                    f"your function changed the parameters of its argument `{name}` (an "
                    "optimiser step, `.data` edits or an in-place operation): only read them"
                )
        elif not _equal(_copy(value), old):
            copy_hint = f"`{name}.copy()`" if isinstance(value, np.ndarray) else f"`{name}.clone()`"
            return (
                f"your function changed its input `{name}` in place (e.g. `{name}[...] = ...`, "
                f"`{name} += ...` or a method ending in `_`): work on a copy ({copy_hint}) "
                "or build a new result"
            )
    return None


# ------------------------------------------------------------------ type and dtype


def _kind(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} values"
    if isinstance(value, bool | np.bool_):
        return "a Python bool"
    if isinstance(value, numbers.Integral):
        return "a Python int"
    if isinstance(value, numbers.Real):
        return "a Python float"
    return "None" if value is None else f"a {type(value).__name__}"


def type_problem(got: Any, want: Any, where: str = "the result") -> str | None:
    """Why ``got`` is not the same kind of value as ``want`` (``None`` when it is)."""
    if want is None:
        return None
    if isinstance(want, tuple | list):
        if not isinstance(got, tuple | list) or len(got) != len(want):
            return f"{where} should be a tuple of {len(want)} values, got {_kind(got)}"
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            if problem := type_problem(g, w, f"output[{index}]"):
                return problem
        return None
    same = False
    if isinstance(want, Tensor):
        same = isinstance(got, Tensor) and got.dtype == want.dtype
    elif isinstance(want, np.ndarray):
        same = isinstance(got, np.ndarray) and got.dtype == want.dtype
    elif isinstance(want, bool | np.bool_):
        same = isinstance(got, bool | np.bool_)
    elif isinstance(want, numbers.Integral):
        same = isinstance(got, numbers.Integral) and not isinstance(got, bool | np.bool_)
    elif isinstance(want, numbers.Real):
        same = isinstance(got, numbers.Real) and not isinstance(got, numbers.Integral)
    else:
        same = isinstance(got, type(want))
    if same:
        return None
    return f"{where} should be {_kind(want)}, got {_kind(got)}"


# ------------------------------------------------------------------ gradient


def flat(value: Any) -> list[Any]:
    """The leaves of a (possibly nested) tuple/list output, in order."""
    if isinstance(value, tuple | list):
        return [leaf for item in value for leaf in flat(item)]
    return [value]


def grad_leaves(inputs: dict[str, Any], names: tuple[str, ...] | None) -> list[tuple[str, Tensor]]:
    """Make the chosen tensor arguments leaves that require grad (in ``inputs``, in place of
    the originals) and return them with the parameters of any model argument, labelled."""
    leaves = []
    for name, value in list(inputs.items()):
        wanted = names is None or name in names
        if wanted and isinstance(value, Tensor) and value.is_floating_point():
            inputs[name] = value.detach().clone().requires_grad_(True)
            leaves.append((f"`{name}`", inputs[name]))
        elif isinstance(value, torch.nn.Module):
            for pname, param in value.named_parameters():
                if param.requires_grad:
                    leaves.append((f"the parameter `{pname}` of `{name}`", param))
    return leaves


def _gradients(outputs: list[Tensor], cotangents: list[Tensor], leaves: list[Tensor]):
    total = sum(
        (out * cot.to(out.dtype)).sum() for out, cot in zip(outputs, cotangents, strict=True)
    )
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [
        torch.zeros_like(leaf) if g is None else g for g, leaf in zip(grads, leaves, strict=True)
    ]


def _gradient_error(got: Tensor, want: Tensor) -> tuple[float, bool]:
    """The largest absolute difference, and whether it is within a tolerance relative to
    the reference gradient's scale."""
    if not want.numel():
        return 0.0, True
    g, w = got.detach().double(), want.detach().double()
    diff = (g - w).abs()
    scale = float(w.abs().max())
    ok = bool(torch.all(diff <= 1e-10 + 1e-5 * scale + 1e-4 * w.abs()))
    return float(diff.max()), ok


def gradient_problem(
    call: Callable[[dict[str, Any]], Any],
    reference: Callable[[dict[str, Any]], Any],
    make: Callable[[], dict[str, Any]],
    names: tuple[str, ...] | None,
    seed: int,
    note: str = "",
    *,
    compare: bool = True,
) -> tuple[bool, str | None]:
    """``(applies, problem)``: whether the reference's output carries a gradient on these
    inputs, and, if it does, why the learner's does not match it (``None`` when it does).

    One backward pass each: the outputs are weighted by a random cotangent (so a sum or a
    mean of the right shape cannot pass by accident) and differentiated with respect to
    the leaves of :func:`grad_leaves`. ``compare=False`` (random outputs, where the
    reference's gradient belongs to other random draws) only checks that a gradient is kept.
    """
    ref_inputs = make()
    ref_leaves = grad_leaves(ref_inputs, names)
    if not ref_leaves:
        return False, None
    want = flat(reference(ref_inputs))
    positions = [i for i, w in enumerate(want) if isinstance(w, Tensor) and w.requires_grad]
    if not positions:
        return False, None
    inputs = make()
    leaves = grad_leaves(inputs, names)
    got = flat(call(inputs))
    lost = (
        "the result no longer has a gradient: did you call .item(), .detach(), .numpy(), "
        "torch.tensor(...) on a tensor, or compute under torch.no_grad()?"
    )
    if note:
        lost += f" {note}"
    if len(got) != len(want) or len(leaves) != len(ref_leaves):
        return True, lost
    for i in positions:
        if not isinstance(got[i], Tensor) or not got[i].requires_grad:
            where = f" (output[{i}])" if len(want) > 1 else ""
            return True, lost.replace("the result", f"the result{where}", 1)
    if not compare:
        return True, None
    g = seeded_generator(seed + 104_729)
    cotangents = [torch.randn(want[i].shape, generator=g, dtype=torch.float64) for i in positions]
    ref_grads = _gradients([want[i] for i in positions], cotangents, [t for _, t in ref_leaves])
    grads = _gradients([got[i] for i in positions], cotangents, [t for _, t in leaves])
    for (label, _), mine, theirs in zip(leaves, grads, ref_grads, strict=True):
        if not torch.all(torch.isfinite(theirs)):
            continue  # the reference's own gradient is singular here: nothing to compare
        if mine.shape != theirs.shape:
            return True, f"the gradient with respect to {label} has the wrong shape"
        err, ok = _gradient_error(mine, theirs)
        if not torch.all(torch.isfinite(mine)) or not ok:
            return True, (
                f"the gradient of your result with respect to {label} differs from the "
                f"reference's (max error {err:.3g}): is part of the computation detached "
                "(.detach(), .item(), torch.no_grad()) or not differentiable (rounding, "
                "comparisons)?" + (f" {note}" if note else "")
            )
    return True, None


# ------------------------------------------------------------------ matching mistakes


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    a, b = a.astype(float), b.astype(float)
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6 * scale, equal_nan=True))


def same_output(got: Any, bad: Any, scale: float | None = None) -> bool:
    """Equal structure, shapes and values up to a tolerance relative to the outputs' scale
    (the largest finite magnitude in either, or ``scale``); NaN/inf must match too."""
    if isinstance(bad, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(bad)
            and all(same_output(g, b, scale) for g, b in zip(got, bad, strict=True))
        )
    if isinstance(got, tuple | list):
        return False
    g, b = to_numpy(got), to_numpy(bad)
    if g.shape != b.shape:
        return False
    if scale is None:
        finite = [np.abs(x.astype(float)[np.isfinite(x.astype(float))]) for x in (g, b)]
        scale = max((float(f.max()) for f in finite if f.size), default=0.0)
    return _close(g, b, scale)
