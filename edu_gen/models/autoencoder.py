r"""Autoencoders (chapter 01).

An autoencoder is an encoder :math:`h = f(x) = s_f(Wx + b)` and a decoder
:math:`\hat x = g(h) = s_g(W'h + b')` (eq. 17.1) trained to make :math:`\hat x` close to
:math:`x`. The two classic reconstruction losses (eq. 17.2) are negative
log-likelihoods:

* squared error :math:`L_2(x, \hat x) = \sum_j (x_j - \hat x_j)^2` — a Gaussian decoder,
* cross-entropy :math:`L_{CE}(x, \hat x) = -\sum_j x_j \log \hat x_j + (1-x_j)\log(1-\hat x_j)`
  — a Bernoulli decoder, for inputs in [0, 1]; computed from logits for stability.

Both are summed over the D input dimensions and averaged over the batch;
:func:`autoencoder_loss` is the ``fit`` loss ``(model, batch)`` built from them (an
autoencoder has no ``sample`` or ``log_prob``: it is not a density model). A *linear*
autoencoder trained with :math:`L_2` learns the same subspace as PCA (Baldi & Hornik
1989); :func:`pca` and :func:`principal_angles` let the chapter check it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import (
    choice,
    finite_tensor,
    float_tensor,
    in_range,
    model_dtype,
    non_empty,
    positive_int,
    same_shape,
    shaped_tensor,
)
from edu_gen.core.nn import ACTIVATIONS, mlp

Tensor = torch.Tensor


def _check_pair(x: Tensor, x_hat: Tensor, names: tuple[str, str] = ("x", "x_hat")) -> None:
    for name, t in zip(names, (x, x_hat), strict=True):
        shaped_tensor(name, float_tensor(name, t), ("batch", "D"))
    same_shape(names[1], x_hat, names[0], x)
    non_empty(names[0], x)


def l2_loss(x: Tensor, x_hat: Tensor) -> Tensor:
    r""":math:`\frac1N \sum_n \sum_j (x_{nj} - \hat x_{nj})^2` (eq. 17.2, squared error)."""
    _check_pair(x, x_hat)
    finite_tensor("x", x)
    return (x - x_hat).pow(2).sum(dim=1).mean()


def cross_entropy_loss(x: Tensor, logits: Tensor) -> Tensor:
    r"""Bernoulli cross-entropy (eq. 17.2) from logits :math:`a`, :math:`\hat x=\sigma(a)`.

    :math:`-[x\log\sigma(a) + (1-x)\log(1-\sigma(a))] = \mathrm{softplus}(a) - x a`,
    summed over dimensions and averaged over the batch. Targets must lie in [0, 1].
    """
    _check_pair(x, logits, ("x", "logits"))
    in_range("x", x, 0.0, 1.0, "cross-entropy targets")
    return (F.softplus(logits) - x * logits).sum(dim=1).mean()


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"l2": l2_loss, "ce": cross_entropy_loss}
"""Reconstruction losses of eq. 17.2 by name; with ``"ce"`` the model must output *logits*."""


def autoencoder_loss(
    model: nn.Module, batch: Tensor | Sequence[Tensor], loss: str = "l2"
) -> Tensor:
    r"""The autoencoder's loss for ``fit``: :math:`L(x, g(f(x)))` (eq. 17.1-17.2).

    ``batch`` is ``x`` or a tuple/list whose first item is ``x`` (labels are ignored);
    ``loss`` names one of :data:`LOSSES` (``"ce"`` reads the model's output as logits).
    """
    choice("loss", loss, LOSSES)
    x = batch[0] if isinstance(batch, tuple | list) else batch
    return LOSSES[loss](x, model(x))


class Autoencoder(nn.Module):
    """MLP autoencoder ``in_dim → hidden… → bottleneck → …hidden → in_dim``.

    ``code_activation`` is :math:`s_f` on the code, ``out_activation`` is :math:`s_g`;
    use ``out_activation="identity"`` and train on logits for the cross-entropy loss.
    ``hidden=()`` with identity activations is a *linear* autoencoder.
    """

    def __init__(
        self,
        in_dim: int,
        bottleneck: int,
        hidden: Sequence[int] = (128,),
        *,
        activation: str = "relu",
        code_activation: str = "identity",
        out_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        sizes = [("in_dim", in_dim), ("bottleneck", bottleneck)]
        sizes += [(f"hidden[{i}]", h) for i, h in enumerate(hidden)]
        for name, value in sizes:
            positive_int(name, value)
        for name, value in (
            ("activation", activation),
            ("code_activation", code_activation),
            ("out_activation", out_activation),
        ):
            choice(name, value, sorted(ACTIVATIONS))
        self.in_dim, self.bottleneck = in_dim, bottleneck
        # an activation module after every layer (nn.Identity for "identity"): the module
        # indices, and so the state_dict keys, do not depend on the activations chosen
        self.encoder = mlp([in_dim, *hidden, bottleneck], activation, code_activation)
        self.decoder = mlp([bottleneck, *reversed(hidden), in_dim], activation, out_activation)

    def _check_input(self, t: Tensor, dim: int, name: str) -> None:
        shaped_tensor(name, t, ("batch", dim))
        model_dtype(name, t, next(self.parameters()).dtype)

    def encode(self, x: Tensor) -> Tensor:
        """:math:`h = f(x)`."""
        self._check_input(x, self.in_dim, "x")
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        r""":math:`\hat x = g(h)`."""
        self._check_input(h, self.bottleneck, "h")
        return self.decoder(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def linear_autoencoder(in_dim: int, bottleneck: int) -> Autoencoder:
    """:math:`\\hat x = W'(Wx + b) + b'` — no non-linearity anywhere."""
    return Autoencoder(in_dim, bottleneck, hidden=(), out_activation="identity")


def pca(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Mean ``[D]`` and the top-``k`` principal directions ``[k, D]`` (rows, orthonormal)."""
    if x.dim() != 2:
        raise ValueError(f"x: expected shape [N, D], got {tuple(x.shape)}")
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k: expected 1 <= k <= {min(x.shape)}, got {k}")
    finite_tensor("x", x)
    mean = x.mean(dim=0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k]


def pca_reconstruct(x: Tensor, mean: Tensor, components: Tensor) -> Tensor:
    r""":math:`\hat x = \mu + (x-\mu) V_k^\top V_k` — projection onto the PCA subspace."""
    shaped_tensor("x", x, ("N", "D"))
    shaped_tensor("mean", mean, (x.shape[1],))
    shaped_tensor("components", components, ("k", x.shape[1]))
    return mean + (x - mean) @ components.T @ components


def principal_angles(a: Tensor, b: Tensor) -> Tensor:
    r"""Principal angles (radians, ascending) between the column spans of ``a`` and ``b``.

    With orthonormal bases :math:`Q_a, Q_b`, :math:`\cos\theta_i = \sigma_i(Q_a^\top Q_b)`
    (Björck & Golub 1973). Both inputs are ``[D, k]`` with the same D.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"a, b: expected [D, k] matrices with equal D, got {a.shape}, {b.shape}")
    qa, _ = torch.linalg.qr(a.double())
    qb, _ = torch.linalg.qr(b.double())
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    out_dtype = a.dtype if a.is_floating_point() else torch.get_default_dtype()
    return torch.sort(torch.arccos(cosines)).values.to(out_dtype)
