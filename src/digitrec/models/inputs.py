"""The model input contract: uint8 digit images in, normalised channels-last floats out.

Training, evaluation and prediction all go through `to_model_input`, so an image can be
normalised only once and only one way (a tutorial bug divided its test images by 255
twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

EVAL_BATCH_SIZE = 2048  # large batches: inference has no gradients to hold


@dataclass(frozen=True)
class Normalization:
    """Pixel transform after scaling uint8 to [0, 1]: (x - mean) / std. Saved in checkpoints."""

    mean: float = 0.0
    std: float = 1.0


def to_float_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, 28, 28) in [0, 1], ink high, background 0."""
    return images.unsqueeze(1).float().div_(255.0)


def normalize(x: torch.Tensor, norm: Normalization) -> torch.Tensor:
    if norm.mean == 0.0 and norm.std == 1.0:
        return x
    return (x - norm.mean) / norm.std


def finish_input(x: torch.Tensor, norm: Normalization) -> torch.Tensor:
    """Normalise a float batch in [0, 1] and lay it out channels-last, as the models are."""
    return normalize(x, norm).contiguous(memory_format=torch.channels_last)


def to_model_input(images: torch.Tensor, norm: Normalization) -> torch.Tensor:
    return finish_input(to_float_batch(images), norm)


def predict_logits(
    model: nn.Module, images: torch.Tensor, norm: Normalization, batch_size: int = EVAL_BATCH_SIZE
) -> torch.Tensor:
    """Logits (N, 10) for uint8 images (N, 28, 28), on the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = images[start : start + batch_size].to(device, non_blocking=True)
                outputs.append(model(to_model_input(batch, norm)).float())
        return torch.cat(outputs) if outputs else torch.empty((0, 10), device=device)
    finally:
        model.train(was_training)
