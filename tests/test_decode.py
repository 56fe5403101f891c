"""CTC best-path decoding: repeats merged, blanks dropped, each digit with its box."""

from __future__ import annotations

import numpy as np

from digitrec.decode import best_path, decode_number
from digitrec.preprocess.fields import Field


def columns(path: list[int], sure: float = 0.9) -> np.ndarray:
    """(T, 11) probabilities whose likeliest class per column is `path` (0 = blank, d + 1 = digit d)."""
    probs = np.full((len(path), 11), (1 - sure) / 10, np.float32)
    probs[np.arange(len(path)), path] = sure
    return probs


def test_repeats_merge_blanks_drop_and_a_blank_separates_a_double_digit() -> None:
    probs = columns([0, 2, 2, 0, 0, 2, 0, 6, 6, 6, 0])
    assert [(c - 1, s, e) for c, s, e in best_path(probs)] == [(1, 1, 3), (1, 5, 6), (5, 7, 10)]


def test_a_number_gets_its_digits_confidences_top3_and_boxes_in_the_picture() -> None:
    strip = np.zeros((32, 44), np.uint8)
    strip[6:26, 6:14] = 255  # ink under columns 1-3 (4 pixels each)
    strip[8:28, 26:34] = 255  # ink under columns 6-8
    field = Field(strip, box=(100, 50, 88, 64), scale=0.5, y_scale=0.5)  # the strip is half the picture's size
    probs = columns([0, 3, 3, 0, 0, 0, 8, 8, 0, 0, 0])
    probs[2, 3], probs[2, 4] = 0.7, 0.2  # less sure in one column: the peak column decides
    number = decode_number(probs, field, stride=4)
    assert number.text == "27"
    assert [d.digit for d in number.digits] == [2, 7]
    assert number.digits[0].confidence == np.float32(0.9)
    assert number.digits[0].top3[0][0] == 2 and len(number.digits[0].top3) == 3
    # Boxes: the ink under each digit's columns, mapped back into the picture.
    assert number.digits[0].box == (100 + 6 * 2, 50 + 6 * 2, 8 * 2, 20 * 2)
    assert number.digits[1].box == (100 + 26 * 2, 50 + 8 * 2, 8 * 2, 20 * 2)
    # The number's confidence: its digits' probabilities and the least sure blank column.
    assert abs(number.confidence - 0.9 * 0.9 * 0.9) < 1e-6
    probs[4, 0], probs[4, 6] = 0.55, 0.35  # a digit nearly appeared between the two
    assert abs(decode_number(probs, field, stride=4).confidence - 0.9 * 0.9 * 0.55) < 1e-6
    assert number.digits[0].columns == (6, 14)  # the ink columns of the digit, for its image


def test_all_blank_reads_no_digit() -> None:
    field = Field(np.zeros((32, 16), np.uint8), (0, 0, 16, 32), 1.0, 1.0)
    number = decode_number(columns([0, 0, 0, 0]), field, stride=4)
    assert number.text == "" and number.digits == []
