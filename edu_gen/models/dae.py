r"""Denoising autoencoders (chapter 02).

A denoising autoencoder (DAE; Vincent et al. 2008) is the autoencoder of chapter 01 fed
a *corrupted* copy of each example and asked to give back the *clean* one:

* corruption:      :math:`\tilde x \sim q_D(\tilde x \mid x)`
* encoder/decoder: :math:`h = f(\tilde x) = s_f(W_1 \tilde x + b_1)`,
  :math:`\hat x = g(h) = s_g(W_2 h + b_2)`  (eq. 17.3)
* loss:            :math:`L(x, \hat x)` with :math:`L` from eq. 17.2 — the target is the
  clean :math:`x`; the corrupted :math:`\tilde x` appears only at the input.

Corruption processes :math:`q_D` (eq. 17.4; Vincent et al. 2010):

* Gaussian:        :math:`\tilde x = x + \sigma\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`
* masking:         a fraction :math:`\nu` of the components, chosen at random for each
  example, is set to 0
* salt-and-pepper: a fraction :math:`\nu` of the components is set to the minimum or the
  maximum value (each with probability 1/2)

Manifold view: with Gaussian noise the best squared-error reconstruction is
:math:`r^*(\tilde x) = \tilde x + \sigma^2 \nabla \log p_\sigma(\tilde x)` (Tweedie's
formula; :math:`p_\sigma` is the density of the corrupted points), and as
:math:`\sigma\to 0` a trained DAE's :math:`r(x) - x` estimates :math:`\sigma^2\nabla\log p(x)`
(Alain & Bengio 2014): the map points from a corrupted point back toward the data.
:func:`toy_manifold` (a circle in 2-D) and :func:`distance_to_manifold` let the chapter
measure that.

Stacked DAE (Vincent et al. 2010): greedy layer-wise pre-training in the manner of
Bengio et al. (2007) — train one DAE on the data, a second on the first one's clean
codes, and so on — then use the stacked encoders as the first layers of a classifier.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config
from edu_gen.core.train import History, fit
from edu_gen.models.autoencoder import Autoencoder, cross_entropy_loss, l2_loss

Tensor = torch.Tensor
Corruption = Callable[[Tensor], Tensor]

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"l2": l2_loss, "ce": cross_entropy_loss}
"""Reconstruction losses of eq. 17.2; with ``"ce"`` the model must output *logits*."""


# --------------------------------------------------------------------------- checks


def _check_batch(x: Any, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}")
    if x.dim() < 2:
        raise ValueError(
            f"{name}: expected shape [batch, ...] with a batch dimension, got {tuple(x.shape)}"
        )


def _check_number(name: str, value: Any, low: float, high: float | None) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise ValueError(f"{name}: expected a value in {bounds}, got {value!r}")
    return float(value)


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, got {type(generator).__name__}"
        )


def _uniform(shape: Sequence[int], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) draws of ``shape``, made on the generator's device and moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    return torch.rand(tuple(shape), generator=generator, device=device).to(like.device)


# ----------------------------------------------------------------- corruption q_D


def gaussian_corrupt(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Additive Gaussian noise :math:`\tilde x = x + \sigma\varepsilon`.

    The noise is :math:`\varepsilon\sim\mathcal N(0, I)`: eq. 17.4 with :math:`\mu_D = 0`
    and :math:`\Sigma_D = \sigma^2 I`; ``sigma >= 0`` is the standard deviation. Draws from
    ``generator`` when one is given (then the result is reproducible, on any device).
    """
    _check_batch(x)
    sigma = _check_number("sigma", sigma, 0.0, None)
    _check_generator(generator)
    device = generator.device if generator is not None else x.device
    eps = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
    return x + sigma * eps


def _random_subset(x: Tensor, nu: float, generator: torch.Generator | None) -> Tensor:
    """Boolean mask of x's shape with exactly ``round(nu * D)`` True entries per example."""
    n = x.shape[0]
    d = x[0].numel()
    k = round(nu * d)
    # Ranking i.i.d. uniform scores gives a uniformly random k-subset of the D positions.
    order = _uniform((n, d), x, generator).argsort(dim=1)
    chosen = torch.zeros(n, d, dtype=torch.bool, device=x.device)
    chosen.scatter_(1, order[:, :k], True)
    return chosen.reshape(x.shape)


