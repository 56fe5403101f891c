"""Batched augmentation on the device: one affine grid for the whole batch, no PIL."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitrec.training.config import AugmentConfig, Normalization


def to_float_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, 28, 28) in [0, 1], ink high, background 0."""
    return images.unsqueeze(1).float().div_(255.0)


def normalize(x: torch.Tensor, norm: Normalization) -> torch.Tensor:
    if norm.mean == 0.0 and norm.std == 1.0:
        return x
    return (x - norm.mean) / norm.std


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
    """The one path from stored uint8 images to model input, for training and inference."""
    x = to_float_batch(images)
    if augment is not None and augment.enabled:
        if generator is None:
            raise ValueError("augmentation needs a generator, for reproducibility")
        x = random_affine(x, augment, generator)
    return normalize(x, norm).contiguous(memory_format=torch.channels_last)
