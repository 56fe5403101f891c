import gzip
import struct

import numpy as np
import pytest

from digitrec.data.idx import encode_idx, parse_idx, read_idx, write_idx
from digitrec.errors import DataError


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip(tmp_path, suffix):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    path = write_idx(tmp_path / f"x-idx3-ubyte{suffix}", images)
    back = read_idx(path, expected_ndim=3)
    assert back.dtype == np.uint8 and back.shape == (3, 28, 28)
    np.testing.assert_array_equal(back, images)


def test_big_endian_types_are_read_native():
    values = np.array([1, -2, 300000], dtype=np.int32)
    back = parse_idx(encode_idx(values), "ints")
    assert back.tolist() == [1, -2, 300000]


def test_wrong_magic_number_is_named():
    raw = b"\x12\x34\x08\x01" + struct.pack(">I", 2) + b"\x01\x02"
    with pytest.raises(DataError, match=r"wrong idx magic number 0x12340801"):
        parse_idx(raw, "labels.idx")


def test_wrong_number_of_dimensions():
    raw = encode_idx(np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match="2 dimensions in its idx header, expected 3"):
        parse_idx(raw, "images.idx", expected_ndim=3)


def test_truncated_data_reports_declared_shape():
    raw = encode_idx(np.zeros((4, 28, 28), np.uint8))[:-10]
    with pytest.raises(DataError, match=r"truncated: its header declares shape \(4, 28, 28\)"):
        parse_idx(raw, "images.idx")


def test_trailing_bytes_are_corrupt():
    raw = encode_idx(np.zeros((2,), np.uint8)) + b"xx"
    with pytest.raises(DataError, match="2 bytes after the data"):
        parse_idx(raw, "labels.idx")


def test_too_short_file():
    with pytest.raises(DataError, match="too short"):
        parse_idx(b"\x00\x00", "x")


def test_truncated_header():
    with pytest.raises(DataError, match="truncated inside its idx header"):
        parse_idx(b"\x00\x00\x08\x03\x00\x00", "x")


def test_truncated_gzip_names_file_and_fix(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros((50, 28, 28), np.uint8)))[:-30])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is truncated .*download it again"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match=r"labels\.gz is not a valid gzip file"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")
