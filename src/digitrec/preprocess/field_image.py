"""A picture that is one field, as the field reader sees it: the whole picture, scaled.

No cutting: a register cell keeps its scanner margin, its rules and its neighbours'
strokes, a cheque's amount box its printed background; the reader was trained on fields
like these and learnt to ignore them. What stays a rule is the little a model cannot
learn cheaply: which polarity is ink, the contrast, and the size.

1. Ink is made bright on dark (paper is the majority: see `dark_ink_on_light`), and the
   contrast stretched from the paper's level to the darkest ink. Both are judged on the
   picture's middle, where the number is: a scanner's black margin can be nearly half a
   register cell, and would pass for the paper or for the ink.
2. The picture is scaled to the reader's height (FIELD_HEIGHT for the shipped reader; a
   checkpoint says its own), its aspect kept up to MAX_ASPECT (wider fields are squeezed
   across).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.decode import ImageInput, Picture, decode_picture
from digitrec.preprocess.ink import dark_ink_on_light, quantiles

# --- tuning --------------------------------------------------------------------------
FIELD_HEIGHT = 96  # a register cell's number (~15-25% of the cell) keeps 14-24 pixels
MAX_ASPECT = 10 / 3  # wider fields are squeezed (320 pixels at 96): a cheque's amount box is ~4.5:1
MIN_FIELD_WIDTH = 16  # a very tall narrow picture still gives the reader a few columns
MIDDLE = 0.25  # polarity and levels are judged inside this margin (fraction of each side)
PAPER = 0.5  # the paper's level: this quantile of the middle's ink
INK_TOP = 0.995  # the darkest ink's level: this quantile of the middle's ink
MIN_RANGE = 0.08  # contrast is stretched by at most 1 / this (a blank field stays blank)
MIN_MIDDLE = 4  # a middle narrower or lower than this (pixels) is too small to judge by: the whole picture is judged
# a picture is reduced while decoded (a huge scan is not decoded whole) only while its longer side stays this
# many times the widest canvas: the canvas is then area-scaled from several pixels per pixel
DECODE_OVERSAMPLE = 4


@dataclass
class FieldImage:
    canvas: np.ndarray  # uint8 (height, W), ink bright on ~0: what the reader reads
    width: int  # the picture's own size, in which boxes are reported
    height: int

    def as_field(self):
        """The canvas as a `preprocess.fields.Field` spanning the whole picture, for decoding."""
        from digitrec.preprocess.fields import Field

        return Field(
            self.canvas,
            (0, 0, self.width, self.height),
            self.canvas.shape[1] / self.width,
            self.canvas.shape[0] / self.height,
        )


def ink_bright(gray: np.ndarray) -> np.ndarray:
    """A float32 grey picture in [0, 1] -> its ink bright on 0, contrast stretched."""
    h, w = gray.shape
    dy, dx = int(h * MIDDLE), int(w * MIDDLE)
    middle = gray[dy : h - dy, dx : w - dx] if h - 2 * dy >= MIN_MIDDLE and w - 2 * dx >= MIN_MIDDLE else gray
    dark_ink = dark_ink_on_light(middle)
    ink = 1.0 - gray if dark_ink else gray
    paper, top = quantiles(1.0 - middle if dark_ink else middle, (PAPER, INK_TOP))
    return np.clip((ink - paper) / max(top - paper, MIN_RANGE), 0.0, 1.0)


def max_width(height: int) -> int:
    """The widest canvas for a reader of this height: wider fields are squeezed."""
    return round(height * MAX_ASPECT)


def canvas_size(width: int, height: int, field_height: int = FIELD_HEIGHT) -> tuple[int, int]:
    """(W, H) of the canvas for a picture of `width` x `height`."""
    w = round(width * field_height / max(1, height))
    return min(max_width(field_height), max(MIN_FIELD_WIDTH, w)), field_height


def field_image(image: ImageInput | Picture, name: str | None = None, height: int = FIELD_HEIGHT) -> FieldImage:
    """Any picture -> the canvas of it, whole, for a field reader of `height` pixels."""
    picture = decode_picture(image, name, min_side=DECODE_OVERSAMPLE * max_width(height))
    gray = picture.gray
    size = canvas_size(gray.shape[1], gray.shape[0], height)
    shrink = size[1] < gray.shape[0]
    scaled = cv2.resize(ink_bright(gray), size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    canvas = np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8)
    return FieldImage(canvas, picture.width, picture.height)
