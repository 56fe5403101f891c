import cv2
import numpy as np
import pytest

from digitrec.preprocess import segment
from digitrec.preprocess.normalize import BOX, CENTRE, STROKE, normalize_digit, stroke_width
from digitrec.preprocess.segment import group_components, merge_spans


def _mask(h: int, w: int, rects: list[tuple[int, int, int, int]]) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    for x, y, rw, rh in rects:
        m[y : y + rh, x : x + rw] = 1
    return m


def test_pieces_that_overlap_horizontally_are_one_digit():
    # A "5" drawn in two strokes: a top bar and a separate body below it.
    m = _mask(100, 100, [(30, 10, 40, 5), (28, 25, 10, 60)])
    regions = group_components(m)
    assert len(regions) == 1 and regions[0].box == (28, 10, 42, 75)


def test_separate_digits_are_ordered_left_to_right():
    m = _mask(60, 200, [(150, 10, 8, 40), (20, 10, 20, 40), (80, 10, 25, 40)])
    regions = group_components(m)
    assert [r.box[0] for r in regions] == [20, 80, 150]


def test_specks_and_dots_are_dropped():
    m = _mask(60, 200, [(20, 10, 20, 40), (60, 45, 3, 3), (100, 10, 20, 40), (180, 2, 1, 1)])
    regions = group_components(m)
    assert [r.box[0] for r in regions] == [20, 100]


def test_single_mode_makes_one_digit():
    m = _mask(60, 200, [(20, 10, 20, 40), (100, 10, 20, 40)])
    assert len(group_components(m, single=True)) == 1


def joins(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return min(a[1], b[1]) - max(a[0], b[0]) >= 0.4 * min(a[1] - a[0], b[1] - b[0])


@pytest.mark.parametrize("seed", range(20))
def test_merged_spans_are_settled_and_each_group_is_chained(seed):
    """No two groups left would join, and each group's spans form a chain of joins."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 300, 40)
    spans = [(int(x), int(x + w)) for x, w in zip(starts, rng.integers(1, 40, 40))]
    groups = merge_spans(spans)
    assert sorted(i for g in groups for i in g) == list(range(len(spans)))
    union = [(min(spans[i][0] for i in g), max(spans[i][1] for i in g)) for g in groups]
    assert not any(joins(union[a], union[b]) for a in range(len(groups)) for b in range(a + 1, len(groups)))
    for g in groups:  # grown from its leftmost span, each next span joins what came before
        members = sorted(g, key=lambda i: spans[i][0])
        span = spans[members[0]]
        for i in members[1:]:
            assert spans[i][0] < span[1]
            span = (span[0], max(span[1], spans[i][1]))


def test_span_merging_is_near_linear(monkeypatch):
    """10,000 dots in 100 columns: the pairwise merge compared ~50 million pairs (a minute
    of CPU for one 2.6 KB PNG); the sweep compares each span with the few groups open."""
    calls = []
    joins = segment._joins
    monkeypatch.setattr(segment, "_joins", lambda a, b: calls.append(1) or joins(a, b))
    spans = [(8 * col, 8 * col + 3) for row in range(100) for col in range(100)]
    groups = merge_spans(spans)
    assert len(groups) == 100 and all(len(g) == 100 for g in groups)
    assert len(calls) < 3 * len(spans)


def test_empty_mask():
    assert group_components(np.zeros((10, 10), np.uint8)) == []


def _ring(size: int, thickness: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, (size // 2, size // 2), (size // 3, size // 2 - thickness), 0, 0, 360, 1, thickness)
    return m


@pytest.mark.parametrize("size, thickness", [(40, 1), (400, 4), (400, 60), (16, 4)])
def test_normalised_digit_is_framed_like_mnist(size, thickness):
    mask = _ring(size, thickness)
    out = normalize_digit(mask.astype(np.float32), mask, cv2.boundingRect(mask))
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() == 255
    m = cv2.moments(out.astype(np.float32))
    assert (m["m10"] / m["m00"], m["m01"] / m["m00"]) == pytest.approx((CENTRE, CENTRE), abs=0.3)
    ys, xs = np.nonzero(out > 40)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in range(BOX - 1, BOX + 3)
    # Thin pen lines and thick marker strokes come out with MNIST's stroke weight.
    width = stroke_width((out > 127).astype(np.uint8))
    assert 0.6 * STROKE * BOX <= width <= 1.6 * STROKE * BOX, width


def test_stroke_width_estimate():
    m = np.zeros((100, 100), np.uint8)
    m[10:90, 40:46] = 1
    assert stroke_width(m) == pytest.approx(6, rel=0.15)


def test_deskew_straightens_a_slanted_stroke():
    mask = np.zeros((200, 200), np.uint8)
    cv2.line(mask, (70, 180), (130, 20), 1, 12)  # a "1" leaning right
    box = cv2.boundingRect(mask)

    def slant(image):
        m = cv2.moments(image.astype(np.float32))
        return abs(m["mu11"] / m["mu02"])

    plain = normalize_digit(mask.astype(np.float32), mask, box)
    straight = normalize_digit(mask.astype(np.float32), mask, box, deskew=True)
    assert slant(plain) > 0.2 and slant(straight) < 0.05
