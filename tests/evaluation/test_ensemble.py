"""`digitrec ensemble`: members evaluated alone, and their averaged probabilities scored."""

import json

import pytest

from digitrec.cli import main
from digitrec.errors import DataError
from digitrec.evaluation.checkpoints import evaluate_saved_model
from digitrec.evaluation.ensemble import evaluate_ensemble
from digitrec.training import RunOptions, get_recipe, train_recipe


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, mnist_root):
    runs = []
    for seed in (0, 1):
        path = tmp_path_factory.mktemp("runs") / f"seed{seed}"
        train_recipe(
            get_recipe("fast").with_overrides(epochs=1),
            RunOptions(seed=seed, limit=1500, device="cpu"),
            path,
            mnist_root,
        )
        runs.append(path)
    return runs


@pytest.mark.mnist
def test_ensemble_averages_the_members_probabilities(two_runs, mnist_root, tmp_path, capsys):
    out_file = tmp_path / "ensemble.json"
    code = main(
        [
            "ensemble",
            *map(str, two_runs),
            "--data-dir",
            str(mnist_root),
            "--device",
            "cpu",
            "--out",
            str(out_file),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert json.loads(out_file.read_text()) == summary
    singles = [evaluate_saved_model(r, "test", data_dir=mnist_root, device="cpu", save=False) for r in two_runs]
    assert [m["accuracy"] for m in summary["members"]] == pytest.approx([s.result.accuracy for s in singles])
    averaged = (singles[0].result.probabilities + singles[1].result.probabilities) / 2
    expected = (averaged.argmax(1) == singles[0].result.labels).float().mean().item()
    assert summary["ensemble"]["accuracy"] == pytest.approx(expected)
    assert summary["dataset"] == "mnist" and summary["split"] == "test"
    assert sum(map(sum, summary["ensemble"]["confusion_matrix"])) == 10_000

    code = main(["ensemble", str(two_runs[0]), "--data-dir", str(mnist_root)])
    assert code == 2 and "two models or more" in capsys.readouterr().err


def test_members_must_read_a_labelled_test_set(tiny_run, tmp_path):
    from tests.helpers import write_kaggle_root

    root = write_kaggle_root(tmp_path, n_train=20, n_test=5)
    with pytest.raises(DataError, match="no labels"):  # trained on Kaggle's CSV, whose test set is unlabelled
        evaluate_ensemble([tiny_run, tiny_run], data_dir=root, device="cpu")
    with pytest.raises(DataError, match="at least one model"):
        evaluate_ensemble([])
