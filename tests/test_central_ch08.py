"""Chapter 08's central exercises (Algorithm 1's loss, Algorithm 2's sampler), the package
options they rely on (given draws, given noises, a float64 denoiser, training with another
loss, snapshots over training), the lesson's algorithms written out, and its quiz answers."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.course import grading
from edu_gen.course.grading.core import GRADIENT, INPUTS
from edu_gen.course.grading.specs.ch08 import small_denoiser
from edu_gen.models import diffusion as dm

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "08_ddpm.py"


def _col(v, t):
    return v[t].reshape(-1, 1)


# ------------------------------------------------------------------ 08.ddpm_loss


def _loss_mse(model, x0, t, eps, alpha_bar):
    ab = torch.gather(alpha_bar, 0, t).unsqueeze(1)
    return F.mse_loss(model(torch.sqrt(ab) * x0 + torch.sqrt(1 - ab) * eps, t), eps)


def _loss_rows(model, x0, t, eps, alpha_bar):
    """One row at a time, then the mean of the per-row means."""
    losses = []
    for i in range(len(x0)):
        ab = alpha_bar[t[i]]
        x_t = ab.sqrt() * x0[i : i + 1] + (1 - ab).sqrt() * eps[i : i + 1]
        losses.append((eps[i : i + 1] - model(x_t, t[i : i + 1])).pow(2).mean())
    return torch.stack(losses).mean()


def _loss_package(model, x0, t, eps, alpha_bar):
    """Through the package's q_sample with a schedule rebuilt from alpha_bar."""
    betas = torch.cat([alpha_bar.new_zeros(1), 1 - alpha_bar[1:] / alpha_bar[:-1]])
    x_t = dm.q_sample(dm.Schedule(betas), x0, t, eps)
    return (model(x_t, t) - eps).square().sum() / eps.numel()


@pytest.mark.parametrize("answer", [_loss_mse, _loss_rows, _loss_package])
def test_ddpm_loss_written_differently_gets_full_marks(answer):
    exercise = grading.get("08.ddpm_loss")
    result = grading.grade(exercise, answer)
    assert result.points == exercise.points, result.report()


def _loss_own_noise(model, x0, t, eps, alpha_bar):
    eps = torch.randn_like(x0)  # draws its own ε instead of using the one given
    return _loss_mse(model, x0, t, eps, alpha_bar)


def _loss_model_at_t_minus_1(model, x0, t, eps, alpha_bar):
    ab = _col(alpha_bar, t)
    return (eps - model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t - 1)).pow(2).mean()


def _loss_no_grad(model, x0, t, eps, alpha_bar):
    with torch.no_grad():
        return _loss_mse(model, x0, t, eps, alpha_bar)


def _loss_detached_model(model, x0, t, eps, alpha_bar):
    ab = _col(alpha_bar, t)
    return (eps - model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t).detach()).pow(2).mean()


def _loss_steps_the_model(model, x0, t, eps, alpha_bar):
    loss = _loss_mse(model, x0, t, eps, alpha_bar)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad  # an optimiser step inside the loss
    return loss


def test_ddpm_loss_hostile_answers_lose_points():
    exercise = grading.get("08.ddpm_loss")
    for wrong in (_loss_own_noise, _loss_model_at_t_minus_1):
        assert grading.grade(exercise, wrong).points < exercise.points
    for wrong in (_loss_no_grad, _loss_detached_model):
        result = grading.grade(exercise, wrong)
        assert result.points < exercise.points and GRADIENT in result.broken, result.report()
    result = grading.grade(exercise, _loss_steps_the_model)
    assert result.points < exercise.points and INPUTS in result.broken, result.report()


# ------------------------------------------------------------------ 08.ddpm_sample


def _sample_python_products(model, x_T, z, betas):  # noqa: N803
    """ᾱ_t as a running Python product, σ_t = √(1-α_t), no torch.no_grad (allowed)."""
    T = len(betas) - 1  # noqa: N806
    alpha_bar = [1.0]
    for t in range(1, T + 1):
        alpha_bar.append(alpha_bar[-1] * (1 - float(betas[t])))
    x = x_T.clone()
    for t in reversed(range(1, T + 1)):
        a_t, b_t = 1 - float(betas[t]), float(betas[t])
        eps = model(x, torch.full((len(x),), t, dtype=torch.long))
        x = (x - b_t / math.sqrt(1 - alpha_bar[t]) * eps) / math.sqrt(a_t)
        x = x + (math.sqrt(1 - a_t) * z[t - 1] if t > 1 else 0)
    return x.detach()