def masking_corrupt(x: Tensor, nu: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Masking noise: ``round(nu * D)`` random components of each example are set to 0.

    The components are a uniformly random subset, drawn afresh for every example.

    ``nu`` in [0, 1] is the destroyed fraction (Vincent et al. 2010); D is the number of
    components of one example (``x[0].numel()``). Every other component is unchanged.
    """
    _check_batch(x)
    nu = _check_number("nu", nu, 0.0, 1.0)
    _check_generator(generator)
    drop = _random_subset(x, nu, generator)
    return torch.where(drop, torch.zeros_like(x), x)


def salt_and_pepper_corrupt(
    x: Tensor,
    nu: float,
    generator: torch.Generator | None = None,
    *,
    low: float = 0.0,
    high: float = 1.0,
) -> Tensor:
    r"""Salt-and-pepper noise: ``round(nu * D)`` random components per example go to an extreme.

    Each chosen component gets ``low`` or ``high`` with probability 1/2 (Vincent et al. 2010
    use the minimum and maximum input values); the others are unchanged.
    """
    _check_batch(x)
    nu = _check_number("nu", nu, 0.0, 1.0)
    _check_generator(generator)
    if not low < high:
        raise ValueError(f"low, high: expected low < high, got low={low!r}, high={high!r}")
    hit = _random_subset(x, nu, generator)
    salt = _uniform(x.shape, x, generator) < 0.5
    value = torch.where(salt, torch.full_like(x, high), torch.full_like(x, low))
    return torch.where(hit, value, x)


CORRUPTIONS: dict[str, Callable[..., Tensor]] = {
    "gaussian": gaussian_corrupt,
    "masking": masking_corrupt,
    "salt_and_pepper": salt_and_pepper_corrupt,
}
"""Name -> corruption function; the second argument is its noise level (sigma or nu)."""


def corruption(kind: str, level: float, generator: torch.Generator | None = None) -> Corruption:
    """The corruption process ``x -> x~`` of one ``kind`` and noise ``level``, as a function of x.

    ``corruption("gaussian", 0.3)`` is ``lambda x: gaussian_corrupt(x, 0.3)``; the level is
    checked now, not at the first call.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind: expected one of {list(CORRUPTIONS)}, got {kind!r}")
    name = "sigma" if kind == "gaussian" else "nu"
    _check_number(name, level, 0.0, None if kind == "gaussian" else 1.0)
    _check_generator(generator)
    return functools.partial(CORRUPTIONS[kind], **{name: level}, generator=generator)


# ------------------------------------------------------------------- the DAE loss


def dae_loss(model: nn.Module, x: Tensor, corrupt: Corruption, loss: str = "l2") -> Tensor:
    r"""Denoising loss :math:`L(x, g(f(\tilde x)))` with :math:`\tilde x\sim q_D(\tilde x|x)`.

    Eq. 17.3-17.4. ``corrupt`` draws :math:`\tilde x` from ``x`` (see :func:`corruption`);
    the model sees :math:`\tilde x` but the loss compares its output with the *clean* ``x``.
    ``loss="l2"`` is squared error on the model's output, ``loss="ce"`` the Bernoulli
    cross-entropy with the model's output read as logits (both from chapter 01).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")
    if not callable(corrupt):
        raise TypeError(f"corrupt: expected a function x -> x_tilde, got {type(corrupt).__name__}")
    _check_batch(x)
    x_tilde = corrupt(x)
    if not isinstance(x_tilde, Tensor) or x_tilde.shape != x.shape:
        got = tuple(x_tilde.shape) if isinstance(x_tilde, Tensor) else type(x_tilde).__name__
        raise ValueError(f"corrupt: expected it to return x's shape {tuple(x.shape)}, got {got}")
    return LOSSES[loss](x, model(x_tilde))


def dae_objective(corrupt: Corruption, loss: str = "l2") -> Callable[[nn.Module, Any], Tensor]:
    """``loss_fn(model, batch)`` for :func:`fit`: :func:`dae_loss` on the batch's x.

    A batch is a tensor ``x`` or a tuple/list whose first item is ``x`` (labels are ignored).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")

    def loss_fn(model: nn.Module, batch: Any) -> Tensor:
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return dae_loss(model, x, corrupt, loss)

    return loss_fn


@torch.no_grad()
def reconstruct(model: nn.Module, x_tilde: Tensor, loss: str = "l2") -> Tensor:
    r""":math:`\hat x = g(f(\tilde x))` in eval mode, without gradients.

    With ``loss="ce"`` the model outputs logits, so they are passed through a sigmoid.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")
    was_training = model.training
    model.eval()
    out = model(x_tilde)
    model.train(was_training)
    return torch.sigmoid(out) if loss == "ce" else out


# ------------------------------------------------------------ a 2-D toy manifold


def toy_manifold(
    n: int, generator: torch.Generator | None = None, *, radius: float = 1.0
) -> Tensor:
    r"""``n`` points on the circle :math:`\{x \in \mathbb R^2 : \lVert x\rVert = r\}`: ``[n, 2]``.

    The angles are uniform on :math:`[0, 2\pi)`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    radius = _check_number("radius", radius, 0.0, None)
    if radius == 0:
        raise ValueError("radius: expected a positive value, got 0")
    _check_generator(generator)
    theta = 2 * math.pi * torch.rand(n, generator=generator)
    return radius * torch.stack([theta.cos(), theta.sin()], dim=1)


def _check_points(points: Any) -> None:
    _check_batch(points, "points")
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points: expected shape [n, 2], got {tuple(points.shape)}")


def distance_to_manifold(points: Tensor, radius: float = 1.0) -> Tensor:
    r"""Exact distance from each point to the circle of :func:`toy_manifold`, shape ``[n]``.

    The nearest point of the circle to :math:`p` lies on the ray through :math:`p`, so the
    Euclidean distance is :math:`\big|\lVert p\rVert - r\big|`.
    """
    _check_points(points)
    radius = _check_number("radius", radius, 0.0, None)
    return (points.norm(dim=1) - radius).abs()


def project_to_manifold(points: Tensor, radius: float = 1.0) -> Tensor:
    r"""Nearest point of the circle, :math:`r\,p/\lVert p\rVert`; the origin goes to ``(r, 0)``."""
    _check_points(points)
    radius = _check_number("radius", radius, 0.0, None)
    norm = points.norm(dim=1, keepdim=True)
    unit = torch.where(
        norm > 0, points / norm.clamp_min(1e-12), torch.tensor([1.0, 0.0]).to(points)
    )
    return radius * unit


# -------------------------------------------------------------------- stacked DAE


class StackedDAE(nn.Module):
    """A stack of one-layer DAEs ``in_dim → sizes[0] → sizes[1] → …`` (Vincent et al. 2010).

    Layer k is an :class:`~edu_gen.models.autoencoder.Autoencoder` with a single sigmoid code
    layer and a sigmoid output, so every layer's input and target lie in [0, 1]. Calling
    the stack encodes: ``stack(x)`` is the top code; only the encoders are used after
    pre-training.
    """

    def __init__(self, in_dim: int, sizes: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 1:
            raise ValueError(f"in_dim: expected a positive int, got {in_dim!r}")
        sizes = tuple(sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(
                f"sizes: expected a non-empty sequence of positive ints, got {sizes!r}"
            )
        dims = [in_dim, *sizes]
        self.in_dim, self.sizes = in_dim, sizes
        self.layers = nn.ModuleList(
            Autoencoder(a, b, hidden=(), code_activation="sigmoid", out_activation="sigmoid")
            for a, b in zip(dims[:-1], dims[1:], strict=True)
        )

    @property
    def out_dim(self) -> int:
        return self.sizes[-1]

    def encode(self, x: Tensor, depth: int | None = None) -> Tensor:
        """The code after the first ``depth`` encoders (all of them by default; 0 returns x)."""
        depth = len(self.layers) if depth is None else depth
        if not 0 <= depth <= len(self.layers):
            raise ValueError(f"depth: expected 0..{len(self.layers)}, got {depth!r}")
        h = x
        for layer in self.layers[:depth]:
            h = layer.encode(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(x)


def pretrain_stack(
    stack: StackedDAE,
    x: Tensor,
    corrupt: Corruption,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[History]:
    """Greedy layer-wise pre-training (Bengio et al. 2007; Vincent et al. 2010).

    Layer k is trained for ``steps`` steps as a DAE (:func:`dae_loss`, L2) on the *clean*
    codes that the already trained layers below it give for ``x``; the corruption is
    applied to those codes, at layer k's input only. Returns one training history per layer.
    """
    if not isinstance(stack, StackedDAE):
        raise TypeError(f"stack: expected a StackedDAE, got {type(stack).__name__}")
    _check_batch(x)
    if x.dim() != 2 or x.shape[1] != stack.in_dim:
        raise ValueError(f"x: expected shape [N, {stack.in_dim}], got {tuple(x.shape)}")
    device = config.get_device(None if device is None else str(device))
    stack.to(device)
    histories = []
    for k, layer in enumerate(stack.layers):
        with torch.no_grad():
            codes = stack.encode(x.to(device), depth=k)
        loader = DataLoader(
            TensorDataset(codes),
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed + k),
        )
        history = fit(
            layer,
            dae_objective(corrupt),
            loader,
            steps=steps,
            lr=lr,
            device=device,
            progress=progress,
            desc=f"pre-train layer {k + 1}/{len(stack.layers)}",
        )
        histories.append(history)
    return histories


def classifier(stack: StackedDAE, n_classes: int) -> nn.Sequential:
    """The stack's encoders followed by a linear (softmax) output layer, for fine-tuning.

    The classifier *shares* the stack's encoder parameters, so fine-tuning it updates them.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes: expected an int >= 2, got {n_classes!r}")
    return nn.Sequential(stack, nn.Linear(stack.out_dim, n_classes))
