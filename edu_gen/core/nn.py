r"""Small building blocks every model family uses: the multilayer perceptron.

.. math:: h_0 = x,\qquad h_{\ell} = a(W_\ell h_{\ell-1} + b_\ell),\qquad
          y = a_{\text{last}}(W_L h_{L-1} + b_L)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from edu_gen.core.checks import positive_int

Tensor = torch.Tensor

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")
"""Names :func:`mlp` accepts for ``activation`` and ``last``."""


def activation_module(name: str, slope: float = 0.2) -> nn.Module:
    """The module for activation ``name`` (``slope``: negative slope of ``leaky_relu``)."""
    modules = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(slope),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "identity": nn.Identity,
    }
    if name not in modules:
        raise ValueError(f"activation: expected one of {list(ACTIVATIONS)}, got {name!r}")
    return modules[name]()


class StackedLinear(nn.Module):
    r"""``n_models`` independent linear layers evaluated in one batched matrix product.

    :math:`y_s = x_s W_s + b_s` for every model :math:`s`: the input is
    ``[n_models, batch, in_dim]``, the output ``[n_models, batch, out_dim]``. Each slice is
    initialised like :class:`torch.nn.Linear`. Training several small networks this way (for
    several seeds at once) costs about one network's worth of Python overhead per step.
    """

    def __init__(self, n_models: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.n_models = positive_int("n_models", n_models)
        bound = 1 / math.sqrt(positive_int("in_dim", in_dim))
        shape = (n_models, in_dim, positive_int("out_dim", out_dim))
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[0] != self.n_models or x.shape[2] != self.weight.shape[1]:
            raise ValueError(
                f"x: expected shape [{self.n_models}, batch, {self.weight.shape[1]}], got "
                f"{tuple(x.shape)}"
            )
        return torch.baddbmm(self.bias, x, self.weight)


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    last: str | None = None,
    *,
    slope: float = 0.2,
    n_models: int = 1,
) -> nn.Sequential:
    """Linear layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with ``activation`` between.

    ``last`` is the activation after the final layer (``None``: none, a linear output).
    With ``n_models > 1`` every layer is a :class:`StackedLinear`, mapping
    ``[n_models, batch, sizes[0]]`` to ``[n_models, batch, sizes[-1]]``: one independent MLP
    per model.
    """
    sizes = [positive_int("sizes", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least an input and an output size, got {sizes}")
    for name, value in (("activation", activation), ("last", last)):
        if value is not None and value not in ACTIVATIONS:
            raise ValueError(f"{name}: expected one of {list(ACTIVATIONS)}, got {value!r}")
    positive_int("n_models", n_models)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(
            nn.Linear(n_in, n_out) if n_models == 1 else StackedLinear(n_models, n_in, n_out)
        )
        act = activation if i < len(sizes) - 2 else last
        if act is not None:
            layers.append(activation_module(act, slope))
    return nn.Sequential(*layers)
