"""Chapter 07's central exercises (the alternating GAN step, the WGAN-GP critic step) and
the lesson's claim that the package's GAN training takes the open loop's steps.

Correct answers written differently keep full marks; hostile answers that the generic
contract tests do not build lose points; the package's ``fit`` matches an open loop from
the same start and noise, and the comparison is sharp enough to fail for the wrong loop.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.core.train import fit
from edu_gen.course import grading
from edu_gen.models import gan

GAN_STEP, CRITIC_STEP = "07.gan_step", "07.wgan_gp_critic_step"


def _points(exercise_id: str, fn) -> float:
    return grading.grade(grading.get(exercise_id), fn).points


def _full(exercise_id: str, fn) -> None:
    exercise = grading.get(exercise_id)
    result = grading.grade(exercise, fn)
    assert result.points == exercise.points, result.report()


def _loses(exercise_id: str, fn) -> None:
    exercise = grading.get(exercise_id)
    result = grading.grade(exercise, fn)
    assert result.points < exercise.points, result.report()


# ------------------------------------------------------------ 07.gan_step: right answers


def _step_softplus_no_grad(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """softplus forms, the fake batch made under no_grad, module.zero_grad()."""
    D.zero_grad()
    with torch.no_grad():
        fake = G(z_d)
    loss_d = F.softplus(-D(x_real)).mean() + F.softplus(D(fake)).mean()
    loss_d.backward()
    opt_d.step()
    G.zero_grad(set_to_none=False)
    loss_g = -F.logsigmoid(D(G(z_g))).mean()
    loss_g.backward()
    opt_g.step()
    return float(loss_d.detach()), float(loss_g.detach())


def _step_zero_both_first(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """Both optimisers cleared at the top; correct because the fake batch is detached."""
    opt_d.zero_grad()
    opt_g.zero_grad()
    loss_d = gan.discriminator_loss(D(x_real).squeeze(1), D(G(z_d).detach()).squeeze(1))
    loss_d.backward()
    opt_d.step()
    loss_g = gan.generator_loss_nonsaturating(D(G(z_g)).squeeze(1))
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def _step_frozen_d(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """One BCE over the concatenated batch, and D frozen during the generator's step."""
    opt_d.zero_grad()
    logits = D(torch.cat([x_real, G(z_d).detach()]))
    labels = torch.cat([torch.ones(len(x_real), 1), torch.zeros(len(z_d), 1)]).to(logits)
    loss_d = 2 * F.binary_cross_entropy_with_logits(logits, labels)  # two equal halves
    loss_d.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    try:
        opt_g.zero_grad()
        loss_g = F.binary_cross_entropy_with_logits(D(G(z_g)), torch.ones(len(z_g), 1).to(logits))
        loss_g.backward()
        opt_g.step()
    finally:
        for p in D.parameters():
            p.requires_grad_(True)
    return loss_d.item(), loss_g.item()


@pytest.mark.parametrize("fn", [_step_softplus_no_grad, _step_zero_both_first, _step_frozen_d])
def test_gan_step_written_differently_keeps_full_marks(fn):
    _full(GAN_STEP, fn)


# ------------------------------------------------------------ 07.gan_step: wrong answers


def _ref_gan_step():
    return grading.get(GAN_STEP).reference


