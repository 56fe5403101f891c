"""The number finder: where a page's handwritten numbers are.

A small U-Net reads the whole page (ink bright, scaled so its longer side is the
checkpoint's `input.side`) and gives, per 4x4 pixels, the chance that they are inside a
number (`data.synthetic_pages.number_mask`: the number's box, a little shrunk so that
numbers on one line stay apart). `layout.finder` turns that map into boxes; each box is
then read as a field. It learns to leave printed text, boxes and lines alone because its
training pages have them around the numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from digitrec.models.reader import INK_SCALE, INK_SHIFT, _conv
from digitrec.models.registry import register

STRIDE = 4  # page pixels per output value
DEPTH = 16  # page sides must be multiples of this (four halvings)


@register("number-finder")
class NumberFinder(nn.Module):
    """Encoder to 1/16 of the page (a receptive field of ~150 pixels: a 100-pixel digit
    is seen whole), decoder back to 1/4 with the encoder's features beside it."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 48, 64)):
        super().__init__()
        c1, c2, c3, c4 = channels
        # A stride-2 first layer: the finder needs where the ink is, not its fine detail.
        self.to4 = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            *_conv(c1, c2),
            nn.MaxPool2d(2),
            *_conv(c2, c2),
        )
        self.to8 = nn.Sequential(nn.MaxPool2d(2), *_conv(c2, c3), *_conv(c3, c3))
        self.to16 = nn.Sequential(nn.MaxPool2d(2), *_conv(c3, c4), *_conv(c4, c4), *_conv(c4, c4))
        self.up8 = nn.Sequential(*_conv(c4 + c3, c3))
        self.up4 = nn.Sequential(*_conv(c3 + c2, c2))
        self.head = nn.Conv2d(c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) floats in [0, 1], H and W multiples of DEPTH -> logits (B, 1, H/4, W/4)."""
        f4 = self.to4((x - INK_SHIFT) / INK_SCALE)
        f8 = self.to8(f4)
        f16 = self.to16(f8)
        u8 = self.up8(torch.cat([F.interpolate(f16, scale_factor=2.0, mode="nearest"), f8], 1))
        u4 = self.up4(torch.cat([F.interpolate(u8, scale_factor=2.0, mode="nearest"), f4], 1))
        return self.head(u4)
