"""Stacked denoising autoencoders (Vincent et al. 2010): greedy layer-wise pre-training.

In the manner of Bengio et al. (2007): train one DAE on the data, a second on the first
one's clean codes, and so on; then use the stacked encoders as the first layers of a
classifier (:func:`classifier`) and fine-tune.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config, rng
from edu_gen.core.checks import positive_int, shaped_tensor
from edu_gen.core.train import History, fit
from edu_gen.models.autoencoder import Autoencoder
from edu_gen.models.dae.corruption import Corruption, check_batch
from edu_gen.models.dae.denoising import dae_objective

Tensor = torch.Tensor


class StackedDAE(nn.Module):
    """A stack of one-layer DAEs ``in_dim → sizes[0] → sizes[1] → …`` (Vincent et al. 2010).

    Layer k is an :class:`~edu_gen.models.autoencoder.Autoencoder` with a single sigmoid code
    layer and a sigmoid output, so every layer's input and target lie in [0, 1]. Calling
    the stack encodes: ``stack(x)`` is the top code; only the encoders are used after
    pre-training.
    """

    def __init__(self, in_dim: int, sizes: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        positive_int("in_dim", in_dim)
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

    Layer k is trained for ``steps`` steps as a DAE (:func:`dae_objective`, L2) on the
    *clean* codes that the already trained layers below it give for ``x``; the corruption
    is applied to those codes, at layer k's input only. Layer k's batches are shuffled with
    seed ``seed + k``. Returns one training history per layer.
    """
    if not isinstance(stack, StackedDAE):
        raise TypeError(f"stack: expected a StackedDAE, got {type(stack).__name__}")
    shaped_tensor("x", check_batch(x), ("N", stack.in_dim))
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
            generator=rng.generator(seed + k),
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
    positive_int("n_classes", n_classes, 2)
    return nn.Sequential(stack, nn.Linear(stack.out_dim, n_classes))
