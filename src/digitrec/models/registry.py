"""Architectures by name, and the config that rebuilds one with no training code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from digitrec.errors import ConfigError

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        ARCHITECTURES[name] = builder
        return builder

    return add


@dataclass(frozen=True)
class ModelConfig:
    """An architecture name and the keyword arguments of its builder.

    Saved in every checkpoint, so a predictor or server rebuilds the model from the
    checkpoint alone.
    """

    arch: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(arch=d["arch"], options=dict(d.get("options", {})))


def build_model(config: ModelConfig) -> nn.Module:
    # Importing here registers every architecture before the lookup.
    from digitrec.models import ours, reader, tutorials  # noqa: F401

    if config.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {config.arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    try:
        model = ARCHITECTURES[config.arch](**config.options)
    except TypeError as e:
        raise ConfigError(f"architecture {config.arch!r} does not take these options {config.options}: {e}") from None
    # Channels-last convolutions run about twice as fast on CPU (oneDNN) and use tensor
    # cores on GPU; the input side of this lives in training.augment.prepare_batch.
    return model.to(memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
