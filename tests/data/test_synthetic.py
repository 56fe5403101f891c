"""Synthetic numbers: batched, seeded, labelled as drawn, with each distractor doing its part."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from digitrec.data.synthetic import DigitBank, NumberMaker, SyntheticConfig, frame_like_mnist, jpeg_like
from tests.helpers import synthetic_digits

OFF = {  # every distractor off: digits only
    "separator": 0.0,
    "trailing": 0.0,
    "line": 0.0,
    "border": 0.0,
    "margin": 0.0,
    "underline": 0.0,
    "stain": 0.0,
    "pattern": 0.0,
    "blur": 0.0,
    "jpeg": 0.0,
    "low_contrast": 0.0,
    "noise": 0.0,
    "inverted": 0.0,
    "stroke": 0.0,
}


@pytest.fixture(scope="module")
def bank() -> DigitBank:
    images, labels = synthetic_digits(200, seed=3)
    return DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64")))


def make(bank: DigitBank, **changes) -> NumberMaker:
    return NumberMaker(bank, dataclasses.replace(SyntheticConfig(), **changes))


def test_a_batch_has_strips_targets_and_lengths_that_agree(bank: DigitBank) -> None:
    batch = make(bank).batch(32, torch.Generator().manual_seed(0))
    assert batch.strips.shape == (32, 1, 32, 256) and batch.strips.dtype == torch.float32
    assert float(batch.strips.min()) >= 0.0 and float(batch.strips.max()) <= 1.0
    assert ((batch.lengths >= 1) & (batch.lengths <= 8)).all()
    for row, n, text in zip(batch.targets, batch.lengths, batch.texts()):
        assert len(text) == int(n) and (row[: int(n)] >= 0).all() and (row[int(n) :] == -1).all()
    # Past each field's end the strip is padding, as real strips are padded.
    for strip, width in zip(batch.strips, batch.widths):
        assert float(strip[..., int(width) :].abs().sum()) == 0.0


def test_the_same_seed_makes_the_same_numbers_and_another_seed_others(bank: DigitBank) -> None:
    maker = make(bank)
    a = maker.batch(16, torch.Generator().manual_seed(7))
    b = maker.batch(16, torch.Generator().manual_seed(7))
    c = maker.batch(16, torch.Generator().manual_seed(8))
    assert torch.equal(a.strips, b.strips) and a.texts() == b.texts()
    assert a.texts() != c.texts()


def test_lengths_can_be_asked_for(bank: DigitBank) -> None:
    batch = make(bank).batch(64, torch.Generator().manual_seed(1), lengths=(2, 6))
    assert int(batch.lengths.min()) >= 2 and int(batch.lengths.max()) <= 6


def test_digits_are_drawn_where_the_number_is_and_nowhere_else(bank: DigitBank) -> None:
    batch = make(bank, **OFF, min_digits=3, max_digits=3).batch(8, torch.Generator().manual_seed(2))
    ink_columns = (batch.strips[:, 0] > 0.3).any(1)  # (B, W)
    for cols, width in zip(ink_columns, batch.widths):
        assert cols.any() and not cols[int(width) :].any()


def test_a_slanted_digits_box_is_its_ink(bank: DigitBank) -> None:
    # One digit per number, slanted hard: its box must hold all its drawn ink and no more
    # (a box of the upright digit misses a slanted one's leaning top and bottom).
    drawn = make(bank, **OFF, min_digits=1, max_digits=1, slant=0.4).draw(
        16, torch.Generator().manual_seed(4), plain=True
    )
    for strip, box in zip(drawn.ink[:, 0], drawn.boxes[:, 0]):
        rows, cols = (strip > 40 / 255).nonzero(as_tuple=True)
        ink = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
        assert tuple(round(v) for v in box.tolist()) == ink


@pytest.mark.parametrize(
    "distractor", ["line", "border", "margin", "underline", "stain", "pattern", "separator", "trailing"]
)
def test_each_distractor_adds_ink_of_its_own(bank: DigitBank, distractor: str) -> None:
    clean = make(bank, **OFF, min_digits=3, max_digits=3).batch(16, torch.Generator().manual_seed(3))
    noisy = make(bank, **{**OFF, distractor: 1.0}, min_digits=3, max_digits=3).batch(
        16, torch.Generator().manual_seed(3)
    )
    assert clean.texts() == noisy.texts()  # distractors never change the label
    added = (noisy.strips - clean.strips[..., : noisy.strips.shape[-1]]).clamp_min(0).sum((1, 2, 3))
    assert (added > 1.0).float().mean() > 0.8, added


def test_jpeg_like_is_lossy_at_low_quality_and_close_at_high() -> None:
    x = torch.rand(2, 1, 32, 64, generator=torch.Generator().manual_seed(0))
    assert (jpeg_like(x, 95) - x).abs().mean() < (jpeg_like(x, 10) - x).abs().mean()
    assert (jpeg_like(x, 95) - x).abs().mean() < 0.05


def test_other_digit_sets_are_framed_like_mnist() -> None:
    box = torch.zeros(1, 16, 16, dtype=torch.uint8)
    box[0, :, 6:10] = 255  # a "1" filling its 16x16 box, as USPS and optdigits store digits
    framed = frame_like_mnist(box.numpy())
    ys, _xs = (framed[0] > 40).nonzero()
    assert framed.shape == (1, 28, 28)
    assert ys.max() - ys.min() + 1 == 20  # the longer side fitted to 20, as MNIST
    assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1


def test_synthetic_fields_hold_their_number_among_surroundings(bank: DigitBank) -> None:
    from digitrec.data.synthetic_fields import FieldConfig, FieldMaker

    maker = FieldMaker(make(bank, **OFF), FieldConfig(height=48, empty=0.1, low_contrast=0.0, blur=0.0))
    batch = maker.batch(64, torch.Generator().manual_seed(0))
    assert (
        batch.strips.shape[:3] == (64, 1, 48) and float(batch.strips.min()) >= 0.0 and float(batch.strips.max()) <= 1.0
    )
    texts = batch.texts()
    cells = texts[: round(64 * maker.cfg.cell)]
    assert all(len(t) <= maker.cfg.cell_digits for t in cells), "a cell's number is short"
    assert "" in texts, "some fields hold no number"
    for field, width, text, boxes in zip(batch.strips, batch.widths, texts, batch.boxes):
        assert float(field[..., int(width) :].abs().sum()) == 0.0  # padding past the field
        shown = boxes[boxes[:, 0] >= 0]
        assert len(shown) == len(text)  # a box for each digit of the label, none for an empty field
        for x0, y0, x1, y1 in shown.tolist():
            # The digit's ink is inside its box: the box holds bright pixels.
            inside = field[0, max(0, int(y0)) : int(y1) + 1, max(0, int(x0)) : int(x1) + 1]
            assert x1 > x0 and y1 > y0 and float(inside.max()) > 0.3


def test_the_same_seed_makes_the_same_fields(bank: DigitBank) -> None:
    from digitrec.data.synthetic_fields import FieldConfig, FieldMaker

    maker = FieldMaker(make(bank), FieldConfig(height=48))
    a, b = (maker.batch(16, torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(a.strips, b.strips) and a.texts() == b.texts()


def test_fields_hold_as_many_digits_as_their_numbers_are_asked_for(bank: DigitBank) -> None:
    from digitrec.data.synthetic_fields import FieldConfig, FieldMaker

    maker = FieldMaker(
        make(bank, min_digits=2, max_digits=6), FieldConfig(height=48, lone=0.0, empty=0.0, max_digits=6)
    )
    lengths = {len(t) for t in maker.batch(64, torch.Generator().manual_seed(1)).texts()}
    assert min(lengths) == 2 and max(lengths) <= 6 and len(lengths) > 2


def test_faint_ink_shows_over_dark_textured_paper(bank: DigitBank) -> None:
    from digitrec.data.synthetic_fields import FieldConfig, FieldMaker

    plain = {
        k: 0.0
        for k in ("rows", "side", "struck", "rules", "borders", "margin", "words", "mark", "blur", "jpeg", "noise")
    }
    maker = FieldMaker(
        make(bank, **OFF), FieldConfig(height=48, empty=0.0, low_contrast=1.0, texture=1.0, light=1.0, **plain)
    )
    batch = maker.batch(64, torch.Generator().manual_seed(2))
    for field, width, boxes in zip(batch.strips, batch.widths, batch.boxes):
        paper = field[0, :, : int(width)].median()
        x0, y0, x1, y1 = (int(v) for v in boxes[0].tolist())
        ink = field[0, max(0, y0) : y1 + 1, max(0, x0) : x1 + 1].max()
        assert float(ink - paper) > 0.1, "a digit's ink is lost in the paper around it"


def test_strips_cut_from_fields_hold_their_number_at_the_readers_height(bank: DigitBank) -> None:
    from digitrec.data.synthetic_fields import CutFieldMaker, FieldConfig

    quiet = {
        k: 0.0
        for k in (
            "rows",
            "side",
            "struck",
            "rules",
            "borders",
            "margin",
            "words",
            "mark",
            "texture",
            "light",
            "blur",
            "jpeg",
            "noise",
        )
    }
    maker = CutFieldMaker(
        make(bank, **OFF), FieldConfig(height=96, empty=0.0, lone=0.0, low_contrast=0.0, **quiet), share=0.75
    )
    batch = maker.batch(32, torch.Generator().manual_seed(3))
    assert batch.strips.shape[:3] == (32, 1, 32) and len(batch.texts()) == 32
    for strip, width, text in zip(batch.strips[:24], batch.widths[:24], batch.texts()[:24]):  # the cut ones come first
        assert float(strip[..., int(width) :].abs().sum()) == 0.0
        columns = strip[0, :, : int(width)].amax(0) > 0.5
        # The number fills the cut: ink in most of its columns' span, and a longer number a wider strip.
        span = columns.nonzero()
        assert len(text) >= 1 and len(span) and int(span[-1] - span[0]) >= 0.3 * int(width)
        assert int(width) >= 0.35 * 32 * len(text)
    again = maker.batch(32, torch.Generator().manual_seed(3))
    assert torch.equal(again.strips, batch.strips) and again.texts() == batch.texts()
