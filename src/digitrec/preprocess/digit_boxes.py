"""Where each digit of a read number is: the ink near the column where the reader saw it.

A CTC reader says which digits a strip holds and, roughly, where: each digit's peak
column. The peak is not the digit (the ink under the peak columns alone is a sliver of it
or of its neighbour: mean IoU 0.17 against the true boxes of synthetic numbers), but it
lies a steady distance before the digit's centre (the shipped reader: 0.25 ± 0.1 strip
heights). So each digit gets an anchor, the peak moved by that lead; ruled lines are taken
out of the ink, every column belongs to its nearest anchor, and a digit's box is the ink
of its columns that lies near the anchor, whatever the ink's shapes: touching digits are
cut between anchors, and a rule's remnant, a neighbour's stroke or printed text away
from every anchor is left out. (Cutting the ink into as many pieces as digits read put
such clutter into the boxes: mean IoU 0.672 on synthetic fields of seed 11; anchored,
0.713.) A reader may also put a digit's peak at the strip's very start, far before its
ink (real register cells of one digit do it): when an anchor has no ink near it, the
strip's ink is cut by count instead, into as many pieces as digits were read.
"""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np

from digitrec.preprocess.segment import merge_spans

# --- tuning (chosen on synthetic fields of seed 7, checked on seed 11; the bench measures seed 2026)
INK = 0.3  # a strip pixel is ink above this share of 255
RULE_ACROSS = 1.0  # a horizontal run this many strip heights long is a ruled line, no digit's stroke
RULE_DOWN = 0.9  # a vertical run over this share of the strip's height is a rule (a digit is <= 1/(1+2 PAD) of it)
RULE_MIN_RUN = 3  # ... and either run is at least this many pixels, however short the strip (a floor only)
DEBRIS = 0.08  # pieces smaller than this share of the largest are specks and noise
# a digit's anchor lies this many strip heights right of its peak column (measured lead 0.25; 0.2 cuts touching
# digits better)
LEAD = 0.2
REACH = 0.25  # ink whose centre is further than this (strip heights) from its digit's anchor is something else's
GAP = 0.15  # ink this far (strip heights) above or below its digit's largest piece is a mark or the next row's digit
MARK = 0.35  # cutting by count, with too many pieces, one this small against the median area goes first
SHORT = 0.5  # cutting by count, a piece this short against the tallest is a mark (a dash, a dot), never a digit
# touching digits are cut at the emptiest column within this share of a digit's width of the even cut
SPLIT_REACH = 0.05

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in strip pixels
Piece = tuple[int, int, int, int, int]  # a piece of ink or a group of them: its box x0, y0, x1, y1, and its ink pixels


def digit_boxes(strip: np.ndarray, peaks: list[float], core: Box | None = None) -> list[Box]:
    """One box per digit read, left to right, in a strip (uint8, ink bright) whose number
    lies in `core` (default: all of it); `peaks` are the strip x of each digit's peak column."""
    if not peaks:
        return []
    h, w = strip.shape
    core = core if core is not None else (0, 0, w, h)
    ink = _number_ink(strip, core)
    anchors = np.asarray(peaks, float) + LEAD * h
    owner = np.abs(np.arange(w)[:, None] - anchors[None, :]).argmin(1)  # each column's nearest anchor
    pieces = _pieces(ink, owner, anchors, h)
    if all(pieces):
        return [_digit_box(found, h) for found in pieces]
    return _by_count(ink, len(peaks), core)


def _number_ink(strip: np.ndarray, core: Box) -> np.ndarray:
    """The strip's ink inside the core, ruled lines taken out (uint8 mask)."""
    x0, y0, x1, y1 = core
    inked = strip > INK * 255
    ink = np.zeros(strip.shape, np.uint8)
    ink[y0:y1, x0:x1] = inked[y0:y1, x0:x1] & ~_rules(inked)[y0:y1, x0:x1]
    return ink


def _rules(ink: np.ndarray) -> np.ndarray:
    """Ruled lines of a strip's ink mask: long horizontal and vertical runs (bool)."""
    h = ink.shape[0]
    mask = ink.astype(np.uint8)
    across = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(RULE_MIN_RUN, round(RULE_ACROSS * h))), np.uint8))
    down = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((max(RULE_MIN_RUN, round(RULE_DOWN * h)), 1), np.uint8))
    return (across | down).astype(bool)


