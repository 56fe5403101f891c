"""Property tests: whatever bytes arrive as a picture, and whatever JSON arrives as pixels,
the answer is a reading or a `DigitrecError` (a 4xx at the server), never another
exception (a 500)."""

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitrec.errors import DigitrecError
from digitrec.preprocess.decode import decode_image
from digitrec.serving.app import ApiError, parse_json, pixels_array

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def small_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (12, 16), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@st.composite
def damaged_pictures(draw) -> bytes:
    """Real PNG, JPEG, GIF, BMP and WebP files with bytes flipped, cut or inserted: past
    the signature check, into the decoders."""
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"]))
    buffer = io.BytesIO()
    Image.open(io.BytesIO(small_png(draw(st.integers(0, 3))))).save(buffer, fmt)
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(8, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


def read_or_refuse(data: bytes) -> None:
    try:
        gray = decode_image(data, "the upload")
    except DigitrecError:
        return
    assert gray.dtype == np.float32 and gray.ndim == 2 and np.isfinite(gray).all()


@SETTINGS
@given(st.binary(max_size=2048))
def test_any_bytes_decode_to_a_picture_or_a_digitrec_error(data):
    read_or_refuse(data)


# These pictures damage a file's EXIF and TIFF tags: Pillow warns about them and reads on.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@SETTINGS
@given(damaged_pictures())
def test_damaged_pictures_decode_or_are_refused_by_name(data):
    read_or_refuse(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=900,
)


def parse_or_refuse(body: bytes) -> None:
    try:
        image = pixels_array(parse_json(body))
    except ApiError as e:
        assert 400 <= e.status < 500
        return
    assert image.shape == (28, 28) and image.dtype == np.uint8


@SETTINGS
@given(JSON)
def test_any_json_is_pixels_or_a_4xx(value):
    parse_or_refuse(json.dumps(value).encode())
    parse_or_refuse(json.dumps({"pixels": value}).encode())


ODD_VALUES = st.one_of(
    st.integers(-(10**500), 10**500),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(0, 255), max_size=3),
    st.sampled_from([10**400, -1, 256, 1e308, 0.5, 255]),
)


@SETTINGS
@given(st.dictionaries(st.integers(0, 783), ODD_VALUES, min_size=1, max_size=6))
def test_784_values_with_odd_ones_among_them_are_pixels_or_a_4xx(odd):
    """A flat list of 784 with a few values of any kind at any places (drawing all 784
    from hypothesis took minutes)."""
    values = [odd.get(i, 0) for i in range(784)]
    parse_or_refuse(json.dumps({"pixels": values}).encode())


@SETTINGS
@given(st.binary(max_size=512))
def test_any_body_bytes_are_pixels_or_a_4xx(body):
    parse_or_refuse(body)


@pytest.mark.parametrize("depth", [10, 1000, 100_000])
def test_deep_nesting_is_a_4xx(depth):
    parse_or_refuse(b'{"pixels": ' + b"[" * depth + b"]" * depth + b"}")
