"""Tests of chapter 08's extensions: Table 2's parameterisations and weightings, the continuous
bound, annealed Langevin dynamics, classifier-free guidance and the energy distance — each
with a planted mistake that the same check catches."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.evaluation.energy import energy_distance
from edu_gen.models import diffusion as d

F64 = torch.float64


def _setup(seed: int = 0, n: int = 16, dim: int = 3, T: int = 50):  # noqa: N803
    sched = d.make_schedule("linear", T, beta_start=2e-3, beta_end=0.3)
    g = rng.generator(seed)
    x0 = torch.randn(n, dim, generator=g, dtype=F64)
    noise = torch.randn(n, dim, generator=g, dtype=F64)
    t = torch.randint(1, T + 1, (n,), generator=g)
    return sched, x0, noise, t, g


@pytest.mark.parametrize("kind", d.PARAMETERISATIONS)
def test_each_output_maps_to_the_same_mean_as_its_eps(kind):
    sched, x0, noise, t, g = _setup()
    xt = d.q_sample(sched, x0, t, noise)
    out = torch.randn(xt.shape, generator=g, dtype=F64)
    mean = d.output_to_mean(sched, kind, out, xt, t)
    eps = d.output_to_eps(sched, kind, out, xt, t)
    torch.testing.assert_close(d.output_to_mean(sched, "eps", eps, xt, t), mean)
    # the package's reverse step agrees through the ε-wrapper
    model = d.as_eps_model(lambda x, s: out, sched, kind)
    torch.testing.assert_close(d.p_mean_variance(model, sched, xt, t).mean, mean)
    if kind == "mean":  # mutant: ε from μ without the √(1 − ᾱ_t) factor
        ab = sched.alpha_bar[t].reshape(-1, 1)
        a, b = sched.alphas[t].reshape(-1, 1), sched.betas[t].reshape(-1, 1)
        wrong = (xt - a.sqrt() * out) / b
        assert not torch.allclose(d.output_to_mean(sched, "eps", wrong, xt, t), mean)
        assert ab.min() < 1


def test_true_targets_give_zero_simple_loss_and_the_eps_target_is_the_noise():
    sched, x0, noise, t, _ = _setup(1)
    for kind, target in [
        ("eps", lambda xt, s: noise),
        ("x0", lambda xt, s: x0),
        ("mean", lambda xt, s: d.q_posterior(sched, x0, xt, s)[0]),
    ]:
        for weighting in d.WEIGHTINGS:
            loss = d.parameterised_loss(target, sched, x0, kind, weighting, t=t, noise=noise)
            assert loss.abs() < 1e-20, (kind, weighting)
    # mutant: an x0-network scored against the noise has a large loss
    assert d.parameterised_loss(lambda xt, s: x0, sched, x0, "eps", t=t, noise=noise) > 0.1


def test_vlb_weighting_of_eps_is_the_kl_weight():
    sched, x0, noise, _, g = _setup(2)
    t = torch.randint(2, sched.T + 1, (len(x0),), generator=g)
    eps_hat = torch.randn(x0.shape, generator=g, dtype=F64)
    per = []
    for i in range(len(x0)):  # one example at a time, so each has its own t
        per.append(
            d.parameterised_loss(
                lambda xt, s, i=i: eps_hat[i : i + 1],
                sched,
                x0[i : i + 1],
                "eps",
                "vlb",
                t=t[i : i + 1],
                noise=noise[i : i + 1],
            )
        )
    expected = d.kl_weight(sched, t) * (noise - eps_hat).pow(2).sum(1)
    torch.testing.assert_close(torch.stack(per), expected)
    # mutant: L_simple's unit weights are not the bound's
    assert not torch.allclose(torch.stack(per), (noise - eps_hat).pow(2).sum(1))


def test_continuous_bound_exceeds_the_entropy_and_its_decoder_is_a_gaussian_density():
    sched = d.make_schedule("linear", 100, beta_start=1e-3, beta_end=0.2)
    mean, var = torch.tensor([0.3, -0.2], dtype=F64), 0.5
    x0 = mean + var**0.5 * torch.randn(4000, 2, generator=rng.generator(3), dtype=F64)
    exact = d.gaussian_eps(sched, mean, var)
    entropy = 0.5 * math.log(2 * math.pi * math.e * var)  # per dimension
    bound = d.continuous_bound(exact, sched, x0, var_type="beta", generator=rng.generator(4))
    assert entropy < bound["total"] < entropy + 0.05  # the exact ε-model is nearly tight
    torch.testing.assert_close(bound["total"], bound["prior"] + bound["terms"].sum())
    wrong = d.continuous_bound(
        lambda x, t: 0.8 * exact(x, t), sched, x0, var_type="beta", generator=rng.generator(4)
    )
    assert wrong["total"] > bound["total"] + 0.05  # mutant: a mis-scaled ε is penalised
    # the t = 1 term is -log N(x_0; μ_θ(x_1, 1), β_1) per dimension
    g = rng.generator(4)
    xt = d.q_sample(sched, x0, 1, torch.randn(x0.shape, generator=g, dtype=F64))
    mu = d.output_to_mean(
        sched,
        "eps",
        exact(xt, torch.ones(len(x0), dtype=torch.int64)),
        xt,
        torch.ones(len(x0), dtype=torch.int64),
    )
    nll = -torch.distributions.Normal(mu, sched.betas[1].sqrt()).log_prob(x0).mean()
    torch.testing.assert_close(bound["terms"][0], nll)


def test_energy_distance_matches_scipy_in_one_dimension_and_detects_a_shift():
    g = rng.generator(5)
    a, b = torch.randn(300, 1, generator=g), torch.randn(200, 1, generator=g) + 0.3
    ours = energy_distance(a, b)
    assert ours == pytest.approx(scipy.stats.energy_distance(a[:, 0], b[:, 0]) ** 2, rel=1e-6)
    same = energy_distance(a[:150], a[150:])
    assert same < ours / 3
    with pytest.raises(ValueError):
        energy_distance(a, torch.randn(5, 2))


def _langevin(model, sched, n=4000, k=200, delta=0.1):
    return d.annealed_langevin_sample(
        model,
        sched,
        (n, 2),
        levels=d.langevin_levels(sched, 40),
        steps_per_level=k,
        step_ratio=delta,
        generator=rng.generator(6),
    )


def test_annealed_langevin_with_the_exact_score_samples_the_data_and_a_wrong_scale_fails():
    sched = d.make_schedule("linear", 1000)
    mean, var = torch.tensor([0.5, -0.5]), 0.09
    exact = d.gaussian_eps(sched, mean, var)
    x = _langevin(exact, sched)
    assert (x.mean(0) - mean).abs().max() < 0.03
    assert (x.var(0) / var - 1).abs().max() < 0.1
    # too few steps per level: the chains never settle at the small noise levels
    short = _langevin(exact, sched, k=5)
    assert (short.var(0) / var - 1).abs().max() > 0.3

    # mutant: the step without its ½ (x + a·score + √a z) samples q² instead of q: half the
    # variance; emulated by a score twice as large
    bad = _langevin(lambda xt, t: 2 * exact(xt, t), sched)
    assert (bad.var(0) / var - 0.5).abs().max() < 0.1


def test_langevin_levels_and_argument_checks():
    sched = d.make_schedule("linear", 1000)
    levels = d.langevin_levels(sched, 20)
    assert levels[0] == 1000 and levels[-1] == 1 and levels == sorted(levels, reverse=True)
    sig = [d.level_sigma(sched, t) for t in levels]
    ratios = [a / b for a, b in zip(sig, sig[1:], strict=False)]
    assert max(ratios) / min(ratios) < 1.5  # geometric spacing, up to rounding to steps
    for bad in ({"levels": [1, 5]}, {"steps_per_level": 0}, {"step_ratio": 0.0}):
        kwargs = {"levels": [5, 1], "steps_per_level": 1, "step_ratio": 0.1} | bad
        with pytest.raises((ValueError, TypeError)):
            d.annealed_langevin_sample(lambda x, t: x, sched, (2, 2), **kwargs)


class _ExactConditional(nn.Module):
    """ε*(x, t, c) for a two-class Gaussian mixture; the null label gives the mixture's ε*."""

    classes = 2

    def __init__(self, mix: d.GaussianMixture, sched: d.Schedule) -> None:
        super().__init__()
        self.mix, self.sched = mix, sched
        self.parts = [
            d.GaussianMixture(mix.means[k : k + 1], mix.stds[k : k + 1], torch.ones(1, dtype=F64))
            for k in range(2)
        ]

    def forward(self, x, t, y):
        step = int(t[0])
        out = torch.empty_like(x)
        for label, part in [(0, self.parts[0]), (1, self.parts[1]), (2, self.mix)]:
            rows = y == label
            if rows.any():
                out[rows] = part.optimal_eps(self.sched, x[rows], step)
        return out


