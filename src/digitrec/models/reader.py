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
            *_conv(1, c1), nn.MaxPool2d(2),  # 16 x W/2
            *_conv(c1, c2), nn.MaxPool2d(2),  # 8 x W/4
            *_conv(c2, c3), *_conv(c3, c3), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv(c3, c4), nn.MaxPool2d((2, 1)),  # 2 x W/4
            nn.Conv2d(c4, c4, (2, 1), bias=False), nn.BatchNorm2d(c4), nn.ReLU(inplace=True),  # 1 x W/4
        )
        self.sequence = nn.LSTM(c4, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, W) floats in [0, 1] -> logits (B, W // 4, 11)."""
        f = self.features((x - INK_SHIFT) / INK_SCALE)  # (B, C, 1, T)
        seq, _ = self.sequence(f.squeeze(2).transpose(1, 2).contiguous())
        return self.head(seq)
