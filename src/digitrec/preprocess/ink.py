"""Finding the ink: polarity, uneven light, threshold, ruled lines and grids.

Works on a float grayscale image in [0, 1] and returns `ink` (ink bright, background 0,
contrast-normalised) and a binary `mask` of ink pixels, both at the working resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# --- tuning --------------------------------------------------------------------------
WORK_SIDE = 800  # the digit path's working resolution (longer side): digits need no more, and it bounds the time
MIN_CONTRAST = 0.12  # ink must differ from the paper by this much (of the 0-1 range)
INK_SHARE = 0.33  # Otsu on a near-empty picture can settle in the noise: ink is at least this share of the peak
HISTOGRAM_FROM = 65_536  # pixels from which quantiles are counted, not sorted
QUANTILE_LEVELS = 65_536  # the histogram's levels over [0, 1]
MAX_PIECES = 1000  # separate marks in a picture we still read: the busiest cheque of
# orand-car-a-dev has 137 (its security pattern), a register cell ~20; a picture of
# 10,000 dots is a texture, and cost a minute of CPU before this bound
# Polarity: the dark and the light tail are these quantiles from each end. Ink under this
# share of the picture (one small number on a page) reaches into neither tail.
POLARITY_TAIL = 0.005
# Background: a picture whose longer side is under SMALL_PICTURE_SIDE has no room for a
# gradient: only its paper's level is taken off, its PAPER_QUANTILE (ink bright, below the
# median: still paper where ink covers much of a tiny crop).
SMALL_PICTURE_SIDE = 48
PAPER_QUANTILE = 0.3
BACKGROUND_SIDE = 96  # the background is estimated on a copy this long: light varies slowly, and it is cheap
BACKGROUND_MIN_SIDE = 8  # ... with at least this many pixels across, however thin the picture
# the opening's kernel is 1/this of the copy's shorter side: it removes whatever is thinner than half the
# picture, pen strokes included (a scanned digit's strokes can be a quarter of its box wide)
BACKGROUND_KERNEL_DIVISOR = 2
BACKGROUND_MIN_KERNEL = 3  # the smallest opening kernel: one pixel either side
BACKGROUND_BLUR = 3  # the opened background is blurred by 1/this of the kernel, smoothing the opening's steps
# Ruled and grid lines (`remove_lines`).
LINE_MIN_LENGTH = 40  # a picture narrower than this (lower, for vertical lines) in pixels has no rules to remove
LINE_SPAN = 0.8  # a line runs across this share of the picture's columns; no digit of a number does
LINE_KERNEL_DIVISOR = 12  # the opening's kernel is 1/this of the width: short, to follow lines tilted a few degrees
LINE_MIN_KERNEL = 5  # ... and at least this many pixels: a shorter opening would keep specks as candidates
LINE_THICK_SHARE = 0.05  # a line is at most this share of the page thick (a few pixels in hundreds); a "1" is thicker
LINE_THICK_MIN = 2.0  # ... or this many pixels, where that share is less than a ruled line's width
LINE_THIN_COLUMN = 1.5  # columns up to this times the line's median thickness are the line alone (no stroke on it)
LINE_KEEP_MIN = 0.02  # removing lines must leave this share of the ink: else the "line" is the writing, a lone "1"
BRIDGE_REACH = 7  # closing kernel (pixels) re-joining strokes cut by a removed line: its gap is a few pixels
DEBRIS_NEAR = 5  # a line's remnant lies in the removed band grown by this square (2 pixels either side) ...
DEBRIS_INSIDE = 0.9  # ... with over this share of its pixels there ...
DEBRIS_THIN = 4  # ... and is at most this many pixels thick: thin debris along the line, not a digit crossing it
# Smoothing before the threshold: sigma grows by a pixel per SMOOTH_SIDE pixels of the longer side (noise grows
# with the resolution) from SMOOTH_MIN_SIGMA (thin strokes must survive at small sizes).
SMOOTH_SIDE = 500
SMOOTH_MIN_SIGMA = 0.5


@dataclass(frozen=True)
class InkResult:
    ink: np.ndarray  # float32 (H, W), ink high, background ~0
    mask: np.ndarray  # uint8 (H, W), 1 on ink
    scale: float  # working size / original size
    inverted: bool  # True when the picture had dark ink on light paper
    contrast: float  # ink strength before normalisation; tiny means blank


def quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Nearest-rank quantiles of an image in [0, 1]. A small image is partially sorted
    (np.percentile's generality costs more than the rest of preprocessing it); a large
    one is counted in a histogram of QUANTILE_LEVELS levels, a quarter of the partial
    sort's time on a 640x480 photo, to within 1/65535 (its values came from 8 bits)."""
    flat = x.ravel()
    ranks = [min(flat.size - 1, max(0, round(q * (flat.size - 1)))) for q in qs]
    if flat.size < HISTOGRAM_FROM:
        part = np.partition(flat, sorted(set(ranks)))
        return [float(part[r]) for r in ranks]
    levels = np.clip(flat * (QUANTILE_LEVELS - 1) + 0.5, 0, QUANTILE_LEVELS - 1).astype(np.uint16)
    below = np.cumsum(np.bincount(levels, minlength=QUANTILE_LEVELS))  # pixels at or below each level
    return [float(np.searchsorted(below, r, side="right")) / (QUANTILE_LEVELS - 1) for r in ranks]


