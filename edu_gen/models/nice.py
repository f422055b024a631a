r"""NICE: non-linear independent components estimation (Dinh, Krueger & Bengio 2015), chapter 06.

A bijection :math:`h = f(x)` with a tractable Jacobian gives an exact log-likelihood by the
change of variables

.. math::
    \log p_X(x) = \log p_H(f(x)) + \log\left|\det\frac{\partial f(x)}{\partial x}\right|.

NICE builds :math:`f` from

* **additive coupling layers** — split the coordinates into two halves :math:`I_1, I_2`
  (here: even and odd indices, alternating from layer to layer) and set
  :math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})` with any network
  :math:`m`. The Jacobian is unit triangular, so :math:`\log|\det J| = 0`, and the inverse is
  :math:`x_{I_2} = y_{I_2} - m(y_{I_1})`;
* a final **diagonal scaling** :math:`h = S\odot y` with :math:`S_{ii} = e^{s_i} > 0`, whose
  log-determinant is :math:`\sum_i\log S_{ii} = \sum_i s_i`;
* a factorised **prior** :math:`p_H(h) = \prod_d p(h_d)`: standard logistic
  (:math:`\log p(h) = -\mathrm{softplus}(h) - \mathrm{softplus}(-h)`) or standard Gaussian.

For discrete images, :func:`dequantize` adds uniform noise to the grey levels and rescales to
:math:`[0, 1)`; :func:`bits_per_dim` converts a log-density of the rescaled data back to bits
per pixel of the *level* scale, including the rescaling's log-determinant. Optionally
(``NICE(..., logit_alpha=α)``) the flow first maps :math:`[0, 1)` onto the real line by the
logit transform of Dinh, Sohl-Dickstein & Bengio (2017, Real NVP),
:math:`z = \operatorname{logit}(\alpha + (1 - 2\alpha)x)` (:func:`logit_forward`), whose
log-determinant is part of :math:`\log p_X(x)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_int

Tensor = torch.Tensor
_LOG_2PI = math.log(2 * math.pi)
PRIORS = ("logistic", "gaussian")


def _float_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got {got}")
    return value


# --------------------------------------------------------------------------- priors
def logistic_log_prob(h: Tensor) -> Tensor:
    r"""Factorised standard logistic log-density (reduces over the last dimension).

    :math:`\log p(h) = \sum_d -\mathrm{softplus}(h_d) - \mathrm{softplus}(-h_d)`,
    stable for any :math:`|h|`.
    """
    _float_tensor("h", h)
    return -(F.softplus(h) + F.softplus(-h)).sum(-1)


def gaussian_log_prob(h: Tensor) -> Tensor:
    r"""Factorised standard normal: :math:`\sum_d -\tfrac12(h_d^2 + \log 2\pi)`."""
    _float_tensor("h", h)
    return -0.5 * (h**2 + _LOG_2PI).sum(-1)


def prior_log_prob(h: Tensor, prior: str = "logistic") -> Tensor:
    """The log-density of ``h`` under the named factorised prior (see :data:`PRIORS`)."""
    if prior == "logistic":
        return logistic_log_prob(h)
    if prior == "gaussian":
        return gaussian_log_prob(h)
    raise ValueError(f"prior: expected one of {list(PRIORS)}, got {prior!r}")


def prior_sample(
    n: int, dim: int, prior: str = "logistic", generator: torch.Generator | None = None
) -> Tensor:
    r"""``[n, dim]`` prior samples; logistic by inversion, :math:`h = \log u - \log(1 - u)`."""
    positive_int("n", n)
    positive_int("dim", dim)
    if prior == "gaussian":
        return torch.randn(n, dim, generator=generator)
    if prior == "logistic":
        u = torch.rand(n, dim, generator=generator).clamp(1e-7, 1 - 1e-7)
        return torch.log(u) - torch.log1p(-u)
    raise ValueError(f"prior: expected one of {list(PRIORS)}, got {prior!r}")


# --------------------------------------------------------------------------- layers
def partition(dim: int, parity: int) -> tuple[Tensor, Tensor]:
    """Indices ``(I1, I2)`` of the two halves: ``I1`` = indices with ``i % 2 == parity``.

    ``I1`` is copied unchanged and conditions the shift of ``I2``. Alternating ``parity``
    between layers lets every coordinate be transformed.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
        raise ValueError(
            f"dim: an odd/even partition needs at least 2 coordinates, got {dim!r}; a 1-D "
            "input cannot be split by a coupling layer (use a scaling layer only)"
        )
    if parity not in (0, 1):
        raise ValueError(f"parity: expected 0 or 1, got {parity!r}")
    idx = torch.arange(dim)
    return idx[idx % 2 == parity], idx[idx % 2 != parity]


