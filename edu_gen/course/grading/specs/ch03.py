"""Chapter 03 exercises: Monte Carlo ELBO, the exact linear-Gaussian posterior, the mean-field
optimum, the softmax document likelihood (eq. 17.7, 17.14-17.15) and the central one: a
gradient step of amortized inference, an encoder trained on the Monte Carlo ELBO (eq. 17.10).

Length: a little over 300 lines, kept as one module: one chapter's specs, each a reference, an
input generator and its planted mistakes, read next to the chapter's exercise notebook.
"""

from __future__ import annotations

import torch

from edu_gen.core import rng
from edu_gen.core.distributions import log_normal
from edu_gen.course.grading.core import (
    Case,
    Exercise,
    allclose,
    register,
    seeded_generator,
    stale_gradients,
    state_after,
)
from edu_gen.models import elbo as E
from edu_gen.models import topics as tp
from edu_gen.models import vae


def _model(seed: int, d: int, k: int) -> E.LinearGaussian:
    g = seeded_generator(seed)
    W = torch.randn(d, k, generator=g, dtype=torch.float64)
    b = torch.randn(d, generator=g, dtype=torch.float64)
    return E.LinearGaussian(W, b, 0.3 + 0.2 * (seed % 3))


# --------------------------------------------------------------------- Monte Carlo ELBO


def _elbo_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, k = 3 + seed % 3, 2
    model = _model(seed, 4, k)
    x, _ = model.sample(n, g)
    return {
        "log_joint": lambda z: model.log_joint(x, z),
        "q_mean": torch.randn(n, k, generator=g, dtype=torch.float64),
        "q_logvar": 0.5 * torch.randn(n, k, generator=g, dtype=torch.float64),
        "eps": torch.randn(7, n, k, generator=g, dtype=torch.float64),
    }


def _no_entropy(log_joint, mu, lv, eps):
    return log_joint(mu + torch.exp(0.5 * lv) * eps).mean(0)


def _variance_as_scale(log_joint, mu, lv, eps):
    z = mu + torch.exp(lv) * eps
    return (log_joint(z) - log_normal(z, mu, lv)).mean(0)


def _plus_log_q(log_joint, mu, lv, eps):
    z = mu + torch.exp(0.5 * lv) * eps
    return (log_joint(z) + log_normal(z, mu, lv)).mean(0)


register(
    Exercise(
        id="03.elbo_monte_carlo",
        title="Monte Carlo ELBO with reparameterised samples z = mu + sigma * eps",
        inputs=_elbo_inputs,
        reference=E.elbo_mc,
        compare=allclose(atol=1e-8, rtol=1e-6),
        grad_inputs=("q_mean", "q_logvar"),  # the variational parameters the ELBO trains
        mistakes={
            "the ELBO subtracts log q(z): E_q[log p(x,z) - log q(z)]": _no_entropy,
            "sigma = exp(logvar / 2), not exp(logvar)": _variance_as_scale,
            "log q(z) enters with a minus sign": _plus_log_q,
            "average over the samples (dim 0), one ELBO per data point": lambda lj, mu, lv, eps: (
                E.log_weights(lj, mu, lv, eps).mean(1)
            ),
        },
    )
)


# ------------------------------------------------------------------------ the posterior


def _posterior_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    d, k = 5 + seed % 2, 2 + seed % 2
    model = _model(seed + 100, d, k)
    x, _ = model.sample(4, g)
    return {"x": x, "W": model.W, "b": model.b, "sigma2": float(model.sigma2)}


def _posterior(x, W, b, sigma2):
    return E.LinearGaussian(W, b, sigma2).posterior(x)


def _posterior_variant(x, W, b, sigma2, *, prior=True, centre=True, power=1.0):
    k = W.shape[1]
    s2 = sigma2**power
    precision = W.T @ W / s2 + (torch.eye(k, dtype=W.dtype) if prior else 0)
    cov = torch.linalg.inv(precision)
    resid = x - b if centre else x
    return resid @ W @ cov / s2, cov


