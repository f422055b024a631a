"""Tests for edu_gen.models.elbo (chapter 03): the linear-Gaussian model, the ELBO identity, Monte
Carlo ELBO, the mean-field optimum, per-datapoint VI and quadrature on a latent grid.

Oracles: torch.distributions (MultivariateNormal log_prob and kl_divergence), scipy.stats and
Gaussian conditioning of the joint (z, x) written out independently of the module.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from edu_gen.core.distributions import log_normal
from edu_gen.core.rng import generator as gen
from edu_gen.core.train import fit
from edu_gen.models import elbo as E


def toy(d: int = 5, k: int = 2, seed: int = 0, sigma2: float = 0.5) -> E.LinearGaussian:
    g = gen(seed)
    W = torch.randn(d, k, generator=g, dtype=torch.float64)
    b = torch.randn(d, generator=g, dtype=torch.float64)
    return E.LinearGaussian(W, b, sigma2)


def random_q(n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    return (
        torch.randn(n, k, generator=g, dtype=torch.float64),
        torch.randn(n, k, generator=g, dtype=torch.float64),
    )


def test_log_marginal_matches_torch_and_scipy():
    model = toy()
    x, _ = model.sample(6, gen(1))
    want = MultivariateNormal(model.b, model.marginal_cov()).log_prob(x)
    torch.testing.assert_close(model.log_marginal(x), want)
    scipy_want = scipy.stats.multivariate_normal(model.b.numpy(), model.marginal_cov().numpy())
    torch.testing.assert_close(
        model.log_marginal(x), torch.from_numpy(scipy_want.logpdf(x.numpy()))
    )


def test_posterior_matches_gaussian_conditioning_of_the_joint():
    model = toy(d=6, k=3, seed=2)
    x, _ = model.sample(4, gen(3))
    W, C = model.W, model.marginal_cov()
    # joint of (z, x): cov [[I, W^T], [W, C]]; condition on x
    gain = W.T @ torch.linalg.inv(C)
    mean_want = (x - model.b) @ gain.T
    cov_want = torch.eye(3, dtype=torch.float64) - gain @ W
    mean, cov = model.posterior(x)
    torch.testing.assert_close(mean, mean_want)
    torch.testing.assert_close(cov, cov_want)


def test_bayes_rule_log_joint_minus_log_posterior_is_the_evidence():
    model = toy(seed=4)
    x, _ = model.sample(3, gen(5))
    z = torch.randn(7, 3, 2, generator=gen(6), dtype=torch.float64)
    mean, cov = model.posterior(x)
    log_post = MultivariateNormal(mean, cov).log_prob(z)
    evidence = model.log_joint(x, z) - log_post  # the same for every z
    torch.testing.assert_close(evidence, model.log_marginal(x).expand(7, 3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evidence_minus_elbo_is_the_kl_to_the_posterior(seed):
    model = toy(seed=seed)
    x, _ = model.sample(8, gen(10 + seed))
    mu, logvar = random_q(8, 2, 20 + seed)
    post_mean, post_cov = model.posterior(x)
    kl = kl_divergence(
        MultivariateNormal(mu, torch.diag_embed(logvar.exp())),
        MultivariateNormal(post_mean, post_cov),
    )
    gap = model.log_marginal(x) - model.elbo(x, mu, logvar)
    torch.testing.assert_close(gap, kl, atol=1e-10, rtol=1e-10)
    assert torch.all(gap > 0)
    # full-covariance q, and the package's own KL
    a = torch.randn(8, 2, 2, generator=gen(30 + seed), dtype=torch.float64)
    cov_q = a @ a.transpose(-1, -2) + 0.1 * torch.eye(2, dtype=torch.float64)
    gap_full = model.log_marginal(x) - model.elbo_full(x, mu, cov_q)
    want = kl_divergence(MultivariateNormal(mu, cov_q), MultivariateNormal(post_mean, post_cov))
    torch.testing.assert_close(gap_full, want, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(model.kl_to_posterior(x, mu, cov_q), want)


def test_the_bound_is_tight_at_the_posterior_and_diag_matches_full():
    model = toy(seed=3)
    x, _ = model.sample(5, gen(4))
    mean, cov = model.posterior(x)
    torch.testing.assert_close(model.elbo_full(x, mean, cov), model.log_marginal(x))
    mu, logvar = random_q(5, 2, 8)
    torch.testing.assert_close(
        model.elbo(x, mu, logvar), model.elbo_full(x, mu, torch.diag_embed(logvar.exp()))
    )


def test_monte_carlo_elbo_is_unbiased_and_exact_with_the_posterior_as_proposal():
    model = toy(seed=5)
    x, _ = model.sample(4, gen(6))
    mu, logvar = random_q(4, 2, 7)
    eps = torch.randn(200_000, 4, 2, generator=gen(8), dtype=torch.float64)
    weights = E.log_weights(lambda z: model.log_joint(x, z), mu, logvar, eps)
    mc, se = weights.mean(0), weights.std(0) / math.sqrt(eps.shape[0])
    assert torch.all((mc - model.elbo(x, mu, logvar)).abs() < 4 * se)
    torch.testing.assert_close(E.elbo_mc(lambda z: model.log_joint(x, z), mu, logvar, eps), mc)
    # orthogonal columns of W make the posterior diagonal: then every weight equals log p(x)
    q, _ = torch.linalg.qr(torch.randn(5, 2, generator=gen(9), dtype=torch.float64))
    diag_model = E.LinearGaussian(q * torch.tensor([2.0, 0.7], dtype=torch.float64), model.b, 0.3)
    mean, cov = diag_model.posterior(x)
    torch.testing.assert_close(cov, torch.diag(torch.diagonal(cov)))
    logvar_post = torch.log(torch.diagonal(cov)).expand_as(mean)
    w = E.log_weights(lambda z: diag_model.log_joint(x, z), mean, logvar_post, eps[:10])
    torch.testing.assert_close(w, diag_model.log_marginal(x).expand(10, 4))


def test_optimal_mean_field_is_a_stationary_point_and_underestimates_variance():
    model = toy(seed=6)
    x, _ = model.sample(3, gen(7))
    mean, logvar = model.optimal_mean_field(x)
    mean, logvar = mean.clone().requires_grad_(), logvar.clone().requires_grad_()
    model.elbo(x, mean, logvar).sum().backward()
    assert mean.grad.abs().max() < 1e-10 and logvar.grad.abs().max() < 1e-10
    _, cov = model.posterior(x)
    assert torch.all(logvar.detach().exp()[0] <= torch.diagonal(cov) + 1e-12)
    best = model.elbo(x, mean.detach(), logvar.detach())
    marginal_var = torch.log(torch.diagonal(cov)).expand_as(logvar)
    assert torch.all(model.elbo(x, mean.detach(), marginal_var) < best)


def test_per_datapoint_vi_with_fit_reaches_the_mean_field_optimum(device):
    torch.manual_seed(0)
    model = toy(seed=7)
    x, _ = model.sample(16, gen(8))
    q = E.PerDatapointGaussian(16, 2)
    index = torch.arange(16)

    def loss(module, batch):
        xb, ib = batch
        mu, lv = module(ib)
        return -model.elbo(xb.cpu(), mu.cpu(), lv.cpu()).mean()

    fit(q, loss, [(x.float(), index)], steps=600, lr=0.05, device=device, progress=False)
    mu, lv = q.cpu()(index)
    want = model.elbo(x, *model.optimal_mean_field(x))
    got = model.elbo(x, mu.detach(), lv.detach())
    assert torch.all(got <= want + 1e-6)
    torch.testing.assert_close(got, want, atol=1e-3, rtol=0)


def test_per_datapoint_parameters_clamp_logvar_and_check_init():
    q = E.PerDatapointGaussian(3, 2, init=(torch.zeros(3, 2), torch.full((3, 2), -50.0)))
    _, lv = q(torch.tensor([0, 2]))
    assert lv.min().item() == -12.0
    with pytest.raises(ValueError, match="init: expected two tensors"):
        E.PerDatapointGaussian(3, 2, init=(torch.zeros(2, 2), torch.zeros(2, 2)))
    with pytest.raises(ValueError, match="n: expected a positive int"):
        E.PerDatapointGaussian(0, 2)


def test_grid_quadrature_recovers_the_exact_evidence_and_posterior():
    model = toy(d=4, k=2, seed=9, sigma2=0.8)
    x, _ = model.sample(5, gen(10))
    z, area = E.latent_grid(7.0, 281)
    lj = E.grid_log_joint(lambda xb, zb: model.log_likelihood(xb, zb), x, z, chunk=5000)
    assert lj.shape == (5, z.shape[0])
    torch.testing.assert_close(
        E.log_marginal_grid(lj, area), model.log_marginal(x), atol=1e-6, rtol=0
    )
    post = E.posterior_grid(lj)
    torch.testing.assert_close(post.sum(1), torch.ones(5, dtype=torch.float64))
    mean, _ = model.posterior(x)
    torch.testing.assert_close(post @ z, mean, atol=1e-6, rtol=0)


def test_grid_log_joint_works_with_a_vae_decoder():
    from edu_gen.models.vae import BernoulliDecoder

    torch.manual_seed(0)
    decoder = BernoulliDecoder(2, 6, (8,))
    x = (torch.rand(3, 6, generator=gen(1)) > 0.5).float()
    z, _ = E.latent_grid(3.0, 5)
    lj = E.grid_log_joint(decoder.log_prob, x, z, chunk=7)
    with torch.no_grad():
        want = decoder.log_prob(x[1], z.float()).double() + log_normal(z, 0.0, 0.0)
    torch.testing.assert_close(lj[1], want.detach())


def test_bad_inputs_raise_clear_errors():
    model = toy()
    with pytest.raises(ValueError, match="x: expected shape"):
        model.log_marginal(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma2: expected a positive"):
        E.LinearGaussian(model.W, model.b, 0.0)
    with pytest.raises(ValueError, match="b: expected shape"):
        E.LinearGaussian(model.W, torch.zeros(3, dtype=torch.float64), 1.0)
    with pytest.raises(ValueError, match="q_cov: expected shape"):
        model.elbo_full(torch.zeros(1, 5, dtype=torch.float64), torch.zeros(1, 2), torch.eye(3))
    with pytest.raises(ValueError, match="eps: expected shape"):
        E.elbo_mc(lambda z: z.sum(-1), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(TypeError, match="W: expected a floating-point"):
        E.LinearGaussian(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="n: expected an int >= 2"):
        E.latent_grid(3.0, 1)
    with pytest.raises(ValueError, match="post_cov: expected shape"):
        E.mean_field_gaussian(torch.zeros(3, 2), torch.eye(3))


def test_the_identity_check_catches_a_bound_without_its_entropy_term():
    model = toy(seed=11)
    x, _ = model.sample(4, gen(12))
    mu, logvar = random_q(4, 2, 13)
    kl = model.kl_to_posterior(x, mu, torch.diag_embed(logvar.exp()))
    no_entropy = model.elbo(x, mu, logvar) - (
        0.5 * 2 * (1 + math.log(2 * math.pi)) + 0.5 * logvar.sum(-1)
    )
    assert not torch.allclose(model.log_marginal(x) - no_entropy, kl, atol=1e-4)
