import dataclasses

import pytest

from digitrec.data.synthetic_fields import FieldConfig
from digitrec.errors import ConfigError
from digitrec.models import build_model
from digitrec.training import RECIPES, TUTORIAL_RECIPES, Recipe, get_recipe
from digitrec.training.config import AugmentConfig


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_round_trips_through_json_and_builds(name):
    recipe = RECIPES[name]
    recipe.validate()
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    assert recipe.source, "every recipe names its source"
    build_model(recipe.model)


def test_tutorial_recipes_use_their_published_settings():
    assert set(TUTORIAL_RECIPES) <= set(RECIPES)
    adadelta = get_recipe("keras-mnist-cnn").optimizer
    assert (adadelta.name, adadelta.lr, adadelta.rho, adadelta.eps) == ("adadelta", 1.0, 0.95, 1e-7)
    kaggle = get_recipe("kaggle-cnn-augmented")
    assert (kaggle.optimizer.name, kaggle.optimizer.eps, kaggle.batch_size, kaggle.epochs) == ("rmsprop", 1e-8, 86, 30)
    assert (kaggle.schedule.kind, kaggle.schedule.patience, kaggle.schedule.factor, kaggle.schedule.min_lr) == (
        "plateau",
        3,
        0.5,
        1e-5,
    )
    assert (kaggle.augment.rotation, kaggle.augment.zoom, kaggle.augment.shift) == (10, 0.1, 0.1)
    deep = get_recipe("deep-cnn-rmsprop")
    assert (deep.batch_size, deep.epochs, deep.val_split) == (512, 60, 0.25)
    assert (get_recipe("mlp").batch_size, get_recipe("mlp").epochs) == (32, 100)
    assert (get_recipe("cnn-adadelta").batch_size, get_recipe("cnn-adadelta").epochs) == (100, 8)


def test_overrides():
    r = get_recipe("fast").with_overrides(epochs=2, lr=0.1, batch_size=None)
    assert r.epochs == 2 and r.optimizer.lr == 0.1 and r.batch_size == get_recipe("fast").batch_size
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        get_recipe("fast").with_overrides(epochs=0)
    with pytest.raises(ConfigError, match="validation split"):
        get_recipe("fast").with_overrides(val_split=1.5)
    with pytest.raises(ConfigError, match="unknown recipe"):
        get_recipe("nope")
    with pytest.raises(ConfigError, match="fill must be one of zeros, nearest"):
        get_recipe("fast").with_overrides(augment=AugmentConfig(shift=0.1, fill="reflect"))


def test_a_reader_recipe_that_cannot_be_trained_as_written_is_refused():
    whole = get_recipe("reader")  # reads whole fields
    with pytest.raises(ConfigError, match=r"cut_fields .* has no strips to cut"):
        whole.with_overrides(reader=dataclasses.replace(whole.reader, cut_fields=FieldConfig()))
    reader = get_recipe("strip-reader")
    with pytest.raises(ConfigError, match="cut_share is a fraction"):
        reader.with_overrides(reader=dataclasses.replace(reader.reader, cut_fields=FieldConfig(), cut_share=1.5))
    with pytest.raises(ConfigError, match="real_share is a fraction"):
        reader.with_overrides(reader=dataclasses.replace(reader.reader, real_share=-0.1))
    reader.with_overrides(
        reader=dataclasses.replace(reader.reader, cut_fields=FieldConfig())
    )  # strips cut from fields: fine


def test_the_kaggle_kernels_augmentation_is_keras_image_data_generators():
    """ImageDataGenerator(rotation_range=10, zoom_range=0.1, width_shift_range=0.1,
    height_shift_range=0.1), fill_mode left at its default."""
    assert get_recipe("kaggle-cnn-augmented").augment == AugmentConfig(
        rotation=10.0, zoom=0.1, shift=0.1, zoom_each_axis=True, fill="nearest"
    )


def test_unknown_field_in_saved_recipe_is_rejected():
    d = get_recipe("mlp").to_dict()
    d["optimizer"]["momentun"] = 0.9
    with pytest.raises(ConfigError, match="OptimizerConfig has no field momentun"):
        Recipe.from_dict(d)


def test_recipes_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_recipe("fast").epochs = 3  # type: ignore[misc]
