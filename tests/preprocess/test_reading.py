"""Reading pictures made from MNIST test digits: what is read, not just that nothing crashed."""

import numpy as np
import pytest

from digitrec import Recognizer
from digitrec.preprocess import ImageError
from digitrec.shipped import CLASSIFIER
from tests.pictures import encode, paper, paste_digit, ruled_lines, shadow, to_uint8, transparent_strokes

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def recognizer():
    """The shipped digit classifier alone (the digit path: no number reader); the tests
    pick digits it reads when framed as MNIST."""
    return Recognizer.load(CLASSIFIER)


@pytest.fixture(scope="module")
def digits(mnist_test, recognizer):
    """Two test digits of each class that the model reads confidently as 28x28 MNIST."""
    probs = recognizer.classify(mnist_test.images[:2000].numpy())
    labels = mnist_test.labels[:2000].numpy()
    chosen = []
    for c in range(10):
        ok = np.flatnonzero((labels == c) & (probs.argmax(1) == c) & (probs.max(1) > 0.9))
        chosen += ok[:2].tolist()
    return [(mnist_test.images[i].numpy(), int(mnist_test.labels[i])) for i in chosen]


def _score(recognizer, pictures):
    readings = [(recognizer.read(picture), label) for picture, label in pictures]
    return sum(r.text == str(label) for r, label in readings), readings


def test_on_paper_at_sizes_and_positions_with_noise_shadow_jpeg_and_rotation(recognizer, digits):
    rng = np.random.default_rng(0)
    pictures = []
    for k, (digit, label) in enumerate(digits):
        w, h = int(rng.integers(200, 640)), int(rng.integers(200, 480))
        height = int(rng.integers(40, min(h, w) - 20))
        x, y = int(rng.integers(0, w - height)), int(rng.integers(0, h - height))
        page = paper(w, h, seed=k, noise=8)
        paste_digit(page, digit, x, y, height)
        page = shadow(page, darkest=0.5)
        pictures.append((encode(page, "JPEG", rotate=float(rng.uniform(-5, 5)), quality=60), label))
    correct, readings = _score(recognizer, pictures)
    assert correct >= 19, [(r.text, label) for r, label in readings]


def test_box_is_where_the_digit_was_pasted(recognizer, digits):
    page = paper(400, 300)
    digit, label = digits[7]
    truth = paste_digit(page, digit, 220, 90, 120)
    reading = recognizer.read(encode(page))
    assert reading.text == str(label)
    x, y, w, h = reading.digits[0].box
    tx, ty, tw, th = truth
    assert abs(x - tx) <= 4 and abs(y - ty) <= 4 and abs(w - tw) <= 6 and abs(h - th) <= 6
    assert reading.digits[0].image.shape == (28, 28)
    top3 = reading.digits[0].top3
    assert len(top3) == 3 and top3[0][0] == reading.digits[0].digit and top3[0][1] >= top3[1][1] >= top3[2][1]


def test_inverted_and_transparent(recognizer, digits):
    inverted = [(to_uint8(255 - paper(300, 300, seed=i) + 0), label) for i, (_, label) in enumerate(digits)]
    for (page, _), (digit, _) in zip(inverted, digits):
        big = np.kron(digit, np.ones((8, 8), np.uint8))  # white strokes on a dark page
        page[38:262, 38:262] = np.maximum(page[38:262, 38:262], big)
    correct, _ = _score(recognizer, inverted)
    assert correct >= 19
    correct, _ = _score(recognizer, [(transparent_strokes(d), label) for d, label in digits])
    assert correct >= 19


@pytest.mark.parametrize("grid", [False, True])
def test_behind_ruled_lines_or_a_grid(recognizer, digits, grid):
    pictures = []
    for k, (digit, label) in enumerate(digits):
        page = paper(420, 320, seed=k)
        page = ruled_lines(page, spacing=32, colour=140)
        if grid:
            page = ruled_lines(page, spacing=32, colour=140, vertical=True)
        paste_digit(page, digit, 150, 70, 150)
        pictures.append((encode(page), label))
    correct, readings = _score(recognizer, pictures)
    assert correct >= 18, [(r.text, label) for r, label in readings]


def test_numbers_of_several_digits_read_left_to_right(recognizer, digits):
    by_class = {label: d for d, label in digits}
    for number in ("2026", "1974", "38", "505"):
        page = paper(120 * len(number) + 80, 220, seed=len(number))
        boxes = [paste_digit(page, by_class[int(c)], 40 + 120 * i, 50, 110) for i, c in enumerate(number)]
        reading = recognizer.read(encode(page))
        assert reading.text == number
        assert [d.box[0] for d in reading.digits] == sorted(d.box[0] for d in reading.digits)
        for d, (tx, _, tw, _) in zip(reading.digits, boxes):
            assert abs((d.box[0] + d.box[2] / 2) - (tx + tw / 2)) < 15


def test_blank_and_near_blank(recognizer):
    for picture in (
        np.full((300, 300), 255, np.uint8),
        np.zeros((300, 300), np.uint8),
        to_uint8(paper(300, 300, noise=4)),
        encode(paper(300, 300), "JPEG", quality=40),
    ):
        reading = recognizer.read(picture)
        assert reading.text == "" and reading.digits == [] and "no digit" in reading.warning
    specks = paper(300, 300)
    specks[100:102, 50:52] = 20
    specks[200:201, 220:222] = 30
    reading = recognizer.read(to_uint8(specks))
    assert reading.text == "" and reading.warning


def test_single_reads_the_whole_picture_as_one_digit(recognizer, digits):
    digit, label = digits[16]  # an 8: its loops may break apart on paper, --single keeps them one
    page = paper(200, 200)
    paste_digit(page, digit, 30, 30, 140)
    reading = recognizer.read(encode(page), single=True)
    assert reading.text == str(label) and len(reading.digits) == 1


def test_every_input_kind(recognizer, digits, tmp_path):
    from PIL import Image

    digit, label = digits[6]
    path = tmp_path / "d.png"
    Image.fromarray(digit).save(path)
    for source in (path, str(path), path.read_bytes(), Image.open(path), digit, digit.astype(np.float32) / 255):
        assert recognizer.read(source).text == str(label)


def test_batch_classification_matches_single(recognizer, digits):
    images = np.stack([d for d, _ in digits])
    together = recognizer.classify(images)
    alone = np.concatenate([recognizer.classify(images[i : i + 1]) for i in range(len(images))])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_bad_input_raises_clear_errors(recognizer, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ImageError, match=r"x\.png"):
        recognizer.read(bad)
