"""Evaluating a model on a labelled data set, in large batches under inference mode."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from digitrec.data.dataset import DigitDataset
from digitrec.models.inputs import EVAL_BATCH_SIZE, Normalization, predict_logits


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    confusion: torch.Tensor  # (10, 10): row = true class, column = predicted class
    probabilities: torch.Tensor  # (N, 10), on the CPU
    labels: torch.Tensor  # (N,), on the CPU

    @property
    def size(self) -> int:
        return int(self.labels.numel())

    @property
    def predictions(self) -> torch.Tensor:
        return self.probabilities.argmax(1)

    def precision(self) -> list[float]:
        predicted = self.confusion.sum(0).clamp(min=1)
        return (self.confusion.diag() / predicted).tolist()

    def recall(self) -> list[float]:
        actual = self.confusion.sum(1).clamp(min=1)
        return (self.confusion.diag() / actual).tolist()

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "size": self.size,
            "errors": int(self.size - self.confusion.diag().sum()),
            "per_class": [
                {"class": c, "precision": p, "recall": r, "support": int(s)}
                for c, (p, r, s) in enumerate(zip(self.precision(), self.recall(), self.confusion.sum(1).tolist()))
            ],
            "confusion_matrix": self.confusion.tolist(),
        }


def result_from_probabilities(
    probabilities: torch.Tensor, labels: torch.Tensor, loss: float | None = None
) -> EvalResult:
    """Metrics from class probabilities (N, 10); the loss defaults to their mean negative
    log-likelihood, which is how an ensemble of averaged probabilities is scored."""
    probabilities, labels = probabilities.float().cpu(), labels.cpu()
    if loss is None:
        loss = (
            -probabilities.gather(1, labels[:, None]).clamp_min(1e-12).log().mean().item()
            if len(labels)
            else float("nan")
        )
    predictions = probabilities.argmax(1)
    confusion = torch.bincount(labels * 10 + predictions, minlength=100).reshape(10, 10)
    accuracy = (predictions == labels).float().mean().item() if len(labels) else float("nan")
    return EvalResult(loss, accuracy, confusion, probabilities, labels)


def evaluate(
    model: nn.Module, data: DigitDataset, norm: Normalization, batch_size: int = EVAL_BATCH_SIZE
) -> EvalResult:
    if data.labels is None:
        raise ValueError(f"{data.name} has no labels to evaluate against")
    logits = predict_logits(model, data.images, norm, batch_size)
    labels = data.labels.to(logits.device)
    loss = F.cross_entropy(logits, labels).item() if len(labels) else float("nan")
    return result_from_probabilities(logits.softmax(1), labels, loss)
