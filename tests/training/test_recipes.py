import dataclasses

import pytest

from digitrec.data.synthetic_fields import FieldConfig
from digitrec.errors import ConfigError
from digitrec.models import build_model, count_parameters
from digitrec.training import RECIPES, TUTORIAL_RECIPES, Recipe, get_recipe
from digitrec.training.config import AugmentConfig
from digitrec.training.recipes import describe_recipe, recipe_listing


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


def test_the_listing_has_every_recipe_in_order_with_its_models_size():
    rows = recipe_listing()
    assert [r["name"] for r in rows] == list(RECIPES)
    for row in rows:
        recipe = RECIPES[row["name"]]
        assert row["parameters"] == count_parameters(build_model(recipe.model))
        assert (row["summary"], row["published"]) == (recipe.summary, recipe.published)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_described_with_its_model_layer_by_layer(name):
    """Readers included: their summary is traced on a strip of the height they read (it
    failed on the field reader's 96 pixels, and on every reader's LSTM)."""
    described = describe_recipe(name)
    assert described.parameters == sum(layer.params for layer in described.layers) > 0
    d = described.to_dict()
    assert d["recipe"] == RECIPES[name].to_dict() and len(d["layers"]) == len(described.layers)
    assert f"Total params: {described.parameters:,}" in described.model_summary()


def test_a_recipes_settings_read_as_its_source_states_them():
    kaggle = describe_recipe("kaggle-cnn-augmented")
    assert kaggle.layers[0].output_shape == (32, 28, 28)
    assert kaggle.settings_lines() == [
        f"source: {kaggle.recipe.source}",
        "published: 0.99286 Kaggle public score",
        "optimizer: rmsprop lr 0.001 rho 0.9 eps 1e-08",
        "schedule: plateau  epochs: 30  batch size: 86  validation split: 0.1",
        "augmentation: rotation ±10°, zoom ±10%, shift ±10%  label smoothing: 0",
    ]
    best = describe_recipe("best").settings_lines()
    assert not any(line.startswith("published:") for line in best), "nothing published: no line"
    assert "betas (0.9, 0.99)" in best[1] and best[-1].endswith("label smoothing: 0.1  weight EMA: 0.999")
    assert describe_recipe("quick").settings_lines()[-1] == "augmentation: none  label smoothing: 0.1"
    assert describe_recipe("deep-cnn-rmsprop").to_dict()["layers"][0] == {
        "name": "conv2d",
        "type": "Conv2d",
        "output_shape": [16, 26, 26],
        "params": 160,
    }
