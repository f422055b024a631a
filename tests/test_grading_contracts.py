"""Contracts of ``check``, for every registered exercise.

For each contract that applies to an exercise, a wrong answer that breaks that contract
alone loses points, names the contract, and — where the construction allows — gets full
marks once that contract is skipped (so the test fails if the contract check is removed).
Generic wrong answers wrap the exercise's own solution: an input modified in place, the
output detached, cast to another dtype, an argument ignored (recomputed from the others
the way the test generator ties them); hand-written ones cover stability, edge cases and
recomputed arguments. Correct answers written differently (loops, float64 inside, library
calls) keep full marks, and each planted mistake is distinguishable from the reference.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as st
import torch
import torch.nn.functional as F

from edu_gen.course import grading
from edu_gen.course.grading import checker, core
from edu_gen.course.grading.cases import gradient_applies, test_cases
from edu_gen.course.grading.contracts import flat, grad_leaves, same_output
from edu_gen.course.grading.core import (
    ARGUMENTS,
    EDGE,
    GRADIENT,
    INPUTS,
    STABILITY,
    TYPE,
    VALUES,
)
from edu_gen.models import autoencoder as ae
from edu_gen.models import dae, nice

EXERCISES = sorted(core.REGISTRY)
Fn = Callable[..., Any]


def _exercise(exercise_id: str) -> core.Exercise:
    return grading.get(exercise_id)


def _solution(exercise: core.Exercise) -> Fn:
    return exercise.stand_in_fn()


def _first_inputs(exercise: core.Exercise) -> dict[str, Any]:
    return dict(exercise.inputs(exercise.case_seeds()[0]))


def assert_caught(exercise: core.Exercise, wrong: Fn, contract: str, *, only: tuple = ()) -> None:
    """``wrong`` loses points with ``contract`` broken; with ``only`` (a tuple of contracts,
    ``contract`` first) it gets full marks once those are skipped: nothing else catches it."""
    result = grading.grade(exercise, wrong)
    assert result.points < exercise.points, f"{exercise.id}: kept full marks\n{result.report()}"
    assert contract in result.broken, f"{exercise.id}: {contract} not broken\n{result.report()}"
    if only:
        skipped = grading.grade(exercise, wrong, skip=only)
        assert skipped.points == exercise.points, (
            f"{exercise.id}: something besides {only} catches it\n{skipped.report()}"
        )


# ------------------------------------------------------------------ generic wrong answers


def _map(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, tuple | list):
        return type(value)(_map(v, fn) for v in value)
    return fn(value)


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()  # differentiable: gradients still reach the original leaf
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _mutate(value: Any) -> None:
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            if value.dtype == torch.bool:
                value.logical_not_()
            else:
                value.add_(1)
    elif value.dtype == np.bool_:
        np.logical_not(value, out=value)
    else:
        value += 1


def mutating(fn: Fn, index: int) -> Fn:
    """The right result, computed on copies; then argument ``index`` is changed in place
    (only where it does not require grad: a leaf that does cannot be changed)."""

    def wrong(*args):
        out = fn(*[_copy(a) for a in args])
        target = args[index]
        if not getattr(target, "requires_grad", False):
            _mutate(target)
        return out

    return wrong


def detaching(fn: Fn) -> Fn:
    def wrong(*args):
        return _map(fn(*args), lambda t: t.detach() if isinstance(t, torch.Tensor) else t)

    return wrong


_OTHER_DTYPE = {
    torch.float64: torch.float32,
    torch.float32: torch.float64,
    torch.bool: torch.uint8,
    torch.int64: torch.int32,
}


def _cast(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(_OTHER_DTYPE[value.dtype])
    if isinstance(value, np.ndarray):
        return value.astype(np.float32 if value.dtype == np.float64 else np.float64)
    if isinstance(value, int | float):
        return torch.tensor(value)
    return value


def casting(fn: Fn) -> Fn:
    def wrong(*args):
        return _map(fn(*args), _cast)

    return wrong


def _same_argument(a: Any, b: Any) -> bool | None:
    """Whether two argument values are equal; ``None`` when they cannot be compared."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.equal(a.detach(), b.detach())
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, torch.Generator) and isinstance(b, torch.Generator):
        return a.initial_seed() == b.initial_seed()
    if isinstance(a, torch.nn.Module) and isinstance(b, torch.nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(
            sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa
        )
    if isinstance(a, int | float | list) and isinstance(b, int | float | list):
        return a == b
    return None


def ignoring(exercise: core.Exercise, fn: Fn, name: str) -> Fn:
    """``fn`` that does not use its argument ``name``: it recomputes it from the others the
    way the test generator ties them (it looks the others up among the random cases and
    takes that case's ``name``). On the random cases this is exactly right."""
    names = list(_first_inputs(exercise))
    seeds = exercise.case_seeds()
    drawn = {seed: dict(exercise.inputs(seed)) for seed in seeds}

    def wrong(*args):
        given = dict(zip(names, args, strict=True))
        for seed in seeds:
            others = [_same_argument(given[k], drawn[seed][k]) for k in names if k != name]
            if all(same is not False for same in others):
                own = dict(exercise.inputs(seed))[name]  # fresh: generators, models
                if _same_argument(given[name], own) is not True:
                    given[name] = own
                break
        return fn(*given.values())

    return wrong


def _others_identify_the_case(exercise: core.Exercise, name: str) -> bool:
    """Whether the other arguments tell the random cases apart (then recomputing ``name``
    from them is possible, and ``ignoring`` is right on every random case)."""
    drawn = [dict(exercise.inputs(seed)) for seed in exercise.case_seeds()]
    for i, a in enumerate(drawn):
        for b in drawn[i + 1 :]:
            if all(_same_argument(a[k], b[k]) is not False for k in a if k != name):
                return False
    return True


def _mutable_arguments(exercise: core.Exercise) -> list[int]:
    inputs = _first_inputs(exercise)
    return [i for i, v in enumerate(inputs.values()) if isinstance(v, torch.Tensor | np.ndarray)]


# ------------------------------------------------------------------ every exercise, every contract


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_solution_keeps_every_contract(exercise_id):
    exercise = _exercise(exercise_id)
    result = grading.grade(exercise, _solution(exercise))
    assert result.status == "passed" and result.points == exercise.points, result.report()
    assert set(result.contracts.values()) == {"kept"}, result.report()
    assert {VALUES, INPUTS, TYPE, ARGUMENTS} <= set(result.contracts), result.contracts
    assert (GRADIENT in result.contracts) == gradient_applies(exercise)
    assert (STABILITY in result.contracts) == bool(exercise.stability)
    assert (EDGE in result.contracts) == bool(exercise.edge_cases)
    assert "contracts: " in result.report()


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_input_changed_in_place_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    indices = _mutable_arguments(exercise)
    assert indices, f"{exercise_id}: no tensor or array argument to protect"
    for index in indices:
        wrong = mutating(_solution(exercise), index)
        if exercise.reference is None:
            assert_caught(exercise, wrong, INPUTS)  # the property reads the changed input
        else:
            assert_caught(exercise, wrong, INPUTS, only=(INPUTS,))
    result = grading.grade(exercise, mutating(_solution(exercise), indices[0]))
    name = list(_first_inputs(exercise))[indices[0]]
    assert any(f"changed its input `{name}`" in t.message for t in result.tests)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_lost_gradient_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    if not gradient_applies(exercise):
        inputs = _first_inputs(exercise)
        leaves = grad_leaves(inputs, exercise.grad_inputs)
        out = flat(_solution(exercise)(*inputs.values())) if leaves else []
        assert not any(getattr(t, "requires_grad", False) for t in out)
        pytest.skip("the reference's output carries no gradient to check")
    wrong = detaching(_solution(exercise))
    assert_caught(exercise, wrong, GRADIENT, only=(GRADIENT,))
    message = next(t.message for t in grading.grade(exercise, wrong).tests if not t.passed)
    assert "no longer has a gradient" in message and ".detach()" in message


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_wrong_type_or_dtype_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    assert_caught(exercise, casting(_solution(exercise)), TYPE, only=(TYPE,))
    message = next(t.message for t in grading.grade(exercise, casting(_solution(exercise))).tests)
    assert "should be" in message and ", got " in message


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_item_instead_of_a_tensor_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    out = _solution(exercise)(*_first_inputs(exercise).values())
    if not (isinstance(out, torch.Tensor) and out.dim() == 0):
        pytest.skip("not a 0-d tensor output")

    def wrong(*args):
        return _solution(exercise)(*args).item()

    assert_caught(exercise, wrong, TYPE)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_ignored_argument_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    arguments = [c.label.split("`")[1] for c in test_cases(exercise) if c.contract == ARGUMENTS]
    assert arguments, f"{exercise_id}: no argument is varied alone"
    for name in arguments:
        wrong = ignoring(exercise, _solution(exercise), name)
        if _others_identify_the_case(exercise, name):
            # right on every random case: only the case that changes `name` alone (or an
            # edge/stability case built the same way) can catch it
            assert_caught(exercise, wrong, ARGUMENTS, only=(ARGUMENTS, GRADIENT, EDGE, STABILITY))
        else:  # the others do not determine it (a lone argument, a shared constant)
            assert grading.grade(exercise, wrong).points < exercise.points


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_every_argument_case_changes_the_reference_output(exercise_id):
    """Each argument matters: changed alone, it changes the reference's output, which stays
    finite (the changed inputs are valid)."""
    exercise = _exercise(exercise_id)
    solution = _solution(exercise)
    names = list(_first_inputs(exercise))
    base = exercise.observe(solution, _first_inputs(exercise))
    varied = [c for c in test_cases(exercise) if c.contract == ARGUMENTS]
    for case in varied:
        out = exercise.observe(solution, case.make())
        assert not same_output(out, base), f"{exercise_id}: {case.label} leaves the output alone"
        for leaf in flat(out):
            assert np.all(np.isfinite(np.asarray(core.to_numpy(leaf), dtype=float)))
    skipped = {k for k, v in exercise.perturb.items() if v is None}
    assert {c.label.split("`")[1] for c in varied} == set(names) - skipped


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_extra_cases_are_finite_for_the_reference(exercise_id):
    exercise = _exercise(exercise_id)
    for case in test_cases(exercise):
        if case.contract in (STABILITY, EDGE):
            out = exercise.observe(_solution(exercise), case.make())
            for leaf in flat(out):
                assert np.all(np.isfinite(np.asarray(core.to_numpy(leaf), dtype=float)))


@pytest.mark.parametrize("exercise_id", [e for e in EXERCISES if core.REGISTRY[e].stability])
def test_unstable_formula_loses_points(exercise_id):
    exercise = _exercise(exercise_id)
    assert exercise.unstable is not None, f"{exercise_id}: declare the formula it rejects"
    result = grading.grade(exercise, exercise.unstable)
    assert result.points < exercise.points and STABILITY in result.broken, result.report()
    stability = [t for t in result.tests if t.contract == STABILITY]
    assert stability and not any(t.passed for t in stability), result.report()
    if all(t.passed for t in result.tests if t.contract != STABILITY):
        assert_caught(exercise, exercise.unstable, STABILITY, only=(STABILITY,))


# ------------------------------------------------------------------ hand-written wrong answers


def _hist_left_edges(x, edges):
    n_bins = len(edges) - 1
    index = (torch.bucketize(x, edges) - 1).clamp(0, n_bins - 1)  # inner edges go left
    counts = torch.bincount(index, minlength=n_bins).to(edges.dtype)
    return counts / (len(x) * (edges[1:] - edges[:-1]))


def _hist_no_clamp(x, edges):
    n_bins = len(edges) - 1
    index = torch.bucketize(x, edges, right=True) - 1  # the last edge falls off the end
    counts = torch.bincount(index, minlength=n_bins).to(edges.dtype)
    return counts / (len(x) * (edges[1:] - edges[:-1]))


def _angles_no_clamp(A, B):
    qa, _ = torch.linalg.qr(A)
    qb, _ = torch.linalg.qr(B)
    return torch.sort(torch.arccos(torch.linalg.svdvals(qa.T @ qb))).values


def _angles_square(A, B):
    """Right when k = m; k angles (some of them π/2) when B has fewer columns."""
    qa, _ = torch.linalg.qr(A)
    qb, _ = torch.linalg.qr(B)
    m = qa.T @ qb
    cos2 = torch.linalg.eigvalsh(m @ m.T).clamp(0, 1)
    return torch.sort(torch.arccos(cos2.sqrt())).values


def _distance_by_projection(points, radius):
    nearest = radius * points / points.norm(dim=1, keepdim=True)
    return (points - nearest).norm(dim=1)


def _mask_shifted(x, nu, generator):
    n, d = x.shape
    k = round(nu * d)
    first = torch.zeros(d, dtype=torch.bool)
    first[torch.randperm(d, generator=generator)[:k]] = True
    drop = torch.stack([first.roll(i) for i in range(n)])
    return torch.where(drop, torch.zeros_like(x), x)


def _dp_divide_by_norm(grads, c, noise, sigma, qn):
    norms = grads.norm(dim=1, keepdim=True)
    clipped = grads / norms * norms.clamp(max=c)  # 0 / 0 for a zero row
    return (clipped.sum(0) + sigma * c * noise) / qn


EDGE_WRONG: dict[str, list[tuple[Fn, bool]]] = {  # (wrong answer, caught by edge cases only)
    "00.histogram_mle": [(_hist_left_edges, True), (_hist_no_clamp, True)],
    "01.cross_entropy": [
        (lambda x, a: torch.where(x == 1, F.softplus(-a), F.softplus(a)).sum(1).mean(), True)
    ],
    "01.principal_angles": [(_angles_no_clamp, True), (_angles_square, True)],
    "02.distance_to_manifold": [(_distance_by_projection, True)],
    "02.masking_corrupt": [(_mask_shifted, True)],
    "04.active_units": [(lambda mu, t: int((mu.var(dim=0) >= t).sum()), True)],
    "10a.log_frequency": [
        (lambda counts: np.log1p(counts[counts > 0]) / np.log1p(counts).sum(), False)
    ],
    "10b.dp_noisy_gradient": [(_dp_divide_by_norm, True)],
}


def test_every_exercise_with_edge_cases_has_wrong_answers_for_them():
    declared = {e for e in EXERCISES if core.REGISTRY[e].edge_cases}
    assert declared == set(EDGE_WRONG)


@pytest.mark.parametrize("exercise_id", sorted(EDGE_WRONG))
def test_edge_case_mistakes_lose_points(exercise_id):
    exercise = _exercise(exercise_id)
    for wrong, only_edges in EDGE_WRONG[exercise_id]:
        assert_caught(exercise, wrong, EDGE, only=(EDGE,) if only_edges else ())


def _kl_dx_from_mass(p, q, dx):
    dx = 1 / float(p.sum())  # "the densities integrate to one"
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum() * dx


def _jsd_dx_from_mass(p, q, dx):
    return grading.get("07.jsd").reference(p, q, 1 / float(p.sum()))


RECOMPUTED: dict[str, list[Fn]] = {  # arguments recomputed or hard-coded
    "00.kl_divergence": [_kl_dx_from_mass],
    "01.pca_reconstruct": [
        lambda x, mean, v: x.mean(0) + (x - x.mean(0)) @ v.T @ v,
        lambda x, mean, v: ae.pca_reconstruct(x, mean, ae.pca(x, v.shape[0])[1]),
    ],
    "04.active_units": [lambda mu, threshold: int((mu.var(dim=0) > 1e-2).sum())],
    "07.jsd": [_jsd_dx_from_mass],
    "10b.dp_noisy_gradient": [
        lambda g, c, noise, sigma, qn: grading.get("10b.dp_noisy_gradient").reference(
            g, c, noise, 0.8, qn
        ),
        lambda g, c, noise, sigma, qn: grading.get("10b.dp_noisy_gradient").reference(
            g, c, noise, sigma, 10.0
        ),
    ],
}


@pytest.mark.parametrize("exercise_id", sorted(RECOMPUTED))
def test_recomputed_arguments_fail_random_cases_too(exercise_id):
    """The generators vary every argument on its own: recomputing one from the others (or
    hard-coding a value the tests once used) fails ordinary random cases, not only the
    changed-argument ones."""
    exercise = _exercise(exercise_id)
    for wrong in RECOMPUTED[exercise_id]:
        result = grading.grade(exercise, wrong)
        random = [t for t in result.tests if t.label == "random inputs"]
        assert result.points < exercise.points and not all(t.passed for t in random)


def _gp_without_graph(critic, real, fake, eps):
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)  # no create_graph
    return 10 * ((grad.norm(dim=1) - 1) ** 2).mean()