def test_guided_eps_is_the_score_of_q_c_times_the_classifier_to_the_w():
    sched = d.make_schedule("linear", 1000)
    mix = d.GaussianMixture(
        torch.tensor([[-1.0, 0.0], [1.0, 0.5]], dtype=F64),
        torch.tensor([0.4, 0.5], dtype=F64),
        torch.tensor([0.5, 0.5], dtype=F64),
    )
    model = _ExactConditional(mix, sched)
    x = torch.randn(12, 2, generator=rng.generator(7), dtype=F64)
    y = torch.tensor([0, 1] * 6)
    t, w = 300, 2.0
    ab = sched.alpha_bar_at(t)
    guided = d.guided_eps(model, y, w)(x, torch.full((12,), t))
    # ∇ log q_t(x|c) + w ∇ log q_t(c|x), with log q_t(c|x) by Bayes' rule and autograd
    xr = x.clone().requires_grad_(True)
    mean, var = ab**0.5 * mix.means, ab * mix.stds**2 + 1 - ab
    log_c = -0.5 * (xr[:, None] - mean[None]).pow(2).sum(-1) / var - torch.log(2 * math.pi * var)
    log_post = torch.log_softmax(log_c + mix.weights.log(), 1)[torch.arange(12), y]
    (grad_post,) = torch.autograd.grad(log_post.sum(), xr)
    score_c = -model(x, torch.full((12,), t), y) / (1 - ab) ** 0.5
    torch.testing.assert_close(-guided / (1 - ab) ** 0.5, score_c + w * grad_post)
    # mutant: guidance written as w ε(x, c) + (1 − w) ε(x, ∅) is a different field
    cond, uncond = model(x, torch.full((12,), t), y), model(x, torch.full((12,), t), y * 0 + 2)
    assert not torch.allclose(guided, w * cond + (1 - w) * uncond)
    # w = 0 is the conditional model; a per-row w works too
    torch.testing.assert_close(d.guided_eps(model, y, 0.0)(x, torch.full((12,), t)), cond)
    w_rows = torch.tensor([0.0, 2.0] * 6)
    per_row = d.guided_eps(model, y, w_rows)(x, torch.full((12,), t))
    torch.testing.assert_close(per_row[1::2], guided[1::2])
    torch.testing.assert_close(per_row[::2], cond[::2])
    with pytest.raises(ValueError):
        d.guided_eps(model, y, -1.0)


