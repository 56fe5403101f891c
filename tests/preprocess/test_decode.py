import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from digitrec.preprocess import ImageError, ImageTooLargeError, decode_image


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"])
def test_every_format_decodes_to_gray(fmt):
    a = np.full((20, 30), 200, np.uint8)
    a[5:15, 10:12] = 10
    buffer = io.BytesIO()
    Image.fromarray(a).convert("RGB").save(buffer, fmt)
    gray = decode_image(buffer.getvalue())
    assert gray.shape == (20, 30) and gray.dtype == np.float32
    assert gray[10, 11] < 0.2 and gray[0, 0] > 0.7


def test_exif_orientation_is_applied():
    a = np.zeros((10, 40, 3), np.uint8)
    image = Image.fromarray(a)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).shape == (40, 10)


def test_black_strokes_on_transparent_canvas_stay_visible():
    rgba = np.zeros((20, 20, 4), np.uint8)  # transparent black everywhere
    rgba[5:15, 9:11, 3] = 255  # opaque black strokes
    gray = decode_image(_png(rgba, "RGBA"))
    assert gray[0, 0] > 0.99 and gray[10, 10] < 0.01, "flattened onto white, the black strokes show"


def test_white_strokes_on_transparent_canvas_go_onto_black():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 9:11] = 255
    gray = decode_image(_png(rgba, "RGBA"))
    assert gray[0, 0] < 0.01 and gray[10, 10] > 0.99


def test_sixteen_bit_png():
    a = np.zeros((8, 8), np.uint16)
    a[2:6, 2:6] = 60000
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, "PNG")
    gray = decode_image(buffer.getvalue())
    assert gray.max() == pytest.approx(1.0) and gray.min() == 0.0


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((5, 5), 255, np.uint8), 1.0),
        (np.full((5, 5), 1.0, np.float32), 1.0),
        (np.full((5, 5, 3), 255, np.uint8), 1.0),
        (np.full((5, 5, 1), 0, np.uint8), 0.0),
    ],
)
def test_numpy_inputs(array, expected):
    assert decode_image(array).max() == pytest.approx(expected)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 5, 2)), "shape"),
        (np.full((5, 5), np.nan), "NaN"),
        (np.full((5, 5), 300.0), "outside 0-255"),
        (np.zeros((0, 5)), "no pixels"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message):
        decode_image(array)


def test_corrupt_file(tmp_path):
    good = _png(np.random.default_rng(0).integers(0, 255, (50, 50), dtype=np.uint8))
    path = tmp_path / "broken.png"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageError, match=r"broken\.png is corrupt or truncated"):
        decode_image(path)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels")
    with pytest.raises(ImageError, match=r"notes\.png is not an image digitrec can read"):
        decode_image(path)


def test_missing_and_empty(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        decode_image(tmp_path / "none.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        decode_image(tmp_path / "empty.png")
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A small valid PNG with one more chunk after its header."""
    png = _png(np.full((8, 8), 128, np.uint8))
    ihdr_end = 8 + 8 + 13 + 4
    body = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return png[:ihdr_end] + body + png[ihdr_end:]


def metadata_bomb(kind: str) -> bytes:
    """A ~2 KB PNG whose zTXt, iTXt or iCCP chunk inflates to 2 MB, past Pillow's limit."""
    inflated = zlib.compress(b"\x00" * 2_000_000, 9)
    payload = {
        "zTXt": b"Comment\x00\x00" + inflated,
        "iTXt": b"Comment\x00\x01\x00\x00\x00" + inflated,
        "iCCP": b"icc\x00\x00" + inflated,
    }[kind]
    return png_with_chunk(kind.encode(), payload)


@pytest.mark.parametrize("kind", ["zTXt", "iTXt", "iCCP"])
def test_a_metadata_bomb_is_refused_as_a_bad_image(kind):
    data = metadata_bomb(kind)
    assert len(data) < 3000
    with pytest.raises(ImageError, match="metadata that Pillow refuses"):
        decode_image(data, "the upload")


def test_huge_image_is_refused_from_its_header_before_decoding():
    """30000x30000 would take 900 MB as gray bytes; the header alone gets it refused."""
    import tracemalloc

    data = _png_header_only(30000, 30000)
    tracemalloc.start()
    with pytest.raises(ImageTooLargeError, match="900 megapixels, over the limit of 40"):
        decode_image(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50_000_000


def test_image_over_our_limit_but_under_pillows_is_refused_with_its_size():
    data = _png_header_only(8000, 6000)  # 48 megapixels
    with pytest.raises(ImageTooLargeError, match="8000x6000 = 48 megapixels, over the limit of 40"):
        decode_image(data)