def label_pieces(mask: np.ndarray) -> tuple:
    """The 8-connected pieces of a mask: OpenCV's (count with background, labels, stats,
    centroids). Every labelling of the package comes here, and the field and digit paths
    label a mask once for the piece bound and whatever groups the pieces next.

    BBDT (block-based decision trees) rather than OpenCV's default: the same labels and
    stats (checked on random masks), in a third of the time on a 640x480 photo's mask."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)


def count_pieces(mask: np.ndarray) -> int:
    """How many 8-connected pieces a mask has (background not counted)."""
    return cv2.connectedComponentsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)[0] - 1


def too_many_pieces(pieces: tuple) -> str | None:
    """The warning for more separate marks than MAX_PIECES in `label_pieces`' result (None:
    readable). Labelling takes a few milliseconds; what follows it grows with the count."""
    n = pieces[0] - 1
    if n <= MAX_PIECES:
        return None
    return f"no digit found: {n:,} separate marks, more than any picture of numbers has (a texture or a halftone?)"


def working_copy(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale large photos: digits do not need 12 megapixels, and it bounds the time."""
    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return gray.astype(np.float32, copy=False), scale


def dark_ink_on_light(gray: np.ndarray) -> bool:
    """Ink is the minority and lies far from the background: compare how far the dark and
    the light tails reach from the median (robust to dim or bright lighting alike). Where
    neither tail reaches out (ink under 0.5% of the picture: one small number on a page),
    the deeper of the extremes decides, and a tie is paper: dark ink on light."""
    low, median, high = quantiles(gray, (POLARITY_TAIL, 0.5, 1 - POLARITY_TAIL))
    if (median - low) != (high - median):
        return (median - low) > (high - median)
    return (median - float(gray.min())) >= (float(gray.max()) - median)


