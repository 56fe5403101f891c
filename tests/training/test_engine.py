import os
import signal
import subprocess
import sys
import time

import pytest
import safetensors.torch
import torch

from digitrec.artifacts.checkpoint import load_train_state
from digitrec.errors import ConfigError, RunError
from digitrec.evaluation.checkpoints import evaluate_saved_model
from digitrec.fileio import read_json
from digitrec.models import ModelConfig, build_model, count_parameters
from digitrec.training import RunOptions, get_recipe, resume_run, train_recipe
from digitrec.training.engine import TrainReporter
from digitrec.training.runs import RunFolder
from tests.helpers import tiny_recipe, write_kaggle_root

# A small, quick version of `fast` for synthetic data.
TINY = tiny_recipe(epochs=3, batch_size=8)
OPTIONS = RunOptions(dataset="kaggle", seed=0, device="cpu")


class StopAfter(TrainReporter):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def epoch_done(self, stats, epochs, improved):
        if stats.epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture
def root(tmp_path):
    return write_kaggle_root(tmp_path / "data", n_train=600, n_test=50)


def test_training_learns_and_writes_the_run_folder(tmp_path, root):
    outcome = train_recipe(TINY, OPTIONS, tmp_path / "run", root)
    run = outcome.run
    for f in (run.config, run.history, run.best, run.last, run.train_state, run.metrics):
        assert f.exists(), f
    history = run.read_history()
    assert [h.epoch for h in history] == [1, 2, 3]
    assert history[-1].val_accuracy > 0.9, "synthetic classes are easy: the model must learn them"
    metrics = read_json(run.metrics)
    assert metrics["val_size"] == 50 and metrics["train_size"] == 550
    assert metrics["precision"] == "fp32"  # auto, on CPU
    assert metrics["val_accuracy"] == max(h.val_accuracy for h in history)
    config = read_json(run.config)
    assert config["recipe"]["epochs"] == 3 and config["options"]["dataset"] == "kaggle"
    ev = evaluate_saved_model(run.path, split="val", data_dir=root, device="cpu")
    assert ev.result.size == 50 and abs(ev.result.accuracy - metrics["val_accuracy"]) < 1e-6
    assert (run.path / "evaluation-val.json").exists()


def test_same_seed_same_weights_on_cpu(tmp_path, root):
    a = train_recipe(TINY.with_overrides(epochs=1), OPTIONS, tmp_path / "a", root)
    b = train_recipe(TINY.with_overrides(epochs=1), OPTIONS, tmp_path / "b", root)
    wa, wb = safetensors.torch.load_file(a.run.last), safetensors.torch.load_file(b.run.last)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


WHITENED = TINY.with_overrides(model=ModelConfig("fastnet", {"conv1": 8, "conv2": 16, "hidden": 32, "whiten": True}))


@pytest.mark.parametrize(
    "recipe",
    [TINY, TINY.with_overrides(ema=0.9), WHITENED.with_overrides(ema=0.9)],
    ids=["plain", "ema", "whitened-ema"],
)
def test_resume_continues_exactly_as_if_never_interrupted(tmp_path, root, recipe):
    straight = train_recipe(recipe, OPTIONS, tmp_path / "straight", root)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, OPTIONS, tmp_path / "broken", root, reporter=StopAfter(2))
    assert not RunFolder(tmp_path / "broken").finished
    assert len(RunFolder(tmp_path / "broken").read_history()) == 2
    resumed = resume_run(tmp_path / "broken", root)
    assert [h.epoch for h in resumed.fit.history] == [1, 2, 3]
    ws, wr = safetensors.torch.load_file(straight.run.last), safetensors.torch.load_file(resumed.run.last)
    assert all(torch.equal(ws[k], wr[k]) for k in ws)
    assert [h.val_accuracy for h in straight.fit.history] == [h.val_accuracy for h in resumed.fit.history]


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_a_whitened_first_layer_is_fitted_before_training_and_never_moves(tmp_path, root, ema):
    outcome = train_recipe(WHITENED.with_overrides(ema=ema), OPTIONS, tmp_path / "run", root)
    best, last = (safetensors.torch.load_file(p) for p in (outcome.run.best, outcome.run.last))
    assert bool(last["0.fitted"]) and last["0.weight"].abs().sum() > 0, "fitted, not the zeros it is built with"
    assert torch.equal(best["0.weight"], last["0.weight"]) and torch.equal(best["0.bias"], last["0.bias"])
    assert torch.equal(last["0.weight"][4:], -last["0.weight"][:4]), "four directions and their negatives"
    assert outcome.metrics["parameters"] == count_parameters(build_model(WHITENED.model))


def test_ema_recipe_saves_and_validates_the_moving_average(tmp_path, root):
    """With `ema`, the checkpoints hold the averaged weights (and batch-norm statistics
    would be averaged too), not the last step's raw ones; validation scores that model."""
    outcome = train_recipe(TINY.with_overrides(ema=0.9), OPTIONS, tmp_path / "run", root)
    saved = safetensors.torch.load_file(outcome.run.last)
    state = load_train_state(outcome.run.train_state)
    raw, averaged = state["model"], state["ema"]
    assert set(saved) == set(raw)
    assert all(torch.equal(saved[k], averaged[f"module.{k}"]) for k in saved)
    assert any(not torch.equal(saved[k], raw[k]) for k in saved), "the average must differ from the last step"
    ev = evaluate_saved_model(outcome.run.path, split="val", data_dir=root, device="cpu")
    assert abs(ev.result.accuracy - outcome.fit.history[-1].val_accuracy) < 1e-6
    assert ev.result.accuracy > 0.9


def test_ema_decay_outside_zero_to_one_is_refused():
    with pytest.raises(ConfigError, match="EMA decay"):
        TINY.with_overrides(ema=1.0)


