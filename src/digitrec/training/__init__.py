"""Recipes, augmentation, the training engine and checkpoints."""

from digitrec.training.config import AugmentConfig, Normalization, OptimizerConfig, Recipe, ScheduleConfig
from digitrec.training.recipes import RECIPES, TUTORIAL_RECIPES, get_recipe
from digitrec.training.runner import RunOptions, resume_run, train_recipe

__all__ = [
    "RECIPES",
    "TUTORIAL_RECIPES",
    "AugmentConfig",
    "Normalization",
    "OptimizerConfig",
    "Recipe",
    "RunOptions",
    "ScheduleConfig",
    "get_recipe",
    "resume_run",
    "train_recipe",
]
