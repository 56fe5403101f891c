"""A Keras-style `model.summary()`: each layer, its output shape and parameter count."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def summarize(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> list[LayerRow]:
    """Run one dummy image through `model` and record every leaf layer's output."""
    rows: list[LayerRow] = []
    hooks = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue  # containers: their leaves are listed instead

        def hook(mod: nn.Module, _inp: object, out: torch.Tensor | tuple, name: str = name) -> None:
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            if isinstance(out, tuple):  # an LSTM's (output, (h, c)): its output is what the next layer reads
                out = out[0]
            rows.append(LayerRow(name, type(mod).__name__, tuple(out.shape[1:]), params))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.inference_mode():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows


def format_summary(rows: list[LayerRow], total_params: int) -> str:
    header = f"{'Layer (type)':<34}{'Output Shape':<22}{'Param #':>12}"
    rule = "=" * len(header)
    lines = [header, rule]
    for row in rows:
        shape = "(None, " + ", ".join(str(s) for s in row.output_shape) + ")"
        lines.append(f"{row.name + ' (' + row.kind + ')':<34}{shape:<22}{row.params:>12,}")
    lines += [rule, f"Total params: {total_params:,}", "Output shapes are channels-first (PyTorch): (None, C, H, W)."]
    return "\n".join(lines)
