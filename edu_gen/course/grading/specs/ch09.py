"""Chapter 09 exercises: DDIM's σ_t(η), one DDIM update, slerp, and the central one: the
whole DDIM sampler over a sub-sequence τ with σ(η) and the noises given.

Arrays are indexed by t (t = 1..T, alpha_bar[0] = 1); a DDIM step goes from t to s < t."""

from __future__ import annotations

import torch

from edu_gen.course.grading.core import Exercise, allclose, register, seeded_generator
from edu_gen.course.grading.specs.ch08 import (
    other_schedule,
    schedule_from_alpha_bar,
    small_denoiser,
)
from edu_gen.models import diffusion as dm


def _alpha_bar(seed: int) -> torch.Tensor:
    return dm.make_schedule(["linear", "cosine"][seed % 2], 100).alpha_bar


def _sigma_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    t = torch.randint(2, 101, (6,), generator=g)
    s = (t - torch.randint(1, 30, (6,), generator=g)).clamp(min=0)
    s[0] = 0  # the last step lands on ᾱ_0 = 1
    return {
        "alpha_bar": _alpha_bar(seed),
        "t": t,
        "s": s,
        "eta": [0.3, 1.0, 0.6, 0.8, 0.0][seed % 5],
    }


def _later_t(inputs, g) -> torch.Tensor:
    t, T = inputs["t"], len(inputs["alpha_bar"]) - 1  # noqa: N806
    return torch.where(t < T, t + 1, t)


def _later_s(inputs, g) -> torch.Tensor:
    s, t = inputs["s"], inputs["t"]
    return torch.where(s + 1 < t, s + 1, s)


def ref_ddim_sigma(alpha_bar, t, s, eta):
    sched = schedule_from_alpha_bar(alpha_bar)
    return torch.tensor(
        [dm.ddim_sigma(sched, int(a), int(b), eta) for a, b in zip(t, s, strict=True)],
        dtype=torch.float64,
    )


def _sigma_wrong(fn):
    def wrong(ab, t, s, eta):
        return fn(ab[t], ab[s], eta)

    return wrong


register(
    Exercise(
        id="09.ddim_sigma",
        title="σ_{t→s}(η) = η √((1-ᾱ_s)/(1-ᾱ_t)) √(1 - ᾱ_t/ᾱ_s)",
        inputs=_sigma_inputs,
        reference=ref_ddim_sigma,
        compare=allclose(atol=1e-7, rtol=1e-6),
        perturb={"alpha_bar": other_schedule, "t": _later_t, "s": _later_s},
        argument_case=1,  # η = 0.3 (the first case has η = 0: no argument would matter)
        mistakes={
            "multiply by η (η = 0 must give a deterministic sampler)": _sigma_wrong(
                lambda at, as_, eta: ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
            ),
            "the first ratio is (1-ᾱ_s)/(1-ᾱ_t), not its inverse": _sigma_wrong(
                lambda at, as_, eta: (
                    eta * ((1 - at) / (1 - as_).clamp(min=1e-12) * (1 - at / as_)).sqrt()
                )
            ),
            "σ is a standard deviation: take the square root": _sigma_wrong(
                lambda at, as_, eta: eta * (1 - as_) / (1 - at) * (1 - at / as_)
            ),
        },
    )
)


def _step_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    t = int(torch.randint(2, 101, (1,), generator=g))
    s = max([t - 10, t - 1, t - 25, 0, t - 5][seed % 5], 0)
    n, d = 4 + seed % 3, 5 + seed % 4
    return {
        "alpha_bar": _alpha_bar(seed),
        "xt": torch.randn(n, d, generator=g, dtype=torch.float64),
        "eps": torch.randn(n, d, generator=g, dtype=torch.float64),
        "t": t,
        "s": s,
        "eta": [0.5, 1.0, 0.7, 0.5, 0.0][seed % 5],
        "z": torch.randn(n, d, generator=g, dtype=torch.float64),
    }


def _step_t(inputs, g) -> int:
    return inputs["t"] + 1 if inputs["t"] < len(inputs["alpha_bar"]) - 1 else inputs["t"] - 1


def _step_s(inputs, g) -> int:
    return inputs["s"] + 1 if inputs["s"] + 1 < inputs["t"] else inputs["s"] - 1


def ref_ddim_step(alpha_bar, xt, eps, t, s, eta, z):
    return dm.ddim_step(schedule_from_alpha_bar(alpha_bar), xt, eps, t, s, eta, z)[0]


def _step_wrong(no_sigma_in_direction=False, no_noise=False, xt_as_x0=False):
    def fn(ab, xt, eps, t, s, eta, z):
        at, as_ = ab[t], ab[s]
        x0 = xt if xt_as_x0 else (xt - (1 - at).sqrt() * eps) / at.sqrt()
        sigma = eta * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
        direction = (1 - as_) if no_sigma_in_direction else (1 - as_ - sigma**2)
        out = as_.sqrt() * x0 + direction.clamp(min=0).sqrt() * eps
        return out if no_noise else out + sigma * z

    return fn


