"""Synthetic numbers, made in batches on the device from single-digit images.

Each batch is a (B, 1, H, W) float strip in [0, 1], ink bright, as `preprocess.fields`
cuts real fields, with the digit string it shows. Everything is tensor code over the
whole batch (no per-image Python), so numbers are made as fast as the reader trains:

- digits from a bank of 28x28 MNIST-framed digit images (MNIST, optdigits, ...), 1-8 per
  number, with random spacing (overlapping and touching to wide gaps), size and baseline
  jitter, slant and stroke weight;
- the distractors of real fields: ruled lines, table borders, a dark margin, underlines,
  separators between or after the digits (".", ",", "-", "/", "+", ".-", "="), stains,
  patterned security backgrounds, blur, JPEG blocking, low contrast and noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# --- tuning --------------------------------------------------------------------------
DIGIT_INK = 20.0  # MNIST fits a digit's ink into 20 of its 28 pixels
INK_LEVEL = 40  # a digit's ink: pixels above this of 255 (its faint anti-aliased rim aside); its box is that ink's
DIGIT_WINDOW = 64  # strip columns a digit can cover: its 28-pixel box at the largest size, slanted
SEPARATORS = ("dot", "comma", "dash", "slash", "plus")


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic numbers vary; probabilities are per number."""

    min_digits: int = 1
    max_digits: int = 8
    height: int = 32  # strip height (the reader's input height)
    width: int = 256  # canvas width; fields end where their number does
    digit_height: tuple[float, float] = (0.45, 0.8)  # ink height as a fraction of the strip
    gap: tuple[float, float] = (-0.22, 0.55)  # space between digits, in digit heights (< 0 overlaps)
    size_jitter: float = 0.1  # per digit, relative
    baseline_jitter: float = 0.06  # per digit, in digit heights
    slant: float = 0.3  # shear, uniform in [-slant, slant]
    stroke: float = 0.3  # probability of thickening or thinning the strokes
    separator: float = 0.35  # probability that a gap holds a separator (once per number)
    trailing: float = 0.3  # probability of ".-", "-", "=" or "." after the number
    line: float = 0.3  # ruled line across the field
    border: float = 0.25  # vertical table border at an end
    margin: float = 0.08  # a dark scanner margin at an end
    underline: float = 0.3
    stain: float = 0.15
    pattern: float = 0.3  # security background: wavy low-contrast lines
    blur: float = 0.3
    jpeg: float = 0.3
    low_contrast: float = 0.3
    noise: float = 0.5
    inverted: float = 0.03  # a polarity the field finder got wrong


def frame_like_mnist(images: np.ndarray) -> np.ndarray:
    """uint8 (N, h, w) white-on-black digits that fill their box -> MNIST framing: the ink
    fitted into 20x20 with its aspect kept, centred by its box in 28x28."""
    import cv2

    out = np.zeros((len(images), 28, 28), np.uint8)
    for i, image in enumerate(images):
        ys, xs = np.nonzero(image > 40)
        if len(xs) == 0:
            continue
        crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
        h, w = crop.shape
        fit = DIGIT_INK / max(h, w)
        size = (max(1, round(w * fit)), max(1, round(h * fit)))
        small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        y0, x0 = (28 - size[1]) // 2, (28 - size[0]) // 2
        out[i, y0 : y0 + size[1], x0 : x0 + size[0]] = np.clip(small, 0, 255).astype(np.uint8)
    return out


