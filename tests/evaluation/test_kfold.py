import statistics
from pathlib import Path

import pytest
import torch

from digitrec.data import load_dataset
from digitrec.errors import RunError
from digitrec.evaluation.checkpoints import evaluate_saved_model
from digitrec.evaluation.kfold import DEFAULT_FOLDS, cross_validate, run_kfold
from digitrec.fileio import read_json
from digitrec.training import RunOptions, get_recipe
from digitrec.training.engine import TrainReporter
from digitrec.training.runner import split_training_data
from tests.helpers import tiny_recipe, write_kaggle_root

TINY = tiny_recipe(epochs=2, batch_size=16)


class StopAt(TrainReporter):
    def epoch_done(self, stats, epochs, improved):
        raise KeyboardInterrupt


@pytest.fixture
def root(tmp_path):
    return write_kaggle_root(tmp_path / "data", n_train=300, n_test=10)


def test_folds_are_disjoint_cover_the_training_set_and_summaries_match(tmp_path, root):
    outcome = run_kfold(tmp_path / "kf", TINY, RunOptions(dataset="kaggle", device="cpu"), 3, root)
    full = load_dataset("kaggle", "train", root)
    for k, fold in enumerate(outcome.folds, start=1):
        options = RunOptions(**read_json(fold.run.config)["options"])
        assert (options.fold, options.folds) == (k, 3)
        train, val = split_training_data(full, TINY, options)
        assert len(train) + len(val) == 300 and len(val) == 100
    # Synthetic images may repeat, so tag each with its index to compare the folds' members.
    tagged = full.images.clone()
    tagged[:, 0, 0] = torch.arange(300) % 256
    tagged[:, 0, 1] = torch.arange(300) // 256
    ids = []
    for k in range(3):
        _, val = split_training_data(
            type(full)(tagged, full.labels, full.name), TINY, RunOptions(dataset="kaggle", fold=k + 1, folds=3)
        )
        ids.append(set((val.images[:, 0, 0].long() + 256 * val.images[:, 0, 1].long()).tolist()))
    assert set().union(*ids) == set(range(300)) and sum(map(len, ids)) == 300
    r = outcome.results
    accs = [f["val_accuracy"] for f in r["folds"]]
    assert accs == [read_json(f.run.metrics)["val_accuracy"] for f in outcome.folds]
    assert r["val_accuracy_mean"] == pytest.approx(statistics.fmean(accs))
    assert r["val_accuracy_std"] == pytest.approx(statistics.stdev(accs))
    assert r["val_loss_std"] == pytest.approx(statistics.stdev([f["val_loss"] for f in r["folds"]]))
    assert all(len(f.history) == 2 for f in outcome.folds), "every fold keeps its history"
    assert all(f.run.best.exists() for f in outcome.folds), "every fold keeps its model"
    assert outcome.report == tmp_path / "kf" / "report.html" and outcome.report.exists()


def test_cross_validate_starts_a_new_folder_with_the_default_folds(tmp_path, root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe, options = tiny_recipe(epochs=1), RunOptions(dataset="kaggle", device="cpu")
    outcome = cross_validate(recipe, options, data_dir=root)
    assert outcome.folder.parent == Path("runs") and outcome.folder.name.startswith("kfold-fast-")
    assert len(outcome.folds) == DEFAULT_FOLDS == 5 and (tmp_path / outcome.folder / "results.json").exists()
    assert outcome.report == outcome.folder / "report.html" and (tmp_path / outcome.report).exists()
    again = cross_validate(recipe, options, 2, tmp_path / "two", root)
    assert again.folder == tmp_path / "two" and [f.fold for f in again.folds] == [1, 2]


def test_interrupted_kfold_resumes_at_the_first_unfinished_fold(tmp_path, root):
    folder = tmp_path / "kf"
    with pytest.raises(KeyboardInterrupt):
        run_kfold(
            folder,
            TINY,
            RunOptions(dataset="kaggle", device="cpu"),
            3,
            root,
            reporter_for=lambda k, n: StopAt() if k == 2 else None,
        )
    fold1 = (folder / "fold-1" / "best.safetensors").read_bytes()
    trained = []
    outcome = run_kfold(folder, data_dir=root, reporter_for=lambda k, n: trained.append(k))
    assert trained == [1, 2, 3]  # asked for each; fold 1 was already finished
    assert (folder / "fold-1" / "best.safetensors").read_bytes() == fold1, "a finished fold is not retrained"
    assert [len(f.history) for f in outcome.folds] == [2, 2, 2]
    assert [h.epoch for h in outcome.folds[1].history] == [1, 2]
    with pytest.raises(RunError, match="finished K-fold run"):
        run_kfold(folder, data_dir=root)


@pytest.mark.mnist
def test_test_set_figures_for_every_fold_and_the_ensemble(tmp_path, mnist_root):
    outcome = run_kfold(
        tmp_path / "kf",
        get_recipe("fast").with_overrides(epochs=1),
        RunOptions(limit=1500, device="cpu"),
        2,
        mnist_root,
        test=True,
    )
    test = outcome.results["test"]
    singles = [
        evaluate_saved_model(f.run.path, "test", data_dir=mnist_root, device="cpu", save=False) for f in outcome.folds
    ]
    assert [t["accuracy"] for t in test["per_fold"]] == pytest.approx([s.result.accuracy for s in singles])
    averaged = (singles[0].result.probabilities + singles[1].result.probabilities) / 2
    expected = (averaged.argmax(1) == singles[0].result.labels).float().mean().item()
    assert test["ensemble"]["accuracy"] == pytest.approx(expected)
    assert sum(map(sum, test["ensemble"]["confusion_matrix"])) == 10_000


def test_a_kfold_killed_before_its_results_is_finished_by_resume(tmp_path, root):
    """results.json marks the folder finished and is written last: a kill just before it
    leaves a folder that --resume completes (it refused, and `report` found no config)."""
    folder = tmp_path / "kf"
    run_kfold(folder, TINY, RunOptions(dataset="kaggle", device="cpu"), 2, root)
    assert (folder / "report.html").exists()
    (folder / "results.json").unlink()
    (folder / "report.html").unlink()
    outcome = run_kfold(folder, data_dir=root)
    assert (folder / "results.json").exists() and (folder / "report.html").exists()
    assert [len(f.history) for f in outcome.folds] == [2, 2]


def test_a_kfold_folder_in_use_is_refused_naming_its_holder(tmp_path, root):
    import os

    from digitrec.training.runs import hold_folder

    folder = tmp_path / "kf"
    folder.mkdir()
    lock = hold_folder(folder, "K-fold")
    try:
        with pytest.raises(RunError, match=f"being trained by another process \\(pid {os.getpid()}\\)"):
            run_kfold(folder, TINY, RunOptions(dataset="kaggle", device="cpu"), 2, root)
    finally:
        lock.close()
