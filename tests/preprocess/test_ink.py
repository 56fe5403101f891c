import numpy as np
import pytest

from digitrec.preprocess.ink import INK_SHARE, dark_ink_on_light, find_ink, ink_mask
from tests.pictures import paper, ruled_lines, shadow


def test_a_digit_filling_its_picture_is_not_taken_for_a_ruled_line():
    """A scanned "1" spans the whole height: it is the writing, not a line to remove."""
    image = np.zeros((200, 200), np.float32)
    image[:, 85:115] = 1.0
    found = find_ink(image)
    assert found.mask[:, 85:115].mean() > 0.9


def test_ruled_lines_and_grid_leave_the_mask_but_the_digit_stays():
    page = ruled_lines(ruled_lines(paper(400, 300), 30, colour=120), 30, colour=120, vertical=True)
    page[100:200, 190:205] = 25  # a vertical stroke crossing three ruled lines
    found = find_ink(page / 255)
    assert found.inverted
    assert found.mask[:, :150].sum() == 0, "nothing of the grid is left away from the digit"
    column = found.mask[100:200, 190:205]
    assert column.mean() > 0.9, "the stroke is whole again where it crossed the lines"


@pytest.mark.parametrize("level", [0.25, 0.5, 0.9])
def test_polarity_under_any_lighting(level):
    page = paper(200, 200, level=255 * level, noise=2) / 255
    page[50:150, 95:105] = level * 0.2  # dark ink on this paper
    assert dark_ink_on_light(page)
    assert not dark_ink_on_light(1 - page)


def test_shadow_does_not_become_ink():
    page = shadow(paper(400, 300), darkest=0.45)
    page[100:200, 190:200] = 20
    found = find_ink(page / 255)
    assert found.mask[100:200, 190:200].mean() > 0.9
    assert found.mask.sum() < 2 * 100 * 10 * 1.3, "the shadowed corner stays background"


def test_a_lone_thin_stroke_spanning_the_canvas_is_kept():
    """A "1" drawn with a thin pen from top to bottom of a canvas is all there is to read."""
    image = np.zeros((400, 400), np.float32)
    image[10:390, 198:202] = 1.0
    assert find_ink(image).mask[10:390, 198:202].mean() > 0.9


@pytest.mark.parametrize("density", [0.05, 0.45, 0.7])
def test_labelling_gives_opencvs_default_labels_and_stats(density):
    """label_pieces runs BBDT for speed; every caller relies on the labels, their order
    and the stats being those of OpenCV's default labelling."""
    import cv2

    from digitrec.preprocess.ink import count_pieces, label_pieces

    rng = np.random.default_rng(7)
    for h, w in [(1, 1), (3, 500), (97, 131), (480, 640)]:
        mask = (rng.random((h, w)) < density).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = label_pieces(mask)
        assert got[0] == n and np.array_equal(got[1], labels) and np.array_equal(got[2], stats)
        assert count_pieces(mask) == n - 1


def test_ink_is_cut_at_otsus_level_and_never_in_the_papers_noise() -> None:
    """One home for cutting ink from paper (the digit path and the rule-based field finder):
    Otsu's level between two clear levels; on a near-empty picture, where Otsu would settle
    in the noise, nothing fainter than INK_SHARE of the peak."""
    import numpy as np

    two_levels = np.full((40, 40), 0.1, np.float32)
    two_levels[10:30, 18:22] = 0.9
    assert ink_mask(two_levels).sum() == 20 * 4
    noise = np.random.default_rng(0).uniform(0, INK_SHARE - 0.01, (40, 40)).astype(np.float32)
    noise[5, 5] = 1.0  # the one ink pixel
    assert ink_mask(noise).sum() == 1
