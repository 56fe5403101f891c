"""Comparing finished runs: accuracy, loss, parameters and training time side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digitrec.errors import DataError, RunError
from digitrec.evaluation.checkpoints import evaluate_saved_model
from digitrec.fileio import read_json
from digitrec.training.runs import RunFolder


def compare_runs(
    paths: Sequence[str | Path], data_dir: str | Path | None = None, device: str = "auto"
) -> list[dict[str, Any]]:
    """One row per run. Test figures come from the run's evaluation-test.json, or are
    computed (and saved there) when missing; data sets without test labels get none."""
    rows = []
    for p in paths:
        run = RunFolder(p)
        if not run.finished:
            raise RunError(f"{run.path} is not a finished run folder (no metrics.json); compare finished runs only")
        metrics = read_json(run.metrics)
        evaluation_path = run.path / "evaluation-test.json"
        if evaluation_path.exists():
            test = read_json(evaluation_path)
        else:
            try:
                test = evaluate_saved_model(run.path, "test", data_dir=data_dir, device=device).to_dict()
            except DataError as e:
                if "has no labels" not in str(e):
                    raise
                test = {"accuracy": None, "loss": None}
        rows.append(
            {
                "name": run.path.name,
                "run_dir": str(run.path),
                "recipe": metrics["recipe"],
                "parameters": metrics["parameters"],
                "epochs": metrics["epochs"],
                "train_seconds": metrics["train_seconds"],
                "val_accuracy": metrics["val_accuracy"],
                "accuracy": test["accuracy"],
                "loss": test["loss"],
            }
        )
    return rows
