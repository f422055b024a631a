r"""The energy distance between two samples (Székely & Rizzo 2013), for low-dimensional data.

.. math::
    D^2(P, Q) = 2\,\mathbb E\lVert X - Y\rVert - \mathbb E\lVert X - X'\rVert
    - \mathbb E\lVert Y - Y'\rVert, \qquad X, X' \sim P,\ Y, Y' \sim Q.

:math:`D^2 \ge 0`, with equality only when P = Q. The estimate here is the V-statistic (every
pair, the zero diagonal included), which is biased upwards by O(1/n); compare it with the
distance between two samples of the data themselves (the *floor*) at the same sizes.
"""

from __future__ import annotations

import torch

from edu_gen.core.checks import finite_tensor, float_tensor

Tensor = torch.Tensor


def energy_distance(a: Tensor, b: Tensor) -> float:
    """D² between the rows of ``a`` [n, d] and ``b`` [m, d] (float64 arithmetic)."""
    for name, x in (("a", a), ("b", b)):
        finite_tensor(name, float_tensor(name, x, ndim=2))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a, b: expected the same dimension, got {a.shape[1]} and {b.shape[1]}")
    a, b = a.double(), b.double()
    cross = torch.cdist(a, b).mean()
    return float(2 * cross - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())
