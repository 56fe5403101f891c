"""The benchmark scripts still run end to end on tiny settings. Their figures are not
checked here (timings belong to the benchmarks, never to tests): only that each one
trains, measures and prints its table."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from digitrec.evaluation.checkpoints import evaluate_saved_model

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.mnist
def test_time_to_accuracy(mnist_root, tmp_path, capsys):
    bench = load("time_to_accuracy")
    out = tmp_path / "t.json"
    assert bench.main(["--recipes", "quick", "--references", "train-mnist-fast", "--seeds", "2", "--max-seconds", "1",
                       "--eval-every", "0.5", "--device", "cpu", "--precision", "bf16", "--data-dir", str(mnist_root), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "machine:" in printed and "quick vs train-mnist-fast" in printed and "recipes in bf16" in printed
    report = json.loads(out.read_text())
    assert report["precision"] == "bf16"
    for name in ("quick", "train-mnist-fast"):
        curves = report["curves"][name]
        assert len(curves) == 2 and all(len(c) >= 2 for c in curves)
        for curve in curves:
            times = [t for t, _ in curve]
            assert times == sorted(times) and all(0 <= acc <= 1 for _, acc in curve)
        assert set(report["results"][name]["time_to"]) == {"99", "99.25", "99.5", "99.6", "99.7"}
    capsys.readouterr()
    assert bench.main(["--show", str(out)]) == 0
    assert "quick vs train-mnist-fast" in capsys.readouterr().out


def test_curve_times_exclude_evaluation():
    import time

    import torch

    bench = load("time_to_accuracy")
    curve = bench.Curve(lambda: (time.sleep(0.2), 0.5)[1], torch.device("cpu"), every=0.0)
    curve.start()
    for _ in range(3):
        curve.tick()
    assert curve.points[-1][0] < 0.1, "the 0.6 s spent evaluating is off the clock"
    assert curve.time_to(0.5) == curve.points[0][0] and curve.time_to(0.6) is None


@pytest.mark.mnist
def test_reproduce_resumes_finished_runs(mnist_root, tmp_path, capsys):
    bench = load("reproduce")
    args = ["--recipes", "cnn-adadelta", "--seeds", "1", "--limit", "300", "--epochs", "1", "--device", "cpu",
            "--data-dir", str(mnist_root), "--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "r.json")]
    assert bench.main(args) == 0
    first = json.loads((tmp_path / "r.json").read_text())
    checkpoint = (tmp_path / "runs" / "cnn-adadelta-seed0" / "best.safetensors").read_bytes()
    assert bench.main(args) == 0
    assert json.loads((tmp_path / "r.json").read_text())["rows"] == first["rows"]
    assert (tmp_path / "runs" / "cnn-adadelta-seed0" / "best.safetensors").read_bytes() == checkpoint, "not retrained"
    assert "cnn-adadelta" in capsys.readouterr().out


@pytest.mark.mnist
def test_reproduce_scores_the_ensemble_of_any_recipes_seeds(mnist_root, tmp_path, capsys):
    bench = load("reproduce")
    args = ["--recipes", "quick", "--seeds", "2", "--limit", "300", "--epochs", "1", "--device", "cpu", "--ensemble",
            "--data-dir", str(mnist_root), "--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "r.json")]
    assert bench.main(args) == 0
    [row] = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert row["recipe"] == "quick" and len(row["test_accuracy"]) == 2
    members = [evaluate_saved_model(tmp_path / "runs" / f"quick-seed{s}", "test", data_dir=mnist_root, device="cpu")
               for s in (0, 1)]
    averaged = (members[0].result.probabilities + members[1].result.probabilities) / 2
    expected = (averaged.argmax(1) == members[0].result.labels).float().mean().item()
    assert row["ensemble"] == pytest.approx(expected)
    assert "ensemble" in capsys.readouterr().out


@pytest.mark.mnist
def test_inference(mnist_root, tiny_run, capsys):
    bench = load("inference")
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--model", str(tiny_run), "--seconds", "0.2", "--data-dir", str(mnist_root), "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)  # the bench sets it for the whole process
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("fast") and "pytorch" in line for line in lines)
    assert any("onnxruntime" in line for line in lines)
    assert lines[0].startswith("CPU, 1 thread;")


@pytest.mark.mnist
def test_real_documents(mnist_root, tiny_run, tmp_path, capsys):
    from digitrec.shipped import READER

    if not (mnist_root / "danish-rowid" / "validation" / "labels.csv").exists():
        pytest.skip("the data root has no danish-rowid/")
    bench = load("real_documents")
    out = tmp_path / "docs.json"
    assert bench.main(["--reader", str(READER), "--classifier", str(tiny_run), "--data-dir", str(mnist_root), "--limit", "4",
                       "--tesseract-limit", "2", "--sets", "danish-rowid/validation,synthetic,real-dev", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| set | target |" in printed and "danish-rowid/validation" in printed
    report = json.loads(out.read_text())
    for name in ("danish-rowid/validation", "synthetic", "real-dev"):
        row = report["sets"][name]
        assert row["reader"]["size"] == 4 and row["components"]["size"] == 4
        assert 0 <= row["reader"]["accuracy"] <= 1 and row["reader"]["ms_per_image"] > 0
