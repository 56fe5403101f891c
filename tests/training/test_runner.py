"""What a new run is started with: the recipe and options a command's flags make."""

import pytest

from digitrec.errors import ConfigError
from digitrec.training import RunOptions, get_recipe
from digitrec.training.runner import new_run_settings


def test_flags_left_out_keep_the_recipes_and_the_options_defaults():
    recipe, options = new_run_settings(None, {"epochs": None, "lr": None}, dataset=None, seed=None, precision="")
    assert recipe == get_recipe("fast") and options == RunOptions()


def test_flags_given_change_the_recipe_and_the_options():
    recipe, options = new_run_settings(
        "mlp", {"epochs": 3, "lr": 0.01}, dataset="kaggle", seed=0, limit=5000, device="cpu", precision="bf16"
    )
    assert (recipe.name, recipe.epochs, recipe.optimizer.lr) == ("mlp", 3, 0.01)
    assert recipe.batch_size == get_recipe("mlp").batch_size, "an override left out keeps the recipe's own"
    assert options == RunOptions(dataset="kaggle", seed=0, limit=5000, device="cpu", precision="bf16")


def test_settings_that_cannot_be_run_are_refused_by_name():
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        new_run_settings("nope")
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        new_run_settings("fast", precision="fp16")
