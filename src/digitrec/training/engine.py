"""The training loop: small functions that take a model, data on its device, and config.

The data lives on the device as uint8; each batch is sliced by index, converted,
augmented and normalised there. The only host synchronisations are the progress
updates and the end of each epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from digitrec.artifacts.checkpoint import save_model_checkpoint, save_train_state
from digitrec.errors import RunError
from digitrec.models.inputs import to_model_input
from digitrec.models.whitening import FIT_IMAGES, fit_fixed_layers, needs_fitting
from digitrec.training.config import Recipe
from digitrec.training.distributed import SINGLE, Distributed
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
    group: Distributed = SINGLE,
) -> tuple[float, float, int]:
    """One pass over the task's batches for an epoch; returns mean loss, accuracy and the
    number of examples, over all ranks.

    `ema`, when given, folds the weights into their moving average after every step.
    `autocast` (bf16) runs the forward pass in that dtype; weights and their gradients
    stay fp32. Under DDP `model` is the DistributedDataParallel wrapper, and `on_batch`
    sees this rank's running figures.
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
            ema.update_parameters(getattr(model, "module", model))
        stats = task.stats(output.detach(), y, loss.detach(), recipe)
        loss_sum += stats.loss_sum
        correct += stats.correct
        seen += stats.count
        if on_batch is not None and ((step + 1) % report_every == 0 or step + 1 == steps):
            on_batch(step + 1, loss_sum.item() / seen, correct.item() / seen)
    loss_total, correct_total, seen_total = group.sum(loss_sum, correct, seen)
    return loss_total / max(seen_total, 1), correct_total / max(seen_total, 1), int(seen_total)


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


RANK_SEED = 7919  # DDP: rank r's generator starts from seed + 1 + r * RANK_SEED (rank 0's is one process's)


def training_parts(
    model: nn.Module, recipe: Recipe, task: Task, seed: int, group: Distributed = SINGLE
) -> TrainingParts:
    """Also fits the model's fixed layers, if it has any not yet fitted, to the first
    training images, before the moving average copies the model."""
    if needs_fitting(model):
        sample = task.train_set.images[:FIT_IMAGES].to(next(model.parameters()).device)
        fit_fixed_layers(model, to_model_input(sample, recipe.normalization))
    optimizer = build_optimizer(model, recipe.optimizer)
    steps = task.steps_per_epoch(recipe)
    schedule = LRSchedule(optimizer, recipe.schedule, recipe.epochs, steps)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed + 1 + group.rank * RANK_SEED)
    # Batch-norm statistics are averaged with the weights (use_buffers), so the average
    # needs no extra pass over the data to fix them.
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True) if recipe.ema else None
    return TrainingParts(optimizer, schedule, generator, ema, ema.module if ema is not None else model, steps)


@dataclass
class FitResult:
    history: list[EpochStats]
    best_epoch: int
    train_seconds: float
    examples_per_epoch: int = 0  # of the last epoch, over all ranks


@dataclass
class Progress:
    """Where a run stands after its last finished epoch: what the training state holds
    besides the model, optimiser and generators."""

    history: list[EpochStats]
    best_metric: float = -math.inf
    best_epoch: int = 0
    train_seconds: float = 0.0

    @property
    def next_epoch(self) -> int:
        return len(self.history) + 1


