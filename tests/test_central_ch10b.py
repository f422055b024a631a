"""Chapter 10b's central exercise (the RDP accountant, ``10b.epsilon_after``) and the
lesson's DP-SGD step written out.

Correct answers written differently keep full marks; hostile answers that the planted
mistakes do not cover lose points; the reference agrees with opacus' RDP analysis (test-only
oracle, skipped without it); the lesson's loop over rows takes the package's ``dp_step`` and
its claim fails for a loop that is off; the lesson asks 3 to 5 questions.
"""

from __future__ import annotations

import ast
import copy
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from edu_gen.core import rng
from edu_gen.course import grading
from edu_gen.course.claims import ClaimFailed, claim
from edu_gen.course.grading.core import TYPE, VALUES
from edu_gen.tabular import privacy
from edu_gen.tabular.synthesizers import Discriminator

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "10b_ctabgan.py"
EXERCISES = ROOT / "lessons" / "10b_ctabgan_exercises.py"


def _exercise():
    return grading.get("10b.epsilon_after")


# ------------------------------------------------------------------ correct alternatives


def _eps_loop_over_orders(steps, q, sigma, delta, orders):
    best = math.inf
    for alpha in orders:
        rdp = steps * float(privacy.rdp_sampled_gaussian(q, sigma, float(alpha)))
        best = min(best, rdp + math.log(1 / delta) / (alpha - 1))
    return float(best)


def _eps_package_conversion(steps, q, sigma, delta, orders):
    rdp = steps * privacy.rdp_sampled_gaussian(q, sigma, orders)
    return privacy.epsilon_from_rdp(rdp, orders, delta, conversion="classic")[0]


def _eps_accountant_step_by_step(steps, q, sigma, delta, orders):
    accountant = privacy.RdpAccountant(orders=tuple(orders), conversion="classic")
    for _ in range(steps):
        accountant.step(q, sigma)
    return accountant.get_epsilon(delta)


def _eps_log_delta(steps, q, sigma, delta, orders):
    rdp = privacy.rdp_sampled_gaussian(q, sigma, orders) * steps
    return float(np.min(rdp - np.log(delta) / (orders - 1.0)))


@pytest.mark.parametrize(
    "answer",
    [_eps_loop_over_orders, _eps_package_conversion, _eps_accountant_step_by_step, _eps_log_delta],
)
def test_correct_answers_written_differently_get_full_marks(answer):
    result = grading.grade(_exercise(), answer)
    assert result.points == _exercise().points, result.report()


# ------------------------------------------------------------------ hostile answers


def test_the_improved_conversion_is_not_the_one_asked_for():
    """Balle et al.'s conversion (opacus' default) is tighter; the exercise asks for the
    classic one, and the two differ on every case."""

    def improved(steps, q, sigma, delta, orders):
        rdp = steps * privacy.rdp_sampled_gaussian(q, sigma, orders)
        return privacy.epsilon_from_rdp(rdp, orders, delta, conversion="improved")[0]

    result = grading.grade(_exercise(), improved)
    assert result.points < 0.5 * _exercise().points and VALUES in result.broken


def test_returning_the_best_order_too_loses_the_type_contract():
    def with_order(steps, q, sigma, delta, orders):
        rdp = steps * privacy.rdp_sampled_gaussian(q, sigma, orders)
        return privacy.epsilon_from_rdp(rdp, orders, delta, conversion="classic")

    assert TYPE in grading.grade(_exercise(), with_order).broken


def test_one_step_only_loses_points():
    result = grading.grade(_exercise(), lambda s, q, sigma, d, o: _eps_log_delta(1, q, sigma, d, o))
    assert result.points < 0.5 * _exercise().points and result.hint is None


def test_the_default_order_grid_instead_of_the_given_orders_loses_points():
    grid = np.asarray(privacy.DEFAULT_ORDERS)
    result = grading.grade(
        _exercise(), lambda s, q, sigma, d, o: _eps_log_delta(s, q, sigma, d, grid)
    )
    assert result.points < _exercise().points


# ------------------------------------------------------------------ oracle: opacus


def test_reference_matches_opacus_rdp_with_the_classic_conversion():
    pytest.importorskip("opacus")
    from opacus.accountants.analysis import rdp as opacus_rdp

    exercise = _exercise()
    for seed in exercise.case_seeds():
        inputs = exercise.inputs(seed)
        orders = [float(a) for a in inputs["orders"]]
        curve = opacus_rdp.compute_rdp(
            q=inputs["sample_rate"],
            noise_multiplier=inputs["noise_multiplier"],
            steps=inputs["steps"],
            orders=orders,
        )
        want = float(np.min(curve + np.log(1 / inputs["delta"]) / (np.asarray(orders) - 1)))
        assert exercise.reference(**inputs) == pytest.approx(want, rel=1e-6)