def test_bf16_precision_autocasts_the_forward_pass_and_keeps_fp32_weights(tmp_path, root, monkeypatch):
    """bf16 is what `auto` picks on CUDA; CPU autocast runs the same code path."""
    seen = set()
    conv_forward = torch.nn.Conv2d.forward

    def recording_forward(self, x):
        out = conv_forward(self, x)
        if torch.is_grad_enabled():  # training steps, not the inference-mode validation
            seen.add(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "forward", recording_forward)
    outcome = train_recipe(
        TINY, RunOptions(dataset="kaggle", seed=0, device="cpu", precision="bf16"), tmp_path / "run", root
    )
    assert seen == {torch.bfloat16}
    assert read_json(outcome.run.metrics)["precision"] == "bf16"
    assert read_json(outcome.run.config)["options"]["precision"] == "bf16"
    saved = safetensors.torch.load_file(outcome.run.last)
    assert all(t.dtype == torch.float32 for t in saved.values() if t.is_floating_point())
    assert outcome.fit.history[-1].val_accuracy > 0.9
    assert all(h.train_loss == h.train_loss for h in outcome.fit.history), "loss must stay finite"


def test_auto_precision_is_fp32_on_cpu_and_bf16_on_cuda_gpus_that_have_it(monkeypatch):
    from digitrec.device import autocast_dtype

    assert autocast_dtype("auto", torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16
    assert autocast_dtype("fp32", torch.device("cuda")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # pre-Ampere
    assert autocast_dtype("auto", torch.device("cuda")) is None
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        autocast_dtype("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="unknown precision"):
        RunOptions(precision="half")


def test_finished_runs_are_never_overwritten_or_resumed(tmp_path, root):
    outcome = train_recipe(TINY.with_overrides(epochs=1), OPTIONS, tmp_path / "run", root)
    before = outcome.run.best.read_bytes()
    with pytest.raises(RunError, match="finished run, which is never overwritten"):
        train_recipe(TINY, OPTIONS, tmp_path / "run", root)
    with pytest.raises(RunError, match="already finished"):
        resume_run(tmp_path / "run", root)
    assert outcome.run.best.read_bytes() == before


def test_unfinished_run_folder_points_to_resume(tmp_path, root):
    with pytest.raises(KeyboardInterrupt):
        train_recipe(TINY, OPTIONS, tmp_path / "run", root, reporter=StopAfter(1))
    with pytest.raises(RunError, match="--resume"):
        train_recipe(TINY, OPTIONS, tmp_path / "run", root)


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(RunError, match="not a digitrec run folder"):
        resume_run(tmp_path / "x")


def test_kill_9_mid_training_loses_at_most_one_epoch(tmp_path, root):
    """A real SIGKILL while training; the run then resumes and finishes cleanly."""
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "digitrec",
        "train",
        "--recipe",
        "fast",
        "--dataset",
        "kaggle",
        "--data-dir",
        str(root),
        "--epochs",
        "40",
        "--limit",
        "300",
        "--out",
        str(run_dir),
        "--quiet",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    history = run_dir / "history.csv"

    def epochs_done() -> int:  # rows after the header; the file is replaced atomically
        return max(0, len(history.read_text().splitlines()) - 1) if history.exists() else 0

    while epochs_done() < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)  # polls for the event: the second epoch recorded
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)  # right after an epoch's record: its checkpoints may be mid-write
    proc.wait()
    run = RunFolder(run_dir)
    assert not run.finished
    done = len(run.read_history())
    assert 1 <= done < 40
    outcome = resume_run(run_dir, root, device="cpu")
    assert [h.epoch for h in outcome.fit.history] == list(range(1, 41))
    assert run.finished and len(run.read_history()) == 40
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")], "no temporary files left"


@pytest.mark.mnist
def test_accuracy_gate_fast_on_a_few_thousand_mnist_images(tmp_path, mnist_root):
    """`fast` on 6,000 training images must reach 98% on the 10,000 test images it never saw."""
    outcome = train_recipe(
        get_recipe("fast"), RunOptions(seed=0, limit=6000, device="cpu"), tmp_path / "run", mnist_root
    )
    ev = evaluate_saved_model(outcome.run.path, split="test", data_dir=mnist_root, device="cpu")
    assert ev.result.size == 10_000
    assert ev.result.accuracy >= 0.98, f"test accuracy {ev.result.accuracy:.4f}"


def test_resume_sweeps_temporary_files_of_interrupted_writes(tmp_path, root):
    with pytest.raises(KeyboardInterrupt):
        train_recipe(TINY, OPTIONS, tmp_path / "run", root, reporter=StopAfter(1))
    stale = tmp_path / "run" / ".last.safetensors.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    keep = tmp_path / "run" / "notes.txt"
    keep.write_text("the user's own file")
    resume_run(tmp_path / "run", root)
    assert not stale.exists() and keep.read_text() == "the user's own file"


@pytest.mark.parametrize(
    "name", ["mlp", "cnn-adadelta", "keras-mnist-cnn", "deep-cnn-rmsprop", "kaggle-cnn-augmented", "fast", "best"]
)
def test_every_recipe_trains_one_short_epoch(tmp_path, root, name):
    """Each recipe's own optimiser, schedule, augmentation and split run end to end."""
    recipe = get_recipe(name).with_overrides(epochs=2, batch_size=32)
    outcome = train_recipe(recipe, RunOptions(dataset="kaggle", limit=160, device="cpu"), tmp_path / "run", root)
    assert [h.epoch for h in outcome.fit.history] == [1, 2]
    assert all(h.train_loss == h.train_loss for h in outcome.fit.history), "no NaN losses"
    assert (outcome.metrics["val_size"] > 0) == (recipe.val_split > 0)
