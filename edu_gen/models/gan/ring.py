"""The 2-D ring of Gaussians, the usual test bed for mode collapse, and its mode counter.

A mode is *covered* when at least ``min_fraction`` of the samples lie within ``max_dist`` of
its centre (nearest centre wins); samples far from every centre count nowhere.
"""

from __future__ import annotations

import math

import torch

from edu_gen.core.checks import (
    bounded_float,
    finite_tensor,
    float_tensor,
    non_empty,
    positive_float,
    positive_int,
)

Tensor = torch.Tensor

__all__ = ["count_modes", "mode_counts", "ring_centres", "sample_ring"]


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """``n_modes`` points evenly spaced on a circle of ``radius``, shape ``[n_modes, 2]``."""
    positive_int("n_modes", n_modes)
    positive_float("radius", radius)
    angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float32) / n_modes
    return radius * torch.stack([angle.cos(), angle.sin()], 1)


def sample_ring(
    n: int,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``n`` samples of an equal-weight mixture of Gaussians on a ring, shape ``[n, 2]``.

    ``generator`` is the random-number generator (``None``: torch's global one).
    """
    positive_int("n", n)
    bounded_float("std", std, 0.0)
    centres = ring_centres(n_modes, radius)
    idx = torch.randint(n_modes, (n,), generator=generator)
    return centres[idx] + std * torch.randn(n, 2, generator=generator)


def mode_counts(samples: Tensor, centres: Tensor, max_dist: float) -> Tensor:
    """How many samples lie within ``max_dist`` of each centre (nearest centre wins).

    Samples farther than ``max_dist`` from every centre are counted nowhere (low quality).
    """
    finite_tensor("samples", float_tensor("samples", samples))
    finite_tensor("centres", float_tensor("centres", centres))
    positive_float("max_dist", max_dist)
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"samples, centres: expected [n, d] and [k, d], got {tuple(samples.shape)} "
            f"and {tuple(centres.shape)}"
        )
    dist = torch.cdist(samples.float(), centres.float())
    nearest = dist.min(1)
    close = nearest.values <= max_dist
    return torch.bincount(nearest.indices[close], minlength=centres.shape[0])


def count_modes(
    samples: Tensor, centres: Tensor, max_dist: float, min_fraction: float = 0.02
) -> int:
    """Number of modes that receive at least ``min_fraction`` of the samples (within ``max_dist``).

    With 8 equal modes a perfect generator puts 1/8 = 12.5 % on each; the default 2 % counts a
    mode as covered even when it is clearly under-weighted, but not for a few stray points.
    """
    non_empty("samples", samples)
    bounded_float("min_fraction", min_fraction, 0.0, 1.0)
    counts = mode_counts(samples, centres, max_dist)
    return int((counts >= min_fraction * samples.shape[0]).sum())
