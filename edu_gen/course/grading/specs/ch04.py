"""Chapter 04 exercises: gradient estimators, reparameterised sampling, the VAE's ELBO, and the
central one: the VAE's reparameterised training step (eq. 17.13, 17.16).

Length: a little over 300 lines, kept as one module: one chapter's specs, each a reference, an
input generator and its planted mistakes, read next to the chapter's exercise notebook.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.core.distributions import kl_normal
from edu_gen.course.grading.core import (
    Case,
    Exercise,
    register,
    seeded_generator,
    stale_gradients,
    state_after,
)
from edu_gen.models import estimators as est
from edu_gen.models import vae

# ---------------------------------------------------------------- 1. score function


def _score_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n = 30 + seed % 7
    mu = torch.randn((), generator=g, dtype=torch.float64)
    sigma = 0.3 + torch.rand((), generator=g, dtype=torch.float64) * 2
    z = mu + sigma * torch.randn(n, generator=g, dtype=torch.float64)
    f_z = torch.sin(z) + z**2 if seed % 2 else torch.exp(z / 2)
    return {"z": z, "f_z": f_z, "mu": mu, "sigma": sigma}


def ref_score_function(z, f_z, mu, sigma):
    d_mu, d_sigma = est.gaussian_score(z, mu, sigma)
    return torch.stack([f_z * d_mu, f_z * d_sigma], dim=1)


register(
    Exercise(
        id="04.score_function",
        title="Per-sample score-function gradient estimates for N(mu, sigma^2)",
        inputs=_score_inputs,
        reference=ref_score_function,
        grad_inputs=(),  # the estimates are gradients themselves, never differentiated
        mistakes={
            "d/dmu log q = (z - mu) / sigma**2 (the square matters)": lambda z, f, m, s: (
                torch.stack([f * (z - m) / s, f * ((z - m) ** 2 - s**2) / s**3], 1)
            ),
            "d/dsigma log q = ((z - mu)**2 - sigma**2) / sigma**3 (keep the -1/sigma term)": (
                lambda z, f, m, s: torch.stack([f * (z - m) / s**2, f * (z - m) ** 2 / s**3], 1)
            ),
            "multiply the score by f(z)": lambda z, f, m, s: torch.stack(
                [(z - m) / s**2, ((z - m) ** 2 - s**2) / s**3], 1
            ),
        },
    )
)


# ---------------------------------------------------------------- 2. inverse CDF


def _icdf_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    u = est.draw_noise("uniform", (40 + seed % 5,), g)
    loc = float(torch.randn((), generator=g))
    scale = float(0.2 + 2 * torch.rand((), generator=g))
    return {"u": u, "loc": loc, "scale": scale}


register(
    Exercise(
        id="04.logistic_icdf",
        title="Sample the logistic distribution by its inverse CDF",
        inputs=_icdf_inputs,
        reference=est.logistic_icdf,
        mistakes={
            "the inverse CDF is log(u / (1 - u)), not log((1 - u) / u)": lambda u, loc, s: (
                loc + s * torch.log((1 - u) / u)
            ),
            "multiply the standard sample by the scale": lambda u, loc, s: (
                loc + torch.log(u / (1 - u))
            ),
            "the logistic quantile is the logit log(u/(1-u)), not log(u)": lambda u, loc, s: (
                loc + s * torch.log(u)
            ),
        },
    )
)


# ---------------------------------------------------------------- 3. closed-form KL


def _kl_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 5 + seed % 4, 2 + seed % 5
    return {
        "mu": torch.randn(n, d, generator=g, dtype=torch.float64),
        "logvar": 1.5 * torch.randn(n, d, generator=g, dtype=torch.float64),
    }


register(
    Exercise(
        id="04.kl_standard_normal",
        title="KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form, one value per row",
        inputs=_kl_inputs,
        reference=lambda mu, logvar: kl_normal(mu, logvar),
        mistakes={
            "there is a factor 1/2 in front of the sum": lambda m, lv: (
                m**2 + lv.exp() - lv - 1
            ).sum(-1),
            "sigma^2 = exp(logvar), not exp(logvar / 2)": lambda m, lv: (
                0.5 * (m**2 + (lv / 2).exp() - lv - 1).sum(-1)
            ),
            "sum over the latent dimensions (do not average)": lambda m, lv: (
                0.5 * (m**2 + lv.exp() - lv - 1).mean(-1)
            ),
            "each dimension contributes -1": lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1),
        },
    )
)


# ---------------------------------------------------------------- 4. negative ELBO


def _elbo_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, dx, dz = 6 + seed % 3, 10 + seed % 4, 2 + seed % 3
    return {
        "x": (torch.rand(n, dx, generator=g) > 0.5).double(),
        "logits": 3 * torch.randn(n, dx, generator=g, dtype=torch.float64),
        "mu": torch.randn(n, dz, generator=g, dtype=torch.float64),
        "logvar": torch.randn(n, dz, generator=g, dtype=torch.float64),
    }


def ref_negative_elbo(x, logits, mu, logvar):
    return -(vae.bernoulli_log_prob(x, logits) - kl_normal(mu, logvar)).mean()


def _nll(x, a):
    return F.softplus(a) - x * a


def _elbo_extreme(seed: int) -> dict:
    """Decoder logits of ±10⁴ (a confident decoder), where sigmoid(a) rounds to 0 or 1."""
    inputs = _elbo_inputs(seed)
    inputs["logits"] = 1e4 * torch.where(inputs["logits"] > 0, 1.0, -1.0).double()
    return inputs


def _elbo_log_sigmoid(x, logits, mu, logvar):
    """Right on ordinary logits, inf or NaN once sigmoid(a) rounds to 0 or 1."""
    s = torch.sigmoid(logits)
    nll = -(x * torch.log(s) + (1 - x) * torch.log(1 - s)).sum(-1)
    return (nll + kl_normal(mu, logvar)).mean()


register(
    Exercise(
        id="04.negative_elbo",
        title="Negative ELBO of a Bernoulli VAE (one sample), averaged over the batch",
        inputs=_elbo_inputs,
        reference=ref_negative_elbo,
        grad_inputs=("logits", "mu", "logvar"),
        stability=(
            Case(
                "decoder logits of ±10⁴",
                _elbo_extreme,
                "use softplus(a) - x a, not log(sigmoid(a))",
            ),
        ),
        unstable=_elbo_log_sigmoid,
        mistakes={
            "the loss *adds* the KL: -ELBO = -log p(x|z) + KL": lambda x, a, m, lv: (
                _nll(x, a).sum(-1) - kl_normal(m, lv)
            ).mean(),
            "sum over pixels, then average over the batch": lambda x, a, m, lv: (
                _nll(x, a).mean(-1) + kl_normal(m, lv)
            ).mean(),
            "include the KL term": lambda x, a, m, lv: _nll(x, a).sum(-1).mean(),
        },
    )
)


# ---------------------------------------------------------------- 5. active units


def _au_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    scales = torch.tensor([1.0, 0.5, 0.05, 0.01, 0.2, 0.0, 0.08, 2.0])[: 4 + seed % 5]
    mu = torch.randn(200, len(scales), generator=g, dtype=torch.float64) * scales
    # thresholds that separate units (variances 1, .25, .0025, 1e-4, .04, 0, .0064, 4)
    return {"mu": mu + 0.7, "threshold": [1e-2, 5e-2, 1e-3][seed % 3]}


def _au_zero_threshold(seed: int) -> dict:
    """Threshold 0 and a constant unit: variance exactly 0 (0.5 sums exactly), not active."""
    mu = _au_inputs(seed)["mu"].clone()
    mu[:, 0] = 0.5
    return {"mu": mu, "threshold": 0.0}


def _spread_means(inputs, g):
    """The means spread wider, so that the most variable inactive unit becomes active."""
    mu, threshold = inputs["mu"], inputs["threshold"]
    var = mu.var(dim=0)
    below = var[(var <= threshold) & (var > 0)]
    factor = math.sqrt(2 * threshold / float(below.max())) if len(below) else 0.5
    return mu.mean(0) + factor * (mu - mu.mean(0))


def _threshold_between_units(inputs, g):
    """A threshold between two units' variances, so that the count changes."""
    var = torch.sort(inputs["mu"].var(dim=0)).values
    above = var[var > inputs["threshold"]]
    return float(above[0] * 1.01 if len(above) else var[0] * 0.5)


