"""Download a file once, verify its SHA-256 and keep it in a local cache.

:func:`fetch` streams a URL into a temporary file beside the destination, checks the
SHA-256 and only then moves it into place with :func:`os.replace` (atomic), so the cache
never holds a half-written or unverified file. Mirrors are tried in order. When none can
be reached, :class:`DatasetUnavailableError` says where the files are expected (so they can
be copied there by hand) and points to the embedded data set :func:`edu_gen.data.images.digits`.
:func:`extract_member` takes one verified file out of a downloaded zip the same way.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from edu_gen.core.checks import positive_float

_CHUNK = 1 << 20
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    urllib.error.URLError,
    TimeoutError,
    OSError,
    http.client.HTTPException,
)
"""Failures that mean "this mirror cannot be reached now": try the next one."""


class DatasetUnavailableError(RuntimeError):
    """A data set's files are neither in the cache nor downloadable right now.

    Attributes:
        dataset: the data set's name.
        directory: the cache folder where its files are expected.
        files: the file names that are missing there.
        reason: what went wrong (the network errors, or ``download=False``).
    """

    def __init__(self, dataset: str, directory: Path, files: Sequence[str], reason: str) -> None:
        self.dataset = dataset
        self.directory = Path(directory)
        self.files = tuple(files)
        self.reason = reason
        super().__init__(
            f"{dataset} is not available: {reason}. "
            f"Its files are expected in {self.directory} ({', '.join(self.files)}); "
            "copy them there by hand, or point root= / the EDU_GEN_DATA environment "
            "variable at a folder that has them. No download is needed for the embedded "
            "8x8 digits: use edu_gen.data.images.digits() instead."
        )

    def __reduce__(self) -> tuple:
        return type(self), (self.dataset, self.directory, self.files, self.reason)


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes as lowercase hex, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_fetch_args(url_list: Sequence[str], sha256: str, timeout: float) -> list[str]:
    if isinstance(url_list, str):
        url_list = [url_list]
    urls = list(url_list)
    if not urls or not all(isinstance(url, str) and url for url in urls):
        raise ValueError(f"url_list: expected a non-empty list of URL strings, got {url_list!r}")
    if not isinstance(sha256, str) or not _SHA256_PATTERN.fullmatch(sha256):
        raise ValueError(f"sha256: expected 64 lowercase hex digits, got {sha256!r}")
    positive_float("timeout", timeout)
    return urls


def _download_to_temp(url: str, directory: Path, name: str, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a new temporary file in ``directory``; return it and its SHA-256.

    The temporary file is removed again if the transfer fails.
    """
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(
        dir=directory, prefix=f".{name}.", suffix=".part", delete=False
    )
    temp = Path(handle.name)
    try:
        with handle, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, digest.hexdigest()


def fetch(
    url_list: Sequence[str],
    dest: str | os.PathLike,
    sha256: str,
    timeout: float,
    *,
    dataset: str | None = None,
    download: bool = True,
) -> Path:
    """Return ``dest`` holding the verified file, downloading it first when needed.

    A cached ``dest`` whose SHA-256 matches is used as it is (no network). A missing or
    corrupted one is downloaded from the first mirror in ``url_list`` that answers, into a
    temporary file in the same folder, verified, then moved into place atomically.

    Args:
        url_list: the mirrors' full URLs of the file, tried in order.
        dest: where the file is kept.
        sha256: its expected SHA-256 (lowercase hex).
        timeout: seconds each connection may stall before the mirror counts as failed.
        dataset: name used in error messages (default: the name of ``dest``'s folder).
        download: ``False`` never touches the network: a missing file is an error.

    Raises:
        ValueError: a download (or, with ``download=False``, the cached file) does not have
            the expected SHA-256; the bad download is deleted. Other mirrors are tried first.
        DatasetUnavailableError: no mirror could be reached (or ``download=False`` and the
            file is not cached).
    """
    urls = _check_fetch_args(url_list, sha256, timeout)
    dest = Path(dest)
    name = dataset or dest.parent.name
    stale = ""
    if dest.is_file():
        actual = sha256_of(dest)
        if actual == sha256:
            return dest
        if not download:
            raise ValueError(_mismatch(dest, sha256, actual, "cached file"))
        stale = f"the cached copy has SHA-256 {actual}, not {sha256}; "
    elif not download:
        raise DatasetUnavailableError(
            name, dest.parent, [dest.name], "download=False and the file is not in the cache"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    mismatches: list[str] = []
    for url in urls:
        try:
            temp, actual = _download_to_temp(url, dest.parent, dest.name, timeout)
        except NETWORK_ERRORS as exc:
            failures.append(f"{url}: {exc}")
            continue
        if actual != sha256:
            temp.unlink(missing_ok=True)
            mismatches.append(_mismatch(dest, sha256, actual, f"download from {url}"))
            continue
        os.replace(temp, dest)
        return dest
    if mismatches:
        raise ValueError("; ".join(mismatches))
    reason = f"{stale}could not download {dest.name} ({'; '.join(failures)})"
    raise DatasetUnavailableError(name, dest.parent, [dest.name], reason)


def extract_member(
    archive: str | os.PathLike, member: str, sha256: str, dest: str | os.PathLike
) -> Path:
    """Copy the file named ``member`` (in any folder) out of the zip ``archive`` to ``dest``.

    Its SHA-256 is checked before anything is written, and ``dest`` is replaced atomically.

    Raises:
        ValueError: the archive has no such member, or the member's SHA-256 is not ``sha256``.
    """
    archive, dest = Path(archive), Path(dest)
    with zipfile.ZipFile(archive) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        if member not in names:
            raise ValueError(f"{archive.name}: has no member {member}")
        data = zf.read(names[member])
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(_mismatch(dest, sha256, actual, f"member of {archive.name}"))
    handle = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            handle.write(data)
        os.replace(handle.name, dest)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return dest


def _mismatch(dest: Path, expected: str, actual: str, what: str) -> str:
    return f"SHA-256 mismatch for {dest.name} ({what}): expected {expected}, got {actual}"
