"""Tests for ``edu_gen.models.elbo.importance_log_marginal``, the importance-sampled evidence
that chapter 03 uses to split the inference gap of a VAE on 28×28 digits.

Oracles: the exact evidence of the linear-Gaussian model (``LinearGaussian.log_marginal``),
the closed-form ELBO of the proposal, and the IWAE bound of ``edu_gen.models.iwae`` computed
from the same noise.
"""

from __future__ import annotations

import math

import pytest
import torch

from edu_gen.core.rng import generator as gen
from edu_gen.models import elbo as E
from edu_gen.models import iwae


def toy(seed: int = 0) -> E.LinearGaussian:
    g = gen(seed)
    W = torch.randn(5, 2, generator=g, dtype=torch.float64)
    W[:, 1] += 0.8 * W[:, 0]  # correlated latents: the best diagonal q is not the posterior
    return E.LinearGaussian(W, torch.randn(5, generator=g, dtype=torch.float64), 0.4)


def test_exact_when_the_proposal_is_the_posterior():
    # with a 1-D latent the posterior is a diagonal Gaussian; taking it as q makes every
    # weight p(x, z)/p(z|x) = p(x): the estimate is exact for any k and its se is 0
    w1 = torch.tensor([[1.3], [0.4], [-0.7]], dtype=torch.float64)
    one = E.LinearGaussian(w1, torch.zeros(3, dtype=torch.float64), 0.5)
    x1, _ = one.sample(6, gen(2))
    m1, s1 = one.posterior(x1)
    log_p, se = E.importance_log_marginal(
        lambda z: one.log_joint(x1, z), m1, torch.log(s1).expand_as(m1), k=7, generator=gen(3)
    )
    torch.testing.assert_close(log_p, one.log_marginal(x1))
    assert float(se.max()) < 1e-6


def wide_proposal(model: E.LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior mean with 1.5 × its marginal variances: wider than p(z|x) in every
    direction, so the weights are bounded and the delta-method standard error is valid."""
    mean, cov = model.posterior(x)
    return mean, torch.log(1.5 * torch.diagonal(cov)).expand_as(mean)


def test_converges_to_the_exact_evidence_within_its_standard_error():
    model = toy(seed=4)
    x, _ = model.sample(8, gen(5))
    q_mean, q_logvar = wide_proposal(model, x)
    log_p, se = E.importance_log_marginal(
        lambda z: model.log_joint(x, z), q_mean, q_logvar, k=20_000, chunk=3000, generator=gen(6)
    )
    exact = model.log_marginal(x)
    z_scores = (log_p - exact) / se
    assert float(z_scores.abs().max()) < 4.5, z_scores
    assert float((log_p - exact).abs().max()) < 0.05


def test_with_q_star_as_proposal_it_closes_most_of_the_approximation_gap():
    # q* is narrower than the correlated posterior: heavy-tailed weights, slow convergence
    # from below, but with many samples most of the gap log p(x) - ELBO(q*) is recovered
    model = toy(seed=4)
    x, _ = model.sample(8, gen(5))
    q_mean, q_logvar = model.optimal_mean_field(x)
    log_p, _ = E.importance_log_marginal(
        lambda z: model.log_joint(x, z), q_mean, q_logvar, k=20_000, chunk=3000, generator=gen(6)
    )
    exact = model.log_marginal(x)
    gap = exact - model.elbo(x, q_mean, q_logvar)
    assert float(gap.min()) > 0.3  # a real approximation gap to recover
    assert float((exact - log_p).mean()) < 0.3 * float(gap.mean())
    assert bool((log_p > model.elbo(x, q_mean, q_logvar)).all())


def test_lies_between_the_elbo_and_the_evidence_for_a_poor_proposal():
    model = toy(seed=7)
    x, _ = model.sample(6, gen(8))
    q_mean = torch.zeros(6, 2, dtype=torch.float64)  # the prior as proposal (wider: valid se)
    q_logvar = torch.zeros(6, 2, dtype=torch.float64)
    log_p, se = E.importance_log_marginal(
        lambda z: model.log_joint(x, z), q_mean, q_logvar, k=4000, generator=gen(9)
    )
    assert bool((log_p > model.elbo(x, q_mean, q_logvar)).all())
    assert bool((log_p <= model.log_marginal(x) + 4 * se).all())


def test_equals_the_iwae_bound_on_the_same_noise():
    model = toy(seed=10)
    x, _ = model.sample(5, gen(11))
    q_mean, q_logvar = model.optimal_mean_field(x)
    q_mean = q_mean + 0.3

    def log_joint(z):
        return model.log_joint(x, z)

    whole, se_whole = E.importance_log_marginal(
        log_joint, q_mean, q_logvar, k=300, chunk=300, generator=gen(12)
    )
    eps = torch.randn(300, 5, 2, generator=gen(12), dtype=torch.float64)
    want = iwae.iwae_bound(E.log_weights(log_joint, q_mean, q_logvar, eps))
    torch.testing.assert_close(whole, want)
    # the delta-method standard error, written out on the linear scale
    log_w = E.log_weights(log_joint, q_mean, q_logvar, eps)
    w = torch.exp(log_w - log_w.max(0).values)
    torch.testing.assert_close(se_whole, w.std(0) / (math.sqrt(300) * w.mean(0)))
    # drawn in chunks of 7, the noise differs but the estimate agrees within its error
    chunked, se_chunked = E.importance_log_marginal(
        log_joint, q_mean, q_logvar, k=300, chunk=7, generator=gen(13)
    )
    assert bool(((chunked - whole).abs() < 5 * (se_whole**2 + se_chunked**2).sqrt()).all())


def test_standard_error_shrinks_like_one_over_root_k():
    model = toy(seed=13)
    x, _ = model.sample(4, gen(14))
    q_mean, q_logvar = wide_proposal(model, x)
    _, se_small = E.importance_log_marginal(
        lambda z: model.log_joint(x, z), q_mean, q_logvar, k=400, generator=gen(15)
    )
    _, se_large = E.importance_log_marginal(
        lambda z: model.log_joint(x, z), q_mean, q_logvar, k=6400, generator=gen(16)
    )
    ratio = se_small / se_large
    assert bool(((ratio > 3.0) & (ratio < 5.0)).all()), ratio  # sqrt(6400 / 400) = 4


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"k": 1}, ValueError),
        ({"k": 2.5}, ValueError),
        ({"chunk": 0}, ValueError),
        ({"q_logvar": torch.zeros(3, 3)}, ValueError),
        ({"q_mean": torch.zeros(3)}, ValueError),
        ({"q_mean": torch.full((3, 2), math.nan)}, ValueError),
        ({"q_mean": torch.zeros(3, 2, dtype=torch.long)}, TypeError),
        ({"generator": 0}, TypeError),
    ],
)
def test_bad_inputs_are_rejected(change, error):
    args = {
        "log_joint": lambda z: -0.5 * z.pow(2).sum(-1),
        "q_mean": torch.zeros(3, 2),
        "q_logvar": torch.zeros(3, 2),
        "k": 10,
    }
    args.update(change)
    if "q_mean" in change and change["q_mean"].dim() == 2 and change["q_mean"].is_floating_point():
        args["q_logvar"] = torch.zeros_like(change["q_mean"])
    with pytest.raises(error):
        E.importance_log_marginal(**args)


def test_nan_from_the_model_is_reported():
    with pytest.raises(ValueError, match="log_joint"):
        E.importance_log_marginal(
            lambda z: torch.full(z.shape[:-1], math.nan), torch.zeros(2, 1), torch.zeros(2, 1), 4
        )
