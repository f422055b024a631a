"""Chapter 09's central exercise (the DDIM sampler over τ with σ(η) and given noises), the
package's ``noise=`` option it is graded against, the lesson's DDIM loop written out, and
the lesson's quiz answers."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

from edu_gen.core import rng
from edu_gen.course import grading
from edu_gen.course.grading.core import INPUTS
from edu_gen.course.grading.specs.ch08 import small_denoiser
from edu_gen.models import diffusion as dm

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "09_ddim.py"


# ------------------------------------------------------------------ correct, written differently


def _sampler_from_pieces(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """σ and the update as separate helpers, over reversed pairs, Python floats inside."""

    def sigma(t, s):
        at, as_ = float(alpha_bar[t]), float(alpha_bar[s])
        return eta * math.sqrt((1 - as_) / (1 - at) * (1 - at / as_))

    def step(x, eps, t, s, noise):
        at, as_ = float(alpha_bar[t]), float(alpha_bar[s])
        x0 = (x - math.sqrt(1 - at) * eps) / math.sqrt(at)
        sg = sigma(t, s)
        return math.sqrt(as_) * x0 + math.sqrt(max(1 - as_ - sg**2, 0.0)) * eps + sg * noise

    x = x_T.clone()
    pairs = list(zip([0, *taus[:-1]], taus, strict=True))  # (s, t) for i = 1..S
    for i, (s, t) in reversed(list(enumerate(pairs, start=1))):
        eps = model(x, torch.full((len(x),), t, dtype=torch.int64))
        x = step(x, eps, t, s, z[i - 1]).detach()
    return x


def _sampler_no_noise_at_zero(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """Skips the noise explicitly when s = 0 (where σ is 0 anyway)."""
    with torch.no_grad():
        x = x_T
        steps = [0, *taus]
        for i in range(len(taus), 0, -1):
            t, s = steps[i], steps[i - 1]
            eps = model(x, torch.full((len(x),), t))
            x0 = (x - torch.sqrt(1 - alpha_bar[t]) * eps) / torch.sqrt(alpha_bar[t])
            var = (
                eta**2 * (1 - alpha_bar[s]) / (1 - alpha_bar[t]) * (1 - alpha_bar[t] / alpha_bar[s])
            )
            x = torch.sqrt(alpha_bar[s]) * x0 + torch.sqrt(1 - alpha_bar[s] - var) * eps
            if s > 0:
                x = x + var.sqrt() * z[i - 1]
        return x


@pytest.mark.parametrize("answer", [_sampler_from_pieces, _sampler_no_noise_at_zero])
def test_ddim_sampler_written_differently_gets_full_marks(answer):
    exercise = grading.get("09.ddim_sampler")
    result = grading.grade(exercise, answer)
    assert result.points == exercise.points, result.report()


# ------------------------------------------------------------------ hostile answers


def _own_noise(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    return _sampler_no_noise_at_zero(model, x_T, taus, alpha_bar, eta, torch.randn_like(z))


def _always_deterministic(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    return _sampler_no_noise_at_zero(model, x_T, taus, alpha_bar, 0.0, z)


def _sqrt_eta(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """η scales the variance, not the standard deviation: right only at η = 0 and 1."""
    return _sampler_no_noise_at_zero(model, x_T, taus, alpha_bar, math.sqrt(eta), z)


def _model_at_s(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """Calls ε_θ at the step it moves to (the inversion's convention), not the one it leaves."""
    with torch.no_grad():
        x, steps = x_T, [0, *taus]
        for i in range(len(taus), 0, -1):
            t, s = steps[i], steps[i - 1]
            eps = model(x, torch.full((len(x),), max(s, 1)))
            at, as_ = alpha_bar[t], alpha_bar[s]
            x0 = (x - (1 - at).sqrt() * eps) / at.sqrt()
            sigma = eta * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
            x = as_.sqrt() * x0 + (1 - as_ - sigma**2).clamp(min=0).sqrt() * eps + sigma * z[i - 1]
        return x


def _in_place(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    out = _sampler_no_noise_at_zero(model, x_T.clone(), taus, alpha_bar, eta, z)
    x_T.copy_(out)
    return out


def _prepends_in_place(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """Puts τ_0 = 0 in front of the caller's own list (``taus.insert(0, 0)``)."""
    taus.insert(0, 0)
    return _sampler_no_noise_at_zero(model, x_T, taus[1:], alpha_bar, eta, z)


def test_ddim_sampler_hostile_answers_lose_points():
    exercise = grading.get("09.ddim_sampler")
    for wrong in (_own_noise, _always_deterministic, _sqrt_eta, _model_at_s):
        assert grading.grade(exercise, wrong).points < exercise.points
    for wrong in (_in_place, _prepends_in_place):
        result = grading.grade(exercise, wrong)
        assert result.points < exercise.points and INPUTS in result.broken, result.report()


# ------------------------------------------------------------------ the package's noise=


def test_ddim_sample_noise_argument_replays_the_generator():
    sched = dm.make_schedule("cosine", 100)
    model = small_denoiser(5, 0)
    shape, taus = (3, 5), dm.ddim_timesteps(100, 7, "quadratic")
    g = rng.generator(8)
    x_T = torch.randn(shape, generator=g, dtype=torch.float64)  # noqa: N806
    drawn = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(len(taus) - 1)]
    noise = torch.stack([torch.zeros(shape, dtype=torch.float64), *drawn[::-1]])
    kw = {"timesteps": taus, "eta": 0.7, "dtype": torch.float64}
    by_generator = dm.ddim_sample(model, sched, shape, generator=rng.generator(8), **kw)
    given = dm.ddim_sample(model, sched, shape, x_T=x_T, noise=noise, **kw)
    torch.testing.assert_close(given, by_generator, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="noise"):
        dm.ddim_sample(model, sched, shape, x_T=x_T, noise=noise[:-1], **kw)


# ------------------------------------------------------------------ the lesson


def _lesson_function(name: str, replace: tuple[str, str] | None = None):
    text = LESSON.read_text()
    node = next(
        n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    source = ast.get_source_segment(text, node)
    if replace is not None:
        assert replace[0] in source, replace
        source = source.replace(*replace)
    namespace = {"torch": torch}
    exec(source, namespace)  # noqa: S102 - the course's own lesson code
    return namespace[name]


def test_lesson_ddim_loop_matches_the_package_and_its_claim_can_fail():
    sched = dm.make_schedule("linear", 200)
    model = small_denoiser(64, 4)
    written = _lesson_function("ddim_loop")
    for S, eta in [(10, 0.0), (20, 0.5), (200, 1.0)]:  # noqa: N806
        taus = dm.ddim_timesteps(200, S)
        package = dm.ddim_sample(
            model,
            sched,
            (4, 64),
            timesteps=taus,
            eta=eta,
            generator=rng.generator(6),
            dtype=torch.float64,
        )
        mine = written(model, sched.alpha_bar, taus, eta, 4, rng.generator(6))
        assert (mine - package).abs().max() < 1e-10
    taus = dm.ddim_timesteps(200, 20)
    package = dm.ddim_sample(
        model,
        sched,
        (4, 64),
        timesteps=taus,
        eta=0.5,
        generator=rng.generator(6),
        dtype=torch.float64,
    )
    for edit in (
        ("1 - ab_s - sigma**2", "1 - ab_s"),
        ("sigma = eta * ", "sigma = "),
        ("steps = [0, *taus]", "steps = list(taus)"),
    ):
        wrong = _lesson_function("ddim_loop", edit)
        gap = (wrong(model, sched.alpha_bar, taus, 0.5, 4, rng.generator(6)) - package).abs()
        assert gap.max() > 1e-3, edit


def test_quiz_answer_is_ddpm_posterior_std():
    answers = []
    for node in ast.parse(LESSON.read_text()).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "quiz.number":
            kw = next(k for k in call.keywords if k.arg == "answer")
            answers.append(eval(ast.unparse(kw.value), {"math": math}))  # noqa: S307
    sched = dm.Schedule(torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64))
    (sigma,) = answers
    assert sigma == pytest.approx(dm.ddim_sigma(sched, 2, 1, 1.0), rel=1e-12)
    assert sigma == pytest.approx(float(sched.posterior_variance[2].sqrt()), rel=1e-12)
