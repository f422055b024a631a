"""Chapter 05 exercises: importance and rejection sampling, importance weights, the IWAE bound,
and the central one: the complete IWAE loss of a VAE on a batch (eq. 17.22-17.24).

Length: a little over 300 lines, kept as one module: one chapter's specs, each a reference, an
input generator and its planted mistakes, read next to the chapter's exercise notebook.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from edu_gen.core import rng
from edu_gen.core.distributions import log_normal
from edu_gen.course.grading.core import Case, Exercise, register, seeded_generator
from edu_gen.models import iwae, vae


def _std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z**2 + math.log(2 * math.pi))


# ------------------------------------------------------------ 1. importance sampling


def _is_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    shift = 1.0 + 0.25 * (seed % 4)
    z = shift + torch.randn(200 + seed % 50, generator=g, dtype=torch.float64)
    return {
        "f_z": (z > 1.0).double(),
        "log_p": _std_normal_log_prob(z),
        "log_q": _std_normal_log_prob(z - shift),
    }


def _is_tiny_densities(seed: int) -> dict:
    """log p and log q near -800 (both densities underflow to 0), their ratio ordinary."""
    inputs = _is_inputs(seed)
    return {**inputs, "log_p": inputs["log_p"] - 800, "log_q": inputs["log_q"] - 800}


def _is_ratio_of_exps(f_z, log_p, log_q):
    """Right on ordinary log-densities, 0/0 = NaN once both underflow."""
    return (torch.exp(log_p) / torch.exp(log_q) * f_z).mean()


register(
    Exercise(
        id="05.importance_estimate",
        title="Importance-sampling estimate of E_p[f] from draws of q (eq. 17.20)",
        inputs=_is_inputs,
        reference=lambda f_z, log_p, log_q: iwae.importance_estimate(f_z, log_p, log_q)[0],
        stability=(
            Case(
                "log-densities near -800",
                _is_tiny_densities,
                "exp(-800) is 0 in float64: exponentiate the difference log p - log q",
            ),
        ),
        unstable=_is_ratio_of_exps,
        mistakes={
            "the weight is p/q, not q/p": lambda f, lp, lq: (torch.exp(lq - lp) * f).mean(),
            "weight each f(z) by p(z)/q(z)": lambda f, lp, lq: f.mean(),
            "the weight is exp(log p - log q), not the log-ratio itself": lambda f, lp, lq: (
                (lp - lq) * f
            ).mean(),
        },
    )
)


# ------------------------------------------------------------ 2. rejection sampling


def _accept_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 300 + seed % 40
    z = torch.distributions.Cauchy(0.0, 1.0).icdf(
        torch.rand(n, generator=g, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    )
    log_q = -math.log(math.pi) - torch.log1p(z**2)
    return {
        "u": torch.rand(n, generator=g, dtype=torch.float64),
        "log_p": _std_normal_log_prob(z),
        "log_q": log_q,
        "log_m": 0.5 * math.log(2 * math.pi) - 0.5 + 0.1 * (seed % 3),
    }


def _same_mask(got, want, inputs) -> tuple[bool, str]:
    if got is None:
        return False, "returned None (missing return?)"
    g, w = (np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v) for v in (got, want))
    if g.shape != w.shape:
        return False, f"shape {tuple(g.shape)}, expected {tuple(w.shape)}"
    wrong = int((g.astype(bool) != w).sum())  # the dtype is the type contract's job
    return (True, "ok") if wrong == 0 else (False, f"{wrong} of {w.size} decisions differ")


def _accept_tiny_densities(seed: int) -> dict:
    inputs = _accept_inputs(seed)
    return {**inputs, "log_p": inputs["log_p"] - 800, "log_q": inputs["log_q"] - 800}


def _accept_with_exps(u, log_p, log_q, log_m):
    """Right on ordinary log-densities; 0 < 0 (reject everything) once both underflow."""
    return u * math.exp(log_m) * torch.exp(log_q) < torch.exp(log_p)


register(
    Exercise(
        id="05.accept",
        title="Rejection sampling: which proposals to keep, u < p(z) / (M q(z))",
        inputs=_accept_inputs,
        reference=lambda u, log_p, log_q, log_m: torch.log(u) < log_p - log_m - log_q,
        compare=_same_mask,
        stability=(
            Case(
                "log-densities near -800",
                _accept_tiny_densities,
                "p and q underflow to 0 in float64: compare log u with log p - log M - log q",
            ),
        ),
        unstable=_accept_with_exps,
        mistakes={
            "divide by M: keep when u < p / (M q)": lambda u, lp, lq, lm: torch.log(u) < lp - lq,
            "keep the draw when u is *below* the ratio": lambda u, lp, lq, lm: (
                torch.log(u) > lp - lm - lq
            ),
            "the ratio is p / (M q), not q / (M p)": lambda u, lp, lq, lm: (
                torch.log(u) < lq - lm - lp
            ),
        },
    )
)


# ------------------------------------------------------------ 3. log importance weights


def _weight_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    k, n, d = 3 + seed % 3, 4 + seed % 2, 2 + seed % 3
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(n, d, generator=g, dtype=torch.float64) - 0.5
    z = mu + (0.5 * logvar).exp() * torch.randn(k, n, d, generator=g, dtype=torch.float64)
    return {
        "log_px_z": -20 + 3 * torch.randn(k, n, generator=g, dtype=torch.float64),
        "z": z,
        "mu": mu,
        "logvar": logvar,
    }


def ref_log_weight(log_px_z, z, mu, logvar):
    return log_px_z + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)


register(
    Exercise(
        id="05.log_weight",
        title="log w = log p(x|z) + log p(z) - log q(z|x) (eq. 17.23)",
        inputs=_weight_inputs,
        reference=ref_log_weight,
        mistakes={
            "subtract log q(z|x): w = p(x, z) / q(z|x)": lambda lp, z, m, lv: (
                lp + log_normal(z, 0.0, 0.0) + log_normal(z, m, lv)
            ),
            "include the prior log p(z) = log N(z; 0, I)": lambda lp, z, m, lv: (
                lp - log_normal(z, m, lv)
            ),
            "logvar is log sigma^2: the standard deviation is exp(logvar / 2)": (
                lambda lp, z, m, lv: lp + log_normal(z, 0.0, 0.0) - log_normal(z, m, 2 * lv)
            ),
        },
    )
)


# ------------------------------------------------------------ 4. the IWAE bound


def _bound_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    k, n = 4 + seed % 5, 3 + seed % 4
    # realistic scale: log-weights of hundreds of nats, where exp() underflows to 0
    return {"log_w": -800 + 4 * torch.randn(k, n, generator=g, dtype=torch.float64)}


def _bound_extreme(seed: int) -> dict:
    """Log-weights near +800 in some columns (exp overflows) and -10⁴ in others."""
    log_w = _bound_inputs(seed)["log_w"] + 800
    log_w[:, ::2] -= 10_800
    return {"log_w": log_w}


def _bound_of_exps(log_w):
    return torch.log(torch.exp(log_w).mean(0))


register(
    Exercise(
        id="05.iwae_bound",
        title="One sample of the IWAE bound log (1/k) sum_i w_i from log-weights [k, N]",
        inputs=_bound_inputs,
        reference=iwae.iwae_bound,
        stability=(
            Case(
                "log-weights near +800 and -10⁴",
                _bound_extreme,
                "exp overflows or underflows there: use torch.logsumexp",
            ),
        ),
        unstable=_bound_of_exps,
        mistakes={
            "average the weights, then take the log (not the mean of log w = ELBO)": (
                lambda lw: lw.mean(0)
            ),
            "subtract log k: it is the log of the *mean* weight": lambda lw: torch.logsumexp(lw, 0),
            "exp(-800) underflows to 0: use torch.logsumexp": lambda lw: torch.log(
                torch.exp(lw).mean(0)
            ),
        },
    )
)


# ------------------------------------------------------------ 5. effective sample size


def _ess_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    k, n = 5 + seed % 6, 3 + seed % 3
    return {"log_w": 600 + 2 * torch.randn(k, n, generator=g, dtype=torch.float64)}


def _ess_extreme(seed: int) -> dict:
    """Log-weights near -10⁴ (every weight underflows to 0)."""
    return {"log_w": _ess_inputs(seed)["log_w"] - 10_600}


def _ess_of_exps(log_w):
    return torch.exp(log_w).sum(0) ** 2 / torch.exp(2 * log_w).sum(0)


register(
    Exercise(
        id="05.effective_sample_size",
        title="Kish's effective sample size (sum w)^2 / sum w^2 from log-weights [k, N]",
        inputs=_ess_inputs,
        reference=iwae.effective_sample_size,
        stability=(
            Case(
                "log-weights near -10⁴",
                _ess_extreme,
                "every weight is 0 in float64 there: stay in log space with logsumexp",
            ),
        ),
        unstable=_ess_of_exps,
        mistakes={
            "square the sum in the numerator": lambda lw: torch.exp(
                torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)
            ),
            "return the ESS itself, not the fraction ESS / k": lambda lw: (
                iwae.effective_sample_size(lw) / lw.shape[0]
            ),
            "exp(1200) overflows: stay in log space with logsumexp": lambda lw: (
                torch.exp(lw).sum(0) ** 2 / torch.exp(2 * lw).sum(0)
            ),
        },
    )
)


# ------------------------------------------------------------ 6. the IWAE loss (central)


def _loss_inputs(seed: int) -> dict:
    """A small float64 VAE (Bernoulli decoder), a batch of binary pixels and the noise of
    k reparameterised draws per example."""
    g = seeded_generator(seed)
    d, latent, n, k = 10 + seed % 5, 2 + seed % 3, 4 + seed % 3, 3 + seed % 4
    with rng.seeded(seed):
        model = vae.make_vae(d, latent, hidden=(8,), likelihood="bernoulli").double()
    x = (torch.rand(n, d, generator=g, dtype=torch.float64) < 0.4).double()
    eps = torch.randn(k, n, latent, generator=g, dtype=torch.float64)
    return {"model": model, "x": x, "eps": eps}


def _loss_far_from_data(seed: int) -> dict:
    """The decoder's output biases lowered by 200: every pixel that is 1 costs about 200
    nats, so log w is around -10³ and every weight e^{log w} underflows to 0."""
    inputs = _loss_inputs(seed)
    last = [m for m in inputs["model"].decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.sub_(200.0)
    return inputs


def _log_w(model, x, eps, logvar_scale=0.5):
    mu, logvar = model.encode(x)
    z = mu + torch.exp(logvar_scale * logvar) * eps
    return model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)


def ref_iwae_loss(model, x, eps):
    """Minus the batch mean of log (1/k) sum_i w_i: the package's log-weights and bound."""
    log_w = iwae.log_importance_weights(model, x, eps.shape[0], eps)
    return -iwae.iwae_bound(log_w).mean()


