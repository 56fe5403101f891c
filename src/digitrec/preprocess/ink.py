"""Finding the ink: polarity, uneven light, threshold, ruled lines and grids.

Works on a float grayscale image in [0, 1] and returns `ink` (ink bright, background 0,
contrast-normalised) and a binary `mask` of ink pixels, both at the working resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_CONTRAST = 0.12  # ink must differ from the paper by this much (of the 0-1 range)


@dataclass(frozen=True)
class InkResult:
    ink: np.ndarray  # float32 (H, W), ink high, background ~0
    mask: np.ndarray  # uint8 (H, W), 1 on ink
    scale: float  # working size / original size
    inverted: bool  # True when the picture had dark ink on light paper
    contrast: float  # ink strength before normalisation; tiny means blank


def working_copy(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale large photos: digits do not need 12 megapixels, and it bounds the time."""
    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return gray.astype(np.float32), scale


def dark_ink_on_light(gray: np.ndarray) -> bool:
    """Ink is the minority and lies far from the background: compare how far the dark and
    the light tails reach from the median (robust to dim or bright lighting alike)."""
    low, median, high = np.percentile(gray, [0.5, 50, 99.5])
    return (median - low) > (high - median)


def flatten_background(x: np.ndarray) -> np.ndarray:
    """Subtract a smooth estimate of the background (shadows, uneven light).

    The estimate is a morphological opening on a small copy, which removes anything
    thinner than half the image, pen strokes included (a scanned digit's strokes can be a
    quarter of its box wide), and keeps slow gradients.
    """
    h, w = x.shape
    long_side = max(h, w)
    if long_side < 48:
        return np.clip(x - np.percentile(x, 30), 0, None)  # tiny images: no room for gradients
    factor = 96 / long_side
    small = cv2.resize(x, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA)
    k = max(3, (min(small.shape) // 2) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.GaussianBlur(cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), (0, 0), k / 3)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(x - background, 0, None)


def remove_lines(mask: np.ndarray) -> np.ndarray:
    """Remove ruled lines and grid lines: thin structures that run (nearly) across the
    whole image, horizontally or vertically. Strokes that cross a removed line are
    bridged again across the gap it leaves."""
    h, w = mask.shape
    out = mask.copy()
    removed = np.zeros_like(mask)
    for axis in (0, 1):  # 0: horizontal lines, 1: vertical lines
        length = w if axis == 0 else h
        across = h if axis == 0 else w
        if length < 40:
            continue
        # Short kernels follow lines tilted by a few degrees; only components that then
        # span most of the image count as lines, which no digit does.
        k = max(5, length // 12)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1) if axis == 0 else (1, k))
        candidates = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
        for i in range(1, n):
            extent = stats[i, cv2.CC_STAT_WIDTH] if axis == 0 else stats[i, cv2.CC_STAT_HEIGHT]
            thickness = stats[i, cv2.CC_STAT_HEIGHT] if axis == 0 else stats[i, cv2.CC_STAT_WIDTH]
            if extent >= 0.8 * length and thickness <= 0.15 * across:
                removed[labels == i] = 1
    if not removed.any():
        return out
    removed = cv2.dilate(removed, np.ones((3, 3), np.uint8))
    out[removed > 0] = 0
    # Re-bridge strokes cut by a line: close across the line direction only where a line was.
    thickness = 7
    bridged = cv2.morphologyEx(out, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, thickness)))
    bridged = cv2.morphologyEx(bridged, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (thickness, 1)))
    out[(removed > 0) & (bridged > 0)] = 1
    # What is left of a line is thin debris along it: drop components that live inside the removed band.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(out, connectivity=8)
    for i in range(1, n):
        component = labels == i
        if (removed[component] > 0).mean() > 0.9:
            out[component] = 0
    return out


def find_ink(gray: np.ndarray, max_side: int = 800, lines: bool = True) -> InkResult:
    gray, scale = working_copy(gray, max_side)
    inverted = dark_ink_on_light(gray)
    x = 1.0 - gray if inverted else gray
    flat = flatten_background(x)
    sigma = max(0.5, max(flat.shape) / 500)  # noise grows with resolution; keep thin strokes at small sizes
    smooth = cv2.GaussianBlur(flat, (0, 0), sigma)
    contrast = float(smooth.max())
    if contrast < MIN_CONTRAST:
        return InkResult(np.zeros_like(flat), np.zeros(flat.shape, np.uint8), scale, inverted, contrast)
    ink = np.clip(smooth / contrast, 0, 1).astype(np.float32)
    level, _ = cv2.threshold((ink * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu on a near-empty page can settle in the noise; ink is at least a third of the peak.
    threshold = max(level / 255.0, 0.33)
    mask = (ink > threshold).astype(np.uint8)
    if lines:
        mask = remove_lines(mask)
    return InkResult(ink, mask, scale, inverted, contrast)