def _sample_via_x0(model, x_T, z, betas):  # noqa: N803
    """Through x̂_0 and the posterior-mean coefficients, as the package does."""
    with torch.no_grad():
        alpha_bar = torch.cumprod(1 - betas, 0)
        x = x_T
        for t in range(len(betas) - 1, 0, -1):
            eps = model(x, torch.full((len(x),), t))
            x0 = (x - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
            c0 = alpha_bar[t - 1].sqrt() * betas[t] / (1 - alpha_bar[t])
            ct = (1 - betas[t]).sqrt() * (1 - alpha_bar[t - 1]) / (1 - alpha_bar[t])
            x = c0 * x0 + ct * x + (betas[t].sqrt() * z[t - 1] if t > 1 else 0)
        return x


@pytest.mark.parametrize("answer", [_sample_python_products, _sample_via_x0])
def test_ddpm_sample_written_differently_gets_full_marks(answer):
    exercise = grading.get("08.ddpm_sample")
    result = grading.grade(exercise, answer)
    assert result.points == exercise.points, result.report()


def _sample_own_noise(model, x_T, z, betas):  # noqa: N803
    return _sample_via_x0(model, x_T, torch.randn_like(z), betas)


def _sample_beta_tilde(model, x_T, z, betas):  # noqa: N803
    """σ_t² = β̃_t: the package's default, but not the σ_t² = β_t the exercise asks for."""
    return dm.ddpm_sample(
        model, dm.Schedule(betas), tuple(x_T.shape), x_T=x_T, noise=z, dtype=x_T.dtype
    )


def _sample_in_place(model, x_T, z, betas):  # noqa: N803
    out = _sample_via_x0(model, x_T.clone(), z, betas)
    x_T.copy_(out)  # "x_T becomes x_0"
    return out


def test_ddpm_sample_hostile_answers_lose_points():
    exercise = grading.get("08.ddpm_sample")
    for wrong in (_sample_own_noise, _sample_beta_tilde):
        assert grading.grade(exercise, wrong).points < exercise.points
    result = grading.grade(exercise, _sample_in_place)
    assert result.points < exercise.points and INPUTS in result.broken


# ------------------------------------------------------------------ package options


def test_ddpm_sample_noise_argument_replays_the_generator():
    sched = dm.make_schedule("linear", 30, beta_end=0.2)
    model = small_denoiser(6, 0)
    shape = (4, 6)
    g = rng.generator(3)
    x_T = torch.randn(shape, generator=g, dtype=torch.float64)  # noqa: N806
    drawn = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(sched.T - 1)]
    noise = torch.stack([torch.zeros(shape, dtype=torch.float64), *drawn[::-1]])  # t = 1..T
    for var_type in ("beta", "beta_tilde"):
        kw = {"var_type": var_type, "dtype": torch.float64}
        by_generator = dm.ddpm_sample(model, sched, shape, generator=rng.generator(3), **kw)
        given = dm.ddpm_sample(model, sched, shape, x_T=x_T, noise=noise, **kw)
        torch.testing.assert_close(given, by_generator, rtol=0, atol=1e-12)
        noise_changed = noise.clone()
        noise_changed[0] += 1.0  # the last step adds no noise: z of t = 1 is never read
        same = dm.ddpm_sample(model, sched, shape, x_T=x_T, noise=noise_changed, **kw)
        torch.testing.assert_close(same, given, rtol=0, atol=0)
    with pytest.raises(ValueError, match="noise"):
        dm.ddpm_sample(model, sched, shape, x_T=x_T, noise=noise[1:])


def test_l_simple_with_given_draws_equals_drawn_ones():
    sched = dm.make_schedule("linear", 50)
    model = small_denoiser(8, 1)
    x0 = torch.randn(5, 8, dtype=torch.float64, generator=rng.generator(0))
    g = rng.generator(9)
    t = torch.randint(1, sched.T + 1, (5,), generator=g)
    eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
    drawn = dm.l_simple(model, sched, x0, rng.generator(9))
    given = dm.l_simple(model, sched, x0, t=t, noise=eps)
    assert torch.equal(drawn, given)
    with pytest.raises(ValueError, match="t: expected time steps"):
        dm.l_simple(model, sched, x0, t=t * 0, noise=eps)


def test_mlp_denoiser_runs_in_float64():
    model = dm.MLPDenoiser(4, 8, 1, t_dim=8).double()
    out = model(torch.randn(3, 4, dtype=torch.float64), torch.tensor([1, 5, 9]))
    assert out.dtype == torch.float64 and out.shape == (3, 4)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_snapshots_are_filled_and_leave_the_result_unchanged(tmp_path):
    kw = {"steps": 6, "hidden": 16, "depth": 1, "progress": False}
    plain, _, plain_history = dm.train_digits_denoiser(**kw)
    stages = dict.fromkeys([2, 4])
    staged, _, history = dm.train_digits_denoiser(**kw, snapshots=stages)
    assert _same_weights(plain, staged) and len(history) == len(plain_history) == 6
    assert set(stages) == {2, 4} and not _same_weights(stages[2], stages[4])
    assert not stages[2].training and stages[2] is not staged
    # with a checkpoint: every stage is saved, and a re-run loads them all
    ckpt = tmp_path / "eps.pt"
    first = dict.fromkeys([2, 4])
    dm.train_digits_denoiser(**kw, snapshots=first, checkpoint=ckpt)
    assert {p.name for p in tmp_path.glob("*.pt")} == {"eps.pt", "eps_at2.pt", "eps_at4.pt"}
    again = dict.fromkeys([2, 4])
    reloaded, _, _ = dm.train_digits_denoiser(**kw, snapshots=again, checkpoint=ckpt)
    assert _same_weights(reloaded, plain)
    assert all(
        _same_weights(first[k], again[k]) and _same_weights(first[k], stages[k]) for k in first
    )
    with pytest.raises(ValueError, match="snapshots"):
        dm.train_digits_denoiser(**kw, snapshots=dict.fromkeys([0, 7]))


