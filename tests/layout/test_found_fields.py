"""A strip reader beside a number finder: the strip of a found box, the field read where
the finder is surest, a page's boxes each read; and the finder's real training fields
(boxes located by reading, canvases cut around them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.data.synthetic_pages import number_mask
from digitrec.layout.finder import FoundNumbers, NumberFinderRuntime
from digitrec.preprocess.decode import Picture, decode_picture
from digitrec.preprocess.fields import PAD, STRIP_HEIGHT, field_in_box
from digitrec.recognizer import Recognizer
from digitrec.training.finder_fields import LocatedField, RealFieldBank, _origin, lone_digit_canvases


def two_blobs() -> Picture:
    """A light picture, 120 x 300, with dark ink in two places: a bar at x 40-60 and a
    ring at x 200-240 (both at y 40-80)."""
    gray = np.full((120, 300), 0.9, np.float32)
    gray[40:80, 46:54] = 0.1
    gray[40:80, 200:240] = 0.1
    gray[48:72, 208:232] = 0.9
    return decode_picture(gray)


def test_the_strip_of_a_box_holds_that_boxs_ink_and_maps_back_to_the_picture():
    picture = two_blobs()
    field = field_in_box(picture, (200, 40, 40, 40))
    assert field.strip.shape[0] == STRIP_HEIGHT and field.strip.max() == 255
    x, _y, w, h = field.box
    margin = PAD * 40 + 1
    assert abs(x - (200 - margin)) <= 1 and abs(w - (40 + 2 * margin)) <= 2 and abs(h - (40 + 2 * margin)) <= 2
    # the ring's hole is in the middle of the strip; the bar at x 46-54 is not in it
    mid = field.strip[STRIP_HEIGHT // 2, field.strip.shape[1] // 2]
    assert mid < 60 and x > 60
    # strip columns back to picture columns: the ring's left edge
    inked = np.flatnonzero(field.strip[STRIP_HEIGHT // 2] > 128)
    assert abs(x + inked[0] / field.scale - 200) <= 2


class FixedFinder:
    """A finder double: the boxes and scores given, whatever the picture."""

    def __init__(self, boxes, scores):
        self.found = FoundNumbers(list(boxes), list(scores))
        self.seen = 0

    def find(self, picture, name=None, side=None) -> FoundNumbers:
        self.seen += 1
        return self.found

    surest_field = NumberFinderRuntime.surest_field  # the real choices, on the boxes given
    field_choices = NumberFinderRuntime.field_choices
    field_places = NumberFinderRuntime.field_places


class SpyReader:
    """A strip reader double: reads every strip as '7', and keeps the strips it was given."""

    runtime, meta, stride = "pytorch", {"kind": "reader", "stride": 4, "input": {"layout": "strip"}}, 4

    def __init__(self):
        self.strips: list[np.ndarray] = []

    def column_probabilities(self, strips):
        self.strips += strips
        out = []
        for s in strips:
            p = np.full((max(2, s.shape[1] // 4), 11), 1e-4)
            p[:, 0] = 1.0
            p[0], p[0, 8] = 1e-4, 1.0  # one 7 in the first column
            out.append(p / p.sum(1, keepdims=True))
        return out


class WideReader(SpyReader):
    """Reads every strip as '7', but a strip wider than WIDE with WIDE_COLUMN as its first
    column (blank, then the digits 0-9)."""

    WIDE = 26
    WIDE_COLUMN = np.array([0.3, 0.0, 0.2, 0, 0, 0, 0, 0, 0.5, 0, 0])

    def column_probabilities(self, strips):
        out = super().column_probabilities(strips)
        for s, p in zip(strips, out):
            if s.shape[1] > self.WIDE:
                p[0] = self.WIDE_COLUMN
        return out


class DoubtfulWideReader(WideReader):
    """Reads every strip as '7': surely where it is narrow, at 0.5 where it is wider than WIDE."""


def test_a_field_is_read_at_each_place_the_finder_marks_and_the_surest_place_wins_a_tie():
    picture, reader = two_blobs(), SpyReader()
    finder = FixedFinder([(40, 40, 20, 40), (200, 40, 40, 40)], [0.6, 0.9])
    reading = Recognizer(None, reader=reader, finder=finder, layout="field").read(picture)
    assert finder.seen == 1 and len(reader.strips) == 3, "one finder pass, each marked place read, the surest again"
    assert any(np.array_equal(strip, field_in_box(picture, (200, 40, 40, 40)).strip) for strip in reader.strips)
    assert reading.text == "7" and len(reading.numbers) == 1 and reading.numbers[0].box[0] >= 190


def test_a_doubtful_reading_where_the_finder_is_surest_loses_to_a_sure_one_nearly_as_likely():
    picture, reader = two_blobs(), DoubtfulWideReader()
    finder = FixedFinder([(40, 40, 20, 40), (200, 40, 40, 40)], [0.6, 0.9])  # the surest strip is the wide one
    assert (
        field_in_box(picture, (200, 40, 40, 40)).strip.shape[1]
        > reader.WIDE
        > field_in_box(picture, (40, 40, 20, 40)).strip.shape[1]
    )
    reading = Recognizer(None, reader=reader, finder=finder, layout="field").read(picture)
    assert reading.text == "7" and reading.numbers[0].box[0] < 100
    # read at ~1.0 where the finder gave 0.6, against 0.5 at 0.9; the second look at the
    # surest place, wider, reads 7 as well: the answer keeps its reader's confidence
    assert reading.numbers[0].confidence == pytest.approx(1.0, abs=0.01)
    finder = FixedFinder([(40, 40, 20, 40), (200, 40, 40, 40)], [0.3, 0.9])  # now the sure reading is an unlikely place
    assert (
        Recognizer(None, reader=DoubtfulWideReader(), finder=finder, layout="field").read(picture).numbers[0].box[0]
        >= 190
    )


def test_the_likeliest_number_ignores_places_read_as_no_digit():
    from digitrec.recognizer import NumberReading, likeliest_number

    sure, doubtful = NumberReading("47", 0.95, (0, 0, 10, 10), []), NumberReading("250", 0.4, (0, 20, 10, 10), [])
    chosen = likeliest_number([(doubtful, 0.9), (sure, 0.6)])
    assert chosen.text == "47" and chosen.box == sure.box
    assert chosen.confidence == pytest.approx(0.95)  # the reader's: doubt is the second look's to add
    alone = likeliest_number([(None, 0.9), (doubtful, 0.1)])
    assert alone.text == "250" and alone.confidence == pytest.approx(0.4), "a place read as no digit never wins"
    assert likeliest_number([(None, 0.9)]) is None and likeliest_number([]) is None


def test_a_field_where_the_finder_finds_nothing_is_read_whole():
    picture, reader = two_blobs(), SpyReader()
    Recognizer(None, reader=reader, finder=FixedFinder([], []), layout="field").read(picture)
    assert reader.strips[0].shape[1] == pytest.approx(300 / 120 * STRIP_HEIGHT, abs=2)


def test_a_page_has_every_found_box_read():
    picture, reader = two_blobs(), SpyReader()
    finder = FixedFinder([(40, 40, 20, 40), (200, 40, 40, 40)], [0.6, 0.9])
    reading = Recognizer(None, reader=reader, finder=finder, layout="page").read(picture)
    assert len(reader.strips) == 2 and reading.text == "7 7"
    assert [n.box[0] < 100 for n in reading.numbers] == [True, False]


def test_without_a_finder_a_strip_reader_cuts_by_the_rules():
    picture, reader = two_blobs(), SpyReader()
    Recognizer(None, reader=reader, layout="field").read(picture)
    assert len(reader.strips) == 2, "the rule-based field finder cuts both blobs"


@pytest.mark.parametrize(
    "length, room, lo, hi", [(100, 384, 20, 60), (900, 384, 700, 780), (900, 384, 10, 50), (900, 384, 100, 600)]
)
def test_a_real_field_is_placed_with_its_number_inside_the_canvas(length, room, lo, hi):
    for u in (0.0, 0.5, 1.0):
        o = _origin(length, room, lo, hi, u)
        if hi - lo <= room:
            assert lo + o >= 0 and hi + o <= room + 1, "the number is inside"
        if length >= room:
            assert (o <= 0 and o + length >= room - 1) or hi - lo > room, "the canvas is covered"


def test_a_real_field_batch_marks_the_located_number_and_not_the_rest(tmp_path: Path):
    from PIL import Image

    gray = np.full((160, 140), 220, np.uint8)
    gray[60:90, 50:70] = 30  # the number
    gray[5:25, 110:135] = 30  # a neighbour's stroke at the edge
    Image.fromarray(gray).save(tmp_path / "cell.png")
    bank = RealFieldBank([LocatedField(tmp_path / "cell.png", "1", (50, 60, 20, 30))], side=768)
    pages, boxes = bank.batch(6, 256, 384, torch.Generator().manual_seed(0))
    masks = number_mask(boxes, 64, 96)
    for page, box, mask in zip(pages, boxes, masks):
        x0, y0, x1, y1 = box[0].round().long().tolist()
        assert 0 <= x0 < x1 <= 384 and 0 <= y0 < y1 <= 256
        assert float(page[0, y0:y1, x0:x1].mean()) > 0.6, "the box holds the number's ink"
        assert float(page.sum()) > float(page[0, y0:y1, x0:x1].sum()) + 50, "other ink is on the canvas, unmarked"
        assert 0 < float(mask.sum()) < 0.1 * mask.numel()


def test_lone_digit_canvases_mark_the_whole_digit_of_every_size():
    from digitrec.data.synthetic import DigitBank

    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[:, 4:24, 12:16] = 255  # a 1's stem ...
    images[:, 4:8, 8:20] = 255  # ... with a bar: one digit of two strokes
    pages, boxes = lone_digit_canvases(
        DigitBank.from_images(images, torch.arange(3)), 24, 256, 384, torch.Generator().manual_seed(1)
    )
    heights = boxes[:, 0, 3] - boxes[:, 0, 1]
    assert float(heights.min()) < 40 and float(heights.max()) > 120, "small and large lone digits"
    masks = number_mask(boxes, 64, 96)
    for page, box, mask in zip(pages, boxes, masks):
        x0, y0, x1, y1 = box[0].round().long().tolist()
        assert 0 <= x0 < x1 <= 384 and 0 <= y0 < y1 <= 256
        assert float(page[0, :, :x0].sum() + page[0, :, x1:].sum()) < 0.02 * float(page.sum()), (
            "the box holds all the ink"
        )
        assert float(page[0, y0:y1, x0:x1].max()) > 0.9 and x1 - x0 > 0.4 * (y1 - y0), "bar and stem, not one stroke"
        assert float(mask.sum()) > 0
    words = torch.full((2, 16, 60), 0, dtype=torch.uint8)
    words[:, 4:12, 2:58] = 255  # a printed word's ink
    worded, same = lone_digit_canvases(
        DigitBank.from_images(images, torch.arange(3)), 24, 256, 384, torch.Generator().manual_seed(1), words
    )
    assert torch.equal(same, boxes), "a word beside the digit moves nothing and is not marked"
    beside = (worded - pages).sum((1, 2, 3))
    assert 0.2 < float((beside > 10).float().mean()) < 0.9, "about half the pictures have a word beside the digit"


class WidthReader:
    """A strip reader double: reads a strip wider than 40 pixels as '70', a narrower one as '1'."""

    meta, stride = {"stride": 4}, 4

    def column_probabilities(self, strips):
        out = []
        for s in strips:
            p = np.full((max(4, s.shape[1] // 4), 11), 1e-4)
            p[:, 0] = 1.0
            if s.shape[1] > 40:
                p[0], p[0, 8], p[2], p[2, 1] = 1e-4, 1.0, 1e-4, 1.0  # 7, blank, 0
            else:
                p[0], p[0, 2] = 1e-4, 1.0  # 1
            out.append(p / p.sum(1, keepdims=True))
        return out


def test_a_real_fields_number_is_located_where_a_reading_confirms_its_label(tmp_path: Path, monkeypatch):
    from PIL import Image

    from digitrec.training import finder_fields

    gray = np.full((120, 300), 230, np.uint8)
    gray[40:80, 46:54] = 20  # a bar: read "1"
    gray[40:80, 200:260] = 20  # a wide blob: read "70"
    gray[48:72, 208:252] = 230
    Image.fromarray(gray).save(tmp_path / "a.png")
    Image.fromarray(gray).save(tmp_path / "b.png")
    (tmp_path / "labels.csv").write_text("file,label\na.png,70\nb.png,555\n")
    monkeypatch.setattr(finder_fields, "_reader", WidthReader())
    located = finder_fields.located_fields(str(tmp_path), None, tmp_path / "a.png", tmp_path / "cache", workers=1)
    assert [(f.path.name, f.label) for f in located] == [("a.png", "70")], (
        "a field no region reads as its label is left out"
    )
    x, y, w, _h = located[0].box
    assert 190 <= x <= 200 and x + w >= 258 and 30 <= y <= 42
    again = finder_fields.located_fields(str(tmp_path), None, tmp_path / "a.png", tmp_path / "cache", workers=1)
    assert again == located and len(list((tmp_path / "cache" / "located").iterdir())) == 1, "cached"


class DoubtfulReader(SpyReader):
    """Reads every strip as a '7' it is not sure of (0.6)."""

    def column_probabilities(self, strips):
        out = super().column_probabilities(strips)
        for p in out:
            p[0] = 0.4 / 10
            p[0, 8] = 0.6
        return out


class ClassifierDouble:
    """A digit classifier double: reads every digit as a 6, `surety` sure (0.91)."""

    runtime, meta = "pytorch", {"kind": "classifier"}

    def __init__(self, surety: float = 0.91):
        self.surety = surety

    def classify(self, images):
        p = np.full((len(images), 10), (1 - self.surety) / 9, np.float32)
        p[:, 6] = self.surety
        return p


class TwoSevensReader(SpyReader):
    """Reads every strip as '77', each 7 at 0.6: the number at ~0.36."""

    def column_probabilities(self, strips):
        out = super().column_probabilities(strips)
        for p in out:
            p[:] = np.eye(11)[0]
            p[0] = p[2] = np.r_[0.4, 0, 0, 0, 0, 0, 0, 0, 0.6, 0, 0]
        return out


def test_a_lone_digit_the_finder_found_a_stroke_of_is_read_by_the_classifier():
    """The finder's surest box may hold one stroke of a lone digit (USPS): whether the
    picture is one digit is the digit path's to say, and the classifier then reads it."""
    gray = np.full((64, 64), 0.9, np.float32)
    gray[8:56, 20:44] = 0.1  # one digit filling the picture's height
    gray[16:48, 28:36] = 0.9
    picture = decode_picture(gray)
    stroke = FixedFinder([(20, 30, 10, 12)], [0.9])  # a small box inside the digit
    reading = Recognizer(ClassifierDouble(), reader=DoubtfulReader(), finder=stroke, layout="field").read(picture)
    assert reading.text == "6"
    surer_reader = Recognizer(ClassifierDouble(), reader=SpyReader(), finder=stroke, layout="field").read(picture)
    assert surer_reader.text == "7", "the surer of the two reads a lone digit"


