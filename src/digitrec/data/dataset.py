"""The in-memory form every data source is turned into."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DigitDataset:
    """Digit images as uint8 (N, 28, 28), white ink on black as in MNIST, with labels.

    Images stay uint8 wherever they live (4x less memory and bandwidth than float);
    normalisation happens per batch on the device. `labels` is None for unlabelled data
    such as Kaggle's test.csv.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 3:
            raise ValueError(f"images must be uint8 (N, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.images)} images but labels of shape {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def subset(self, indices: torch.Tensor, name: str | None = None) -> DigitDataset:
        labels = None if self.labels is None else self.labels[indices]
        return DigitDataset(self.images[indices], labels, name or self.name)

    def head(self, n: int) -> DigitDataset:
        return DigitDataset(self.images[:n], None if self.labels is None else self.labels[:n], self.name)

    def to(self, device: torch.device | str) -> DigitDataset:
        labels = None if self.labels is None else self.labels.to(device)
        return DigitDataset(self.images.to(device), labels, self.name)

    def class_counts(self, num_classes: int = 10) -> list[int]:
        if self.labels is None:
            return []
        return torch.bincount(self.labels.cpu(), minlength=num_classes).tolist()
