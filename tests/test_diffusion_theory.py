"""Tests of edu_gen.models.diffusion.theory (DDIM's q_σ, Theorem 1's weights, the flow step,
Gaussian-mixture scores), each with a planted mistake that the same check catches."""

from __future__ import annotations

import scipy.stats
import torch

from edu_gen.core import rng
from edu_gen.models import diffusion as d

F64 = torch.float64


def _mixture() -> d.GaussianMixture:
    return d.GaussianMixture(
        torch.tensor([[-2.0, 0.0], [1.5, 1.5]], dtype=F64),
        torch.tensor([0.3, 0.6], dtype=F64),
        torch.tensor([0.4, 0.6], dtype=F64),
    )


def _standardised(sched, chain, x0, t):
    ab = sched.alpha_bar_at(t)
    return ((chain[t] - ab**0.5 * x0) / (1 - ab) ** 0.5).flatten()


def test_lemma1_marginals_and_a_wrong_sigma_fails():
    sched = d.make_schedule("linear", 200)
    x0 = torch.full((4000, 2), 0.7, dtype=F64)
    for eta in (0.0, 0.5, 1.0):
        chain = d.q_sigma_chain(sched, x0, eta, [1, 100], generator=rng.generator(0))
        for t in (1, 100):
            u = _standardised(sched, chain, x0, t)
            assert abs(u.mean()) < 0.05 and abs(u.var() - 1) < 0.06
            assert scipy.stats.kstest(u.numpy(), "norm").pvalue > 1e-3
    # mutant: σ_t twice as large as the mean allows for -> the variance is no longer 1 - ᾱ_t
    too_big = [
        min(2 * s, 0.999 * (1 - sched.alpha_bar_at(t - 1)) ** 0.5) if t >= 2 else 0.0
        for t, s in enumerate(d.step_sigmas(sched, 1.0))
    ]
    wrong = [0.0, 0.0] + [s for s in too_big[2:]]
    chain = d.q_sigma_chain(sched, x0, 1.0, [1], generator=rng.generator(0), sigmas=wrong)
    # still a valid q_σ (Lemma 1 holds for any admissible σ): the marginal is unchanged ...
    assert abs(_standardised(sched, chain, x0, 1).var() - 1) < 0.06
    # ... whereas adding noise without the -σ² correction breaks it
    x = chain[1]
    assert (
        abs(
            (
                (
                    (x + 0.1 * torch.randn(x.shape, generator=rng.generator(1), dtype=F64))
                    - sched.alpha_bar_at(1) ** 0.5 * x0
                )
                / (1 - sched.alpha_bar_at(1)) ** 0.5
            ).var()
            - 1
        )
        > 1
    )


def test_theorem1_weights_match_the_kl_per_term():
    sched = d.Schedule(torch.cat([torch.zeros(1), torch.linspace(0.05, 0.5, 6)]).double())
    sig = d.step_sigmas(sched, 0.7)
    gamma = d.ddim_elbo_weights(sched, sig, 0.1)
    g = rng.generator(2)
    x0, eps, eps_hat = (torch.randn(50, 3, generator=g, dtype=F64) for _ in range(3))
    for t in range(2, sched.T + 1):
        ab = sched.alpha_bar_at(t)
        xt = ab**0.5 * x0 + (1 - ab) ** 0.5 * eps
        x0_hat = (xt - (1 - ab) ** 0.5 * eps_hat) / ab**0.5
        m_q, m_p = (
            d.q_sigma_mean(sched, x0, xt, t, sig[t]),
            d.q_sigma_mean(sched, x0_hat, xt, t, sig[t]),
        )
        kl = (m_q - m_p).pow(2).sum(1) / (2 * sig[t] ** 2)
        torch.testing.assert_close(kl, gamma[t] * (eps - eps_hat).pow(2).sum(1))
        assert not torch.allclose(kl, (eps - eps_hat).pow(2).sum(1))  # γ_t = 1 is not the KL


def test_ddim_step_is_an_euler_step_and_a_wrong_sigma_is_not():
    sched = d.make_schedule("linear", 1000)
    g = rng.generator(3)
    x, eps = (torch.randn(8, 4, generator=g, dtype=F64) for _ in range(2))
    for t, s in [(1000, 700), (300, 299), (10, 0)]:
        ddim, _ = d.ddim_step(sched, x, eps, t, s, 0.0, None)
        torch.testing.assert_close(d.euler_flow_step(sched, x, eps, t, s), ddim, atol=1e-12, rtol=0)
    wrong = (sched.alpha_bar_at(700) ** 0.5) * (
        x / sched.alpha_bar_at(1000) ** 0.5
        + ((1 - sched.alpha_bar_at(700)) ** 0.5 - (1 - sched.alpha_bar_at(1000)) ** 0.5) * eps
    )
    assert (wrong - d.ddim_step(sched, x, eps, 1000, 700, 0.0, None)[0]).abs().max() > 1e-3


def test_mixture_optimal_eps_is_the_scaled_score_and_a_wrong_scale_fails():
    sched = d.make_schedule("linear", 1000)
    mix = _mixture()
    x = torch.randn(30, 2, generator=rng.generator(4), dtype=F64)
    for t in (1, 100, 900):
        ab = sched.alpha_bar_at(t)
        score = mix.score(sched, x, t)
        torch.testing.assert_close(mix.optimal_eps(sched, x, t), -((1 - ab) ** 0.5) * score)
        if t < 900:  # mutant (1 − ᾱ) in place of √(1 − ᾱ); the two meet as ᾱ → 0
            assert (mix.optimal_eps(sched, x, t) + (1 - ab) * score).abs().max() > 1e-2
    # t = 0 is the data density itself: compare with scipy
    pdf = sum(
        w * scipy.stats.multivariate_normal(m, s**2).pdf(x.numpy())
        for m, s, w in zip(mix.means.numpy(), mix.stds.numpy(), mix.weights.numpy(), strict=True)
    )
    torch.testing.assert_close(mix.log_density(sched, x, 0), torch.tensor(pdf).log())


def test_mixture_optimal_eps_minimises_l_simple():
    sched = d.make_schedule("linear", 1000)
    mix, g, t = _mixture(), rng.generator(5), 300
    ab = sched.alpha_bar_at(t)
    x0 = mix.sample(100_000, g)
    eps = torch.randn(x0.shape, generator=g, dtype=F64)
    xt = ab**0.5 * x0 + (1 - ab) ** 0.5 * eps
    best = (eps - mix.optimal_eps(sched, xt, t)).pow(2).sum(1).mean()
    for shift in (0.05, -0.05):
        assert (eps - mix.optimal_eps(sched, xt, t) - shift).pow(2).sum(1).mean() > best
