"""Finding the numbers in a picture: the regions that hold writing, as reader strips.

A picture (a cheque's amount box, a register cell, a photo of a page) is cut to the
regions that hold writing before a number reader sees them:

1. Black scanner bands are cut off first (they would decide the polarity), then the ink
   is found as for single digits (polarity, uneven light, ruled and grid lines).
2. Components that are frames, borders or margins are dropped: thin pieces spanning the
   picture, hollow outlines, and in a cell or a page (`is_roomy`) pieces running along
   or cut by its edge and rules broken into dashes.
3. What is left is grouped into fields: pieces within a few stroke heights of each other
   on the same line form one number; several lines or far-apart groups give several.
4. Each field is cut from the background-flattened picture with a margin, ink bright, and
   scaled to the reader's strip height (aspect kept).

One function, `find_fields`, serves prediction, the server and the training data alike,
so the reader sees the same kind of strip everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from digitrec.preprocess.decode import MAX_PIXELS, ImageInput, Picture, decode_picture
from digitrec.preprocess.ink import (
    MIN_CONTRAST,
    dark_ink_on_light,
    flatten_background,
    ink_mask,
    label_pieces,
    quantiles,
    remove_lines,
    smooth_ink,
    too_many_pieces,
    working_copy,
)

# --- tuning --------------------------------------------------------------------------
FIELD_WORK_SIDE = 1200  # the field finder's working resolution (longer side): larger pictures are scaled down to it
STRIP_HEIGHT = 32  # the reader's input height: digits ~20-28 px tall, as MNIST's
MAX_STRIP_WIDTH = 512  # longer fields are squeezed: 16 digits at the usual aspect
MIN_STRIP_WIDTH = 8  # a strip is at least this wide, however tall and narrow its field (a lone "1")
# Scanner margins: black bands at the picture's edges, then what is left of them in ink polarity.
MARGIN_DARK = 0.5  # a border column/row with more than this share of dark pixels is scanner margin
MARGIN_BLACK = 0.3  # a scanner's margin is darker than this (of the 0-1 grey range)
MARGIN_LEAD = 0.05  # a margin may begin this far in from the edge (scans have a bright rim)
MARGIN_LEAD_MIN = 2  # ... or this many pixels, on a small picture
MARGIN_REACH = 0.5  # margins are trimmed from at most this fraction of each side (register scans: up to 45%)
MIN_PAGE_SIDE = 8  # a page inside black bands is at least this many pixels each way, or the "bands" are the picture
# a page inside the bands is light: its PAGE_QUANTILE (ink is the minority) is lighter than PAGE_LIGHT; else the
# "bands" are the picture's own dark background (light ink on black)
PAGE_QUANTILE = 0.2
PAGE_LIGHT = 0.5
# What is left of a margin is trimmed in ink polarity: a pixel is margin when its ink over the paper's median
# level, in units of MARGIN_INK_RANGE, is above MARGIN_INK (a quarter of the grey range).
MARGIN_INK = 0.5
MARGIN_INK_RANGE = 0.5
MARGIN_BLUR = 0.01  # a margin's edge is blurred: once trimmed, this share of the longer side more goes with it
MIN_TRIMMED_SIDE = 4  # trimming that would leave fewer pixels than this each way is no margin: nothing is trimmed
# Frames, borders and rules.
FRAME_THIN = 0.06  # a component thinner than this fraction of its length is a line or frame
FRAME_LONG = 0.6  # ... when it is longer than this fraction of the picture's side
EDGE_BAND = 2  # a component runs along an edge where it lies within this many pixels of it
EDGE_CONTACT = 0.2  # a thin component running along an edge for this share of it is a border or margin
EDGE_RUN = 0.3  # ... and any component running along this much of it
THIN_ASPECT = 0.25  # a piece whose shorter side is at most this share of its longer is thin (a rule); above, stout
# a piece cut by the picture's edge, thinner than SLIVER_THIN of its length (or SLIVER_THIN_MIN pixels) and
# longer than SLIVER_LONG of the picture's shorter side, is a sliver of a margin or rule
SLIVER_THIN = 0.1
SLIVER_THIN_MIN = 3
SLIVER_LONG = 0.15
WRAP = 0.9  # a piece at the edge spanning this share of both sides wraps the picture: an outline or margin
STOUT_FILL = 0.08  # ink covers at least this share of a digit's box; frames and joined rules are hollow
STOUT_MIN_AREA = 20  # ... and a stout piece has at least this many pixels of ink: smaller ones are specks
ROOMY = 0.35  # numbers shorter than this share of the picture: it is a cell or a page, with neighbours at its edges
# Vertical rules the scan broke into dashes: dashes closer than BROKEN_GAP of the picture's height (or
# BROKEN_GAP_MIN pixels) are joined; a joined column over BROKEN_TALL of the height and under BROKEN_NARROW
# of its own height wide, made of BROKEN_PIECES pieces or more, is a rule (a lone "1" is one piece).
BROKEN_GAP = 0.08
BROKEN_GAP_MIN = 3
BROKEN_TALL = 0.5
BROKEN_NARROW = 0.15
BROKEN_PIECES = 3
# Specks, after frames: pieces under FIELD_SPECK_SHARE of the largest piece's ink (or FIELD_SPECK_AREA
# pixels) go, and so do pieces lower than FIELD_SPECK_HEIGHT of the tallest, a flat piece counting
# 1/DASH_WIDTH_DIVISOR of its width as its height (underlines and dashes belong to their number).
FIELD_SPECK_SHARE = 0.01
FIELD_SPECK_AREA = 4
FIELD_SPECK_HEIGHT = 0.12
DASH_WIDTH_DIVISOR = 2
# Grouping pieces into fields.
GROUP_REACH = 1.2  # pieces closer than this many median stroke heights join one field
REACH_HEIGHTS = 0.5  # ... the median over pieces at least this share of the tallest: dots and dashes do not count
LINE_OVERLAP = 0.35  # pieces on one text line overlap vertically by this share of the shorter
# a stroke just above or below another (an underline) joins it when it is at most STACKED_FLAT of the other's
# height, lies under at least STACKED_UNDER of the narrower's columns, and is at most STACKED_GAP of the reach
# away (flat next to the other: the next row's number is not an underline)
STACKED_FLAT = 0.5
STACKED_UNDER = 0.5
STACKED_GAP = 0.5
EDGE_FIELD_SHARE = 0.5  # a field cut by the edge goes when a field inside has at least this share of its ink
PAD = 0.15  # margin around a field, as a fraction of its height
MIN_FIELD_HEIGHT = 0.25  # fields shorter than this share of the tallest field are debris
# Contrast and levels of a field's ink.
CONTRAST_BLUR = 1.0  # contrast is the peak of the ink blurred by this sigma (pixels): a lone noisy pixel is not ink
STRIP_INK_TOP = 0.999  # the ink's full level is this quantile of it: a few hot pixels do not set the scale


@dataclass(frozen=True)
class FieldOptions:
    lines: bool = True  # remove ruled lines and grids
    several: bool = True  # a picture may hold several numbers (False: one field, all the writing)
    max_side: int = FIELD_WORK_SIDE  # working resolution of the longer side
    max_pixels: int = MAX_PIXELS


@dataclass
class Field:
    strip: np.ndarray  # uint8 (STRIP_HEIGHT, W), ink bright on ~0: what the reader reads
    box: tuple[int, int, int, int]  # x, y, w, h of the field in the original picture
    scale: float  # strip pixels per original pixel, across (x = box x + strip x / scale)
    y_scale: float  # ... and down (equal to `scale` unless a long field was squeezed)
    # x0, y0, x1, y1 in the strip where the number was found (None: all of it)
    core: tuple[int, int, int, int] | None = None


@dataclass
class FoundFields:
    fields: list[Field] = field(default_factory=list)
    width: int = 0
    height: int = 0
    warning: str | None = None


def _margin_band(dark: np.ndarray, reach: int, lead: int) -> int:
    """How far a dark band reaches in from index 0 of `dark` (per column or row, whether it
    is mostly dark): it may start after up to `lead` light ones (a scanner's bright edge)
    and ends at the first light one, at most `reach` in."""
    i = 0
    while i < lead and i < len(dark) and not dark[i]:
        i += 1
    if i >= lead or i >= len(dark):
        return 0
    while i < reach and dark[i]:
        i += 1
    return i


def _inside_bands(dark: np.ndarray) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) inside the bands of mostly-`dark` columns and rows at each edge."""
    h, w = dark.shape
    cols, rows = dark.mean(0) > MARGIN_DARK, dark.mean(1) > MARGIN_DARK
    lead_x, lead_y = max(MARGIN_LEAD_MIN, round(MARGIN_LEAD * w)), max(MARGIN_LEAD_MIN, round(MARGIN_LEAD * h))
    return (
        _margin_band(cols, round(w * MARGIN_REACH), lead_x),
        _margin_band(rows, round(h * MARGIN_REACH), lead_y),
        w - _margin_band(cols[::-1], round(w * MARGIN_REACH), lead_x),
        h - _margin_band(rows[::-1], round(h * MARGIN_REACH), lead_y),
    )


def scanner_margins(gray: np.ndarray) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of a light page inside the black bands a scanner leaves
    at its edges. A band can be half the picture, which would fool the polarity test, so
    this comes first; a picture that is dark all over (light ink on black) is left whole."""
    h, w = gray.shape
    x0, y0, x1, y1 = _inside_bands(gray < MARGIN_BLACK)
    if (x0, y0, x1, y1) == (0, 0, w, h) or x1 - x0 < MIN_PAGE_SIDE or y1 - y0 < MIN_PAGE_SIDE:
        return 0, 0, w, h
    if quantiles(gray[y0:y1, x0:x1], (PAGE_QUANTILE,))[0] < PAGE_LIGHT:
        return 0, 0, w, h  # no light page inside (ink is the minority on paper): the "bands" are its own background
    return x0, y0, x1, y1


def trim_margins(ink: np.ndarray) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) left after trimming dark scanner margins: border columns
    and rows that are mostly ink, up to MARGIN_REACH of each side."""
    h, w = ink.shape
    x0, y0, x1, y1 = _inside_bands(ink > MARGIN_INK)
    # A margin's edge is blurred: take a few more pixels once something was trimmed.
    edge = max(1, round(MARGIN_BLUR * max(h, w)))
    x0, x1 = (x0 + edge if x0 else 0), (x1 - edge if x1 < w else w)
    y0, y1 = (y0 + edge if y0 else 0), (y1 - edge if y1 < h else h)
    if x1 - x0 < MIN_TRIMMED_SIDE or y1 - y0 < MIN_TRIMMED_SIDE:
        return 0, 0, w, h
    return x0, y0, x1, y1


def edge_contact(labels: np.ndarray, n: int) -> np.ndarray:
    """For each label, the largest share of one side of the picture that it runs along
    (within EDGE_BAND pixels of that side). Digits touch an edge at a point; rules, borders and
    margin remnants run along it."""
    h, w = labels.shape
    best = np.zeros(n)
    e = EDGE_BAND
    for band, length in ((labels[:e], w), (labels[-e:], w), (labels[:, :e].T, h), (labels[:, -e:].T, h)):
        along = np.zeros((n, band.shape[1]), bool)
        along[band, np.arange(band.shape[1])[None, :].repeat(band.shape[0], 0)] = True
        best = np.maximum(best, along.sum(1) / max(length, 1))
    return best


def _is_frame(stats: np.ndarray, shape: tuple[int, int], contact: float = 0.0, roomy: bool = True) -> bool:
    """Borders, frames and margins: pieces running along an edge, long thin pieces, or
    hollow pieces that wrap the picture. In a tight crop of one number (not `roomy`), a
    digit may hug the edges or fill the picture, and a "1" spans its height: there only
    thin pieces spanning its width (rules, underlines) and hollow outlines count."""
    h, w = shape
    x, y, bw, bh, area = (int(v) for v in stats[:5])
    at_edge = _touches((x, y, bw, bh), shape)
    long_side, short_side = max(bw, bh), min(bw, bh)
    # Along an edge: rules and margins are thin there, or run along most of it; a digit
    # of a tight crop may touch the edge along its side, but is neither.
    if roomy and (contact >= EDGE_RUN or (contact >= EDGE_CONTACT and short_side <= THIN_ASPECT * long_side)):
        return True
    sliver = short_side <= max(SLIVER_THIN_MIN, SLIVER_THIN * long_side) and long_side >= SLIVER_LONG * min(h, w)
    if roomy and at_edge and sliver:
        return True  # a sliver of a margin or rule cut by the picture's edge
    spans = (bw >= FRAME_LONG * w) or (bh >= FRAME_LONG * h) if roomy else bw >= FRAME_LONG * w
    thin = area <= FRAME_THIN * long_side * max(long_side, 1) or short_side <= FRAME_THIN * long_side
    if spans and thin:
        return True
    hollow = area < STOUT_FILL * bw * bh
    # an outline or margin wrapping the whole picture
    return bool(at_edge and bw >= WRAP * w and bh >= WRAP * h and (roomy or hollow))


def _touches(box: tuple[int, ...], shape: tuple[int, int]) -> bool:
    x, y, w, h = box[:4]
    return x <= 1 or y <= 1 or x + w >= shape[1] - 1 or y + h >= shape[0] - 1


def is_roomy(mask: np.ndarray, pieces: tuple) -> bool:
    """A cell or a page holds its numbers with room around them; a tight crop of one
    number (a cheque's amount box) is filled by it: its tallest stout piece is most of
    the picture's height. Lines are not stout (thin), nor are frames and rules joined at
    corners (hollow). `pieces`: the mask's `label_pieces`."""
    n, _, stats, _ = pieces
    stout = []
    for i in range(1, n):
        bw, bh, area = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT], stats[i, cv2.CC_STAT_AREA]
        if min(bw, bh) > THIN_ASPECT * max(bw, bh) and area >= max(STOUT_MIN_AREA, STOUT_FILL * bw * bh):
            stout.append(int(bh))
    return max(stout, default=0) < ROOMY * mask.shape[0]


