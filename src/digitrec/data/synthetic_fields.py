"""Synthetic fields: generated numbers put into the surroundings of real fields, made in
batches on the device, as the field reader sees a whole picture (`preprocess.field_image`).

A field is a register cell (a small number somewhere in a tall box), a strip (a cheque's
amount box, a number on a line: the number fills most of the height), a lone digit, or
nothing. Around the number: the rows above and below cut by the edges, strokes of the
next column at the sides, ruled lines and borders, a dark scanner margin, printed words,
marks beside and below, an earlier number struck through, paper texture, light, blur and
JPEG. The number's own distractors (separators, underlines, trailing marks) come from
`NumberMaker`. The label is the number's digits, or "" for a field with none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from digitrec.data.synthetic import (
    NumberInk,
    NumberMaker,
    _bernoulli,
    _segment_distance,
    _stroke,
    _u,
    cat_padded,
    degrade,
    union_boxes,
)
from digitrec.preprocess.field_image import MIN_FIELD_WIDTH, max_width

# --- tuning --------------------------------------------------------------------------
WORDS = (
    "Trykt for Kirkeministeriet",
    "Nr.",
    "Aar",
    "Dag",
    "Maaned",
    "Navn",
    "Fodt",
    "Dobt",
    "Doede",
    "Begravelse",
    "Sogn",
    "Amount",
    "Pesos",
    "Total",
    "Date",
    "No.",
    "Signature",
    "Pay to",
    "Account",
    "Invoice",
    "Page",
    "Form",
    "Box",
    "Ref.",
    "Qty",
    "Code",
    "anno",
    "den",
    "og",
    "Kirke",
    "Bemaerkninger",
    "Son",
    "Datter",
)
LOW_CONTRAST = (0.5, 0.8)  # a faint field's ink level, a share of the usual 0.55-1 (fainter: lost in the noise)
WORD_HEIGHT = 16  # printed words are rendered once at this height, then scaled on the device
WORD_WIDTH = 160


@dataclass(frozen=True)
class FieldConfig:
    """How synthetic fields vary; probabilities are per field."""

    height: int = 96  # the field reader's input height
    cell: float = 0.45  # a register cell: tall box, small number
    lone: float = 0.12  # a lone digit filling most of the field
    empty: float = 0.04  # no number at all: the answer is nothing
    max_digits: int = 10
    cell_digits: int = 4  # a cell's number has at most this many digits
    cell_size: tuple[float, float] = (0.2, 0.5)  # the number's 32-px strip as a share of the field's height
    strip_size: tuple[float, float] = (0.55, 1.1)
    cell_aspect: tuple[float, float] = (0.45, 1.3)  # a cell's width over its height
    rows: float = 0.5  # the number of the row above / below, cut by the edge (each)
    side: float = 0.3  # strokes of the next column at the left / right edge
    struck: float = 0.1  # an earlier number struck through, above or beside the number
    rules: float = 0.5  # horizontal ruled lines
    borders: float = 0.5  # vertical borders
    margin: float = 0.3  # a dark scanner margin at one side, up to 45% of the width
    words: float = 0.25  # a printed word above or below
    mark: float = 0.3  # a short stroke or plus beside or below the number
    texture: float = 0.5  # low-frequency paper texture
    light: float = 0.3  # a gradient of light across the field
    blur: float = 0.3
    jpeg: float = 0.3
    noise: float = 0.5
    low_contrast: float = 0.3


def render_words(device: torch.device) -> torch.Tensor:
    """The printed words as uint8 (N, WORD_HEIGHT, WORD_WIDTH), ink bright, left-aligned:
    rendered once with Pillow's built-in font (no font files needed)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=WORD_HEIGHT - 3)
    out = np.zeros((len(WORDS), WORD_HEIGHT, WORD_WIDTH), np.uint8)
    for i, word in enumerate(WORDS):
        image = Image.new("L", (WORD_WIDTH, WORD_HEIGHT), 0)
        ImageDraw.Draw(image).text((1, 0), word, fill=255, font=font)
        out[i] = np.asarray(image)
    return torch.from_numpy(out).to(device)


@dataclass
class FieldBatch:
    strips: torch.Tensor  # float (B, 1, height, W) in [0, 1], ink bright, 0 past each width
    widths: torch.Tensor  # long (B,)
    labels: list[str]  # the number of each field, "" for none
    boxes: torch.Tensor  # float (B, max_digits, 4): each digit's x0, y0, x1, y1 on the field; -1 past the number

    def texts(self) -> list[str]:
        return self.labels


