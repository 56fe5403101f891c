"""One digit -> a 28x28 image framed as MNIST's: white on black, the ink fitted into a
20x20 box with its aspect kept, MNIST's stroke weight, centre of mass at the centre."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from digitrec.preprocess.ink import count_pieces

# --- tuning --------------------------------------------------------------------------
BOX = 20  # MNIST fits each digit's longer side to 20 pixels
SIZE = 28  # MNIST's side: what the models read
CENTRE = 14.0  # MNIST's mean centre of mass, in pixel-index coordinates (measured: 14.00, 13.99)
STROKE = 0.12  # MNIST's median stroke width over the longer side (2*area/perimeter; measured)
WORK = 112  # working resolution of the longer side while adjusting the stroke
WORK_PAD = WORK // 8  # border (working pixels) around the digit: room for thickening
OWN_KERNEL = 3  # a digit's own mask is grown by this square: a pixel of margin for its anti-aliased edges
BINARY_LEVEL = 0.45  # the digit is cut to a binary mask at this share of its peak before its stroke is adjusted
# Strokes between THICKEN_BELOW and THIN_ABOVE times the target width are left as they are: thickening
# or thinning takes a step of at least MIN_STEP pixels (a disk of 3), which would overshoot a near miss.
THICKEN_BELOW = 0.8
THIN_ABOVE = 1.4
MIN_STEP = 2
THIN_KEEPS = 0.25  # thinning is undone unless this share of the ink survives it (and no part vanishes)
STROKE_BLUR = WORK / 80  # sigma (working pixels) that blurs the binary digit back into anti-aliased grey levels
BOX_LEVEL = 0.05  # the digit's box is where it exceeds this share of its peak: the blur's faint tails are not ink
FLAT_MOMENT = 1e-2  # a canvas whose vertical second moment (mu02) is below this has no slant to measure


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width as 2 * area / perimeter: exact for long strokes of even width."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(mask.sum()) / max(perimeter, 1.0)


@functools.lru_cache(maxsize=64)
def _disk(diameter: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))


def normalize_stroke(mask: np.ndarray, target: float) -> np.ndarray:
    """Thicken or thin a binary digit towards `target` stroke width (pixels)."""
    width = stroke_width(mask)
    if width < THICKEN_BELOW * target:
        return cv2.dilate(mask, _disk(max(MIN_STEP, round(target - width)) | 1))
    if width > THIN_ABOVE * target:
        eroded = cv2.erode(mask, _disk(max(MIN_STEP, round(width - target)) | 1))
        # Thinning must not erase parts of the digit: keep it only if most ink survives
        # in every part that was there.
        if eroded.sum() > THIN_KEEPS * mask.sum() and count_pieces(eroded) <= count_pieces(mask):
            return eroded
    return mask


def _deskew(image: np.ndarray) -> np.ndarray:
    m = cv2.moments(image)
    if abs(m["mu02"]) < FLAT_MOMENT:
        return image
    skew = m["mu11"] / m["mu02"]
    shear = np.float32([[1, skew, -skew * CENTRE], [0, 1, 0]])
    return cv2.warpAffine(image, shear, (SIZE, SIZE), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)


def normalize_digit(
    ink: np.ndarray, region_mask: np.ndarray, box: tuple[int, int, int, int], stroke: bool = True, deskew: bool = False
) -> np.ndarray:
    """A uint8 (28, 28) MNIST-style image of the digit in `box` of `ink`."""
    x, y, w, h = box
    # Only this digit's ink, with a pixel of margin for anti-aliased edges.
    own = cv2.dilate(region_mask[y : y + h, x : x + w], np.ones((OWN_KERNEL, OWN_KERNEL), np.uint8))
    crop = ink[y : y + h, x : x + w] * own
    scale = WORK / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    work = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    work = cv2.copyMakeBorder(work, WORK_PAD, WORK_PAD, WORK_PAD, WORK_PAD, cv2.BORDER_CONSTANT, value=0)
    if stroke:
        binary = (work > BINARY_LEVEL * max(float(work.max()), 1e-6)).astype(np.uint8)
        binary = normalize_stroke(binary, STROKE * WORK)
        work = cv2.GaussianBlur(binary.astype(np.float32), (0, 0), STROKE_BLUR)
    peak = float(work.max())
    if peak <= 0:
        return np.zeros((SIZE, SIZE), np.uint8)
    bx, by, bw, bh = cv2.boundingRect((work > BOX_LEVEL * peak).astype(np.uint8))
    work = work[by : by + bh, bx : bx + bw]
    h2, w2 = work.shape
    fit = BOX / max(h2, w2)
    digit = cv2.resize(work, (max(1, round(w2 * fit)), max(1, round(h2 * fit))), interpolation=cv2.INTER_AREA)
    m = cv2.moments(digit)
    if m["m00"] <= 0:
        return np.zeros((SIZE, SIZE), np.uint8)
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    shift = np.float32([[1, 0, CENTRE - cx], [0, 1, CENTRE - cy]])
    canvas = cv2.warpAffine(digit, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    if deskew:
        canvas = _deskew(canvas)
    peak = canvas.max()
    return np.clip(canvas / peak * 255 if peak > 0 else canvas, 0, 255).round().astype(np.uint8)
