"""A reader's column probabilities -> the digits of a number, each with its box.

Best-path CTC decoding: the likeliest class of each column, repeats merged, blanks
dropped. A digit's columns are its run in that path; they give its probability (the
peak over the run), its top 3 (at that peak) and its box: from a reader with a box head,
the box that head puts around the digit at the peak column; else its ink, the strip's
ink cut into as many digits as were read (`preprocess.digit_boxes`: CTC peaks drift, so
the ink under a digit's columns is often a sliver of it), mapped back into the picture. The
number's confidence is the product of its digits' probabilities and of the least sure
blank column's blank probability: a digit read uncertainly lowers it, and so does a
column where a digit nearly appeared. (The
probability of the whole best path would also fall with the strip's length alone.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitrec.preprocess.digit_boxes import digit_boxes
from digitrec.preprocess.fields import Field


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
    runs = best_path(probs)
    ink_boxes = digit_boxes(field.strip, len(runs), field.core) if boxes is None and runs else []
    for cls, start, end in runs:
        run = probs[start:end, cls]
        peak = start + int(run.argmax())
        ten = probs[peak, 1:]
        order = np.argsort(-ten, kind="stable")[:3]
        if boxes is not None:
            extent = head_extent(field.strip, peak, boxes[peak], stride)
        else:
            extent = ink_boxes[len(digits)]
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
