"""Read and write the IDX format of MNIST-style data sets.

An IDX file is a 4-byte magic number, then one big-endian int32 per dimension, then the
data, row-major and big-endian:

======  =====================================================================
bytes   meaning
======  =====================================================================
0, 1    always zero
2       element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
        0x0D float32, 0x0E float64
3       number of dimensions
4...    the size of each dimension (big-endian int32), then the data
======  =====================================================================

:func:`read_idx` also accepts gzip-compressed files (as distributed) transparently.
"""

from __future__ import annotations

import gzip as gzip_module
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> big-endian NumPy dtype of the stored elements."""

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**31 - 1


def _code_of(dtype: np.dtype) -> int:
    """The IDX type code of a NumPy dtype, whatever its byte order."""
    for code, stored in IDX_DTYPES.items():
        if stored.kind == dtype.kind and stored.itemsize == dtype.itemsize:
            return code
    names = ["uint8", "int8", "int16", "int32", "float32", "float64"]
    raise ValueError(f"array: expected a dtype IDX can store ({', '.join(names)}), got {dtype}")


def _source_bytes(source: str | os.PathLike | bytes | bytearray | memoryview) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return Path(source).read_bytes()
    raise TypeError(f"source: expected a path (str or Path) or bytes, got {type(source).__name__}")


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (plain or gzip-compressed) into a native-endian NumPy array.

    Args:
        source: a file path, or the file's bytes.

    Returns:
        A writable array with the stored dtype (native byte order) and shape.

    Raises:
        ValueError: corrupt gzip data, a bad magic number, an unknown type code, or a data
            length that does not match the dimensions.
    """
    data = _source_bytes(source)
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip_module.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"source: gzip-compressed but not decodable ({exc})") from exc
    if len(data) < 4:
        raise ValueError(f"IDX header: expected at least 4 bytes, found {len(data)}")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"IDX magic: expected two zero bytes, found {data[:2].hex(' ')}")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"IDX type code: expected one of {known}, found 0x{code:02X}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"IDX header: expected {header_size} bytes for {ndim} dimensions, found {len(data)}"
        )
    shape = struct.unpack(f">{ndim}i", data[4:header_size])
    if any(size < 0 for size in shape):
        raise ValueError(f"IDX dimensions: expected non-negative sizes, found {shape}")
    dtype = IDX_DTYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        raise ValueError(
            f"IDX data: expected {expected} bytes for shape {shape} of {dtype.name}, found {found}"
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def write_idx(array: np.ndarray, path: str | os.PathLike, gzip: bool = False) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``gzip=True``); return the path.

    Supported dtypes: uint8, int8, int16, int32, float32, float64. Compression uses a
    fixed timestamp, so the same array always gives the same bytes.
    """
    array = np.asarray(array)
    code = _code_of(array.dtype)
    if array.ndim > 255:
        raise ValueError(f"array: expected at most 255 dimensions, got {array.ndim}")
    if any(size > _MAX_DIM for size in array.shape):
        raise ValueError(f"array: expected every dimension < 2**31, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if gzip:
        payload = gzip_module.compress(payload, mtime=0)
    target = Path(path)
    target.write_bytes(payload)
    return target
