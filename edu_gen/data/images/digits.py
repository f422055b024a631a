"""The embedded default image data: scikit-learn's 8×8 handwritten digits.

``sklearn.datasets.load_digits`` ships 1,797 greyscale images of the digits 0-9 with the
library itself, so every lesson runs offline and in seconds. Each pixel is an integer grey
level from 0 (background) to 16 (ink).

A *view* picks how those grey levels are presented to a model:

* ``"unit"``   - ``level / 16`` in [0, 1] (the usual choice);
* ``"signed"`` - ``2 * unit - 1`` in [-1, 1] (tanh outputs, diffusion models);
* ``"binary"`` - ``1.0`` where ``unit > 0.5`` else ``0.0`` (Bernoulli likelihoods);
* ``"levels"`` - the raw integer levels 0..16 as floats (for dequantisation).

The same views are used for MNIST and Fashion-MNIST (see :mod:`edu_gen.data.images.mnist`).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import rng
from edu_gen.core.checks import choice, float_dtype, positive_int

VIEWS: tuple[str, ...] = ("unit", "signed", "binary", "levels")
"""The ways of presenting grey levels, shared by every image data set."""

DIGITS_SPLITS: tuple[str, ...] = ("train", "test", "all")
DIGITS_MAX_LEVEL = 16
"""The brightest grey level in ``load_digits`` (levels run 0..16)."""


def apply_view(
    levels: torch.Tensor, max_level: int, view: str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Turn integer grey levels ``0..max_level`` into the floating tensor of one view.

    Args:
        levels: integer tensor of grey levels (any shape).
        max_level: the brightest level (16 for the digits, 255 for MNIST).
        view: one of :data:`VIEWS`.
        dtype: floating dtype of the result.

    Returns:
        A new tensor with the shape of ``levels``.
    """
    choice("view", view, VIEWS)
    float_dtype("dtype", dtype)
    if view == "binary":
        # Integer comparison, so the threshold "unit > 0.5" is exact and deterministic.
        return (levels.to(torch.int64) * 2 > max_level).to(dtype)
    x = levels.to(dtype)
    if view == "levels":
        return x
    x = x / max_level
    if view == "signed":
        x = x * 2 - 1
    return x


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Load the bundled digits once per process: uint8 images [1797, 8, 8], int64 labels."""
    bunch = load_digits()
    images = np.asarray(bunch.images).astype(np.uint8)
    labels = np.asarray(bunch.target).astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def check_test_size(test_size: object) -> float:
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, (int, float))
        or not 0.0 < test_size < 1.0
    ):
        raise ValueError(
            f"test_size: expected a fraction strictly between 0 and 1, got {test_size!r}"
        )
    return float(test_size)


def stratified_rows(labels: np.ndarray, split: str, test_size: float, seed: int) -> np.ndarray:
    """Sorted row indices of one split (``"train"``, ``"test"`` or ``"all"``) of a
    stratified train/test split of ``labels``: every class in both, in proportion."""
    every = np.arange(len(labels))
    if split == "all":
        every.setflags(write=False)
        return every
    try:
        train, test = train_test_split(
            every, test_size=test_size, random_state=seed, shuffle=True, stratify=labels
        )
    except ValueError as exc:  # e.g. too few test images to hold every class
        raise ValueError(
            f"test_size: {test_size} gives an impossible stratified split ({exc})"
        ) from exc
    chosen = np.sort(train if split == "train" else test)
    chosen.setflags(write=False)
    return chosen


@functools.lru_cache(maxsize=32)
def split_indices(split: str, test_size: float, seed: int) -> np.ndarray:
    """Sorted row indices of one split of the digits' stratified train/test split."""
    return stratified_rows(_digits_arrays()[1], split, test_size, seed)


def digits(
    split: str = "train",
    view: str = "unit",
    *,
    test_size: float = 0.2,
    seed: int = 0,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8×8 scikit-learn digits as ``(x, y)`` tensors; no download needed.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``. Train and test come from a stratified
            split (every class in both, in proportion), are disjoint and together make "all".
        view: how pixels are presented, one of :data:`VIEWS` (see the module docstring).
        test_size: fraction of the images in the test split, in (0, 1).
        seed: seed of the split; the same seed always gives the same split.
        flatten: ``True`` gives ``x`` of shape [N, 64]; ``False`` gives [N, 1, 8, 8].
        dtype: floating dtype of ``x``.

    Returns:
        ``x`` (``dtype``) and the int64 labels ``y`` of shape [N], rows in the original order.
    """
    choice("split", split, DIGITS_SPLITS)
    choice("view", view, VIEWS)
    test_size = check_test_size(test_size)
    seed = rng.check_seed(seed, below=2**32)  # scikit-learn's limit
    float_dtype("dtype", dtype)
    images, labels = _digits_arrays()
    rows = split_indices(split, test_size, seed)
    x = apply_view(torch.from_numpy(images[rows]), DIGITS_MAX_LEVEL, view, dtype)
    x = x.reshape(len(rows), -1) if flatten else x.unsqueeze(1)
    y = torch.from_numpy(labels[rows])
    return x, y


def digits_loader(
    split: str = "train",
    view: str = "unit",
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    flatten: bool = True,
    test_size: float = 0.2,
) -> DataLoader:
    """A ``DataLoader`` of ``(x, y)`` batches of :func:`digits`.

    Shuffling draws from the loader's own ``torch.Generator`` seeded with ``seed``, so two
    loaders built with the same arguments yield batches in the same order (epoch after
    epoch), whatever the global random state. ``seed`` also fixes the train/test split.
    """
    batch_size = positive_int("batch_size", batch_size)
    x, y = digits(split, view, test_size=test_size, seed=seed, flatten=flatten)
    return DataLoader(
        TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=bool(shuffle),
        drop_last=bool(drop_last),
        generator=rng.generator(seed),
    )
