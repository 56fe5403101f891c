"""Evaluating a saved model (run folder or checkpoint) on a data split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitrec.artifacts.checkpoint import LoadedModel, load_model
from digitrec.data import load_dataset
from digitrec.data.dataset import DigitDataset
from digitrec.errors import DataError, RunError
from digitrec.evaluation.metrics import EVAL_BATCH_SIZE, EvalResult, evaluate, predict_logits
from digitrec.fileio import atomic_write_json, read_json
from digitrec.training.config import Recipe
from digitrec.training.runs import RunFolder


@dataclass
class CheckpointEvaluation:
    result: EvalResult
    model_path: Path
    dataset: str
    split: str
    meta: dict[str, Any]
    images: Any  # the evaluated uint8 images (N, 28, 28), for the error galleries

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model_path),
            "recipe": self.meta.get("recipe"),
            "epoch": self.meta.get("epoch"),
            "dataset": self.dataset,
            "split": self.split,
            **self.result.to_dict(),
        }


def validation_set_of_run(run_dir: Path, dataset: str, data_dir: str | Path | None) -> DigitDataset:
    """Rebuild exactly the validation images a run held out, from its saved config."""
    from digitrec.training.runner import RunOptions, split_training_data

    run = RunFolder(run_dir)
    if not run.config.exists():
        raise RunError(f"--split val needs a run folder with its config.json; {run_dir} has none")
    config = read_json(run.config)
    recipe, options = Recipe.from_dict(config["recipe"]), RunOptions(**config["options"])
    _, val = split_training_data(load_dataset(dataset, "train", data_dir), recipe, options)
    if val is None:
        raise DataError(
            f"run {run_dir} trained without a validation split, so there is no validation set to evaluate on"
        )
    return val


def evaluate_saved_model(
    run_or_checkpoint: str | Path,
    split: str = "test",
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    batch_size: int = EVAL_BATCH_SIZE,
    save: bool = True,
) -> CheckpointEvaluation:
    """Evaluate on 'test' (the final number) or the run's own 'val' split.

    When given a run folder, the result is also saved there as evaluation-<split>.json.
    """
    loaded = load_model(run_or_checkpoint, device)
    dataset = dataset or loaded.meta.get("dataset", "mnist")
    if split == "val":
        data = validation_set_of_run(Path(run_or_checkpoint), dataset, data_dir)
    elif split == "test":
        data = load_dataset(dataset, "test", data_dir)
        if not data.labelled:
            raise DataError(
                f"the {dataset} test set has no labels; "
                "evaluate with --split val, or predict it with `digitrec kaggle submit`"
            )
    else:
        raise DataError(f"split must be 'test' or 'val', not {split!r}")
    result = evaluate(loaded.model, data, loaded.normalization, batch_size)
    evaluation = CheckpointEvaluation(result, loaded.path, dataset, split, loaded.meta, data.images.cpu())
    run_dir = Path(run_or_checkpoint)
    if save and run_dir.is_dir():
        atomic_write_json(run_dir / f"evaluation-{split}.json", evaluation.to_dict())
    return evaluation


def predict_classes(loaded: LoadedModel, data: DigitDataset, batch_size: int = EVAL_BATCH_SIZE):
    return predict_logits(loaded.model, data.images, loaded.normalization, batch_size).argmax(1).cpu()
