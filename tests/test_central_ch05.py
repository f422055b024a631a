"""Chapter 05's central exercise (the IWAE loss) and the lesson's loss written out.

Correct answers written differently keep full marks; hostile answers that the planted
mistakes do not cover lose points on the contract they break; the lesson's written-out
loss matches the package and its claim fails for a loss that is off.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from edu_gen.core.distributions import log_normal
from edu_gen.course import grading
from edu_gen.course.claims import ClaimFailed, claim_close
from edu_gen.course.grading.core import GRADIENT, STABILITY, VALUES
from edu_gen.models import iwae, vae

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "05_iwae.py"
EXERCISES = LESSON.with_name("05_iwae_exercises.py")


def _exercise():
    return grading.get("05.iwae_loss")


# ------------------------------------------------------------------ correct alternatives


def _loss_package_pieces(model, x, eps):
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, eps)
    log_w = model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    return -iwae.iwae_bound(log_w).mean()


def _loss_loop_over_samples(model, x, eps):
    """One sample i at a time, log q from the standardised residual eps, a max-shifted
    log-mean-exp written out by hand."""
    mu, logvar = model.encode(x)
    rows = []
    for e in eps:
        z = mu + (0.5 * logvar).exp() * e
        logits = model.decoder(z)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        log_pz = -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)
        log_qz = -0.5 * (e**2 + logvar).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)
        rows.append(log_px_z + log_pz - log_qz)
    log_w = torch.stack(rows)
    top = log_w.max(0).values
    bound = top + torch.log(torch.exp(log_w - top).mean(0))
    return -bound.sum() / len(x)


def _loss_distributions(model, x, eps):
    mu, logvar = model.encode(x)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    z = mu + q.scale * eps
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    log_w = model.decoder.log_prob(x, z) + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    return (math.log(eps.shape[0]) - torch.logsumexp(log_w, 0)).mean()


@pytest.mark.parametrize(
    "answer", [_loss_package_pieces, _loss_loop_over_samples, _loss_distributions]
)
def test_correct_answers_written_differently_get_full_marks(answer):
    result = grading.grade(_exercise(), answer)
    assert result.points == _exercise().points, result.report()


# ------------------------------------------------------------------ hostile answers


def _loss_detached_z(model, x, eps):
    mu, logvar = model.encode(x)
    z = (mu + torch.exp(0.5 * logvar) * eps).detach()  # the encoder gets no gradient via z
    log_w = model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    return -iwae.iwae_bound(log_w).mean()


def _loss_detached_mu(model, x, eps):
    mu, logvar = model.encode(x)
    z = mu.detach() + torch.exp(0.5 * logvar) * eps
    log_w = model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    return -iwae.iwae_bound(log_w).mean()


@pytest.mark.parametrize("answer", [_loss_detached_z, _loss_detached_mu])
def test_a_detached_sample_loses_the_gradient_contract_only(answer):
    exercise = _exercise()
    result = grading.grade(exercise, answer)
    assert result.points < exercise.points and GRADIENT in result.broken, result.report()
    assert result.hint is None  # its values are right: no planted mistake matches
    assert grading.grade(exercise, answer, skip=(GRADIENT,)).points == exercise.points


def test_the_closed_form_elbo_is_not_the_iwae_loss():
    """The VAE's loss (closed-form KL, fresh noise) ignores eps and is another objective."""
    result = grading.grade(_exercise(), lambda model, x, eps: vae.vae_loss(model, x)["loss"])
    assert result.points < 0.5 * _exercise().points and VALUES in result.broken


def test_exponentiating_the_weights_fails_only_the_stability_case():
    exercise = _exercise()
    result = grading.grade(exercise, exercise.unstable)
    assert STABILITY in result.broken
    assert all(t.passed for t in result.tests if t.contract != STABILITY), result.report()


def test_mean_over_samples_gets_the_elbo_hint():
    result = grading.grade(_exercise(), lambda m, x, e: -_log_w(m, x, e).mean())
    assert result.hint is not None and "ELBO" in result.hint


def _log_w(model, x, eps):
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, eps)
    return model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)


# ------------------------------------------------------------------ the lesson's loss in the open


def _lesson_function(path: Path, name: str, replace: tuple[str, str] | None = None):
    """The function ``name`` defined in a lesson file, compiled on its own (optionally with
    one piece of its source replaced)."""
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    source = ast.get_source_segment(path.read_text(), node)
    if replace is not None:
        assert replace[0] in source
        source = source.replace(*replace)
    namespace = {"torch": torch, "math": math, "F": F}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own lesson code
    return namespace[name]


def _claimed_pair(fn, k=5):
    torch.manual_seed(0)
    model = vae.make_vae(64, 16, (128,), likelihood="bernoulli")
    x = (torch.rand(32, 64) < 0.3).float()
    torch.manual_seed(5)
    mine = fn(model, x, k)
    torch.manual_seed(5)
    return mine, iwae.iwae_loss(model, x, k)["loss"]


def test_lesson_loss_written_out_matches_the_package():
    mine, package = _claimed_pair(_lesson_function(LESSON, "iwae_loss_by_hand"))
    assert claim_close("written out = package", mine, package, atol=1e-5)


@pytest.mark.parametrize(
    "replace",
    [
        (" - math.log(k)", ""),  # the log of the sum, not of the mean
        ("torch.logsumexp(log_w, dim=0)", "log_w.mean(0)"),  # the k-sample ELBO
        ("torch.exp(0.5 * logvar)", "torch.exp(logvar)"),  # sigma taken as the variance
    ],
)
def test_lesson_claim_fails_for_a_wrong_loss(monkeypatch, replace):
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    mine, package = _claimed_pair(_lesson_function(LESSON, "iwae_loss_by_hand", replace))
    with pytest.raises(ClaimFailed):
        claim_close("written out = package", mine, package, atol=1e-5)


def test_exercise_notebook_trains_with_the_learners_loss():
    text = EXERCISES.read_text()
    assert "loss_fn = result_loss.choose(iwae_loss)" in text
    assert "loss_fn(model, x, torch.randn(k, len(x), latent" in text
