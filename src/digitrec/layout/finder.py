"""A page's numbers found by the number finder (`models.finder`), as boxes on the picture.

1. The page as the finder sees it (`page_canvas`): ink bright, contrast stretched
   (`field_image.ink_bright`), scaled so that its longer side is the checkpoint's
   `input.side`, padded to whole multiples of 16.
2. One pass of the finder gives, per 4x4 pixels, the chance of being inside a number.
3. `number_boxes`: the connected regions above THRESHOLD, each grown back by what its
   training target left out (the number's box shrunk by a share of its height: the
   checkpoint's `target.shrink`), in the picture's own pixels. Regions too small to hold
   a digit go.

No PyTorch at import: a server on ONNX models never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitrec.errors import CheckpointError
from digitrec.preprocess.decode import ImageInput, Picture, decode_picture
from digitrec.preprocess.field_image import ink_bright
from digitrec.preprocess.fields import Field, field_in_box

# --- tuning --------------------------------------------------------------------------
THRESHOLD = 0.5  # a 4x4 cell is inside a number above this chance
MIN_CELLS = 3  # a region of fewer cells is a speck, not a number
MIN_HEIGHT = 2  # ... and one fewer cells tall (8 pixels at the finder's scale) holds no digit
MULTIPLE = 16  # the finder halves the page four times


@dataclass(frozen=True)
class Target:
    """What the finder was trained to mark (from its checkpoint): one value per `stride`
    pixels, inside each number's box shrunk by `shrink_x` / `shrink_y` of its height."""

    stride: int
    shrink_x: float
    shrink_y: float


@dataclass
class FoundNumbers:
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h on the picture, top to bottom, left to right
    scores: list[float]  # the mean chance inside each region


def page_canvas(picture: Picture, side: int) -> tuple[np.ndarray, float]:
    """The picture as the finder reads it: uint8 (H, W) ink bright, its longer side `side`
    (never enlarged past 2x), padded to multiples of MULTIPLE; and finder pixels per picture pixel."""
    gray = picture.gray
    scale = min(2.0 * picture.scale, side / max(gray.shape))  # finder pixels per gray pixel
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    scaled = cv2.resize(ink_bright(gray), size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = scaled.shape
    canvas = np.zeros((-(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE), np.uint8)
    canvas[:h, :w] = np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8)
    return canvas, scale * picture.scale


def number_boxes(chances: np.ndarray, target: Target, scale: float, width: int, height: int) -> FoundNumbers:
    """The finder's (h, w) chances -> each number's box on a picture of `width` x `height`
    (`scale`: finder pixels per picture pixel)."""
    inside = (chances > THRESHOLD).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    found = []
    for i in range(1, count):
        x, y, w, h, cells = (int(v) for v in stats[i])
        if cells < MIN_CELLS or h < MIN_HEIGHT:
            continue
        # The cells' extent in finder pixels, then the margins the target left out.
        k = target.stride
        x0, y0, x1, y1 = x * k, y * k, (x + w) * k, (y + h) * k
        full = (y1 - y0) / (1 - 2 * target.shrink_y)
        x0, x1 = x0 - target.shrink_x * full, x1 + target.shrink_x * full
        y0, y1 = y0 - target.shrink_y * full, y1 + target.shrink_y * full
        px0, py0 = max(0, int(x0 / scale)), max(0, int(y0 / scale))
        px1, py1 = min(width, int(np.ceil(x1 / scale))), min(height, int(np.ceil(y1 / scale)))
        if px1 > px0 and py1 > py0:
            found.append(((px0, py0, px1 - px0, py1 - py0), float(chances[labels == i].mean())))
    order = _reading_order([box for box, _ in found])
    return FoundNumbers([found[i][0] for i in order], [found[i][1] for i in order])


def _reading_order(boxes: list[tuple[int, int, int, int]]) -> list[int]:
    """The boxes' indices top to bottom by lines (a box whose middle is within the line's
    first box's height joins it), left to right within a line."""
    lines: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][1] + boxes[i][3] / 2):
        first = boxes[lines[-1][0]] if lines else None
        if first is not None and abs(boxes[i][1] + boxes[i][3] / 2 - (first[1] + first[3] / 2)) < first[3] / 2:
            lines[-1].append(i)
        else:
            lines.append([i])
    return [i for line in lines for i in sorted(line, key=lambda i: boxes[i][0])]


class NumberFinderRuntime:
    """A number finder checkpoint, loaded to find numbers on pictures (PyTorch)."""

    runtime = "pytorch"

    def __init__(self, loaded: Any):
        self.loaded, self.meta, self.path = loaded, loaded.meta, loaded.path
        self.side = int(self.meta["input"]["side"])
        t = self.meta["target"]
        self.target = Target(int(t["stride"]), float(t["shrink_x"]), float(t["shrink_y"]))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> NumberFinderRuntime:
        from digitrec.artifacts.checkpoint import load_model

        loaded = load_model(path, device)
        if loaded.meta.get("kind") != "finder":
            raise CheckpointError(f"{path} is a {loaded.meta.get('kind', 'classifier')}, not a number finder")
        return cls(loaded)

    def surest_field(self, picture: Picture, name: str | None = None) -> Field:
        """A picture that is one field, as a strip reader reads it: the strip where the
        finder is surest there is a number, else (none found: a tight crop) the whole picture."""
        found = self.find(picture, name)
        if not found.boxes:
            return field_in_box(picture, (0, 0, picture.width, picture.height), pad=0.0)
        return field_in_box(picture, found.boxes[int(np.argmax(found.scores))])

    def find(self, image: ImageInput | Picture, name: str | None = None) -> FoundNumbers:
        import torch

        picture = decode_picture(image, name, min_side=self.side)
        canvas, scale = page_canvas(picture, self.side)
        with torch.inference_mode():
            x = torch.from_numpy(canvas).float().div_(255).view(1, 1, *canvas.shape)
            chances = torch.sigmoid(self.loaded.model(x))[0, 0].numpy()
        return number_boxes(chances, self.target, scale, picture.width, picture.height)