register(
    Exercise(
        id="04.active_units",
        title="Count active units: Var over the data of the posterior means > threshold",
        inputs=_au_inputs,
        reference=lambda mu, threshold: int((mu.var(dim=0) > threshold).sum()),
        perturb={"mu": _spread_means, "threshold": _threshold_between_units},
        edge_cases=(
            Case(
                "threshold 0 and a unit whose posterior mean never moves (variance 0)",
                _au_zero_threshold,
                "a unit is active when its variance is strictly above the threshold",
            ),
        ),
        mistakes={
            "compare the variance, not the standard deviation": lambda mu, t: int(
                (mu.std(dim=0) > t).sum()
            ),
            "count units above the threshold": lambda mu, t: int((mu.var(dim=0) < t).sum()),
            "the variance of each unit across the data points (dim 0), not of the means": (
                lambda mu, t: int((mu.mean(dim=0).abs() > t).sum())
            ),
        },
    )
)


# ------------------------------------------------------------ the central algorithm


def _step_inputs(seed: int) -> dict:
    """A small float64 Bernoulli VAE with gradients left over from an earlier backward pass,
    plain SGD on it, a batch of binary pixels and the standard-normal noise of one sample."""
    g = seeded_generator(seed)
    d, k, n = 10 + seed % 5, 2 + seed % 2, 6 + seed % 4
    with rng.seeded(seed):
        model = vae.make_vae(d, k, hidden=(8,)).double()
    stale_gradients(model, g)
    optimizer = torch.optim.SGD(model.parameters(), lr=[0.05, 0.1, 0.2][seed % 3])
    x = (torch.rand(n, d, generator=g) > 0.5).double()
    eps = torch.randn(n, k, generator=g, dtype=torch.float64)
    return {"model": model, "optimizer": optimizer, "x": x, "eps": eps}


