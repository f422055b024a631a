r"""The layers of NICE (Dinh, Krueger & Bengio 2015) and the logit preprocessing of Real NVP.

* **additive coupling** (:class:`AdditiveCoupling`, :func:`coupling_forward`,
  :func:`coupling_inverse`): :math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})`,
  log-determinant 0, over the odd/even split of :func:`partition`;
* **diagonal scaling** (:class:`Scaling`): :math:`h = S\odot y`, log-determinant
  :math:`\sum_i\log S_{ii}` (:func:`scaling_log_det`);
* **logit preprocessing** (:func:`logit_forward`, :func:`logit_inverse`; Dinh,
  Sohl-Dickstein & Bengio 2017);
* **affine coupling** (:class:`AffineCoupling`, :func:`affine_coupling_forward`,
  :func:`affine_coupling_inverse`; Real NVP, Dinh, Sohl-Dickstein & Bengio 2017): the second
  instance of NICE's general coupling law :math:`y_{I_2} = g(x_{I_2}; m(x_{I_1}))`, with
  :math:`g(a; (s, t)) = a\odot e^{s} + t` and log-determinant :math:`\sum s`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from edu_gen.core.checks import float_tensor, positive_int, shaped_tensor
from edu_gen.core.nn import mlp

Tensor = torch.Tensor


def check_rows(name: str, x: object, dim: int | str = "D") -> Tensor:
    """``x`` if it is a floating-point batch of rows ``[batch, dim]``; errors name ``name``."""
    return shaped_tensor(name, float_tensor(name, x), ("batch", dim))


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
    sizes = [positive_int("hidden", hidden)] * positive_int("n_hidden", n_hidden)
    return mlp([in_dim, *sizes, out_dim])


def coupling_forward(x: Tensor, m: Callable[[Tensor], Tensor], parity: int) -> Tensor:
    r"""Additive coupling :math:`y_{I_1} = x_{I_1}`, :math:`y_{I_2} = x_{I_2} + m(x_{I_1})`.

    ``x`` is ``[batch, D]``; ``(I1, I2) = partition(D, parity)``; ``m`` maps ``[batch, |I1|]``
    to ``[batch, |I2|]``.
    """
    check_rows("x", x)
    i1, i2 = partition(x.shape[1], parity)
    y = x.clone()
    y[:, i2] = x[:, i2] + m(x[:, i1])
    return y


def coupling_inverse(y: Tensor, m: Callable[[Tensor], Tensor], parity: int) -> Tensor:
    r"""Inverse coupling :math:`x_{I_1} = y_{I_1}`, :math:`x_{I_2} = y_{I_2} - m(y_{I_1})`."""
    check_rows("y", y)
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

    def forward(self, x: Tensor) -> Tensor:
        return coupling_forward(check_rows("x", x, self.dim), self.m, self.parity)

    def inverse(self, y: Tensor) -> Tensor:
        return coupling_inverse(check_rows("y", y, self.dim), self.m, self.parity)

    def log_det_jacobian(self, x: Tensor) -> Tensor:
        """Zero for every input: the Jacobian is triangular with a unit diagonal."""
        return x.new_zeros(x.shape[0])


STFunction = Callable[[Tensor], tuple[Tensor, Tensor]]
"""A coupling's conditioner for the affine law: ``x_I1 -> (s, t)``, each ``[batch, |I2|]``."""


def _scale_shift(st: STFunction, x1: Tensor, n2: int) -> tuple[Tensor, Tensor]:
    out = st(x1)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError("st: expected a function returning a pair (s, t) of tensors")
    s, t = (shaped_tensor(name, v, (x1.shape[0], n2)) for name, v in zip("st", out, strict=True))
    return s, t