def remove_broken_lines(mask: np.ndarray) -> np.ndarray:
    """Remove vertical rules and margin edges that the scan broke into dashes: pieces of
    ink stacked in one narrow column down most of the picture. A lone "1" is one piece;
    a broken rule is many. Returns `mask` itself when it removes nothing."""
    h, _w = mask.shape
    reach = max(BROKEN_GAP_MIN, round(BROKEN_GAP * h))
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, reach)))
    n, labels, stats, _ = label_pieces(closed)
    tall, wide = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH]
    columns = [i for i in range(1, n) if tall[i] >= BROKEN_TALL * h and wide[i] <= BROKEN_NARROW * tall[i]]
    if not columns:
        return mask  # no tall narrow column: nothing to count pieces in
    pieces = label_pieces(mask)[1]
    out = mask
    for i in columns:
        inside = (labels == i) & (mask > 0)
        if len(np.unique(pieces[inside])) >= BROKEN_PIECES:
            out = mask.copy() if out is mask else out
            out[inside] = 0
    return out


def _groups(boxes: list[tuple[int, int, int, int]], several: bool) -> list[list[int]]:
    """Indices of `boxes` grouped into fields (left-to-right pieces on one line, close together)."""
    if not several:
        return [list(range(len(boxes)))]
    heights = np.array([b[3] for b in boxes], np.float32)
    reach = GROUP_REACH * float(np.median(heights[heights >= REACH_HEIGHTS * heights.max()]))
    # The rules compare the pieces' own boxes, pair by pair: as one matrix, then the
    # connected pairs joined (a Python loop over all pairs cost seconds for 1,000 pieces).
    b = np.array(boxes, np.int64)
    x0, y0, bw, bh = b[:, 0:1], b[:, 1:2], b[:, 2:3], b[:, 3:4]
    v_overlap = np.minimum(y0 + bh, (y0 + bh).T) - np.maximum(y0, y0.T)
    h_overlap = np.minimum(x0 + bw, (x0 + bw).T) - np.maximum(x0, x0.T)
    shorter, taller = np.minimum(bh, bh.T), np.maximum(bh, bh.T)
    same_line = (v_overlap >= LINE_OVERLAP * shorter) & (-h_overlap <= reach)
    # An underline or a stroke just below or above, under the same columns (flat next to
    # the other: the next row's number is not an underline).
    stacked = (
        (shorter <= STACKED_FLAT * taller)
        & (h_overlap >= STACKED_UNDER * np.minimum(bw, bw.T))
        & (-v_overlap <= STACKED_GAP * reach)
    )
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(same_line | stacked, 1))):
        parent[find(int(j))] = find(int(i))
    out: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def to_strip(ink: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, float]:
    """Cut `box` (x0, y0, x1, y1) from `ink` and scale it to STRIP_HEIGHT (uint8)."""
    x0, y0, x1, y1 = box
    crop = ink[y0:y1, x0:x1]
    h, w = crop.shape
    scale = STRIP_HEIGHT / max(h, 1)
    width = int(min(MAX_STRIP_WIDTH, max(MIN_STRIP_WIDTH, round(w * scale))))
    strip = cv2.resize(crop, (width, STRIP_HEIGHT), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    peak = max(float(strip.max()), 1e-6)
    return np.clip(strip / peak * 255, 0, 255).round().astype(np.uint8), width / max(w, 1)


def field_in_box(picture: Picture, box: tuple[int, int, int, int], pad: float = PAD) -> Field:
    """The reader strip of the number at `box` (x, y, w, h on the picture), cut with `pad`
    of its height around it: what a learned number finder hands a strip reader."""
    s, (gh, gw) = picture.scale, picture.gray.shape
    x, y, w, h = box
    margin = pad * h + 1
    x0, y0 = max(0, int((x - margin) * s)), max(0, int((y - margin) * s))
    x1, y1 = min(gw, max(x0 + 1, round((x + w + margin) * s))), min(gh, max(y0 + 1, round((y + h + margin) * s)))
    ink, contrast = ink_image(picture.gray[y0:y1, x0:x1])
    if contrast < MIN_CONTRAST:  # blank paper: its noise, stretched to full range, read as digits
        ink = np.zeros_like(ink)
    strip, strip_scale = to_strip(ink, (0, 0, x1 - x0, y1 - y0))
    original = (int(x0 / s), int(y0 / s), max(1, round((x1 - x0) / s)), max(1, round((y1 - y0) / s)))
    cut = Field(strip, original, strip_scale * s, STRIP_HEIGHT / (y1 - y0) * s)
    return replace(cut, core=_core(cut, box))


def _core(field: Field, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Where `box` (x, y, w, h on the picture) lies in a field's strip (x0, y0, x1, y1)."""
    h, w = field.strip.shape
    fx, fy, _, _ = field.box
    x, y, bw, bh = box
    x0, y0 = int(np.clip((x - fx) * field.scale, 0, w - 1)), int(np.clip((y - fy) * field.y_scale, 0, h - 1))
    x1, y1 = (
        int(np.clip(round((x + bw - fx) * field.scale), x0 + 1, w)),
        int(np.clip(round((y + bh - fy) * field.y_scale), y0 + 1, h)),
    )
    return x0, y0, x1, y1


def ink_image(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Ink bright on a flattened background near 0, contrast-normalised to [0, 1], and the
    ink's contrast before normalisation (below MIN_CONTRAST the picture is blank)."""
    x = 1.0 - gray if dark_ink_on_light(gray) else gray
    flat = flatten_background(x)
    contrast = float(cv2.GaussianBlur(flat, (0, 0), CONTRAST_BLUR).max())
    top = quantiles(flat, (STRIP_INK_TOP,))[0]
    return np.clip(flat / max(top, MIN_CONTRAST), 0, 1).astype(np.float32), contrast


def find_fields(
    source: ImageInput | Picture, options: FieldOptions = FieldOptions(), name: str | None = None
) -> FoundFields:
    """Every number-like region of a picture as a reader strip, top to bottom, left to right."""
    picture = decode_picture(source, name, options.max_pixels, options.max_side)
    width, height = picture.width, picture.height
    work, scale = working_copy(picture.gray, options.max_side)
    scale *= picture.scale  # working pixels per pixel of the picture
    # Margins first: a scanner's black band would otherwise decide the polarity and the
    # background estimate of everything else. Black bands go, then what is left of them
    # (in ink polarity: mostly-ink columns and rows at the edges).
    sx0, sy0, sx1, sy1 = scanner_margins(work)
    page = work[sy0:sy1, sx0:sx1]
    x = 1.0 - page if dark_ink_on_light(page) else page
    tx0, ty0, tx1, ty1 = trim_margins(np.clip((x - quantiles(x, (0.5,))[0]) / MARGIN_INK_RANGE, 0, 1))
    inner = page[ty0:ty1, tx0:tx1]
    mx0, my0 = sx0 + tx0, sy0 + ty0  # where `inner` starts in the working copy
    ink, contrast = ink_image(inner)
    if contrast < MIN_CONTRAST:
        return FoundFields([], width, height, "no digit found: the image is blank or has too little contrast")
    mask = ink_mask(smooth_ink(ink))
    pieces = label_pieces(mask)
    crowded = too_many_pieces(pieces)
    if crowded:
        return FoundFields([], width, height, crowded)
    roomy = is_roomy(mask, pieces)
    labelled = mask
    if options.lines:
        # In a tight crop a tall thin "1" spans the height like a vertical rule: only a
        # cell or a page has vertical rules to remove.
        mask = remove_lines(mask, vertical_lines=roomy)
        mask = remove_broken_lines(mask) if roomy else mask
    n, labels, stats, _ = pieces if mask is labelled else label_pieces(mask)  # label again only what changed
    contact = edge_contact(labels, n)
    keep = [i for i in range(1, n) if not _is_frame(stats[i], mask.shape, contact[i], roomy)]
    if keep:
        largest = max(int(stats[i, cv2.CC_STAT_AREA]) for i in keep)
        tallest = max(int(stats[i, cv2.CC_STAT_HEIGHT]) for i in keep)
        # Specks go; flat strokes stay (underlines and dashes belong to their number).
        keep = [
            i
            for i in keep
            if stats[i, cv2.CC_STAT_AREA] >= max(FIELD_SPECK_AREA, FIELD_SPECK_SHARE * largest)
            and max(stats[i, cv2.CC_STAT_HEIGHT], stats[i, cv2.CC_STAT_WIDTH] / DASH_WIDTH_DIVISOR)
            >= FIELD_SPECK_HEIGHT * tallest
        ]
    if not keep:
        return FoundFields([], width, height, "no digit found: only lines, frames or specks")
    boxes = [tuple(int(v) for v in stats[i, :4]) for i in keep]
    groups = _groups(boxes, options.several)
    # A number cut by the picture's edge is a neighbour's (a register's next column, the
    # row below): it goes when a field wholly inside the picture has at least half its
    # ink. A tight crop's own number touches the edge too, but outweighs any speck inside.
    if roomy:
        ink_of = [sum(int(stats[keep[i], cv2.CC_STAT_AREA]) for i in g) for g in groups]
        at_edge = [any(_touches(boxes[i], mask.shape) for i in g) for g in groups]
        inside_ink = max((a for a, e in zip(ink_of, at_edge) if not e), default=0)
        groups = [g for g, a, e in zip(groups, ink_of, at_edge) if not e or inside_ink < EDGE_FIELD_SHARE * a]
    fields = []
    for group in groups:
        gx0 = min(boxes[i][0] for i in group)
        gy0 = min(boxes[i][1] for i in group)
        gx1 = max(boxes[i][0] + boxes[i][2] for i in group)
        gy1 = max(boxes[i][1] + boxes[i][3] for i in group)
        pad = round(PAD * (gy1 - gy0)) + 1
        box = (max(0, gx0 - pad), max(0, gy0 - pad), min(ink.shape[1], gx1 + pad), min(ink.shape[0], gy1 + pad))
        strip, strip_scale = to_strip(ink, box)
        ox, oy = (box[0] + mx0) / scale, (box[1] + my0) / scale
        original = (
            int(ox),
            int(oy),
            max(1, round((box[2] - box[0]) / scale)),
            max(1, round((box[3] - box[1]) / scale)),
        )
        fields.append(Field(strip, original, strip_scale * scale, STRIP_HEIGHT / (box[3] - box[1]) * scale))
    tallest_field = max(f.box[3] for f in fields)
    fields = [f for f in fields if f.box[3] >= MIN_FIELD_HEIGHT * tallest_field]
    # Reading order: by text line (fields overlapping vertically), then left to right.
    fields.sort(key=lambda f: (f.box[1] + f.box[3] / 2) // max(1, tallest_field) * 1e6 + f.box[0])
    return FoundFields(fields, width, height)
