"""Tests for edu_gen.core.distributions:
diagonal Gaussian log-density and KL against torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from edu_gen.core.distributions import LOGVAR_RANGE, clamp_logvar, kl_mvn, kl_normal, log_normal
from edu_gen.core.rng import generator as gen


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float64)


def diag_normal(mean: torch.Tensor, logvar: torch.Tensor) -> Independent:
    return Independent(Normal(mean, torch.exp(0.5 * logvar)), 1)


def test_log_normal_matches_torch_distributions(device):
    x, mean, logvar = randn(5, 4, seed=0), randn(5, 4, seed=1), randn(5, 4, seed=2)
    expected = diag_normal(mean, logvar).log_prob(x)
    got = log_normal(x.to(device), mean.to(device), logvar.to(device))
    assert got.shape == (5,) and got.device.type == device.type
    torch.testing.assert_close(got.cpu(), expected)


def test_log_normal_broadcasts_samples_against_a_batch_of_posteriors():
    z = randn(7, 3, 2, seed=0)  # [S, B, D]
    mean, logvar = randn(3, 2, seed=1), randn(3, 2, seed=2)
    got = log_normal(z, mean, logvar)
    assert got.shape == (7, 3)
    torch.testing.assert_close(got, diag_normal(mean, logvar).log_prob(z))


def test_log_normal_accepts_float_parameters_for_the_standard_normal():
    x = randn(6, 3, seed=3)
    torch.testing.assert_close(log_normal(x, 0.0, 0.0), Normal(0.0, 1.0).log_prob(x).sum(-1))
    # a hand value: log N(0; 0, 1) in one dimension
    assert log_normal(torch.zeros(1), 0.0, 0.0).item() == pytest.approx(
        -0.5 * math.log(2 * math.pi)
    )


def test_kl_normal_matches_torch_kl_divergence(device):
    mu_q, lv_q, mu_p, lv_p = (randn(8, 5, seed=s) for s in range(4))
    expected = kl_divergence(diag_normal(mu_q, lv_q), diag_normal(mu_p, lv_p))
    got = kl_normal(*(t.to(device) for t in (mu_q, lv_q, mu_p, lv_p)))
    assert got.shape == (8,)
    torch.testing.assert_close(got.cpu(), expected)


def test_kl_normal_default_prior_is_standard_normal():
    mu, lv = randn(4, 3, seed=5), randn(4, 3, seed=6)
    prior = diag_normal(
        torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)
    )
    torch.testing.assert_close(kl_normal(mu, lv), kl_divergence(diag_normal(mu, lv), prior))
    # the textbook formula 0.5 * sum(mu^2 + sigma^2 - logvar - 1)
    torch.testing.assert_close(kl_normal(mu, lv), 0.5 * (mu**2 + lv.exp() - lv - 1).sum(-1))


def test_kl_normal_is_zero_iff_equal_and_matches_monte_carlo():
    mu, lv = randn(3, 2, seed=7), randn(3, 2, seed=8)
    torch.testing.assert_close(kl_normal(mu, lv, mu, lv), torch.zeros(3, dtype=torch.float64))
    mu_p, lv_p = randn(3, 2, seed=9), randn(3, 2, seed=10)
    z = mu + torch.exp(0.5 * lv) * randn(200_000, 3, 2, seed=11)
    mc = (log_normal(z, mu, lv) - log_normal(z, mu_p, lv_p)).mean(0)
    torch.testing.assert_close(mc, kl_normal(mu, lv, mu_p, lv_p), atol=0.05, rtol=0.02)
    assert torch.all(kl_normal(mu, lv, mu_p, lv_p) > 0)


def test_gradients_flow_and_stay_finite_inside_the_range():
    mu = torch.zeros(2, 3, requires_grad=True)
    lv = torch.full((2, 3), LOGVAR_RANGE[0], requires_grad=True)
    x = torch.ones(2, 3)
    loss = (-log_normal(x, mu, lv) + kl_normal(mu, lv)).sum()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(mu.grad).all() and torch.isfinite(lv.grad).all()
    lv_hi = torch.full((2, 3), LOGVAR_RANGE[1])
    assert torch.isfinite(kl_normal(mu.detach(), lv_hi)).all()


def test_clamp_logvar_clips_to_the_documented_range():
    lv = torch.tensor([-100.0, -12.0, 0.0, 8.0, 100.0], requires_grad=True)
    out = clamp_logvar(lv)
    assert out.tolist() == [-12.0, -12.0, 0.0, 8.0, 8.0]
    out.sum().backward()
    assert lv.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert clamp_logvar(lv.detach(), -1.0, 1.0).tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="lo < hi"):
        clamp_logvar(lv, 1.0, 1.0)


def test_bad_inputs_raise_clear_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        log_normal([0.0, 1.0], 0.0, 0.0)
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        log_normal(torch.zeros(2, 3, dtype=torch.long), 0.0, 0.0)
    with pytest.raises(ValueError, match="x: expected at least one"):
        log_normal(torch.tensor(0.0), 0.0, 0.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        log_normal(x, torch.zeros(4), 0.0)
    with pytest.raises(TypeError, match="logvar: expected a torch.Tensor or a float"):
        log_normal(x, 0.0, "zero")
    with pytest.raises(TypeError, match="mu_q: expected a torch.Tensor"):
        kl_normal(0.0, 0.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        kl_normal(x, torch.zeros(5))


@pytest.mark.parametrize(
    "mutant",
    [
        lambda x, m, lv: -0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 * lv.exp()).sum(-1),
        lambda x, m, lv: -0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 / lv.exp()).mean(-1),
        lambda x, m, lv: -0.5 * ((x - m) ** 2 / lv.exp()).sum(-1),
    ],
    ids=["variance-not-precision", "mean-not-sum", "no-normaliser"],
)
def test_the_oracle_comparison_catches_mutants(mutant):
    x, mean, logvar = randn(5, 4, seed=0), randn(5, 4, seed=1), randn(5, 4, seed=2)
    expected = diag_normal(mean, logvar).log_prob(x)
    assert not torch.allclose(mutant(x, mean, logvar), expected)


def _spd(k: int, seed: int, batch: tuple[int, ...] = ()) -> torch.Tensor:
    a = randn(*batch, k, k, seed=seed)
    return a @ a.transpose(-1, -2) + 0.5 * torch.eye(k, dtype=torch.float64)


def test_kl_mvn_matches_torch_for_full_covariances():
    from torch.distributions import MultivariateNormal

    mu_q, mu_p = randn(4, 3, seed=1), randn(4, 3, seed=2)
    cov_q, cov_p = _spd(3, 3, (4,)), _spd(3, 4, (4,))
    expected = kl_divergence(MultivariateNormal(mu_q, cov_q), MultivariateNormal(mu_p, cov_p))
    torch.testing.assert_close(kl_mvn(mu_q, cov_q, mu_p, cov_p), expected)
    # a shared covariance broadcasts against a batch of means
    shared = _spd(3, 5)
    expected = kl_divergence(MultivariateNormal(mu_q, shared), MultivariateNormal(mu_p, cov_p))
    torch.testing.assert_close(kl_mvn(mu_q, shared, mu_p, cov_p), expected)


def test_kl_mvn_reduces_to_the_diagonal_formula():
    mu_q, lv_q, mu_p, lv_p = (randn(5, 4, seed=s) for s in range(10, 14))
    full = kl_mvn(mu_q, torch.diag_embed(lv_q.exp()), mu_p, torch.diag_embed(lv_p.exp()))
    torch.testing.assert_close(full, kl_normal(mu_q, lv_q, mu_p, lv_p))


def test_kl_mvn_rejects_bad_shapes():
    with pytest.raises(ValueError, match="cov_q: expected shape"):
        kl_mvn(torch.zeros(3), torch.eye(2), torch.zeros(3), torch.eye(3))
    with pytest.raises(TypeError, match="mu_p"):
        kl_mvn(torch.zeros(2), torch.eye(2), [0.0, 0.0], torch.eye(2))
