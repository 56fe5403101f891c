"""The one preprocessing path: any picture -> MNIST-style 28x28 digits, left to right.

Used by `digitrec predict`, the Python `Recognizer` and the web server alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from digitrec.preprocess.decode import MAX_PIXELS, ImageInput, Picture, decode_picture
from digitrec.preprocess.ink import WORK_SIDE, find_ink, label_pieces, too_many_pieces
from digitrec.preprocess.normalize import SIZE, normalize_digit
from digitrec.preprocess.segment import group_components


@dataclass(frozen=True)
class PreprocessOptions:
    single: bool = False  # the whole picture is one digit
    deskew: bool = False  # straighten slanted digits by their second moments
    stroke: bool = True  # bring strokes to MNIST's weight
    lines: bool = True  # remove ruled lines and grids
    max_side: int = WORK_SIDE  # working resolution of the longer side
    max_pixels: int = MAX_PIXELS  # refuse larger pictures


@dataclass
class DigitCrop:
    image: np.ndarray  # uint8 (28, 28), white on black: what the model reads
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture


@dataclass
class Preprocessed:
    digits: list[DigitCrop] = field(default_factory=list)
    width: int = 0
    height: int = 0
    warning: str | None = None

    @property
    def images(self) -> np.ndarray:
        """The digits' uint8 28x28 images as one (N, 28, 28) batch; (0, 28, 28) when none."""
        if not self.digits:
            return np.empty((0, SIZE, SIZE), np.uint8)
        return np.stack([d.image for d in self.digits])


def extract_digits(
    source: ImageInput | Picture, options: PreprocessOptions = PreprocessOptions(), name: str | None = None
) -> Preprocessed:
    picture = decode_picture(source, name, options.max_pixels, options.max_side)
    width, height = picture.width, picture.height
    found = find_ink(picture.gray, options.max_side, options.lines)
    if not found.mask.any():
        return Preprocessed([], width, height, "no digit found: the image is blank or has too little contrast")
    pieces = label_pieces(found.mask)
    crowded = too_many_pieces(pieces)
    if crowded:
        return Preprocessed([], width, height, crowded)
    regions = group_components(found.mask, single=options.single, pieces=pieces)
    if not regions:
        return Preprocessed([], width, height, "no digit found: only specks of ink")
    digits = []
    for region in regions:
        image = normalize_digit(found.ink, region.mask, region.box, options.stroke, options.deskew)
        x, y, w, h = region.box
        s = found.scale * picture.scale  # working pixels per pixel of the picture
        box = (int(x / s), int(y / s), max(1, round(w / s)), max(1, round(h / s)))
        digits.append(DigitCrop(image, box))
    return Preprocessed(digits, width, height)