# ------------------------------------------------------------------ the lesson's DP-SGD step


def _lesson_function(path: Path, name: str, replace: tuple[str, str] | None = None):
    text = path.read_text()
    node = next(
        n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    source = ast.get_source_segment(text, node)
    if replace is not None:
        assert replace[0] in source
        source = source.replace(*replace)
    namespace = {"torch": torch}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own lesson code
    return namespace[name]


def _critic_and_rows():
    """A small critic and 24 (real, fake) pairs: in half of them the fake row sits next to
    the real one (a gradient far below the clip), in the other half opposite it."""
    g = torch.Generator().manual_seed(0)
    real = 2 * torch.randn(24, 6, generator=g)
    close = torch.arange(24) % 2 == 0
    fake = torch.where(close[:, None], real + 0.01 * torch.randn(24, 6, generator=g), -real)
    with rng.seeded(0):
        critic = Discriminator(6, (16,), pac=1).eval()
    return critic, real, fake


def _step_both_ways(fn, clip_norm=0.5, sigma=1.1, qn=20.0, lr=0.5):
    """(largest parameter difference, update norm) of the lesson's step vs ``dp_step``."""
    critic, real, fake = _critic_and_rows()
    twin = copy.deepcopy(critic)
    before = torch.cat([p.detach().flatten() for p in critic.parameters()])
    fn(critic, real, fake, clip_norm, sigma, qn, lr, torch.Generator().manual_seed(7))
    privacy.dp_step(
        twin,
        lambda d, r, f: d(f) - d(r),
        (real, fake),
        torch.optim.SGD(twin.parameters(), lr=lr),
        clip_norm=clip_norm,
        noise_multiplier=sigma,
        expected_batch_size=qn,
        generator=torch.Generator().manual_seed(7),
    )
    after = torch.cat([p.detach().flatten() for p in critic.parameters()])
    other = torch.cat([p.detach().flatten() for p in twin.parameters()])
    return float((after - other).abs().max()), float((after - before).norm())


def _lesson_claim(gap, update):
    return claim("loop = dp_step", gap < 1e-5 and update > 1e-2, gap=gap, update=update)


def test_lesson_step_matches_dp_step():
    gap, update = _step_both_ways(_lesson_function(LESSON, "dp_sgd_step_by_hand"))
    assert _lesson_claim(gap, update)


def test_the_test_rows_have_gradients_on_both_sides_of_the_clip():
    critic, real, fake = _critic_and_rows()
    grads = privacy.per_example_grads(critic, lambda d, r, f: d(f) - d(r), (real, fake))
    _, norms = privacy.clip_and_sum(grads, 0.5)
    assert (norms < 0.5).any() and (norms > 0.5).any(), norms


@pytest.mark.parametrize(
    "replace",
    [
        ("min(1.0, C / norm) if norm > 0 else 1.0", "C / norm"),  # every row rescaled to C
        ("sigma * C * torch.randn", "sigma * torch.randn"),  # noise std sigma, not sigma C
        (") / qn", ") / len(real_b)"),  # the drawn batch size
        ("sum((gr**2).sum() for gr in grads)", "(grads[0] ** 2).sum()"),  # one tensor's norm
        ("p -= lr * noisy", "p -= lr * total / qn"),  # no noise at all
    ],
)
def test_lesson_claim_fails_for_a_wrong_step(monkeypatch, replace):
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    gap, update = _step_both_ways(_lesson_function(LESSON, "dp_sgd_step_by_hand", replace))
    with pytest.raises(ClaimFailed):
        _lesson_claim(gap, update)


# ------------------------------------------------------------------ notebooks


def test_exercise_notebook_uses_the_learners_accountant():
    text = EXERCISES.read_text()
    assert "eps_fn = result_eps.choose(epsilon_after)" in text
    assert "eps_fn(step, q_small, sigma, delta, orders)" in text


def test_lesson_asks_three_to_five_questions_one_numeric():
    text = LESSON.read_text()
    assert 3 <= len(re.findall(r"^quiz\.(choice|number)\(", text, flags=re.M)) <= 5
    assert re.search(r"^quiz\.number\(", text, flags=re.M)


def test_numeric_question_answer_is_the_accountants_optimum():
    """The Gaussian-mechanism question: min over α of 100·α/(2·25) + log(1/δ)/(α − 1)."""
    alphas = np.linspace(1.01, 60, 400_000)
    eps, _ = privacy.epsilon_from_rdp(100 * alphas / 50, alphas, 1e-5, conversion="classic")
    assert "answer=11.597" in LESSON.read_text()
    assert eps == pytest.approx(11.597, abs=1e-3)
