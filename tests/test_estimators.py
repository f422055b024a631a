"""Tests for edu_gen.models.estimators (chapter 04):
gradient estimators and reparameterised samplers.

Oracles: torch.distributions (log-density and its autograd score), scipy.stats (moments,
CDFs and ``norm.expect`` quadrature for the closed-form expectations).
"""

from __future__ import annotations

import math

import pytest
import scipy.stats as st
import torch

from edu_gen.core.rng import generator as gen
from edu_gen.models import estimators as est


def normal_noise(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, generator=gen(seed), dtype=torch.float64)


# ------------------------------------------------------------ the score and the estimators


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (1.3, 0.4), (-2.0, 2.5)])
def test_gaussian_score_matches_autograd_of_torch_log_prob(mu, sigma):
    z = normal_noise(50) * 2
    m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
    per_sample = []
    for zi in z:
        g = torch.autograd.grad(torch.distributions.Normal(m, s).log_prob(zi), (m, s))
        per_sample.append(torch.stack(g))
    oracle = torch.stack(per_sample)
    d_mu, d_sigma = est.gaussian_score(z, m.detach(), s.detach())
    torch.testing.assert_close(torch.stack([d_mu, d_sigma], 1), oracle.double())


@pytest.mark.parametrize("name", ["z^2", "sin z", "exp(z/2)", "1[z > 0]"])
@pytest.mark.parametrize(("mu", "sigma"), [(1.0, 0.5), (-0.5, 1.5)])
def test_closed_form_expectations_match_scipy_quadrature(name, mu, sigma):
    f, expectation = est.TEST_FUNCTIONS[name]
    oracle = st.norm(mu, sigma).expect(
        lambda z: f(torch.tensor(z, dtype=torch.float64)).item(),
        lb=mu - 12 * sigma,
        ub=mu + 12 * sigma,
        points=[0.0],
        limit=200,
    )
    got = expectation(
        torch.tensor(mu, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64)
    )
    assert got.item() == pytest.approx(oracle, abs=1e-6)


def test_analytic_gradient_of_z_squared():
    _, expectation = est.TEST_FUNCTIONS["z^2"]
    torch.testing.assert_close(
        est.analytic_gradient(expectation, 0.7, 1.9), torch.tensor([1.4, 3.8], dtype=torch.float64)
    )


def test_pathwise_per_sample_values_for_z_squared():
    eps = normal_noise(10)
    mu, sigma = 0.3, 1.7
    z = mu + sigma * eps
    got = est.pathwise_gradient(lambda t: t**2, mu, sigma, eps)
    torch.testing.assert_close(got, torch.stack([2 * z, 2 * z * eps], 1))


@pytest.mark.parametrize("name", ["z^2", "sin z", "exp(z/2)"])
def test_both_estimators_are_unbiased(name):
    f, expectation = est.TEST_FUNCTIONS[name]
    mu, sigma = 0.8, 0.7
    eps = normal_noise(200_000, seed=3)
    truth = est.analytic_gradient(expectation, mu, sigma)
    for estimator in (est.score_function_gradient, est.pathwise_gradient):
        summary = est.estimator_summary(estimator(f, mu, sigma, eps), truth)
        assert torch.all(summary["z"].abs() < 4.5), (estimator.__name__, summary)


def test_pathwise_has_lower_variance_for_a_smooth_f():
    f, expectation = est.TEST_FUNCTIONS["exp(z/2)"]
    eps = normal_noise(50_000, seed=4)
    truth = est.analytic_gradient(expectation, 1.0, 0.5)
    score = est.estimator_summary(est.score_function_gradient(f, 1.0, 0.5, eps), truth)
    path = est.estimator_summary(est.pathwise_gradient(f, 1.0, 0.5, eps), truth)
    assert torch.all(path["var"] * 10 < score["var"])


def test_pathwise_is_zero_for_the_indicator_but_score_is_not():
    f, expectation = est.TEST_FUNCTIONS["1[z > 0]"]
    eps = normal_noise(100_000, seed=5)
    truth = est.analytic_gradient(expectation, 0.5, 1.0)
    assert torch.all(est.pathwise_gradient(f, 0.5, 1.0, eps) == 0)
    score = est.estimator_summary(est.score_function_gradient(f, 0.5, 1.0, eps), truth)
    assert torch.all(score["z"].abs() < 4.5) and truth.abs().min() > 0.1


