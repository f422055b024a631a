"""Chapter 02 exercises: corruption processes q_D (eq. 17.4), the denoising loss, the toy manifold.

``02.masking_corrupt`` has a random output, so it is graded by properties instead of by
comparison with a reference: same shape, every entry either unchanged or 0, exactly
``round(nu * D)`` zeros in every row (the inputs contain no zeros of their own), masks
that differ between rows (and, on 32 rows, are not shifted copies of one mask), and random
numbers drawn from the ``generator`` argument the function was called with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.course.grading.core import (
    Case,
    Exercise,
    Inputs,
    allclose,
    register,
    seeded_generator,
)
from edu_gen.models import dae
from edu_gen.models.autoencoder import Autoencoder, l2_loss

# ------------------------------------------------------------------ Gaussian noise


def _gaussian_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 4 + seed % 4, 6 + seed % 5
    return {
        "x": torch.rand(n, d, generator=g),
        "sigma": 0.1 + 0.9 * torch.rand(1, generator=g).item(),
        "generator": seeded_generator(10_000 + seed),
    }


register(
    Exercise(
        id="02.gaussian_corrupt",
        title="Gaussian corruption x~ = x + sigma * eps (eq. 17.4)",
        inputs=_gaussian_inputs,
        reference=dae.gaussian_corrupt,
        grad_inputs=(),  # a corruption of data: never differentiated
        mistakes={
            "sigma is the standard deviation: scale eps by sigma, not sigma**2": lambda x, s, g: (
                x + s**2 * torch.randn(x.shape, generator=g)
            ),
            "the noise is added to x (x + sigma * eps), not multiplied": lambda x, s, g: (
                x * (1 + s * torch.randn(x.shape, generator=g))
            ),
            "return the corrupted input x + sigma * eps, not the noise alone": lambda x, s, g: (
                s * torch.randn(x.shape, generator=g)
            ),
            "draw eps with generator=generator (torch.randn(x.shape, generator=generator))": (
                lambda x, s, g: x + s * torch.randn(x.shape)
            ),
        },
    )
)


# ------------------------------------------------------------------- masking noise


def _masking_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 5 + seed % 4, 9 + seed % 8
    k = 1 + seed % (d - 2)
    # nu * d = k + 0.7 in most cases (round and floor disagree), k + 0.2 in the others.
    frac = 0.2 if seed % 5 == 3 else 0.7
    return {
        "x": 0.2 + 0.8 * torch.rand(n, d, generator=g),  # no zeros, so every 0 was masked
        "nu": (k + frac) / d,
        "generator": seeded_generator(20_000 + seed),
    }


def _masking_many_rows(seed: int) -> dict:
    """32 rows of 20 components, 7 masked: independent subsets are never all shifts of one."""
    g = seeded_generator(seed + 1)
    return {
        "x": 0.2 + 0.8 * torch.rand(32, 20, generator=g),
        "nu": 0.35,
        "generator": seeded_generator(21_000 + seed),
    }


def _one_more_masked(inputs, g):
    d = inputs["x"].shape[1]
    nu = inputs["nu"]
    return nu + 1 / d if round(nu * d) + 1 < d else nu - 1 / d


def _masking_property(got, want, inputs: Inputs) -> tuple[bool, str]:
    x, nu, generator = inputs["x"], inputs["nu"], inputs["generator"]
    if got is None:
        return False, "returned None (missing return?)"
    out = got.detach().cpu() if isinstance(got, torch.Tensor) else torch.as_tensor(got)
    if tuple(out.shape) != tuple(x.shape):
        return False, f"shape {tuple(out.shape)}, expected x's shape {tuple(x.shape)}"
    if not torch.all(torch.isfinite(out)):
        return False, "output contains NaN or inf"
    zero = out == 0
    if not torch.all(zero | torch.isclose(out.to(x.dtype), x.detach())):
        return False, "components that are not masked must keep their value (no rescaling)"
    k = round(nu * x.shape[1])
    counts = zero.sum(dim=1)
    if not torch.all(counts == k):
        return False, (
            f"with nu={nu:.3f} and D={x.shape[1]} every row needs exactly round(nu*D)={k} "
            f"zeros; got {counts.tolist()}"
        )
    if torch.all(zero == zero[0]):
        return False, "every row has the same mask: draw a random subset for each example"
    if torch.equal(generator.get_state(), seeded_generator(generator.initial_seed()).get_state()):
        return False, "no random numbers were drawn from `generator` (pass generator=generator)"
    return True, "ok"


def _independent_rows(got, want, inputs: Inputs) -> tuple[bool, str]:
    ok, message = _masking_property(got, want, inputs)
    if not ok:
        return ok, message
    zero = got.detach().cpu() == 0
    shifts = torch.stack([zero[0].roll(s) for s in range(zero.shape[1])])
    if all(bool((shifts == row).all(1).any()) for row in zero[1:]):
        return False, "every row's mask is a shifted copy of the first: draw each row's own subset"
    return True, "ok"


def _mask_floor(x, nu, g):
    k = math.floor(nu * x.shape[1])
    order = torch.rand(x.shape, generator=g).argsort(dim=1)
    drop = torch.zeros_like(x, dtype=torch.bool).scatter(1, order[:, :k], True)
    return torch.where(drop, torch.zeros_like(x), x)


def _mask_bernoulli(x, nu, g):
    return torch.where(torch.rand(x.shape, generator=g) < nu, torch.zeros_like(x), x)


def _mask_shared(x, nu, g):
    k = round(nu * x.shape[1])
    drop = torch.zeros(x.shape[1], dtype=torch.bool)
    drop[torch.randperm(x.shape[1], generator=g)[:k]] = True
    return torch.where(drop, torch.zeros_like(x), x)


def _mask_keep_fraction(x, nu, g):
    k = round(nu * x.shape[1])
    order = torch.rand(x.shape, generator=g).argsort(dim=1)
    keep = torch.zeros_like(x, dtype=torch.bool).scatter(1, order[:, :k], True)
    return torch.where(keep, x, torch.zeros_like(x))


def _mask_global_rng(x, nu, g):
    return dae.masking_corrupt(x, nu)


register(
    Exercise(
        id="02.masking_corrupt",
        title="Masking noise: round(nu*D) random components of each example set to 0",
        inputs=_masking_inputs,
        reference=None,
        stand_in=dae.masking_corrupt,
        compare=_masking_property,
        grad_inputs=(),  # a corruption of data: never differentiated
        perturb={"nu": _one_more_masked},
        edge_cases=(
            Case(
                "32 rows: each row's subset must be drawn independently",
                _masking_many_rows,
                compare=_independent_rows,
            ),
        ),
        mistakes={
            "k = round(nu * D), not int(nu * D) (which rounds down)": _mask_floor,
            "mask exactly round(nu*D) components per row, not each one with probability nu": (
                _mask_bernoulli
            ),
            "F.dropout rescales the kept components by 1/(1-nu); keep them unchanged": (
                lambda x, nu, g: F.dropout(x, p=nu, training=True)
            ),
            "choose a new random subset for every example (row), not one for the batch": (
                _mask_shared
            ),
            "nu is the fraction destroyed, not the fraction kept": _mask_keep_fraction,
            "draw the random numbers from `generator`": _mask_global_rng,
        },
    )
)


# ------------------------------------------------------------------ denoising loss


def _dae_loss_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d, k = 6 + seed % 5, 8 + seed % 4, 3 + seed % 3
    model = Autoencoder(d, k, hidden=(), code_activation="sigmoid", out_activation="sigmoid")
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.7 * torch.randn(p.shape, generator=g))
    sigma = 0.2 + 0.5 * torch.rand(1, generator=g).item()
    return {
        "model": model,
        "x": torch.rand(n, d, generator=g),
        "corrupt": dae.corruption("gaussian", sigma, generator=seeded_generator(30_000 + seed)),
    }


def _loss_vs_corrupted(model, x, corrupt):
    x_tilde = corrupt(x)
    return l2_loss(x_tilde, model(x_tilde))


def _fresh_target(model, x, corrupt):
    return l2_loss(corrupt(x), model(corrupt(x)))


register(
    Exercise(
        id="02.dae_loss",
        title="Denoising loss: reconstruct from x~, compare with the clean x (eq. 17.3-17.4)",
        inputs=_dae_loss_inputs,
        reference=lambda model, x, corrupt: dae.dae_loss(model, x, corrupt, "l2"),
        grad_inputs=(),  # the gradient that trains the model: its parameters'
        mistakes={
            "compare the reconstruction with the clean x, not with x~": _loss_vs_corrupted,
            "feed the corrupted x~ = corrupt(x) to the model, not x": lambda model, x, c: l2_loss(
                x, model(x)
            ),
            "sum the squared errors over the D components, then average over the batch": (
                lambda model, x, c: (model(c(x)) - x).pow(2).mean()
            ),
            "the target is the clean x, not a second corrupted copy corrupt(x)": _fresh_target,
        },
    )
)


# ------------------------------------------------------------- distance to circle


def _distance_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 10 + seed % 7
    radius = 0.5 + 1.5 * torch.rand(1, generator=g).item()
    return {"points": 1.5 * radius * torch.randn(n, 2, generator=g), "radius": radius}


def _origin_and_circle(seed: int) -> dict:
    """The origin (distance r, no direction to project along) and points on the circle."""
    inputs = _distance_inputs(seed)
    points, radius = inputs["points"], inputs["radius"]
    angle = torch.tensor([0.3, 2.0, 4.0])
    on_circle = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return {"points": torch.cat([torch.zeros(1, 2), on_circle, points]), "radius": radius}


register(
    Exercise(
        id="02.distance_to_manifold",
        title="Exact distance from 2-D points to the circle of radius r",
        inputs=_distance_inputs,
        reference=dae.distance_to_manifold,
        compare=allclose(atol=1e-5),
        edge_cases=(
            Case(
                "the origin (distance r) and points on the circle (distance 0)",
                _origin_and_circle,
                "every point of the circle is nearest to the origin: avoid dividing by |p|",
            ),
        ),
        mistakes={
            "a distance is never negative: take the absolute value of |p| - r": (
                lambda p, r: p.norm(dim=1) - r
            ),
            "return the distance itself, not its square": lambda p, r: (p.norm(dim=1) - r) ** 2,
            "subtract the radius from the norm of each point (row), |p| - r": lambda p, r: (
                p.norm(dim=1) ** 2 - r**2
            ).abs(),
            "take the norm of each point over its 2 coordinates (dim=1)": lambda p, r: (
                p.norm(dim=0) - r
            ).abs(),
        },
    )
)