def affine_coupling_forward(x: Tensor, st: STFunction, parity: int) -> tuple[Tensor, Tensor]:
    r"""Affine coupling (Real NVP): :math:`y_{I_2} = x_{I_2}\odot\exp(s(x_{I_1})) + t(x_{I_1})`.

    The other half is copied, :math:`y_{I_1} = x_{I_1}`.

    NICE's general coupling law is :math:`y_{I_2} = g(x_{I_2}; m(x_{I_1}))` with :math:`g`
    invertible in its first argument. The Jacobian is block triangular,
    :math:`\begin{pmatrix} I & 0\\ \partial y_{I_2}/\partial x_{I_1} &
    \mathrm{diag}(e^{s})\end{pmatrix}`, so

    .. math:: \log\left|\det\frac{\partial y}{\partial x}\right| = \sum_{i\in I_2} s_i(x_{I_1}),

    which depends on :math:`x` (unlike NICE's scaling layer) and is 0 only when
    :math:`\sum s = 0`. With :math:`s\equiv 0` this is the additive coupling with
    :math:`m = t`. ``x`` is ``[batch, D]``; ``(I1, I2) = partition(D, parity)``; ``st`` maps
    ``x[:, I1]`` to ``(s, t)``, each ``[batch, |I2|]``. Returns ``(y, log_det)`` with
    ``log_det`` of shape ``[batch]``.
    """
    check_rows("x", x)
    i1, i2 = partition(x.shape[1], parity)
    s, t = _scale_shift(st, x[:, i1], len(i2))
    y = x.clone()
    y[:, i2] = x[:, i2] * torch.exp(s) + t
    return y, s.sum(-1)


def affine_coupling_inverse(y: Tensor, st: STFunction, parity: int) -> Tensor:
    r"""Inverse affine coupling :math:`x_{I_2} = (y_{I_2} - t(y_{I_1}))\odot\exp(-s(y_{I_1}))`.

    :math:`x_{I_1} = y_{I_1}`; ``st`` is only evaluated, never inverted.
    """
    check_rows("y", y)
    i1, i2 = partition(y.shape[1], parity)
    s, t = _scale_shift(st, y[:, i1], len(i2))
    x = y.clone()
    x[:, i2] = (y[:, i2] - t) * torch.exp(-s)
    return x


class AffineCoupling(nn.Module):
    r""":math:`y_{I_2} = x_{I_2}\odot e^{s(x_{I_1})} + t(x_{I_1})`; log-det :math:`\sum s`.

    One network (:func:`coupling_net`) outputs :math:`2|I_2|` numbers, split into
    :math:`s` and :math:`t`. ``s`` is used as it comes (Real NVP also bounds it, e.g. by a
    tanh, for stable training; the equation is the same).
    """

    def __init__(self, dim: int, parity: int, hidden: int = 1000, n_hidden: int = 5) -> None:
        super().__init__()
        i1, i2 = partition(dim, parity)
        self.dim, self.parity = dim, parity
        self.net = coupling_net(len(i1), 2 * len(i2), hidden, n_hidden)

    def st(self, x1: Tensor) -> tuple[Tensor, Tensor]:
        """``(s, t)`` of the half ``x1 = x[:, I1]``."""
        s, t = self.net(x1).chunk(2, dim=-1)
        return s, t

    def forward(self, x: Tensor) -> Tensor:
        return affine_coupling_forward(check_rows("x", x, self.dim), self.st, self.parity)[0]

    def inverse(self, y: Tensor) -> Tensor:
        return affine_coupling_inverse(check_rows("y", y, self.dim), self.st, self.parity)

    def log_det_jacobian(self, x: Tensor) -> Tensor:
        r""":math:`\sum_{i\in I_2} s_i(x_{I_1})` for every row of ``x``."""
        return affine_coupling_forward(check_rows("x", x, self.dim), self.st, self.parity)[1]


def scaling_log_det(scale: Tensor) -> Tensor:
    r""":math:`\log|\det\mathrm{diag}(S)| = \sum_i\log S_{ii}`; ``scale`` must be positive."""
    float_tensor("scale", scale)
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


def check_alpha(alpha: object) -> float:
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
    float_tensor("x", x)
    alpha = check_alpha(alpha)
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
    float_tensor("z", z)
    alpha = check_alpha(alpha)
    return (torch.sigmoid(z) - alpha) / (1 - 2 * alpha)
