"""Digit boxes from a strip's ink: as many as the reader read, each on its digit's ink."""

from __future__ import annotations

import numpy as np

from digitrec.preprocess.digit_boxes import digit_boxes


def ring(strip: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int]:
    """Draw a 0-like digit (a hollow box, 2 px strokes) and return its box."""
    strip[y0:y1, x0:x1] = 255
    strip[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = 0
    return x0, y0, x1, y1


def near(boxes: list, want: list, px: int = 1) -> bool:
    """Each box within `px` pixels of the one wanted (where touching digits are cut is a column either way)."""
    return len(boxes) == len(want) and all(abs(a - b) <= px for box, w in zip(boxes, want) for a, b in zip(box, w))


def test_touching_digits_are_cut_apart_and_marks_beside_the_number_left_out() -> None:
    strip = np.zeros((32, 80), np.uint8)
    a, b = ring(strip, 6, 6, 18, 26), ring(strip, 18, 6, 30, 26)  # two digits touching
    c = ring(strip, 36, 6, 48, 26)
    strip[15:17, 52:60] = 255  # a dash after the number: short, no digit
    assert near(digit_boxes(strip, 3), [a, b, c])


def test_a_ruled_line_through_the_digits_is_not_part_of_their_boxes() -> None:
    strip = np.zeros((32, 80), np.uint8)
    a, b = ring(strip, 10, 4, 22, 24), ring(strip, 30, 4, 42, 24)
    strip[14:16, :] = 255  # a rule across the strip, through the digits
    strip[:, 70:72] = 255  # a column's border
    assert digit_boxes(strip, 2) == [a, b]


def test_pieces_above_one_another_are_one_digit_and_the_closest_pieces_join() -> None:
    strip = np.zeros((32, 80), np.uint8)
    strip[4:8, 10:22] = 255  # a 5's flag ...
    strip[10:26, 10:22] = 255  # ... over its body
    assert digit_boxes(strip, 1) == [(10, 4, 22, 26)]
    strip[4:26, 40:44] = 255  # a 1 broken in two: its halves are the closest pieces
    strip[12:14, 40:44] = 0
    strip[4:26, 60:66] = 255
    assert digit_boxes(strip, 3) == [(10, 4, 22, 26), (40, 4, 44, 26), (60, 4, 66, 26)]


def test_only_the_core_is_looked_at_and_no_ink_gives_even_slices() -> None:
    strip = np.zeros((32, 90), np.uint8)
    ring(strip, 0, 6, 10, 26)  # a neighbour's digit at the strip's edge, outside the number
    a = ring(strip, 30, 6, 42, 26)
    assert digit_boxes(strip, 1, core=(20, 2, 80, 30)) == [a]
    assert digit_boxes(np.zeros((32, 90), np.uint8), 3, core=(0, 0, 90, 32)) == [(0, 0, 30, 32), (30, 0, 60, 32), (60, 0, 90, 32)]