def _pieces(ink: np.ndarray, owner: np.ndarray, anchors: np.ndarray, h: int) -> list[list[Piece]]:
    """Per anchor, the pieces of ink it owns: each connected stroke big enough not to be a
    speck, cut at the borders between anchors' columns, kept where its centre lies within
    REACH of its anchor."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    found: list[list[Piece]] = [[] for _ in anchors]
    if n <= 1:
        return found
    smallest = DEBRIS * stats[1:, cv2.CC_STAT_AREA].max()
    for k in range(1, n):
        x, y, w, hk, area = (int(v) for v in stats[k])
        if area < smallest:
            continue
        mask = labels[y : y + hk, x : x + w] == k
        for a in np.unique(owner[x : x + w]):
            part = mask & (owner[x : x + w] == a)[None, :]
            cols, rows = part.sum(0), np.nonzero(part.any(1))[0]
            centre = x + float((np.arange(w) * cols).sum() / cols.sum())
            if abs(centre - anchors[a]) <= REACH * h:
                xs = np.nonzero(cols)[0]
                found[a].append(
                    (x + int(xs[0]), y + int(rows[0]), x + int(xs[-1]) + 1, y + int(rows[-1]) + 1, int(cols.sum()))
                )
    return found


def _digit_box(pieces: list[Piece], h: int) -> Box:
    """A digit's box: its largest piece and those of its pieces within GAP above or below it."""
    main = max(pieces, key=lambda p: p[4])
    near = [p for p in pieces if max(p[1] - main[3], main[1] - p[3], 0) <= GAP * h]
    return min(p[0] for p in near), min(p[1] for p in near), max(p[2] for p in near), max(p[3] for p in near)


def _by_count(ink: np.ndarray, count: int, core: Box) -> list[Box]:
    """`count` boxes cut from the ink without anchors: its pieces, those above one another
    joined, marks dropped and the closest joined or the widest split until there are
    `count`; where the core holds no ink, `count` equal slices of it."""
    groups = _groups(ink)
    if groups:
        tallest = max(g[3] - g[1] for g in groups)
        groups = [g for g in groups if g[3] - g[1] >= SHORT * tallest]
    if not groups:
        return _slices(core, count)
    while len(groups) > count:
        groups = _fewer(groups)
    if len(groups) < count:
        groups = _split(groups, ink, count)
    return [_ink_box(ink, g) for g in groups]


def _groups(ink: np.ndarray) -> list[Piece]:
    """Cutting by count: the ink's pieces big enough to be strokes, grouped where their
    columns overlap (a 5's flag over its body), with their ink's extent, left to right."""
    _n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    stats = stats[1:]
    if not len(stats):
        return []
    keep = stats[stats[:, cv2.CC_STAT_AREA] >= DEBRIS * stats[:, cv2.CC_STAT_AREA].max()]
    spans = [(int(s[0]), int(s[0] + s[2])) for s in keep]
    groups = []
    for members in merge_spans(spans):
        part = keep[members]
        groups.append(
            (
                int(part[:, 0].min()),
                int(part[:, 1].min()),
                int((part[:, 0] + part[:, 2]).max()),
                int((part[:, 1] + part[:, 3]).max()),
                int(part[:, cv2.CC_STAT_AREA].sum()),
            )
        )
    return sorted(groups)


def _fewer(groups: list[Piece]) -> list[Piece]:
    """One group fewer: a small mark dropped, else the two closest neighbours merged."""
    areas = np.array([g[4] for g in groups], float)
    smallest = int(areas.argmin())
    if areas[smallest] < MARK * np.median(areas):
        return groups[:smallest] + groups[smallest + 1 :]
    gaps = [b[0] - a[2] for a, b in pairwise(groups)]
    i = int(np.argmin(gaps))
    a, b = groups[i], groups[i + 1]
    joined = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] + b[4])
    return [*groups[:i], joined, *groups[i + 2 :]]


def _split(groups: list[Piece], ink: np.ndarray, count: int) -> list[Piece]:
    """Pieces split into `count` in all (touching digits): each extra digit goes to the
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
        out += [(a, y0, max(b, a + 1), y1, area // k) for a, b in pairwise(cuts)]
    return out


def _ink_box(ink: np.ndarray, group: Piece) -> Box:
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
    return [(int(a), y0, int(max(b, a + 1)), y1) for a, b in pairwise(edges)]
