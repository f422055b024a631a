r"""Samplers: DDPM ancestral sampling, DDIM (η, sub-sequence τ), DDIM inversion, slerp.

DDPM (Ho et al. 2020, Alg. 2): for t = T..1,
:math:`x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z` with z ~ N(0, I) for t > 1 and z = 0 at t = 1.

DDIM (Song, Meng & Ermon 2021, eq. 12): on a decreasing sub-sequence τ_S > … > τ_1 of 1..T
(followed by τ_0 = 0, where ᾱ_0 = 1), with t = τ_i and s = τ_{i-1},

.. math::
    x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\,\hat\varepsilon
          + \sigma z,
    \qquad \sigma = \eta\sqrt{\tfrac{1-\bar\alpha_s}{1-\bar\alpha_t}}
    \sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_s}}.

η = 1 with τ = 1..T is DDPM with σ_t² = β̃_t; η = 0 is deterministic. Noise order: both
samplers draw x_T first, then one z per step *except the last one* (whatever η is), so DDPM and
DDIM(η=1, all steps) consume the same random numbers from the same generator. To pass the
noise in instead, give ``noise``: a tensor ``[K, *shape]`` with one z per step, ``noise[k - 1]``
used on the step that *leaves* the k-th visited step (DDPM: K = T and step t uses
``noise[t - 1]``; DDIM: K = S and the step leaving τ_k uses ``noise[k - 1]``); ``noise[0]``
belongs to the last step, which adds no noise, and is never read.

Both samplers return the batch x_0 as one tensor, like every image family's ``sample``; they
take the denoiser, the schedule and the ``shape`` of the batch (``(n, *data_shape)``: a
denoiser is any callable, so it cannot say what shape its data have). To follow the model's
guess x̂_0 along the chain, pass ``record``, a dict whose keys are the steps t to keep: the
sampler fills in x̂_0 predicted at each (``record = dict.fromkeys([1000, 500, 1])``).

DDIM inversion runs the η = 0 update forwards in time (0 = τ_0 → τ_1 → … → τ_S), evaluating
ε_θ at the step it moves *to* (the model is not defined at t = 0) — the convention of
diffusers' ``DDIMInverseScheduler``.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import torch

from edu_gen.core import rng
from edu_gen.core.checks import finite_tensor, nonzero_vectors
from edu_gen.models.diffusion.process import (
    Denoiser,
    as_timesteps,
    p_mean_variance,
)
from edu_gen.models.diffusion.schedules import Schedule

Tensor = torch.Tensor
SPACINGS: tuple[str, ...] = ("linear", "quadratic")


def ddim_timesteps(T: int, S: int, spacing: str = "linear") -> list[int]:  # noqa: N803
    """Increasing τ_1 < … < τ_S in 1..T (τ_1 = 1).

    ``"linear"``: τ_i = (i-1)·⌊T/S⌋ + 1; ``"quadratic"``: τ_i = ⌊(c·(i-1)/(S-1))²⌋ + 1 with
    c = √(0.8 T) (Song et al.'s CIFAR-10 choice), made strictly increasing.
    """
    if isinstance(S, bool) or not isinstance(S, int) or not 1 <= S <= T:
        raise ValueError(f"S: expected an int in 1..T={T}, got {S!r}")
    if spacing not in SPACINGS:
        raise ValueError(f"spacing: expected one of {SPACINGS}, got {spacing!r}")
    if spacing == "linear":
        return [k * (T // S) + 1 for k in range(S)]
    grid = torch.linspace(0, (0.8 * T) ** 0.5, S, dtype=torch.float64) ** 2
    steps = [int(v) + 1 for v in grid]
    for i in range(1, S):  # keep strictly increasing where rounding collided
        steps[i] = max(steps[i], steps[i - 1] + 1)
    if steps[-1] > T:
        raise ValueError(f"S={S} is too many quadratic steps for T={T}")
    return steps


def _check_taus(taus: list[int], T: int) -> None:  # noqa: N803
    if any(not isinstance(v, int) for v in taus) or taus[-1] > T or len(taus) < 2:
        raise ValueError(f"timesteps: expected increasing ints in 1..T={T}, got {taus[1:]}")
    if any(b <= a for a, b in zip(taus, taus[1:], strict=False)):
        raise ValueError(f"timesteps: expected strictly increasing steps >= 1, got {taus[1:]}")


def _draw(shape, like_dtype, device, generator) -> Tensor:
    return rng.draw(torch.randn, shape, generator=generator, device=device, dtype=like_dtype)


def _check_noise(noise: Tensor | None, steps: int, shape: tuple[int, ...]) -> Tensor | None:
    if noise is not None and (
        not isinstance(noise, Tensor) or tuple(noise.shape) != (steps, *shape)
    ):
        got = tuple(noise.shape) if isinstance(noise, Tensor) else type(noise).__name__
        raise ValueError(
            f"noise: expected a tensor of shape {(steps, *shape)} (one z per step), got {got}"
        )
    return noise


def _check_record(record: object) -> MutableMapping[int, Tensor | None]:
    if record is None:
        return {}
    if not isinstance(record, MutableMapping):
        raise TypeError(
            "record: expected a dict whose keys are the steps t at which to keep x̂_0 (the "
            "sampler fills in the values), e.g. dict.fromkeys([1000, 1]); got "
            f"{type(record).__name__}"
        )
    return record


@torch.no_grad()
def ddpm_sample(
    model: Denoiser,
    sched: Schedule,
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    x_T: Tensor | None = None,  # noqa: N803
    var_type: str = "beta_tilde",
    clip: float | None = None,
    record: MutableMapping[int, Tensor | None] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    noise: Tensor | None = None,
) -> Tensor:
    """Ancestral sampling (Alg. 2): a batch x_0 of ``shape`` (a tensor).

    ``record`` (a dict keyed by steps t) receives x̂_0 predicted at each of its steps;
    ``noise`` ``[T, *shape]`` gives the z of every step (step t uses ``noise[t - 1]``)
    instead of drawing them from ``generator``.
    """
    record = _check_record(record)
    noise = _check_noise(noise, sched.T, tuple(shape))
    x = _draw(shape, dtype, device, generator) if x_T is None else x_T.clone()
    for step in range(sched.T, 0, -1):
        t = as_timesteps(step, shape[0], sched.T, x.device)
        out = p_mean_variance(model, sched, x, t, var_type, clip)
        if step in record:
            record[step] = out.x0.clone()
        x = out.mean
        if step > 1:
            z = _draw(shape, x.dtype, x.device, generator) if noise is None else noise[step - 1]
            x = x + out.variance.sqrt() * z
    return x


def ddim_sigma(sched: Schedule, t: int, s: int, eta: float) -> float:
    """σ_{t→s}(η) of the DDIM update from step t to step s < t (see the module docstring)."""
    ab_t, ab_s = sched.alpha_bar_at(t), sched.alpha_bar_at(s)
    return eta * max((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s), 0.0) ** 0.5


def ddim_step(
    sched: Schedule,
    x: Tensor,
    eps: Tensor,
    t: int,
    s: int,
    eta: float,
    z: Tensor | None,
    clip: float | None = None,
) -> tuple[Tensor, Tensor]:
    """One DDIM update x_t → x_s given ε̂; returns (x_s, x̂_0).

    ``clip`` clamps x̂_0 into [-clip, clip] and recomputes ε̂ from it (off by default).
    """
    if not 0 <= s < t <= sched.T:
        raise ValueError(f"t, s: expected 0 <= s < t <= T={sched.T}, got t={t}, s={s}")
    ab_t = sched.alpha_bar_at(t)
    x0 = (x - (1 - ab_t) ** 0.5 * eps) / ab_t**0.5  # x̂_0 from ε̂
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
        eps = (x - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5
    ab_s = sched.alpha_bar_at(s)
    sigma = ddim_sigma(sched, t, s, eta)
    out = ab_s**0.5 * x0 + max(1 - ab_s - sigma**2, 0.0) ** 0.5 * eps
    if sigma > 0 and z is not None:
        out = out + sigma * z
    return out, x0


@torch.no_grad()
def ddim_sample(
    model: Denoiser,
    sched: Schedule,
    shape: tuple[int, ...],
    *,
    S: int | None = None,  # noqa: N803
    eta: float = 0.0,
    spacing: str = "linear",
    timesteps: list[int] | None = None,
    generator: torch.Generator | None = None,
    x_T: Tensor | None = None,  # noqa: N803
    clip: float | None = None,
    record: MutableMapping[int, Tensor | None] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    noise: Tensor | None = None,
) -> Tensor:
    """DDIM sampling on τ (``timesteps`` or :func:`ddim_timesteps`(T, S, spacing)); S model calls.

    Returns the batch x_0 of ``shape`` (a tensor); ``record`` (a dict keyed by steps t)
    receives x̂_0 at each of its steps that τ visits; ``noise`` ``[S, *shape]`` gives the z
    of every step (the step leaving τ_k uses ``noise[k - 1]``) instead of drawing them.
    """
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta: expected a number in [0, 1], got {eta!r}")
    if timesteps is None:
        timesteps = ddim_timesteps(sched.T, sched.T if S is None else S, spacing)
    taus = [0, *timesteps]
    record = _check_record(record)
    x = _draw(shape, dtype, device, generator) if x_T is None else x_T.clone()
    _check_taus(taus, sched.T)
    noise = _check_noise(noise, len(taus) - 1, tuple(shape))
    for i in range(len(taus) - 1, 0, -1):
        t, s = taus[i], taus[i - 1]
        eps = model(x, torch.full((shape[0],), t, dtype=torch.int64, device=x.device))
        if s == 0:
            z = None
        else:
            z = _draw(shape, x.dtype, x.device, generator) if noise is None else noise[i - 1]
        x, x0 = ddim_step(sched, x, eps, t, s, eta, z, clip)
        if t in record:
            record[t] = x0.clone()
    return x


@torch.no_grad()
def ddim_invert(
    model: Denoiser,
    sched: Schedule,
    x0: Tensor,
    *,
    S: int | None = None,  # noqa: N803
    spacing: str = "linear",
    timesteps: list[int] | None = None,
) -> Tensor:
    """Encode x_0 → x_T with the deterministic (η = 0) DDIM update run forwards in time."""
    if timesteps is None:
        timesteps = ddim_timesteps(sched.T, sched.T if S is None else S, spacing)
    taus = [0, *timesteps]
    x = x0.clone()
    _check_taus(taus, sched.T)
    for i in range(1, len(taus)):
        s, t = taus[i - 1], taus[i]
        eps = model(x, torch.full((len(x),), t, dtype=torch.int64, device=x.device))
        ab_s, ab_t = sched.alpha_bar_at(s), sched.alpha_bar_at(t)
        x0_hat = (x - (1 - ab_s) ** 0.5 * eps) / ab_s**0.5
        x = ab_t**0.5 * x0_hat + (1 - ab_t) ** 0.5 * eps
    return x


def slerp(z0: Tensor, z1: Tensor, alpha: float | Tensor) -> Tensor:
    """Spherical interpolation (sin((1-α)θ) z0 + sin(αθ) z1) / sin θ, θ = ∠(z0, z1) per row."""
    if not isinstance(z0, Tensor) or not isinstance(z1, Tensor) or z0.shape != z1.shape:
        raise ValueError("z0, z1: expected two tensors of the same shape [B, ...]")
    a = torch.as_tensor(alpha, dtype=z0.dtype, device=z0.device).reshape(-1, *[1] * (z0.dim() - 1))
    f0 = nonzero_vectors("z0", finite_tensor("z0", z0.reshape(len(z0), -1)))
    f1 = nonzero_vectors("z1", finite_tensor("z1", z1.reshape(len(z1), -1)))
    cos = (f0 * f1).sum(1) / (f0.norm(dim=1) * f1.norm(dim=1))
    theta = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7)).reshape(-1, *[1] * (z0.dim() - 1))
    return (torch.sin((1 - a) * theta) * z0 + torch.sin(a * theta) * z1) / torch.sin(theta)
