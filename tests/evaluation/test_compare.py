import pytest

from digitrec.errors import RunError
from digitrec.evaluation.compare import compare_runs
from digitrec.fileio import read_json
from digitrec.models import ModelConfig
from digitrec.training import RunOptions, get_recipe, train_recipe
from tests.helpers import write_kaggle_root


def test_compare_rows_carry_each_runs_figures(tmp_path):
    root = write_kaggle_root(tmp_path / "data", n_train=200, n_test=10)
    small = get_recipe("fast").with_overrides(
        model=ModelConfig("fastnet", {"conv1": 4, "conv2": 8, "hidden": 16}), epochs=1, batch_size=16
    )
    big = small.with_overrides(model=ModelConfig("fastnet", {"conv1": 8, "conv2": 16, "hidden": 32}))
    a = train_recipe(small, RunOptions(dataset="kaggle", device="cpu"), tmp_path / "a", root)
    b = train_recipe(big, RunOptions(dataset="kaggle", device="cpu"), tmp_path / "b", root)
    rows = compare_runs([a.run.path, b.run.path], root, "cpu")
    assert [r["name"] for r in rows] == ["a", "b"]
    assert rows[0]["parameters"] < rows[1]["parameters"]
    for row, outcome in zip(rows, (a, b)):
        assert row["val_accuracy"] == read_json(outcome.run.metrics)["val_accuracy"]
        assert row["accuracy"] is None, "Kaggle's test set has no labels"


def test_compare_refuses_unfinished_runs(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(RunError, match="not a finished run folder"):
        compare_runs([tmp_path / "x"])
