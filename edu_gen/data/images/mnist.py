"""Full-size 28×28 image data: MNIST and Fashion-MNIST, downloaded once and cached.

Files are kept as ``<cache>/<dataset>/<file>.gz`` where ``<cache>`` is the ``root``
argument, else the ``EDU_GEN_DATA`` environment variable, else ``~/.cache/edu_gen``. Every
file is checked against the SHA-256 in :data:`DATASETS` (see :mod:`edu_gen.data.download`).
Offline, copy the ``.gz`` files into that folder by hand, or use the embedded
:func:`edu_gen.data.images.digits`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edu_gen.core.checks import choice, float_dtype, positive_float
from edu_gen.data.cache import cache_folder
from edu_gen.data.download import DatasetUnavailableError, fetch
from edu_gen.data.images.digits import VIEWS, apply_view
from edu_gen.data.images.idx import read_idx

SPLITS: tuple[str, ...] = ("train", "test")
MAX_LEVEL = 255
"""The brightest grey level of the 8-bit MNIST-style images."""


@dataclass(frozen=True)
class RemoteFile:
    """One distributed file: its name, SHA-256 and size in bytes (for reference)."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ImageDataset:
    """Where to get a data set: mirrors (base URLs, tried in order) and its four files."""

    name: str
    title: str
    mirrors: tuple[str, ...]
    files: dict[str, RemoteFile]
    """Keys: ``"<split>_images"`` and ``"<split>_labels"`` for each split."""


# The SHA-256 values and sizes are those of the gzip files as distributed. They were taken
# from TensorFlow Datasets' url_checksums (mnist.txt / fashion_mnist.txt) and agree with
# several independent projects that pin the same files.
DATASETS: dict[str, ImageDataset] = {
    "mnist": ImageDataset(
        name="mnist",
        title="MNIST",
        mirrors=(
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        files={
            "train_images": RemoteFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9_912_422,
            ),
            "train_labels": RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28_881,
            ),
            "test_images": RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1_648_877,
            ),
            "test_labels": RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4_542,
            ),
        },
    ),
    "fashion_mnist": ImageDataset(
        name="fashion_mnist",
        title="Fashion-MNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files={
            "train_images": RemoteFile(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26_421_880,
            ),
            "train_labels": RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29_515,
            ),
            "test_images": RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4_422_102,
            ),
            "test_labels": RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5_148,
            ),
        },
    ),
}


def cache_dir(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """The folder holding ``dataset``'s files: ``root``, else ``$EDU_GEN_DATA``, else
    ``~/.cache/edu_gen``, followed by ``/<dataset>``."""
    return cache_folder(choice("dataset", dataset, DATASETS), root)


def _split_arrays(
    spec: ImageDataset, split: str, folder: Path, download: bool, timeout: float
) -> tuple[np.ndarray, np.ndarray]:
    """Make sure both files of one split are cached and verified; parse them."""
    wanted = [spec.files[f"{split}_images"], spec.files[f"{split}_labels"]]
    every_file = [item.name for item in spec.files.values()]
    if not download:
        missing = [item.name for item in wanted if not (folder / item.name).is_file()]
        if missing:
            reason = f"download=False and {', '.join(missing)} not in the cache"
            raise DatasetUnavailableError(spec.title, folder, every_file, reason)
    arrays = []
    for item in wanted:
        urls = [mirror + item.name for mirror in spec.mirrors]
        try:
            path = fetch(
                urls,
                folder / item.name,
                item.sha256,
                timeout,
                dataset=spec.title,
                download=download,
            )
        except DatasetUnavailableError as exc:  # list every file, for copying them by hand
            raise DatasetUnavailableError(spec.title, folder, every_file, exc.reason) from exc
        arrays.append(read_idx(path))
    images, labels = arrays
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{spec.title} {split} images: expected uint8 [N, H, W], "
            f"got {images.dtype} {list(images.shape)}"
        )
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"{spec.title} {split} labels: expected shape [{len(images)}], got {list(labels.shape)}"
        )
    return images, labels


def load_idx_dataset(
    dataset: str,
    split: str = "train",
    view: str = "unit",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 30.0,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of an IDX data set in :data:`DATASETS` as ``(x, y)`` tensors.

    See :func:`mnist` for the arguments; ``dataset`` is a key of :data:`DATASETS`.
    """
    choice("dataset", dataset, DATASETS)
    choice("split", split, SPLITS)
    choice("view", view, VIEWS)
    timeout = positive_float("timeout", timeout)
    float_dtype("dtype", dtype)
    spec = DATASETS[dataset]
    images, labels = _split_arrays(spec, split, cache_dir(dataset, root), download, timeout)
    x = apply_view(torch.from_numpy(images), MAX_LEVEL, view, dtype)
    x = x.reshape(len(x), -1) if flatten else x.unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def mnist(
    split: str = "train",
    view: str = "unit",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 30.0,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST handwritten digits (60,000 train / 10,000 test, 28×28) as ``(x, y)``.

    Args:
        split: ``"train"`` or ``"test"``.
        view: ``"unit"`` [0, 1], ``"signed"`` [-1, 1], ``"binary"`` {0, 1} or ``"levels"``
            (raw 0..255 as floats); see :mod:`edu_gen.data.images.digits`.
        root: cache folder (default ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``).
        download: fetch missing files; ``False`` never uses the network.
        timeout: seconds a mirror may stall before the next one is tried.
        flatten: ``True`` gives ``x`` of shape [N, 784]; ``False`` gives [N, 1, 28, 28].
        dtype: floating dtype of ``x``.

    Returns:
        ``x`` and the int64 labels ``y`` (0-9).

    Raises:
        DatasetUnavailableError: the files are not cached and cannot be downloaded.
        ValueError: bad arguments, or a file does not have the expected SHA-256.
    """
    return load_idx_dataset(
        "mnist",
        split,
        view,
        root=root,
        download=download,
        timeout=timeout,
        flatten=flatten,
        dtype=dtype,
    )


def fashion_mnist(
    split: str = "train",
    view: str = "unit",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 30.0,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST clothing images (60,000 train / 10,000 test, 28×28) as ``(x, y)``.

    Same arguments and results as :func:`mnist`; the labels are the 10 classes
    T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
    """
    return load_idx_dataset(
        "fashion_mnist",
        split,
        view,
        root=root,
        download=download,
        timeout=timeout,
        flatten=flatten,
        dtype=dtype,
    )
