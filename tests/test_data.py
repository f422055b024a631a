"""Tests of edu_gen.data: the embedded digits, the IDX format and the download cache.

No test touches the network: ``urllib.request.urlopen`` is replaced by fakes that serve
bytes from memory, fail, or record that they were called.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from edu_gen.data import (
    DATASETS,
    VIEWS,
    DatasetUnavailableError,
    cache_dir,
    digits,
    digits_loader,
    fashion_mnist,
    fetch,
    load_images,
    mnist,
    read_idx,
    write_idx,
)
from edu_gen.data.images.mnist import ImageDataset, RemoteFile

# ---------------------------------------------------------------- digits


@pytest.mark.parametrize(
    ("view", "low", "high"),
    [("unit", 0.0, 1.0), ("signed", -1.0, 1.0), ("binary", 0.0, 1.0), ("levels", 0.0, 16.0)],
)
def test_digits_views_shapes_dtypes_ranges(view: str, low: float, high: float) -> None:
    x, y = digits("all", view)
    assert x.shape == (1797, 64) and x.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert x.min().item() == low and x.max().item() == high
    assert set(y.tolist()) == set(range(10))


def test_digits_views_agree_with_each_other() -> None:
    levels, _ = digits("all", "levels")
    unit, _ = digits("all", "unit")
    signed, _ = digits("all", "signed")
    binary, _ = digits("all", "binary")
    assert torch.equal(levels, levels.round())
    torch.testing.assert_close(unit, levels / 16)
    torch.testing.assert_close(signed, 2 * unit - 1)
    assert torch.equal(binary, (unit > 0.5).float())
    assert set(binary.unique().tolist()) == {0.0, 1.0}


def test_digits_flatten_false_and_dtype() -> None:
    x, y = digits("test", flatten=False, dtype=torch.float64)
    assert x.shape == (len(y), 1, 8, 8) and x.dtype == torch.float64


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x}


def test_digits_split_is_disjoint_complete_and_stratified() -> None:
    x_all, y_all = digits("all", "levels")
    x_train, y_train = digits("train", "levels")
    x_test, y_test = digits("test", "levels")
    assert len(y_train) + len(y_test) == len(y_all)
    assert len(y_test) == pytest.approx(0.2 * len(y_all), abs=1)
    # Rows of the data set are not all distinct, so compare the multisets of (row, label).
    pairs = sorted(map(tuple, torch.cat([x_all, y_all[:, None]], 1).tolist()))
    both = torch.cat([torch.cat([x_train, x_test]), torch.cat([y_train, y_test])[:, None]], 1)
    assert sorted(map(tuple, both.tolist())) == pairs
    assert (
        set(torch.unique(y_train).tolist()) == set(torch.unique(y_test).tolist()) == set(range(10))
    )
    share = torch.bincount(y_test, minlength=10) / torch.bincount(y_all, minlength=10)
    assert torch.all((share - 0.2).abs() < 0.03)


def test_digits_split_indices_disjoint() -> None:
    from edu_gen.data.images.digits import split_indices

    train = set(split_indices("train", 0.25, 3).tolist())
    test = set(split_indices("test", 0.25, 3).tolist())
    assert not train & test and train | test == set(range(1797))


def test_digits_split_reproducible_and_seed_dependent() -> None:
    a, ya = digits("train", seed=1)
    b, yb = digits("train", seed=1)
    c, _ = digits("train", seed=2)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert _rows(a) != _rows(c)


def test_digits_returns_fresh_tensors() -> None:
    x, y = digits("all", "levels")
    x.zero_()
    y.zero_()
    x2, y2 = digits("all", "levels")
    assert x2.max().item() == 16.0 and y2.max().item() == 9


def test_digits_loader_order_reproducible() -> None:
    def batches(seed: int) -> list[torch.Tensor]:
        loader = digits_loader(batch_size=100, seed=seed)
        return [y for _, y in loader]

    first, again, other = batches(5), batches(5), batches(6)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=False))


def test_digits_loader_batches() -> None:
    loader = digits_loader("test", "binary", batch_size=32, drop_last=True, flatten=False)
    x, y = next(iter(loader))
    assert x.shape == (32, 1, 8, 8) and y.shape == (32,)
    assert len(loader) == len(digits("test")[1]) // 32
    unshuffled = digits_loader("test", batch_size=10_000, shuffle=False)
    assert torch.equal(next(iter(unshuffled))[1], digits("test")[1])


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"split": "valid"}, "split"),
        ({"view": "grey"}, "view"),
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": 1.0}, "test_size"),
        ({"test_size": "0.2"}, "test_size"),
        ({"seed": -1}, "seed"),
        ({"dtype": torch.int64}, "dtype"),
    ],
)
def test_digits_rejects_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        digits(**kwargs)


def test_bad_split_and_view_list_valid_values() -> None:
    with pytest.raises(ValueError, match="'train', 'test', 'all'"):
        digits("valid")
    with pytest.raises(ValueError, match=", ".join(repr(v) for v in VIEWS)):
        digits("train", "grey")


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_digits_loader_rejects_bad_batch_size(batch_size: object) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        digits_loader(batch_size=batch_size)


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-(2**31), -1, 0, 7, 2**31 - 1], dtype=np.int32),
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.array([[-5, 3]], dtype=np.int16),
        np.array([1e-300, -2.5], dtype=np.float64),
        np.array([-128, 127], dtype=np.int8),
    ],
    ids=["uint8-3d", "int32", "float32", "int16", "float64", "int8"],
)
def test_idx_round_trip(tmp_path: Path, array: np.ndarray, compress: bool) -> None:
    path = write_idx(array, tmp_path / "a.idx", gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    for source in (path, str(path), path.read_bytes()):
        back = read_idx(source)
        assert back.dtype == array.dtype and back.dtype.isnative
        np.testing.assert_array_equal(back, array)
    assert read_idx(path).flags.writeable


def test_idx_known_bytes() -> None:
    raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    np.testing.assert_array_equal(read_idx(raw), np.arange(6, dtype=np.uint8).reshape(2, 3))
    raw = bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 1, 2])
    assert read_idx(raw).tolist() == [258]


def test_idx_truncated_data(tmp_path: Path) -> None:
    data = write_idx(np.zeros((2, 3, 4), np.uint8), tmp_path / "a.idx").read_bytes()
    with pytest.raises(ValueError, match="expected 24 bytes.*found 23"):
        read_idx(data[:-1])
    with pytest.raises(ValueError, match="expected 24 bytes.*found 25"):
        read_idx(data + b"\0")
    with pytest.raises(ValueError, match="header"):
        read_idx(data[:9])


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    data = write_idx(np.arange(100, dtype=np.uint8), tmp_path / "a.gz", gzip=True).read_bytes()
    with pytest.raises(ValueError, match="gzip"):
        read_idx(data[:-10])


def test_idx_bad_magic_and_dtype() -> None:
    with pytest.raises(ValueError, match="magic.*two zero bytes.*found 01 00"):
        read_idx(bytes([1, 0, 0x08, 1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="type code.*found 0x07"):
        read_idx(bytes([0, 0, 0x07, 1, 0, 0, 0, 0]))


def test_idx_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="source"):
        read_idx(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="array.*uint8"):
        write_idx(np.zeros(3, np.int64), tmp_path / "a.idx")


# ---------------------------------------------------------------- download and cache


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeWeb:
    """Stands in for urllib.request.urlopen: serves ``pages``, records every call."""

    def __init__(self, pages: dict[str, bytes] | None = None, offline: bool = False) -> None:
        self.pages = dict(pages or {})
        self.offline = offline
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.calls.append((url, timeout))
        if self.offline or url not in self.pages:
            raise urllib.error.URLError(f"no route to {url}")
        return io.BytesIO(self.pages[url])


def _forbidden(url: str, timeout: float | None = None) -> None:
    raise AssertionError(f"the network was used: {url}")


MIRRORS = ("https://mirror-a.invalid/mnist/", "https://mirror-b.invalid/mnist/")


@pytest.fixture
def fake_mnist(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replace the MNIST table entry by tiny IDX files; return their arrays and bytes."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train_labels": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        "test_images": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 2], dtype=np.uint8),
    }
    arrays["train_images"][0, 0, :2] = (0, 255)
    blobs, files = {}, {}
    for key, array in arrays.items():
        name = f"{key}.gz"
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
            handle.write(bytes([0, 0, 0x08, array.ndim]))
            handle.write(np.array(array.shape, dtype=">i4").tobytes())
            handle.write(array.tobytes())
        blobs[name] = buffer.getvalue()
        files[key] = RemoteFile(name, _sha(blobs[name]), len(blobs[name]))
    spec = ImageDataset("mnist", "MNIST", MIRRORS, files)
    monkeypatch.setitem(DATASETS, "mnist", spec)  # the very dict mnist() reads
    pages = {MIRRORS[0] + name: blob for name, blob in blobs.items()}
    return {"arrays": arrays, "blobs": blobs, "pages": pages}


def _web(monkeypatch: pytest.MonkeyPatch, web: object) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", web)


def test_mnist_downloads_verifies_caches_and_scales(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    web = FakeWeb(fake_mnist["pages"])
    _web(monkeypatch, web)
    x, y = mnist(root=tmp_path, timeout=7.5)
    images = torch.from_numpy(fake_mnist["arrays"]["train_images"])
    assert x.shape == (5, 784) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == [3, 1, 4, 1, 5]
    torch.testing.assert_close(x, images.reshape(5, -1).float() / 255)
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert [url for url, _ in web.calls] == [
        MIRRORS[0] + "train_images.gz",
        MIRRORS[0] + "train_labels.gz",
    ]
    assert all(timeout == 7.5 for _, timeout in web.calls)
    folder = tmp_path / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == ["train_images.gz", "train_labels.gz"]
    assert (folder / "train_images.gz").read_bytes() == fake_mnist["blobs"]["train_images.gz"]

    _web(monkeypatch, _forbidden)  # the second call is served from the cache
    x2, y2 = mnist(root=tmp_path)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_mnist_views_and_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    _web(monkeypatch, FakeWeb(fake_mnist["pages"]))
    levels = torch.from_numpy(fake_mnist["arrays"]["test_images"]).float().unsqueeze(1)
    x, y = mnist("test", "levels", root=tmp_path, flatten=False)
    assert x.shape == (2, 1, 28, 28) and torch.equal(x, levels) and y.tolist() == [9, 2]
    signed, _ = load_images("mnist", "test", "signed", root=tmp_path)
    torch.testing.assert_close(signed, (levels / 255 * 2 - 1).reshape(2, -1))
    binary, _ = mnist("test", "binary", root=tmp_path)
    assert torch.equal(binary, (levels > 127.5).float().reshape(2, -1))


def test_fetch_tries_mirrors_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    blob = fake_mnist["blobs"]["test_labels.gz"]
    web = FakeWeb({MIRRORS[1] + "f.gz": blob})
    _web(monkeypatch, web)
    path = fetch([MIRRORS[0] + "f.gz", MIRRORS[1] + "f.gz"], tmp_path / "d" / "f.gz", _sha(blob), 3)
    assert path.read_bytes() == blob
    assert [url for url, _ in web.calls] == [MIRRORS[0] + "f.gz", MIRRORS[1] + "f.gz"]


def test_hash_mismatch_raises_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    pages = dict(fake_mnist["pages"])
    pages[MIRRORS[0] + "train_images.gz"] = b"tampered"
    _web(monkeypatch, FakeWeb(pages))
    expected = DATASETS["mnist"].files["train_images"].sha256
    with pytest.raises(
        ValueError, match=f"train_images.gz.*expected {expected}, got {_sha(b'tampered')}"
    ):
        mnist(root=tmp_path)
    folder = tmp_path / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_raises_dataset_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    web = FakeWeb(offline=True)
    _web(monkeypatch, web)
    with pytest.raises(DatasetUnavailableError) as info:
        mnist(root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist") in message and "edu_gen.data.images.digits()" in message
    assert "MNIST" in message and "could not download train_images.gz" in message
    assert all(name in message for name in fake_mnist["blobs"])  # all four, to copy by hand
    assert isinstance(info.value, RuntimeError)
    assert [url for url, _ in web.calls] == [
        MIRRORS[0] + "train_images.gz",
        MIRRORS[1] + "train_images.gz",
    ]
    assert list((tmp_path / "mnist").iterdir()) == []


def test_download_false_never_uses_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    _web(monkeypatch, _forbidden)
    with pytest.raises(DatasetUnavailableError) as info:
        mnist("test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "mnist") in message and "digits" in message
    assert "test_images.gz" in message and "test_labels.gz" in message
    with pytest.raises(DatasetUnavailableError, match="fashion_mnist"):
        fashion_mnist(root=tmp_path, download=False)


def test_download_false_uses_files_copied_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    _web(monkeypatch, _forbidden)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("test_images.gz", "test_labels.gz"):
        (folder / name).write_bytes(fake_mnist["blobs"][name])
    x, y = mnist("test", root=tmp_path, download=False)
    assert x.shape == (2, 784) and y.tolist() == [9, 2]
    (folder / "test_labels.gz").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="test_labels.gz.*expected"):
        mnist("test", root=tmp_path, download=False)


def test_corrupted_cache_is_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: dict
) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "test_images.gz").write_bytes(b"half a file")
    (folder / "test_labels.gz").write_bytes(fake_mnist["blobs"]["test_labels.gz"])
    web = FakeWeb(fake_mnist["pages"])
    _web(monkeypatch, web)
    x, _ = mnist("test", "levels", root=tmp_path)
    assert [url for url, _ in web.calls] == [MIRRORS[0] + "test_images.gz"]
    assert (folder / "test_images.gz").read_bytes() == fake_mnist["blobs"]["test_images.gz"]
    assert torch.equal(
        x, torch.from_numpy(fake_mnist["arrays"]["test_images"]).float().reshape(2, -1)
    )


def test_cache_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path / "env"))
    assert cache_dir("mnist") == tmp_path / "env" / "mnist"
    assert cache_dir("fashion_mnist", tmp_path) == tmp_path / "fashion_mnist"
    monkeypatch.delenv("EDU_GEN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("mnist") == tmp_path / "home" / ".cache" / "edu_gen" / "mnist"


def test_mnist_rejects_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _web(monkeypatch, _forbidden)
    with pytest.raises(ValueError, match="split.*'train', 'test'"):
        mnist("all", root=tmp_path)
    with pytest.raises(ValueError, match="view"):
        fashion_mnist("train", "colour", root=tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        mnist(root=tmp_path, timeout=0)
    with pytest.raises(ValueError, match="sha256"):
        fetch(["https://x.invalid/f"], tmp_path / "f", "abc", 1.0)
    with pytest.raises(ValueError, match="url_list"):
        fetch([], tmp_path / "f", "0" * 64, 1.0)


def test_dataset_table_is_complete() -> None:
    names = {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert set(DATASETS) == {"mnist", "fashion_mnist"}
    for spec in DATASETS.values():
        assert {item.name for item in spec.files.values()} == names
        assert set(spec.files) == {"train_images", "train_labels", "test_images", "test_labels"}
        assert all(
            len(item.sha256) == 64 and int(item.sha256, 16) >= 0 for item in spec.files.values()
        )
        assert all(mirror.endswith("/") for mirror in spec.mirrors)
    assert DATASETS["mnist"].mirrors[0] == "https://storage.googleapis.com/cvdf-datasets/mnist/"


def test_load_images_dispatch() -> None:
    x, y = load_images("digits", "test", "binary", seed=3)
    x2, y2 = digits("test", "binary", seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="'digits', 'mnist', 'fashion_mnist'") as info:
        load_images("cifar10")
    assert "name" in str(info.value)


def test_digits_too_small_test_size_names_argument() -> None:
    with pytest.raises(ValueError, match="test_size"):
        digits(test_size=0.001)


def test_cache_folder_is_shared_by_images_and_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edu_gen.data.cache import ENV_VAR, cache_folder
    from edu_gen.data.tables import adult_cache_dir

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert cache_folder("mnist") == cache_dir("mnist") == tmp_path / "mnist"
    assert cache_folder("adult") == adult_cache_dir() == tmp_path / "adult"
    with pytest.raises(ValueError, match="cache: expected a folder path"):
        adult_cache_dir(3)  # type: ignore[arg-type]


def test_extract_member_verifies_before_writing(tmp_path: Path) -> None:
    import zipfile

    from edu_gen.data.download import extract_member

    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/a.txt", b"alpha")
    dest = tmp_path / "a.txt"
    assert extract_member(archive, "a.txt", _sha(b"alpha"), dest) == dest
    assert dest.read_bytes() == b"alpha"
    with pytest.raises(ValueError, match="has no member b.txt"):
        extract_member(archive, "b.txt", _sha(b"alpha"), tmp_path / "b.txt")
    with pytest.raises(ValueError, match="SHA-256 mismatch for c.txt \\(member of both.zip\\)"):
        extract_member(archive, "a.txt", "0" * 64, tmp_path / "c.txt")
    assert not (tmp_path / "c.txt").exists()


def test_mnist_subset_is_real_28x28_mnist_offline() -> None:
    from edu_gen.data import load_images, mnist_subset, mnist_subset_loader

    x_all, y_all = mnist_subset("all", "levels", flatten=False)
    assert x_all.shape == (5000, 1, 28, 28) and torch.bincount(y_all).tolist() == [500] * 10
    assert x_all.min() == 0 and x_all.max() == 255 and torch.equal(x_all, x_all.round())
    assert x_all[:, :, 0, :].mean() < 1 < x_all[:, :, 10:18, 10:18].mean()  # ink in the middle
    x_train, y_train = mnist_subset("train")
    x_test, y_test = mnist_subset("test", "binary")
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert torch.bincount(y_test).tolist() == [100] * 10  # stratified
    # the file is sorted by class; the splits are not: any 100 rows hold every class
    assert all(len(y[:100].unique()) == 10 for y in (y_train, y_test, y_all))
    assert torch.equal(mnist_subset("train")[1], y_train)  # and the order is fixed
    assert set(x_test.unique().tolist()) == {0.0, 1.0}
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) <= 1.0
    a, _ = load_images("mnist_subset", "train", "signed")
    assert torch.allclose(a, 2 * x_train - 1)
    x, y = next(iter(mnist_subset_loader("test", batch_size=32, flatten=False)))
    assert x.shape == (32, 1, 28, 28) and y.shape == (32,)
    with pytest.raises(ValueError, match="split"):
        mnist_subset("validation")
    with pytest.raises(ValueError, match="test_size"):
        mnist_subset(test_size=1.5)


def test_image_loader_shuffles_reproducibly_and_keeps_labels() -> None:
    from edu_gen.data import image_loader, mnist_subset

    a = next(iter(image_loader("mnist_subset", "test", "binary", batch_size=50, seed=3)))
    b = next(iter(image_loader("mnist_subset", "test", "binary", batch_size=50, seed=3)))
    c = next(iter(image_loader("mnist_subset", "test", "binary", batch_size=50, seed=4)))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    x, y = mnist_subset("test", "binary")
    rows = [int((x == row).all(1).nonzero()[0]) for row in a[0][:5]]
    assert torch.equal(y[rows], a[1][:5])  # each image keeps its label
    loader = image_loader("digits", "train", flatten=False, batch_size=1000, drop_last=True)
    assert len(loader) == 1 and next(iter(loader))[0].shape == (1000, 1, 8, 8)
    with pytest.raises(ValueError, match="batch_size"):
        image_loader("digits", batch_size=0)