def place(
    ink: torch.Tensor, x_off: torch.Tensor, y_off: torch.Tensor, s: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """(B, 1, h, w) ink scaled by `s` with its origin at (x_off, y_off) of a (B, 1, height, width)
    canvas: one grid_sample."""
    b, _, h, w = ink.shape
    dev = ink.device
    X = torch.arange(width, device=dev, dtype=torch.float32).view(1, 1, width) + 0.5
    Y = torch.arange(height, device=dev, dtype=torch.float32).view(1, height, 1) + 0.5
    sx = (X - x_off.view(b, 1, 1)) / s.view(b, 1, 1)  # source pixel coordinates
    sy = (Y - y_off.view(b, 1, 1)) / s.view(b, 1, 1)
    grid = torch.stack([(2 * sx / w - 1).expand(b, height, width), (2 * sy / h - 1).expand(b, height, width)], -1)
    return F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class FieldMaker:
    """Draws whole synthetic fields; one `batch` call makes B of them."""

    def __init__(self, numbers: NumberMaker, config: FieldConfig = FieldConfig()):
        self.numbers, self.cfg = numbers, config
        self.device = numbers.device
        self.words = render_words(self.device)

    def batch(self, size: int, generator: torch.Generator) -> FieldBatch:
        """`size` fields: cells and lone digits (narrow) made apart from strips (wide), so
        that each group is drawn on a canvas only as wide as it needs."""
        cfg = self.cfg
        n_cell, n_lone = round(size * cfg.cell), round(size * cfg.lone)
        groups = [self._fields(n_cell, n_lone, 0, generator)] if n_cell + n_lone else []
        if size - n_cell - n_lone:
            groups.append(self._fields(0, 0, size - n_cell - n_lone, generator))
        k = max(g.boxes.shape[1] for g in groups)
        return FieldBatch(
            cat_padded([g.strips for g in groups]),
            torch.cat([g.widths for g in groups]),
            [t for g in groups for t in g.labels],
            torch.cat([F.pad(g.boxes, (0, 0, 0, k - g.boxes.shape[1]), value=-1.0) for g in groups]),
        )

    def _fields(self, n_cell: int, n_lone: int, n_strip: int, g: torch.Generator) -> FieldBatch:
        cfg, dev, H = self.cfg, self.device, self.cfg.height
        shortest = self.numbers.cfg.min_digits  # a cell's or a strip's; a lone digit is one
        parts = [
            (n_cell, (shortest, max(shortest, cfg.cell_digits))),
            (n_lone, (1, 1)),
            (n_strip, (shortest, max(shortest, cfg.max_digits))),
        ]
        main = _concat([self.numbers.draw(n, g, lengths) for n, lengths in parts if n > 0])
        b = n_cell + n_lone + n_strip
        cell = torch.arange(b, device=dev) < n_cell
        empty = _bernoulli(b, cfg.empty, g, dev)

        # Scale: the number's 32-pixel strip is this many field pixels tall.
        strip_h = torch.where(cell, _u(b, *cfg.cell_size, g, dev), _u(b, *cfg.strip_size, g, dev)) * H
        s = strip_h / self.numbers.cfg.height
        content = main.field_end * s
        widest = max_width(H)
        room = float(widest - 6)
        s = torch.where(content > room, s * room / content.clamp_min(1), s)
        content = main.field_end * s
        # Field width: a cell's own aspect; a strip or lone digit a little wider than its number.
        cell_w = _u(b, *cfg.cell_aspect, g, dev) * H
        strip_w = content + _u(b, 0.05, 0.6, g, dev) * strip_h
        width = torch.where(cell, torch.maximum(cell_w, content + 6), strip_w).clamp(MIN_FIELD_WIDTH, widest)
        x_off = _u(b, 0, 1, g, dev) * (width - content).clamp_min(0)
        centre = torch.where(cell, _u(b, 0.3, 0.7, g, dev), _u(b, 0.42, 0.58, g, dev)) * H
        y_off = centre - s * self.numbers.cfg.height / 2
        W = int(width.max().ceil())
        canvas = place(main.ink, x_off, y_off, s, H, W) * (~empty).float().view(b, 1, 1, 1)
        boxes = main.boxes * s.view(b, 1, 1) + torch.stack([x_off, y_off, x_off, y_off], -1).view(b, 1, 4)
        boxes = torch.where((main.boxes < 0) | empty.view(b, 1, 1), -1.0, boxes)

        self._neighbours(canvas, s, centre, width, cell, g)
        self._struck(canvas, s, x_off, centre, cell, g)
        canvas = torch.maximum(canvas, self._surroundings(b, s, x_off, content, centre, width, W, g))
        self._word(canvas, width, g)
        fields = on_paper(canvas, width, cfg, g)
        texts = ["" if e else t for e, t in zip(empty.tolist(), _texts(main))]
        return FieldBatch(fields, width.ceil().long(), texts, boxes)

    def _paste(self, canvas: torch.Tensor, on: torch.Tensor, draw) -> None:
        """Max into the canvases where `on` what `draw(idx)` returns: (ink, x, y, scale) for
        those canvases only, so a distractor costs only where it is."""
        idx = on.nonzero()[:, 0]
        if len(idx):
            ink, x, y, s = draw(idx)
            canvas[idx] = torch.maximum(canvas[idx], place(ink, x, y, s, canvas.shape[2], canvas.shape[3]))

    def _neighbours(self, canvas, s, centre, width, cell, g) -> None:
        """The numbers of the rows above and below a cell, cut by its top and bottom edges,
        and strokes of the next column at the sides."""
        cfg, dev, H = self.cfg, self.device, self.cfg.height
        b = canvas.shape[0]
        for edge in ("top", "bottom", "left", "right"):
            on = (
                (_bernoulli(b, cfg.rows, g, dev) & cell)
                if edge in ("top", "bottom")
                else _bernoulli(b, cfg.side, g, dev)
            )

            def draw(idx, edge=edge):
                n = len(idx)
                other = self.numbers.draw(n, g, (1, 3) if edge in ("top", "bottom") else (1, 2), plain=True)
                si, w = s[idx], width[idx]
                sh = si * self.numbers.cfg.height
                beyond = _u(n, -0.15, 0.35, g, dev) * sh  # its middle this far past the edge: only part shows
                if edge == "top":
                    return other.ink, _u(n, -0.2, 0.6, g, dev) * w, -beyond - sh / 2, si
                if edge == "bottom":
                    return other.ink, _u(n, -0.2, 0.6, g, dev) * w, H + beyond - sh / 2, si
                reach = other.field_end * si
                x = -reach * _u(n, 0.6, 0.95, g, dev) if edge == "left" else w - reach * _u(n, 0.05, 0.4, g, dev)
                return other.ink, x, _u(n, 0, 1, g, dev) * H - sh / 2, si

            self._paste(canvas, on, draw)

    def _struck(self, canvas, s, x_off, centre, cell, g) -> None:
        """An earlier number with a line through it, above or below the number in a cell,
        else before it: it is not read."""
        cfg, dev = self.cfg, self.device
        b = canvas.shape[0]

        def draw(idx):
            n = len(idx)
            other = self.numbers.draw(n, g, (1, 3), plain=True)
            si, c = s[idx], centre[idx]
            sh, strip_h = si * self.numbers.cfg.height, float(self.numbers.cfg.height)
            up = _bernoulli(n, 0.5, g, dev)
            y = torch.where(cell[idx], torch.where(up, c - 1.25 * sh, c + 0.25 * sh), c - sh / 2)
            x = torch.where(
                cell[idx], x_off[idx], x_off[idx] - (other.field_end + 0.2 * strip_h) * si
            )  # a strip's: before it
            # The stroke through it, drawn on its own strip: its start to its end, a little tilted.
            xs = torch.arange(other.ink.shape[-1], device=dev, dtype=torch.float32).view(1, 1, -1)
            ys = torch.arange(other.ink.shape[-2], device=dev, dtype=torch.float32).view(1, -1, 1)
            tilt = _u(n, -0.25, 0.25, g, dev).view(n, 1, 1) * strip_h
            mid = strip_h / 2
            line = _stroke(
                _segment_distance(
                    xs, ys, torch.zeros_like(tilt), mid + tilt, other.field_end.view(n, 1, 1), mid - tilt
                ),
                2.0,
            )
            return torch.maximum(other.ink, line.unsqueeze(1)), x, y, si

        self._paste(canvas, _bernoulli(b, cfg.struck, g, dev), draw)

    def _surroundings(self, b, s, x_off, content, centre, width, W, g) -> torch.Tensor:
        """Rules, borders, a scanner margin and a stray mark."""
        cfg, dev, H = self.cfg, self.device, self.cfg.height
        xs = torch.arange(W, device=dev, dtype=torch.float32).view(1, 1, W)
        ys = torch.arange(H, device=dev, dtype=torch.float32).view(1, H, 1)
        out = torch.zeros((b, H, W), device=dev)
        strength = _u((b, 1, 1), 0.3, 1.0, g, dev)
        for _ in range(2):  # horizontal rules, a little tilted
            y = _u(b, 0, H, g, dev).view(b, 1, 1) + _u(b, -0.02, 0.02, g, dev).view(b, 1, 1) * (xs - W / 2)
            t = _u(b, 0.8, 3.0, g, dev).view(b, 1, 1)
            out = torch.maximum(
                out, _stroke((ys - y).abs(), t) * strength * _bernoulli(b, cfg.rules, g, dev).view(b, 1, 1)
            )
        for _ in range(2):  # vertical borders, mostly near the sides
            near = _bernoulli(b, 0.7, g, dev)
            x = torch.where(
                near,
                torch.where(_bernoulli(b, 0.5, g, dev), _u(b, 0, 0.12, g, dev), _u(b, 0.88, 1, g, dev)),
                _u(b, 0, 1, g, dev),
            )
            x = (x * width).view(b, 1, 1) + _u(b, -0.03, 0.03, g, dev).view(b, 1, 1) * (ys - H / 2)
            t = _u(b, 0.8, 3.0, g, dev).view(b, 1, 1)
            out = torch.maximum(
                out, _stroke((xs - x).abs(), t) * strength * _bernoulli(b, cfg.borders, g, dev).view(b, 1, 1)
            )
        # A scanner's dark margin: a solid band at one side with a soft edge, short of the number.
        left = _bernoulli(b, 0.6, g, dev)
        free = torch.where(left, x_off, width - x_off - content) - 2
        band = torch.minimum(_u(b, 0.03, 0.45, g, dev) * width, free).view(b, 1, 1)
        left = left.view(b, 1, 1)
        edge = torch.where(left, band - xs, xs - (width.view(b, 1, 1) - band))
        level = _u((b, 1, 1), 0.7, 1.0, g, dev)
        out = torch.maximum(out, (edge / 1.5).clamp(0, 1) * level * _bernoulli(b, cfg.margin, g, dev).view(b, 1, 1))
        # A mark: a plus, a tick or a short stroke, beside or below the number.
        idx = _bernoulli(b, cfg.mark, g, dev).nonzero()[:, 0]
        n = len(idx)
        if n:
            sh = (s[idx] * self.numbers.cfg.height).view(n, 1, 1)
            start, span, c = x_off[idx].view(n, 1, 1), content[idx].view(n, 1, 1), centre[idx].view(n, 1, 1)
            beside = _bernoulli(n, 0.5, g, dev).view(n, 1, 1)
            cx = torch.where(
                beside,
                start + span + _u(n, 0.1, 0.5, g, dev).view(n, 1, 1) * sh,
                start + span * _u(n, 0, 1, g, dev).view(n, 1, 1),
            )
            cy = torch.where(beside, c, c + _u(n, 0.35, 0.6, g, dev).view(n, 1, 1) * sh)
            r = _u(n, 0.1, 0.3, g, dev).view(n, 1, 1) * sh
            angle = _u(n, 0, math.pi, g, dev).view(n, 1, 1)
            dx, dy = r * torch.cos(angle), r * torch.sin(angle)
            w = (0.05 * sh).clamp_min(1.0)
            mark = _stroke(_segment_distance(xs, ys, cx - dx, cy - dy, cx + dx, cy + dy), w)
            plus = _bernoulli(n, 0.4, g, dev).view(n, 1, 1)
            mark = torch.maximum(mark, _stroke(_segment_distance(xs, ys, cx + dy, cy - dx, cx - dy, cy + dx), w) * plus)
            out[idx] = torch.maximum(out[idx], mark)
        return out.unsqueeze(1)

    def _word(self, canvas, width, g) -> None:
        """A printed word near the top or the bottom of the field, small."""
        cfg, dev, H = self.cfg, self.device, self.cfg.height

        def draw(idx):
            n = len(idx)
            words = (
                self.words[torch.randint(0, len(self.words), (n,), generator=g, device=dev)]
                .float()
                .div_(255)
                .unsqueeze(1)
            )
            top = _bernoulli(n, 0.5, g, dev)
            y = torch.where(top, _u(n, 0, 0.12, g, dev) * H, H - _u(n, 0.05, 0.2, g, dev) * H)
            return words, _u(n, -0.3, 0.6, g, dev) * width[idx], y, _u(n, 0.08, 0.16, g, dev) * H / WORD_HEIGHT

        self._paste(canvas, _bernoulli(canvas.shape[0], cfg.words, g, dev), draw)


def on_paper(ink: torch.Tensor, width: torch.Tensor, cfg, g: torch.Generator) -> torch.Tensor:
    """Ink onto paper as `field_image` leaves it: texture and light, contrast, blur,
    JPEG, noise; 0 past each field's width. `cfg` holds the chances (`FieldConfig`,
    `PageConfig`): low_contrast, texture, light, blur, jpeg, noise."""
    dev = ink.device
    b, _, H, W = ink.shape
    level = _u((b, 1, 1, 1), 0.55, 1.0, g, dev)
    low = _bernoulli(b, cfg.low_contrast, g, dev).view(b, 1, 1, 1)
    level = torch.where(low, level * _u((b, 1, 1, 1), *LOW_CONTRAST, g, dev), level)
    coarse = torch.rand((b, 1, max(2, H // 12), max(2, W // 12)), generator=g, device=dev)
    texture = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False) * _u(
        (b, 1, 1, 1), 0.05, 0.25, g, dev
    )
    background = texture * _bernoulli(b, cfg.texture, g, dev).view(b, 1, 1, 1)
    xs = torch.arange(W, device=dev, dtype=torch.float32).view(1, 1, 1, W) / max(W, 1)
    ys = torch.arange(H, device=dev, dtype=torch.float32).view(1, 1, H, 1) / H
    angle = _u((b, 1, 1, 1), 0, 2 * math.pi, g, dev)
    ramp = (torch.cos(angle) * xs + torch.sin(angle) * ys).clamp(0, 1) * _u((b, 1, 1, 1), 0.05, 0.3, g, dev)
    background = background + ramp * _bernoulli(b, cfg.light, g, dev).view(b, 1, 1, 1)
    # Ink darkens the paper it is on: it shows over texture and shadow (the maximum of the
    # two hid faint ink under a dark ramp: ~1 in 12 of the bench's fields had none to see).
    x = (background + ink * level * (1 - background)).clamp(0, 1)
    x = degrade(x, (cfg.blur, cfg.jpeg, cfg.noise), g, sigma=(0.6, 1.6), quality=(20, 70), noise=(0.01, 0.06))
    inside = torch.arange(W, device=dev).view(1, 1, 1, W) < width.ceil().view(b, 1, 1, 1)
    return x.clamp(0, 1) * inside


def _concat(parts: list[NumberInk]) -> NumberInk:
    """NumberInk batches drawn with different lengths, as one (their targets padded with -1)."""
    k = max(p.targets.shape[1] for p in parts)
    pad = [(p, k - p.targets.shape[1]) for p in parts]
    return NumberInk(
        torch.cat([p.ink for p in parts]),
        torch.cat([F.pad(p.targets, (0, n), value=-1) for p, n in pad]),
        torch.cat([p.lengths for p in parts]),
        torch.cat([p.field_end for p in parts]),
        torch.cat([F.pad(p.boxes, (0, 0, 0, n), value=-1.0) for p, n in pad]),
    )


def _texts(ink: NumberInk) -> list[str]:
    return ["".join(str(int(d)) for d in row[: int(n)]) for row, n in zip(ink.targets.cpu(), ink.lengths.cpu())]


# --- strips cut from synthetic fields, as the number finder hands them to a strip reader ---
CUT_PAD = (0.05, 0.35)  # margin around the number, a share of its height (the finder's PAD is 0.15)
CUT_JITTER = 0.08  # each side of the finder's box misses the number's ink by N(0, this) of its height
CUT_BACKGROUND = 0.3  # the paper's level: this quantile of the cut, subtracted (as `ink_image` flattens it)


@dataclass
class CutBatch:
    strips: torch.Tensor  # float (B, 1, strip height, W) in [0, 1], ink bright, 0 past each width
    widths: torch.Tensor  # long (B,)
    labels: list[str]

    def texts(self) -> list[str]:
        return self.labels


class CutFieldMaker:
    """Strip-reader training strips: a `share` of them cut from synthetic fields around
    their number, with a margin and a box that misses the ink as the learned finder's does,
    so that the neighbours' strokes, rules, borders and marks inside the cut come along;
    the rest plain synthetic numbers (`NumberMaker.batch`)."""

    def __init__(self, numbers: NumberMaker, config: FieldConfig, share: float):
        self.numbers, self.fields, self.share = numbers, FieldMaker(numbers, config), share
        self.device = numbers.device

    def batch(self, size: int, generator: torch.Generator) -> CutBatch:
        n_cut = round(size * self.share)
        plain = self.numbers.batch(size - n_cut, generator) if size > n_cut else None
        parts = [self._cut(n_cut, generator)] if n_cut else []
        if plain is not None:
            parts.append(CutBatch(plain.strips, plain.widths, plain.texts()))
        return CutBatch(
            cat_padded([p.strips for p in parts]),
            torch.cat([p.widths for p in parts]),
            [t for p in parts for t in p.labels],
        )

    def _cut(self, size: int, g: torch.Generator) -> CutBatch:
        made = self.fields.batch(size, g)
        dev, height = self.device, self.numbers.cfg.height
        x0, y0, x1, y1 = drawn_number_boxes(made.boxes, made.widths, self.fields.cfg.height, g).unbind(-1)
        h = (y1 - y0).clamp_min(2)
        margin = _u(size, *CUT_PAD, g, dev) * h + 1
        jitter = torch.randn((size, 4), generator=g, device=dev) * CUT_JITTER * h.view(size, 1)
        x0 = (x0 - margin + jitter[:, 0]).floor().clamp(0, None)
        y0 = (y0 - margin + jitter[:, 1]).floor().clamp(0, self.fields.cfg.height - 2)
        x1 = torch.minimum(x1 + margin + jitter[:, 2], made.widths.float()).ceil().clamp_min(x0 + 2)
        y1 = torch.minimum((y1 + margin + jitter[:, 3]).ceil(), torch.full_like(y1, self.fields.cfg.height)).maximum(
            y0 + 2
        )
        widths = ((x1 - x0) * height / (y1 - y0)).round().clamp(8, 512).long()
        strips = torch.zeros((size, 1, height, int(widths.max())), device=dev)
        # One resize per strip: antialiased, as `to_strip`'s INTER_AREA shrinks a tall cut.
        for i, (a, b, c, d, w) in enumerate(zip(*(v.long().tolist() for v in (x0, y0, x1, y1, widths)))):
            strips[i, :, :, :w] = F.interpolate(
                made.strips[i : i + 1, :, b:d, a:c],
                size=(height, w),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )[0]
        paper = torch.quantile(strips.flatten(1), CUT_BACKGROUND, dim=1)  # padding lowers it: fine, paper is near 0
        strips = (strips - paper.view(size, 1, 1, 1)).clamp_min(0)
        strips = strips / strips.amax((1, 2, 3), keepdim=True).clamp_min(1e-3)
        inside = torch.arange(strips.shape[-1], device=dev).view(1, 1, 1, -1) < widths.view(size, 1, 1, 1)
        return CutBatch(strips * inside, widths, made.labels)


def drawn_number_boxes(
    digit_boxes: torch.Tensor, widths: torch.Tensor, height: int, g: torch.Generator
) -> torch.Tensor:
    """Each field's number box (x0, y0, x1, y1), the union of its digits' boxes; a field
    with no number: a random stretch of it, a digit's height tall (what the finder may mark there)."""
    b, dev = digit_boxes.shape[0], digit_boxes.device
    none = ~(digit_boxes[..., 0] >= 0).any(1)
    h = _u(b, 0.2, 0.4, g, dev) * height
    ry0 = _u(b, 0, 1, g, dev) * (height - h)
    rx0 = _u(b, 0, 0.5, g, dev) * widths.float()
    random = torch.stack([rx0, ry0, (rx0 + 2 * h).minimum(widths.float()), ry0 + h], -1)
    return torch.where(none.view(b, 1), random, union_boxes(digit_boxes))