def _ink_span(inked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and one-past-last inked index of each row of a (N, L) mask, as floats; an
    empty digit gets MNIST's usual middle (of 28)."""
    idx = torch.arange(inked.shape[1], device=inked.device).expand_as(inked)
    first = torch.where(inked, idx, inked.shape[1]).min(1).values.float()
    last = torch.where(inked, idx + 1, 0).max(1).values.float()
    empty = last <= first
    first[empty], last[empty] = 10.0, 18.0
    return first, last


def _ink_boxes(drawn: torch.Tensor, ox: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Each drawn digit's ink box (b, k, 4: x0, y0, x1, y1 on the strip) from its window
    (b, k, H, Ww) placed at column `ox`; -1 for a digit not there."""
    on = drawn > INK_LEVEL / 255
    b, k, h, w = on.shape
    x0, x1 = _ink_span(on.any(2).view(b * k, w))
    y0, y1 = _ink_span(on.any(3).view(b * k, h))
    boxes = torch.stack([x0, y0, x1, y1], -1).view(b, k, 4) + torch.stack([ox, torch.zeros_like(ox)] * 2, -1)
    return torch.where(present.unsqueeze(-1), boxes, -1.0)


@dataclass
class DigitBank:
    """Single digits to build numbers from, on the device, with each one's ink extent."""

    images: torch.Tensor  # uint8 (N, 28, 28), MNIST framing
    labels: torch.Tensor  # long (N,)
    left: torch.Tensor  # float (N,): first ink column, in 28-pixel units
    right: torch.Tensor  # float (N,): one past the last ink column
    top: torch.Tensor  # float (N,): first ink row
    bottom: torch.Tensor  # float (N,): one past the last ink row

    @classmethod
    def from_images(cls, images: torch.Tensor, labels: torch.Tensor) -> DigitBank:
        left, right = _ink_span((images > INK_LEVEL).any(1))
        top, bottom = _ink_span((images > INK_LEVEL).any(2))
        return cls(images, labels.long(), left, right, top, bottom)

    def to(self, device: torch.device | str) -> DigitBank:
        return DigitBank(
            *(t.to(device) for t in (self.images, self.labels, self.left, self.right, self.top, self.bottom))
        )

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class NumberInk:
    """Numbers drawn as ink on nothing: (B, 1, H, W) in [0, 1], before paper and noise."""

    ink: torch.Tensor
    targets: torch.Tensor  # long (B, max_digits), digits then -1
    lengths: torch.Tensor  # long (B,)
    field_end: torch.Tensor  # float (B,): where each field ends
    boxes: (
        torch.Tensor
    )  # float (B, max_digits, 4): each digit's ink x0, y0, x1, y1 as drawn (slanted); -1 past the number


@dataclass
class SyntheticBatch:
    strips: torch.Tensor  # float (B, 1, H, W) in [0, 1], ink bright
    targets: torch.Tensor  # long (B, max_digits), digits then -1
    lengths: torch.Tensor  # long (B,)
    widths: torch.Tensor  # long (B,): where each field ends (the rest is padding)

    def texts(self) -> list[str]:
        return ["".join(str(int(d)) for d in row[: int(n)]) for row, n in zip(self.targets.cpu(), self.lengths.cpu())]


def cat_padded(strips: list[torch.Tensor], width: int | None = None) -> torch.Tensor:
    """Strips (B_i, ..., W_i) of different widths as one batch, each padded with 0 on the
    right to `width` (None: the widest)."""
    width = max(s.shape[-1] for s in strips) if width is None else width
    return torch.cat([F.pad(s, (0, width - s.shape[-1])) for s in strips])


def union_boxes(digit_boxes: torch.Tensor) -> torch.Tensor:
    """The union (x0, y0, x1, y1) of digit boxes (..., D, 4) over their D digits, the
    absent ones (x0 < 0) left out: a number's box; inf and -inf where no digit is present."""
    present = (digit_boxes[..., 0] >= 0).unsqueeze(-1)
    lo = torch.where(present, digit_boxes, torch.inf).amin(-2)
    hi = torch.where(present, digit_boxes, -torch.inf).amax(-2)
    return torch.cat([lo[..., :2], hi[..., 2:]], -1)


def _u(shape, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=g, device=device) * (hi - lo) + lo


def _bernoulli(b: int, p: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(b, generator=g, device=device) < p


def _segment_distance(px, py, ax, ay, bx, by) -> torch.Tensor:
    """Distance of each pixel (px, py) from the segment a-b; all broadcast."""
    dx, dy = bx - ax, by - ay
    t = (((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    return torch.hypot(px - ax - t * dx, py - ay - t * dy)


def _stroke(dist: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """An anti-aliased stroke of `width` around the zero set of `dist`."""
    return (width / 2 + 0.5 - dist).clamp(0, 1)


class NumberMaker:
    """Draws synthetic numbers from a `DigitBank`; one `batch` call makes B of them."""

    def __init__(self, bank: DigitBank, config: SyntheticConfig = SyntheticConfig()):
        if len(bank) == 0:
            raise ValueError("the digit bank is empty")
        self.bank, self.cfg = bank, config
        self.device = bank.images.device
        h, w = config.height, config.width
        self.ys = torch.arange(h, device=self.device, dtype=torch.float32).view(1, h, 1)
        self.xs = torch.arange(w, device=self.device, dtype=torch.float32).view(1, 1, w)

    def batch(self, size: int, generator: torch.Generator, lengths: tuple[int, int] | None = None) -> SyntheticBatch:
        ink = self.draw(size, generator, lengths)
        strips = self._paper(ink.ink, ink.field_end, generator)
        return SyntheticBatch(strips, ink.targets, ink.lengths, ink.field_end.ceil().clamp(max=self.cfg.width).long())

    def draw(
        self, size: int, generator: torch.Generator, lengths: tuple[int, int] | None = None, plain: bool = False
    ) -> NumberInk:
        """The ink of `size` numbers and their distractors, before any paper; `plain`: the
        digits alone (a neighbour's number, cheaper)."""
        cfg, dev, g = self.cfg, self.device, generator
        lo, hi = lengths or (cfg.min_digits, cfg.max_digits)
        b, k, H, W = size, hi, cfg.height, cfg.width
        n_digits = torch.randint(lo, hi + 1, (b,), generator=g, device=dev)
        pick = torch.randint(0, len(self.bank), (b, k), generator=g, device=dev)
        present = torch.arange(k, device=dev).view(1, k) < n_digits.view(b, 1)
        labels = torch.where(present, self.bank.labels[pick], -1)

        # Geometry: digit height in pixels, per-digit scale (28-pixel units -> strip pixels).
        dh = _u((b, 1), *cfg.digit_height, g, dev) * H
        scale = dh / DIGIT_INK * (1 + _u((b, k), -cfg.size_jitter, cfg.size_jitter, g, dev))
        left, right = self.bank.left[pick] * scale, self.bank.right[pick] * scale
        gaps = _u((b, k), *cfg.gap, g, dev) * dh
        # One separator per number at a random gap: it needs room of its own.
        sep_kind = torch.randint(0, len(SEPARATORS), (b,), generator=g, device=dev)
        sep_at = (torch.rand(b, generator=g, device=dev) * (n_digits - 1).clamp_min(0).float()).long()
        has_sep = _bernoulli(b, cfg.separator, g, dev) & (n_digits > 1)
        sep_room = torch.where(has_sep, 0.45 * dh[:, 0], torch.zeros_like(dh[:, 0]))
        gaps = gaps.scatter_add(1, sep_at.view(b, 1), sep_room.view(b, 1))
        gaps[:, 0] = 0
        widths = right - left
        # x of each digit's ink start: after the previous digit's ink and the gap before it.
        starts = torch.cumsum(torch.cat([torch.zeros(b, 1, device=dev), widths[:, :-1]], 1) + gaps, 1)
        starts = torch.where(present, starts, torch.zeros_like(starts))
        start_x = _u((b, 1), 0.15, 0.5, g, dev) * dh
        ends = (starts + widths)[torch.arange(b, device=dev), n_digits - 1]
        # Too long for the canvas: squeeze x, as the field finder squeezes long fields.
        trail_room = 0.9 * dh[:, 0]
        squeeze = ((W - 2 - start_x[:, 0] - trail_room) / ends.clamp_min(1)).clamp(max=1.0).view(b, 1)
        x0 = start_x + starts * squeeze  # ink start of each digit on the strip
        sx = scale * squeeze  # horizontal scale of each digit
        top = (H - dh) / 2 + _u((b, 1), -0.08, 0.08, g, dev) * H
        y_ink = top + _u((b, k), -cfg.baseline_jitter, cfg.baseline_jitter, g, dev) * dh  # ink top of each digit
        slant = _u((b, 1), -cfg.slant, cfg.slant, g, dev)

        ink, boxes = self._draw_digits(pick, present, x0, left, sx, scale, y_ink, slant, dh)
        number_end = start_x[:, 0] + ends * squeeze[:, 0]
        targets = torch.where(present, labels, -1)
        if plain:
            return NumberInk(ink, targets, n_digits, number_end + 1, boxes)
        ink = self._stroke_weight(ink, g)
        mid = top[:, 0] + dh[:, 0] / 2
        bottom = top[:, 0] + dh[:, 0]
        ink = torch.maximum(
            ink,
            self._separators(
                b, has_sep, sep_kind, sep_at, x0, widths * squeeze, gaps * squeeze, mid, bottom, dh[:, 0], g
            ),
        )
        trail, trail_end = self._trailing(b, number_end, mid, bottom, dh[:, 0], g)
        ink = torch.maximum(ink, trail)
        field_end = torch.maximum(number_end, trail_end) + _u(b, 0.1, 0.4, g, dev) * dh[:, 0]
        ink = torch.maximum(ink, self._lines(b, start_x[:, 0], number_end, bottom, dh[:, 0], field_end, g))
        return NumberInk(ink, targets, n_digits, field_end, boxes)

    # --- drawing ---------------------------------------------------------------------

    def _draw_digits(self, pick, present, x0, left, sx, scale, y_ink, slant, dh) -> tuple[torch.Tensor, torch.Tensor]:
        """Every digit resampled into a window of its own (one grid_sample for all), then
        placed on the strip by a scatter that keeps the brighter ink where digits overlap;
        with each digit's box (b, k, 4): its drawn ink's, -1 for a digit not there."""
        b, k = pick.shape
        H, W, Ww = self.cfg.height, self.cfg.width, DIGIT_WINDOW
        # Window origin: the digit's 28-pixel box, less room for the slant.
        ox = (x0 - left * sx - slant.abs() * H / 2 - 1).floor().clamp(0, W - 1)
        # Inverse map, window pixel (x, y) -> digit pixel (u, v) in 28-pixel units, affine:
        #   v = (y - y_ink) / scale + 4   (ink starts at row 4 of MNIST's 28)
        #   u = (x + ox - x0 + slant * (y - centre)) / sx + left
        # written for affine_grid in normalised coordinates (align_corners=False: pixel
        # i of n sits at (2i + 1) / n - 1).
        centre = y_ink + dh / 2
        ax, ay = (Ww / 2) / sx, slant * (H / 2) / sx
        au = ((Ww - 1) / 2 + ox + slant * ((H - 1) / 2 - centre) - x0) / sx + left
        by = (H / 2) / scale
        bv = ((H - 1) / 2 - y_ink) / scale + 4.0
        to_norm = 2 / 28
        theta = torch.stack(
            [
                torch.stack([ax * to_norm, ay.expand_as(ax) * to_norm, au * to_norm + 1 / 28 - 1], -1),
                torch.stack([torch.zeros_like(by), by * to_norm, bv * to_norm + 1 / 28 - 1], -1),
            ],
            -2,
        )  # (b, k, 2, 3)
        grid = F.affine_grid(theta.view(b * k, 2, 3), [b * k, 1, H, Ww], align_corners=False)
        digits = self.bank.images[pick].float().div_(255).view(b * k, 1, 28, 28)
        drawn = F.grid_sample(digits, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        drawn = drawn.view(b, k, H, Ww) * present.view(b, k, 1, 1)
        # Scatter into a canvas wide enough for windows that start near the right edge.
        wide = W + Ww
        cols = ox.long().view(b, k, 1, 1) + torch.arange(Ww, device=self.device).view(1, 1, 1, Ww)
        index = (torch.arange(H, device=self.device).view(1, 1, H, 1) * wide + cols).view(b, -1)
        canvas = torch.zeros((b, H * wide), device=self.device)
        canvas.scatter_reduce_(1, index, drawn.reshape(b, -1), reduce="amax")
        return canvas.view(b, 1, H, wide)[..., :W].contiguous(), _ink_boxes(drawn, ox, present)

    def _stroke_weight(self, ink: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        u = torch.rand((ink.shape[0], 1, 1, 1), generator=g, device=self.device)
        thick = F.max_pool2d(ink, 3, stride=1, padding=1)
        thin = -F.max_pool2d(-ink, (1, 2), stride=1, padding=(0, 0))
        thin = F.pad(thin, (0, 1))
        p = self.cfg.stroke
        return torch.where(u < p / 2, thick, torch.where(u < p, torch.maximum(thin, ink * 0.6), ink))

    def _separators(self, b, has_sep, kind, at, x0, widths, gaps, mid, bottom, dh, g) -> torch.Tensor:
        """One separator in the gap after digit `at` (a dot, comma, dash, slash or plus)."""
        dev = self.device
        rows = torch.arange(b, device=dev)
        after = x0[rows, at] + widths[rows, at]
        nxt = x0[rows, (at + 1).clamp(max=x0.shape[1] - 1)]
        cx = ((after + nxt) / 2).view(b, 1, 1)
        return (self._shape(kind, cx, mid, bottom, dh, g) * has_sep.view(b, 1, 1).float()).unsqueeze(1)

    def _shape(self, kind, cx, mid, bottom, dh, g) -> torch.Tensor:
        """A separator glyph centred at x `cx`: (b, H, W) ink."""
        b = kind.shape[0]
        dev = self.device
        ys, xs = self.ys, self.xs
        w = (_u(b, 0.07, 0.14, g, dev) * dh).view(b, 1, 1)  # stroke width
        r = (dh * 0.5).view(b, 1, 1)
        m, bt = mid.view(b, 1, 1), bottom.view(b, 1, 1)
        dot = _stroke(torch.hypot(xs - cx, ys - (bt - w)), w * 1.2)
        comma = torch.maximum(
            dot, _stroke(_segment_distance(xs, ys, cx, bt - w, cx - 0.4 * w - 0.1 * r, bt + 0.3 * r), w)
        )
        dash = _stroke(_segment_distance(xs, ys, cx - 0.3 * r, m, cx + 0.3 * r, m), w)
        slash = _stroke(_segment_distance(xs, ys, cx - 0.3 * r, bt, cx + 0.3 * r, bt - 2 * r), w)
        plus = torch.maximum(dash, _stroke(_segment_distance(xs, ys, cx, m - 0.3 * r, cx, m + 0.3 * r), w))
        shapes = torch.stack([dot, comma, dash, slash, plus], 1)  # order of SEPARATORS
        return shapes[torch.arange(b, device=dev), kind]

    def _trailing(self, b, number_end, mid, bottom, dh, g) -> tuple[torch.Tensor, torch.Tensor]:
        """Marks after the amount, as on cheques: ".-", "-", "=" or "."."""
        dev = self.device
        on = _bernoulli(b, self.cfg.trailing, g, dev)
        kind = torch.randint(0, 4, (b,), generator=g, device=dev)
        x = (number_end + _u(b, 0.1, 0.3, g, dev) * dh).view(b, 1, 1)
        w = (_u(b, 0.07, 0.14, g, dev) * dh).view(b, 1, 1)
        r = (dh * 0.5).view(b, 1, 1)
        m, bt = mid.view(b, 1, 1), bottom.view(b, 1, 1)
        ys, xs = self.ys, self.xs
        dot = _stroke(torch.hypot(xs - x, ys - (bt - w)), w * 1.2)
        dash_x = x + 0.2 * r
        dash = _stroke(_segment_distance(xs, ys, dash_x, m, dash_x + 0.6 * r, m), w)
        equal = torch.maximum(
            _stroke(_segment_distance(xs, ys, x, m - 0.2 * r, x + 0.6 * r, m - 0.2 * r), w),
            _stroke(_segment_distance(xs, ys, x, m + 0.2 * r, x + 0.6 * r, m + 0.2 * r), w),
        )
        shapes = torch.stack([torch.maximum(dot, dash), dash, equal, dot], 1)
        ink = shapes[torch.arange(b, device=dev), kind] * on.view(b, 1, 1).float()
        end = torch.where(on, x.view(b) + 0.9 * r.view(b), number_end)
        return ink.unsqueeze(1), end

    def _lines(self, b, start, end, bottom, dh, field_end, g) -> torch.Tensor:
        """Ruled lines, table borders, a dark margin and underlines."""
        cfg, dev = self.cfg, self.device
        H, W = cfg.height, cfg.width
        ys, xs = self.ys, self.xs
        ink = torch.zeros((b, H, W), device=dev)
        # A ruled line across the field, a little tilted, above or below the digits.
        y = _u(b, 0, H, g, dev).view(b, 1, 1) + _u(b, -0.02, 0.02, g, dev).view(b, 1, 1) * (xs - W / 2)
        t = _u(b, 0.8, 2.5, g, dev).view(b, 1, 1)
        strength = _u(b, 0.3, 1.0, g, dev).view(b, 1, 1)
        ink = torch.maximum(ink, _stroke((ys - y).abs(), t) * strength * _bernoulli(b, cfg.line, g, dev).view(b, 1, 1))
        # Table borders: a vertical line near the start or the end of the field.
        at_end = _bernoulli(b, 0.5, g, dev)
        bx = torch.where(at_end, field_end - _u(b, 0, 3, g, dev), _u(b, 0, 3, g, dev)).view(b, 1, 1)
        border = _stroke((xs - bx).abs(), t) * _bernoulli(b, cfg.border, g, dev).view(b, 1, 1)
        ink = torch.maximum(ink, border * strength)
        # A dark scanner margin: a solid band at one end, a few pixels wide.
        mw = _u(b, 1, 6, g, dev).view(b, 1, 1)
        margin_left = _bernoulli(b, 0.5, g, dev).view(b, 1, 1)
        fe = field_end.view(b, 1, 1)
        band = torch.where(margin_left, (mw - xs).clamp(0, 1), (xs - (fe - mw)).clamp(0, 1) * (xs < fe))
        ink = torch.maximum(ink, band.expand(b, H, W) * _bernoulli(b, cfg.margin, g, dev).view(b, 1, 1))
        # An underline: a stroke under the digits, straight or gently curved.
        uy = (bottom + _u(b, 0.5, 4, g, dev)).view(b, 1, 1)
        bend = _u(b, -3, 3, g, dev).view(b, 1, 1)
        s, e = start.view(b, 1, 1), end.view(b, 1, 1)
        along = ((xs - s) / (e - s).clamp_min(1)).clamp(0, 1)
        curve = uy + bend * (4 * along * (1 - along) - 0.5)
        inside = (xs >= s - 2) & (xs <= e + 2)
        under = _stroke((ys - curve).abs(), t) * inside * _bernoulli(b, cfg.underline, g, dev).view(b, 1, 1)
        return torch.maximum(ink, under * strength).unsqueeze(1)

    def _paper(self, ink: torch.Tensor, field_end: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Ink onto a background: patterns, stains, contrast, blur, JPEG, noise; then the
        padding past the field's end, as real strips are padded."""
        cfg, dev = self.cfg, self.device
        b, _, H, W = ink.shape
        ys, xs = self.ys.view(1, 1, H, 1), self.xs.view(1, 1, 1, W)
        level = _u((b, 1, 1, 1), 0.6, 1.0, g, dev)
        low = _bernoulli(b, cfg.low_contrast, g, dev).view(b, 1, 1, 1)
        level = torch.where(low, level * _u((b, 1, 1, 1), 0.25, 0.6, g, dev), level)
        background = torch.zeros_like(ink)
        # Security pattern: crossing wavy lines of low contrast.
        f1, f2 = _u((b, 1, 1, 1), 0.15, 0.6, g, dev), _u((b, 1, 1, 1), 0.05, 0.2, g, dev)
        phase = _u((b, 1, 1, 1), 0, 2 * math.pi, g, dev)
        wave = torch.sin(f1 * (ys + 3 * torch.sin(f2 * xs + phase)) + f1 * xs * _u((b, 1, 1, 1), -0.5, 0.5, g, dev))
        pattern = (wave.clamp(0, 1) ** 4) * _u((b, 1, 1, 1), 0.1, 0.35, g, dev)
        background = background + pattern * _bernoulli(b, cfg.pattern, g, dev).view(b, 1, 1, 1)
        # A stain: a soft blob.
        cx, cy = _u((b, 1, 1, 1), 0, 1, g, dev) * field_end.view(b, 1, 1, 1), _u((b, 1, 1, 1), 0, H, g, dev)
        radius = _u((b, 1, 1, 1), 3, 14, g, dev)
        stain = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)) * _u((b, 1, 1, 1), 0.1, 0.4, g, dev)
        background = background + stain * _bernoulli(b, cfg.stain, g, dev).view(b, 1, 1, 1)
        x = torch.maximum(ink * level, background).clamp(0, 1)
        x = degrade(x, (cfg.blur, cfg.jpeg, cfg.noise), g, sigma=(0.6, 1.2), quality=(15, 60), noise=(0.01, 0.08))
        inverted = _bernoulli(b, cfg.inverted, g, dev).view(b, 1, 1, 1)
        x = torch.where(inverted, 1 - x, x).clamp(0, 1)
        return x * (xs < field_end.view(b, 1, 1, 1))


def degrade(
    x: torch.Tensor,
    chances: tuple[float, float, float],
    g: torch.Generator,
    sigma: tuple[float, float],
    quality: tuple[int, int],
    noise: tuple[float, float],
) -> torch.Tensor:
    """What a scanner or a camera does to a (B, 1, H, W) batch, each with its chance per
    picture: blur (one sigma for the batch), JPEG blocking (one quality; W padded to
    whole 8x8 blocks for it), noise (a level per picture)."""
    b, dev = x.shape[0], x.device
    p_blur, p_jpeg, p_noise = chances
    blur = _bernoulli(b, p_blur, g, dev).view(b, 1, 1, 1)
    x = torch.where(blur, _gaussian_blur(x, float(_u(1, *sigma, g, dev))), x)
    jpeg = _bernoulli(b, p_jpeg, g, dev)
    if jpeg.any():
        w = x.shape[-1]
        compressed = jpeg_like(F.pad(x, (0, -w % 8)), int(torch.randint(*quality, (1,), generator=g, device=dev)))[
            ..., :w
        ]
        x = torch.where(jpeg.view(b, 1, 1, 1), compressed, x)
    noisy = _bernoulli(b, p_noise, g, dev).view(b, 1, 1, 1)
    return x + torch.randn(x.shape, generator=g, device=dev) * _u((b, 1, 1, 1), *noise, g, dev) * noisy


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = torch.arange(-2, 3, device=x.device, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(x, k.view(1, 1, 1, 5), padding=(0, 2))
    return F.conv2d(x, k.view(1, 1, 5, 1), padding=(2, 0))


def _dct_matrix(device: torch.device) -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float32)
    m = torch.cos((2 * n.view(1, 8) + 1) * n.view(8, 1) * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m.to(device)


# The JPEG standard's luminance quantisation table (quality 50).
_JPEG_TABLE = torch.tensor(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=torch.float32,
)


def jpeg_like(x: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG's lossy step on a (B, 1, H, W) batch: 8x8 block DCT, coefficients rounded to
    the standard table at `quality`, inverse DCT. H and W must be multiples of 8."""
    b, c, h, w = x.shape
    d = _dct_matrix(x.device)
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    q = ((_JPEG_TABLE.to(x.device) * scale + 50) / 100).clamp_min(1) / 255
    blocks = x.view(b, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coeffs = d @ blocks @ d.T
    coeffs = torch.round(coeffs / q) * q
    out = d.T @ coeffs @ d
    return out.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w)
