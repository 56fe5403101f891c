"""Finding the numbers of a picture: margins, frames and lines dropped, one field per number."""

from __future__ import annotations

import cv2
import numpy as np

from digitrec.preprocess.decode import decode_picture
from digitrec.preprocess.fields import STRIP_HEIGHT, field_in_box, find_fields
from tests.pictures import encode, paper, ruled_lines

TEXTS = "3074125896"


def write_number(
    page: np.ndarray, x: int, y: int, height: int, count: int, first: int = 0
) -> tuple[int, int, int, int]:
    """`count` digits in a stroke font, `height` pixels tall, dark on `page`; returns their ink box."""
    text = TEXTS[first : first + count]
    scale = height / 22  # Hershey simplex digits are ~22 units tall at scale 1
    ink = np.zeros_like(page, np.uint8)
    cv2.putText(ink, text, (x, y + height), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, max(2, height // 10), cv2.LINE_AA)
    page[:] = np.minimum(page, 255 - ink.astype(np.float32) * 0.85)
    ys, xs = np.nonzero(ink > 60)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int], slack: int = 3) -> bool:
    return (
        outer[0] - slack <= inner[0]
        and outer[1] - slack <= inner[1]
        and inner[0] + inner[2] <= outer[0] + outer[2] + slack
        and inner[1] + inner[3] <= outer[1] + outer[3] + slack
    )


def test_a_page_with_three_numbers_gives_three_fields_in_reading_order() -> None:
    page = paper(600, 400, seed=1)
    truth = [
        write_number(page, 40, 40, 40, 3),
        write_number(page, 350, 50, 40, 2, 3),
        write_number(page, 60, 260, 50, 4, 5),
    ]
    found = find_fields(encode(page))
    assert len(found.fields) == 3
    for field, number in zip(found.fields, truth):
        assert inside(number, field.box), (number, field.box)
        assert field.box[2] < 1.6 * number[2] + 30  # no neighbour inside
        assert field.strip.shape[0] == STRIP_HEIGHT and field.strip.dtype == np.uint8


def test_a_dark_scanner_margin_and_table_lines_are_not_part_of_the_field() -> None:
    page = paper(150, 200, seed=2)
    number = write_number(page, 70, 80, 30, 2)
    page[:, :45] = 15  # the scanner's black margin
    page = ruled_lines(page, 180, colour=90, width=2)  # table rows
    page[:, 135:137] = 90  # the column's right border
    found = find_fields(encode(page, "JPEG", quality=85))
    assert len(found.fields) == 1
    box = found.fields[0].box
    assert box[0] >= 45 and box[0] + box[2] <= 136, box
    assert inside(number, box)


def test_a_blank_page_and_a_page_of_lines_give_no_field() -> None:
    assert find_fields(encode(paper(300, 200))).fields == []
    lines = ruled_lines(paper(300, 200), 40, colour=80)
    found = find_fields(encode(lines))
    assert found.fields == [] and "no digit found" in found.warning


def test_an_underline_belongs_to_its_number() -> None:
    page = paper(300, 150, seed=3)
    number = write_number(page, 60, 40, 40, 3)
    page[number[1] + number[3] + 4 : number[1] + number[3] + 7, number[0] - 5 : number[0] + number[2] + 5] = 30
    found = find_fields(encode(page))
    assert len(found.fields) == 1
    assert found.fields[0].box[1] + found.fields[0].box[3] >= number[1] + number[3] + 6


def dot_grid(side: int = 800, step: int = 8) -> np.ndarray:
    """The 2.4 KB PNG of the denial-of-service probe: 3x3 black dots every 8 pixels."""
    page = np.full((side, side), 255, np.uint8)
    for y in range(0, side, step):
        for x in range(0, side, step):
            page[y : y + 3, x : x + 3] = 0
    return page


def test_a_texture_of_10000_marks_is_refused_before_any_grouping(monkeypatch):
    """Both paths count the marks first: grouping 10,000 of them was the cost."""
    from digitrec.preprocess import fields, pipeline
    from digitrec.preprocess.pipeline import extract_digits

    def refuse(*_a, **_k):
        raise AssertionError("a texture reached the grouping")

    monkeypatch.setattr(fields, "_groups", refuse)
    monkeypatch.setattr(pipeline, "group_components", refuse)
    for found in (find_fields(dot_grid()), extract_digits(dot_grid())):
        assert "10,000 separate marks" in found.warning


def test_a_cut_of_blank_paper_is_a_blank_strip_not_its_noise_stretched() -> None:
    """Paper's grain, stretched to the strip's full range, was read as digits (a blank
    field read as `9`); below the ink contrast that find_fields calls blank, a cut is empty."""
    page = paper(200, 80, seed=1)
    assert field_in_box(decode_picture(encode(page)), (0, 0, 200, 80), pad=0.0).strip.max() == 0
    cv2.line(page, (90, 20), (94, 60), 30, 4)
    assert field_in_box(decode_picture(encode(page)), (0, 0, 200, 80), pad=0.0).strip.max() == 255