register(
    Exercise(
        id="09.ddim_step",
        title="One DDIM update x_t → x_s with noise z (eq. 12 of Song et al.)",
        inputs=_step_inputs,
        reference=ref_ddim_step,
        grad_inputs=("xt", "eps", "z"),
        perturb={"alpha_bar": other_schedule, "t": _step_t, "s": _step_s},
        argument_case=1,  # η = 0.5 (the first case has η = 0: z would not matter)
        mistakes={
            "the direction term has coefficient √(1-ᾱ_s-σ²)": _step_wrong(
                no_sigma_in_direction=True
            ),
            "add the fresh noise σ z": _step_wrong(no_noise=True),
            "start from the predicted x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, not x_t": _step_wrong(
                xt_as_x0=True
            ),
        },
    )
)


def _slerp_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 3 + seed % 3, 8 + seed % 5
    return {
        "z0": torch.randn(n, d, generator=g, dtype=torch.float64),
        "z1": torch.randn(n, d, generator=g, dtype=torch.float64),
        "alpha": [0.25, 0.9, 0.7][seed % 3],
    }


def _theta(z0, z1):
    cos = (z0 * z1).sum(1, keepdim=True) / (
        z0.norm(dim=1, keepdim=True) * z1.norm(dim=1, keepdim=True)
    )
    return torch.arccos(cos)


register(
    Exercise(
        id="09.slerp",
        title="Spherical interpolation between two batches of codes",
        inputs=_slerp_inputs,
        reference=dm.slerp,
        mistakes={
            "interpolate on the sphere, not along the straight line": (
                lambda z0, z1, a: (1 - a) * z0 + a * z1
            ),
            "α = 0 must give z0 (weights sin((1-α)θ) on z0, sin(αθ) on z1)": lambda z0, z1, a: (
                dm.slerp(z1, z0, a)
            ),
            "divide by sin θ": lambda z0, z1, a: (
                torch.sin((1 - a) * _theta(z0, z1)) * z0 + torch.sin(a * _theta(z0, z1)) * z1
            ),
        },
    )
)


# ------------------------------------------------------------ the central algorithm


def _sampler_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    S = [6, 4, 10, 5, 8][seed % 5]  # noqa: N806
    n, d = 3 + seed % 3, 5 + seed % 4
    return {
        "model": small_denoiser(d, seed),
        "x_T": torch.randn(n, d, generator=g, dtype=torch.float64),
        "taus": dm.ddim_timesteps(100, S, ["linear", "quadratic"][(seed // 2) % 2]),
        "alpha_bar": _alpha_bar(seed),
        "eta": [0.0, 0.5, 1.0, 0.3, 0.8][seed % 5],
        "z": torch.randn(S, n, d, generator=g, dtype=torch.float64),
    }


def _later_taus(inputs, g) -> list[int]:
    """Every step of τ after the first moved one later (still increasing, still ≤ T)."""
    taus = inputs["taus"]
    return [taus[0], *(v + 1 for v in taus[1:])]


def ref_ddim_sampler(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    """The package's DDIM sampler on τ with the noises given."""
    return dm.ddim_sample(
        model,
        schedule_from_alpha_bar(alpha_bar),
        tuple(x_T.shape),
        timesteps=list(taus),
        eta=eta,
        x_T=x_T,
        noise=z,
        dtype=x_T.dtype,
    )


def _sampler_wrong(
    use_eta=True, consecutive=False, sigma_in_direction=True, to_zero=True, z_reversed=False
):
    @torch.no_grad()
    def fn(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
        steps = [0, *taus] if to_zero else list(taus)
        x = x_T.clone()
        for i in range(len(steps) - 1, 0, -1):
            t = steps[i]
            s = t - 1 if consecutive else steps[i - 1]
            at, as_ = alpha_bar[t], alpha_bar[s]
            eps = model(x, torch.full((len(x),), t, dtype=torch.int64))
            x0 = (x - (1 - at).sqrt() * eps) / at.sqrt()
            sigma = (eta if use_eta else 1.0) * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
            direction = 1 - as_ - sigma**2 if sigma_in_direction else 1 - as_
            k = len(steps) - i if z_reversed else i  # z[k - 1]: the step leaving τ_k
            x = as_.sqrt() * x0 + direction.clamp(min=0).sqrt() * eps + sigma * z[k - 1]
        return x

    return fn


register(
    Exercise(
        id="09.ddim_sampler",
        title="The DDIM sampler over a sub-sequence τ with σ(η), noises given (Song et al.)",
        points=20,
        inputs=_sampler_inputs,
        reference=ref_ddim_sampler,
        perturb={"taus": _later_taus, "alpha_bar": other_schedule},
        argument_case=1,  # η = 0.5 (the first case has η = 0: z would not matter)
        mistakes={
            "σ = η · √((1-ᾱ_s)/(1-ᾱ_t)) · √(1-ᾱ_t/ᾱ_s): multiply by η": _sampler_wrong(
                use_eta=False
            ),
            "step from τ_i to the previous element of τ, s = τ_{i-1}, not to t - 1": (
                _sampler_wrong(consecutive=True)
            ),
            "the direction term has coefficient √(1-ᾱ_s-σ²)": _sampler_wrong(
                sigma_in_direction=False
            ),
            "after τ_1 one last update goes to t = 0, where ᾱ_0 = 1": _sampler_wrong(to_zero=False),
            "z[i - 1] is the noise of the step leaving τ_i (z[0] belongs to the last one)": (
                _sampler_wrong(z_reversed=True)
            ),
        },
    )
)