def flatten_background(x: np.ndarray) -> np.ndarray:
    """Subtract a smooth estimate of the background (shadows, uneven light).

    The estimate is a morphological opening on a small copy, which removes anything
    thinner than half the image, pen strokes included (a scanned digit's strokes can be a
    quarter of its box wide), and keeps slow gradients.
    """
    h, w = x.shape
    long_side = max(h, w)
    if long_side < SMALL_PICTURE_SIDE:
        return np.clip(x - quantiles(x, (PAPER_QUANTILE,))[0], 0, None)  # tiny images: no room for gradients
    factor = BACKGROUND_SIDE / long_side
    small = cv2.resize(
        x,
        (max(BACKGROUND_MIN_SIDE, round(w * factor)), max(BACKGROUND_MIN_SIDE, round(h * factor))),
        interpolation=cv2.INTER_AREA,
    )
    k = max(BACKGROUND_MIN_KERNEL, (min(small.shape) // BACKGROUND_KERNEL_DIVISOR) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.GaussianBlur(cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), (0, 0), k / BACKGROUND_BLUR)
    flat = x - cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(flat, 0, out=flat)


def _band_thickness(component: np.ndarray) -> float:
    """Typical thickness of a horizontal component: the median count of its columns."""
    counts = component.sum(0)
    return float(np.median(counts[counts > 0]))


def _line_band(component: np.ndarray) -> np.ndarray:
    """The pixels of a horizontal line component that belong to the line itself.

    A digit stroke lying on the line makes the component locally thicker; the line's
    centre is fitted on the columns of typical (thin) thickness only, and just the band
    of that thickness around it is returned, so the stroke beyond the band survives.
    """
    ys, xs = np.nonzero(component)
    counts = np.bincount(xs, minlength=component.shape[1])
    used = counts > 0
    thickness = float(np.median(counts[used]))
    thin = np.flatnonzero(used & (counts <= LINE_THIN_COLUMN * thickness))
    centres = np.bincount(xs, weights=ys, minlength=component.shape[1])[thin] / counts[thin]
    slope, intercept = np.polyfit(thin, centres, 1) if len(thin) >= 2 else (0.0, float(ys.mean()))
    rows = np.arange(component.shape[0])[:, None]
    centre = slope * np.arange(component.shape[1])[None, :] + intercept
    band = np.abs(rows - centre) <= thickness / 2 + 1
    return (band & (component > 0)).astype(np.uint8)


def remove_lines(mask: np.ndarray, vertical_lines: bool = True) -> np.ndarray:
    """Remove ruled lines and grid lines: thin structures that run (nearly) across the
    whole image, horizontally or (with `vertical_lines`) vertically. Strokes that cross a
    removed line are bridged again across the gap it leaves. Returns `mask` itself when
    it removes nothing, so that a caller holding its labelling can tell it still holds."""
    removed = np.zeros_like(mask)
    for vertical in (False, True) if vertical_lines else (False,):
        m = mask.T if vertical else mask
        h, w = m.shape
        if w < LINE_MIN_LENGTH or np.count_nonzero(m.any(0)) < LINE_SPAN * w:
            continue  # a line spans LINE_SPAN of the columns: without that much ink, no opening to do
        # Short kernels follow lines tilted by a few degrees; only components that then
        # span most of the image count as lines, which no digit does.
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(LINE_MIN_KERNEL, w // LINE_KERNEL_DIVISOR), 1))
        candidates = cv2.morphologyEx(np.ascontiguousarray(m), cv2.MORPH_OPEN, kernel)
        if np.count_nonzero(candidates.any(0)) < LINE_SPAN * w:
            continue  # no piece can span LINE_SPAN of the width when fewer columns hold any
        n, labels, stats, _ = label_pieces(candidates)
        # Ruled and grid lines are thin next to the page (a few pixels in hundreds); a
        # digit "1" filling its box is long too, but far thicker.
        thickest = max(LINE_THICK_MIN, LINE_THICK_SHARE * h)
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_WIDTH] >= LINE_SPAN * w and _band_thickness(labels == i) <= thickest:
                band = _line_band((labels == i).astype(np.uint8))
                removed |= band.T if vertical else band
    if not removed.any():
        return mask
    if (mask & ~removed.astype(bool)).sum() < LINE_KEEP_MIN * mask.sum():
        return mask  # nothing would be left: the "line" is the writing itself, a lone "1"
    out = mask.copy()
    out[removed > 0] = 0
    # Re-bridge strokes cut by a line: close across the line direction only where a line was.
    reach = BRIDGE_REACH
    bridged = cv2.morphologyEx(out, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, reach)))
    bridged = cv2.morphologyEx(bridged, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, 1)))
    out[(removed > 0) & (bridged > 0)] = 1
    # What is left of a line is thin debris along it: drop components that live inside its band.
    near_line = cv2.dilate(removed, np.ones((DEBRIS_NEAR, DEBRIS_NEAR), np.uint8))
    n, labels, stats, _ = label_pieces(out)
    for i in range(1, n):
        component = labels == i
        if (near_line[component] > 0).mean() > DEBRIS_INSIDE and min(
            stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        ) <= DEBRIS_THIN:
            out[component] = 0
    return out


def smooth_ink(ink: np.ndarray) -> np.ndarray:
    """Ink blurred by its resolution: noise grows with it, and thin strokes must survive at small sizes."""
    return cv2.GaussianBlur(ink, (0, 0), max(SMOOTH_MIN_SIGMA, max(ink.shape) / SMOOTH_SIDE))


def ink_mask(smooth: np.ndarray) -> np.ndarray:
    """The ink pixels (uint8 0/1) of blurred ink in [0, 1]: above Otsu's level between ink
    and paper, and at least INK_SHARE. The digit path (`find_ink`) and the rule-based
    field finder (`fields.find_fields`) both cut ink so."""
    level, _ = cv2.threshold((smooth * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return (smooth > max(level / 255.0, INK_SHARE)).astype(np.uint8)


def find_ink(gray: np.ndarray, max_side: int = WORK_SIDE, lines: bool = True) -> InkResult:
    gray, scale = working_copy(gray, max_side)
    inverted = dark_ink_on_light(gray)
    x = 1.0 - gray if inverted else gray
    flat = flatten_background(x)
    smooth = smooth_ink(flat)
    contrast = float(smooth.max())
    if contrast < MIN_CONTRAST:
        return InkResult(np.zeros_like(flat), np.zeros(flat.shape, np.uint8), scale, inverted, contrast)
    ink = smooth * np.float32(1.0 / contrast)  # in [0, 1]: a blur of non-negative ink, over its peak
    np.minimum(ink, 1.0, out=ink)  # (rounding)
    mask = ink_mask(ink)
    if lines:
        mask = remove_lines(mask)
    return InkResult(ink, mask, scale, inverted, contrast)
