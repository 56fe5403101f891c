"""The number reader: a field strip in, per-column digit probabilities out (CRNN + CTC).

Convolutions turn a height-normalised strip (B, 1, 32, W) into one feature vector per 4
pixel columns, a bidirectional LSTM reads them in context, and a linear layer gives each
column the probabilities of blank and the ten digits. CTC training needs no digit
positions, and the alignment of the decoded digits gives each one its columns, hence its
box. Touching digits need no cutting: the columns between them decide.
"""

from __future__ import annotations

import torch
from torch import nn

from digitrec.models.registry import register

BLANK = 0  # CTC's blank class; digit d is class d + 1
NUM_CLASSES = 11
# a field reader's box head: per column, the digit there (x0, x1 from the column's centre; y0, y1),
# in field heights
BOX_OUTPUTS = 4
STRIDE = 4  # strip pixels per output column
INK_SCALE = 0.25  # strips are ink-bright uint8 / 255; centring makes the first layer's job easy
INK_SHIFT = 0.1


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register("crnn")
class NumberReader(nn.Module):
    """CRNN: 5 conv layers (height 32 -> 1, width / 4), a BiLSTM, a linear CTC head."""

    def __init__(self, height: int = 32, channels: tuple[int, ...] = (16, 32, 64, 96), hidden: int = 64):
        super().__init__()
        if height != 32:
            raise ValueError("the reader is built for strips 32 pixels tall")
        c1, c2, c3, c4 = channels
        self.features = nn.Sequential(
            *_conv(1, c1),
            nn.MaxPool2d(2),  # 16 x W/2
            *_conv(c1, c2),
            nn.MaxPool2d(2),  # 8 x W/4
            *_conv(c2, c3),
            *_conv(c3, c3),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv(c3, c4),
            nn.MaxPool2d((2, 1)),  # 2 x W/4
            nn.Conv2d(c4, c4, (2, 1), bias=False),
            nn.BatchNorm2d(c4),
            nn.ReLU(inplace=True),  # 1 x W/4
        )
        self.sequence = nn.LSTM(c4, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, W) floats in [0, 1] -> logits (B, W // 4, 11)."""
        f = self.features((x - INK_SHIFT) / INK_SCALE)  # (B, C, 1, T)
        seq, _ = self.sequence(f.squeeze(2).transpose(1, 2).contiguous())
        return self.head(seq)


class _ColumnReader(nn.Module):
    """What every field reader shares: a height it is built for, convolutional features
    brought to one row (`_finish`), a BiLSTM over the columns, the CTC head and the
    optional box head."""

    def __init__(self, height: int):
        super().__init__()
        if height % 16 or height < 32:
            raise ValueError(f"the field reader's height must be a multiple of 16 of at least 32, got {height}")
        self.height = height

    def _finish(
        self, layers: list[nn.Module], h: int, c: int, out: int, hidden: int, boxes: bool, box_features: bool
    ) -> None:
        """`layers` (ending at height `h`, `c` channels), then a convolution over what is
        left of the height to `out` features per column, and the heads."""
        layers += [nn.Conv2d(c, out, (h, 1), bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]  # 1 x W/4
        self.features = nn.Sequential(*layers)
        self.sequence = nn.LSTM(out, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, NUM_CLASSES)
        # Where each digit is: CTC's alignment says which columns, not where the ink is (a
        # BiLSTM may emit a digit a little before or after it), nor how tall it is. With
        # box_features the head reads the convolutional features beside the LSTM's: they
        # keep where the ink is, which the LSTM, trained to name digits, need not (heads
        # trained before 2026-12-03 read the LSTM's alone).
        self.box_features = box_features
        width = 2 * hidden + (out if box_features else 0)
        self.box_head = (
            nn.Sequential(nn.Linear(width, 64), nn.ReLU(inplace=True), nn.Linear(64, BOX_OUTPUTS)) if boxes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, height, W) floats in [0, 1], W a multiple of STRIDE -> per column the
        class logits (B, W // 4, 11), followed by the box head's 4 outputs if it has one."""
        f = self.features((x - INK_SHIFT) / INK_SCALE).squeeze(2).transpose(1, 2).contiguous()  # (B, T, C)
        seq, _ = self.sequence(f)
        if self.box_head is None:
            return self.head(seq)
        return torch.cat([self.head(seq), self.box_head(torch.cat([seq, f], -1) if self.box_features else seq)], -1)


@register("field-crnn")
class FieldReader(_ColumnReader):
    """A CRNN for a whole field (a register cell, a cheque's amount box, a strip of digits,
    a lone digit) scaled to `height` pixels, margins, rules and neighbours' strokes
    included: it learns what to ignore instead of being handed a cut-out strip.

    Two stride-2 convolutions bring the picture to a quarter of its size cheaply (most of
    a field is paper); then the layers of `crnn`, with one (2, 1) pool per remaining
    halving of the height, and a final convolution over what is left of it. The output is
    one column per STRIDE pixels of the field's width, as for strips."""

    def __init__(
        self,
        height: int = 96,
        channels: tuple[int, ...] = (16, 32, 48, 96, 128),
        hidden: int = 128,
        boxes: bool = False,
        box_features: bool = False,
    ):
        super().__init__(height)
        c0, c1, c2, c3, c4 = channels
        layers: list[nn.Module] = [
            nn.Conv2d(1, c0, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),  # H/2 x W/2
            nn.Conv2d(c0, c1, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),  # H/4 x W/4
            *_conv(c1, c2),
            *_conv(c2, c2),
            nn.MaxPool2d((2, 1)),  # H/8
            *_conv(c2, c3),
            nn.MaxPool2d((2, 1)),  # H/16
        ]
        h, c = height // 16, c3
        while h > 3 and h % 2 == 0:
            layers += [*_conv(c, c4), nn.MaxPool2d((2, 1))]
            h, c = h // 2, c4
        self._finish(layers, h, c, c4, hidden, boxes, box_features)


class _Residual(nn.Module):
    """Two 3x3 convolutions with batch norm, added to their input (He et al. 2016)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(*_conv(channels, channels)[:2], nn.ReLU(inplace=True), *_conv(channels, channels)[:2])
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


@register("field-resnet")
class ResidualFieldReader(_ColumnReader):
    """A field reader with a residual convolutional stack (the best published cheque
    readers are ResNet/DenseNet + CTC): what `field-crnn` reads, with more depth and width
    where the digits are still several pixels tall.

    A 3x3 convolution at full resolution keeps thin strokes; two stride-2 convolutions,
    each followed by residual blocks, bring the field to a quarter of its size (STRIDE
    pixels a column); then one (2, 1) pool and residual blocks per halving of the height,
    and a convolution over what is left of it."""

    def __init__(
        self,
        height: int = 96,
        channels: tuple[int, ...] = (16, 32, 64, 128),
        blocks: tuple[int, ...] = (1, 1, 1),
        hidden: int = 128,
        boxes: bool = False,
        box_features: bool = False,
    ):
        super().__init__(height)
        if len(channels) != 4 or len(blocks) != 3:
            raise ValueError(
                f"the residual field reader takes 4 channel widths and 3 block counts, got {channels} and {blocks}"
            )
        c0, c1, c2, c3 = channels
        layers: list[nn.Module] = [*_conv(1, c0)]
        for cin, cout, n in ((c0, c1, blocks[0]), (c1, c2, blocks[1])):  # H/2, then H/4
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            layers += [_Residual(cout) for _ in range(n)]
        h, c = height // 4, c2
        while h > 3 and h % 2 == 0:  # H/8, H/16, ...
            layers += [nn.MaxPool2d((2, 1)), *_conv(c, c3), *[_Residual(c3) for _ in range(blocks[2])]]
            h, c = h // 2, c3
        self._finish(layers, h, c, c3, hidden, boxes, box_features)