register(
    Exercise(
        id="03.linear_gaussian_posterior",
        title="Exact posterior p(z | x) of the linear-Gaussian model",
        inputs=_posterior_inputs,
        reference=_posterior,
        compare=allclose(atol=1e-8, rtol=1e-6),
        mistakes={
            "the prior N(0, I) adds the identity to the posterior precision": lambda x, W, b, s: (
                _posterior_variant(x, W, b, s, prior=False)
            ),
            "subtract the offset b from x first": lambda x, W, b, s: _posterior_variant(
                x, W, b, s, centre=False
            ),
            "sigma2 is a variance: divide by sigma2, not its square root": lambda x, W, b, s: (
                _posterior_variant(x, W, b, s, power=0.5)
            ),
        },
    )
)


# ------------------------------------------------------------------ mean-field optimum


def _mean_field_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    k, n = 2 + seed % 3, 3
    a = torch.randn(k, k, generator=g, dtype=torch.float64)
    cov = a @ a.T + 0.2 * torch.eye(k, dtype=torch.float64)
    return {"post_mean": torch.randn(n, k, generator=g, dtype=torch.float64), "post_cov": cov}


def _other_covariance(inputs, g) -> torch.Tensor:
    """A A^T-congruent covariance: still symmetric positive definite."""
    cov = inputs["post_cov"]
    k = cov.shape[0]
    a = torch.eye(k, dtype=cov.dtype) + 0.3 * torch.randn(k, k, generator=g, dtype=cov.dtype)
    return a @ cov @ a.T


register(
    Exercise(
        id="03.mean_field_optimum",
        title="The best diagonal Gaussian q for a Gaussian posterior N(m, S)",
        inputs=_mean_field_inputs,
        reference=E.mean_field_gaussian,
        perturb={"post_cov": _other_covariance},
        mistakes={
            "the optimal variances are 1 / diag(S^-1), not the marginal variances diag(S)": (
                lambda m, s: (m, torch.log(torch.diagonal(s)).expand_as(m))
            ),
            "a log-variance is log(1 / precision) = -log(precision)": lambda m, s: (
                m,
                torch.log(torch.diagonal(torch.linalg.inv(s))).expand_as(m),
            ),
            "return one (mean, logvar) row per data point, shape [N, K]": lambda m, s: (
                m,
                -torch.log(torch.diagonal(torch.linalg.inv(s))),
            ),
        },
    )
)


# ----------------------------------------------------------------- document likelihood


def _doc_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    corpus = tp.make_topic_corpus(4 + seed % 3, 3, seed=seed, doc_length=(10, 30))
    v, k = len(corpus.vocab), 2 + seed % 2
    return {
        "counts": corpus.counts.double(),
        "z": torch.randn(len(corpus), k, generator=g, dtype=torch.float64),
        "R": torch.randn(k, v, generator=g, dtype=torch.float64),
        "b": torch.randn(v, generator=g, dtype=torch.float64),
    }


def _doc_large_logits(seed: int) -> dict:
    """Logits z^T R + b spread over thousands: most softmax probabilities underflow to 0."""
    inputs = _doc_inputs(seed)
    inputs["R"] = 500 * inputs["R"]
    return inputs


def _doc_log_of_softmax(counts, z, R, b):
    """Right on ordinary logits, NaN or -inf once a probability underflows to 0."""
    return (counts * torch.log(torch.softmax(z @ R + b, -1))).sum(-1)


register(
    Exercise(
        id="03.document_log_likelihood",
        title="Softmax document log-likelihood with energy E = -z^T R x - b (eq. 17.14-17.15)",
        inputs=_doc_inputs,
        reference=tp.document_log_likelihood,
        grad_inputs=("z", "R", "b"),
        stability=(
            Case(
                "logits in the thousands",
                _doc_large_logits,
                "log(softmax(.)) underflows to log 0: use torch.log_softmax",
            ),
        ),
        unstable=_doc_log_of_softmax,
        mistakes={
            "p(w | z) is proportional to exp(-E): the logits are +(z^T R + b)": lambda n, z, R, b: (
                n * torch.log_softmax(-(z @ R + b), -1)
            ).sum(-1),
            "normalise over the vocabulary (last dimension), not over documents": (
                lambda n, z, R, b: (n * torch.log_softmax(z @ R + b, 0)).sum(-1)
            ),
            "a word that occurs n times contributes n log p(w | z)": lambda n, z, R, b: (
                (n > 0).to(n.dtype) * torch.log_softmax(z @ R + b, -1)
            ).sum(-1),
        },
    )
)


