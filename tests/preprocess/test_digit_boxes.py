"""Digit boxes from a strip's ink: one per digit read, each on its digit's ink near the
column where the reader saw it, and the ink cut by count when the reader's peaks are not
near ink."""

from __future__ import annotations

import numpy as np

from digitrec.preprocess.digit_boxes import LEAD, digit_boxes


def ring(strip: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int]:
    """Draw a 0-like digit (a hollow box, 2 px strokes) and return its box."""
    strip[y0:y1, x0:x1] = 255
    strip[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = 0
    return x0, y0, x1, y1


def peaks(*boxes: tuple[int, int, int, int], height: int = 32) -> list[float]:
    """Where a reader's peak columns sit for digits at `boxes`: LEAD strip heights before their centres."""
    return [(b[0] + b[2]) / 2 - LEAD * height for b in boxes]


def near(boxes: list, want: list, px: int = 1) -> bool:
    """Each box within `px` pixels of the one wanted (where touching digits are cut is a column either way)."""
    return len(boxes) == len(want) and all(abs(a - b) <= px for box, w in zip(boxes, want) for a, b in zip(box, w))


def test_touching_digits_are_cut_between_their_peaks_and_a_mark_beside_the_number_left_out() -> None:
    strip = np.zeros((32, 80), np.uint8)
    a, b = ring(strip, 6, 6, 18, 26), ring(strip, 18, 6, 30, 26)  # two digits touching
    c = ring(strip, 36, 6, 48, 26)
    strip[15:17, 52:60] = 255  # a dash after the number
    assert near(digit_boxes(strip, peaks(a, b, c)), [a, b, c])
    assert near(digit_boxes(strip, [p + 2 for p in peaks(a, b, c)]), [a, b, c], px=3)  # peaks drift a little


def test_ink_away_from_every_digit_is_left_out() -> None:
    strip = np.zeros((32, 100), np.uint8)
    a, b = ring(strip, 30, 4, 42, 20), ring(strip, 50, 4, 62, 20)
    strip[8:12, 70:96] = 255  # printed text after the number
    strip[4:30, 2:6] = 255  # a neighbour's stroke at the strip's edge
    strip[27:32, 32:40] = 255  # the next row's digit, below the first
    assert digit_boxes(strip, peaks(a, b)) == [a, b]


def test_a_ruled_line_through_the_digits_is_not_part_of_their_boxes() -> None:
    strip = np.zeros((32, 80), np.uint8)
    a, b = ring(strip, 10, 4, 22, 24), ring(strip, 30, 4, 42, 24)
    strip[14:16, :] = 255  # a rule across the strip, through the digits
    strip[:, 70:72] = 255  # a column's border
    assert digit_boxes(strip, peaks(a, b)) == [a, b]


def test_pieces_above_one_another_are_one_digit() -> None:
    strip = np.zeros((32, 80), np.uint8)
    strip[4:8, 10:22] = 255  # a 5's flag ...
    strip[10:26, 10:22] = 255  # ... over its body
    assert digit_boxes(strip, peaks((10, 4, 22, 26))) == [(10, 4, 22, 26)]


def test_peaks_far_from_the_ink_cut_it_by_count_in_the_core() -> None:
    strip = np.zeros((32, 90), np.uint8)
    ring(strip, 0, 6, 10, 26)  # a neighbour's digit at the strip's edge, outside the number
    a = ring(strip, 30, 6, 42, 26)
    assert digit_boxes(strip, [2.0], core=(20, 2, 80, 30)) == [a]  # a peak at the strip's start
    strip[4:26, 50:54] = 255  # a 1 broken in two: its halves are the closest pieces
    strip[12:14, 50:54] = 0
    strip[4:26, 66:72] = 255
    assert digit_boxes(strip, [2.0, 4.0, 6.0], core=(20, 2, 80, 30)) == [a, (50, 4, 54, 26), (66, 4, 72, 26)]
    empty = np.zeros((32, 90), np.uint8)
    assert digit_boxes(empty, [2.0, 40.0, 70.0]) == [(0, 0, 30, 32), (30, 0, 60, 32), (60, 0, 90, 32)]
    assert digit_boxes(empty, []) == []
