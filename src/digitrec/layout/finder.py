"""A page's numbers found by the number finder (`models.finder`), as boxes on the picture.

1. The page as the finder sees it (`page_canvas`): ink bright, contrast stretched
   (`field_image.ink_bright`), scaled so that its longer side is the checkpoint's
   `input.side` but enlarged at most `input.enlarge` times (the scale its real fields
   were learned at), padded to whole multiples of 16.
2. One pass of the finder gives, per 4x4 pixels, the chance of being inside a number.
3. `number_boxes`: the connected regions above THRESHOLD, each grown back by what its
   training target left out (the number's box shrunk by a share of its height: the
   checkpoint's `target.shrink`), in the picture's own pixels. Regions too small to hold
   a digit go.

No PyTorch at import: a server on ONNX models never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digitrec.errors import CheckpointError
from digitrec.preprocess.decode import ImageInput, Picture, decode_picture
from digitrec.preprocess.field_image import ink_bright
from digitrec.preprocess.fields import Field, field_in_box
from digitrec.runtime import without_onednn

# --- tuning --------------------------------------------------------------------------
THRESHOLD = 0.5  # a 4x4 cell is inside a number above this chance
MIN_CELLS = 3  # a region of fewer cells is a speck, not a number
MIN_HEIGHT = 2  # ... and one fewer cells tall (8 pixels at the finder's scale) holds no digit
MULTIPLE = 16  # the finder halves the page four times
# A picture under two of the finder's deepest cells on its shorter side (a 16-pixel USPS
# digit is 21 at 1.33x) is a tight crop it cannot place a number in (it marked half of a
# USPS 1's stroke, read as a 0): it finds nothing there, and a field is read whole.
MIN_SIDE = 2 * MULTIPLE
# A picture that is one field holds one number; where the finder splits it (a wide gap
# between two digits), the regions on the surest region's line continue it when the gap
# to them is at most JOIN_GAP of the line's height.
JOIN_GAP = 1.0
ENLARGE = 2.0  # a small picture's most enlargement, for finders whose checkpoint does not say
# A picture that is one field is searched at most FIELD_SIDE finder pixels on its longer
# side (a page: the checkpoint's side): one number filling a field needs no more, and the
# finder's time grows with the area (a 400x400 drawing enlarged to 533: ~150 ms, one core).
# Chosen on 1,200 validation cells, the validation amounts and real-dev: 768 (no cap), 400
# and 320 read the same (320 one cell fewer); 256 missed one of real-dev's drawings.
FIELD_SIDE = 400


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


def training_core_seconds(training: dict[str, Any]) -> float:
    """The core-seconds behind a finder, from its checkpoint's `training`: every run of its
    --init chain at its own threads (older checkpoints: their seconds at their threads)."""
    return float(training.get("core_seconds", float(training.get("seconds", 0.0)) * int(training.get("threads", 1))))


def finder_enlarge(meta: dict[str, Any]) -> float:
    """How far a finder enlarges a small picture, from its checkpoint's metadata (ENLARGE
    for finders from before it was recorded)."""
    return float(meta["input"].get("enlarge", ENLARGE))


def page_canvas(picture: Picture, side: int, enlarge: float = ENLARGE) -> tuple[np.ndarray, float]:
    """The picture as the finder reads it: uint8 (H, W) ink bright, its longer side `side`
    (never enlarged past `enlarge` times), padded to multiples of MULTIPLE; and finder
    pixels per picture pixel."""
    gray = picture.gray
    scale = min(enlarge * picture.scale, side / max(gray.shape))  # finder pixels per gray pixel
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


def field_number_box(found: FoundNumbers, seed: int | None = None) -> tuple[int, int, int, int]:
    """The one number of a field: the region where the finder is surest (or region
    `seed`), joined by the regions on its line within JOIN_GAP of its height (see JOIN_GAP)."""
    x, y, w, h = found.boxes[int(np.argmax(found.scores)) if seed is None else seed]
    x0, y0, x1, y1 = x, y, x + w, y + h
    rest = [b for b in found.boxes if b != (x, y, w, h)]
    joined = True
    while joined:
        joined = False
        for bx, by, bw, bh in list(rest):
            same_line = y0 <= by + bh / 2 <= y1 or by <= (y0 + y1) / 2 <= by + bh
            gap = max(bx - x1, x0 - (bx + bw))
            if same_line and gap <= JOIN_GAP * (y1 - y0):
                x0, y0, x1, y1 = min(x0, bx), min(y0, by), max(x1, bx + bw), max(y1, by + bh)
                rest.remove((bx, by, bw, bh))
                joined = True
    return x0, y0, x1 - x0, y1 - y0


def field_number_boxes(found: FoundNumbers) -> list[tuple[tuple[int, int, int, int], float]]:
    """Where a field's one number may be: each region joined as `field_number_box` joins
    the surest, with the finder's chance for its seed region; surest first, each box once."""
    choices: dict[tuple[int, int, int, int], float] = {}
    for i in np.argsort(found.scores, kind="stable")[::-1].tolist():
        choices.setdefault(field_number_box(found, i), found.scores[i])
    return list(choices.items())


