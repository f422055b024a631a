"""Chapter 04's central exercise, ``04.vae_step``, and the lesson's open training step:
correct answers written differently keep full marks, hostile ones lose points, and the
lesson's claim (the open step matches ``fit`` with ``vae.vae_loss``) fails for a wrong step."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from edu_gen.core import rng
from edu_gen.core.train import fit
from edu_gen.course import grading
from edu_gen.data import digits_loader
from edu_gen.models import vae

EXERCISE = "04.vae_step"


def _points(fn) -> float:
    return grading.grade(grading.get(EXERCISE), fn).points


# ------------------------------------------------------------------ correct, written differently


def _step_library(model, optimizer, x, eps):
    """The library's BCE and KL, model.zero_grad(), float() for .item()."""
    model.zero_grad()
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    nll = F.binary_cross_entropy_with_logits(model.decoder(z), x, reduction="none").sum(1)
    kl = kl_divergence(Normal(mu, std), Normal(torch.zeros_like(mu), torch.ones_like(std)))
    loss = (nll + kl.sum(1)).mean()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _step_package_pieces(model, optimizer, x, eps):
    """Gradients set to None, the package's reparameterize and log-likelihood, the ELBO
    negated at the end."""
    for p in model.parameters():
        p.grad = None
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, eps)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    elbo = (vae.bernoulli_log_prob(x, model.decoder(z)) - kl).sum() / len(x)
    (-elbo).backward()
    optimizer.step()
    return -elbo.item()


def test_correct_answers_written_differently_get_full_marks():
    exercise = grading.get(EXERCISE)
    for answer in (_step_library, _step_package_pieces, exercise.reference):
        result = grading.grade(exercise, answer)
        assert result.points == exercise.points == 20, result.report()


# ------------------------------------------------------------------ hostile answers


def _loss(model, x, z, mu, logvar):
    logits = model.decoder(z)
    nll = (F.softplus(logits) - x * logits).sum(1)
    return (nll + 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)).mean()


def _step_torch_normal(model, optimizer, x, eps):
    """Samples z without the reparameterisation: no gradient reaches mu and sigma through z."""
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = torch.normal(mu, torch.exp(0.5 * logvar))
    loss = _loss(model, x, z, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_own_noise(model, optimizer, x, eps):
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # ignores eps
    loss = _loss(model, x, z, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_posterior_mean(model, optimizer, x, eps):
    """Decodes mu itself: an autoencoder with a KL penalty, not the VAE's sample."""
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    loss = _loss(model, x, mu, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_sum_over_batch(model, optimizer, x, eps):
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    loss = _loss(model, x, mu + torch.exp(0.5 * logvar) * eps, mu, logvar) * len(x)
    loss.backward()
    optimizer.step()
    return loss.item() / len(x)


def _step_probabilities_as_logits(model, optimizer, x, eps):
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    p = model.decoder.mean(z)  # sigmoid(a), used where the logits belong
    nll = (F.softplus(p) - x * p).sum(1)
    loss = (nll + 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_hostile_answers_lose_points():
    for wrong in (
        _step_torch_normal,
        _step_own_noise,
        _step_posterior_mean,
        _step_sum_over_batch,
        _step_probabilities_as_logits,
    ):
        assert _points(wrong) < 20, wrong.__name__


def test_every_planted_mistake_gets_its_own_hint():
    exercise = grading.get(EXERCISE)
    assert len(exercise.mistakes) >= 4
    for hint, wrong in exercise.mistakes.items():
        result = grading.grade(exercise, wrong)
        assert result.points < exercise.points and result.hint == hint, (hint, result.report())


# ------------------------------------------------------------------ the lesson's claim


def _open_step(model, optimizer, x, *, scale_power=0.5, pixel_mean=False):
    """The lesson's ``vae_training_step`` (with switches for two wrong versions)."""
    mu, logvar = model.encode(x)
    eps = torch.randn_like(mu)
    z = mu + torch.exp(scale_power * logvar) * eps
    logits = model.decoder(z)
    log_px_given_z = x * logits - F.softplus(logits)
    log_px_given_z = log_px_given_z.mean(1) if pixel_mean else log_px_given_z.sum(1)
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)
    loss = (kl - log_px_given_z).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _open_vs_fit(n: int = 10, **wrong) -> tuple[float, float]:
    """What the lesson's claim compares: (max loss difference, max weight difference)."""
    batches = [x for x, _ in digits_loader("train", "binary", batch_size=128, seed=0)][:n]
    with rng.seeded(1):
        open_model = vae.make_vae(64, latent_dim=2, hidden=(128,))
    package_model = copy.deepcopy(open_model)
    optimizer = torch.optim.Adam(open_model.parameters(), lr=3e-3)
    with rng.seeded(2):
        losses = [_open_step(open_model, optimizer, x, **wrong) for x in batches]
    with rng.seeded(2):
        history = fit(package_model, vae.vae_loss, batches, steps=n, lr=3e-3, device="cpu",
                      progress=False)  # fmt: skip
    loss_gap = (torch.tensor(losses) - torch.tensor(history["loss"])).abs().max()
    weights = [torch.cat([p.detach().reshape(-1) for p in m.parameters()])
               for m in (open_model, package_model)]  # fmt: skip
    return float(loss_gap), float((weights[0] - weights[1]).abs().max())


def test_the_lesson_claim_holds_for_the_open_step_and_fails_for_wrong_ones():
    loss_gap, weight_gap = _open_vs_fit()
    assert loss_gap < 1e-4 and weight_gap < 1e-5  # the lesson's tolerances
    for wrong in ({"scale_power": 1.0}, {"pixel_mean": True}):
        loss_gap, weight_gap = _open_vs_fit(**wrong)
        assert loss_gap > 1e-4 and weight_gap > 1e-5, wrong
