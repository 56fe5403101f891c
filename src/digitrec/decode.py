"""A reader's column probabilities -> the digits of a number, each with its box.

Best-path CTC decoding: the likeliest class of each column, repeats merged, blanks
dropped. A digit's columns are its run in that path; they give its probability (the
peak over the run), its top 3 (at that peak) and its box: from a reader with a box head,
the box that head puts around the digit at the peak column; else the ink under those
columns (a strip holds little else), mapped back into the original picture. The
number's confidence is the product of its digits' probabilities and of the least sure
blank column's blank probability: a digit read uncertainly lowers it, and so does a
column where a digit nearly appeared. (The
probability of the whole best path would also fall with the strip's length alone.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitrec.preprocess.fields import Field

# --- tuning --------------------------------------------------------------------------
BOX_INK = 0.3  # a strip pixel is ink for a digit's box above this share of 255
BOX_REACH = 1  # columns either side of a digit's run that its box may take ink from


@dataclass
class DecodedDigit:
    digit: int
    confidence: float
    top3: list[tuple[int, float]]
    probabilities: list[float]  # the ten digits' probabilities at the peak column
    columns: tuple[int, int]  # first and one-past-last strip pixel column of its ink
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture
    rows: tuple[int, int] = (0, 0)  # first and one-past-last strip pixel row of its ink


@dataclass
class DecodedNumber:
    text: str
    confidence: float
    digits: list[DecodedDigit]


def best_path(probs: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs (class, first column, one past last) of the best path, blanks excluded; class 0 is blank."""
    best = probs.argmax(1)
    runs = []
    start = 0
    for t in range(1, len(best) + 1):
        if t == len(best) or best[t] != best[start]:
            if best[start] != 0:
                runs.append((int(best[start]), start, t))
            start = t
    return runs


def ink_extent(strip: np.ndarray, x0: int, x1: int) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of the ink in strip columns [x0, x1), in strip pixels (the
    columns' full height when they hold none)."""
    x0, x1 = max(0, x0), min(strip.shape[1], max(x1, x0 + 1))
    rows, cols = np.nonzero(strip[:, x0:x1] > BOX_INK * 255)
    if not len(rows):
        return x0, 0, x1, strip.shape[0]
    return x0 + int(cols.min()), int(rows.min()), x0 + int(cols.max()) + 1, int(rows.max()) + 1


def picture_box(field: Field, extent: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A box in strip pixels (x0, y0, x1, y1) as x, y, w, h in the original picture."""
    x0, y0, x1, y1 = extent
    fx, fy, _, _ = field.box
    return (
        int(fx + x0 / field.scale),
        int(fy + y0 / field.y_scale),
        max(1, round((x1 - x0) / field.scale)),
        max(1, round((y1 - y0) / field.y_scale)),
    )


def head_extent(strip: np.ndarray, column: int, box: np.ndarray, stride: int) -> tuple[int, int, int, int]:
    """A box head's output at `column` (x0, x1 from the column's centre, y0, y1; in strip
    heights) as a box (x0, y0, x1, y1) in strip pixels, inside the strip."""
    h, w = strip.shape
    centre = (column + 0.5) * stride
    x0, x1 = int(np.clip(round(centre + box[0] * h), 0, w - 1)), int(np.clip(round(centre + box[1] * h), 1, w))
    y0, y1 = int(np.clip(round(box[2] * h), 0, h - 1)), int(np.clip(round(box[3] * h), 1, h))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def decode_number(probs: np.ndarray, field: Field, stride: int, boxes: np.ndarray | None = None) -> DecodedNumber:
    """The number in one field from its (T, 11) column probabilities (and, from a reader
    with a box head, its (T, 4) column boxes)."""
    digits = []
    for cls, start, end in best_path(probs):
        run = probs[start:end, cls]
        peak = start + int(run.argmax())
        ten = probs[peak, 1:]
        order = np.argsort(-ten, kind="stable")[:3]
        if boxes is not None:
            extent = head_extent(field.strip, peak, boxes[peak], stride)
        else:
            extent = ink_extent(field.strip, (start - BOX_REACH) * stride, (end + BOX_REACH) * stride)
        digits.append(
            DecodedDigit(
                cls - 1, float(run.max()), [(int(i), float(ten[i])) for i in order], [float(p) for p in ten],
                (extent[0], extent[2]), picture_box(field, extent), (extent[1], extent[3]),
            )
        )
    blank = probs.argmax(1) == 0
    surest_gap = float(probs[blank, 0].min()) if blank.any() else 1.0
    confidence = float(np.prod([d.confidence for d in digits])) * surest_gap if digits else 0.0
    return DecodedNumber("".join(str(d.digit) for d in digits), confidence, digits)
