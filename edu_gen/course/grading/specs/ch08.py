"""Chapter 08 exercises: the DDPM forward closed form, the posterior, the prior term L_T,
the ε-parameterised reverse mean, and the two algorithms of Ho et al. (2020): the training
loss L_simple (Algorithm 1) and ancestral sampling (Algorithm 2), each given its random
draws. Arrays are indexed by t (t = 1..T, alpha_bar[0] = 1, betas[0] = 0).

Length: a little over 300 lines, because each of the six exercises keeps its input
generator and its planted mistakes next to it, and chapter 09's specs import the shared
pieces (the schedule from alpha_bar, the small denoiser) from here."""

from __future__ import annotations

import math

import torch

from edu_gen.core import rng
from edu_gen.course.grading.core import Exercise, allclose, register, seeded_generator
from edu_gen.models import diffusion as dm


def schedule_from_alpha_bar(alpha_bar: torch.Tensor) -> dm.Schedule:
    """The :class:`~edu_gen.models.diffusion.Schedule` whose cumulative product is ``alpha_bar``."""
    betas = torch.zeros_like(alpha_bar, dtype=torch.float64)
    betas[1:] = 1 - alpha_bar[1:].double() / alpha_bar[:-1].double()
    return dm.Schedule(betas)


def _batch(seed: int, with_eps: bool = True) -> dict:
    g = seeded_generator(seed)
    T, n, d = 40 + seed % 7, 5 + seed % 3, 6 + seed % 4  # noqa: N806
    ab = dm.make_schedule("linear", T, beta_end=0.2).alpha_bar
    t = torch.randint(1, T + 1, (n,), generator=g)
    t[0], t[1] = 1, T  # always test both boundary steps
    out = {"alpha_bar": ab, "x0": torch.randn(n, d, generator=g, dtype=torch.float64), "t": t}
    out["noise" if with_eps else "xt"] = torch.randn(n, d, generator=g, dtype=torch.float64)
    return out


def ref_q_sample(alpha_bar, x0, t, noise):
    return dm.q_sample(schedule_from_alpha_bar(alpha_bar), x0, t, noise)


def _col(v, t):
    return v[t].reshape(-1, 1)


def other_schedule(inputs, g) -> torch.Tensor:
    """``alpha_bar ** 1.1``: another valid schedule (decreasing, alpha_bar[0] = 1)."""
    return inputs["alpha_bar"] ** 1.1


def _other_steps(inputs, g) -> torch.Tensor:
    """Each row's step moved by one (staying in 1..T): the same rows, other times."""
    t, T = inputs["t"], len(inputs["alpha_bar"]) - 1  # noqa: N806
    return torch.where(t < T, t + 1, t - 1)


register(
    Exercise(
        id="08.q_sample",
        title="Closed-form forward sample x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε",
        inputs=_batch,
        reference=ref_q_sample,
        grad_inputs=("x0", "noise"),
        perturb={"alpha_bar": other_schedule, "t": _other_steps},
        mistakes={
            "alpha_bar is indexed by t itself (alpha_bar[0] = 1): do not use alpha_bar[t - 1]": (
                lambda ab, x0, t, e: _col(ab, t - 1).sqrt() * x0 + (1 - _col(ab, t - 1)).sqrt() * e
            ),
            "the noise is scaled by the standard deviation √(1-ᾱ_t), not the variance": (
                lambda ab, x0, t, e: _col(ab, t).sqrt() * x0 + (1 - _col(ab, t)) * e
            ),
            "the mean is √ᾱ_t x_0, not ᾱ_t x_0": (
                lambda ab, x0, t, e: _col(ab, t) * x0 + (1 - _col(ab, t)).sqrt() * e
            ),
        },
    )
)


def _posterior_inputs(seed: int) -> dict:
    out = _batch(seed, with_eps=False)
    return {k: out[k] for k in ("alpha_bar", "x0", "xt", "t")}


def ref_q_posterior(alpha_bar, x0, xt, t):
    mean, var = dm.q_posterior(schedule_from_alpha_bar(alpha_bar), x0, xt, t)
    return mean, var.expand_as(mean)


def _posterior_wrong(index_shift: bool = False, swap: bool = False, var_beta: bool = False):
    def fn(ab, x0, xt, t):
        ab_t, ab_p = _col(ab, t), _col(ab, t - 1)
        if index_shift:
            ab_t, ab_p = _col(ab, (t + 1).clamp(max=len(ab) - 1)), ab_t
        a_t = ab_t / ab_p
        b_t = 1 - a_t
        c0 = ab_p.sqrt() * b_t / (1 - ab_t)
        ct = a_t.sqrt() * (1 - ab_p) / (1 - ab_t)
        if swap:
            c0, ct = ct, c0
        var = b_t if var_beta else b_t * (1 - ab_p) / (1 - ab_t)
        mean = c0 * x0 + ct * xt
        return mean, var.expand_as(mean)

    return fn


