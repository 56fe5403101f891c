"""Ensembles: several trained models read each image, and their probabilities are averaged.

Members are evaluated on the same labelled test set (a validation split differs from run
to run, so it cannot score an ensemble). The ensemble is scored like any model.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from digitrec.errors import DataError
from digitrec.evaluation.checkpoints import CheckpointEvaluation, evaluate_saved_model
from digitrec.evaluation.metrics import result_from_probabilities


@dataclass
class EnsembleEvaluation:
    members: list[CheckpointEvaluation]
    ensemble: CheckpointEvaluation

    def to_dict(self) -> dict[str, Any]:
        accuracies = [m.result.accuracy for m in self.members]
        return {
            "members": [
                {
                    "model": str(m.model_path),
                    "recipe": m.meta.get("recipe"),
                    "accuracy": m.result.accuracy,
                    "loss": m.result.loss,
                }
                for m in self.members
            ],
            "accuracy_mean": statistics.mean(accuracies),
            "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
            "std": "sample standard deviation (n - 1)",
            "ensemble": self.ensemble.result.to_dict(),
            "dataset": self.ensemble.dataset,
            "split": self.ensemble.split,
        }


def evaluate_ensemble(
    models: list[str | Path],
    folder: str | Path | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    save: bool = False,
) -> EnsembleEvaluation:
    """Each model (a run folder or checkpoint) on the test set, and their averaged-probability
    ensemble. `save` also writes each member's evaluation-test.json into its run folder."""
    members = [
        evaluate_saved_model(m, "test", dataset=dataset, data_dir=data_dir, device=device, save=save) for m in models
    ]
    return ensemble_of(members, folder)


def ensemble_of(members: list[CheckpointEvaluation], folder: str | Path | None = None) -> EnsembleEvaluation:
    """The averaged-probability ensemble of models already evaluated on one test set."""
    if not members:
        raise DataError("an ensemble needs at least one model")
    first = members[0]
    for m in members[1:]:
        if m.dataset != first.dataset or not torch.equal(m.result.labels, first.result.labels):
            raise DataError(
                f"{m.model_path} was evaluated on {m.dataset}, {first.model_path} on {first.dataset}: "
                f"an ensemble's members must read the same test set (pass --dataset)"
            )
    averaged = torch.stack([m.result.probabilities for m in members]).mean(0)
    result = result_from_probabilities(averaged, first.result.labels)
    meta = {"recipe": "+".join(sorted({str(m.meta.get("recipe")) for m in members})), "epoch": None}
    ensemble = CheckpointEvaluation(
        result, Path(folder) if folder else first.model_path, first.dataset, "test", meta, first.images
    )
    return EnsembleEvaluation(members, ensemble)
