"""Batched augmentation on the device: one affine grid for the whole batch, no PIL."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitrec.models.inputs import Normalization, finish_input, to_float_batch
from digitrec.training.config import AugmentConfig


def random_affine(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Rotate, zoom and shift each image of a (B, 1, H, W) batch in [0, 1] independently.

    Runs before normalisation so that the area the transform uncovers is filled with the
    background value 0.
    """
    if not cfg.enabled:
        return x
    b = x.shape[0]
    rand = torch.rand((4, b), generator=generator, device=x.device) * 2 - 1  # uniform in [-1, 1]
    angle = rand[0] * math.radians(cfg.rotation)
    scale = 1 + rand[1] * cfg.zoom
    # affine_grid maps output to input coordinates, so an image zoomed by `scale` samples
    # its input at coordinates divided by it; [-1, 1] spans the image, so a shift of a
    # fraction f of the size is 2f.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, rand[2] * 2 * cfg.shift], 1), torch.stack([sin, cos, rand[3] * 2 * cfg.shift], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def prepare_batch(
    images: torch.Tensor,
    norm: Normalization,
    augment: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Stored uint8 images to model input, augmented when training."""
    x = to_float_batch(images)
    if augment is not None and augment.enabled:
        if generator is None:
            raise ValueError("augmentation needs a generator, for reproducibility")
        x = random_affine(x, augment, generator)
    return finish_input(x, norm)
