"""Starting and resuming a training run: data, split, model, then the engine."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from digitrec.artifacts.checkpoint import library_versions, load_train_state
from digitrec.data import kfold_indices, load_dataset, train_val_indices
from digitrec.data.dataset import DigitDataset
from digitrec.device import autocast_dtype, check_precision, precision_name, select_device
from digitrec.errors import ConfigError, RunError
from digitrec.fileio import atomic_write_json, read_json
from digitrec.models.registry import build_model, count_parameters
from digitrec.processes import TRAINING_MMAP_THRESHOLD, TRAINING_TRIM_THRESHOLD, keep_freed_memory
from digitrec.training.config import ReaderConfig, Recipe
from digitrec.training.distributed import Distributed, from_environment
from digitrec.training.engine import FitResult, TrainReporter, fit
from digitrec.training.recipes import DEFAULT_RECIPE, RECIPES, get_recipe
from digitrec.training.runs import RunFolder
from digitrec.training.tasks import ClassificationTask, Task


@dataclass(frozen=True)
class RunOptions:
    """How a recipe is run, as opposed to what it is."""

    dataset: str = "mnist"
    seed: int = 0
    limit: int | None = None  # train on a random subset of this many images
    device: str = "auto"
    fold: int | None = None  # K-fold: validate on fold `fold` (1-based) of `folds`,
    folds: int | None = None  # instead of the recipe's validation split
    precision: str = "auto"  # autocast of the training forward pass: auto (bf16 on CUDA), fp32 or bf16
    init: str | None = None  # start from this trained model's weights (fine-tuning)

    def __post_init__(self) -> None:
        check_precision(self.precision)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_run_settings(
    recipe_name: str | None = None, overrides: dict[str, Any] | None = None, **options: Any
) -> tuple[Recipe, RunOptions]:
    """What a new run trains and how: the recipe called `recipe_name` (default fast) with
    its `overrides` (see `Recipe.with_overrides`), and the run options. A setting that is
    None or empty was not given and keeps its default, so a command passes its flags as
    they came (None, so that --resume can tell a flag left out from one given)."""
    recipe = get_recipe(recipe_name or DEFAULT_RECIPE).with_overrides(**(overrides or {}))
    return recipe, RunOptions(**{k: v for k, v in options.items() if v not in (None, "")})


@dataclass
class TrainOutcome:
    run: RunFolder
    recipe: Recipe
    fit: FitResult
    metrics: dict[str, Any]


def split_training_data(
    full: DigitDataset, recipe: Recipe, options: RunOptions
) -> tuple[DigitDataset, DigitDataset | None]:
    data = full
    if options.limit is not None:
        if options.limit < 2:
            raise ConfigError(f"--limit must be at least 2, got {options.limit}")
        if options.limit < len(full):
            chosen = torch.randperm(len(full), generator=torch.Generator().manual_seed(options.seed))[: options.limit]
            data = full.subset(chosen.sort().values)
    if options.folds is not None:
        if options.fold is None or not 1 <= options.fold <= options.folds:
            raise ConfigError(f"fold must be between 1 and {options.folds}, got {options.fold}")
        train_idx, val_idx = kfold_indices(len(data), options.folds, options.seed)[options.fold - 1]
        return data.subset(train_idx, f"{data.name}-train"), data.subset(val_idx, f"{data.name}-fold{options.fold}")
    if recipe.val_split == 0:
        return data, None
    train_idx, val_idx = train_val_indices(len(data), recipe.val_split, options.seed)
    return data.subset(train_idx, f"{data.name}-train"), data.subset(val_idx, f"{data.name}-val")


def build_task(recipe: Recipe, options: RunOptions, data_dir: str | Path | None, device: torch.device) -> Task:
    """The recipe's data as a task for the engine: digits for a classifier, fields for a reader."""
    if recipe.reader is not None:
        from digitrec.training.reader_data import reader_task

        return reader_task(recipe.reader, options, data_dir, device)
    train_set, val_set = split_training_data(load_dataset(options.dataset, "train", data_dir), recipe, options)
    return ClassificationTask(train_set.to(device), val_set.to(device) if val_set is not None else None)


def checkpoint_meta_of(recipe: Recipe, options: RunOptions, model: torch.nn.Module) -> dict[str, Any]:
    meta = {
        "model": recipe.model.to_dict(),
        "recipe": recipe.name,
        "normalization": asdict(recipe.normalization),
        "parameters": count_parameters(model),
        "dataset": options.dataset,
        "recipe_config": recipe.to_dict(),
    }
    if recipe.reader is not None:
        meta.update(reader_meta(recipe.reader))
    return meta


