"""Chapter 06 exercises: additive coupling and its inverse, the logistic prior, bits/dim."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.course.grading.core import Exercise, register, seeded_generator
from edu_gen.models import nice


class _Shift(torch.nn.Module):
    """A fixed coupling function m: [n, |I1|] -> [n, |I2|] (weights from the case seed)."""

    def __init__(self, d_in: int, d_out: int, seed: int) -> None:
        super().__init__()
        g = seeded_generator(seed)
        self.w = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
        self.b = torch.randn(d_out, generator=g, dtype=torch.float64)

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


register(
    Exercise(
        id="06.logistic_log_prob",
        title="Factorised standard logistic prior log p(h), summed over dimensions",
        inputs=_prior_inputs,
        reference=nice.logistic_log_prob,
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
