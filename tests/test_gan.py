"""Tests for edu_gen.models.gan (chapter 07): losses, optimal discriminator, JSD, WGAN-GP, PacGAN.

Oracles: torch's binary cross-entropy for the minimax value, SciPy's ``jensenshannon`` for
the JSD, a hand-written per-sample loop for the gradient penalty, and the closed-form
identity V(G, D*) = 2 JSD - log 4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from edu_gen.core.nn import mlp
from edu_gen.core.train import fit
from edu_gen.models import gan
from edu_gen.models.likelihood import grid, kl_divergence


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def densities(mu_g: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, float]:
    x, dx = grid(-8.0, 10.0, 4000)
    p_data = torch.from_numpy(
        0.5 * norm.pdf(x.numpy(), -1, 0.5) + 0.5 * norm.pdf(x.numpy(), 1, 0.7)
    )
    p_g = torch.from_numpy(norm.pdf(x.numpy(), mu_g, 1.0))
    return p_data, p_g, dx


# ------------------------------------------------------------------ losses
def test_minimax_value_is_minus_bce():
    g = gen(0)
    a_real, a_fake = 3 * torch.randn(50, generator=g), 3 * torch.randn(70, generator=g)
    bce = F.binary_cross_entropy_with_logits
    want = -(bce(a_real, torch.ones(50)) + bce(a_fake, torch.zeros(70)))
    torch.testing.assert_close(gan.minimax_value(a_real, a_fake), want)
    torch.testing.assert_close(gan.discriminator_loss(a_real, a_fake), -want)


def test_generator_losses_and_their_gradients():
    a = torch.tensor([-12.0, 0.0, 5.0], requires_grad=True)
    sat = gan.generator_loss_saturating(a)
    torch.testing.assert_close(sat, torch.log(1 - torch.sigmoid(a)).mean())
    (g_sat,) = torch.autograd.grad(sat, a)
    nonsat = gan.generator_loss_nonsaturating(a)
    torch.testing.assert_close(nonsat, -torch.log(torch.sigmoid(a)).mean())
    (g_ns,) = torch.autograd.grad(nonsat, a)
    # a confidently rejected sample (logit -12): the saturating gradient vanishes, the other not
    assert abs(g_sat[0]) < 1e-5 < 0.3 < abs(g_ns[0])


def test_logit_losses_stay_finite_for_huge_logits():
    a = torch.tensor([-1e4, 1e4])
    for value in (gan.minimax_value(a, a), gan.generator_loss_nonsaturating(a)):
        assert torch.isfinite(value)


def test_wasserstein_losses():
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert gan.critic_loss_wasserstein(r, f).item() == pytest.approx(-1.5)
    assert gan.generator_loss_wasserstein(f).item() == pytest.approx(-0.5)


def test_mismatched_real_fake_shapes_raise():
    with pytest.raises(ValueError, match="real_logits, fake_logits"):
        gan.minimax_value(torch.zeros(4, 1), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="fake_logits"):
        gan.generator_loss_nonsaturating([0.0])


# ------------------------------------------------------------------ densities
def test_optimal_discriminator_maximises_the_value():
    p_data, p_g, dx = densities()
    d_star = gan.optimal_discriminator(p_data, p_g)
    best = gan.value_on_grid(p_data, p_g, d_star, dx)
    g = gen(1)
    for _ in range(5):  # any perturbation of D* lowers V
        d = (d_star + 0.05 * torch.randn(d_star.shape, generator=g, dtype=d_star.dtype)).clamp(
            1e-6, 1 - 1e-6
        )
        assert gan.value_on_grid(p_data, p_g, d, dx) < best


def test_optimal_discriminator_where_both_densities_vanish():
    d = gan.optimal_discriminator(torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 2.0]))
    assert d.tolist() == [0.5, 1.0, 0.0]
    with pytest.raises(ValueError, match="p_g"):
        gan.optimal_discriminator(torch.ones(3), -torch.ones(3))
    with pytest.raises(ValueError, match="same grid"):
        gan.optimal_discriminator(torch.ones(3), torch.ones(4))


def test_jsd_matches_scipy():
    p_data, p_g, dx = densities()
    want = jensenshannon(p_data.numpy(), p_g.numpy()) ** 2  # scipy returns the distance
    assert gan.jsd(p_data, p_g, dx).item() == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("mu_g", [-2.0, 0.0, 1.0, 4.0])
def test_value_at_optimal_d_is_two_jsd_minus_log4(mu_g):
    p_data, p_g, dx = densities(mu_g)
    v = gan.value_on_grid(p_data, p_g, gan.optimal_discriminator(p_data, p_g), dx)
    assert v.item() == pytest.approx(2 * gan.jsd(p_data, p_g, dx).item() - math.log(4), abs=1e-6)


def test_jsd_bounds():
    p_data, _, dx = densities()
    assert gan.jsd(p_data, p_data, dx).item() == pytest.approx(0.0, abs=1e-12)
    x, dx = grid(-5.0, 25.0, 3000)
    far = torch.from_numpy(norm.pdf(x.numpy(), 20, 0.5))
    near = torch.from_numpy(norm.pdf(x.numpy(), 0, 0.5))
    assert gan.jsd(near, far, dx).item() == pytest.approx(math.log(2), abs=1e-9)


# ------------------------------------------------------------------ WGAN-GP and packing
def _loop_penalty(critic, real, fake, eps, pac):
    terms = []
    for i in range(real.shape[0] // pac):
        sl = slice(i * pac, (i + 1) * pac)
        x_hat = (eps[i] * real[sl] + (1 - eps[i]) * fake[sl]).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
        terms.append((grad.norm() - 1) ** 2)
    return 10 * torch.stack(terms).mean()


@pytest.mark.parametrize("shape, pac", [((6, 3), 1), ((6, 3), 3), ((4, 1, 2, 2), 1)])
def test_gradient_penalty_matches_a_loop(shape, pac):
    torch.manual_seed(0)
    width = int(np.prod(shape[1:])) * pac
    net = torch.nn.Sequential(torch.nn.Linear(width, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def critic(x):
        return net(gan.pack(x.reshape(x.shape[0], -1), pac)).squeeze(-1)

    real, fake = torch.randn(shape, generator=gen(2)), torch.randn(shape, generator=gen(3))
    got = gan.gradient_penalty(critic, real, fake, pac=pac, generator=gen(7))
    eps = torch.rand(shape[0] // pac, 1, generator=gen(7)).reshape(-1)
    torch.testing.assert_close(got, _loop_penalty(critic, real, fake, eps, pac))
    got.backward()  # create_graph=True: the penalty trains the critic
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_is_zero_for_a_unit_slope_linear_critic():
    w = torch.tensor([0.6, 0.8])  # |w| = 1 → |∇f| = 1 everywhere
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    gp = gan.gradient_penalty(lambda x: x @ w, real, fake)
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    gp2 = gan.gradient_penalty(lambda x: 2 * x @ w, real, fake, weight=3.0)
    assert gp2.item() == pytest.approx(3.0, abs=1e-5)


def test_gradient_penalty_bad_input():
    f = lambda x: x.sum(1)  # noqa: E731
    with pytest.raises(ValueError, match="real, fake"):
        gan.gradient_penalty(f, torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="pac=3"):
        gan.gradient_penalty(f, torch.zeros(4, 2), torch.zeros(4, 2), pac=3)
    with pytest.raises(ValueError, match="weight"):
        gan.gradient_penalty(f, torch.zeros(4, 2), torch.zeros(4, 2), weight=-1.0)


def test_pack_groups_consecutive_rows():
    x = torch.arange(12.0).reshape(6, 2)
    packed = gan.pack(x, 3)
    assert packed.shape == (2, 6)
    assert packed[0].tolist() == [0, 1, 2, 3, 4, 5] and packed[1].tolist() == list(range(6, 12))
    assert gan.pack(torch.zeros(4, 1, 2, 2), 2).shape == (2, 8)
    with pytest.raises(ValueError, match="not a multiple of pac=4"):
        gan.pack(x, 4)
    with pytest.raises(ValueError, match="pac"):
        gan.pack(x, 0)
    with pytest.raises(ValueError, match="x: expected"):
        gan.pack(torch.zeros(6), 2)


# ------------------------------------------------------------------ ring and mode counting
def test_ring_and_mode_counting():
    centres = gan.ring_centres(8, 2.0)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    data = gan.sample_ring(4000, std=0.05, generator=gen(0))
    assert gan.count_modes(data, centres, 0.3) == 8
    counts = gan.mode_counts(data, centres, 0.3)
    assert counts.sum() == 4000 and counts.min() > 400
    collapsed = centres[3] + 0.05 * torch.randn(1000, 2, generator=gen(1))
    assert gan.count_modes(collapsed, centres, 0.3) == 1
    assert gan.count_modes(torch.zeros(100, 2), centres, 0.3) == 0  # the centre is off-ring


# ------------------------------------------------------------------ players and turns
def _params(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize("loss", gan.GAN_LOSSES)
def test_each_player_moves_only_its_network(device, loss):
    torch.manual_seed(0)
    model = gan.GAN(2, hidden=(16,), pac=2).to(device)
    players = gan.gan_players(model, loss, lr=1e-2)
    assert list(players) == ["critic", "generator"]
    x = gan.sample_ring(8).to(device)
    for name, moves, stays, flag in (
        ("critic", model.discriminator, model.generator, 0.0),
        ("generator", model.generator, model.discriminator, 1.0),
    ):
        mine, other = _params(moves), _params(stays)
        record = players[name].update(model, (x,))
        assert record["generator_step"] == flag and math.isfinite(record["loss"])
        assert _changed(mine, moves) and not _changed(other, stays), name
    # each optimiser holds exactly its network's parameters
    assert players["critic"].parameters() == list(model.discriminator.parameters())
    assert players["generator"].parameters() == list(model.generator.parameters())


def test_two_players_equal_one_adam_alternating_by_step():
    """Two Adams (one per network) step exactly like one Adam over all parameters, where the
    network that sits out a turn has no gradient — the loop chapter 07 used before players.
    """
    data = [gan.sample_ring(16, generator=gen(i)) for i in range(5)]  # 5 batches: odd
    torch.manual_seed(3)
    model = gan.GAN(2, hidden=(8,), pac=2)
    twin = gan.GAN(2, hidden=(8,), pac=2)
    twin.load_state_dict(model.state_dict())
    torch.manual_seed(4)
    fit(model, gan.gan_players(model, "wgan-gp", lr=1e-2, critic_lr=3e-3), gan.gan_turns(data, 2),
        steps=17, device="cpu", progress=False)  # fmt: skip
    torch.manual_seed(4)
    adam = torch.optim.Adam(
        [
            {"params": twin.generator.parameters(), "lr": 1e-2},
            {"params": twin.discriminator.parameters(), "lr": 3e-3},
        ],
        betas=(0.5, 0.9),
    )
    critic, generator = gan.critic_objective("wgan-gp"), gan.generator_objective("wgan-gp")
    for step in range(17):  # the turn follows the global step, across passes over the data
        adam.zero_grad(set_to_none=True)
        loss_fn = generator if step % 3 == 2 else critic
        loss_fn(twin, data[step % 5])["loss"].backward()
        adam.step()
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_gan_turns_cycle_across_passes():
    turns = gan.gan_turns(["a", "b", "c", "d", "e"], n_critic=2)
    items = list(turns)
    assert len(turns) == len(items) == 15  # 3 passes: a cycle of 3 fits 5 batches 3 times
    assert [t.player for t in items[:6]] == ["critic", "critic", "generator"] * 2
    assert [t.batch for t in items[:7]] == ["a", "b", "c", "d", "e", "a", "b"]
    assert [t.player for t in items[3::3]] == ["critic"] * 4  # never restarts mid-cycle
    assert list(turns) == items  # re-iterable
    assert len(gan.gan_turns(["a", "b"], n_critic=1)) == 2  # one pass when it fits
    with pytest.raises(ValueError, match="n_critic"):
        gan.gan_turns(["a"], n_critic=0)


def test_fit_trains_a_gan_towards_a_1d_gaussian():
    torch.manual_seed(0)
    data = [(3 + 0.5 * torch.randn(64, 1, generator=gen(i)),) for i in range(50)]
    model = gan.GAN(1, latent_dim=1, hidden=(32, 32))
    history = fit(model, gan.gan_players(model, lr=2e-3), gan.gan_turns(data), steps=1200,
                  progress=False, device="cpu")  # fmt: skip
    assert history["player"][:4].tolist() == ["critic", "generator"] * 2
    assert history["generator_step"][:4].tolist() == [0.0, 1.0] * 2
    with torch.no_grad():
        s = model.sample(2000, generator=gen(5))
    assert abs(s.mean().item() - 3) < 0.3 and 0.2 < s.std().item() < 1.0


def test_mlp_is_the_core_mlp_in_the_in_out_hidden_form():
    torch.manual_seed(0)
    net = gan.mlp(3, 1, hidden=(5, 4), activation="relu")
    torch.manual_seed(0)
    ref = mlp([3, 5, 4, 1], "relu")
    assert str(net) == str(ref)
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)
    assert isinstance(gan.mlp(2, 1, hidden=(4,))[1], torch.nn.LeakyReLU)  # the default


def test_jsd_gradient_is_finite_where_densities_underflow():
    x, dx = grid(-4.0, 12.0, 4000)
    theta = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
    p = torch.exp(-0.5 * (x / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))
    q = torch.exp(-0.5 * ((x - theta) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))
    assert bool((q == 0).any())  # exact zeros far in the tails
    (grad,) = torch.autograd.grad(gan.jsd(p, q, dx), theta, retain_graph=True)
    assert torch.isfinite(grad) and abs(grad.item()) < 1e-12  # disjoint: no gradient
    m = 0.5 * (p + q)  # the same sum without the masks: d/dq of q log q is 0/0 at q = 0
    naive = 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)
    assert naive.item() == pytest.approx(gan.jsd(p, q, dx).item(), rel=1e-12)
    assert torch.isnan(torch.autograd.grad(naive, theta)[0])


def _gaussians(x: torch.Tensor, theta: torch.Tensor, std: float = 0.3):
    """N(0, std²) and N(theta, std²) on the grid x, computed in x's dtype."""
    c = 1.0 / (std * math.sqrt(2 * math.pi))
    return c * torch.exp(-0.5 * (x / std) ** 2), c * torch.exp(-0.5 * ((x - theta) / std) ** 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_jsd_is_finite_and_accurate_where_densities_are_subnormal(dtype):
    """Regression: m = (p + q)/2 rounds to 0 where p is the smallest subnormal and q = 0."""
    tiny_sub = torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps  # smallest subnormal
    x, dx = grid(-4.0, 4.0, 800)
    x = x.to(dtype)
    theta = torch.tensor(0.1, dtype=dtype, requires_grad=True)
    p, q = _gaussians(x, theta)
    # one extra cell far in the tail: p is the smallest subnormal, q has underflowed to 0
    p = torch.cat([p, torch.full((1,), tiny_sub, dtype=dtype)])
    q = torch.cat([q, torch.zeros(1, dtype=dtype)])
    assert bool(((p > 0) & (p < torch.finfo(dtype).smallest_normal)).any())
    assert (0.5 * (p + q))[-1] == 0  # the old formula's m: 0 where p > 0

    value = gan.jsd(p, q, dx)
    (grad,) = torch.autograd.grad(value, theta)
    assert torch.isfinite(value) and torch.isfinite(grad)

    # reference: the same grid in float64 from exact log-densities (no underflow anywhere)
    x64 = x.double()
    theta64 = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    log_c = -math.log(0.3 * math.sqrt(2 * math.pi))
    log_p = torch.cat([log_c - 0.5 * (x64 / 0.3) ** 2, torch.full((1,), math.log(tiny_sub))])
    log_q = torch.cat([log_c - 0.5 * ((x64 - theta64) / 0.3) ** 2, torch.full((1,), -math.inf)])
    ref = gan.jsd(log_p, log_q, dx, log_densities=True)
    (ref_grad,) = torch.autograd.grad(ref, theta64)
    rel = 1e-5 if dtype == torch.float32 else 1e-10
    assert value.item() == pytest.approx(ref.item(), rel=rel)
    assert grad.item() == pytest.approx(ref_grad.item(), rel=10 * rel)
    # and the textbook check: 0 < JSD < log 2, 0 for identical inputs
    assert 0 < value.item() < math.log(2)
    assert gan.jsd(p, p.detach(), dx).item() == pytest.approx(0.0, abs=1e-7)


def test_jsd_from_log_densities_covers_underflowed_tails():
    x, dx = grid(-4.0, 12.0, 4000)
    log_c = -math.log(0.3 * math.sqrt(2 * math.pi))
    for theta in (0.0, 0.05, 0.5, 3.0):
        p, q = _gaussians(x, torch.tensor(theta, dtype=torch.float64))
        log_p, log_q = log_c - 0.5 * (x / 0.3) ** 2, log_c - 0.5 * ((x - theta) / 0.3) ** 2
        assert bool((p == 0).any())  # the density underflows in the far tail, the log does not
        from_logs = gan.jsd(log_p, log_q, dx, log_densities=True)
        assert from_logs.item() == pytest.approx(gan.jsd(p, q, dx).item(), abs=1e-12)
    with pytest.raises(ValueError, match="log_q: expected log-densities"):
        gan.jsd(torch.zeros(3), torch.tensor([0.0, math.nan, 0.0]), log_densities=True)
    with pytest.raises(ValueError, match="same grid"):
        gan.jsd(torch.zeros(3), torch.zeros(4), log_densities=True)


# ------------------------------------------------------------------ several GANs in lockstep
def _stacked_and_separate(pac: int = 1, n_models: int = 3):
    """A stacked GAN and ``n_models`` plain GANs holding exactly the same weights."""
    torch.manual_seed(0)
    stacked = gan.GAN(2, latent_dim=3, hidden=(8, 8), pac=pac, n_models=n_models).double()
    separate = [gan.GAN(2, latent_dim=3, hidden=(8, 8), pac=pac).double() for _ in range(n_models)]
    with torch.no_grad():
        for name, param in stacked.named_parameters():
            for s, single in enumerate(separate):
                target = dict(single.named_parameters())[name]
                value = param[s] if name.endswith("weight") else param[s, 0]
                target.copy_(value.T if name.endswith("weight") else value)
    return stacked, separate


def test_stacked_linear_matches_one_linear_per_model():
    torch.manual_seed(0)
    layer = gan.StackedLinear(3, 4, 5).double()
    x = torch.randn(3, 7, 4, dtype=torch.float64)
    for s in range(3):
        want = F.linear(x[s], layer.weight[s].T, layer.bias[s, 0])
        torch.testing.assert_close(layer(x)[s], want)
    with pytest.raises(ValueError, match=r"x: expected shape \[3, batch, 4\]"):
        layer(torch.zeros(2, 7, 4))


@pytest.mark.parametrize("pac", [1, 2])
def test_stacked_gan_is_several_independent_gans(pac):
    stacked, separate = _stacked_and_separate(pac)
    z = torch.randn(3 * 4, 3, generator=gen(0), dtype=torch.float64)
    x = torch.randn(3 * 4, 2, generator=gen(1), dtype=torch.float64)
    fake, scores = stacked.generate(z), stacked.critic(x)
    for s, single in enumerate(separate):
        rows = slice(4 * s, 4 * (s + 1))
        torch.testing.assert_close(fake[rows], single.generate(z[rows]))
        torch.testing.assert_close(
            scores[rows.start // pac : rows.stop // pac], single.critic(x[rows])
        )
    # the gradient penalty of the stacked critic is the mean of the separate penalties
    eps = torch.rand(3 * 4 // pac, generator=gen(2), dtype=torch.float64)
    got = gan.gradient_penalty(stacked.critic, x, fake, pac=pac, eps=eps)
    per_model = [
        gan.gradient_penalty(
            single.critic,
            x[4 * s : 4 * (s + 1)],
            fake[4 * s : 4 * (s + 1)],
            pac=pac,
            eps=eps[4 * s // pac : 4 * (s + 1) // pac],
        )
        for s, single in enumerate(separate)
    ]
    torch.testing.assert_close(got, torch.stack(per_model).mean())
    # mutation check: reading the rows in the wrong order (interleaved models) would be caught
    wrong = stacked.discriminator(gan.pack(x, pac).reshape(-1, 3, 2 * pac).transpose(0, 1))
    assert not torch.allclose(wrong.reshape(-1), scores)


def test_stacked_gan_gradients_are_per_model():
    stacked, separate = _stacked_and_separate()
    x = torch.randn(12, 2, generator=gen(3), dtype=torch.float64)
    z = torch.randn(12, 3, generator=gen(4), dtype=torch.float64)
    loss = gan.discriminator_loss(stacked.critic(x), stacked.critic(stacked.generate(z)))
    loss.backward()
    w = stacked.discriminator[0].weight.grad
    for s, single in enumerate(separate):
        rows = slice(4 * s, 4 * (s + 1))
        part = gan.discriminator_loss(
            single.critic(x[rows]), single.critic(single.generate(z[rows]))
        )
        part.backward()
        # the stacked loss is the mean over models, so each model's gradient is scaled by 1/3
        torch.testing.assert_close(w[s], single.discriminator[0].weight.grad.T / 3)


def test_stacked_gan_bad_input():
    model = gan.GAN(2, hidden=(4,), pac=2, n_models=3)
    with pytest.raises(ValueError, match="n_models=3"):
        model.critic(torch.zeros(8, 2))  # 4 packs cannot be split among 3 models
    with pytest.raises(ValueError, match="n_models"):
        gan.GAN(2, n_models=0)
    with pytest.raises(ValueError, match="activation"):
        gan.mlp(2, 1, activation="swish")
    with pytest.raises(ValueError, match=r"z: expected shape \[batch, 2\]"):
        model.generate(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="pac \\* n_models = 6"):
        gan.critic_objective()(model, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="pac \\* n_models = 6"):
        gan.generator_objective()(model, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="loss"):
        gan.gan_players(model, "hinge")
    with pytest.raises(TypeError, match="gan.GAN"):
        gan.gan_players(torch.nn.Linear(2, 2))


def test_fit_trains_stacked_gans(device):
    """Three GANs in lockstep each learn the 1-D Gaussian (two players over stacked weights)."""
    torch.manual_seed(0)
    data = [(3 + 0.5 * torch.randn(3 * 64, 1, generator=gen(i)),) for i in range(50)]
    model = gan.GAN(1, latent_dim=1, hidden=(32, 32), n_models=3)
    fit(model, gan.gan_players(model, lr=2e-3), gan.gan_turns(data), steps=800, progress=False,
        device=device)  # fmt: skip
    with torch.no_grad():
        s = model.sample(2000, generator=gen(5)).cpu().reshape(3, 2000)
    # each model moved from its initial mean (about 0) to the data's 3, with a sensible spread
    assert torch.all((s.mean(1) - 3).abs() < 0.5) and torch.all((s.std(1) > 0.1) & (s.std(1) < 1.5))