def _packed_gp_without_graph(critic, real, fake, eps, pac):
    e = eps.repeat_interleave(pac)[:, None]
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return 10 * ((grad.reshape(len(eps), -1).norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize(
    ("exercise_id", "wrong"),
    [
        ("07.gradient_penalty", _gp_without_graph),
        ("10a.packed_gradient_penalty", _packed_gp_without_graph),
    ],
)
def test_penalty_without_create_graph_loses_points(exercise_id, wrong):
    exercise = _exercise(exercise_id)
    assert_caught(exercise, wrong, GRADIENT, only=(GRADIENT,))
    messages = [t.message for t in grading.grade(exercise, wrong).tests if not t.passed]
    assert all("create_graph=True" in m for m in messages)


def test_no_grad_loss_loses_points():
    exercise = _exercise("02.dae_loss")

    def wrong(model, x, corrupt):
        with torch.no_grad():
            return ((x - model(corrupt(x))) ** 2).sum(1).mean()

    assert_caught(exercise, wrong, GRADIENT, only=(GRADIENT,))


def test_partly_detached_gradient_loses_points():
    """The result keeps a gradient, but not to `logvar`: the gradients differ."""
    exercise = _exercise("04.kl_standard_normal")

    def wrong(mu, logvar):
        return 0.5 * (mu**2 + logvar.exp() - logvar.detach() - 1).sum(-1)

    assert_caught(exercise, wrong, GRADIENT, only=(GRADIENT,))
    message = next(t.message for t in grading.grade(exercise, wrong).tests if not t.passed)
    assert "with respect to `logvar`" in message


def test_changing_the_model_loses_points():
    exercise = _exercise("02.dae_loss")

    def wrong(model, x, corrupt):
        loss = ((x - model(corrupt(x))) ** 2).sum(1).mean()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(0.99)  # an "optimiser step" inside the loss
        return loss

    result = grading.grade(exercise, wrong)
    assert result.points < exercise.points and INPUTS in result.broken
    assert "changed the parameters of its argument `model`" in result.report()


def test_masking_in_place_loses_points():
    exercise = _exercise("02.masking_corrupt")

    def wrong(x, nu, generator):
        out = dae.masking_corrupt(x, nu, generator)
        if not x.requires_grad:
            x[out == 0] = 0  # "zero the masked entries" of x itself
            return x
        return out

    assert_caught(exercise, wrong, INPUTS, only=(INPUTS,))


def test_pack_without_pac_argument_is_caught():
    exercise = _exercise("07.pack")
    assert_caught(exercise, lambda x, pac: x.reshape(-1, 2 * x.shape[1]), VALUES)


# ------------------------------------------------------------------ correct, written differently


def _hist_loop(x, edges):
    counts = [0] * (len(edges) - 1)
    for value in x.tolist():
        b = 0
        while b < len(counts) - 1 and value >= float(edges[b + 1]):
            b += 1
        counts[b] += 1
    widths = edges[1:] - edges[:-1]
    return torch.tensor(counts, dtype=edges.dtype) / (len(x) * widths)


def _hist_numpy(x, edges):
    counts, _ = np.histogram(x.numpy(), bins=edges.numpy())
    return torch.from_numpy(counts).to(edges.dtype) / (len(x) * (edges[1:] - edges[:-1]))


def _ce_library(mean_p, var_p, mu, logvar):
    normal = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    return -normal.log_prob(mean_p) + 0.5 * var_p * torch.exp(-logvar)


def _forward_float64(x, W, b, W_prime, b_prime):
    h = torch.sigmoid(x.double() @ W.double().T + b.double())
    return torch.sigmoid(h @ W_prime.double().T + b_prime.double()).float()


def _pca_loop(x, mean, components):
    rows = [mean + (row - mean) @ components.T @ components for row in x]
    return torch.stack(rows)


def _angles_svd(A, B):
    qa = torch.linalg.svd(A, full_matrices=False)[0]
    qb = torch.linalg.svd(B, full_matrices=False)[0]
    cos = torch.linalg.svd(qa.T @ qb)[1].clamp(-1, 1)
    return torch.arccos(cos).sort().values


def _gauss_normal_(x, sigma, generator):
    return x + sigma * torch.empty_like(x).normal_(generator=generator)


def _mask_per_row(x, nu, generator):
    out = x.clone()
    k = round(nu * x.shape[1])
    for row in out:
        row[torch.randperm(x.shape[1], generator=generator)[:k]] = 0
    return out


def _distance_loop(points, radius):
    return torch.stack([(p.pow(2).sum().sqrt() - radius).abs() for p in points])


def _elbo_library(log_joint, q_mean, q_logvar, eps):
    q = torch.distributions.Normal(q_mean, torch.exp(0.5 * q_logvar))
    z = q_mean + q.stddev * eps
    return (log_joint(z) - q.log_prob(z).sum(-1)).mean(0)


def _posterior_solve(x, W, b, sigma2):
    k = W.shape[1]
    precision = torch.eye(k, dtype=W.dtype) + W.T @ W / sigma2
    cov = torch.linalg.inv(precision)
    mean = torch.linalg.solve(precision, W.T @ (x - b).T).T / sigma2
    return mean, cov


def _doc_categorical(counts, z, R, b):
    return (counts * torch.distributions.Categorical(logits=z @ R + b).logits).sum(-1)


def _kl_library(mu, logvar):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(-1)


def _icdf_logit(u, loc, scale):
    return loc + scale * torch.logit(u)


def _active_loop(mu, threshold):
    return sum(1 for j in range(mu.shape[1]) if float(mu[:, j].var()) > threshold)


def _neg_elbo_bce(x, logits, mu, logvar):
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    return (nll + 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)).mean()


def _iwae_manual(log_w):
    top = log_w.max(0).values
    return top + torch.log(torch.exp(log_w - top).mean(0))


def _ess_manual(log_w):
    w = torch.exp(log_w - log_w.max(0).values)
    return w.sum(0) ** 2 / (w**2).sum(0)


def _accept_ratio(u, log_p, log_q, log_m):
    return u < torch.exp(log_p - log_m - log_q)


def _coupling_cat(x, m, parity):
    i1, i2 = nice.partition(x.shape[1], parity)
    y = torch.empty_like(x)
    y = y.index_copy(1, torch.as_tensor(i1), x[:, i1])
    return y.index_copy(1, torch.as_tensor(i2), x[:, i2] + m(x[:, i1]))


def _logistic_logsigmoid(h):
    return (F.logsigmoid(h) + F.logsigmoid(-h)).sum(-1)


def _bpd_log2(log_px, dim, n_levels):
    return -log_px / (dim * math.log(2)) + math.log2(n_levels)


def _ns_bce(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def _pack_cat(x, pac):
    return torch.cat([x[i::pac] for i in range(pac)], dim=1)


def _gp_grad_outputs(critic, real, fake, eps):
    x_hat = torch.lerp(fake, real, eps[:, None]).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(
        scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True
    )
    return 10 * (torch.linalg.vector_norm(grad, dim=1) - 1).pow(2).mean()


def _q_sample_gather(alpha_bar, x0, t, noise):
    ab = torch.gather(alpha_bar, 0, t).unsqueeze(1)
    return torch.sqrt(ab) * x0 + torch.sqrt(1 - ab) * noise


def _reverse_mean_loop(alpha_bar, xt, t, eps):
    rows = []
    for row, step, e in zip(xt, t.tolist(), eps, strict=True):
        a_t = alpha_bar[step] / alpha_bar[step - 1]
        rows.append((row - (1 - a_t) / (1 - alpha_bar[step]).sqrt() * e) / a_t.sqrt())
    return torch.stack(rows)


def _sigma_loop(alpha_bar, t, s, eta):
    out = []
    for a, b in zip(t.tolist(), s.tolist(), strict=True):
        at, as_ = alpha_bar[a], alpha_bar[b]
        out.append(eta * torch.sqrt((1 - as_) / (1 - at) * (1 - at / as_)))
    return torch.stack(out)


def _slerp_loop(z0, z1, alpha):
    rows = []
    for a, b in zip(z0, z1, strict=True):
        theta = torch.arccos((a @ b / (a.norm() * b.norm())).clamp(-1, 1))
        rows.append(
            (torch.sin((1 - alpha) * theta) * a + torch.sin(alpha * theta) * b) / theta.sin()
        )
    return torch.stack(rows)


def _mode_scipy(x, means, stds, weights):
    k = (np.log(weights) + st.norm.logpdf(x[:, None], means, stds)).argmax(1)
    alpha = np.clip((x - means[k]) / (4 * stds[k]), -0.99, 0.99)
    return alpha, np.eye(len(means))[k]


def _log_frequency_loop(counts):
    weights = np.array([math.log(1 + int(c)) for c in counts])
    return weights / weights.sum()


def _cond_one_hot(span, category, widths):
    offsets = torch.tensor([sum(widths[:j]) for j in range(len(widths))])
    cond = F.one_hot(offsets[span] + category, sum(widths)).float()
    return cond, F.one_hot(span, len(widths)).float()


def _packed_gp_from_shapes(critic, real, fake, eps, pac):
    pac = len(real) // len(eps)  # the pack size follows from the shapes
    e = eps.repeat_interleave(pac)[:, None]
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return 10 * ((grad.reshape(len(eps), -1).norm(dim=1) - 1) ** 2).mean()


def _info_vector_norm(real, fake):
    mean = torch.linalg.vector_norm(real.mean(0) - fake.mean(0))
    sd = torch.linalg.vector_norm(real.std(0, unbiased=False) - fake.std(0, unbiased=False))
    return mean + sd


def _dp_loop(grads, clip_norm, noise, noise_multiplier, expected_batch_size):
    total = torch.zeros_like(grads[0])
    for g in grads:
        total = total + g * clip_norm / max(float(g.norm()), clip_norm)
    return (total + noise_multiplier * clip_norm * noise) / expected_batch_size


def _mixed_loop(x, point_masses, means, stds, modes):
    m, k = len(point_masses), len(means)
    alpha, beta = torch.zeros_like(x), torch.zeros(len(x), m + k, dtype=x.dtype)
    for i, value in enumerate(x.tolist()):
        hits = [j for j in range(m) if value == float(point_masses[j])]
        if hits:
            beta[i, hits[0]] = 1
        else:
            mode = int(modes[i])
            alpha[i] = (value - means[mode]) / (4 * stds[mode])
            beta[i, m + mode] = 1
    return alpha, beta


def _step_module_zero_grad(model, optimizer, x):
    """model.zero_grad(), the library's BCE summed by hand, float() for .item()."""
    model.zero_grad()
    loss = F.binary_cross_entropy_with_logits(model(x), x, reduction="none").sum(1).mean()
    loss.backward()
    optimizer.step()
    return float(loss)


def _step_zero_after(model, optimizer, x):
    """Gradients set to None before, and cleared again after the step."""
    for p in model.parameters():
        p.grad = None
    loss = ae.cross_entropy_loss(x, model(x))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


CORRECT: dict[str, list[Fn]] = {
    "00.histogram_mle": [_hist_loop, _hist_numpy],
    "00.gaussian_cross_entropy": [_ce_library],
    "00.gaussian_mle": [lambda x: (x.mean(), x.var(correction=0))],
    "00.kl_divergence": [
        lambda p, q, dx: (p * (torch.log(p) - torch.log(q))).nan_to_num().sum() * dx
    ],
    "01.autoencoder_forward": [_forward_float64],
    "01.cross_entropy": [
        lambda x, logits: F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    ],
    "01.pca_reconstruct": [_pca_loop],
    "01.principal_angles": [_angles_svd],
    "01.train_step": [_step_module_zero_grad, _step_zero_after],
    "02.gaussian_corrupt": [_gauss_normal_],
    "02.masking_corrupt": [_mask_per_row],
    "02.distance_to_manifold": [_distance_loop],
    "03.elbo_monte_carlo": [_elbo_library],
    "03.linear_gaussian_posterior": [_posterior_solve],
    "03.document_log_likelihood": [_doc_categorical],
    "03.mean_field_optimum": [
        lambda m, s: (m.clone(), -torch.log(torch.diagonal(torch.linalg.inv(s))).expand_as(m))
    ],
    "04.kl_standard_normal": [_kl_library],
    "04.logistic_icdf": [_icdf_logit],
    "04.active_units": [_active_loop],
    "04.negative_elbo": [_neg_elbo_bce],
    "05.iwae_bound": [_iwae_manual],
    "05.effective_sample_size": [_ess_manual],
    "05.accept": [_accept_ratio],
    "06.coupling_forward": [_coupling_cat],
    "06.logistic_log_prob": [_logistic_logsigmoid],
    "06.bits_per_dim": [_bpd_log2],
    "07.generator_loss_nonsaturating": [_ns_bce],
    "07.pack": [_pack_cat, lambda x, pac: x.view(-1, pac * x.shape[1])],
    "07.gradient_penalty": [_gp_grad_outputs],
    "08.q_sample": [_q_sample_gather],
    "08.reverse_mean": [_reverse_mean_loop],
    "09.ddim_sigma": [_sigma_loop],
    "09.slerp": [_slerp_loop],
    "10a.mode_normalize": [_mode_scipy],
    "10a.log_frequency": [_log_frequency_loop],
    "10a.conditional_vector": [_cond_one_hot],
    "10a.packed_gradient_penalty": [_packed_gp_from_shapes],
    "10b.information_loss": [_info_vector_norm],
    "10b.dp_noisy_gradient": [_dp_loop],
    "10b.mixed_encode": [_mixed_loop],
}


def test_correct_alternatives_cover_every_chapter():
    chapters = {e.split(".")[0] for e in EXERCISES}
    assert {e.split(".")[0] for e in CORRECT} == chapters


@pytest.mark.parametrize("exercise_id", sorted(CORRECT))
def test_correct_answers_written_differently_get_full_marks(exercise_id):
    exercise = _exercise(exercise_id)
    for answer in CORRECT[exercise_id]:
        result = grading.grade(exercise, answer)
        assert result.points == exercise.points, result.report()


# ------------------------------------------------------------------ hints that do not mislead


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_every_mistake_is_distinguishable_from_the_reference(exercise_id):
    exercise = _exercise(exercise_id)
    if exercise.reference is None:
        pytest.skip("random outputs: every mistake loses points (tests/test_grading.py)")
    for hint, wrong in exercise.mistakes.items():
        differs = False
        for case in test_cases(exercise):
            try:
                bad = exercise.observe(wrong, case.make())
            except Exception:  # noqa: BLE001 - a crash is distinguishable
                differs = True
                break
            want = exercise.observe(exercise.reference, case.make())
            if not same_output(bad, want, checker.output_scale(bad, want)):
                differs = True
                break
        assert differs, f"{exercise_id}: mistake {hint!r} equals the reference on every case"


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_unplanned_wrong_answer_gets_no_hint(exercise_id):
    exercise = _exercise(exercise_id)
    solution = _solution(exercise)

    def off_by_a_little(*args):
        return _map(
            solution(*args),
            lambda t: (
                t * 1.01 + 0.01 if isinstance(t, torch.Tensor) and t.is_floating_point() else t
            ),
        )

    out = flat(solution(*_first_inputs(exercise).values()))
    if not any(isinstance(t, torch.Tensor) and t.is_floating_point() for t in out):
        pytest.skip("no floating tensor output to shift")
    result = grading.grade(exercise, off_by_a_little)
    assert result.points < exercise.points and result.hint is None, result.report()


def test_tiny_outputs_do_not_match_a_mistake_by_tolerance():
    """Outputs of order 1e-5 bits/dim: an absolute tolerance would call the reference and a
    mistake off by a factor ln 2 "the same"; the scale-relative one does not."""
    exercise = _exercise("08.prior_kl_bpd")
    case = test_cases(exercise)[0]
    want = exercise.reference(*case.make().values())
    assert float(want.abs().max()) < 1e-3
    for wrong in exercise.mistakes.values():
        bad = wrong(*case.make().values())
        assert not same_output(want, bad)
    hint, mistake = next(iter(exercise.mistakes.items()))
    assert grading.grade(exercise, mistake).hint == hint


def test_a_mistake_that_equals_the_reference_on_a_test_gives_no_hint_there():
    """On positive inputs the mistake `x` equals the reference `|x|`: an answer that fails
    such a test (here by a relative 1e-7, under a strict comparison) must not be told it
    forgot the absolute value."""
    exercise = core.Exercise(
        id="99.abs",
        title="absolute value",
        inputs=lambda seed: {"x": torch.rand(5, generator=core.seeded_generator(seed)) + 0.1},
        reference=lambda x: x.abs(),
        compare=core.allclose(atol=0.0, rtol=1e-12),
        mistakes={"take the absolute value": lambda x: x},
    )
    result = grading.grade(exercise, lambda x: x.abs() * (1 + 1e-7))
    assert result.points == 0 and result.hint is None, result.report()
    negative = core.Exercise(**{**exercise.__dict__, "inputs": lambda seed: {"x": -torch.ones(3)}})
    assert grading.grade(negative, lambda x: x).hint == "take the absolute value"


# ------------------------------------------------------------------ escapes and caps


def test_sys_exit_is_a_failed_test_not_an_exit(capsys, monkeypatch):
    monkeypatch.setenv("EDU_GEN_STRICT", "0")

    def leaves(x, logits):
        sys.exit(3)

    result = grading.check("01.cross_entropy", leaves)
    assert result.points == 0 and result.status == "failed"
    assert all("SystemExit" in t.message and "sys.exit(3)" in t.message for t in result.tests)
    assert "SystemExit" in capsys.readouterr().out


def test_exit_after_some_calls_costs_those_tests_only():
    calls = []

    def flaky(x, logits):
        calls.append(1)
        if len(calls) > 3:
            raise SystemExit
        return ae.cross_entropy_loss(x, logits)

    result = grading.grade(_exercise("01.cross_entropy"), flaky)
    assert 0 < result.points < 10 and result.status == "partial"


def test_other_base_exceptions_are_feedback_but_keyboard_interrupt_stops():
    class Escape(BaseException):
        pass

    def escapes(x, logits):
        raise Escape("out")

    assert grading.grade(_exercise("01.cross_entropy"), escapes).points == 0

    def interrupted(x, logits):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grading.grade(_exercise("01.cross_entropy"), interrupted)


def test_an_odd_result_is_feedback_not_a_crash():
    class Hostile:
        def __array__(self, *args, **kwargs):
            raise SystemExit("no")

    result = grading.grade(_exercise("01.cross_entropy"), lambda x, logits: Hostile())
    assert result.points == 0


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_points_never_exceed_the_maximum(exercise_id):
    exercise = _exercise(exercise_id)
    for fn in (_solution(exercise), *exercise.mistakes.values()):
        result = grading.grade(exercise, fn)
        assert 0 <= result.points <= result.max_points == exercise.points


def test_not_implemented_after_the_first_test_is_a_failed_test():
    calls = []

    def partial(x, logits):
        calls.append(1)
        if len(calls) > 4:  # after the first two tests (each calls it twice)
            raise NotImplementedError
        return ae.cross_entropy_loss(x, logits)

    result = grading.grade(_exercise("01.cross_entropy"), partial)
    assert result.status == "partial"


def test_contracts_are_recorded_in_the_report_line(monkeypatch, tmp_path):
    import json

    report = tmp_path / "r.jsonl"
    monkeypatch.setenv("EDU_GEN_GRADING_REPORT", str(report))
    monkeypatch.setenv("EDU_GEN_STRICT", "0")
    grading.check("01.cross_entropy", detaching(ae.cross_entropy_loss))
    row = json.loads(report.read_text().splitlines()[-1])
    assert row["contracts"][GRADIENT] == "broken" and row["contracts"][VALUES] == "kept"
