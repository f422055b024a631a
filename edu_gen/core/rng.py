"""Random numbers, one idiom each.

* :func:`seed_everything` - a notebook's first cell: seed Python, NumPy and torch globally.
* :func:`generator` - a fresh CPU ``torch.Generator`` for one reproducible stream (data
  order, a sampler, a graded exercise's inputs). Pass it as ``generator=``;
  :func:`check_generator` checks such an argument.
* :func:`seeded` - run a block with torch's global RNG seeded, and give the caller's state
  back afterwards, even when the block raises (for code that draws through modules such as
  ``nn.Dropout`` or layer initialisation, which take no ``generator``).
* :func:`draw` - random numbers from a generator, delivered on any device: drawn where the
  generator lives (a CPU generator cannot draw on CUDA), then moved. The same seed gives
  the same numbers on CPU and GPU.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

SEED_LIMIT = 2**63
"""Seeds are ints in ``[0, SEED_LIMIT)``; what ``torch.manual_seed`` accepts."""


def check_seed(seed: object, name: str = "seed", *, below: int = SEED_LIMIT) -> int:
    """``seed`` if it is an int in ``[0, below)`` (bools rejected), else ValueError.

    ``below=2**32`` where the seed goes on to NumPy or scikit-learn, which accept no more.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < below:
        bound = "2**63" if below == SEED_LIMIT else ("2**32" if below == 2**32 else str(below))
        raise ValueError(f"{name}: expected a non-negative int below {bound}, got {seed!r}")
    return seed


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed ``random``, NumPy and torch (all devices); return a seeded CPU generator."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return generator(seed)


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (checked)."""
    return torch.Generator().manual_seed(check_seed(seed))


def check_generator(generator: object, name: str = "generator") -> torch.Generator | None:
    """``generator`` if it is a ``torch.Generator`` or ``None``, else TypeError."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{name}: expected a torch.Generator or None, got {type(generator).__name__}"
        )
    return generator


@contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Seed torch's global RNG inside the block; restore the caller's state after.

    With a CUDA ``device`` its RNG is forked and seeded too. Uses
    :func:`torch.random.fork_rng`, so the state comes back even when the block raises.
    """
    check_seed(seed)
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def draw(
    sampler: Callable[..., torch.Tensor],
    *args: object,
    generator: torch.Generator | None,
    device: torch.device | str | None = None,
    **kwargs: object,
) -> torch.Tensor:
    """``sampler(*args, generator=generator, **kwargs)`` (``torch.rand``, ``torch.randn``,
    ``torch.randint``, ``torch.randperm``) drawn on the generator's device and moved to
    ``device``. Without a generator it draws from torch's global RNG on ``device``."""
    if generator is None:
        return sampler(*args, device=device, **kwargs)
    out = sampler(*args, generator=generator, device=generator.device, **kwargs)
    return out if device is None else out.to(device)
