"""Batched augmentation on the device: one affine grid for the whole batch, no PIL."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitrec.models.inputs import Normalization, finish_input, to_float_batch
from digitrec.training.config import AugmentConfig

ELASTIC_GRID = 4  # control points per side of the elastic field: smooth, stroke-sized bends


def random_affine(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Rotate, zoom, shift and elastically bend each image of a (B, 1, H, W) batch in
    [0, 1] independently, in one resampling.

    Runs before normalisation so that the area the transform uncovers is filled with the
    background value 0 (or, with fill "nearest", the nearest edge pixel, as Keras does).
    """
    if not (cfg.rotation or cfg.zoom or cfg.shift or cfg.elastic):
        return x
    b, _, h, w = x.shape
    rand = (
        torch.rand((5 if cfg.zoom_each_axis else 4, b), generator=generator, device=x.device) * 2 - 1
    )  # uniform in [-1, 1]
    angle = rand[0] * math.radians(cfg.rotation)
    cos, sin = torch.cos(angle), torch.sin(angle)
    if cfg.zoom_each_axis:
        # Keras' ImageDataGenerator: output coordinates times (zx, zy), each uniform in
        # [1 - zoom, 1 + zoom], then rotated, to give the input coordinates.
        zx, zy = 1 + rand[1] * cfg.zoom, 1 + rand[4] * cfg.zoom
        row_x, row_y = [cos * zx, -sin * zy], [sin * zx, cos * zy]
    else:
        # affine_grid maps output to input coordinates, so an image zoomed by `scale`
        # samples its input at coordinates divided by it.
        scale = 1 + rand[1] * cfg.zoom
        row_x, row_y = [cos / scale, -sin / scale], [sin / scale, cos / scale]
    # [-1, 1] spans the image, so a shift of a fraction f of the size is 2f.
    theta = torch.stack(
        [torch.stack([*row_x, rand[2] * 2 * cfg.shift], 1), torch.stack([*row_y, rand[3] * 2 * cfg.shift], 1)], 1
    )
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    if cfg.elastic:
        # A coarse random field, upsampled smoothly: bends strokes like a different hand.
        coarse = torch.rand((b, 2, ELASTIC_GRID, ELASTIC_GRID), generator=generator, device=x.device) * 2 - 1
        field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
        grid = grid + field.permute(0, 2, 3, 1) * (2 * cfg.elastic / max(h, w))
    padding = "border" if cfg.fill == "nearest" else "zeros"  # border: the nearest edge pixel
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def random_thickness(x: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Thicken (grey dilation) or thin (grey erosion) the strokes of a random share of
    the images by one pixel, half each way."""
    if not probability:
        return x
    u = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device)
    thick = F.max_pool2d(x, 3, stride=1, padding=1)
    thin = -F.max_pool2d(-x, 3, stride=1, padding=1)
    return torch.where(u < probability / 2, thick, torch.where(u < probability, thin, x))


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    r = torch.arange(-2, 3, device=device, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = torch.outer(k, k)
    return (k / k.sum()).view(1, 1, 5, 5)


def random_blur(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Blend each image towards its blurred copy by a random amount up to `strength`,
    like a scan or an out-of-focus photo."""
    if not strength:
        return x
    blurred = F.conv2d(x, _gaussian_kernel(1.0, x.device), padding=2)
    t = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) * strength
    return x + t * (blurred - x)


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
        x = random_thickness(x, augment.thickness, generator)
        x = random_blur(x, augment.blur, generator)
    return finish_input(x, norm)


# --- reader strips ---------------------------------------------------------------------
STRIP_STRETCH = 0.15  # field width scaled by up to this much either way: wider or narrower hands
STRIP_SQUASH = 0.1  # height scaled by up to this much: digits taller or shorter in the strip
STRIP_SHEAR = 0.2  # slant added or taken away (x per y)
STRIP_SHIFT = 2.0  # pixels up or down, in a 32-pixel strip (in proportion for taller fields)


def warp_strips(
    strips: torch.Tensor, widths: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stretch, squash, slant and shift each real field strip of a (B, 1, 32, W) batch (ink
    bright on 0) in one resampling; returns the strips and each field's new width.

    The real fields are few (410 cheque amounts) next to thousands of steps: drawn again
    and again unchanged, they would be learnt by heart rather than read."""
    b, _, h, w = strips.shape
    out_w = int(w * (1 + STRIP_STRETCH)) + 1
    rand = torch.rand((4, b, 1, 1), generator=generator, device=strips.device) * 2 - 1
    stretch, squash = 1 + rand[0] * STRIP_STRETCH, 1 + rand[1] * STRIP_SQUASH
    shear, shift = rand[2] * STRIP_SHEAR, rand[3] * STRIP_SHIFT * h / 32
    ys = torch.arange(h, device=strips.device, dtype=torch.float32).view(1, h, 1) + 0.5
    xs = torch.arange(out_w, device=strips.device, dtype=torch.float32).view(1, 1, out_w) + 0.5
    centre = h / 2
    src_y = (ys - centre - shift) / squash + centre
    src_x = xs / stretch + shear * (ys - centre)
    grid = torch.stack([(2 * src_x / w - 1).expand(b, h, out_w), (2 * src_y / h - 1).expand(b, h, out_w)], -1)
    warped = F.grid_sample(strips, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    new_widths = (widths.float() * stretch.view(b) + STRIP_SHEAR * centre).ceil().long().clamp(1, out_w)
    return warped, new_widths