def ref_vae_step(model, optimizer, x, eps):
    """One step on minus the ELBO (eq. 17.16): z = mu + sigma * eps, Bernoulli decoder,
    closed-form KL, averaged over the batch; returns the loss before the step."""
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, eps)
    loss = -(model.decoder.log_prob(x, z) - kl_normal(mu, logvar)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def _vae_step_variant(model, optimizer, x, eps, *, zero_grad=True, detach=False,
                      scale_power=0.5, kl_sign=1.0, pixel_mean=False):  # fmt: skip
    if zero_grad:
        optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = mu + torch.exp(scale_power * logvar) * eps
    if detach:
        z = z.detach()
    nll = _nll(x, model.decoder(z))
    nll = nll.mean(-1) if pixel_mean else nll.sum(-1)
    loss = (nll + kl_sign * kl_normal(mu, logvar)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


register(
    Exercise(
        id="04.vae_step",
        title="The VAE's reparameterised training step on minus the ELBO",
        points=20,
        inputs=_step_inputs,
        reference=ref_vae_step,
        changes=("model", "optimizer"),  # a step updates them: that is its job
        outcome=state_after("model"),  # graded: the loss it returns and the new parameters
        perturb={"model": None, "optimizer": None},  # the optimiser holds the model's tensors
        mistakes={
            "z = mu + sigma * eps must stay in the graph (no .detach(), no torch.normal): "
            "the encoder learns the reconstruction term through the sample": lambda *a: (
                _vae_step_variant(*a, detach=True)
            ),
            "sigma = exp(logvar / 2), not exp(logvar)": lambda *a: _vae_step_variant(
                *a, scale_power=1.0
            ),
            "the loss -ELBO = -log p(x|z) + KL *adds* the KL": lambda *a: _vae_step_variant(
                *a, kl_sign=-1.0
            ),
            "the loss includes the KL term, KL(q(z|x) || N(0, I))": lambda *a: _vae_step_variant(
                *a, kl_sign=0.0
            ),
            "sum log p(x|z) over the pixels, then average over the batch": lambda *a: (
                _vae_step_variant(*a, pixel_mean=True)
            ),
            "clear the old gradients (optimizer.zero_grad()) before loss.backward()": (
                lambda *a: _vae_step_variant(*a, zero_grad=False)
            ),
        },
    )
)
