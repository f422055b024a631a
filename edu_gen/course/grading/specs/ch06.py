"""Chapter 06 exercises: additive coupling and its inverse, the logistic prior, bits/dim, and
the central ones: NICE's log-likelihood (the change of variables through the whole flow) and
one training step on it.

Length: a little over 300 lines, kept as one module: one chapter's specs, each a reference, an
input generator and its planted mistakes, read next to the chapter's exercise notebook.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.course.grading.core import (
    Case,
    Exercise,
    register,
    seeded_generator,
    stale_gradients,
    state_after,
)
from edu_gen.models import nice


class _Shift(torch.nn.Module):
    """A fixed coupling function m: [n, |I1|] -> [n, |I2|] (weights from the case seed)."""

    def __init__(self, d_in: int, d_out: int, seed: int) -> None:
        super().__init__()
        g = seeded_generator(seed)
        # parameters, as in a coupling network: the gradient reaching them is checked
        self.w = torch.nn.Parameter(torch.randn(d_out, d_in, generator=g, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.randn(d_out, generator=g, dtype=torch.float64))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(v @ self.w.T + self.b) * 2


def _coupling_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    d, parity = 5 + seed % 4, seed % 2
    n1 = len(nice.partition(d, parity)[0])
    return {
        "x": torch.randn(3 + seed % 3, d, generator=g, dtype=torch.float64),
        "m": _Shift(n1, d - n1, seed),
        "parity": parity,
    }


def _swap_parity(name: str):
    """Change ``parity`` alone: on an odd D the halves change size, so ``m`` is rebuilt with
    the same weights cropped/padded to the new sizes (still the same function family)."""

    def change(inputs, g):
        parity = 1 - inputs["parity"]
        d = inputs[name].shape[1]
        n1 = len(nice.partition(d, parity)[0])
        old = inputs["m"]
        m = _Shift(n1, d - n1, 0)
        with torch.no_grad():
            rows, cols = min(d - n1, old.w.shape[0]), min(n1, old.w.shape[1])
            m.w[:rows, :cols] = old.w[:rows, :cols]
            m.b[:rows] = old.b[:rows]
        inputs["m"] = m
        return parity

    return change


def _contiguous_halves(x, m, parity):
    d = x.shape[1]
    n1 = len(nice.partition(d, parity)[0])
    y = x.clone()
    y[:, n1:] = x[:, n1:] + m(x[:, :n1])
    return y


register(
    Exercise(
        id="06.coupling_forward",
        title="Additive coupling y_I1 = x_I1, y_I2 = x_I2 + m(x_I1) with an odd/even partition",
        inputs=_coupling_inputs,
        reference=nice.coupling_forward,
        perturb={"parity": _swap_parity("x")},  # the first case has D = 8: parity alone
        mistakes={
            "the shift is *added*: y_I2 = x_I2 + m(x_I1)": lambda x, m, p: nice.coupling_inverse(
                x, m, p
            ),
            "I1 holds the indices with i % 2 == parity, not the first half": _contiguous_halves,
            "I1 (copied, fed to m) holds the indices with i % 2 == parity": lambda x, m, p: (
                nice.coupling_forward(x, m, 1 - p)
            ),
        },
    )
)


def _inverse_inputs(seed: int) -> dict:
    inputs = _coupling_inputs(seed)
    return {"y": inputs["x"], "m": inputs["m"], "parity": inputs["parity"]}


register(
    Exercise(
        id="06.coupling_inverse",
        title="Inverse coupling x_I2 = y_I2 - m(y_I1), without inverting m",
        inputs=_inverse_inputs,
        reference=nice.coupling_inverse,
        perturb={"parity": _swap_parity("y")},
        argument_case=1,  # D = 8: the other parity keeps m's sizes, so parity changes alone
        mistakes={
            "subtract the shift: x_I2 = y_I2 - m(y_I1)": nice.coupling_forward,
            "I1 holds the indices with i % 2 == parity, not the first half": lambda y, m, p: (
                _contiguous_halves(y, lambda v: -m(v), p)
            ),
            "the inverse uses the *same* partition as the forward layer": lambda y, m, p: (
                nice.coupling_inverse(y, m, 1 - p)
            ),
        },
    )
)


def _prior_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    return {"h": 5 * torch.randn(4 + seed % 3, 6 + seed % 5, generator=g, dtype=torch.float64)}


def _prior_extreme(seed: int) -> dict:
    """Entries of ±10³ and ±10⁴, where exp(h) overflows and sigmoid(h) rounds to 0 or 1."""
    h = _prior_inputs(seed)["h"]
    h[:, 0], h[:, 1] = 1e4, -1e3
    return {"h": h}


def _prior_log_of_sigmoids(h):
    """Right on ordinary h, -inf once sigmoid(h) rounds to 0 or 1."""
    s = torch.sigmoid(h)
    return torch.log(s * (1 - s)).sum(-1)


register(
    Exercise(
        id="06.logistic_log_prob",
        title="Factorised standard logistic prior log p(h), summed over dimensions",
        inputs=_prior_inputs,
        reference=nice.logistic_log_prob,
        stability=(
            Case(
                "entries of ±10³ and ±10⁴",
                _prior_extreme,
                "log(σ(h)(1 - σ(h))) = -softplus(h) - softplus(-h) never overflows",
            ),
        ),
        unstable=_prior_log_of_sigmoids,
        mistakes={
            "the prior is logistic, not Gaussian": nice.gaussian_log_prob,
            "sum over the dimensions (one value per example)": lambda h: (
                -(F.softplus(h) + F.softplus(-h))
            ),
            "log p(h) = -softplus(h) - softplus(-h): mind the signs": lambda h: (
                F.softplus(h) + F.softplus(-h)
            ).sum(-1),
        },
    )
)


def _bpd_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    dim = 16 + 8 * (seed % 7)
    return {
        "log_px": 20 * torch.randn(5, generator=g, dtype=torch.float64),
        "dim": dim,
        "n_levels": 17 if seed % 2 else 256,
    }


register(
    Exercise(
        id="06.bits_per_dim",
        title="Bits per dimension on the level scale, rescaling log-det included",
        inputs=_bpd_inputs,
        reference=nice.bits_per_dim,
        mistakes={
            "include the rescaling log-det: + D log L": lambda lp, d, n: -lp / (d * math.log(2)),
            "bits, not nats: divide by log 2": lambda lp, d, n: (-lp + d * math.log(n)) / d,
            "per dimension: divide by D": lambda lp, d, n: (-lp + d * math.log(n)) / math.log(2),
            "the rescaling x = y / L *adds* D log L to the negative log-likelihood": (
                lambda lp, d, n: (-lp - d * math.log(n)) / (d * math.log(2))
            ),
        },
    )
)


# ------------------------------------------------------------ 5. NICE's log-likelihood (central)


def _nice_inputs(seed: int) -> dict:
    """A small float64 NICE (logistic prior, no logit layer) with random scales S_ii, and a
    batch of points."""
    g = seeded_generator(seed)
    d, n = 6 + seed % 5, 4 + seed % 4
    with rng.seeded(seed):
        model = nice.NICE(d, n_couplings=2 + seed % 3, hidden=8, n_hidden=1 + seed % 2).double()
    with torch.no_grad():
        model.scaling.log_scale.copy_(0.7 * torch.randn(d, generator=g, dtype=torch.float64))
    return {"model": model, "x": 2 * torch.randn(n, d, generator=g, dtype=torch.float64)}


def _nice_far_out(seed: int) -> dict:
    """Points with entries of ±10³: h = f(x) is that large too, sigmoid(h) rounds to 0 or 1."""
    inputs = _nice_inputs(seed)
    x = inputs["x"].clone()
    x[:, 0], x[:, 1] = 1e3, -2e3
    return {**inputs, "x": x}


def _nice_log_of_sigmoids(model, x):
    """Right on ordinary points, -inf once sigmoid(h) rounds to 0 or 1."""
    s = torch.sigmoid(_scaled(model, x))
    return torch.log(s * (1 - s)).sum(-1) + model.scaling.log_scale.sum()


def ref_nice_log_likelihood(model, x):
    """log p_X(x) = log p_H(f(x)) + sum_i log S_ii (the couplings add 0), one per row."""
    return model.log_prob(x)


def _through_couplings(model, x):
    y = x
    for layer in model.couplings:
        y = layer(y)
    return y


def _scaled(model, x):
    return _through_couplings(model, x) * torch.exp(model.scaling.log_scale)


register(
    Exercise(
        id="06.nice_log_likelihood",
        title="NICE's log-likelihood: couplings, scaling and its log-det, logistic prior",
        points=20,
        inputs=_nice_inputs,
        reference=ref_nice_log_likelihood,
        stability=(
            Case(
                "points with entries of ±10³",
                _nice_far_out,
                "log(σ(h)(1 - σ(h))) = -softplus(h) - softplus(-h) never overflows",
            ),
        ),
        unstable=_nice_log_of_sigmoids,
        mistakes={
            "add the scaling layer's log-det sum_i log S_ii = sum_i s_i": lambda model, x: (
                nice.logistic_log_prob(_scaled(model, x))
            ),
            "the prior is the standard logistic, not a Gaussian": lambda model, x: (
                nice.gaussian_log_prob(_scaled(model, x)) + model.scaling.log_scale.sum()
            ),
            "the log-det is *added*: log p_X(x) = log p_H(h) + log|det J|": lambda model, x: (
                nice.logistic_log_prob(_scaled(model, x)) - model.scaling.log_scale.sum()
            ),
            "log|det diag(S)| = sum_i log S_ii: the log of S = exp(s), i.e. sum_i s_i": (
                lambda model, x: (
                    nice.logistic_log_prob(_scaled(model, x))
                    + torch.exp(model.scaling.log_scale).sum()
                )
            ),
            "evaluate the prior at h = S * y, after the scaling layer": lambda model, x: (
                nice.logistic_log_prob(_through_couplings(model, x)) + model.scaling.log_scale.sum()
            ),
        },
    )
)


# ------------------------------------------------------------ 6. one training step (central)


def _nice_step_inputs(seed: int) -> dict:
    """The NICE of :func:`_nice_inputs` with gradients left over from an earlier backward
    pass, a plain SGD optimiser on it, and a batch."""
    inputs = _nice_inputs(seed)
    model = stale_gradients(inputs["model"], seeded_generator(seed + 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=[0.01, 0.03, 0.05][seed % 3])
    return {"model": model, "optimizer": optimizer, "x": inputs["x"]}


def ref_nice_step(model, optimizer, x):
    """Clear old gradients, minus the batch-mean log-likelihood, backward, step."""
    optimizer.zero_grad()
    loss = -model.log_prob(x).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_on(loss_of):
    def step(model, optimizer, x):
        optimizer.zero_grad()
        loss = loss_of(model, x)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _step_no_zero_grad(model, optimizer, x):
    loss = -model.log_prob(x).mean()
    loss.backward()  # adds to the gradients already there
    optimizer.step()
    return loss.item()


def _step_loss_after(model, optimizer, x):
    ref_nice_step(model, optimizer, x)
    with torch.no_grad():
        return -model.log_prob(x).mean().item()


register(
    Exercise(
        id="06.nice_step",
        title="One training step of NICE: minimise minus the batch-mean log-likelihood",
        points=20,
        inputs=_nice_step_inputs,
        reference=ref_nice_step,
        changes=("model", "optimizer"),  # a step updates them: that is its job
        outcome=state_after("model"),  # graded: the loss it returns and the new parameters
        perturb={"model": None, "optimizer": None},  # the optimiser holds the model's tensors
        mistakes={
            "clear the old gradients (optimizer.zero_grad()) before loss.backward()": (
                _step_no_zero_grad
            ),
            "minimise *minus* the log-likelihood (gradient descent on the loss)": _step_on(
                lambda model, x: model.log_prob(x).mean()
            ),
            "average over the batch: the loss is the mean, not the sum, of -log p(x)": (
                _step_on(lambda model, x: -model.log_prob(x).sum())
            ),
            "include the scaling layer's log-det sum_i log S_ii in log p(x)": _step_on(
                lambda model, x: -nice.logistic_log_prob(_scaled(model, x)).mean()
            ),
            "return the loss of the batch before the step (loss.item())": _step_loss_after,
        },
    )
)