def _run(
    run: RunFolder,
    recipe: Recipe,
    options: RunOptions,
    data_dir: str | Path | None,
    reporter: TrainReporter | None,
    state: dict | None,
    init_weights: dict[str, torch.Tensor] | None = None,
    group: Distributed | None = None,
) -> TrainOutcome:
    group = group or from_environment()
    device = select_device(group.device(options.device))
    if device.type == "cpu":
        keep_freed_memory(TRAINING_MMAP_THRESHOLD, TRAINING_TRIM_THRESHOLD)
    task = build_task(recipe, options, data_dir, device)
    torch.manual_seed(options.seed)  # weight init and dropout
    model = build_model(recipe.model).to(device)
    if init_weights is not None:
        model.load_state_dict(init_weights)
    checkpoint_meta = checkpoint_meta_of(recipe, options, model)
    started = time.perf_counter()
    autocast = autocast_dtype(options.precision, device)
    result = fit(model, recipe, task, run, options.seed, checkpoint_meta, reporter, state, autocast, group)
    best = next(h for h in result.history if h.epoch == result.best_epoch)
    last = result.history[-1]
    metrics = {
        "recipe": recipe.name,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "selected_by": "val_accuracy" if task.val_size else "last epoch (no validation split)",
        "val_accuracy": best.val_accuracy,
        "val_loss": best.val_loss,
        "train_accuracy": last.train_accuracy,
        "train_loss": last.train_loss,
        "train_seconds": result.train_seconds,
        "wall_seconds": time.perf_counter() - started,
        "parameters": count_parameters(model),
        "train_size": task.train_size,
        "val_size": task.val_size,
        "device": str(device),
        "threads": torch.get_num_threads(),  # with train_seconds: the core-hours behind the model
        "precision": precision_name(autocast),
        "processes": group.world,  # ranks of torch.distributed that trained it
        "examples_per_epoch": result.examples_per_epoch,  # seen by all ranks together
    }
    if group.main:
        atomic_write_json(run.metrics, metrics)  # marks the run finished
    return TrainOutcome(run, recipe, result, metrics)


def reader_meta(config: ReaderConfig) -> dict[str, Any]:
    """What a runtime needs to turn a reader's outputs into digits and boxes, and what
    its input is: a whole field (`preprocess.field_image`) or a strip cut by the field finder."""
    from digitrec.artifacts.schema import DIGITS
    from digitrec.models.reader import BLANK, STRIDE
    from digitrec.preprocess.fields import STRIP_HEIGHT

    if config.fields is not None:
        layout, height, ink = "field", config.fields.height, "bright on dark, a whole field"
    else:
        layout, height, ink = "strip", STRIP_HEIGHT, "bright on dark, a field strip"
    shape = {"shape": [1, height, None], "dtype": "uint8", "ink": ink, "layout": layout}
    if layout == "strip":
        shape["cut"] = "rules" if config.finder is None else "finder"  # what cut the strips it learned from
    return {"kind": "reader", "alphabet": DIGITS, "blank": BLANK, "stride": STRIDE, "input": shape}


def init_weights_of(init: str, recipe: Recipe) -> dict[str, torch.Tensor]:
    """Fine-tuning: the weights of a trained model, checked to fit the recipe's
    architecture (before a run folder is made for them)."""
    from digitrec.artifacts.checkpoint import load_model

    loaded = load_model(init, "cpu")
    if loaded.meta.get("model") != recipe.model.to_dict():
        arch = loaded.meta.get("model", {}).get("arch")
        fitting = [r.name for r in RECIPES.values() if r.model.to_dict() == loaded.meta.get("model")]
        hint = f": fine-tune it with --recipe {' or '.join(fitting)}" if fitting else ""
        raise ConfigError(
            f"--init {init} is a {arch!r} model; recipe {recipe.name} trains {recipe.model.arch!r} "
            f"with other options{hint}"
        )
    return loaded.model.state_dict()


def train_recipe(
    recipe: Recipe,
    options: RunOptions,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    reporter: TrainReporter | None = None,
    group: Distributed | None = None,
) -> TrainOutcome:
    """Train `recipe` into a new run folder. Under torchrun (`group`, else the one torchrun
    set up) every rank trains and rank 0 alone makes and writes the folder."""
    recipe.validate()
    group = group or from_environment()
    init_weights = init_weights_of(options.init, recipe) if options.init is not None else None
    if not group.main:
        path = group.broadcast(None)  # where rank 0 made the folder
        return _run(
            RunFolder(path), recipe, options, data_dir, None, state=None, init_weights=init_weights, group=group
        )
    run = RunFolder.create(out or RunFolder.default_path(recipe.name)).hold()
    try:
        atomic_write_json(
            run.config,
            {"recipe": recipe.to_dict(), "options": options.to_dict(), "versions": library_versions()},
        )
        group.broadcast(str(run.path))
        return _run(run, recipe, options, data_dir, reporter, state=None, init_weights=init_weights, group=group)
    finally:
        run.release()


def resume_run(
    path: str | Path,
    data_dir: str | Path | None = None,
    reporter: TrainReporter | None = None,
    device: str | None = None,
    group: Distributed | None = None,
) -> TrainOutcome:
    """Continue an interrupted run from its last finished epoch, with its own config.
    Under torchrun rank 0 holds the folder; the other ranks only read it."""
    group = group or from_environment()
    run = RunFolder.open_unfinished(path) if group.main else RunFolder(path)  # rank 0 holds its lock
    try:
        group.broadcast(None)  # the other ranks read the folder once rank 0 has tidied it
        recipe, options = run_settings(run)
        if device is not None:
            options = RunOptions(**{**options.to_dict(), "device": device})
        state = load_train_state(run.train_state) if run.train_state.exists() else None
        return _run(run, recipe, options, data_dir, reporter if group.main else None, state, group=group)
    finally:
        if group.main:
            run.release()


def run_settings(run: RunFolder) -> tuple[Recipe, RunOptions]:
    """The recipe and options a run was started with, from its config.json."""
    config = read_json(run.config)
    try:
        return Recipe.from_dict(config["recipe"]), RunOptions(**config["options"])
    except (KeyError, TypeError) as e:
        raise RunError(f"{run.config} is not a valid run config ({e})") from None
