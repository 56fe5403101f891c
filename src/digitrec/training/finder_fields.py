"""Real fields for the number finder: where a labelled field's number is, found by reading.

A labelled folder says which number a field holds, not where it is. To learn where from
real fields, each training field is cut into candidate regions by the rule-based field
finder (`preprocess.fields`), a strip reader reads every region, and the region read as
the label (the surest, if several) is where the number is. Fields where no region reads
as the label are left out: the boxes kept are ones a reading confirms. The finder then
learns from real cells and amounts what synthetic pages cannot teach it — which of a
cell's marks is its number (not the neighbour's stroke, the date beside it, the plus or
the rule) — and, trained on the easy fields, finds the number in the hard ones too.

Located boxes are cached per folder part and reader (`located_fields`); `RealFieldBank`
holds the fields as uint8 ink and cuts training canvases from them, each scaled as the
finder will see it (`layout.finder.page_canvas`), jittered. `lone_digit_canvases` shows
it pictures of one digit alone, which pages and cells do not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from digitrec.data.folders import read_labels
from digitrec.data.synthetic import INK_LEVEL, DigitBank
from digitrec.layout.finder import ENLARGE

# --- tuning --------------------------------------------------------------------------
MAX_FIELDS = 8000  # real fields per folder part at most (evenly spaced): ~2 minutes to locate on 2 cores
SCALE_JITTER = (0.75, 1.33)  # a field's scale against the finder's own, drawn per field
LOCATE_VERSION = "located-1"  # bump when locating changes
LONE_WORDS = 0.5  # the share of lone-digit pictures with a printed word beside the digit, unmarked
LONE_TALLEST = 240  # a lone digit's ink is drawn up to this tall (a 400-pixel drawing's digit, at the finder's scale)


@dataclass(frozen=True)
class LocatedField:
    path: Path
    label: str
    box: tuple[int, int, int, int]  # x, y, w, h of the number on the picture


_reader = None  # one per worker process


def _locate(item: tuple[str, str, str]) -> tuple[int, int, int, int] | None:
    """The box of the region of `path` read as `label`, the surest such; None: none is."""
    global _reader
    from digitrec.ctc import decode_number
    from digitrec.errors import DigitrecError
    from digitrec.preprocess.fields import find_fields
    from digitrec.runtime import load_runtime_model

    path, label, reader_path = item
    if _reader is None:
        torch.set_num_threads(1)
        _reader = load_runtime_model(reader_path)
    try:
        found = find_fields(path)
    except DigitrecError:
        return None
    probs = _reader.column_probabilities([f.strip for f in found.fields])
    read = [(decode_number(p, f, _reader.stride), f) for f, p in zip(found.fields, probs)]
    right = [(d.confidence, f.box) for d, f in read if d.text == label]
    return max(right)[1] if right else None


def located_fields(
    spec: str, root: Path | None, reader: str | Path, cache_dir: Path, workers: int = 2
) -> list[LocatedField]:
    """The fields of a labelled folder (part) whose number a reading locates, cached."""
    from digitrec.fileio import atomic_write_bytes

    files = read_labels(spec, root)
    files = files[:: max(1, -(-len(files) // MAX_FIELDS))]
    key = hashlib.sha256(f"{LOCATE_VERSION}|{Path(reader).resolve()}|{os.stat(reader).st_mtime_ns}".encode())
    for f in files:
        key.update(f"{f.path.resolve()}|{f.label}\n".encode())
    cache = cache_dir / "located" / f"{key.hexdigest()[:24]}.json"
    if cache.exists():
        rows = json.loads(cache.read_text())
    else:
        items = [(str(f.path), f.label, str(reader)) for f in files]
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawned, not forked: a child forked after PyTorch has started its threads hangs
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                boxes = list(pool.map(_locate, items, chunksize=64))
        else:
            boxes = [_locate(item) for item in items]
        rows = [[str(f.path), f.label, list(b)] for f, b in zip(files, boxes) if b is not None]
        atomic_write_bytes(cache, json.dumps(rows).encode())
    return [LocatedField(Path(p), label, tuple(box)) for p, label, box in rows]


class RealFieldBank:
    """Real fields as the finder sees them (ink bright, uint8, at the picture's own
    scale) and their located number boxes; `batch` cuts training canvases from them."""

    def __init__(self, fields: list[LocatedField], side: int, enlarge: float = ENLARGE):
        from digitrec.preprocess.decode import decode_picture
        from digitrec.preprocess.field_image import ink_bright

        self.inks, self.boxes, self.scales = [], [], []
        for f in fields:
            picture = decode_picture(f.path, min_side=side)
            ink = np.clip(ink_bright(picture.gray) * 255 + 0.5, 0, 255).astype(np.uint8)
            self.inks.append(ink)
            self.boxes.append(np.array(f.box, np.float32) * picture.scale)  # in the ink's pixels
            # the finder's pixels per ink pixel, as `page_canvas` scales a picture
            self.scales.append(min(enlarge, side / max(ink.shape)))

    def __len__(self) -> int:
        return len(self.inks)

    def batch(
        self, size: int, height: int, width: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`size` canvases (size, 1, height, width) floats in [0, 1], each holding one real
        field, scaled and placed so that its number is inside; its box (size, 1, 4) x0, y0, x1, y1."""
        pages = torch.zeros(size, 1, height, width)
        boxes = torch.zeros(size, 1, 4)
        picks = torch.randint(len(self.inks), (size,), generator=generator).tolist()
        u = torch.rand(size, 3, generator=generator).tolist()
        for i, (k, (a, b, c)) in enumerate(zip(picks, u)):
            s = self.scales[k] * (SCALE_JITTER[0] + a * (SCALE_JITTER[1] - SCALE_JITTER[0]))
            ink = self.inks[k]
            size_wh = (max(1, round(ink.shape[1] * s)), max(1, round(ink.shape[0] * s)))
            scaled = cv2.resize(ink, size_wh, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            x, y, w, h = self.boxes[k] * s
            ox = _origin(scaled.shape[1], width, x, x + w, b)
            oy = _origin(scaled.shape[0], height, y, y + h, c)
            # the part of the scaled field that lands on the canvas
            sx0, sy0 = max(0, -ox), max(0, -oy)
            sx1, sy1 = min(scaled.shape[1], width - ox), min(scaled.shape[0], height - oy)
            pages[i, 0, sy0 + oy : sy1 + oy, sx0 + ox : sx1 + ox] = torch.from_numpy(
                scaled[sy0:sy1, sx0:sx1].astype(np.float32) / 255
            )
            boxes[i, 0] = torch.tensor([x + ox, y + oy, x + w + ox, y + h + oy])
        return pages, boxes


def _origin(length: int, room: int, lo: float, hi: float, u: float) -> int:
    """Where a field of `length` pixels starts on a canvas of `room`, its number at lo..hi:
    anywhere that keeps the field inside when it fits, else the number inside, by `u`."""
    if length <= room:
        return int(u * (room - length))
    first, last = max(room - length, -lo), min(0.0, room - hi)  # the canvas covered, the number inside
    if first > last:
        first = last = (room - hi - lo) / 2  # the number is longer than the canvas: centred
    # lo and hi are numpy floats, and numpy before 2.0 rounds one to a numpy float: int() is needed there
    return int(round(first + u * (last - first)))  # noqa: RUF046


def lone_digit_canvases(
    bank: DigitBank, size: int, height: int, width: int, generator: torch.Generator, words: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` canvases (size, 1, height, width) each holding one digit alone, as a picture
    of a lone digit is (a tight crop, a drawing, a scanned form's box: 12 to LONE_TALLEST
    pixels of ink, strokes as drawn or thickened), and its ink box (size, 1, 4): the finder
    learns that a digit filling its picture is one number, not a stroke of one. With
    `words` (uint8 (N, h, w) printed words, ink bright), half the canvases also hold a
    printed word beside the digit, unmarked: a lone printed mark is no number."""
    dev = bank.images.device
    picks = torch.randint(len(bank), (size,), generator=generator, device=dev)
    u = torch.rand(size, 7, generator=generator, device=dev)
    tallest = min(LONE_TALLEST, (height - 4) * 20 / 28)  # its 28-pixel frame fits the canvas
    ink_px = 12 + u[:, 0] * (tallest - 12)  # the digit's ink height: MNIST's is 20 of its 28 pixels
    pages = torch.zeros(size, 1, height, width, device=dev)
    boxes = torch.zeros(size, 1, 4, device=dev)
    for i in range(size):
        side = max(8, int(28 * float(ink_px[i]) / 20))
        digit = F.interpolate(
            bank.images[picks[i]].float().div(255).view(1, 1, 28, 28),
            size=(side, side),
            mode="bilinear",
            align_corners=False,
        )
        if u[i, 1] < 0.3:  # a thick pen
            digit = F.max_pool2d(digit, 3, stride=1, padding=1)
        y, x = int(u[i, 2] * (height - side)), int(u[i, 3] * (width - side))
        pages[i, 0, y : y + side, x : x + side] = digit[0, 0]
        rows, cols = (digit[0, 0] > INK_LEVEL / 255).nonzero(as_tuple=True)
        if len(rows):
            boxes[i, 0] = torch.stack([cols.min() + x, rows.min() + y, cols.max() + 1 + x, rows.max() + 1 + y]).float()
        else:
            boxes[i, 0] = -1.0  # nothing drawn: nothing to find
        if words is not None and u[i, 4] < LONE_WORDS:
            _word_beside(pages[i, 0], words[int(u[i, 5] * len(words))], (x, y, x + side, y + side), float(u[i, 6]))
    return pages, boxes


def _word_beside(page: torch.Tensor, word: torch.Tensor, digit: tuple[int, int, int, int], u: float) -> None:
    """Print `word` (uint8, ink bright) 12-36 pixels tall on `page` where the digit's frame
    is not: on the wider side of it, at the digit's height where it fits."""
    height, width = page.shape
    tall = int(12 + u * 24)
    wide = min(int(word.shape[1] * tall / word.shape[0]), width)
    scaled = F.interpolate(
        word.float().div(255).view(1, 1, *word.shape), size=(tall, wide), mode="bilinear", align_corners=False
    )[0, 0]
    x0, y0, x1, _ = digit
    left_room, right_room = x0, width - x1
    room = max(left_room, right_room)
    if room < 8:
        return  # the digit fills the canvas
    scaled = scaled[:, : room - 4]
    x = 2 if left_room >= right_room else x1 + 2
    y = min(max(0, y0), height - tall)
    page[y : y + tall, x : x + scaled.shape[1]] = torch.maximum(page[y : y + tall, x : x + scaled.shape[1]], scaled)
