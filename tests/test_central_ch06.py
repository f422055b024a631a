"""Chapter 06's central exercises (NICE's log-likelihood, one training step) and the lesson's
log-likelihood written out.

Correct answers written differently keep full marks; hostile answers that the planted
mistakes do not cover lose points on the contract they break; the lesson's written-out
log-likelihood matches the package and its claim fails for one that is off.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from edu_gen.course import grading
from edu_gen.course.claims import ClaimFailed, claim_close
from edu_gen.course.grading.core import GRADIENT, VALUES
from edu_gen.models import nice

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "06_nice.py"
EXERCISES = LESSON.with_name("06_nice_exercises.py")


def _ll():
    return grading.get("06.nice_log_likelihood")


def _step():
    return grading.get("06.nice_step")


# ------------------------------------------------------------------ log-likelihood


def _ll_layer_parts(model, x):
    """The coupling written out with the layer's own m and partition; logsigmoid prior."""
    y = x
    for layer in model.couplings:
        i1, i2 = nice.partition(x.shape[1], layer.parity)
        y = torch.cat([y[:, i1], y[:, i2] + layer.m(y[:, i1])], 1)
        y = y[:, torch.argsort(torch.cat([i1, i2]))]  # back to the original order
    h = model.scaling(y)
    log_prior = (F.logsigmoid(h) + F.logsigmoid(-h)).sum(-1)
    return log_prior + nice.scaling_log_det(model.scaling.scale)


def _ll_coupling_functions(model, x):
    y = x
    for layer in model.couplings:
        y = nice.coupling_forward(y, layer.m, layer.parity)
    log_det = sum(layer.log_det_jacobian(y) for layer in model.couplings)
    log_det = log_det + model.scaling.log_det_jacobian(y)
    return nice.logistic_log_prob(model.scaling(y)) + log_det


def _ll_torch_logistic(model, x):
    """torch.distributions: the standard logistic as a transformed uniform."""
    logistic = torch.distributions.TransformedDistribution(
        torch.distributions.Uniform(torch.zeros((), dtype=x.dtype), torch.ones((), dtype=x.dtype)),
        [torch.distributions.transforms.SigmoidTransform().inv],
    )
    y = x
    for layer in model.couplings:
        y = layer(y)
    h = y * model.scaling.log_scale.exp()
    return logistic.log_prob(h).sum(-1) + model.scaling.log_scale.sum()


@pytest.mark.parametrize("answer", [_ll_layer_parts, _ll_coupling_functions, _ll_torch_logistic])
def test_log_likelihood_written_differently_gets_full_marks(answer):
    result = grading.grade(_ll(), answer)
    assert result.points == _ll().points, result.report()


def _ll_detached_scale(model, x):
    y = x
    for layer in model.couplings:
        y = layer(y)
    s = model.scaling.log_scale.detach()  # the scales would never be trained
    return nice.logistic_log_prob(y * s.exp()) + s.sum()


def test_detached_scales_lose_the_gradient_contract_only():
    result = grading.grade(_ll(), _ll_detached_scale)
    assert result.points < _ll().points and GRADIENT in result.broken, result.report()
    assert grading.grade(_ll(), _ll_detached_scale, skip=(GRADIENT,)).points == _ll().points


def test_inverse_direction_loses_points():
    """Scoring x by the inverse map f^{-1}(x) instead of f(x)."""

    def backwards(model, x):
        return nice.logistic_log_prob(model.inverse(x)) - model.scaling.log_scale.sum()

    result = grading.grade(_ll(), backwards)
    assert result.points == 0 and VALUES in result.broken


def test_per_dimension_mean_loses_points():
    result = grading.grade(_ll(), lambda model, x: model.log_prob(x) / x.shape[1])
    assert result.points == 0


# ------------------------------------------------------------------ training step


def _step_module_zero_grad(model, optimizer, x):
    model.zero_grad(set_to_none=False)
    loss = -_ll_coupling_functions(model, x).sum() / len(x)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _step_set_to_none(model, optimizer, x):
    for p in model.parameters():
        p.grad = None
    nll = -model.log_prob(x)
    (nll.mean()).backward()
    optimizer.step()
    return nll.mean().item()


@pytest.mark.parametrize("answer", [_step_module_zero_grad, _step_set_to_none])
def test_step_written_differently_gets_full_marks(answer):
    result = grading.grade(_step(), answer)
    assert result.points == _step().points, result.report()


def _step_per_dimension(model, optimizer, x):
    """The loss of `nice.nll_objective`: nats per dimension, not per example."""
    optimizer.zero_grad()
    loss = -model.log_prob(x).mean() / x.shape[1]
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_twice(model, optimizer, x):
    optimizer.zero_grad()
    loss = -model.log_prob(x).mean()
    loss.backward()
    optimizer.step()
    optimizer.step()
    return loss.item()


def _step_never(model, optimizer, x):
    optimizer.zero_grad()
    loss = -model.log_prob(x).mean()
    loss.backward()
    return loss.item()


def _step_tensor(model, optimizer, x):
    optimizer.zero_grad()
    loss = -model.log_prob(x).mean()
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("answer", [_step_per_dimension, _step_twice, _step_never, _step_tensor])
def test_hostile_steps_lose_points(answer):
    result = grading.grade(_step(), answer)
    assert result.points < _step().points, result.report()


def test_step_with_a_wrong_log_likelihood_loses_points():
    def step(model, optimizer, x):
        optimizer.zero_grad()
        loss = -_ll_detached_scale(model, x).mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    result = grading.grade(_step(), step)
    assert result.points == 0  # the scales are never updated: every parameter vector differs


# ------------------------------------------------------------------ the lesson's log-likelihood


def _lesson_function(path: Path, name: str, replace: tuple[str, str] | None = None):
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    source = ast.get_source_segment(path.read_text(), node)
    if replace is not None:
        assert replace[0] in source
        source = source.replace(*replace)
    namespace = {"torch": torch, "math": math, "F": F, "nice": nice}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own lesson code
    return namespace[name]


def _claimed_pair(fn):
    torch.manual_seed(0)
    flow = nice.NICE(6, n_couplings=4, hidden=32, n_hidden=2).double()
    with torch.no_grad():
        flow.scaling.log_scale.copy_(torch.linspace(-1, 1.5, 6, dtype=torch.float64))
    x = torch.randn(8, 6, dtype=torch.float64)
    with torch.no_grad():
        return fn(flow, x), flow.log_prob(x)


def test_lesson_log_likelihood_written_out_matches_the_package():
    mine, package = _claimed_pair(_lesson_function(LESSON, "log_likelihood_by_hand"))
    assert claim_close("written out = package", mine, package, atol=1e-10)


@pytest.mark.parametrize(
    "replace",
    [
        ("return log_prior + log_det", "return log_prior"),  # the scaling's log-det forgotten
        ("y[:, i2] + layer.m", "y[:, i2] - layer.m"),  # the inverse coupling
        ("h = y * torch.exp(s)", "h = y"),  # the prior scored before the scaling
    ],
)
def test_lesson_claim_fails_for_a_wrong_log_likelihood(monkeypatch, replace):
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    mine, package = _claimed_pair(_lesson_function(LESSON, "log_likelihood_by_hand", replace))
    with pytest.raises(ClaimFailed):
        claim_close("written out = package", mine, package, atol=1e-10)


def test_exercise_notebook_trains_with_the_learners_step():
    text = EXERCISES.read_text()
    assert "step_fn = result_step.choose(nice_step)" in text
    assert "loss = step_fn(flow, optimizer, z)" in text
    assert "ll_fn(flow, z_test)" in text
