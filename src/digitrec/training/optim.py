"""Optimisers and learning-rate schedules from their typed configs."""

from __future__ import annotations

import torch
from torch import nn

from digitrec.training.config import OptimizerConfig, ScheduleConfig


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adadelta":
        return torch.optim.Adadelta(params, lr=cfg.lr, rho=cfg.rho, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        # Keras' RMSprop adds epsilon outside the square root, as PyTorch's does.
        return torch.optim.RMSprop(
            params, lr=cfg.lr, alpha=cfg.rho, eps=cfg.eps, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
        )
    raise ValueError(f"unknown optimizer {cfg.name!r}")


class LRSchedule:
    """One interface over the four schedule kinds: the engine calls `after_batch` after
    every optimiser step and `after_epoch` with the monitored metric after every epoch."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, epochs: int, steps_per_epoch: int):
        self.cfg = cfg
        self.scheduler: object | None
        if cfg.kind == "constant":
            self.scheduler = None
        elif cfg.kind == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.kind == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="max",
                factor=cfg.factor,
                patience=cfg.patience,
                min_lr=cfg.min_lr,
                threshold=cfg.min_delta,
                threshold_mode="abs",  # Keras' min_delta is absolute
            )
        elif cfg.kind == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=[g["lr"] for g in optimizer.param_groups],
                # +1: the scheduler is stepped after the last batch too, which must not
                # run past the schedule's end (OneCycleLR would extrapolate below zero).
                total_steps=epochs * steps_per_epoch + 1,
                pct_start=cfg.pct_start,
                anneal_strategy=cfg.anneal,
                div_factor=cfg.div_factor,
                final_div_factor=cfg.final_div_factor,
                cycle_momentum=False,
            )
        else:
            raise ValueError(f"unknown schedule {cfg.kind!r}")

    def after_batch(self) -> None:
        if self.cfg.kind == "onecycle":
            self.scheduler.step()  # type: ignore[union-attr]

    def after_epoch(self, monitored: float) -> None:
        if self.cfg.kind == "step":
            self.scheduler.step()  # type: ignore[union-attr]
        elif self.cfg.kind == "plateau":
            self.scheduler.step(monitored)  # type: ignore[union-attr]

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else self.scheduler.state_dict()  # type: ignore[attr-defined]

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)  # type: ignore[attr-defined]
