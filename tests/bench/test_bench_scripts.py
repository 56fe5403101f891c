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
    assert (
        bench.main(
            [
                "--recipes",
                "quick",
                "--references",
                "train-mnist-fast",
                "--seeds",
                "2",
                "--max-seconds",
                "1",
                "--eval-every",
                "0.5",
                "--device",
                "cpu",
                "--precision",
                "bf16",
                "--data-dir",
                str(mnist_root),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "machine:" in printed and "quick vs train-mnist-fast" in printed and "recipes in bf16" in printed
    assert "against the reference's whole run" in printed
    report = json.loads(out.read_text())
    assert report["precision"] == "bf16"
    for name in ("quick", "train-mnist-fast"):
        curves = report["curves"][name]
        assert len(curves) == 2 and all(len(c) >= 2 for c in curves)
        for curve in curves:
            times = [t for t, _ in curve]
            assert times == sorted(times) and all(0 <= acc <= 1 for _, acc in curve)
            assert curve[-1][1] > 0.2, f"{name} learned nothing in a second: {curve}"  # chance is 0.1
        assert set(report["results"][name]["time_to"]) == {"99", "99.25", "99.5", "99.6", "99.7"}
    capsys.readouterr()
    assert bench.main(["--show", str(out)]) == 0
    assert "quick vs train-mnist-fast" in capsys.readouterr().out


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_curve_times_exclude_evaluation():
    bench = load("time_to_accuracy")
    clock = FakeClock()

    def evaluate() -> float:
        clock.now += 5.0  # evaluating takes 5 s
        return 0.5

    curve = bench.Curve(evaluate, torch.device("cpu"), every=0.0, clock=clock)
    curve.start()
    for _ in range(3):
        clock.now += 1.0  # a second of training between evaluations
        curve.tick()
    assert [t for t, _ in curve.points] == [1.0, 2.0, 3.0], "the 15 s spent evaluating are off the clock"


def test_a_threshold_counts_only_once_the_curve_stays_above_it():
    bench = load("time_to_accuracy")
    curve = bench.Curve(lambda: 0.0, torch.device("cpu"), every=1.0)
    curve.points = [(1.0, 0.985), (2.0, 0.991), (3.0, 0.988), (4.0, 0.990), (5.0, 0.993), (6.0, 0.992)]
    assert curve.time_to(0.99) == 4.0, "a touch at 2 s that falls back is not a reach"
    assert curve.time_to(0.992) == 5.0
    assert curve.time_to(0.993) is None, "the run ended below it"


def test_speed_ups_need_two_thirds_of_both_sides_seeds():
    bench = load("time_to_accuracy")
    assert bench.speedup_cell([1.0, 2.0, None], [4.0, 6.0, 8.0]) == "4.0x"  # medians 1.5 and 6
    assert bench.speedup_cell([1.0, None, None], [4.0, 6.0, 8.0]) == "we too few"
    assert bench.speedup_cell([1.0, 1.0, 1.0], [4.0, None, None]) == "ref too few"
    assert bench.median_cell([3.0, None, 1.0]) == "2.0 (2/3)" and bench.median_cell([None, None]) == "never (0/2)"


def test_against_the_reference_whole_run_a_reference_that_never_got_there_still_counts_its_time():
    bench = load("time_to_accuracy")
    assert bench.whole_run_cell([2.0, 3.0, None], [4.5, 4.4, 4.6]) == "1.80x"  # 4.5 s over the median 2.5 s
    assert bench.whole_run_cell([13.2, 13.2, 13.2], [4.4, 4.4, 4.4]) == "0.33x", "three times its training time"
    assert bench.whole_run_cell([1.0, None, None], [4.4, 4.4, 4.4]) == "we too few"


@pytest.mark.mnist
def test_reproduce_resumes_finished_runs(mnist_root, tmp_path, capsys):
    bench = load("reproduce")
    args = [
        "--recipes",
        "cnn-adadelta",
        "--seeds",
        "1",
        "--limit",
        "300",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--data-dir",
        str(mnist_root),
        "--runs",
        str(tmp_path / "runs"),
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert bench.main(args) == 0
    first = json.loads((tmp_path / "r.json").read_text())
    checkpoint = (tmp_path / "runs" / "cnn-adadelta-seed0" / "best.safetensors").read_bytes()
    assert bench.main(args) == 0
    assert json.loads((tmp_path / "r.json").read_text())["rows"] == first["rows"]
    assert (tmp_path / "runs" / "cnn-adadelta-seed0" / "best.safetensors").read_bytes() == checkpoint, "not retrained"
    assert "cnn-adadelta" in capsys.readouterr().out
    longer = list(args)
    longer[longer.index("--epochs") + 1] = "2"
    assert bench.main(longer) == 0
    assert json.loads((tmp_path / "r.json").read_text())["rows"][0]["epochs"] == 2
    config = json.loads((tmp_path / "runs" / "cnn-adadelta-seed0" / "config.json").read_text())
    assert config["recipe"]["epochs"] == 2, "a run of other settings is not reused: it is trained again"
    assert (tmp_path / "runs" / "cnn-adadelta-seed0.stale-1" / "best.safetensors").read_bytes() == checkpoint, (
        "and kept"
    )


def write_run_config(folder: Path, recipe, options) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"recipe": recipe.to_dict(), "options": options.to_dict()}))
    return folder


@pytest.mark.parametrize(
    "ran_name, recipe_changes, option_changes, why",
    [
        ("cnn-adadelta", {}, {"seed": 1}, "seed was 1, not 0"),
        ("cnn-adadelta", {}, {"limit": 500}, "limit was 500, not None"),
        ("cnn-adadelta", {}, {"dataset": "kaggle"}, "dataset was 'kaggle', not 'mnist'"),
        ("cnn-adadelta", {"lr": 0.5}, {}, "its recipe differs in optimizer"),
        ("cnn-adadelta", {"epochs": 3}, {}, "its recipe differs in epochs"),
        ("mlp", {}, {}, "it is a run of mlp, not cnn-adadelta"),
    ],
)
def test_reproduce_tells_a_stale_run_from_the_one_asked_for(tmp_path, ran_name, recipe_changes, option_changes, why):
    from digitrec.training import RunOptions, get_recipe

    bench = load("reproduce")
    wanted, options = get_recipe("cnn-adadelta"), RunOptions(seed=0)
    ran = get_recipe(ran_name).with_overrides(**recipe_changes)
    folder = write_run_config(tmp_path / "run", ran, RunOptions(**option_changes))
    assert why in bench.stale_reason(folder, wanted, options)
    same = write_run_config(tmp_path / "same", wanted, RunOptions(seed=0, device="cuda"))
    assert bench.stale_reason(same, wanted, options) is None, "another device is the same run"


@pytest.mark.mnist
def test_reproduce_scores_each_recipes_ensemble_and_all_recipes_together(mnist_root, tmp_path, capsys):
    bench = load("reproduce")
    args = [
        "--recipes",
        "quick,best-resnet",
        "--seeds",
        "2",
        "--limit",
        "300",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--ensemble",
        "--data-dir",
        str(mnist_root),
        "--runs",
        str(tmp_path / "runs"),
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert bench.main(args) == 0
    table = json.loads((tmp_path / "r.json").read_text())
    members = {
        (name, s): evaluate_saved_model(
            tmp_path / "runs" / f"{name}-seed{s}", "test", data_dir=mnist_root, device="cpu"
        )
        for name in ("quick", "best-resnet")
        for s in (0, 1)
    }
    labels = members["quick", 0].result.labels

    def accuracy_of_average(keys):
        averaged = sum(members[k].result.probabilities for k in keys) / len(keys)
        return (averaged.argmax(1) == labels).float().mean().item()

    for row in table["rows"]:
        assert len(row["test_accuracy"]) == 2
        assert row["ensemble"] == pytest.approx(accuracy_of_average([(row["recipe"], 0), (row["recipe"], 1)]))
    assert table["ensemble_of_all"]["members"] == 4
    assert table["ensemble_of_all"]["accuracy"] == pytest.approx(accuracy_of_average(list(members)))
    assert "all 4 models of quick, best-resnet averaged" in capsys.readouterr().out


@pytest.mark.mnist
def test_inference(mnist_root, tiny_run, capsys):
    bench = load("inference")
    threads = torch.get_num_threads()
    try:
        assert (
            bench.main(["--model", str(tiny_run), "--seconds", "0.2", "--data-dir", str(mnist_root), "--threads", "1"])
            == 0
        )
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
    assert (
        bench.main(
            [
                "--reader",
                str(READER),
                "--classifier",
                str(tiny_run),
                "--data-dir",
                str(mnist_root),
                "--limit",
                "4",
                "--tesseract-limit",
                "2",
                "--sets",
                "danish-rowid:validation,danish-rowid:test,synthetic,pages,real-dev",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| set | target |" in printed and "danish-rowid:test" in printed and "found and read" in printed
    report = json.loads(out.read_text())
    for name in ("danish-rowid:validation", "danish-rowid:test", "synthetic", "real-dev"):
        row = report["sets"][name]
        assert row["reader"]["size"] == 4 and row["components"]["size"] == 4
        assert (
            row["reader"]["errors"] == round(4 * (1 - row["reader"]["accuracy"])) and row["reader"]["ms_per_image"] > 0
        )
        assert 0 <= row["reader"]["accepted_at_99"]["share"] <= 1
    for name in ("danish-rowid:validation", "danish-rowid:test"):  # the figures are those of the readings listed
        reader = report["sets"][name]["reader"]
        right = [label == text for _, label, text, _ in reader["readings"]]
        assert len(right) == 4 and reader["accuracy"] == sum(right) / 4
    assert report["sets"]["danish-rowid:validation"]["reader"]["accuracy"] >= 0.75, (
        "the shipped reader reads register cells"
    )
    test = report["sets"]["danish-rowid:test"]["reader"]["accepted_at_validation_threshold"]
    assert test["threshold"] == report["sets"]["danish-rowid:validation"]["reader"]["accepted_at_99"]["threshold"]
    assert report["pages"]["page"]["numbers"] >= 8 and report["pages"]["pages"] == 4


def test_labels_found_wrong_by_eye_correct_only_the_validation_parts_figures(tmp_path, monkeypatch):
    from digitrec.evaluation.numbers import FieldResult

    bench = load("real_documents")
    (tmp_path / "cells.csv").write_text("file,label,seen\na.jpg,6,5\n")
    monkeypatch.setattr(bench, "AUDITS", tmp_path)
    results = [
        FieldResult(f"/x/{f}", label, text, 0.99, 0.01)
        for f, label, text in (("a.jpg", "6", "5"), ("b.jpg", "7", "7"), ("c.jpg", "8", "3"))
    ]
    fixed = bench.audited("cells:validation", results)
    assert fixed["corrected"] == 1 and fixed["accuracy"] == pytest.approx(2 / 3)
    assert results[0].label == "6", "the readings themselves keep their labels"
    assert bench.audited("cells:test", results) is None, "the test part was not looked at"
    assert bench.audited("other:validation", results) is None


@pytest.mark.mnist
def test_choose_settings_trains_each_variant_on_validation_only(mnist_root, tmp_path, capsys, monkeypatch):
    bench = load("choose_settings")
    loaded = []
    real = bench.train_recipe.__globals__["load_dataset"]

    def watching(name, split, *args, **kwargs):
        loaded.append(split)
        return real(name, split, *args, **kwargs)

    monkeypatch.setitem(bench.train_recipe.__globals__, "load_dataset", watching)
    out = tmp_path / "c.json"
    assert (
        bench.main(
            [
                "--recipe",
                "quick",
                "--vary",
                "batch_size=32,64",
                "--seeds",
                "2",
                "--limit",
                "600",
                "--device",
                "cpu",
                "--data-dir",
                str(mnist_root),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert set(loaded) == {"train"}, "the test set is never loaded"
    rows = json.loads(out.read_text())["rows"]
    assert [r["settings"] for r in rows] == [{"batch_size": 32}, {"batch_size": 64}]
    for row in rows:
        assert [r["val_size"] for r in row["runs"]] == [50, 50], "quick has no split of its own: 1/12 is held out"
        assert row["val_accuracy_mean"] == pytest.approx(sum(r["val_accuracy"] for r in row["runs"]) / 2)
    assert "batch_size=64" in capsys.readouterr().out


@pytest.mark.mnist
def test_gpu_script_cpu_path(mnist_root, tmp_path, monkeypatch):
    """bench/gpu.py on the CPU with a tiny budget: every section written, and a variant
    that cannot run records its error while the others stand."""
    bench = load("gpu")
    monkeypatch.setattr(bench, "STEP_RECIPES", ("quick", "reader"))
    broken = ("fp32 channels-last no-such-mode", None, torch.channels_last, "no-such-mode")
    monkeypatch.setattr(bench, "VARIANTS", [*bench.VARIANTS[:2], broken])
    out = tmp_path / "gpu.json"
    assert bench.main(["--device", "cpu", "--tiny", "--data-dir", str(mnist_root), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["errors"] == {} and report["device"] == "cpu"
    for name in ("quick", "reader"):
        variants = report["step"][name]["variants"]
        assert "no-such-mode" in variants[broken[0]]["error"]
        timed = {k: v["ms_per_step"] for k, v in variants.items() if "ms_per_step" in v}
        assert set(timed) == {"fp32 contiguous eager", "fp32 channels-last eager"}
        assert report["step"][name]["fastest"] == min(timed, key=timed.get)
    assert set(report["reader"]) == set(timed), "fields per second for each variant that ran"
    assert set(report["time_to_accuracy"]["results"]) == {"quick", "train-mnist-fast"}
    assert set(report["inference"]) == {"batch 1 fp32", "batch 1 bf16", "batch 64 fp32", "batch 64 bf16"}
    assert "needs 2 or more CUDA GPUs" in report["ddp"]["skipped"]


@pytest.mark.mnist
def test_ddp_bench_trains_one_and_two_processes_and_scores_them(mnist_root, tmp_path, capsys):
    bench = load("ddp_train")
    report = bench.main(
        [
            "--processes",
            "1,2",
            "--seeds",
            "1",
            "--limit",
            "1024",
            "--epochs",
            "1",
            "--data-dir",
            str(mnist_root),
            "--work",
            str(tmp_path),
            "--json",
            str(tmp_path / "ddp.json"),
        ]
    )
    one, two = report["results"]
    assert (one["processes"], two["processes"]) == (1, 2)
    assert json.loads((tmp_path / "quick-p2-seed0" / "metrics.json").read_text())["processes"] == 2
    assert all(
        0.2 < r["accuracy_mean"] <= 1 and r["ms_per_step"] > 0 for r in (one, two)
    )  # 8 steps: above chance (0.1)
    assert "2 processes: step time" in capsys.readouterr().out


@pytest.mark.mnist
@pytest.mark.browser
def test_review_latency_walks_the_fields_by_keyboard(mnist_root, tmp_path, capsys):
    from tests.e2e.conftest import require_chromium

    require_chromium()
    bench = load("review_latency")
    assert bench.main(["--data-dir", str(mnist_root), "--fields", "6", "--json", str(tmp_path / "l.json")]) == 0
    figures = json.loads((tmp_path / "l.json").read_text())
    assert figures["fields"] == 6, "one latency per field walked"
    assert "key press to next field, 6 fields" in capsys.readouterr().out


@pytest.mark.mnist
@pytest.mark.browser
def test_review_learn_reviews_on_the_page_learns_and_counts_before_and_after(mnist_root, tmp_path, capsys):
    from tests.e2e.conftest import require_chromium

    require_chromium()
    bench = load("review_learn")
    args = ["--data-dir", str(mnist_root), "--cells", "120", "--review", "30", "--seeds", "2", "--learn-epochs", "1",
            "--calibrate-on", "orand-car-a-dev:validation", "--json", str(tmp_path / "l.json")]  # fmt: skip
    assert bench.main(args) == 0
    figures = json.loads((tmp_path / "l.json").read_text())
    assert figures["cells"] == 120 and len(figures["rounds"]) == 2
    for r in figures["rounds"]:
        assert r["moved_to_accepted"] + r["left_after"] == figures["waiting"]  # each waiting row went one way
        assert r["accepted_after"] == figures["accepted_before"] + r["moved_to_accepted"]
    assert "| after learning from them |" in capsys.readouterr().out


def test_choose_settings_varies_model_options_and_augmentation_too():
    bench = load("choose_settings")
    grid = bench.parse_vary(["model.whiten=false,true", "augment.rotation=5,8", "lr=0.01"])
    assert grid == {"model.whiten": [False, True], "augment.rotation": [5, 8], "lr": [0.01]}
    base = bench.get_recipe("fast")
    recipe = bench.with_settings(base, {"model.whiten": True, "augment.rotation": 5, "lr": 0.01, "epochs": 3})
    assert recipe.model.options == {**base.model.options, "whiten": True}
    assert recipe.augment.rotation == 5 and recipe.augment.zoom == base.augment.zoom
    assert recipe.optimizer.lr == 0.01 and recipe.epochs == 3
    assert base.model.options.get("whiten") is not True, "the recipe itself is left alone"


def test_whitening_times_both_first_layers_and_prints_the_saving(tmp_path, capsys):
    bench = load("whitening")
    out = tmp_path / "w.json"
    args = ["--widths", "8/16/32", "--batches", "16", "--steps", "2", "--repeats", "1", "--device", "cpu"]
    assert bench.main([*args, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["widths"] == "8/16/32" and row["batch"] == 16
    assert row["learned_ms"] > 0 and row["whitened_ms"] > 0 and row["strided_ms"] > 0
    assert "saved" in capsys.readouterr().out