register(
    Exercise(
        id="08.q_posterior",
        title="Mean μ̃_t and variance β̃_t of q(x_{t-1} | x_t, x_0)",
        inputs=_posterior_inputs,
        reference=ref_q_posterior,
        grad_inputs=("x0", "xt"),
        perturb={"alpha_bar": other_schedule, "t": _other_steps},
        mistakes={
            "the coefficient √ᾱ_{t-1} β_t/(1-ᾱ_t) multiplies x_0, the other one x_t": (
                _posterior_wrong(swap=True)
            ),
            "the variance is β̃_t = β_t (1-ᾱ_{t-1})/(1-ᾱ_t), not β_t": _posterior_wrong(
                var_beta=True
            ),
            "off by one: alpha_bar[t] is ᾱ_t": _posterior_wrong(index_shift=True),
        },
    )
)


def _prior_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    T = [20, 50, 100, 1000][seed % 4]  # noqa: N806
    return {
        "alpha_bar": dm.make_schedule("linear", T).alpha_bar,
        "x0": torch.rand(4 + seed % 3, 16, generator=g, dtype=torch.float64) * 2 - 1,
    }


def _prior_nats(ab, x0):
    a = ab[-1]
    return 0.5 * (a * x0.pow(2) + (1 - a) - 1 - torch.log1p(-a)).sum(1)


register(
    Exercise(
        id="08.prior_kl_bpd",
        title="L_T = KL(q(x_T | x_0) ‖ N(0, I)) per example, in bits/dim",
        inputs=_prior_inputs,
        reference=lambda ab, x0: dm.prior_kl_bpd(schedule_from_alpha_bar(ab), x0),
        compare=allclose(atol=1e-10, rtol=1e-6),
        grad_inputs=("x0",),
        perturb={"alpha_bar": other_schedule},
        mistakes={
            "convert nats to bits: divide by ln 2": lambda ab, x0: (
                _prior_nats(ab, x0) / x0.shape[1]
            ),
            "per dimension: divide by D": lambda ab, x0: _prior_nats(ab, x0) / math.log(2),
            "use ᾱ_T = alpha_bar[T] (the last entry)": lambda ab, x0: (
                _prior_nats(ab[:-1], x0) / (x0.shape[1] * math.log(2))
            ),
        },
    )
)


def _mean_inputs(seed: int) -> dict:
    out = _batch(seed)
    return {"alpha_bar": out["alpha_bar"], "xt": out["x0"], "t": out["t"], "eps": out["noise"]}


def ref_reverse_mean(alpha_bar, xt, t, eps):
    sched = schedule_from_alpha_bar(alpha_bar)
    return dm.p_mean_variance(lambda x, s: eps, sched, xt, t).mean


def _mean_wrong(sign: float = -1.0, sqrt_denominator: bool = True, divide: bool = True):
    def fn(ab, xt, t, eps):
        ab_t, ab_p = _col(ab, t), _col(ab, t - 1)
        a_t = ab_t / ab_p
        denom = (1 - ab_t).sqrt() if sqrt_denominator else 1 - ab_t
        out = xt + sign * (1 - a_t) / denom * eps
        return out / a_t.sqrt() if divide else out

    return fn


register(
    Exercise(
        id="08.reverse_mean",
        title="μ_θ(x_t, t) = (x_t - β_t/√(1-ᾱ_t) ε_θ)/√α_t from a predicted ε",
        inputs=_mean_inputs,
        reference=ref_reverse_mean,
        grad_inputs=("xt", "eps"),
        perturb={"alpha_bar": other_schedule, "t": _other_steps},
        mistakes={
            "subtract the scaled noise (it was added by the forward process)": _mean_wrong(
                sign=1.0
            ),
            "divide by √(1-ᾱ_t), not (1-ᾱ_t)": _mean_wrong(sqrt_denominator=False),
            "divide the whole bracket by √α_t": _mean_wrong(divide=False),
        },
    )
)


# ------------------------------------------------------------ the central algorithms


def small_denoiser(dim: int, seed: int) -> torch.nn.Module:
    """A small float64 ε-network of the chapter's kind (:class:`MLPDenoiser`), seeded."""
    with rng.seeded(seed):
        return dm.MLPDenoiser(dim, hidden=16, depth=1, t_dim=8).double()


def _loss_inputs(seed: int) -> dict:
    out = _batch(seed)
    return {
        "model": small_denoiser(out["x0"].shape[1], seed),
        "x0": out["x0"],
        "t": out["t"],
        "eps": out["noise"],
        "alpha_bar": out["alpha_bar"],
    }


def ref_ddpm_loss(model, x0, t, eps, alpha_bar):
    """Algorithm 1's loss with the draws given: the package's L_simple."""
    return dm.l_simple(model, schedule_from_alpha_bar(alpha_bar), x0, t=t, noise=eps)