def test_drop_labels_and_the_conditional_denoiser():
    y = torch.randint(0, 10, (20_000,), generator=rng.generator(8))
    dropped = d.drop_labels(y, 0.1, 10, rng.generator(9))
    kept = dropped != 10
    assert abs((~kept).float().mean().item() - 0.1) < 0.01
    assert torch.equal(dropped[kept], y[kept])
    assert torch.equal(d.drop_labels(y, 0.0, 10), y)
    with pytest.raises(ValueError):
        d.drop_labels(torch.tensor([10]), 0.1, 10)  # the null token is not a real label
    with rng.seeded(0):
        net = d.ConditionalMLPDenoiser(64, 32, 2)
    nn.init.normal_(net.label.weight)
    x, t = torch.randn(4, 64), torch.full((4,), 10)
    a, b = net(x, t, torch.tensor([0, 1, 2, 10])), net(x, t, torch.tensor([3, 1, 2, 10]))
    assert a.shape == x.shape and not torch.allclose(a[0], b[0]) and torch.equal(a[1:], b[1:])
    with pytest.raises(ValueError):
        net(x, t, torch.tensor([0, 1, 2, 11]))
    ema = d.EMA(net).eval()
    torch.testing.assert_close(ema(x, t, torch.tensor([0, 1, 2, 10])), a)


def test_conditional_training_checkpoints_and_reloads(tmp_path):
    kw = {"steps": 3, "hidden": 16, "depth": 1, "checkpoint": tmp_path / "c.pt", "progress": False}
    model, _, hist = d.train_conditional_digits_denoiser(**kw)
    again, _, hist2 = d.train_conditional_digits_denoiser(**kw)
    assert len(hist2) == len(hist) == 3
    for p, q in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q)
    loss = d.conditional_l_simple(
        model.train(), d.make_schedule(), torch.zeros(4, 64), torch.tensor([0, 1, 2, 3])
    )
    loss.backward()
    assert model.net.label.weight.grad is not None