def coupling_net(in_dim: int, out_dim: int, hidden: int, n_hidden: int) -> nn.Sequential:
    """The coupling function m: ``n_hidden`` ReLU layers of width ``hidden``, linear output."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(positive_int("n_hidden", n_hidden)):
        layers += [nn.Linear(width, positive_int("hidden", hidden)), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def coupling_forward(x: Tensor, m: Callable[[Tensor], Tensor], parity: int) -> Tensor:
    r"""Additive coupling :math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})`.

    ``x`` is ``[batch, D]``; ``(I1, I2) = partition(D, parity)``; ``m`` maps ``[batch, |I1|]``
    to ``[batch, |I2|]``.
    """
    _float_tensor("x", x)
    if x.dim() != 2:
        raise ValueError(f"x: expected shape [batch, D], got {tuple(x.shape)}")
    i1, i2 = partition(x.shape[1], parity)
    y = x.clone()
    y[:, i2] = x[:, i2] + m(x[:, i1])
    return y


def coupling_inverse(y: Tensor, m: Callable[[Tensor], Tensor], parity: int) -> Tensor:
    r"""Inverse coupling :math:`x_{I_1} = y_{I_1}`, :math:`x_{I_2} = y_{I_2} - m(y_{I_1})`."""
    _float_tensor("y", y)
    if y.dim() != 2:
        raise ValueError(f"y: expected shape [batch, D], got {tuple(y.shape)}")
    i1, i2 = partition(y.shape[1], parity)
    x = y.clone()
    x[:, i2] = y[:, i2] - m(y[:, i1])
    return x


class AdditiveCoupling(nn.Module):
    r""":math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})`; log-det 0."""

    def __init__(self, dim: int, parity: int, hidden: int = 1000, n_hidden: int = 5) -> None:
        super().__init__()
        i1, i2 = partition(dim, parity)
        self.dim, self.parity = dim, parity
        self.register_buffer("i1", i1, persistent=False)
        self.register_buffer("i2", i2, persistent=False)
        self.m = coupling_net(len(i1), len(i2), hidden, n_hidden)

    def _check(self, x: Tensor, name: str) -> None:
        _float_tensor(name, x)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{name}: expected shape [batch, {self.dim}], got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check(x, "x")
        return coupling_forward(x, self.m, self.parity)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, "y")
        return coupling_inverse(y, self.m, self.parity)

    def log_det_jacobian(self, x: Tensor) -> Tensor:
        """Zero for every input: the Jacobian is triangular with a unit diagonal."""
        return x.new_zeros(x.shape[0])


def scaling_log_det(scale: Tensor) -> Tensor:
    r""":math:`\log|\det\mathrm{diag}(S)| = \sum_i\log S_{ii}`; ``scale`` must be positive."""
    _float_tensor("scale", scale)
    if bool(torch.any(scale <= 0)) or not bool(torch.all(torch.isfinite(scale))):
        raise ValueError("scale: expected finite, strictly positive diagonal entries S_ii")
    return torch.log(scale).sum(-1)


class Scaling(nn.Module):
    r"""Diagonal scaling :math:`h = S\odot y`, :math:`S = e^{s}` (positive by construction)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(positive_int("dim", dim)))

    @property
    def scale(self) -> Tensor:
        return torch.exp(self.log_scale)

    def forward(self, y: Tensor) -> Tensor:
        return y * self.scale

    def inverse(self, h: Tensor) -> Tensor:
        return h * torch.exp(-self.log_scale)

    def log_det_jacobian(self, y: Tensor) -> Tensor:
        """:math:`\\sum_i s_i` for every row of ``y``."""
        return self.log_scale.sum().expand(y.shape[0])


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise ValueError(f"alpha: expected a number in (0, 0.5), got {alpha!r}")
    return float(alpha)