def test_only_the_surest_place_asks_whether_the_picture_is_one_lone_digit():
    """A place the finder doubts more (a date below a register's number) does not get the
    classifier's answer for the whole picture: its tall piece of ink may be a rule."""
    gray = np.full((64, 128), 0.9, np.float32)
    gray[8:56, 20:44] = 0.1  # one tall piece of ink
    gray[16:48, 28:36] = 0.9
    picture = decode_picture(gray)
    inside_first = FixedFinder([(22, 30, 10, 12), (80, 20, 20, 24)], [0.9, 0.8])
    assert (
        Recognizer(ClassifierDouble(), reader=DoubtfulReader(), finder=inside_first, layout="field").read(picture).text
        == "6"
    )
    inside_second = FixedFinder([(80, 20, 20, 24), (22, 30, 10, 12)], [0.9, 0.8])
    assert (
        Recognizer(ClassifierDouble(), reader=DoubtfulReader(), finder=inside_second, layout="field").read(picture).text
        == "7"
    )


def test_a_lone_digit_the_reader_reads_as_two_is_the_surer_models():
    """One digit-shaped piece of ink that the reader reads as two digits: the classifier's
    one digit where it is sure, or surer than the reader; else the reader's two."""
    gray = np.full((64, 64), 0.9, np.float32)
    gray[8:56, 20:50] = 0.1  # one digit filling the picture's height
    gray[16:48, 28:42] = 0.9
    picture = decode_picture(gray)
    whole = FixedFinder([(18, 6, 34, 52)], [0.9])

    def read(surety: float) -> str:
        return (
            Recognizer(ClassifierDouble(surety), reader=TwoSevensReader(), finder=whole, layout="field")
            .read(picture)
            .text
        )

    assert read(0.91) == "6", "a sure classifier"
    assert read(0.5) == "6", "a classifier surer than the reader"
    assert read(0.3) == "77", "a reader surer than the classifier"