def _step_without_optimiser_steps(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """The right losses, but neither network moves."""
    loss_d = gan.discriminator_loss(D(x_real).squeeze(1), D(G(z_d)).squeeze(1))
    loss_g = gan.generator_loss_nonsaturating(D(G(z_g)).squeeze(1))
    return loss_d.item(), loss_g.item()


def _step_same_noise(D, G, opt_d, opt_g, x_real, z_d, z_g):
    return _ref_gan_step()(D, G, opt_d, opt_g, x_real, z_d, z_d)


def _step_generator_first(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """The generator moves first, the discriminator then sees the new generator."""
    opt_g.zero_grad()
    loss_g = gan.generator_loss_nonsaturating(D(G(z_g)).squeeze(1))
    loss_g.backward()
    opt_g.step()
    opt_d.zero_grad()
    loss_d = gan.discriminator_loss(D(x_real).squeeze(1), D(G(z_d).detach()).squeeze(1))
    loss_d.backward()
    opt_d.step()
    return loss_d.item(), loss_g.item()


def _step_twice(D, G, opt_d, opt_g, x_real, z_d, z_g):
    _ref_gan_step()(D, G, opt_d, opt_g, x_real, z_d, z_g)
    return _ref_gan_step()(D, G, opt_d, opt_g, x_real, z_d, z_g)


def _step_losses_swapped(D, G, opt_d, opt_g, x_real, z_d, z_g):
    loss_d, loss_g = _ref_gan_step()(D, G, opt_d, opt_g, x_real, z_d, z_g)
    return loss_g, loss_d


@pytest.mark.parametrize(
    "fn",
    [
        _step_without_optimiser_steps,
        _step_same_noise,
        _step_generator_first,
        _step_twice,
        _step_losses_swapped,
    ],
)
def test_gan_step_hostile_answers_lose_points(fn):
    _loses(GAN_STEP, fn)


def test_gan_step_planted_mistakes_are_recognised():
    exercise = grading.get(GAN_STEP)
    assert len(exercise.mistakes) >= 5
    for hint, fn in exercise.mistakes.items():
        result = grading.grade(exercise, fn)
        assert result.points == 0, (hint, result.report())
        assert hint in result.report(), hint


# ------------------------------------------------------------ 07.wgan_gp_critic_step


def _critic_with_package(D, G, opt_d, x_real, z, u, lam):
    """The package's penalty and a detached fake batch; G.zero_grad() is harmless."""
    G.zero_grad()
    fake = G(z).detach()
    loss = gan.critic_loss_wasserstein(D(x_real)[:, 0], D(fake)[:, 0])
    loss = loss + gan.gradient_penalty(D, x_real, fake, weight=lam, eps=u)
    D.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def _critic_view_and_sum(D, G, opt_d, x_real, z, u, lam):
    """u reshaped with view, the norm written out, the mean as sum / n."""
    opt_d.zero_grad(set_to_none=False)
    with torch.no_grad():
        fake = G(z)
    n = x_real.shape[0]
    x_hat = torch.lerp(fake, x_real, u.view(n, 1)).detach().requires_grad_()
    scores = D(x_hat)
    (grad,) = torch.autograd.grad(scores, x_hat, torch.ones_like(scores), create_graph=True)
    norm = torch.sqrt((grad**2).sum(1))
    loss = (D(fake) - D(x_real)).sum() / n + lam * ((norm - 1) ** 2).sum() / n
    loss.backward()
    opt_d.step()
    return loss.item()


@pytest.mark.parametrize("fn", [_critic_with_package, _critic_view_and_sum])
def test_critic_step_written_differently_keeps_full_marks(fn):
    _full(CRITIC_STEP, fn)


def _ref_critic():
    return grading.get(CRITIC_STEP).reference


def _critic_one_u(D, G, opt_d, x_real, z, u, lam):
    """One mixing weight for the whole batch."""
    return _ref_critic()(D, G, opt_d, x_real, z, u.mean().expand_as(u), lam)


def _critic_weight_clipping(D, G, opt_d, x_real, z, u, lam):
    """The original WGAN's weight clipping instead of the penalty."""
    opt_d.zero_grad()
    with torch.no_grad():
        fake = G(z)
    loss = D(fake).mean() - D(x_real).mean()
    loss.backward()
    opt_d.step()
    with torch.no_grad():
        for p in D.parameters():
            p.clamp_(-0.01, 0.01)
    return loss.item()


def _critic_loss_without_penalty(D, G, opt_d, x_real, z, u, lam):
    """The right step, but the returned loss leaves the penalty out."""
    _ref_critic()(copy.deepcopy(D), G, torch.optim.SGD(D.parameters(), lr=0.0), x_real, z, u, lam)
    with torch.no_grad():
        fake = G(z)
        wasserstein = (D(fake).mean() - D(x_real).mean()).item()
    _ref_critic()(D, G, opt_d, x_real, z, u, lam)
    return wasserstein


def _critic_generator_moved(D, G, opt_d, x_real, z, u, lam):
    """Fake batch with its graph and one optimiser over both networks: G moves too."""
    both = torch.optim.SGD([*D.parameters(), *G.parameters()], lr=opt_d.param_groups[0]["lr"])
    both.zero_grad()
    fake = G(z)
    loss = gan.critic_loss_wasserstein(D(x_real)[:, 0], D(fake)[:, 0])
    loss = loss + gan.gradient_penalty(D, x_real, fake.detach(), weight=lam, eps=u)
    loss.backward()
    both.step()
    return loss.item()


@pytest.mark.parametrize(
    "fn",
    [_critic_one_u, _critic_weight_clipping, _critic_loss_without_penalty, _critic_generator_moved],
)
def test_critic_step_hostile_answers_lose_points(fn):
    _loses(CRITIC_STEP, fn)


def test_critic_step_planted_mistakes_are_recognised():
    exercise = grading.get(CRITIC_STEP)
    assert len(exercise.mistakes) >= 5
    for hint, fn in exercise.mistakes.items():
        result = grading.grade(exercise, fn)
        assert result.points == 0, (hint, result.report())
        assert hint in result.report(), hint


# ------------------------------------------------------------ the lesson's claim


def _open_loop(model, batches, loss, n_critic, *, simultaneous=False):
    """The lesson's loop (Adam, betas (0.5, 0.9), lr 1e-3, gp weight 1); ``simultaneous``
    scores the generator's batch with the discriminator from *before* its last step (the
    same noise stream, a different algorithm)."""
    D, G = model.discriminator, model.generator
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    order = ["critic"] * n_critic + ["generator"]
    for turn, x in enumerate(batches):
        n = x.shape[0]
        z = torch.randn(n, model.latent_dim)
        if order[turn % len(order)] == "critic":
            d_before = copy.deepcopy(D)
            with torch.no_grad():
                fake = G(z)
            if loss == "wgan-gp":
                u = torch.rand(n, 1)
                x_hat = (u * x + (1 - u) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
                loss_d = D(fake).mean() - D(x).mean() + ((grad.norm(dim=1) - 1) ** 2).mean()
            else:
                loss_d = gan.discriminator_loss(D(x)[:, 0], D(fake)[:, 0])
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        else:
            scores = (d_before if simultaneous else D)(G(z))[:, 0]
            if loss == "wgan-gp":
                loss_g = gan.generator_loss_wasserstein(scores)
            else:
                loss_g = gan.generator_loss_nonsaturating(scores)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _run(loss, n_critic, n_turns, how, seed=1):
    with rng.seeded(0):
        start = gan.GAN(2, latent_dim=2, hidden=(32, 32), activation="relu")
    data = gan.sample_ring(64 * n_turns, std=0.05, generator=torch.Generator().manual_seed(0))
    batches = list(data.split(64))
    model = copy.deepcopy(start)
    with rng.seeded(seed):
        if how == "fit":
            players = gan.gan_players(model, loss, lr=1e-3, betas=(0.5, 0.9), gp_weight=1.0)
            fit(
                model,
                players,
                gan.gan_turns(batches, n_critic),
                steps=n_turns,
                device="cpu",
                progress=False,
            )
        else:
            _open_loop(model, batches, loss, n_critic, simultaneous=how == "simultaneous")
    return _flat(start), _flat(model)


@pytest.mark.parametrize("loss,n_critic", [("nonsaturating", 1), ("wgan-gp", 5)])
def test_fit_takes_the_open_loops_steps_and_the_check_is_sharp(loss, n_critic):
    n_turns = 12 * (n_critic + 1)
    start, open_end = _run(loss, n_critic, n_turns, "open")
    _, fit_end = _run(loss, n_critic, n_turns, "fit")
    _, other_noise = _run(loss, n_critic, n_turns, "open", seed=2)
    assert (open_end - start).abs().max() > 1e-2  # training moved the networks
    assert (fit_end - open_end).abs().max() < 1e-5  # the lesson's tolerance
    assert (other_noise - open_end).abs().max() > 1e-3  # the lesson's "ends elsewhere"
    if loss == "nonsaturating":  # the wrong algorithm, same noise: the claim would fail
        _, simultaneous = _run(loss, n_critic, n_turns, "simultaneous")
        assert (simultaneous - fit_end).abs().max() > 1e-4
