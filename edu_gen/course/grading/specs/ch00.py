"""Chapter 00 exercises: KL on a grid, Gaussian cross-entropy, and two maximum-likelihood fits."""

from __future__ import annotations

import math

import torch

from edu_gen.course.grading.core import (
    Case,
    Exercise,
    allclose,
    perturb,
    register,
    seeded_generator,
)
from edu_gen.models import likelihood as lik


def _density(values: torch.Tensor, dx: float, g: torch.Generator) -> torch.Tensor:
    """``values`` scaled to a mass within 0.5% of one (a truncated grid never sums to exactly
    one, so ``dx`` cannot be recomputed as ``1 / p.sum()``)."""
    mass = 1 + 0.01 * (float(torch.rand((), generator=g)) - 0.5)
    return values * mass / (values.sum() * dx)


def _kl_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 12 + seed % 7
    dx = 0.1 + 0.05 * (seed % 5)
    p = torch.rand(n, generator=g, dtype=torch.float64) ** 2
    p[torch.randperm(n, generator=g)[:3]] = 0.0  # some cells where p_data has no mass
    q = torch.rand(n, generator=g, dtype=torch.float64) + 0.05
    return {"p": _density(p, dx, g), "q": _density(q, dx, g), "dx": dx}


def _changed_density(name: str):
    def change(inputs, g):
        return _density(perturb(inputs[name], g), inputs["dx"], g)

    return change


def _kl_naive(p, q, dx):
    return (p * torch.log(p / q)).sum() * dx  # 0 * log 0 -> NaN


register(
    Exercise(
        id="00.kl_divergence",
        title="KL(p || q) between two densities on a grid",
        inputs=_kl_inputs,
        reference=lik.kl_divergence,
        compare=allclose(atol=1e-8, rtol=1e-6),
        grad_inputs=("q",),  # d/dp of p log p is -inf at p = 0: only q's gradient is checked
        perturb={
            "p": _changed_density("p"),
            "q": _changed_density("q"),
            "dx": lambda inputs, g: inputs["dx"] * 1.004,  # the masses stay within 1% of one
        },
        mistakes={
            "multiply the sum by the grid spacing dx (a Riemann sum)": lambda p, q, dx: (
                lik.kl_divergence(p, q, dx) / dx
            ),
            "KL(p || q) weights the log-ratio by p, not by q": lambda p, q, dx: lik.kl_divergence(
                q, p, dx
            ),
            "cells with p = 0 contribute 0 (0 log 0 = 0); skip them": _kl_naive,
            "the log-ratio is log(p / q), not log(q / p)": lambda p, q, dx: (
                -lik.kl_divergence(p, q, dx)
            ),
        },
    )
)


def _ce_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 4 + seed % 3
    return {
        "mean_p": torch.randn(n, generator=g, dtype=torch.float64),
        "var_p": torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.2,
        "mu": torch.randn(n, generator=g, dtype=torch.float64),
        "logvar": torch.randn(n, generator=g, dtype=torch.float64),
    }


register(
    Exercise(
        id="00.gaussian_cross_entropy",
        title="Cross-entropy of a distribution (mean, variance) against N(mu, exp(logvar))",
        inputs=_ce_inputs,
        reference=lik.gaussian_cross_entropy,
        mistakes={
            "E[(x-mu)^2] = var_p + (mean_p-mu)^2: keep the variance of p": lambda m, v, mu, lv: (
                0.5 * (math.log(2 * math.pi) + lv + (m - mu) ** 2 * torch.exp(-lv))
            ),
            "divide by the variance exp(logvar), not the standard deviation": lambda m, v, mu, lv: (
                0.5 * (math.log(2 * math.pi) + lv + (v + (m - mu) ** 2) * torch.exp(-lv / 2))
            ),
            "keep the normalising constant log(2 pi)": lambda m, v, mu, lv: (
                0.5 * (lv + (v + (m - mu) ** 2) * torch.exp(-lv))
            ),
            "a cross-entropy is minus an expected log-density": lambda m, v, mu, lv: (
                -lik.gaussian_cross_entropy(m, v, mu, lv)
            ),
        },
    )
)


def _mle_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 5 + seed % 6  # small samples make N and N - 1 clearly different
    return {"x": 3 * torch.randn(n, generator=g, dtype=torch.float64) + 1}


register(
    Exercise(
        id="00.gaussian_mle",
        title="Maximum-likelihood mean and variance of a Gaussian",
        inputs=_mle_inputs,
        reference=lik.gaussian_mle,
        mistakes={
            "the maximum-likelihood variance divides by N, not N - 1": lambda x: (
                x.mean(),
                x.var(unbiased=True),
            ),
            "return the variance, not the standard deviation": lambda x: (
                x.mean(),
                ((x - x.mean()) ** 2).mean().sqrt(),
            ),
            "centre the data at the mean before squaring": lambda x: (x.mean(), (x**2).mean()),
        },
    )
)


def _hist_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 30 + seed % 20
    widths = torch.rand(6 + seed % 4, generator=g, dtype=torch.float64) + 0.3
    edges = torch.cat([torch.zeros(1, dtype=torch.float64), widths.cumsum(0)]) - 2.0
    x = edges[0] + (edges[-1] - edges[0]) * torch.rand(n, generator=g, dtype=torch.float64) ** 1.5
    return {"x": x, "edges": edges}


def _points_on_edges(seed: int) -> dict:
    """Every edge (the first, the inner ones, the last) appears among the points, and one
    bin stays empty."""
    inputs = _hist_inputs(seed)
    x, edges = inputs["x"], inputs["edges"]
    empty = (x >= edges[2]) & (x < edges[3])
    x = torch.cat([x[~empty], edges, edges[1:-1]])
    x[x == edges[3]] = edges[4]  # keep bin 2 = [edges[2], edges[3]) empty
    return {"x": x, "edges": edges}


def _moved_inner_edges(inputs, g):
    edges = inputs["edges"].clone()
    widths = edges[1:] - edges[:-1]
    shift = 0.3 * float(widths.min()) * (2 * torch.rand(len(edges) - 2, generator=g) - 1)
    edges[1:-1] += shift.to(edges.dtype)
    return edges


def _moved_points(inputs, g):
    edges = inputs["edges"]
    return (perturb(inputs["x"], g)).clamp(float(edges[0]), float(edges[-1]))


def _counts(x, edges):
    index = (torch.bucketize(x, edges, right=True) - 1).clamp(0, len(edges) - 2)
    return torch.bincount(index, minlength=len(edges) - 1).to(edges.dtype)


register(
    Exercise(
        id="00.histogram_mle",
        title="Maximum-likelihood histogram density n_b / (N w_b)",
        inputs=_hist_inputs,
        reference=lik.histogram_mle,
        grad_inputs=(),  # counts are not differentiable; the edges are data, not parameters
        perturb={"x": _moved_points, "edges": _moved_inner_edges},
        edge_cases=(
            Case(
                "points exactly on the edges, and an empty bin",
                _points_on_edges,
                "a point equal to an inner edge belongs to the bin on its right, the last "
                "edge to the last bin, and an empty bin has density 0",
            ),
        ),
        mistakes={
            "a density divides the bin probability by the bin width": lambda x, e: (
                _counts(x, e) / len(x)
            ),
            "divide the counts by the number of points N": lambda x, e: (
                _counts(x, e) / (e[1:] - e[:-1])
            ),
            "bins can have different widths: use each bin's own width": lambda x, e: (
                _counts(x, e) / (len(x) * (e[-1] - e[0]) / (len(e) - 1))
            ),
        },
    )
)