def field_choices(picture: Picture, places: list[tuple[tuple[int, int, int, int], float]]) -> list[tuple[Field, float]]:
    """The reader strips of a field's places (`NumberFinderRuntime.field_places`) with their
    chances; no place: the whole picture, at chance 1 (a tight crop)."""
    if not places:
        return [(field_in_box(picture, (0, 0, picture.width, picture.height), pad=0.0), 1.0)]
    return [(field_in_box(picture, box), chance) for box, chance in places]


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
    """A number finder, loaded to find numbers on pictures: a PyTorch checkpoint, or its
    ONNX export (`digitrec export`), which runs without PyTorch."""

    def __init__(self, meta: dict[str, Any], path: Path, chances: Callable[[np.ndarray], np.ndarray], runtime: str):
        self.meta, self.path, self.runtime = meta, path, runtime
        self._chances = chances  # uint8 (H, W) canvas -> (H / stride, W / stride) chances
        self.side = int(self.meta["input"]["side"])
        self.enlarge = finder_enlarge(self.meta)
        t = self.meta["target"]
        self.target = Target(int(t["stride"]), float(t["shrink_x"]), float(t["shrink_y"]))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> NumberFinderRuntime:
        if Path(path).suffix == ".onnx":
            return cls._load_onnx(Path(path))
        import torch

        from digitrec.artifacts.checkpoint import load_model

        loaded = load_model(path, device)
        cls._check_kind(loaded.meta, path)

        def chances(canvas: np.ndarray) -> np.ndarray:
            with torch.inference_mode(), without_onednn():  # pictures come in every size: see without_onednn
                x = torch.from_numpy(canvas).float().div_(255).view(1, 1, *canvas.shape)
                return torch.sigmoid(loaded.model(x))[0, 0].numpy()

        return cls(loaded.meta, loaded.path, chances, "pytorch")

    @classmethod
    def _load_onnx(cls, path: Path) -> NumberFinderRuntime:
        from digitrec.runtime import onnx_session

        session, meta = onnx_session(path)
        cls._check_kind(meta, path)
        name = session.get_inputs()[0].name

        def chances(canvas: np.ndarray) -> np.ndarray:
            (logits,) = session.run(None, {name: (canvas.astype(np.float32) / 255)[None, None]})
            return 1.0 / (1.0 + np.exp(-logits[0, 0]))

        return cls(meta, path, chances, "onnxruntime")

    @staticmethod
    def _check_kind(meta: dict[str, Any], path: str | Path) -> None:
        if meta.get("kind") != "finder":
            raise CheckpointError(f"{path} is a {meta.get('kind', 'classifier')}, not a number finder")

    def surest_field(self, picture: Picture, name: str | None = None) -> Field:
        """A picture that is one field, as a strip reader learns to read it: the strip where
        the finder is surest there is a number, else (none found: a tight crop) the whole picture."""
        return self.field_choices(picture, name)[0][0]

    def field_choices(self, picture: Picture, name: str | None = None) -> list[tuple[Field, float]]:
        """Where the one number of a picture that is one field may be: each candidate strip
        (`field_places`) with the finder's chance for it, surest first; none found (a tight
        crop): the whole picture, at chance 1."""
        return field_choices(picture, self.field_places(picture, name))

    def field_places(self, picture: Picture, name: str | None = None) -> list[tuple[tuple[int, int, int, int], float]]:
        """The boxes where the one number of a field may be, with the finder's chance for
        each, surest first (`field_number_boxes`); none where it finds none."""
        found = self.find(picture, name, side=FIELD_SIDE)
        return field_number_boxes(found) if found.boxes else []

    def find(self, image: ImageInput | Picture, name: str | None = None, side: int | None = None) -> FoundNumbers:
        """The numbers on a picture, searched at most `side` finder pixels on its longer
        side (None: the checkpoint's, for a page)."""
        picture = decode_picture(image, name, min_side=self.side)
        canvas, scale = page_canvas(picture, min(side or self.side, self.side), self.enlarge)
        if min(picture.width, picture.height) * scale < MIN_SIDE:
            return FoundNumbers([], [])
        return number_boxes(self._chances(canvas), self.target, scale, picture.width, picture.height)
