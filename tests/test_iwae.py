"""Tests for edu_gen.models.iwae (chapter 05): importance/rejection sampling and the IWAE bound.

Oracles: scipy.stats (tail probabilities, KS tests), torch.distributions (the densities
inside the log-weights), float64 brute force (log of the mean of the weights), and
quadrature of log p(x) on a model with a 1-D latent, against which the bounds L_k must
increase with k and converge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from torch.distributions import Bernoulli, Cauchy, Normal

from edu_gen.core.rng import generator as gen
from edu_gen.core.train import fit
from edu_gen.data import digits, digits_loader
from edu_gen.models import iwae, vae

# ------------------------------------------------------------ importance sampling


def test_tail_probability_matches_scipy_and_a_shifted_proposal_has_lower_error():
    exact = st.norm.sf(1.0)
    plain, plain_se = iwae.tail_probability(50_000, 1.0, 0.0, gen(0))
    shifted, shifted_se = iwae.tail_probability(50_000, 1.0, 1.5, gen(1))
    assert abs(plain.item() - exact) < 4 * plain_se.item()
    assert abs(shifted.item() - exact) < 4 * shifted_se.item()
    assert shifted_se < 0.6 * plain_se


def test_rare_event_needs_the_shifted_proposal():
    exact = st.norm.sf(4.5)  # 3.4e-6: 50k plain draws see it about 0.2 times
    shifted, se = iwae.tail_probability(50_000, 4.5, 4.5, gen(2))
    assert shifted.item() == pytest.approx(exact, rel=0.05)
    assert se.item() < 0.02 * exact


def test_importance_estimate_bites_without_the_weights():
    """Mutation: averaging f under q without p/q estimates the wrong probability."""
    z = 1.5 + torch.randn(50_000, generator=gen(3), dtype=torch.float64)
    f = (z > 1).double()
    log_p, log_q = Normal(0.0, 1.0).log_prob(z), Normal(1.5, 1.0).log_prob(z)
    est, se = iwae.importance_estimate(f, log_p, log_q)
    assert abs(est.item() - st.norm.sf(1.0)) < 4 * se.item()
    assert abs(f.mean().item() - st.norm.sf(1.0)) > 100 * se.item()


def test_rejection_sampling_draws_the_target_at_rate_one_over_m():
    # target N(0, 1), proposal Cauchy(0, 1): sup p/q = sqrt(2 pi / e) at z = ±1
    log_m = 0.5 * math.log(2 * math.pi) - 0.5
    cauchy = Cauchy(0.0, 1.0)
    torch.manual_seed(0)
    kept, rate = iwae.rejection_sample(
        Normal(0.0, 1.0).log_prob,
        lambda n: cauchy.sample((n,)).double(),
        cauchy.log_prob,
        log_m,
        40_000,
        gen(4),
    )
    m = math.exp(log_m)
    assert abs(rate - 1 / m) < 4 * math.sqrt(rate * (1 - rate) / 40_000)
    assert len(kept) == pytest.approx(rate * 40_000)
    assert st.kstest(kept.numpy(), st.norm.cdf).pvalue > 1e-3


def test_rejection_sampling_refuses_a_too_small_envelope():
    cauchy = Cauchy(0.0, 1.0)
    with pytest.raises(ValueError, match="log_m"):
        iwae.rejection_sample(
            Normal(0.0, 1.0).log_prob,
            lambda n: cauchy.sample((n,)).double(),
            cauchy.log_prob,
            0.0,  # M = 1 < 1.52
            10_000,
        )


def test_effective_sample_size():
    k = 10
    torch.testing.assert_close(iwae.effective_sample_size(torch.zeros(k)), torch.tensor(10.0))
    dominated = torch.tensor([0.0] + [-1000.0] * (k - 1))
    assert iwae.effective_sample_size(dominated).item() == pytest.approx(1.0)
    w = np.random.default_rng(0).exponential(size=k)
    got = iwae.effective_sample_size(torch.tensor(np.log(w)))
    assert got.item() == pytest.approx(w.sum() ** 2 / (w**2).sum())


# --------------------------------------------------------------------------- bounds


def test_iwae_bound_equals_the_log_mean_weight_and_is_stable():
    log_w = torch.randn(7, 4, generator=gen(5), dtype=torch.float64) * 3
    brute = torch.log(torch.exp(log_w).mean(0))
    torch.testing.assert_close(iwae.iwae_bound(log_w), brute)
    torch.testing.assert_close(iwae.iwae_bound(log_w[:1]), log_w[0])  # k = 1: log w
    shifted = log_w - 1000.0  # every exp underflows to 0 ...
    assert torch.all(torch.isinf(torch.log(torch.exp(shifted).mean(0))))
    torch.testing.assert_close(iwae.iwae_bound(shifted), brute - 1000.0)  # ... not here
    torch.testing.assert_close(iwae.iwae_bound(log_w.T, dim=1), brute)


def test_log_importance_weights_match_torch_distributions(device):
    torch.manual_seed(0)
    model = vae.make_vae(12, 3, (16,)).to(device)
    x = (torch.rand(5, 12, generator=gen(6)) > 0.5).float().to(device)
    eps = torch.randn(4, 5, 3, generator=gen(7)).to(device)
    got = iwae.log_importance_weights(model, x, 4, eps)
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * eps
    oracle = (
        Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1)
        + Normal(0.0, 1.0).log_prob(z).sum(-1)
        - Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    )
    assert got.shape == (4, 5)
    torch.testing.assert_close(got, oracle)
    # iwae_loss with k = 1 is minus the Monte Carlo ELBO
    torch.manual_seed(1)
    loss = iwae.iwae_loss(model, (x, None), 1)["loss"]
    torch.manual_seed(1)
    torch.testing.assert_close(loss, -iwae.log_importance_weights(model, x, 1).mean())


def _tiny_model() -> vae.VAE:
    torch.manual_seed(0)
    model = vae.make_vae(3, 1, (8,)).double()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3)
        model.encoder.mu.bias.add_(1.0)
        # q wider than the prior: the weights p(x,z)/q(z) stay bounded (finite variance)
        model.encoder.logvar.weight.zero_()
        model.encoder.logvar.bias.fill_(0.5)
    return model


def _log_px_by_quadrature(model, x):
    z = torch.linspace(-10, 10, 20_001, dtype=torch.float64)[:, None]
    log_joint = model.decoder.log_prob(x[:, None, :], z[None]) + Normal(0.0, 1.0).log_prob(z[:, 0])
    return torch.logsumexp(log_joint, 1) + math.log((z[1] - z[0]).item())


def test_bounds_increase_with_k_and_converge_to_log_px():
    model = _tiny_model()
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    torch.manual_seed(2)
    log_w = iwae.sample_log_weights(model, x, 50_000, chunk=10_000)
    log_px = _log_px_by_quadrature(model, x)
    ks = (1, 5, 50, 50_000)
    per_example = {k: iwae.bounds_by_k(log_w, [k])[k] for k in ks}
    for small, large in zip(ks, ks[1:], strict=False):
        assert torch.all(per_example[small] < per_example[large]), (small, large)
    w = torch.exp(log_w - log_w.max(0).values)
    se = (w.std(0) / w.mean(0) / math.sqrt(len(w))).max().item()  # SE of log(mean w)
    torch.testing.assert_close(per_example[50_000], log_px, atol=4 * se, rtol=0)
    assert torch.all(per_example[50] < log_px)
    # L_1 is the ELBO: the closed-form-KL ELBO agrees with it on average
    torch.manual_seed(3)
    with torch.no_grad():
        elbo = vae.elbo(model, x.repeat(50_000, 1))["elbo"].reshape(50_000, 2)
    se = torch.sqrt(log_w.var(0) / len(log_w) + elbo.var(0) / len(elbo))
    assert torch.all((per_example[1] - elbo.mean(0)).abs() < 4 * se)


def test_bounds_by_k_groups_the_samples():
    log_w = torch.randn(12, 3, generator=gen(8), dtype=torch.float64)
    out = iwae.bounds_by_k(log_w, [1, 4, 12])
    torch.testing.assert_close(out[1], log_w.mean(0))
    torch.testing.assert_close(out[12], iwae.iwae_bound(log_w))
    groups = torch.stack([iwae.iwae_bound(log_w[i : i + 4]) for i in (0, 4, 8)])
    torch.testing.assert_close(out[4], groups.mean(0))


def test_marginal_likelihood_estimate_matches_quadrature():
    model = _tiny_model()
    x = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    torch.manual_seed(9)
    estimate = iwae.log_marginal_likelihood(model, x, k=20_000, chunk=3000)  # uneven chunks
    assert abs(estimate.item() - _log_px_by_quadrature(model, x).item()) < 0.04  # ~4 SE


def test_iwae_training_raises_its_bound(device):
    torch.manual_seed(0)
    model = vae.make_vae(64, 4, (64,))
    x_test, _ = digits("test", "binary")
    with torch.no_grad():
        before = iwae.iwae_bound(iwae.log_importance_weights(model, x_test, 5)).mean().item()
    history = fit(
        model,
        lambda m, b: iwae.iwae_loss(m, b, 5),
        digits_loader("train", "binary"),
        steps=100,
        lr=3e-3,
        device=device,
        progress=False,
    )
    assert "L_5" in history
    model = model.cpu()
    with torch.no_grad():
        after = iwae.iwae_bound(iwae.log_importance_weights(model, x_test, 5)).mean().item()
    assert after > before + 10


# ------------------------------------------------------------------------- errors


def test_bad_arguments_name_themselves():
    model = vae.make_vae(6, 2, (8,))
    x = torch.zeros(3, 6)
    with pytest.raises(ValueError, match="k: expected a positive int"):
        iwae.log_importance_weights(model, x, 0)
    with pytest.raises(ValueError, match="eps: expected shape"):
        iwae.log_importance_weights(model, x, 2, torch.zeros(3, 3, 2))
    with pytest.raises(ValueError, match="x: expected a batch"):
        iwae.log_importance_weights(model, torch.zeros(6), 2)
    with pytest.raises(ValueError, match="log_w"):
        iwae.iwae_bound(torch.tensor(1.0))
    with pytest.raises(ValueError, match="log_w"):
        iwae.iwae_bound(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="ks: k=5"):
        iwae.bounds_by_k(torch.zeros(4, 2), [5])
    with pytest.raises(ValueError, match="f_values, log_p, log_q"):
        iwae.importance_estimate(torch.zeros(3), torch.zeros(4), torch.zeros(3))
    with pytest.raises(ValueError, match="n: expected"):
        iwae.tail_probability(0)
