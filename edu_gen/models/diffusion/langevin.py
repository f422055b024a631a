r"""Annealed Langevin dynamics with a DDPM ε-model as the score (Song & Ermon 2019, Algorithm 1).

The score view (Ho et al. 2020, §3.2): the optimal ε-model is a scaled score,
:math:`\nabla_{x}\log q_t(x) \approx -\varepsilon_\theta(x, t)/\sqrt{1-\bar\alpha_t}`.
Song & Ermon's noise model adds noise *without* shrinking the data. Dividing by
:math:`\sqrt{\bar\alpha_t}` turns a DDPM step into exactly that:

.. math::
    \bar x = x_t/\sqrt{\bar\alpha_t} = x_0 + \sigma_t\varepsilon,\qquad
    \sigma_t^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t},

and, since the density of :math:`\bar x` is that of :math:`x_t` up to the constant Jacobian,
its score is :math:`\nabla_{\bar x}\log\bar q_t(\bar x) = \sqrt{\bar\alpha_t}\,\nabla_x\log
q_t(\sqrt{\bar\alpha_t}\bar x) = -\varepsilon_\theta(\sqrt{\bar\alpha_t}\,\bar x, t)/\sigma_t`.

Algorithm 1 of Song & Ermon visits noise levels σ_1 > … > σ_L, and at each runs K steps
:math:`\bar x \leftarrow \bar x + \tfrac{a_i}{2}\nabla\log\bar q + \sqrt{a_i}\,z` with a step
size proportional to the level's variance, :math:`a_i = \delta\,\sigma_i^2` (their
:math:`\epsilon\,\sigma_i^2/\sigma_L^2` with :math:`\delta = \epsilon/\sigma_L^2`). With the
ε-model the step reads

.. math::
    \bar x \leftarrow \bar x - \tfrac{\delta\sigma_i}{2}\,\varepsilon_\theta(\sqrt{\bar\alpha_{t_i}}
    \bar x, t_i) + \sqrt\delta\,\sigma_i z.

The levels are DDPM steps t_i (:func:`langevin_levels` spaces them geometrically in σ, as Song &
Ermon do). The chain starts from :math:`x_T\sim\mathcal N(0, I)` rescaled to the first level;
the output is :math:`\bar x` at the last level, optionally with one denoising step
:math:`\bar x - \sigma_L\,\varepsilon_\theta` (Tweedie's formula).
"""

from __future__ import annotations

import torch

from edu_gen.core import rng
from edu_gen.core.checks import bounded_float, positive_int
from edu_gen.models.diffusion.process import Denoiser
from edu_gen.models.diffusion.schedules import Schedule

Tensor = torch.Tensor


def level_sigma(sched: Schedule, t: int) -> float:
    """σ_t = √((1 − ᾱ_t)/ᾱ_t), the noise level of step t in the unscaled variable x̄."""
    ab = sched.alpha_bar_at(t)
    return ((1 - ab) / ab) ** 0.5


def langevin_levels(sched: Schedule, levels: int, t_min: int = 1, t_max: int | None = None):
    """``levels`` distinct steps from ``t_max`` (default T) down to ``t_min``, geometric in σ_t.

    Returns a decreasing list of ints; where two targets round to the same step the later one
    is dropped, so the list can be shorter than ``levels`` when ``levels`` is close to the
    number of steps available.
    """
    positive_int("levels", levels, 2)
    t_max = sched.T if t_max is None else t_max
    if not 1 <= t_min < t_max <= sched.T:
        raise ValueError(f"t_min, t_max: expected 1 <= t_min < t_max <= T={sched.T}")
    sig = torch.tensor([level_sigma(sched, t) for t in range(1, sched.T + 1)]).log()
    targets = torch.linspace(sig[t_max - 1].item(), sig[t_min - 1].item(), levels)
    out: list[int] = []
    for target in targets.tolist():
        t = int((sig - target).abs().argmin()) + 1  # σ_t increases with t
        if not out or t < out[-1]:
            out.append(t)
    return out


@torch.no_grad()
def annealed_langevin_sample(
    model: Denoiser,
    sched: Schedule,
    shape: tuple[int, ...],
    *,
    levels: list[int],
    steps_per_level: int,
    step_ratio: float,
    generator: torch.Generator | None = None,
    denoise: bool = True,
    x_T: Tensor | None = None,  # noqa: N803
) -> Tensor:
    """Annealed Langevin samples (module docstring): a batch x_0 of ``shape``.

    ``levels``: strictly decreasing DDPM steps t_1 > … > t_L (each in 1..T);
    ``steps_per_level``: K, the Langevin steps at each level (L·K model calls in all, plus
    one to denoise); ``step_ratio``: δ = a_i/σ_i², in (0, 2]. Noise order: x_T, then one z
    per Langevin step.
    """
    positive_int("steps_per_level", steps_per_level)
    delta = bounded_float("step_ratio", step_ratio, 0.0, 2.0)
    if delta == 0.0:
        raise ValueError("step_ratio: expected a value > 0")
    if (
        not levels
        or any(isinstance(t, bool) or not isinstance(t, int) for t in levels)
        or not all(1 <= t <= sched.T for t in levels)
        or any(b >= a for a, b in zip(levels, levels[1:], strict=False))
    ):
        raise ValueError(f"levels: expected strictly decreasing ints in 1..T={sched.T}")
    x = rng.draw(torch.randn, shape, generator=generator) if x_T is None else x_T.clone()
    x_bar = x / sched.alpha_bar_at(levels[0]) ** 0.5
    for t in levels:
        sigma, root_ab = level_sigma(sched, t), sched.alpha_bar_at(t) ** 0.5
        steps = torch.full((shape[0],), t, dtype=torch.int64, device=x_bar.device)
        for _ in range(steps_per_level):
            eps = model(root_ab * x_bar, steps)
            z = rng.draw(torch.randn, shape, generator=generator, device=x_bar.device)
            x_bar = x_bar - 0.5 * delta * sigma * eps + delta**0.5 * sigma * z.to(x_bar.dtype)
    if denoise:
        t = levels[-1]
        steps = torch.full((shape[0],), t, dtype=torch.int64, device=x_bar.device)
        x_bar = x_bar - level_sigma(sched, t) * model(sched.alpha_bar_at(t) ** 0.5 * x_bar, steps)
    return x_bar
