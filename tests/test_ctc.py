"""CTC best-path decoding: repeats merged, blanks dropped, each digit with its box."""

from __future__ import annotations

import itertools

import numpy as np

from digitrec.ctc import best_path, best_path_text, decode_number, labelling_probability
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
    # The number's confidence: the chance that the columns spell it, every alignment summed.
    assert abs(number.confidence - spelled(probs, [3, 8])) < 1e-6
    probs[4, 0], probs[4, 6] = 0.55, 0.35  # a 5 nearly appeared between the two: less sure
    assert decode_number(probs, field, stride=4).confidence < 0.75 * number.confidence
    assert number.digits[0].columns == (6, 14)  # the ink columns of the digit, for its image


def test_all_blank_reads_no_digit() -> None:
    field = Field(np.zeros((32, 16), np.uint8), (0, 0, 16, 32), 1.0, 1.0)
    number = decode_number(columns([0, 0, 0, 0]), field, stride=4)
    assert number.text == "" and number.digits == []


def spelled(probs: np.ndarray, labels: list[int]) -> float:
    """P(labels | columns) by brute force: every path over blank and the labels' classes
    whose repeats merged and blanks dropped give `labels`."""
    total = 0.0
    for path in itertools.product(sorted({0, *labels}), repeat=len(probs)):
        merged = [c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
        if merged == labels:
            total += float(np.prod([probs[t, c] for t, c in enumerate(path)]))
    return total


def test_a_numbers_probability_sums_every_alignment_of_its_digits() -> None:
    rng = np.random.default_rng(0)
    for labels in ([], [4], [2, 7], [3, 3], [1, 5, 1]):
        probs = rng.random((7, 11)) ** 3
        probs /= probs.sum(1, keepdims=True)
        assert (
            abs(labelling_probability(probs, labels) - spelled(probs, labels))
            < 1e-9 * max(1.0, spelled(probs, labels)) + 1e-15
        )


def test_a_digit_fading_into_a_blank_costs_little_and_a_near_double_costs_much() -> None:
    sure = columns([0, 3, 3, 0, 0, 0, 8, 0])
    fading = sure.copy()
    fading[2, 0], fading[2, 3] = 0.5, 0.45  # the 2's second column: blank or still the 2
    near_double = sure.copy()
    near_double[4, 0], near_double[4, 3] = 0.5, 0.45  # a blank column, apart from the 2, that could be a second 2
    field = Field(np.zeros((32, 32), np.uint8), (0, 0, 32, 32), 1.0, 1.0)
    base, fades, doubles = (decode_number(p, field, stride=4) for p in (sure, fading, near_double))
    assert base.text == fades.text == doubles.text == "27"
    assert fades.confidence > 0.9 * base.confidence  # either way it spells 27
    assert doubles.confidence < 0.6 * base.confidence  # half the time it spells 227


def test_the_training_decoder_spells_what_the_product_decoder_spells() -> None:
    """Training's batched best path (`training.tasks.greedy_digits`, on logits, measuring
    checkpoints) and the product's (`ctc.best_path_text`, on probabilities) agree."""
    import torch

    from digitrec.training.tasks import greedy_digits

    logits = torch.randn(200, 24, 11, generator=torch.Generator().manual_seed(0)) * 3
    logits[::2, :, 0] += 3  # half the strips mostly blank, the rest full of repeats
    spelled = ["".join(str(int(d)) for d in row if d >= 0) for row in greedy_digits(logits)]
    assert [best_path_text(p) for p in logits.softmax(-1).double().numpy()] == spelled
    assert any(len(s) >= 8 for s in spelled) and any(s[i] == s[i + 1] for s in spelled for i in range(len(s) - 1))