def _loss_of_exps(model, x, eps):
    """Right while the weights are representable; log 0 = -inf once they underflow."""
    return -torch.log(torch.exp(_log_w(model, x, eps)).mean(0)).mean()


def _loss_log_q_added(model, x, eps):
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, eps)
    log_w = model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) + log_normal(z, mu, logvar)
    return -(torch.logsumexp(log_w, 0) - math.log(eps.shape[0])).mean()


register(
    Exercise(
        id="05.iwae_loss",
        title="The IWAE loss of a VAE on a batch: minus the mean of log (1/k) sum_i w_i",
        points=20,
        inputs=_loss_inputs,
        reference=ref_iwae_loss,
        grad_inputs=("eps",),  # and every parameter of the model: encoder and decoder
        gradient_note=(
            "The gradient must reach the encoder through z = mu + sigma * eps "
            "(the reparameterisation): do not detach z, mu or logvar."
        ),
        stability=(
            Case(
                "log-weights around -10³ (a decoder far from the data)",
                _loss_far_from_data,
                "every weight e^{log w} is 0 in float64 there: combine the log-weights "
                "with torch.logsumexp, never exponentiate them",
            ),
        ),
        unstable=_loss_of_exps,
        mistakes={
            "average the weights inside the log: the mean of log w is the (k-sample) ELBO": (
                lambda model, x, eps: -_log_w(model, x, eps).mean(0).mean()
            ),
            "the bound is log of the *mean* weight: subtract log k after logsumexp": (
                lambda model, x, eps: -torch.logsumexp(_log_w(model, x, eps), 0).mean()
            ),
            "log w is [k, N]: logsumexp over the k samples (dim 0), not over the batch": (
                lambda model, x, eps: (
                    -(torch.logsumexp(_log_w(model, x, eps), 1) - math.log(eps.shape[0])).mean()
                )
            ),
            "logvar is log sigma^2: z = mu + exp(logvar / 2) * eps": (
                lambda model, x, eps: -iwae.iwae_bound(_log_w(model, x, eps, 1.0)).mean()
            ),
            "log w = log p(x|z) + log p(z) - log q(z|x): subtract log q": _loss_log_q_added,
            "the loss is the *mean* over the batch, not the sum": (
                lambda model, x, eps: -iwae.iwae_bound(_log_w(model, x, eps)).sum()
            ),
            "underflow: exp(log w) is 0 for log w around -10³; use torch.logsumexp": (
                _loss_of_exps
            ),
        },
    )
)
