"""EM for a mixture of Bernoullis (chapter 00 at image size): exact log-likelihood, monotone
EM, recovery of known prototypes, the independent-pixel case, and clear errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from edu_gen.models.likelihood import BernoulliMixture, fit_bernoulli_mixture


def _sample(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary rows from two well-separated 12-pixel prototypes (weights 0.3 / 0.7)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.tensor([[0.9] * 6 + [0.1] * 6, [0.1] * 6 + [0.9] * 6], dtype=torch.float64)
    k = (torch.rand(n, generator=g) < 0.7).long()
    return (torch.rand(n, 12, generator=g, dtype=torch.float64) < mu[k]).double(), mu


def test_log_prob_is_the_mixture_density_summed_by_hand() -> None:
    mix = BernoulliMixture(
        torch.tensor([0.25, 0.75], dtype=torch.float64).log(),
        torch.tensor([[0.2, 0.7, 0.5], [0.9, 0.1, 0.3]], dtype=torch.float64),
    )
    rows = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    by_hand = []
    for x in rows:
        p = sum(
            w * math.prod(float(m if xi else 1 - m) for xi, m in zip(x, mu, strict=True))
            for w, mu in zip((0.25, 0.75), mix.mu, strict=True)
        )
        by_hand.append(math.log(p))
    torch.testing.assert_close(mix.log_prob(rows), torch.tensor(by_hand, dtype=torch.float64))
    assert math.isclose(float(mix.log_prob(rows).exp().sum()), 1.0, rel_tol=1e-12)  # normalised


def test_em_never_lowers_the_training_log_likelihood_and_finds_the_prototypes() -> None:
    x, mu = _sample(2000)
    model, history = fit_bernoulli_mixture(x, 2, iterations=40, seed=3)
    assert bool((history.diff() >= -1e-10).all())  # monotone EM (the clip keeps it exact)
    order = model.mu[:, 0].argsort(descending=True)
    torch.testing.assert_close(model.mu[order], mu, atol=0.04, rtol=0)
    torch.testing.assert_close(
        model.log_pi[order].exp(), torch.tensor([0.3, 0.7]).double(), atol=0.04, rtol=0
    )
    true = BernoulliMixture(torch.tensor([0.3, 0.7]).double().log(), mu)
    assert float(history[-1]) >= float(true.log_prob(x).mean()) - 1e-9  # ML beats the truth


def test_one_component_is_the_independent_pixel_model_with_clipped_means() -> None:
    x, _ = _sample(300)
    x[:, 0] = 0.0  # a pixel never on: its probability is clipped to eps, not 0
    model, history = fit_bernoulli_mixture(x, 1, iterations=3, eps=1e-3)
    p = x.mean(0).clamp(1e-3, 1 - 1e-3)
    direct = (x * p.log() + (1 - x) * torch.log1p(-p)).sum(1).mean()
    torch.testing.assert_close(history[-1], direct)
    assert torch.isfinite(model.log_prob(torch.ones(1, 12, dtype=torch.float64))).all()


def test_more_components_fit_tiny_data_better_and_new_data_worse() -> None:
    """ERM on 20 rows: 20 components memorise them (train up), held-out rows suffer."""
    x, _ = _sample(20, seed=1)
    held_out, _ = _sample(2000, seed=2)
    small, h2 = fit_bernoulli_mixture(x, 2, iterations=60)
    large, h20 = fit_bernoulli_mixture(x, 20, iterations=60)
    assert float(h20[-1]) > float(h2[-1])
    assert float(large.log_prob(held_out).mean()) < float(small.log_prob(held_out).mean()) - 0.5


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (torch.full((4, 3), 0.5), {}, "x: expected binary values"),
        (torch.ones(4), {}, r"x: expected a non-empty \[N, D\] matrix"),
        (torch.ones(0, 3), {}, r"x: expected a non-empty \[N, D\] matrix"),
        (torch.tensor([[0.0, float("nan")]]), {}, "x"),
        (torch.ones(3, 2), {"n_components": 4}, "n_components: expected at most one per data row"),
        (torch.ones(3, 2), {"eps": 0.5}, "eps: expected a probability clip"),
        (torch.ones(3, 2), {"iterations": 0}, "iterations"),
    ],
)
def test_bad_input_is_named(x: torch.Tensor, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bernoulli_mixture(x, kwargs.pop("n_components", 2), **kwargs)


def test_log_prob_rejects_the_wrong_width() -> None:
    model, _ = fit_bernoulli_mixture(torch.ones(3, 2), 1, iterations=1)
    with pytest.raises(ValueError, match="x: expected 2 columns, got 3"):
        model.log_prob(torch.ones(1, 3))