# ------------------------------------------------------------ the central algorithm


def _step_inputs(seed: int) -> dict:
    """A small float64 encoder with gradients left over from an earlier backward pass, plain
    SGD on it, the log joint of a linear-Gaussian model, a batch from it and the noise."""
    g = seeded_generator(seed)
    d, k, n, s = 5 + seed % 3, 2, 6 + seed % 4, 3 + seed % 3
    model = _model(seed + 200, d, k)
    x, _ = model.sample(n, g)
    with rng.seeded(seed):
        encoder = vae.GaussianEncoder(d, k, hidden=(8,)).double()
    stale_gradients(encoder, g)
    optimizer = torch.optim.SGD(encoder.parameters(), lr=[0.02, 0.05, 0.1][seed % 3])
    eps = torch.randn(s, n, k, generator=g, dtype=torch.float64)
    return {
        "encoder": encoder,
        "optimizer": optimizer,
        "log_joint": model.log_joint,
        "x": x,
        "eps": eps,
    }


def ref_amortized_step(encoder, optimizer, log_joint, x, eps):
    """One step of amortized inference: the encoder's q(z|x) for the batch, the Monte Carlo
    ELBO with z = mu + sigma * eps, gradient *ascent* (descent on -ELBO); returns the ELBO."""
    optimizer.zero_grad()
    mean, logvar = encoder(x)
    elbo = E.elbo_mc(lambda z: log_joint(x, z), mean, logvar, eps).mean()
    (-elbo).backward()
    optimizer.step()
    return elbo.item()


def _step_variant(encoder, optimizer, log_joint, x, eps, *, sign=-1.0, zero_grad=True,
                  detach=False, scale_power=0.5, entropy=True, returned=1.0):  # fmt: skip
    if zero_grad:
        optimizer.zero_grad()
    mean, logvar = encoder(x)
    z = mean + torch.exp(scale_power * logvar) * eps
    if detach:
        z = z.detach()
    log_w = log_joint(x, z) - (log_normal(z, mean, logvar) if entropy else 0.0)
    elbo = log_w.mean()
    (sign * elbo).backward()
    optimizer.step()
    return returned * elbo.item()


register(
    Exercise(
        id="03.amortized_elbo_step",
        title="One gradient step of amortized inference: an encoder ascends the Monte Carlo ELBO",
        points=20,
        inputs=_step_inputs,
        reference=ref_amortized_step,
        changes=("encoder", "optimizer"),  # a step updates them: that is its job
        outcome=state_after("encoder"),  # graded: the ELBO it returns and the new parameters
        perturb={"encoder": None, "optimizer": None},  # the optimiser holds the encoder's tensors
        mistakes={
            "ascend the ELBO: minimise the loss -ELBO (backward on minus the ELBO)": (
                lambda *a: _step_variant(*a, sign=1.0)
            ),
            "clear the old gradients (optimizer.zero_grad()) before backward()": (
                lambda *a: _step_variant(*a, zero_grad=False)
            ),
            "z = mu + sigma * eps must stay in the graph (no .detach()): the pathwise "
            "gradient reaches the encoder through the sample": lambda *a: _step_variant(
                *a, detach=True
            ),
            "sigma = exp(logvar / 2), not exp(logvar)": lambda *a: _step_variant(
                *a, scale_power=1.0
            ),
            "the ELBO is E_q[log p(x, z) - log q(z|x)]: subtract log q (the entropy term)": (
                lambda *a: _step_variant(*a, entropy=False)
            ),
            "return the ELBO estimate (higher is better), not the loss -ELBO": (
                lambda *a: _step_variant(*a, returned=-1.0)
            ),
        },
    )
)
