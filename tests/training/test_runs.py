"""What protects a run folder: one process at a time, resume completes what a kill left
undone, flags that would change a run are refused, a full disk is named and loses nothing."""

import errno
import os

import pytest

from digitrec.artifacts.checkpoint import load_model
from digitrec.cli import main
from digitrec.errors import RunError, WriteError
from digitrec.fileio import atomic_write_bytes
from digitrec.training import RunOptions, resume_run, train_recipe
from digitrec.training.runs import RunFolder
from tests.helpers import tiny_recipe, write_kaggle_root

TRAIN = [
    "train",
    "--recipe",
    "fast",
    "--dataset",
    "kaggle",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--quiet",
    "--device",
    "cpu",
]


@pytest.fixture
def root(tmp_path):
    return write_kaggle_root(tmp_path / "data", n_train=200, n_test=10)


def unfinished_run(root, folder):
    """A run that finished its epochs but not its metrics: what a kill leaves to resume."""
    train_recipe(tiny_recipe(epochs=2, batch_size=16), RunOptions(dataset="kaggle", device="cpu"), folder, root)
    (folder / "metrics.json").unlink()
    return folder


def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(tmp_path, root):
    run = RunFolder(unfinished_run(root, tmp_path / "run")).hold()  # as the first process would
    try:
        with pytest.raises(RunError, match=f"being trained by another process \\(pid {os.getpid()}\\)"):
            resume_run(run.path, root, device="cpu")
    finally:
        run.release()
    assert resume_run(run.path, root, device="cpu").run.finished  # free once the holder is done


@pytest.mark.parametrize("flag", [["--seed", "3"], ["--dataset", "mnist"], ["--precision", "fp32"], ["--epochs", "5"]])
def test_resume_refuses_a_flag_that_would_change_the_run(tmp_path, root, capsys, flag):
    folder = unfinished_run(root, tmp_path / "run")
    assert main(["train", "--resume", str(folder), *flag, "--data-dir", str(root), "--quiet"]) == 1
    assert f"drop {flag[0]}" in capsys.readouterr().err


def test_kfold_resume_refuses_a_flag_that_would_change_the_folds(tmp_path, root, capsys):
    assert main(["kfold", "--resume", str(tmp_path / "kf"), "--epochs", "3", "--data-dir", str(root)]) == 1
    assert "drop --epochs" in capsys.readouterr().err


def test_a_run_killed_before_its_report_gets_it_from_resume(tmp_path, root, capsys):
    """metrics.json marks the run finished; a kill before report.html left a run that
    --resume refused and only `digitrec report` repaired."""
    folder = tmp_path / "run"
    assert main([*TRAIN, "--out", str(folder), "--data-dir", str(root)]) == 0
    (folder / "report.html").unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--data-dir", str(root), "--quiet", "--device", "cpu"]) == 0
    assert (folder / "report.html").exists() and "without its report" in capsys.readouterr().out


def test_a_full_disk_names_the_file_and_leaves_the_old_one(tmp_path, monkeypatch):
    path = atomic_write_bytes(tmp_path / "model.safetensors", b"epoch 1")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match=f"cannot write model.safetensors in {tmp_path}: No space left on device"):
        atomic_write_bytes(path, b"epoch 2")
    assert path.read_bytes() == b"epoch 1"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"], "no temporary file left"


def test_training_on_a_disk_that_fills_keeps_the_finished_epochs(tmp_path, root, monkeypatch, capsys):
    """The disk fills during epoch 2's checkpoints: a sentence naming the file, exit 1, and
    epoch 1's checkpoints still load (it was "unexpected OSError: [Errno 28]")."""
    real_fsync, calls = os.fsync, []

    def filling(fd):
        calls.append(fd)
        if len(calls) > 4:  # epoch 1's state, last, best and history went through
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", filling)
    folder = tmp_path / "run"
    assert main([*TRAIN, "--out", str(folder), "--data-dir", str(root), "--no-report"]) == 1
    err = capsys.readouterr().err
    assert f"in {folder}: No space left on device" in err and "unexpected" not in err
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert load_model(folder).meta["epoch"] == 1
