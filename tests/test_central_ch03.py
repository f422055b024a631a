"""Chapter 03's central exercise, ``03.amortized_elbo_step``: correct answers written
differently keep full marks, hostile ones lose points, and the training the exercise notebook
runs with the step tells a right step from a wrong one (the encoder's exact ELBO approaches
the best diagonal ELBO(q*) only with the right step)."""

from __future__ import annotations

import torch
from torch.distributions import Normal

from edu_gen.core import rng
from edu_gen.core.distributions import log_normal
from edu_gen.course import grading
from edu_gen.models import elbo as E
from edu_gen.models import vae

EXERCISE = "03.amortized_elbo_step"


def _points(fn) -> float:
    return grading.grade(grading.get(EXERCISE), fn).points


# ------------------------------------------------------------------ correct, written differently


def _step_distributions(encoder, optimizer, log_joint, x, eps):
    """torch.distributions for log q, encoder.zero_grad(), float() for .item()."""
    encoder.zero_grad()
    mean, logvar = encoder(x)
    std = torch.exp(0.5 * logvar)
    z = mean + std * eps
    log_q = Normal(mean, std).log_prob(z).sum(-1)
    elbo = (log_joint(x, z) - log_q).mean(0).mean()
    loss = -elbo
    loss.backward()
    optimizer.step()
    return float(elbo.detach())


def _step_loop(encoder, optimizer, log_joint, x, eps):
    """One sample at a time, gradients set to None, the ELBO summed and divided by hand."""
    for p in encoder.parameters():
        p.grad = None
    mean, logvar = encoder(x)
    total = 0.0
    for e in eps:
        z = mean + torch.sqrt(torch.exp(logvar)) * e
        total = total + (log_joint(x, z[None])[0] - log_normal(z, mean, logvar)).sum()
    elbo = total / (eps.shape[0] * x.shape[0])
    (-elbo).backward()
    optimizer.step()
    return elbo.item()


def test_correct_answers_written_differently_get_full_marks():
    exercise = grading.get(EXERCISE)
    for answer in (_step_distributions, _step_loop, exercise.reference):
        result = grading.grade(exercise, answer)
        assert result.points == exercise.points == 20, result.report()


# ------------------------------------------------------------------ hostile answers


def _step_own_noise(encoder, optimizer, log_joint, x, eps):
    """Draws its own noise instead of using eps."""
    return grading.get(EXERCISE).reference(
        encoder, optimizer, log_joint, x, torch.randn(eps.shape, dtype=eps.dtype)
    )


def _step_sum_over_batch(encoder, optimizer, log_joint, x, eps):
    optimizer.zero_grad()
    mean, logvar = encoder(x)
    elbo = E.elbo_mc(lambda z: log_joint(x, z), mean, logvar, eps)
    (-elbo.sum()).backward()  # a step N times too large
    optimizer.step()
    return elbo.mean().item()


def _step_elbo_after(encoder, optimizer, log_joint, x, eps):
    grading.get(EXERCISE).reference(encoder, optimizer, log_joint, x, eps)
    with torch.no_grad():
        mean, logvar = encoder(x)
        return E.elbo_mc(lambda z: log_joint(x, z), mean, logvar, eps).mean().item()


def _step_no_optimizer(encoder, optimizer, log_joint, x, eps):
    """Computes the ELBO but never steps."""
    with torch.no_grad():
        mean, logvar = encoder(x)
        return E.elbo_mc(lambda z: log_joint(x, z), mean, logvar, eps).mean().item()


def _step_prior_as_joint(encoder, optimizer, log_joint, x, eps):
    """Ignores the model: log p(z) in place of log p(x, z)."""
    optimizer.zero_grad()
    mean, logvar = encoder(x)
    elbo = E.elbo_mc(lambda z: log_normal(z, 0.0, 0.0), mean, logvar, eps).mean()
    (-elbo).backward()
    optimizer.step()
    return elbo.item()


def test_hostile_answers_lose_points():
    for wrong in (
        _step_own_noise,
        _step_sum_over_batch,
        _step_elbo_after,
        _step_no_optimizer,
        _step_prior_as_joint,
    ):
        assert _points(wrong) < 20, wrong.__name__


def test_every_planted_mistake_gets_its_own_hint():
    exercise = grading.get(EXERCISE)
    assert len(exercise.mistakes) >= 4
    for hint, wrong in exercise.mistakes.items():
        result = grading.grade(exercise, wrong)
        assert result.points < exercise.points and result.hint == hint, (hint, result.report())


# ------------------------------------------------------------------ the use in the notebook


def _train(step, steps: int = 300) -> tuple[float, float, float]:
    """The exercise notebook's run, shortened: (mean log p(x), ELBO(q*), ELBO(q_phi))."""
    g = rng.generator(0)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    W[:, 1] += 0.8 * W[:, 0]
    model = E.LinearGaussian(W, torch.randn(6, generator=g, dtype=torch.float64), sigma2=0.4)
    x, _ = model.sample(512, g)
    best = model.elbo(x, *model.optimal_mean_field(x)).mean()
    with rng.seeded(0):
        encoder = vae.GaussianEncoder(6, 2, hidden=(32,)).double()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    noise = rng.generator(1)
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (64,), generator=noise)]
        eps = torch.randn(8, 64, 2, generator=noise, dtype=torch.float64)
        step(encoder, optimizer, model.log_joint, batch, eps)
    with torch.no_grad():
        reached = model.elbo(x, *encoder(x)).mean()
    return float(model.log_marginal(x).mean()), float(best), float(reached)


def test_training_with_the_step_closes_the_amortization_gap_only_when_right():
    exercise = grading.get(EXERCISE)
    log_px, best, reached = _train(exercise.reference)
    assert best < log_px and log_px - best > 0.2  # a visible approximation gap
    assert 0 <= best - reached < 0.25  # the amortization gap almost closes
    wrong = exercise.mistakes[
        "the ELBO is E_q[log p(x, z) - log q(z|x)]: subtract log q (the entropy term)"
    ]
    _, _, reached_wrong = _train(wrong)
    assert best - reached_wrong > 1.0  # without the entropy q collapses: far below ELBO(q*)
