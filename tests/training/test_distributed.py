"""torch.distributed: disjoint shards, a run folder written by rank 0 alone, metrics
summed over the ranks, --resume, the reader too (2 CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from digitrec.artifacts.checkpoint import load_model
from digitrec.data import load_dataset
from digitrec.data.folders import load_fields
from digitrec.evaluation.metrics import evaluate
from digitrec.fileio import LockHeld, take_lock
from digitrec.training import RunOptions, get_recipe
from digitrec.training.distributed import Distributed
from digitrec.training.runner import split_training_data
from digitrec.training.runs import RunFolder
from digitrec.training.tasks import ClassificationTask, score_fields
from tests.helpers import synthetic_dataset, write_kaggle_root
from tests.processes import alive, children, gone_within, reap
from tests.training.test_reader import write_number_folder

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def test_the_ranks_shards_are_disjoint_and_cover_each_batch():
    recipe = get_recipe("quick").with_overrides(batch_size=64)
    tasks = [ClassificationTask(synthetic_dataset(1000), None) for _ in range(2)]
    for rank, task in enumerate(tasks):
        task.shard(Distributed(rank, 2), seed=3)
    single = ClassificationTask(synthetic_dataset(1000), None)
    for epoch in (1, 2):
        for task in tasks:
            task.set_epoch(epoch)
        shards = [list(t.epoch_indices(recipe, torch.Generator().manual_seed(rank))) for rank, t in enumerate(tasks)]
        assert len(shards[0]) == len(shards[1]) == single.steps_per_epoch(recipe)  # every rank takes every step
        for a, b in zip(*shards):
            assert not set(a.tolist()) & set(b.tolist()) and abs(len(a) - len(b)) <= 1
        seen = torch.cat([i for shard in shards for i in shard])
        assert len(seen) == len(set(seen.tolist())) == recipe.batch_size * single.steps_per_epoch(recipe)
    orders = [torch.cat(list(tasks[0].epoch_indices(recipe, torch.Generator()))) for tasks[0].epoch in (1, 2)]
    assert not torch.equal(orders[0], orders[1])  # a fresh order each epoch


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_kaggle_root(tmp_path_factory.mktemp("data"), n_train=3000, n_test=10)


def train_command(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        *TORCHRUN,
        "-m",
        "digitrec",
        "train",
        "--recipe",
        "quick",
        "--dataset",
        "kaggle",
        "--data-dir",
        str(root),
        "--val-split",
        "0.2",
        "--device",
        "cpu",
        "--no-report",
        *extra,
    ]


def run(command: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_processes_write_one_run_folder_with_the_sums_of_both(root, tmp_path):
    out = tmp_path / "ddp"
    done = run(train_command(root, out, "--epochs", "2", "--out", str(out), "--json"))
    metrics = json.loads(done.stdout)  # printed once, by rank 0
    assert metrics["processes"] == 2 and RunFolder(out).finished
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "best.safetensors",
        "config.json",
        "history.csv",
        "last.safetensors",
        "metrics.json",
        "train_state.safetensors",
    ]
    recipe = get_recipe("quick").with_overrides(val_split=0.2)
    train_set, val_set = split_training_data(
        load_dataset("kaggle", "train", root), recipe, RunOptions(dataset="kaggle")
    )
    steps = ClassificationTask(train_set, val_set).steps_per_epoch(recipe)
    assert metrics["examples_per_epoch"] == steps * recipe.batch_size  # both ranks' images, not rank 0's half
    best = load_model(out)
    # The history's validation accuracy is the whole split's (each rank scored half), as evaluating the saved
    # model gives (in float32 there: within 1e-6, where one image of the 600 is 1.7e-3).
    assert metrics["val_accuracy"] == pytest.approx(
        evaluate(best.model, val_set, recipe.normalization).accuracy, abs=1e-6
    )


def kill_torchrun_after_epoch_one(command: list[str], out: Path) -> None:
    """Start a 2-process run, kill -9 torchrun (alone) once epoch 1 is committed, and check
    that its two ranks follow it."""
    job = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        history = out / "history.csv"
        while not (history.exists() and len(history.read_text().splitlines()) >= 2):  # epoch 1 committed
            assert job.poll() is None and time.monotonic() < deadline, job.stderr.read()
            time.sleep(0.02)
        ranks = children(job.pid)  # the two ranks
        job.send_signal(signal.SIGKILL)  # torchrun alone: its ranks must follow it
        job.wait()
        assert len(ranks) == 2 and gone_within(ranks, 5), "a rank outlived torchrun"
    finally:
        reap(job)


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_weights(root, tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    run(train_command(root, straight, "--epochs", "6", "--out", str(straight)))
    kill_torchrun_after_epoch_one(train_command(root, broken, "--epochs", "6", "--out", str(broken)), broken)
    assert not RunFolder(broken).finished, "the kill did not land before the end of training"
    done = run([*TORCHRUN, "-m", "digitrec", "train", "--resume", str(broken), "--data-dir", str(root), "--no-report"])
    assert "resuming" in done.stderr
    a, b = (
        safetensors.torch.load_file(straight / "last.safetensors"),
        safetensors.torch.load_file(broken / "last.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h.val_accuracy for h in RunFolder(straight).read_history()] == [
        h.val_accuracy for h in RunFolder(broken).read_history()
    ]


def wait_for_the_lock(path: Path, deadline: float) -> None:
    """Until nothing holds the run folder's lock (CI once saw it still held just after the
    killed ranks were reported gone)."""
    while True:
        try:
            take_lock(path).close()
            return
        except LockHeld as e:
            assert time.monotonic() < deadline, (
                f"the lock is still held by pid {e.holder} (alive: {e.holder.isdigit() and alive(int(e.holder))})"
            )
            time.sleep(0.05)


def test_resuming_on_another_number_of_processes_is_refused(root, tmp_path, capsys):
    from digitrec.cli import main

    out = tmp_path / "ddp"
    kill_torchrun_after_epoch_one(train_command(root, out, "--epochs", "6", "--out", str(out)), out)
    wait_for_the_lock(out / ".lock", deadline=time.monotonic() + 30)  # rank 0 held it until the kernel let it go
    assert main(["train", "--resume", str(out), "--data-dir", str(root), "--no-report"]) == 1  # one process, not two
    assert "resume it with as many (torchrun --nproc-per-node 2), not 1" in capsys.readouterr().err


def test_the_reader_trains_on_two_processes(tmp_path):
    root = write_kaggle_root(tmp_path / "data", n_train=300, n_test=10)
    folder = write_number_folder(tmp_path / "fields" / "numbers")
    out = tmp_path / "reader"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [*TORCHRUN, str(Path(__file__).with_name("ddp_reader.py")), str(root), str(folder), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["examples_per_epoch"] == 6 * 16  # 8 strips a step from each rank
    loaded = load_model(out)
    assert loaded.meta["kind"] == "reader"
    whole = score_fields(loaded.model, [load_fields(f"{folder}:validation", root)], torch.device("cpu"))
    assert metrics["val_accuracy"] == pytest.approx(whole.accuracy, abs=1e-9)
