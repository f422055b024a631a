"""Chapter 06 exercises: additive coupling and its inverse, the logistic prior, bits/dim."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.course.grading.core import Case, Exercise, register, seeded_generator
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
