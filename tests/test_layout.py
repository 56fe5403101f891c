"""How the Recognizer treats a picture with a field reader: one field, or a page of numbers."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import pytest

from digitrec.errors import ConfigError
from digitrec.preprocess.decode import decode_picture
from digitrec.recognizer import Recognizer
from tests.pictures import encode, paper, to_uint8


class FieldReaderStub:
    """A field reader's metadata without a network: choosing a layout never runs the model."""

    runtime, stride = "pytorch", 4
    meta: ClassVar[dict] = {"kind": "reader", "stride": 4, "input": {"shape": [1, 96, None], "layout": "field"}}


def numbers_on(page: np.ndarray, texts: list[str], at: list[tuple[int, int]]) -> np.ndarray:
    page = to_uint8(page)
    for text, (x, y) in zip(texts, at):
        cv2.putText(page, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 20, 5)
    return page


def test_auto_reads_a_cell_a_strip_and_a_lone_digit_as_one_field() -> None:
    recognizer = Recognizer(reader=FieldReaderStub())
    for width, height, texts in ((140, 160, ["7"]), (300, 70, ["52063"]), (60, 60, ["3"])):
        page = numbers_on(paper(width, height), texts, [(5, height - 10)])
        assert recognizer.choose_layout(decode_picture(encode(page)), None)[0] == "field"


def test_auto_reads_a_large_picture_as_a_page_of_the_numbers_found_on_it() -> None:
    recognizer = Recognizer(reader=FieldReaderStub())
    form = numbers_on(paper(1000, 700), ["47", "38150", "9"], [(100, 150), (550, 150), (100, 500)])
    layout, found = recognizer.choose_layout(decode_picture(encode(form)), None)
    assert layout == "page" and len(found.boxes) == 3
    photo = numbers_on(
        paper(800, 600), ["2026"], [(250, 320)]
    )  # one number: read from its crop, not from the whole photo
    layout, found = recognizer.choose_layout(decode_picture(encode(photo)), None)
    assert layout == "page" and len(found.boxes) == 1
    blank = to_uint8(paper(800, 600))  # nothing found: the whole picture is read as a field
    assert recognizer.choose_layout(decode_picture(encode(blank)), None)[0] == "field"


def test_an_unknown_layout_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="--layout must be one of auto, field, page, got 'column'"):
        Recognizer(reader=FieldReaderStub(), layout="column")
