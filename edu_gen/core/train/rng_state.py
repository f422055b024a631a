"""Every random-number generator's state, captured and restored for an exact resume.

:func:`capture` returns the states of torch (CPU and CUDA), NumPy's legacy global RNG,
Python's :mod:`random` and a list of explicit :class:`torch.Generator` objects, as tensors
and plain values (so the dict fits a ``weights_only`` checkpoint); :func:`restore` puts
them back. :func:`loader_generators` finds the generator a
:class:`torch.utils.data.DataLoader` shuffles with.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from edu_gen.core.train.players import TurnCycle

__all__ = ["capture", "collect_generators", "loader_generators", "restore"]


def loader_generators(data: Any) -> list[torch.Generator]:
    """The generators of ``data`` if it is a DataLoader: its own and its RandomSampler's.

    A DataLoader draws its workers' base seed (and, without a sampler generator, its
    shuffling seed) from ``loader.generator``; a :class:`~torch.utils.data.RandomSampler`
    shuffles with ``sampler.generator``. Other iterables give ``[]``: pass their generators
    to :func:`~edu_gen.core.train.fit` as ``rng=``. (A :class:`~edu_gen.core.train.TurnCycle`
    is looked through to the data it cycles over.)
    """
    if isinstance(data, TurnCycle):
        return loader_generators(data.data)
    if not isinstance(data, DataLoader):
        return []
    samplers = [data.sampler]
    if isinstance(data.batch_sampler, BatchSampler):
        samplers.append(data.batch_sampler.sampler)
    found = [data.generator] + [s.generator for s in samplers if isinstance(s, RandomSampler)]
    return _unique(g for g in found if isinstance(g, torch.Generator))


def collect_generators(data: Any, rng: Sequence[torch.Generator]) -> list[torch.Generator]:
    """``data``'s DataLoader generators, then the explicit ``rng`` ones (each once)."""
    if isinstance(rng, torch.Generator) or not isinstance(rng, (list, tuple)):
        raise TypeError(f"rng: expected a list or tuple of torch.Generator, got {rng!r}")
    for index, gen in enumerate(rng):
        if not isinstance(gen, torch.Generator):
            raise TypeError(f"rng[{index}]: expected a torch.Generator, got {type(gen).__name__}")
    return _unique([*loader_generators(data), *rng])


def _unique(generators: Iterable[torch.Generator]) -> list[torch.Generator]:
    found: list[torch.Generator] = []
    for gen in generators:
        if all(gen is not other for other in found):
            found.append(gen)
    return found


def capture(generators: Sequence[torch.Generator]) -> dict[str, Any]:
    """Every RNG state, as tensors / plain Python values (``weights_only`` friendly)."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "generators": [gen.get_state() for gen in generators],
    }


def restore(state: Mapping[str, Any], generators: Sequence[torch.Generator]) -> None:
    """Put back the states :func:`capture` returned (CUDA only where the devices match)."""
    torch.set_rng_state(state["torch"])
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss_next"]))
    for gen, gen_state in zip(generators, state["generators"], strict=False):
        gen.set_state(gen_state)
