"""Image data for the course.

* :func:`digits` / :func:`digits_loader` - scikit-learn's 8×8 digits, bundled with the
  library: the default everywhere, no download, runs in seconds.
* :func:`mnist` / :func:`fashion_mnist` - full-size 28×28 images, downloaded once into a
  verified cache (for Colab and longer runs).
* :func:`load_images` - pick one of them by name.
* :func:`read_idx` / :func:`write_idx` - the IDX file format those data sets use.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from edu_gen.data.digits import VIEWS, apply_view, digits, digits_loader
from edu_gen.data.download import DatasetUnavailableError, fetch, sha256_of
from edu_gen.data.idx import read_idx, write_idx
from edu_gen.data.mnist import DATASETS, cache_dir, fashion_mnist, mnist

IMAGE_DATASETS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "digits": digits,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
}
"""Name -> loader for :func:`load_images`."""


def load_images(
    name: str, split: str = "train", view: str = "unit", **kwargs: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load image data set ``name`` (``"digits"``, ``"mnist"`` or ``"fashion_mnist"``).

    ``split``, ``view`` and any keyword arguments go to that data set's loader, e.g.
    ``load_images("mnist", "test", "binary", flatten=False)``.
    """
    if not isinstance(name, str) or name not in IMAGE_DATASETS:
        raise ValueError(f"name: expected one of {list(IMAGE_DATASETS)}, got {name!r}")
    return IMAGE_DATASETS[name](split, view, **kwargs)


__all__ = [
    "DATASETS",
    "IMAGE_DATASETS",
    "VIEWS",
    "DatasetUnavailableError",
    "apply_view",
    "cache_dir",
    "digits",
    "digits_loader",
    "fashion_mnist",
    "fetch",
    "load_images",
    "mnist",
    "read_idx",
    "sha256_of",
    "write_idx",
]