def test_the_unbiasedness_check_bites_on_a_wrong_score():
    """Mutation: drop the square on sigma in d/dmu log q: the z-test must flag the bias."""
    f, expectation = est.TEST_FUNCTIONS["z^2"]
    mu, sigma = 1.0, 0.5
    eps = normal_noise(100_000, seed=6)
    z = mu + sigma * eps
    wrong = (f(z) * (z - mu) / sigma)[:, None]
    truth = est.analytic_gradient(expectation, mu, sigma)[:1]
    assert est.estimator_summary(wrong, truth)["z"].abs().item() > 10


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mu": 0.0, "sigma": 0.0}, ValueError, "sigma: expected a positive"),
        ({"mu": float("nan"), "sigma": 1.0}, ValueError, "mu: expected a finite"),
        ({"mu": torch.zeros(2), "sigma": 1.0}, ValueError, "mu: expected a scalar"),
        ({"mu": "0", "sigma": 1.0}, TypeError, "mu: expected a number"),
    ],
)
def test_estimators_reject_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        est.pathwise_gradient(torch.sin, eps=normal_noise(4), **kwargs)
    with pytest.raises(error, match=match):
        est.score_function_gradient(torch.sin, eps=normal_noise(4), **kwargs)


def test_estimator_summary_and_noise_errors():
    with pytest.raises(ValueError, match="samples"):
        est.estimator_summary(torch.zeros(5), torch.zeros(1))
    with pytest.raises(TypeError, match="eps"):
        est.pathwise_gradient(torch.sin, 0.0, 1.0, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="element-wise"):
        est.pathwise_gradient(lambda z: z.sum(), 0.0, 1.0, normal_noise(3))


# ------------------------------------------------------------ reparameterisable families

ORACLES = {
    "normal": ({"loc": 1.5, "scale": 0.7}, st.norm(1.5, 0.7)),
    "exponential": ({"rate": 2.5}, st.expon(scale=1 / 2.5)),
    "logistic": ({"loc": -1.0, "scale": 0.5}, st.logistic(-1.0, 0.5)),
    "cauchy": ({"loc": 0.5, "scale": 2.0}, st.cauchy(0.5, 2.0)),
    "rayleigh": ({"scale": 1.3}, st.rayleigh(scale=1.3)),
    "log-normal": ({"mu": 0.2, "sigma": 0.5}, st.lognorm(s=0.5, scale=math.exp(0.2))),
    "erlang": ({"k": 3, "rate": 2.0}, st.gamma(a=3, scale=0.5)),
    "chi2": ({"k": 5}, st.chi2(5)),
}


def test_every_family_has_an_oracle():
    assert set(ORACLES) == set(est.FAMILIES)


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_family_samples_follow_the_scipy_distribution(name):
    params, oracle = ORACLES[name]
    z = est.rsample(name, 20_000, gen(11), **params)
    assert z.shape == (20_000,) and z.dtype == torch.float64
    assert st.kstest(z.numpy(), oracle.cdf).pvalue > 1e-3
    if name != "cauchy":  # no moments
        n = len(z)
        assert abs(z.mean().item() - oracle.mean()) < 5 * oracle.std() / math.sqrt(n)
        assert z.var().item() == pytest.approx(oracle.var(), rel=0.1)
    # quantiles always exist (the Cauchy's included)
    q = torch.quantile(z, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)).numpy()
    spread = oracle.ppf(0.75) - oracle.ppf(0.25)
    assert abs(q - oracle.ppf([0.25, 0.5, 0.75])).max() < 0.05 * spread


def test_ks_check_bites_on_a_wrong_sampler():
    """Mutation: exponential with scale where the rate belongs is rejected by the KS test."""
    u = est.draw_noise("uniform", (20_000,), gen(12))
    wrong = -torch.log1p(-u) * 2.5
    assert st.kstest(wrong.numpy(), st.expon(scale=1 / 2.5).cdf).pvalue < 1e-10


def test_pathwise_gradient_flows_through_inverse_cdf():
    rate = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    z = est.rsample("exponential", 200_000, gen(13), rate=rate)
    (grad,) = torch.autograd.grad(z.mean(), rate, retain_graph=True)
    assert grad.item() == pytest.approx(-1 / 2.0**2, rel=0.02)  # d/dλ E[z] = -1/λ²
    # per draw, dz/dλ = -z/λ exactly
    (grad_one,) = torch.autograd.grad(z[0], rate)
    assert grad_one.item() == pytest.approx(-z[0].item() / 2.0)


def test_uniform_noise_never_hits_the_endpoints():
    u = est.draw_noise("uniform", (100_000,), gen(14))
    assert torch.all((u > 0) & (u < 1))
    assert torch.isfinite(est.exponential_icdf(u, 1.0)).all()
    assert torch.isfinite(est.logistic_icdf(u, 0.0, 1.0)).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("gamma", 5), {}, "name: expected one of"),
        (("normal", 0), {}, "n: expected a positive int"),
        (("normal", 5), {"rate": 1.0}, "unknown"),
        (("exponential", 5), {"rate": -1.0}, "rate: expected a positive"),
        (("erlang", 5), {"k": 0}, "k: expected a positive int"),
    ],
)
def test_rsample_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        est.rsample(*args, **kwargs)


def test_draw_noise_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        est.draw_noise("gumbel", (3,))