def _loss_wrong(sqrt_signal=True, sqrt_noise=True, shift=0, target="eps", reduce="mean"):
    def fn(model, x0, t, eps, alpha_bar):
        ab = _col(alpha_bar, t - shift)
        xt = (ab.sqrt() if sqrt_signal else ab) * x0 + (
            (1 - ab).sqrt() if sqrt_noise else 1 - ab
        ) * eps
        err = ((eps if target == "eps" else x0) - model(xt, t)).pow(2)
        return err.mean() if reduce == "mean" else err.sum(1).mean()

    return fn


register(
    Exercise(
        id="08.ddpm_loss",
        title="Algorithm 1: the loss ‖ε - ε_θ(√ᾱ_t x_0 + √(1-ᾱ_t) ε, t)‖², given t and ε",
        points=20,
        inputs=_loss_inputs,
        reference=ref_ddpm_loss,
        grad_inputs=("x0", "eps"),  # and the model's parameters
        perturb={"t": _other_steps, "alpha_bar": other_schedule},
        mistakes={
            "the signal is scaled by √ᾱ_t, not ᾱ_t": _loss_wrong(sqrt_signal=False),
            "the noise is scaled by the standard deviation √(1-ᾱ_t), not 1-ᾱ_t": _loss_wrong(
                sqrt_noise=False
            ),
            "alpha_bar is indexed by t itself: ᾱ_t is alpha_bar[t], not alpha_bar[t - 1]": (
                _loss_wrong(shift=1)
            ),
            "the network predicts the noise ε, not x_0: compare its output with eps": (
                _loss_wrong(target="x0")
            ),
            "average the squared error over the batch and the pixels (.mean())": _loss_wrong(
                reduce="sum"
            ),
        },
    )
)


def _sample_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    T, n, d = 12 + seed % 9, 3 + seed % 3, 5 + seed % 4  # noqa: N806
    start, end = [(1e-2, 0.3), (5e-3, 0.2), (2e-2, 0.25)][seed % 3]
    return {
        "model": small_denoiser(d, seed),
        "x_T": torch.randn(n, d, generator=g, dtype=torch.float64),
        "z": torch.randn(T, n, d, generator=g, dtype=torch.float64),
        "betas": dm.make_schedule("linear", T, beta_start=start, beta_end=end).betas,
    }


def _other_betas(inputs, g) -> torch.Tensor:
    """β_t · 1.2 for t ≥ 1 (β_0 = 0 stays): another valid schedule."""
    return inputs["betas"] * 1.2


def ref_ddpm_sample(model, x_T, z, betas):  # noqa: N803
    """Algorithm 2 with σ_t² = β_t and the noises given: the package's ancestral sampler."""
    return dm.ddpm_sample(
        model,
        dm.Schedule(betas),
        tuple(x_T.shape),
        x_T=x_T,
        noise=z,
        var_type="beta",
        dtype=x_T.dtype,
    )


def _sample_wrong(
    last_noise=False, sigma_var=False, coef_sqrt=True, upward=False, z_reversed=False
):
    @torch.no_grad()
    def fn(model, x_T, z, betas):  # noqa: N803
        T = len(betas) - 1  # noqa: N806
        alpha_bar = torch.cumprod(1 - betas, 0)
        x = x_T.clone()
        steps = range(1, T + 1) if upward else range(T, 0, -1)
        for t in steps:
            eps = model(x, torch.full((len(x),), t, dtype=torch.int64))
            denom = (1 - alpha_bar[t]).sqrt() if coef_sqrt else 1 - alpha_bar[t]
            x = (x - betas[t] / denom * eps) / (1 - betas[t]).sqrt()
            if t > 1 or last_noise:
                sigma = betas[t] if sigma_var else betas[t].sqrt()
                x = x + sigma * (z[T - t] if z_reversed else z[t - 1])
        return x

    return fn


register(
    Exercise(
        id="08.ddpm_sample",
        title="Algorithm 2: ancestral sampling from x_T with the noises z given (σ_t² = β_t)",
        points=20,
        inputs=_sample_inputs,
        reference=ref_ddpm_sample,
        perturb={"betas": _other_betas},
        mistakes={
            "no noise at the last step: add σ_t z only for t > 1": _sample_wrong(last_noise=True),
            "σ_t is the standard deviation √β_t (σ_t² = β_t), not β_t": _sample_wrong(
                sigma_var=True
            ),
            "the coefficient of ε_θ is β_t/√(1-ᾱ_t), with the square root": _sample_wrong(
                coef_sqrt=False
            ),
            "run the chain backwards: t = T, T-1, …, 1": _sample_wrong(upward=True),
            "z[t - 1] is the noise of step t (z[0] belongs to t = 1)": _sample_wrong(
                z_reversed=True
            ),
        },
    )
)