def restore(state: dict, model: nn.Module, parts: TrainingParts, device: torch.device, group: Distributed) -> Progress:
    """Puts a run back where its training state says it stopped. Under DDP each rank
    takes back its own generators (the state holds every rank's)."""
    model.load_state_dict(state["model"])
    if parts.ema is not None:
        if state.get("ema") is None:
            raise RunError("this training state has no moving average of the weights, which its recipe keeps")
        parts.ema.load_state_dict(state["ema"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.schedule.load_state_dict(state["schedule"])
    ranks = state.get("ranks") or [state]
    if len(ranks) != group.world:
        raise RunError(
            f"this run trained on {len(ranks)} process(es); "
            f"resume it with as many (torchrun --nproc-per-node {len(ranks)}), not {group.world}"
        )
    mine = ranks[group.rank]
    parts.generator.set_state(mine["generator"])
    torch.set_rng_state(mine["torch_rng"])
    if device.type == "cuda" and mine.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(mine["cuda_rng"], device)
    history = [EpochStats(**row) for row in state["history"]]
    return Progress(history, state["best_metric"], state["best_epoch"], state["train_seconds"])


def rank_state(parts: TrainingParts, device: torch.device) -> dict:
    return {
        "generator": parts.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def train_state(model: nn.Module, parts: TrainingParts, progress: Progress, ranks: list[dict]) -> dict:
    return {
        "epoch": len(progress.history),
        "model": model.state_dict(),
        "ema": parts.ema.state_dict() if parts.ema is not None else None,
        "optimizer": parts.optimizer.state_dict(),
        "schedule": parts.schedule.state_dict(),
        **(ranks[0] if len(ranks) == 1 else {}),  # one process keeps its generators at the top
        "ranks": ranks if len(ranks) > 1 else None,  # DDP: every rank's, in rank order
        "history": [vars(h) for h in progress.history],
        "best_metric": progress.best_metric,
        "best_epoch": progress.best_epoch,
        "train_seconds": progress.train_seconds,
    }


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
    group: Distributed = SINGLE,
) -> FitResult:
    """Train for `recipe.epochs`, committing each finished epoch to `run`.

    Each epoch ends by writing the best and last checkpoints, then the training state,
    which is the commit point: a crash before it loses only the epoch in progress.
    `state` (from `load_train_state`) continues a run exactly where it stopped. Under
    DDP (`group`) every rank trains its shard and rank 0 alone writes.
    """
    reporter = reporter or TrainReporter()
    device = next(model.parameters()).device
    task.shard(group, seed)
    parts = training_parts(model, recipe, task, seed, group)
    progress = restore(state, model, parts, device, group) if state is not None else Progress([])
    trained = nn.parallel.DistributedDataParallel(model) if group.active else model
    examples = 0
    for epoch in range(progress.next_epoch, recipe.epochs + 1):
        task.set_epoch(epoch)
        reporter.epoch_started(epoch, recipe.epochs, parts.steps)
        started = time.perf_counter()
        train_loss, train_acc, examples = train_one_epoch(
            trained,
            parts.optimizer,
            parts.schedule,
            task,
            recipe,
            parts.generator,
            reporter.batch_done,
            ema=parts.ema,
            autocast=autocast,
            group=group,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
        progress.train_seconds += seconds
        group.share_buffers(parts.kept)
        val = task.validate(parts.kept, recipe)
        # Without a validation split, plateau schedules watch training accuracy and the
        # "best" checkpoint is simply the latest.
        monitored = val.accuracy if val is not None else train_acc
        parts.schedule.after_epoch(monitored)
        stats = EpochStats(
            epoch,
            train_loss,
            train_acc,
            val.loss if val else None,
            val.accuracy if val else None,
            parts.optimizer.param_groups[0]["lr"],
            seconds,
        )
        progress.history.append(stats)
        improved = val is None or monitored > progress.best_metric
        if improved:
            progress.best_metric, progress.best_epoch = monitored, epoch
        ranks = group.gather(rank_state(parts, device))
        if group.main:
            commit_epoch(
                run,
                model,
                parts,
                progress,
                ranks,
                {**checkpoint_meta, "epoch": epoch, "val_accuracy": stats.val_accuracy},
                improved=improved,
            )
        reporter.epoch_done(stats, recipe.epochs, improved)
    return FitResult(progress.history, progress.best_epoch, progress.train_seconds, examples)


def commit_epoch(
    run: RunFolder,
    model: nn.Module,
    parts: TrainingParts,
    progress: Progress,
    ranks: list[dict],
    meta: dict,
    *,
    improved: bool,
) -> None:
    """The epoch's files, the training state last: it is the commit point."""
    if improved:
        save_model_checkpoint(run.best, parts.kept, meta)
    save_model_checkpoint(run.last, parts.kept, meta)
    save_train_state(run.train_state, train_state(model, parts, progress, ranks))
    run.write_history(progress.history)