def test_training_with_another_loss_uses_it():
    kw = {"steps": 4, "hidden": 16, "depth": 1, "progress": False}
    plain, sched, _ = dm.train_digits_denoiser(**kw)
    calls = []

    def reference(model, x0, t, eps, alpha_bar):
        calls.append((x0.dtype, alpha_bar.dtype, t.dtype))
        return dm.l_simple(model, sched, x0, t=t, noise=eps)

    same, _, _ = dm.train_digits_denoiser(**kw, loss=reference)
    assert _same_weights(plain, same) and len(calls) == 4
    assert calls[0] == (torch.float32, torch.float32, torch.int64)
    wrong = grading.get("08.ddpm_loss").mistakes
    other, _, _ = dm.train_digits_denoiser(**kw, loss=next(iter(wrong.values())))
    assert not _same_weights(plain, other)


# ------------------------------------------------------------------ the lesson


def _lesson_function(name: str, replace: tuple[str, str] | None = None):
    """A function defined in the lesson, compiled on its own (optionally with one edit)."""
    tree = ast.parse(LESSON.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    source = ast.get_source_segment(LESSON.read_text(), node)
    if replace is not None:
        assert replace[0] in source, replace
        source = source.replace(*replace)
    namespace = {"torch": torch}
    exec(source, namespace)  # noqa: S102 - the course's own lesson code
    return namespace[name]


def test_lesson_algorithm_1_matches_the_package_and_its_claim_can_fail():
    sched = dm.make_schedule("linear", 100)
    model = small_denoiser(8, 2)
    x0 = torch.randn(16, 8, dtype=torch.float64, generator=rng.generator(0))
    package = dm.l_simple(model, sched, x0, rng.generator(4)).detach().item()
    written = _lesson_function("algorithm_1_loss")
    assert (
        abs(written(model, x0, sched.alpha_bar, rng.generator(4)).detach().item() - package) < 1e-12
    )
    wrong = _lesson_function("algorithm_1_loss", ("(1 - ab).sqrt() * eps", "(1 - ab) * eps"))
    assert abs(wrong(model, x0, sched.alpha_bar, rng.generator(4)).detach().item() - package) > 1e-6


def test_lesson_algorithm_2_matches_the_package_and_its_claim_can_fail():
    sched = dm.make_schedule("linear", 60, beta_end=0.1)
    model = small_denoiser(64, 3)
    package = dm.ddpm_sample(
        model, sched, (4, 64), generator=rng.generator(5), var_type="beta", dtype=torch.float64
    )
    written = _lesson_function("algorithm_2_sample")
    gap = (written(model, sched.betas, 4, rng.generator(5)) - package).abs().max()
    assert gap < 1e-10  # the lesson's claim allows 1e-4 (a float32 model in between)
    for edit in (
        ("betas[t].sqrt() * z", "betas[t] * z"),
        ("if t > 1 else 0.0", "if t > 0 else 0.0"),
        ("/ (1 - alpha_bar[t]).sqrt()", "/ (1 - alpha_bar[t])"),
    ):
        wrong = _lesson_function("algorithm_2_sample", edit)
        assert (wrong(model, sched.betas, 4, rng.generator(5)) - package).abs().max() > 1e-3


def _quiz_numbers(path: Path) -> list[float]:
    """The ``answer=`` of every top-level quiz.number call, evaluated."""
    answers = []
    for node in ast.parse(path.read_text()).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "quiz.number":
            kw = next(k for k in call.keywords if k.arg == "answer")
            answers.append(eval(ast.unparse(kw.value), {"math": math}))  # noqa: S307
    return answers


def test_quiz_answers_match_the_package():
    sched = dm.Schedule(torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64))
    noise_sd, posterior_sd = _quiz_numbers(LESSON)
    assert noise_sd == pytest.approx(float((1 - sched.alpha_bar[2]).sqrt()), rel=1e-12)
    assert posterior_sd == pytest.approx(float(sched.posterior_variance[2].sqrt()), rel=1e-12)