def test_a_cells_tall_stroke_beside_the_number_is_not_taken_for_a_lone_digit():
    """A cell whose one tall piece of ink (a border's corner, a neighbour's loop) stands
    beside the number the finder found: the digit path sees that piece as its one digit,
    but it does not cover the finder's box, so the reader's reading stands."""
    gray = np.full((90, 200), 0.9, np.float32)
    gray[2:88, 60:100] = 0.1  # a tall ring spanning the cell
    gray[10:80, 68:92] = 0.9
    gray[40:50, 120:124] = 0.1  # the number, small: the digit path drops it as a speck
    picture = decode_picture(gray)
    number = FixedFinder([(116, 36, 12, 18)], [0.9])
    reading = Recognizer(ClassifierDouble(), reader=DoubtfulReader(), finder=number, layout="field").read(picture)
    assert reading.text == "7"


class OtherWhenWideReader(WideReader):
    """Reads every strip as '7', but a strip wider than WIDE as '1' (surely, both)."""

    WIDE = 14
    WIDE_COLUMN = np.eye(11)[2]


def test_an_answer_that_a_wider_cut_of_the_surest_place_reads_otherwise_is_half_as_sure():
    from digitrec.recognizer import SECOND_LOOK_MISS, SECOND_LOOK_PAD

    picture, reader = two_blobs(), OtherWhenWideReader()
    box = (46, 40, 8, 40)  # the bar: a wider margin makes its tall strip wider
    assert (
        field_in_box(picture, box).strip.shape[1]
        <= reader.WIDE
        < field_in_box(picture, box, pad=SECOND_LOOK_PAD).strip.shape[1]
    )
    reading = Recognizer(None, reader=reader, finder=FixedFinder([box], [0.9]), layout="field").read(picture)
    assert reading.text == "7" and reading.numbers[0].confidence == pytest.approx(SECOND_LOOK_MISS, abs=0.01)
    assert len(reader.strips) == 2  # the place, then its second look
    steady = Recognizer(None, reader=SpyReader(), finder=FixedFinder([box], [0.9]), layout="field").read(picture)
    assert steady.numbers[0].confidence == pytest.approx(1.0, abs=0.01)