def logit_forward(x: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    r"""Logit preprocessing :math:`z = \operatorname{logit}(s)`, :math:`s = \alpha + (1-2\alpha)x`.

    Maps data in :math:`[0, 1]` onto the real line (Dinh, Sohl-Dickstein & Bengio 2017). Returns
    ``z`` and, per row, the log-determinant

    .. math:: \log\left|\det\frac{\partial z}{\partial x}\right|
        = \sum_d \log(1 - 2\alpha) - \log s_d - \log(1 - s_d).

    ``alpha`` in (0, 0.5) keeps :math:`s` away from 0 and 1 for data in :math:`[0, 1]`, so
    :math:`z` stays finite. The map is defined wherever :math:`0 < s < 1`, i.e. for
    :math:`-\alpha/(1-2\alpha) < x < (1-\alpha)/(1-2\alpha)`: :func:`logit_inverse` of any
    real :math:`z` lands there, a little outside :math:`[0, 1]` when :math:`z` is beyond
    :math:`\pm\operatorname{logit}(1-\alpha)`. A flow with this first layer therefore puts a
    little of its mass outside :math:`[0, 1]`; its density on :math:`[0, 1]` integrates to
    slightly less than 1, which only makes bits/dim computed from it conservative.

    Raises:
        ValueError: ``x`` is not finite or has values where :math:`s\notin(0, 1)` (the logit
            would be NaN or infinite), or ``alpha`` is outside (0, 0.5).
    """
    _float_tensor("x", x)
    alpha = _check_alpha(alpha)
    s = alpha + (1 - 2 * alpha) * x
    if not bool(torch.all((s > 0) & (s < 1))):
        raise ValueError(
            f"x: the logit preprocessing expects finite values in [0, 1] (strictly between "
            f"{-alpha / (1 - 2 * alpha):.3g} and {(1 - alpha) / (1 - 2 * alpha):.4g})"
        )
    log_s, log_1ms = torch.log(s), torch.log1p(-s)
    return log_s - log_1ms, (math.log(1 - 2 * alpha) - log_s - log_1ms).sum(-1)


def logit_inverse(z: Tensor, alpha: float) -> Tensor:
    r"""Inverse of :func:`logit_forward`: :math:`x = (\sigma(z) - \alpha) / (1 - 2\alpha)`."""
    _float_tensor("z", z)
    alpha = _check_alpha(alpha)
    return (torch.sigmoid(z) - alpha) / (1 - 2 * alpha)


class NICE(nn.Module):
    r"""A stack of additive couplings (alternating partitions) and a final diagonal scaling.

    Dinh et al. (2015) use 4 couplings whose :math:`m` has 5 hidden ReLU layers of 1000 units
    and a logistic prior on MNIST; the defaults here are smaller for CPUs.

    With ``logit_alpha=α`` the flow starts with :func:`logit_forward` (data in :math:`[0, 1]`);
    its log-determinant is included in :meth:`forward` and :meth:`log_prob`, and
    :meth:`inverse` ends with :func:`logit_inverse`, so samples lie in :math:`(0, 1)`.
    """

    def __init__(
        self,
        dim: int,
        n_couplings: int = 4,
        hidden: int = 1000,
        n_hidden: int = 5,
        prior: str = "logistic",
        logit_alpha: float | None = None,
    ) -> None:
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior: expected one of {list(PRIORS)}, got {prior!r}")
        partition(dim, 0)  # a clear error for a 1-D input
        self.dim, self.prior = dim, prior
        self.logit_alpha = None if logit_alpha is None else _check_alpha(logit_alpha)
        self.couplings = nn.ModuleList(
            AdditiveCoupling(dim, k % 2, hidden, n_hidden)
            for k in range(positive_int("n_couplings", n_couplings))
        )
        self.scaling = Scaling(dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``h = f(x)`` and :math:`\\log|\\det\\partial f/\\partial x|` per row."""
        _float_tensor("x", x)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: expected shape [batch, {self.dim}], got {tuple(x.shape)}")
        log_det = x.new_zeros(x.shape[0])
        if self.logit_alpha is not None:
            x, log_det = logit_forward(x, self.logit_alpha)
        for layer in self.couplings:
            log_det = log_det + layer.log_det_jacobian(x)
            x = layer(x)
        log_det = log_det + self.scaling.log_det_jacobian(x)
        return self.scaling(x), log_det

    def inverse(self, h: Tensor) -> Tensor:
        """``x = f^{-1}(h)``: undo the scaling, then the couplings in reverse order."""
        x = self.scaling.inverse(h)
        for layer in reversed(self.couplings):
            x = layer.inverse(x)
        return x if self.logit_alpha is None else logit_inverse(x, self.logit_alpha)

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log p_X(x) = \log p_H(f(x)) + \log|\det J_f(x)|`, one value per row."""
        h, log_det = self(x)
        return prior_log_prob(h, self.prior) + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples :math:`x = f^{-1}(h)`, :math:`h\\sim p_H`."""
        device = self.scaling.log_scale.device
        return self.inverse(prior_sample(n, self.dim, self.prior, generator).to(device))


# --------------------------------------------------------------------------- discrete data
def dequantize(levels: Tensor, n_levels: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform dequantisation :math:`x = (k + u) / L`, :math:`u\sim U[0, 1)^D`, in :math:`[0, 1)`.

    ``levels`` holds integer grey levels :math:`k\in\{0,\dots,L-1\}` (as floats or ints); for
    the digits :math:`L = 17`. A continuous density on the result lower-bounds the discrete
    likelihood of the levels (Theis, van den Oord & Bethge 2016).
    """
    positive_int("n_levels", n_levels, 2)
    if bool(torch.any(levels < 0)) or bool(torch.any(levels > n_levels - 1)):
        raise ValueError(f"levels: expected grey levels in [0, {n_levels - 1}]")
    if bool(torch.any(levels != torch.round(levels))):
        raise ValueError("levels: expected integer grey levels (use the 'levels' view)")
    u = torch.rand(levels.shape, generator=generator, dtype=torch.float32).to(levels.device)
    return (levels.float() + u) / n_levels


def bits_per_dim(log_px: Tensor, dim: int, n_levels: int) -> Tensor:
    r"""Bits per dimension on the level scale from :math:`\log p(x)` of :math:`x = y / L`.

    The dequantised levels :math:`y\in[0, L)^D` have density
    :math:`p_Y(y) = p_X(y/L)\,L^{-D}` (the rescaling's log-determinant is :math:`-D\log L`), so

    .. math:: \text{bits/dim} = \frac{-\log p_X(x) + D\log L}{D\log 2}.

    Forgetting the :math:`D\log L` term reports a number :math:`\log_2 L` bits too small
    (4.09 for the digits). A uniform density on :math:`[0, 1)^D` scores exactly
    :math:`\log_2 L`. ``log_px`` may be one value per example; the result has its shape.
    """
    _float_tensor("log_px", log_px)
    positive_int("dim", dim)
    positive_int("n_levels", n_levels, 2)
    return (-log_px + dim * math.log(n_levels)) / (dim * math.log(2))


__all__: Sequence[str] = (
    "NICE",
    "PRIORS",
    "AdditiveCoupling",
    "Scaling",
    "bits_per_dim",
    "coupling_forward",
    "coupling_inverse",
    "coupling_net",
    "dequantize",
    "gaussian_log_prob",
    "logistic_log_prob",
    "logit_forward",
    "logit_inverse",
    "partition",
    "prior_log_prob",
    "prior_sample",
    "scaling_log_det",
)
