"""Keras semantics in PyTorch, so the tutorials' models are the models they trained.

Keras (2.x, tf.keras) initialises Conv2D and Dense kernels glorot-uniform and biases to
zero; PyTorch's default is Kaiming-uniform with non-zero biases, which trains
differently. Keras' 'same' padding for odd kernels at stride 1 is PyTorch's
padding='same'; 'valid' is no padding. MaxPooling2D defaults to 'valid' (floor).
"""

from __future__ import annotations

from torch import nn


def keras_init_(model: nn.Module) -> nn.Module:
    """Glorot-uniform kernels and zero biases for every Conv2d and Linear in `model`."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)  # fan_in/fan_out include the receptive field, as in Keras
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def conv(in_ch: int, out_ch: int, kernel: int, padding: str = "valid") -> nn.Conv2d:
    if padding not in ("valid", "same"):
        raise ValueError(f"Keras padding is 'valid' or 'same', not {padding!r}")
    return nn.Conv2d(in_ch, out_ch, kernel, padding=padding)
