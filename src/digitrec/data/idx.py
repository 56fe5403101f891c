"""The idx file format of MNIST (http://yann.lecun.com/exdb/mnist/), read and written.

An idx file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from digitrec.errors import DataError

# Type code -> numpy dtype (big-endian, as the format stores it).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in .gz, with errors that name it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path} is truncated (its gzip stream ends early); delete it and download it again") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise DataError(f"{path} is not a valid gzip file ({e}); replace it with the official file") from None


def parse_idx(raw: bytes, name: str, expected_ndim: int | None = None) -> np.ndarray:
    """Parse idx bytes into a native-endian array; `name` is used in error messages."""
    if len(raw) < 4:
        raise DataError(f"{name} is too short to be an idx file ({len(raw)} bytes)")
    zero1, zero2, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero1 != 0 or zero2 != 0 or type_code not in IDX_TYPES or ndim == 0:
        magic = int.from_bytes(raw[:4], "big")
        raise DataError(
            f"{name} has a wrong idx magic number 0x{magic:08x}; it is not an idx file "
            "(MNIST images start with 0x00000803, labels with 0x00000801)"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(f"{name} has {ndim} dimensions in its idx header, expected {expected_ndim}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{name} is truncated inside its idx header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = IDX_TYPES[type_code]
    expected_len = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected_len:
        raise DataError(
            f"{name} is truncated: its header declares shape {shape} ({expected_len} bytes) but it has {len(raw)} bytes"
        )
    if len(raw) > expected_len:
        raise DataError(
            f"{name} has {len(raw) - expected_len} bytes after the data its header declares "
            f"(shape {shape}); it is corrupt"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    path = Path(path)
    return parse_idx(read_bytes_maybe_gzip(path), str(path), expected_ndim)


def encode_idx(array: np.ndarray) -> bytes:
    """The idx bytes of `array` (used to write test fixtures and exports)."""
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"idx cannot store dtype {array.dtype}")
    code = codes[native]
    big = IDX_TYPES[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    path = Path(path)
    data = encode_idx(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path
