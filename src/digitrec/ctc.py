"""A reader's column probabilities -> the digits of a number, each with its box.

Best-path CTC decoding: the likeliest class of each column, repeats merged, blanks
dropped. A digit's columns are its run in that path; they give its probability (the
peak over the run), its top 3 (at that peak) and its box: from a reader with a box head,
the box that head puts around the digit at the peak column; else the ink near the peak
(`preprocess.digit_boxes`: a CTC peak lies a steady distance before its digit's centre,
so the ink under a digit's columns alone is often a sliver of it), mapped back into the picture. The
number's confidence is the probability that the columns spell it: summed over every way
of placing its digits among the columns (the CTC forward algorithm, `labelling_probability`),
so a column where a digit nearly appeared, or nearly vanished, lowers it, while a digit
that spans two columns with the blank between them does not. (The product of the digits'
peaks and of the least sure blank column, used before, fell whenever a digit's run faded
into a blank: 99%-precise answers covered 21.6% of the validation amounts; with this, 45.7%.)
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
    peaks = [start + int(probs[start:end, cls].argmax()) for cls, start, end in runs]
    ink_boxes = digit_boxes(field.strip, [(p + 0.5) * stride for p in peaks], field.core) if boxes is None else []
    for (cls, start, end), peak in zip(runs, peaks):
        run = probs[start:end, cls]
        ten = probs[peak, 1:]
        order = np.argsort(-ten, kind="stable")[:3]
        extent = head_extent(field.strip, peak, boxes[peak], stride) if boxes is not None else ink_boxes[len(digits)]
        digits.append(
            DecodedDigit(
                cls - 1,
                float(run.max()),
                [(int(i), float(ten[i])) for i in order],
                [float(p) for p in ten],
                (extent[0], extent[2]),
                picture_box(field, extent),
                (extent[1], extent[3]),
            )
        )
    confidence = labelling_probability(probs, [cls for cls, _, _ in runs]) if digits else 0.0
    return DecodedNumber("".join(str(d.digit) for d in digits), confidence, digits)


def best_path_text(probs: np.ndarray) -> str:
    """The digits the best path spells (`decode_number`'s text, without its boxes and confidence)."""
    return "".join(str(cls - 1) for cls, _, _ in best_path(probs))


def labelling_probability(probs: np.ndarray, labels: list[int]) -> float:
    """P(labels | columns) under CTC: the (T, C) column probabilities (class 0 blank) summed
    over every alignment of `labels` (classes 1..C-1), by the forward algorithm, rescaled
    each column so that long strips do not underflow."""
    t_len = len(probs)
    states = np.zeros(2 * len(labels) + 1, np.int64)  # blank, l1, blank, l2, ..., blank
    states[1::2] = labels
    # A state may be reached from two back, skipping a blank, unless it repeats its label.
    skip = np.zeros(len(states), bool)
    skip[3::2] = np.asarray(labels[1:]) != np.asarray(labels[:-1])
    p = probs.astype(np.float64)
    alpha = np.zeros(len(states))
    alpha[:2] = p[0, states[:2]]  # a path starts on the blank or on the first label
    log_scale = 0.0
    for t in range(1, t_len):
        prev = alpha
        alpha = prev.copy()
        alpha[1:] += prev[:-1]
        alpha[2:] += np.where(skip[2:], prev[:-2], 0.0)
        alpha *= p[t, states]
        total = alpha.sum()
        if total <= 0:
            return 0.0
        alpha /= total
        log_scale += np.log(total)
    end = alpha[-2:].sum() if labels else alpha[-1]  # a path ends on the last label or the blank after it
    return float(end * np.exp(log_scale))
