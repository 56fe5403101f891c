"""Where each digit of a read number is: its ink in the reader's strip, cut into as many
digits as the reader read.

A CTC reader says which digits a strip holds, not where: its peaks drift, so the ink
under a digit's peak columns is often a sliver of it or of its neighbour (mean IoU 0.17
against the true boxes of synthetic numbers). The ink itself says where the digits are:
ruled lines are taken out, the rest falls into pieces, pieces above one another are one
digit, and the pieces are merged, dropped or split until there are as many as the
reader read. Each digit's box is then its pieces' ink.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitrec.preprocess.segment import merge_spans

# --- tuning (chosen on synthetic fields of seed 7; the bench measures seed 2026) -------
INK = 0.3  # a strip pixel is ink above this share of 255
RULE_ACROSS = 1.0  # a horizontal run this many strip heights long is a ruled line, no digit's stroke
RULE_DOWN = 0.9  # a vertical run over this share of the strip's height is a rule (a digit is <= 1/(1+2 PAD) of it)
DEBRIS = 0.08  # pieces smaller than this share of the largest are specks and noise
MARK = 0.35  # with too many pieces, one this small against the median area goes first
SHORT = 0.5  # a piece this short against the tallest is a mark (a dash, an equals sign, a dot), never a digit
SPLIT_REACH = 0.05  # touching digits are cut at the emptiest column within this share of a digit's width of the even cut

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in strip pixels
Group = tuple[int, int, int, int, int]  # a digit's box so far, and its ink pixels


def digit_boxes(strip: np.ndarray, count: int, core: Box | None = None) -> list[Box]:
    """`count` digit boxes, left to right, in a strip (uint8, ink bright) whose number lies
    in `core` (default: all of it). Where the core holds no ink, `count` equal slices of it."""
    h, w = strip.shape
    x0, y0, x1, y1 = core if core is not None else (0, 0, w, h)
    inked = strip > INK * 255
    ink = np.zeros((h, w), np.uint8)
    ink[y0:y1, x0:x1] = inked[y0:y1, x0:x1] & ~_rules(inked)[y0:y1, x0:x1]
    groups = _pieces(ink)
    if groups:
        tallest = max(g[3] - g[1] for g in groups)
        groups = [g for g in groups if g[3] - g[1] >= SHORT * tallest]
    if not groups:
        return _slices((x0, y0, x1, y1), count)
    while len(groups) > count:
        groups = _fewer(groups)
    if len(groups) < count:
        groups = _split(groups, ink, count)
    return [_ink_box(ink, g) for g in groups]


def _rules(ink: np.ndarray) -> np.ndarray:
    """Ruled lines of a strip's ink mask: long horizontal and vertical runs (bool)."""
    h = ink.shape[0]
    mask = ink.astype(np.uint8)
    across = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(3, round(RULE_ACROSS * h))), np.uint8))
    down = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((max(3, round(RULE_DOWN * h)), 1), np.uint8))
    return (across | down).astype(bool)


def _pieces(ink: np.ndarray) -> list[Group]:
    """The ink's pieces big enough to be strokes, grouped where their columns overlap (a
    5's flag over its body), as column ranges with their ink's extent, left to right."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    stats = stats[1:]
    if not len(stats):
        return []
    keep = stats[stats[:, cv2.CC_STAT_AREA] >= DEBRIS * stats[:, cv2.CC_STAT_AREA].max()]
    spans = [(int(s[0]), int(s[0] + s[2])) for s in keep]
    groups = []
    for members in merge_spans(spans):
        part = keep[members]
        groups.append((
            int(part[:, 0].min()), int(part[:, 1].min()),
            int((part[:, 0] + part[:, 2]).max()), int((part[:, 1] + part[:, 3]).max()),
            int(part[:, cv2.CC_STAT_AREA].sum()),
        ))
    return sorted(groups)


def _fewer(groups: list[Group]) -> list[Group]:
    """One group fewer: a small mark dropped, else the two closest neighbours merged."""
    areas = np.array([g[4] for g in groups], float)
    smallest = int(areas.argmin())
    if areas[smallest] < MARK * np.median(areas):
        return groups[:smallest] + groups[smallest + 1 :]
    gaps = [b[0] - a[2] for a, b in zip(groups, groups[1:])]
    i = int(np.argmin(gaps))
    a, b = groups[i], groups[i + 1]
    joined = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] + b[4])
    return groups[:i] + [joined] + groups[i + 2 :]


def _split(groups: list[Group], ink: np.ndarray, count: int) -> list[Group]:
    """Groups split into `count` in all (touching digits): each extra digit goes to the
    group widest per digit it holds, and a group of k digits is cut near each k-th of its
    width, at the emptiest column within SPLIT_REACH of a share."""
    shares = [1] * len(groups)
    for _ in range(count - len(groups)):
        i = max(range(len(groups)), key=lambda k: (groups[k][2] - groups[k][0]) / shares[k])
        shares[i] += 1
    out = []
    for (x0, y0, x1, y1, area), k in zip(groups, shares):
        step = (x1 - x0) / k
        cuts = [x0]
        for j in range(1, k):
            lo = int(np.clip(x0 + (j - SPLIT_REACH) * step, cuts[-1], x1))
            hi = int(np.clip(np.ceil(x0 + (j + SPLIT_REACH) * step), lo + 1, x1))
            cuts.append(lo + int(ink[y0:y1, lo:hi].sum(0).argmin()) if hi > lo else lo)
        cuts.append(x1)
        out += [(a, y0, max(b, a + 1), y1, area // k) for a, b in zip(cuts, cuts[1:])]
    return out


def _ink_box(ink: np.ndarray, group: Group) -> Box:
    """The box of the ink inside a group's columns and rows (the group's box when none)."""
    x0, y0, x1, y1 = group[:4]
    rows, cols = np.nonzero(ink[y0:y1, x0:x1])
    if not len(rows):
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)
    return x0 + int(cols.min()), y0 + int(rows.min()), x0 + int(cols.max()) + 1, y0 + int(rows.max()) + 1


def _slices(core: Box, count: int) -> list[Box]:
    """`count` equal slices of a box, left to right."""
    x0, y0, x1, y1 = core
    edges = np.linspace(x0, x1, count + 1).round().astype(int)
    return [(int(a), y0, int(max(b, a + 1)), y1) for a, b in zip(edges, edges[1:])]
