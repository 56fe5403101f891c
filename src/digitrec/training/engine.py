"""The training loop: small functions that take a model, data on its device, and config.

The data lives on the device as uint8; each batch is sliced by index, converted,
augmented and normalised there. The only host synchronisations are the progress
updates and the end of each epoch.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from digitrec.errors import RunError
from digitrec.artifacts.checkpoint import save_model_checkpoint, save_train_state
from digitrec.training.config import Recipe
from digitrec.training.optim import LRSchedule, build_optimizer
from digitrec.training.runs import EpochStats, RunFolder
from digitrec.training.tasks import Task

BatchCallback = Callable[[int, float, float], None]  # (step, running loss, running accuracy)


class TrainReporter:
    """Hooks for progress display; the default shows nothing."""

    def epoch_started(self, epoch: int, epochs: int, steps: int) -> None: ...

    def batch_done(self, step: int, loss: float, accuracy: float) -> None: ...

    def epoch_done(self, stats: EpochStats, epochs: int, improved: bool) -> None: ...


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: LRSchedule,
    task: Task,
    recipe: Recipe,
    generator: torch.Generator,
    on_batch: BatchCallback | None = None,
    report_every: int = 10,
    ema: AveragedModel | None = None,
    autocast: torch.dtype | None = None,
) -> tuple[float, float]:
    """One pass over the task's batches for an epoch; returns mean loss and accuracy.

    `ema`, when given, folds the weights into their moving average after every step.
    `autocast` (bf16) runs the forward pass in that dtype; weights and their gradients
    stay fp32.
    """
    model.train()
    device = next(model.parameters()).device
    steps = task.steps_per_epoch(recipe)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for step, (x, y) in enumerate(task.batches(recipe, generator)):
        with torch.autocast(device.type, dtype=autocast) if autocast is not None else nullcontext():
            output = model(x)
            loss = task.loss(output, y, recipe)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.after_batch()
        if ema is not None:
            ema.update_parameters(model)
        stats = task.stats(output.detach(), y, loss.detach(), recipe)
        loss_sum += stats.loss_sum
        correct += stats.correct
        seen += stats.count
        if on_batch is not None and ((step + 1) % report_every == 0 or step + 1 == steps):
            on_batch(step + 1, loss_sum.item() / seen, correct.item() / seen)
    return loss_sum.item() / max(seen, 1), correct.item() / max(seen, 1)


@dataclass
class TrainingParts:
    """What trains a model besides its data, built in one place so that `fit` and the
    benchmarks train alike."""

    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    generator: torch.Generator  # data order and augmentation; dropout draws from torch's
    ema: AveragedModel | None  # the moving average of the weights that `recipe.ema` asks for
    kept: nn.Module  # the model that is validated and saved: the average, else the model
    steps: int  # optimiser steps per epoch


def training_parts(model: nn.Module, recipe: Recipe, task: Task, seed: int) -> TrainingParts:
    optimizer = build_optimizer(model, recipe.optimizer)
    steps = task.steps_per_epoch(recipe)
    schedule = LRSchedule(optimizer, recipe.schedule, recipe.epochs, steps)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed + 1)
    # Batch-norm statistics are averaged with the weights (use_buffers), so the average
    # needs no extra pass over the data to fix them.
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True) if recipe.ema else None
    return TrainingParts(optimizer, schedule, generator, ema, ema.module if ema is not None else model, steps)


@dataclass
class FitResult:
    history: list[EpochStats]
    best_epoch: int
    train_seconds: float


def fit(
    model: nn.Module,
    recipe: Recipe,
    task: Task,
    run: RunFolder,
    seed: int,
    checkpoint_meta: dict,
    reporter: TrainReporter | None = None,
    state: dict | None = None,
    autocast: torch.dtype | None = None,
) -> FitResult:
    """Train for `recipe.epochs`, committing each finished epoch to `run`.

    Each epoch ends by writing the best and last checkpoints, then the training state,
    which is the commit point: a crash before it loses only the epoch in progress.
    `state` (from `load_train_state`) continues a run exactly where it stopped.
    """
    reporter = reporter or TrainReporter()
    device = next(model.parameters()).device
    parts = training_parts(model, recipe, task, seed)
    optimizer, schedule, generator, ema, kept, steps = (
        parts.optimizer, parts.schedule, parts.generator, parts.ema, parts.kept, parts.steps
    )
    history: list[EpochStats] = []
    best_metric, best_epoch, train_seconds, start_epoch = -math.inf, 0, 0.0, 1
    if state is not None:
        model.load_state_dict(state["model"])
        if ema is not None:
            if state.get("ema") is None:
                raise RunError("this training state has no moving average of the weights, which its recipe keeps")
            ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history = [EpochStats(**row) for row in state["history"]]
        best_metric, best_epoch = state["best_metric"], state["best_epoch"]
        train_seconds, start_epoch = state["train_seconds"], state["epoch"] + 1

    for epoch in range(start_epoch, recipe.epochs + 1):
        reporter.epoch_started(epoch, recipe.epochs, steps)
        started = time.perf_counter()
        train_loss, train_acc = train_one_epoch(
            model, optimizer, schedule, task, recipe, generator, reporter.batch_done, ema=ema, autocast=autocast
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
        train_seconds += seconds
        lr = optimizer.param_groups[0]["lr"]
        val = task.validate(kept, recipe)
        # Without a validation split, plateau schedules watch training accuracy and the
        # "best" checkpoint is simply the latest.
        monitored = val.accuracy if val is not None else train_acc
        schedule.after_epoch(monitored)
        stats = EpochStats(
            epoch, train_loss, train_acc, val.loss if val else None, val.accuracy if val else None, lr, seconds
        )
        history.append(stats)
        improved = val is None or monitored > best_metric
        meta = {**checkpoint_meta, "epoch": epoch, "val_accuracy": stats.val_accuracy}
        if improved:
            best_metric, best_epoch = monitored, epoch
            save_model_checkpoint(run.best, kept, meta)
        save_model_checkpoint(run.last, kept, meta)
        save_train_state(
            run.train_state,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "history": [vars(h) for h in history],
                "best_metric": best_metric,
                "best_epoch": best_epoch,
                "train_seconds": train_seconds,
            },
        )
        run.write_history(history)
        reporter.epoch_done(stats, recipe.epochs, improved)
    return FitResult(history, best_epoch, train_seconds)
