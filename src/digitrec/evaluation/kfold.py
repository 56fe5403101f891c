"""K-fold cross-validation: K ordinary runs, one per validation fold, in one folder.

    runs/kfold-<recipe>-<time>/
      kfold.json        the recipe, run options and K
      fold-1/ ... fold-K/   complete run folders (each resumable on its own)
      results.json      per-fold figures, mean ± std, test and ensemble figures; marks it finished

Every fold's model and history are kept (a tutorial kept only its last fold's).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from digitrec.errors import RunError
from digitrec.evaluation.ensemble import evaluate_ensemble
from digitrec.evaluation.report import write_kfold_report
from digitrec.fileio import atomic_write_json, read_json
from digitrec.training.config import Recipe
from digitrec.training.engine import TrainReporter
from digitrec.training.runner import RunOptions, resume_run, train_recipe
from digitrec.training.runs import EpochStats, RunFolder, hold_folder

KFOLD_CONFIG = "kfold.json"
KFOLD_RESULTS = "results.json"
DEFAULT_FOLDS = 5


@dataclass
class FoldOutcome:
    fold: int
    run: RunFolder
    metrics: dict[str, Any]
    history: list[EpochStats]


@dataclass
class KFoldOutcome:
    folder: Path
    recipe: Recipe
    folds: list[FoldOutcome]
    results: dict[str, Any]
    ensemble: Any = None  # CheckpointEvaluation of the averaged-probability ensemble, with --test
    report: Path | None = None  # the folder's report.html, once written


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1), 0 for a single value."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _start_or_resume(
    folder: Path, recipe: Recipe | None, options: RunOptions | None, folds: int | None
) -> tuple[Recipe, RunOptions, int]:
    config_path = folder / KFOLD_CONFIG
    if config_path.exists():
        if (folder / KFOLD_RESULTS).exists():
            raise RunError(f"{folder} holds a finished K-fold run, which is never overwritten; choose another --out")
        config = read_json(config_path)
        return Recipe.from_dict(config["recipe"]), RunOptions(**config["options"]), int(config["folds"])
    if recipe is None or options is None or folds is None:
        raise RunError(f"cannot resume {folder}: it has no {KFOLD_CONFIG}, so it is not a K-fold folder")
    if folder.exists() and any(p.name != ".lock" for p in folder.iterdir()):
        raise RunError(f"{folder} exists and is not empty; choose another --out")
    if folds < 2:
        raise RunError(f"K-fold needs at least 2 folds, got {folds}")
    atomic_write_json(config_path, {"recipe": recipe.to_dict(), "options": options.to_dict(), "folds": folds})
    return recipe, options, folds


def cross_validate(
    recipe: Recipe,
    options: RunOptions,
    folds: int | None = None,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    reporter_for: Callable[[int, int], TrainReporter | None] = lambda k, n: None,
    test: bool = False,
) -> KFoldOutcome:
    """Cross-validate `recipe` in a new folder, `out` or runs/kfold-<recipe>-<time>, on
    `folds` folds (default 5); `run_kfold` with the defaults `digitrec kfold` starts with."""
    folder = out or RunFolder.default_path(f"kfold-{recipe.name}")
    return run_kfold(folder, recipe, options, folds or DEFAULT_FOLDS, data_dir, reporter_for, test)


def run_kfold(
    folder: str | Path,
    recipe: Recipe | None = None,
    options: RunOptions | None = None,
    folds: int | None = None,
    data_dir: str | Path | None = None,
    reporter_for: Callable[[int, int], TrainReporter | None] = lambda k, n: None,
    test: bool = False,
    device: str | None = None,
) -> KFoldOutcome:
    """Train (or finish) every fold; without recipe/options/folds, resume `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = hold_folder(folder, "K-fold")
    try:
        return _run_folds(folder, recipe, options, folds, data_dir, reporter_for, test, device)
    finally:
        lock.close()


def _run_folds(folder, recipe, options, folds, data_dir, reporter_for, test, device) -> KFoldOutcome:
    recipe, options, folds = _start_or_resume(folder, recipe, options, folds)
    if device is not None:
        options = replace(options, device=device)
    outcomes = []
    for k in range(1, folds + 1):
        run = RunFolder(folder / f"fold-{k}")
        reporter = reporter_for(k, folds)
        if run.finished:
            outcomes.append(FoldOutcome(k, run, read_json(run.metrics), run.read_history()))
            continue
        if run.config.exists():  # the fold that was interrupted
            outcome = resume_run(run.path, data_dir, reporter, device=options.device)
        else:
            outcome = train_recipe(recipe, replace(options, fold=k, folds=folds), run.path, data_dir, reporter)
        outcomes.append(FoldOutcome(k, run, outcome.metrics, outcome.fit.history))
    results = summarize_folds(outcomes)
    ensemble = None
    if test:
        results["test"], ensemble = evaluate_folds_on_test(folder, outcomes, data_dir, options.device)
    outcome = KFoldOutcome(folder, recipe, outcomes, results, ensemble)
    outcome.report = write_kfold_report(outcome)
    atomic_write_json(folder / KFOLD_RESULTS, results)  # last: it marks the folder finished
    return outcome


def summarize_folds(outcomes: list[FoldOutcome]) -> dict[str, Any]:
    per_fold = [
        {
            "fold": o.fold,
            "val_loss": o.metrics["val_loss"],
            "val_accuracy": o.metrics["val_accuracy"],
            "best_epoch": o.metrics["best_epoch"],
            "train_seconds": o.metrics["train_seconds"],
            "run_dir": str(o.run.path),
        }
        for o in outcomes
    ]
    acc_mean, acc_std = mean_std([f["val_accuracy"] for f in per_fold])
    loss_mean, loss_std = mean_std([f["val_loss"] for f in per_fold])
    return {
        "folds": per_fold,
        "val_accuracy_mean": acc_mean,
        "val_accuracy_std": acc_std,
        "val_loss_mean": loss_mean,
        "val_loss_std": loss_std,
        "std": "sample standard deviation (n - 1)",
    }


def evaluate_folds_on_test(
    folder: Path, outcomes: list[FoldOutcome], data_dir: str | Path | None, device: str
) -> tuple[dict[str, Any], Any]:
    """Each fold model on the test set, and the ensemble that averages their probabilities."""

    evaluated = evaluate_ensemble([o.run.path for o in outcomes], folder, data_dir=data_dir, device=device, save=True)
    summary = evaluated.to_dict()
    return {
        "per_fold": [
            {"fold": o.fold, "accuracy": m["accuracy"], "loss": m["loss"]} for o, m in zip(outcomes, summary["members"])
        ],
        "accuracy_mean": summary["accuracy_mean"],
        "accuracy_std": summary["accuracy_std"],
        "ensemble": summary["ensemble"],
    }, evaluated.ensemble
