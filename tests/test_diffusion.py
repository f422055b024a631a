"""Unit tests of edu_gen.models.diffusion (indexing convention: t = 1..T, alpha_bar[0] = 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from edu_gen.core import rng
from edu_gen.core.distributions import kl_normal
from edu_gen.core.train import fit
from edu_gen.data import digits
from edu_gen.models import diffusion as d
from edu_gen.models.diffusion import losses, process


@pytest.fixture
def lin() -> d.Schedule:
    return d.make_schedule("linear", 1000)


def test_schedule_boundaries(lin):
    assert len(lin.betas) == 1001 and lin.T == 1000
    assert lin.betas[0] == 0 and lin.alpha_bar[0] == 1
    assert math.isclose(lin.betas[1], 1e-4) and math.isclose(lin.betas[1000], 0.02)
    assert math.isclose(lin.alpha_bar[1], 1 - 1e-4)
    assert math.isclose(lin.alpha_bar[2], (1 - 1e-4) * (1 - lin.betas[2].item()))
    assert lin.alpha_bar[1000] < 1e-4
    quad = d.make_schedule("quadratic", 1000)
    assert math.isclose(quad.betas[1], 1e-4) and math.isclose(quad.betas[1000], 0.02)
    cos = d.make_schedule("cosine", 1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 500, 999):
        assert math.isclose(cos.alpha_bar[t], f(t) / f(0), rel_tol=1e-9)
    assert cos.betas[1000] == 0.999  # the cap is hit at the last step
    assert lin.posterior_variance[1] == 0 and lin.posterior_variance[2] > 0
    assert torch.all(torch.diff(lin.snr[1:]) < 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"kind": "sigmoid"}, "kind"), ({"T": 1}, "T"), ({"beta_start": 0.5}, "beta_start")],
)
def test_schedule_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        d.make_schedule(**kwargs)


def test_timesteps_validated(lin):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="1..1000"):
        d.q_sample(lin, x, torch.tensor([0, 1]), x)
    with pytest.raises(ValueError, match="1..1000"):
        d.q_sample(lin, x, 1001, x)
    with pytest.raises(ValueError, match="noise"):
        d.q_sample(lin, x, 1, torch.zeros(3, 2))


def test_closed_form_equals_iterated_noising(lin):
    g = rng.generator(0)
    n, t = 20000, 300
    x0 = torch.full((n, 1), 0.7, dtype=torch.float64)
    x = x0.clone()
    for s in range(1, t + 1):
        x = d.q_step(lin, x, s, torch.randn(x.shape, generator=g, dtype=torch.float64))
    direct = d.q_sample(lin, x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    ab = lin.alpha_bar[t].item()
    ks = scipy.stats.ks_2samp(x.squeeze().numpy(), direct.squeeze().numpy())
    assert ks.pvalue > 0.01
    assert abs(x.mean().item() - ab**0.5 * 0.7) < 0.03
    assert abs(x.var().item() - (1 - ab)) < 0.03


@pytest.mark.parametrize("t", [1, 2, 500, 1000])
def test_posterior_is_bayes_rule(lin, t):
    g = rng.generator(t)
    x0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    xt = torch.randn(5, 3, generator=g, dtype=torch.float64)
    mean, var = d.q_posterior(lin, x0, xt, t)
    ab_prev, a, b = lin.alpha_bar[t - 1], lin.alphas[t], lin.betas[t]
    if t == 1:  # x_0 is known exactly: the posterior is a point mass
        torch.testing.assert_close(mean, x0)
        assert var.abs().max() == 0
        return
    precision = 1 / (1 - ab_prev) + a / b
    want_mean = (ab_prev.sqrt() * x0 / (1 - ab_prev) + a.sqrt() * xt / b) / precision
    torch.testing.assert_close(mean, want_mean)
    torch.testing.assert_close(var.flatten()[0], 1 / precision)


def test_eps_x0_roundtrip_and_mean_identity(lin):
    g = rng.generator(1)
    x0, eps = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    t = torch.tensor([1, 2, 999, 1000])
    xt = d.q_sample(lin, x0, t, eps)
    torch.testing.assert_close(d.predict_x0_from_eps(lin, xt, t, eps), x0, atol=2e-3, rtol=0)
    torch.testing.assert_close(d.predict_eps_from_x0(lin, xt, t, x0), eps, atol=1e-4, rtol=0)
    out = d.p_mean_variance(lambda x, s: eps, lin, xt, t, "beta")
    a, b, ab = (lin.alphas[t], lin.betas[t], lin.alpha_bar[t])
    want = (xt - (b / (1 - ab).sqrt())[:, None].float() * eps) / a.sqrt()[:, None].float()
    torch.testing.assert_close(out.mean, want, atol=1e-4, rtol=0)
    torch.testing.assert_close(out.variance.flatten(), b.float())
    with pytest.raises(ValueError, match="var_type"):
        d.p_mean_variance(lambda x, s: eps, lin, xt, t, "learned")


def test_prior_term_is_tiny_for_linear_schedule(lin):
    x0 = torch.rand(8, 64, dtype=torch.float64) * 2 - 1
    bpd = d.prior_kl_bpd(lin, x0)
    ab = lin.alpha_bar[1000]
    q = torch.distributions.Normal(ab.sqrt() * x0, (1 - ab).sqrt())
    want = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(bpd, want / (64 * math.log(2)))
    assert bpd.max() < 5e-5  # Ho et al. (2020) report about 1e-5 bits/dim
    short = d.make_schedule("linear", 100)  # mutant check: too few steps leave a large L_T
    assert d.prior_kl_bpd(short, x0).min() > 100 * bpd.max()


def test_discretized_gaussian_matches_scipy_and_normalises():
    levels = 17
    grid = torch.linspace(-1, 1, levels, dtype=torch.float64)
    mean, log_scale = (
        torch.tensor(0.1, dtype=torch.float64),
        torch.tensor(-1.0, dtype=torch.float64),
    )
    ll = d.discretized_gaussian_log_likelihood(grid, mean, log_scale, levels)
    assert math.isclose(ll.exp().sum().item(), 1.0, abs_tol=1e-9)
    h, s = 1 / 16, math.exp(-1)
    edges = np.r_[-np.inf, grid[:-1].numpy() + h, np.inf]
    want = np.diff(scipy.stats.norm.cdf(edges, 0.1, s))
    np.testing.assert_allclose(ll.exp().numpy(), want, atol=1e-12)
    far = d.discretized_gaussian_log_likelihood(
        grid, torch.tensor(50.0, dtype=grid.dtype), log_scale, levels
    )
    assert torch.isfinite(far).all()  # floored, never -inf
    with pytest.raises(ValueError, match="x"):
        d.discretized_gaussian_log_likelihood(grid * 2, mean, log_scale, levels)


def test_kl_term_is_weighted_eps_error(lin):
    g = rng.generator(2)
    x0, eps = (
        torch.randn(3, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )
    eps_hat = torch.randn(3, 5, generator=g, dtype=torch.float64)
    t = torch.tensor([2, 40, 900])
    xt = d.q_sample(lin, x0, t, eps)
    mq, vq = d.q_posterior(lin, x0, xt, t)
    out = d.p_mean_variance(lambda x, s: eps_hat, lin, xt, t, "beta_tilde")
    kl = kl_normal(mq, vq.log().expand_as(mq), out.mean, out.variance.log().expand_as(mq))
    want = d.kl_weight(lin, t) * (eps - eps_hat).pow(2).sum(1)
    torch.testing.assert_close(kl, want, rtol=1e-6, atol=1e-9)


def test_vlb_terms_shapes_and_sign():
    sched = d.make_schedule("linear", 50, beta_end=0.2)
    x0 = (torch.randint(0, 17, (16, 4)) / 8.0 - 1).double()
    oracle = d.gaussian_eps(sched, torch.zeros(4, dtype=torch.float64), float(x0.var()))
    out = d.vlb_terms(oracle, sched, x0, levels=17, generator=rng.generator(0))
    assert out["terms"].shape == (50,)
    assert torch.isfinite(out["total"]) and (out["terms"][1:] >= -1e-9).all()
    worse = d.vlb_terms(
        lambda x, t: torch.zeros_like(x),
        sched,
        x0,
        levels=17,
        generator=rng.generator(0),
    )
    assert worse["total"] > out["total"]  # the Bayes-optimal ε scores a tighter bound


def test_l_simple_scalar_and_oracle_is_better(lin):
    x0 = torch.randn(256, 4, dtype=torch.float64) * 0.5
    oracle = d.gaussian_eps(lin, torch.zeros(4, dtype=torch.float64), 0.25)
    good = d.l_simple(oracle, lin, x0, rng.generator(0))
    bad = d.l_simple(lambda x, t: torch.zeros_like(x), lin, x0, rng.generator(0))
    assert good.dim() == 0 and good < 0.6 * bad


def test_ddim_timesteps_boundaries():
    assert d.ddim_timesteps(1000, 10) == list(range(1, 1000, 100))
    assert d.ddim_timesteps(1000, 1000) == list(range(1, 1001))
    quad = d.ddim_timesteps(1000, 50, "quadratic")
    assert quad[0] == 1 and quad[-1] <= 1000 and all(np.diff(quad) > 0) and len(quad) == 50
    with pytest.raises(ValueError, match="S"):
        d.ddim_timesteps(1000, 0)
    with pytest.raises(ValueError, match="spacing"):
        d.ddim_timesteps(1000, 10, "cubic")


def test_ddim_eta1_all_steps_is_ddpm():
    sched = d.make_schedule("linear", 200, beta_end=0.1)
    model = d.gaussian_eps(sched, torch.full((6,), 0.3, dtype=torch.float64), 0.2)
    kw = {"dtype": torch.float64}
    a = d.ddpm_sample(model, sched, (5, 6), generator=rng.generator(3), **kw)
    b = d.ddim_sample(model, sched, (5, 6), eta=1.0, generator=rng.generator(3), **kw)
    torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    c = d.ddim_sample(model, sched, (5, 6), eta=0.0, generator=rng.generator(3), **kw)
    assert (a - c).abs().max() > 0.05  # mutant: η = 0 is a different sampler


def test_ddim_inversion_reconstructs_better_with_more_steps():
    sched = d.make_schedule("linear", 1000)
    mean = torch.linspace(-0.5, 0.5, 8, dtype=torch.float64)
    model = d.gaussian_eps(sched, mean, 0.1)
    x0 = mean + 0.1**0.5 * torch.randn(64, 8, generator=rng.generator(0), dtype=torch.float64)
    errors = []
    for steps in (5, 20, 100):
        xT = d.ddim_invert(model, sched, x0, S=steps)  # noqa: N806
        rec = d.ddim_sample(model, sched, x0.shape, S=steps, eta=0.0, x_T=xT, dtype=torch.float64)
        errors.append((rec - x0).pow(2).mean().item())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.1 * errors[0]


def test_slerp():
    g = rng.generator(0)
    z0, z1 = torch.randn(3, 10, generator=g), torch.randn(3, 10, generator=g)
    torch.testing.assert_close(d.slerp(z0, z1, 0.0), z0, atol=1e-5, rtol=0)
    torch.testing.assert_close(d.slerp(z0, z1, 1.0), z1, atol=1e-5, rtol=0)
    e0, e1 = torch.eye(2)[:1], torch.eye(2)[1:]
    mid = d.slerp(e0, e1, 0.5)
    torch.testing.assert_close(mid.norm(), torch.tensor(1.0))  # lerp would give 0.707
    with pytest.raises(ValueError, match="z0, z1"):
        d.slerp(z0, z1[:2], 0.5)


def test_progressive_x0_is_recorded(lin):
    model = d.gaussian_eps(lin, torch.zeros(4), 0.3)
    rec = dict.fromkeys([1000, 500, 1])
    x = d.ddpm_sample(model, lin, (2, 4), generator=rng.generator(0), record=rec)
    assert set(rec) == {1000, 500, 1} and rec[1].shape == x.shape
    # recording changes nothing: the same generator gives the same sample without it
    torch.testing.assert_close(x, d.ddpm_sample(model, lin, (2, 4), generator=rng.generator(0)))
    with pytest.raises(TypeError, match="record: expected a dict"):
        d.ddpm_sample(model, lin, (2, 4), record=[1000, 1])


def test_models_shapes(device):
    t = torch.tensor([1, 1000], device=device)
    mlp = d.MLPDenoiser(64, 32, 2).to(device)
    assert mlp(torch.randn(2, 64, device=device), t).shape == (2, 64)
    assert mlp(torch.randn(2, 1, 8, 8, device=device), t).shape == (2, 1, 8, 8)
    unet = d.UNet(1, 16).to(device)
    assert unet(torch.randn(2, 1, 28, 28, device=device), t).shape == (2, 1, 28, 28)
    emb = d.sinusoidal_embedding(torch.tensor([1, 2]), 8)
    assert emb.shape == (2, 8) and not torch.allclose(emb[0], emb[1])
    with pytest.raises(ValueError, match="x"):
        mlp(torch.randn(2, 63, device=device), t)


def _digits_28(n: int) -> torch.Tensor:
    """``n`` signed digits upsampled to [n, 1, 28, 28] (the UNet's input size)."""
    x = digits("train", "signed", flatten=False)[0][:n]
    return torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear").clamp(-1, 1)


def test_unet_learns_l_simple_and_samples(device):
    """A small UNet on a tiny 28×28 batch: L_simple falls clearly, then DDIM runs end to end."""
    torch.manual_seed(0)
    sched = d.make_schedule("linear", 1000)
    x0 = _digits_28(8).to(device)
    unet = d.UNet(1, base=8, t_dim=32).to(device)

    def held_out_loss() -> float:  # the same t and ε before and after training
        with torch.no_grad():
            return d.l_simple(unet, sched, x0, torch.Generator(device).manual_seed(123)).item()

    before = held_out_loss()
    history = fit(
        unet,
        lambda net, batch: d.l_simple(net, sched, batch),
        [x0],
        steps=20,
        lr=3e-3,
        device=device,
        progress=False,
    )
    after = held_out_loss()
    assert len(history) == 20 and math.isfinite(after)
    # untrained ≈ 1.08, after 20 steps ≈ 0.19 on CPU (mutant: without the fit it stays 1.08)
    assert after < 0.5 * before, (before, after)
    unet.eval()
    for eta in (0.0, 0.5):
        x0_at = dict.fromkeys([901, 1])
        x = d.ddim_sample(
            unet,
            sched,
            (3, 1, 28, 28),
            S=10,
            eta=eta,
            record=x0_at,
            generator=torch.Generator(device).manual_seed(0),
            device=device,
        )
        assert x.shape == (3, 1, 28, 28) and torch.isfinite(x).all()
        assert set(x0_at) == {901, 1} and x0_at[1].shape == x.shape
        assert x0_at[901] is not None
    x_T = d.ddim_invert(unet, sched, x0[:3], S=10)  # noqa: N806
    assert x_T.shape == (3, 1, 28, 28) and torch.isfinite(x_T).all()


def test_train_digits_denoiser_checkpoint_reused(tmp_path):
    ckpt = tmp_path / "eps.pt"
    m1, sched, h1 = d.train_digits_denoiser(
        steps=3, hidden=16, depth=1, checkpoint=ckpt, progress=False
    )
    m2, _, h2 = d.train_digits_denoiser(
        steps=3, hidden=16, depth=1, checkpoint=ckpt, progress=False, seed=5
    )
    assert sched.T == 1000 and len(h1) == 3
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_denoiser_checkpoint_names_mode_size_and_seed(monkeypatch):
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    fast = d.digits_denoiser_checkpoint()
    monkeypatch.setenv("EDU_GEN_FAST", "0")
    full, full_seed2 = d.digits_denoiser_checkpoint(), d.digits_denoiser_checkpoint(2)
    assert len({fast, full, full_seed2}) == 3 and "h384x2_5000" in full
    assert d.digits_denoiser_kwargs() == {"steps": 5000, "hidden": 384, "depth": 2}


def test_process_rejects_non_tensor(lin):
    with pytest.raises(TypeError, match="x0"):
        process.q_sample(lin, [1.0], 1, torch.zeros(1))
    assert losses.LOG_PROB_FLOOR == 1e-12


# --- the bound estimated from strata of t (vlb_estimate), and the shared 28×28 U-Net trainer


def _bound_setup():
    sched = d.make_schedule("linear", 50, beta_end=0.2)
    x0 = (torch.randint(0, 17, (12, 4), generator=rng.generator(1)) / 8.0 - 1).double()
    oracle = d.gaussian_eps(sched, torch.zeros(4, dtype=torch.float64), float(x0.var()))
    return sched, x0, oracle


def test_bound_strata_cover_every_step_once():
    for T, n in ((1000, 40), (1000, 5), (50, 6), (50, 49), (50, 500), (2, 1)):
        edges = d.bound_strata(T, n)
        assert edges[0] == 2 and edges[-1] == T + 1
        assert (torch.diff(edges) >= 1).all() and len(edges) - 1 <= max(n, 1)
    assert torch.equal(d.bound_strata(50, 49), torch.arange(2, 52))  # one step each
    assert (torch.diff(d.bound_strata(1000, 40))[:3] == 1).all()  # geometric: small t alone
    for bad in ((1, 5), (1000, 0), (1000, 2.5)):
        with pytest.raises(ValueError):
            d.bound_strata(*bad)


def test_vlb_estimate_with_every_step_its_own_stratum_is_vlb_terms():
    sched, x0, oracle = _bound_setup()
    full = d.vlb_terms(oracle, sched, x0, levels=17, generator=rng.generator(5))
    est = d.vlb_estimate(oracle, sched, x0, strata=49, levels=17, generator=rng.generator(5))
    assert est["strata"].shape == (12, 49) and est["per_example"].shape == (12,)
    assert torch.equal(est["t"][0], torch.arange(2, 51))
    torch.testing.assert_close(est["strata"].mean(0), full["terms"][1:])
    torch.testing.assert_close(est["decoder"].mean(), full["terms"][0])
    torch.testing.assert_close(est["total"], full["total"])
    # batches of 5 give the same estimate (other draws, the same expectation is not the
    # point here: the split must not drop or repeat an example)
    split = d.vlb_estimate(oracle, sched, x0, strata=49, levels=17, batch_size=5)
    assert split["per_example"].shape == (12,) and torch.isfinite(split["total"])


def test_vlb_estimate_is_unbiased_and_its_stderr_is_honest():
    sched, x0, oracle = _bound_setup()
    exact = torch.stack(
        [
            d.vlb_terms(oracle, sched, x0, levels=17, generator=rng.generator(100 + i))["total"]
            for i in range(40)
        ]
    )
    est = [
        d.vlb_estimate(oracle, sched, x0, strata=6, levels=17, generator=rng.generator(i))
        for i in range(200)
    ]
    totals = torch.stack([e["total"] for e in est])
    edges = est[0]["edges"]
    assert len(edges) - 1 <= 6
    for e in est[:20]:  # every drawn step lies in its stratum
        assert ((e["t"] >= edges[:-1]) & (e["t"] < edges[1:])).all()
        assert (e["strata"] >= -1e-9).all() and (e["prior"] >= 0).all()
    se = (totals.var() / len(totals) + exact.var() / len(exact)).sqrt()
    assert abs(totals.mean() - exact.mean()) < 4 * se
    # the reported standard error matches the spread of the estimate over repeats
    reported = torch.stack([e["stderr"] for e in est]).mean()
    assert 0.7 < reported / totals.std() < 1.4


def test_vlb_estimate_rejects_bad_input():
    sched, x0, oracle = _bound_setup()
    with pytest.raises(ValueError, match="strata"):
        d.vlb_estimate(oracle, sched, x0, strata=0)
    with pytest.raises(ValueError, match="var_type"):
        d.vlb_estimate(oracle, sched, x0, strata=4, var_type="learned")
    with pytest.raises(ValueError, match="batch_size"):
        d.vlb_estimate(oracle, sched, x0, strata=4, batch_size=0)
    with pytest.raises(ValueError, match="x0"):
        d.vlb_estimate(oracle, sched, torch.zeros(0, 4), strata=4)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        d.vlb_estimate(oracle, sched, 3 * x0, strata=4)


def test_train_unet_denoiser_follows_chapter_09s_recipe(tmp_path):
    """Chapter 08 trains the 28×28 U-Net with this function and chapter 09 inline; with the
    same settings both must give the same weights, so they can share one checkpoint."""
    from edu_gen.data import image_loader

    kw = {"steps": 3, "base": 8, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.9}
    model, sched, history = d.train_unet_denoiser(
        "mnist_subset", **kw, device="cpu", progress=False, checkpoint=tmp_path / "a.pt"
    )
    assert not model.training and len(history) == 3

    rng.seed_everything(0)  # chapter 09's cell, written out
    unet = d.EMA(d.UNet(channels=1, base=8), 0.9)

    def unet_loss(net, batch):
        net.update()
        return d.l_simple(net, sched, batch[0])

    fit(
        unet,
        unet_loss,
        image_loader("mnist_subset", "train", "signed", batch_size=4, flatten=False),
        steps=3,
        lr=1e-3,
        device="cpu",
        checkpoint=tmp_path / "b.pt",
        progress=False,
    )
    for (name, a), b in zip(model.state_dict().items(), unet.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    # a finished checkpoint is loaded, not trained again
    again, _, _ = d.train_unet_denoiser(
        "mnist_subset", **kw, device="cpu", progress=False, checkpoint=tmp_path / "b.pt"
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(again.state_dict().values(), unet.state_dict().values(), strict=True)
    )


def test_train_unet_denoiser_rejects_bad_settings():
    for bad in ({"base": 12}, {"steps": 0}, {"lr": 0.0}, {"batch_size": 0}, {"ema_decay": 1.0}):
        with pytest.raises(ValueError):
            d.train_unet_denoiser("mnist_subset", **{"steps": 1, **bad}, progress=False)
    with pytest.raises(ValueError, match="name"):
        d.train_unet_denoiser("cifar", steps=1, progress=False)
