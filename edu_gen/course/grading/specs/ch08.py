"""Chapter 08 exercises: the DDPM forward closed form, the posterior, the prior term L_T,
and the ε-parameterised reverse mean. Arrays are indexed by t (t = 1..T, alpha_bar[0] = 1)."""

from __future__ import annotations

import math

import torch

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
