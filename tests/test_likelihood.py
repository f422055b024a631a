"""Tests for edu_gen.models.likelihood (chapter 00):
grid KL/entropy, closed-form cross-entropy, MLEs.

Oracles: scipy.stats (entropy, norm, gaussian mixtures via logsumexp of scipy densities),
numpy.histogram(density=True) and closed-form Gaussian KLs from edu_gen.core.distributions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from edu_gen.core.distributions import kl_normal
from edu_gen.models import likelihood as L

P_DATA = L.GaussianMixture1D((0.3, 0.7), (-2.0, 1.5), (0.6, 0.8))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------- grid divergences


def test_discrete_kl_and_entropy_match_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    pt, qt = torch.tensor(p), torch.tensor(q)
    assert L.kl_divergence(pt, qt).item() == pytest.approx(scipy.stats.entropy(p, q), rel=1e-12)
    assert L.entropy(pt).item() == pytest.approx(scipy.stats.entropy(p), rel=1e-12)
    ce = L.cross_entropy(pt, qt).item()
    assert ce == pytest.approx(scipy.stats.entropy(p) + scipy.stats.entropy(p, q), rel=1e-12)


def test_grid_kl_between_gaussians_matches_closed_form():
    x, dx = L.grid(-15, 15, 6000)
    mus = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    p = torch.exp(L.gaussian_log_prob(x, 0.5, 1.5))
    q = torch.exp(L.gaussian_log_prob(x[None, :], mus[:, None], 0.8))
    got = L.kl_divergence(p, q, dx)  # broadcasts: one KL per model
    want = kl_normal(
        torch.full((3, 1), 0.5, dtype=torch.float64),
        torch.full((3, 1), math.log(1.5), dtype=torch.float64),
        mus[:, None],
        torch.full((3, 1), math.log(0.8), dtype=torch.float64),
    )
    torch.testing.assert_close(got, want, atol=1e-8, rtol=1e-8)
    # differential entropy of N(0.5, 1.5): 0.5 log(2 pi e 1.5)
    assert L.entropy(p, dx).item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 1.5))


def test_zero_probabilities_follow_the_conventions():
    p = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    assert L.kl_divergence(p, q).item() == pytest.approx(math.log(2))  # 0 log 0 = 0
    assert L.entropy(p).item() == pytest.approx(math.log(2))
    assert math.isinf(L.kl_divergence(q, p).item())  # q puts mass where p has none
    assert not math.isnan(L.kl_divergence(q, p).item())


def test_kl_is_cross_entropy_minus_entropy_on_a_grid_and_minimised_at_the_mean():
    x, dx = L.grid(-10, 10, 4000)
    p = P_DATA.prob(x)
    thetas = torch.linspace(-3, 3, 121, dtype=torch.float64)
    q = torch.exp(L.gaussian_log_prob(x[None, :], thetas[:, None], 1.0))
    kl, ce, h = L.kl_divergence(p, q, dx), L.cross_entropy(p, q, dx), L.entropy(p, dx)
    torch.testing.assert_close(kl, ce - h)
    assert thetas[kl.argmin()].item() == pytest.approx(P_DATA.mean(), abs=0.05 / 2 + 1e-9)
    # the closed form only needs the mean and the variance of p_data
    closed = L.gaussian_cross_entropy(P_DATA.mean(), P_DATA.var(), thetas, 0.0)
    torch.testing.assert_close(closed, ce, atol=1e-9, rtol=0)


def test_gaussian_cross_entropy_of_a_gaussian_is_its_kl_plus_entropy():
    m, v, mu, lv = 0.3, 2.0, -1.0, 0.4
    h = 0.5 * math.log(2 * math.pi * math.e * v)
    kl = kl_normal(torch.tensor([m]), torch.tensor([math.log(v)]), mu, lv).item()
    assert L.gaussian_cross_entropy(m, v, mu, lv).item() == pytest.approx(kl + h, rel=1e-6)


def test_grid_functions_reject_bad_input():
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="p: expected finite, non-negative"):
        L.entropy(torch.log(p))
    with pytest.raises(ValueError, match="normalised distribution"):
        L.kl_divergence(torch.tensor([0.5, 0.9]), p)
    with pytest.raises(ValueError, match="dx: expected a positive"):
        L.kl_divergence(p, p, dx=0.0)
    with pytest.raises(ValueError, match="same grid"):
        L.kl_divergence(p, torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(TypeError, match="p: expected a floating-point"):
        L.entropy(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="var_p"):
        L.gaussian_cross_entropy(0.0, -1.0, 0.0, 0.0)


# ------------------------------------------------------------------------- the models


def test_mixture_log_prob_mean_and_var_match_scipy():
    x = torch.linspace(-6, 6, 41, dtype=torch.float64)
    want = sum(
        w * scipy.stats.norm(m, s).pdf(x.numpy())
        for w, m, s in zip(P_DATA.weights, P_DATA.means, P_DATA.stds, strict=True)
    )
    np.testing.assert_allclose(P_DATA.prob(x).numpy(), want, rtol=1e-10)
    # far in the tails logsumexp keeps the log-density finite
    assert torch.isfinite(P_DATA.log_prob(torch.tensor([80.0], dtype=torch.float64))).all()
    sample = P_DATA.sample(200_000, gen(0))
    assert sample.mean().item() == pytest.approx(P_DATA.mean(), abs=0.02)
    assert sample.var().item() == pytest.approx(P_DATA.var(), rel=0.02)


def test_mixture_validates_parameters():
    with pytest.raises(ValueError, match="weights"):
        L.GaussianMixture1D((0.5, 0.6), (0.0, 1.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="stds"):
        L.GaussianMixture1D((0.5, 0.5), (0.0, 1.0), (1.0, 0.0))
    with pytest.raises(ValueError, match="same length"):
        L.GaussianMixture1D((1.0,), (0.0, 1.0), (1.0,))


def test_gaussian_mle_divides_by_n_and_maximises_the_likelihood():
    x = P_DATA.sample(50, gen(1))
    mean, var = L.gaussian_mle(x)
    assert mean.item() == pytest.approx(np.mean(x.numpy()))
    assert var.item() == pytest.approx(np.var(x.numpy(), ddof=0))
    best = L.empirical_log_likelihood(lambda t: L.gaussian_log_prob(t, mean, var), x)
    want = scipy.stats.norm(mean.item(), var.sqrt().item()).logpdf(x.numpy()).mean()
    assert best.item() == pytest.approx(want)
    for dm, dv in ((0.1, 0.0), (0.0, 0.1), (0.0, -0.1)):
        m2, v2 = mean + dm, var + dv
        other = L.empirical_log_likelihood(
            lambda t, m2=m2, v2=v2: L.gaussian_log_prob(t, m2, v2), x
        )
        assert other < best


def test_histogram_mle_matches_numpy_density_histogram():
    x = P_DATA.sample(300, gen(2)).clamp(-5, 5)
    edges = torch.linspace(-5, 5, 17, dtype=torch.float64)
    want, _ = np.histogram(x.numpy(), bins=edges.numpy(), density=True)
    np.testing.assert_allclose(L.histogram_mle(x, edges).numpy(), want, rtol=1e-12)
    uneven = torch.tensor([-5.0, -1.0, 0.0, 0.5, 5.0], dtype=torch.float64)
    want, _ = np.histogram(x.numpy(), bins=uneven.numpy(), density=True)
    np.testing.assert_allclose(L.histogram_mle(x, uneven).numpy(), want, rtol=1e-12)


def test_histogram_density_gives_minus_inf_not_nan_on_unseen_regions():
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    h = L.HistogramDensity.fit(x, 0.0, 1.0, 10)
    out = h.log_prob(torch.tensor([0.15, 0.95, 3.0], dtype=torch.float64))
    assert out[0].item() == pytest.approx(math.log(1 / 3 / 0.1))
    assert out[1].item() == -math.inf and out[2].item() == -math.inf
    ll = L.empirical_log_likelihood(h.log_prob, torch.tensor([0.15, 0.95], dtype=torch.float64))
    assert ll.item() == -math.inf
    with pytest.raises(ValueError, match="x: every point must lie"):
        L.histogram_mle(torch.tensor([2.0]), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="edges: expected an increasing"):
        L.histogram_mle(x, torch.tensor([0.0, 0.0, 1.0]))


def test_richer_mixtures_overfit_tiny_data_and_the_single_gaussian_underfits():
    x_small, x_big, x_test = (P_DATA.sample(n, gen(s)) for n, s in ((20, 3), (2000, 4), (5000, 5)))

    def scores(x_train, k):
        model = L.fit_gaussian_mixture(x_train, k, seed=0)
        train = L.empirical_log_likelihood(model.log_prob, x_train).item()
        return train, L.empirical_log_likelihood(model.log_prob, x_test).item()

    train2, test2 = scores(x_small, 2)
    train16, test16 = scores(x_small, 16)
    assert train16 > train2 and test16 < test2 - 1.0  # over-fitting
    _, test1_big = scores(x_big, 1)
    _, test2_big = scores(x_big, 2)
    best_gaussian = -L.gaussian_cross_entropy(
        P_DATA.mean(), P_DATA.var(), P_DATA.mean(), math.log(P_DATA.var())
    )
    assert test1_big == pytest.approx(best_gaussian.item(), abs=0.05)  # under-fitting
    assert test2_big > test1_big + 0.2
    with pytest.raises(ValueError, match="n_components: expected at most"):
        L.fit_gaussian_mixture(x_small, 21)


def test_empirical_log_likelihood_checks_its_inputs():
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="one log-density per data point"):
        L.empirical_log_likelihood(lambda t: t.sum(), x)
    with pytest.raises(ValueError, match="NaN"):
        L.empirical_log_likelihood(lambda t: t * float("nan"), x)
    with pytest.raises(ValueError, match="at least one data point"):
        L.empirical_log_likelihood(lambda t: t, torch.zeros(0))


def test_implicit_sampler_is_seeded_and_has_no_closed_form_but_a_histogram_estimate():
    a, b = L.implicit_sample(1000, gen(7)), L.implicit_sample(1000, gen(7))
    torch.testing.assert_close(a, b)
    big = L.implicit_sample(200_000, gen(8))
    # sanity: the histogram MLE of its samples integrates to one
    h = L.HistogramDensity.fit(big, float(big.min()), float(big.max()), 50)
    widths = h.edges[1:] - h.edges[:-1]
    assert (h.densities * widths).sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "mutant",
    [
        lambda p, q, dx: (p * torch.log(q / p)).sum(-1) * dx,  # wrong sign
        lambda p, q, dx: (q * torch.log(q / p)).sum(-1) * dx,  # reverse KL
        lambda p, q, dx: (p * torch.log(p / q)).sum(-1),  # missing dx
    ],
    ids=["sign", "reverse", "no-dx"],
)
def test_the_scipy_comparison_catches_kl_mutants(mutant):
    x, dx = L.grid(-8, 8, 800)
    p = torch.exp(L.gaussian_log_prob(x, 0.0, 1.0))
    q = torch.exp(L.gaussian_log_prob(x, 1.0, 2.0))
    want = kl_normal(torch.zeros(1), torch.zeros(1), 1.0, math.log(2.0)).item()
    assert L.kl_divergence(p, q, dx).item() == pytest.approx(want, rel=1e-6)
    assert mutant(p, q, dx).item() != pytest.approx(want, rel=1e-2)


def test_pixel_histograms_count_smooth_and_score_exactly() -> None:
    levels = torch.tensor([[0, 2], [0, 1], [1, 2], [0, 2]])  # 4 images, 2 pixels, 3 levels
    model = L.PixelHistograms.fit(levels, 3, smoothing=0.5)
    expected = torch.tensor([[3.5, 1.5, 0.5], [0.5, 1.5, 3.5]], dtype=torch.float64) / 5.5
    torch.testing.assert_close(model.log_probs.exp(), expected)
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0]])  # float levels are fine if whole numbers
    by_hand = torch.tensor([0.5 / 5.5 * 0.5 / 5.5, 3.5 / 5.5 * 3.5 / 5.5]).double().log()
    torch.testing.assert_close(model.log_prob(x), by_hand)
    every = torch.cartesian_prod(torch.arange(3), torch.arange(3))  # all 9 images
    assert math.isclose(float(model.log_prob(every).exp().sum()), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("levels", "n_levels", "smoothing", "message"),
    [
        (torch.tensor([[0, 3]]), 3, 1.0, r"levels: expected values in 0\.\.2"),
        (torch.tensor([[0.5, 1.0]]), 3, 1.0, "levels: expected integer grey levels"),
        (torch.tensor([0, 1]), 3, 1.0, r"levels: expected a non-empty \[N, D\] tensor"),
        (torch.tensor([[0, 1]]), 3, 0.0, "smoothing: expected a positive pseudo-count"),
        (torch.tensor([[0, 1]]), 0, 1.0, "n_levels"),
    ],
)
def test_pixel_histograms_reject_bad_input(levels, n_levels, smoothing, message) -> None:
    with pytest.raises(ValueError, match=message):
        L.PixelHistograms.fit(levels, n_levels, smoothing)


def test_pixel_histograms_score_only_images_of_their_width() -> None:
    model = L.PixelHistograms.fit(torch.tensor([[0, 1]]), 2)
    with pytest.raises(ValueError, match="levels: expected 2 pixels per row, got 3"):
        model.log_prob(torch.tensor([[0, 1, 1]]))
