"""A smoke test of every command, in-process through `main()`, plus the installed script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from digitrec.cli import main
from tests.helpers import write_kaggle_root


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *args):
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def kaggle_root(tmp_path_factory):
    return write_kaggle_root(tmp_path_factory.mktemp("data"), n_train=400, n_test=30)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, kaggle_root):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(
        [
            "train",
            "--recipe",
            "fast",
            "--dataset",
            "kaggle",
            "--data-dir",
            str(kaggle_root),
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--out",
            str(run_dir),
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    return run_dir


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in (
        "train",
        "evaluate",
        "recipes",
        "data",
        "kaggle",
        "report",
        "kfold",
        "ensemble",
        "compare",
        "predict",
    ):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("digitrec ")


def _commands(command, path=()):
    """Every command of the CLI with its path of names (Typer's groups have `commands`)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_help_text_is_shown_whole(capsys, monkeypatch):
    """Square brackets in a help text are terminal markup unless escaped: `[cluster]` in
    `pip install 'digitrec[cluster]'` vanished. Each option's help, as written, is in
    its command's --help."""
    import re

    import typer

    from digitrec.cli import app

    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no wrapping to undo
    for path, command in _commands(typer.main.get_command(app)):
        helps = [p.help for p in command.params if getattr(p, "help", None) and "[" in p.help]
        if not helps:
            continue
        code, out, _ = run(capsys, *path, "--help")
        assert code == 0
        shown = re.sub(r"\s+", " ", out)
        for text in helps:
            want = re.sub(r"\s+", " ", text.replace("\\[", "["))
            assert want in shown, (path, want)


def test_recipes_list_and_detail(capsys):
    listing = run_json(capsys, "recipes")
    names = [r["name"] for r in listing["recipes"]]
    assert names[:5] == ["mlp", "cnn-adadelta", "keras-mnist-cnn", "deep-cnn-rmsprop", "kaggle-cnn-augmented"]
    assert "fast" in names
    code, out, _ = run(capsys, "recipes", "cnn-adadelta")
    assert code == 0 and "Total params: 872,714" in out and "adadelta" in out
    detail = run_json(capsys, "recipes", "deep-cnn-rmsprop")
    assert detail["parameters"] == 370_026 and detail["layers"][0]["output_shape"] == [16, 26, 26]


def test_data_info_and_show(capsys, kaggle_root, tmp_path):
    info = run_json(capsys, "data", "info", "--dataset", "kaggle", "--data-dir", kaggle_root)
    assert info["splits"]["train"]["size"] == 400 and sum(info["splits"]["train"]["class_counts"]) == 400
    assert info["splits"]["test"]["labelled"] is False
    code, out, _ = run(capsys, "data", "info", "--dataset", "kaggle", "--data-dir", kaggle_root)
    assert code == 0 and "400" in out
    png = tmp_path / "grid.png"
    code, _, err = run(
        capsys, "data", "show", "--out", png, "--dataset", "kaggle", "--data-dir", kaggle_root, "--count", "12"
    )
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_train_json_and_progress(capsys, kaggle_root, tmp_path):
    result = run_json(
        capsys,
        "train",
        "--recipe",
        "fast",
        "--dataset",
        "kaggle",
        "--data-dir",
        kaggle_root,
        "--epochs",
        "1",
        "--limit",
        "200",
        "--val-split",
        "0.2",
        "--out",
        tmp_path / "r",
        "--device",
        "cpu",
        "--precision",
        "bf16",
    )
    assert result["epochs"] == 1 and result["train_size"] == 160 and result["val_size"] == 40
    assert result["precision"] == "bf16"
    assert len(result["history"]) == 1 and result["run_dir"] == str(tmp_path / "r")
    code, out, err = run(
        capsys,
        "train",
        "--recipe",
        "fast",
        "--dataset",
        "kaggle",
        "--data-dir",
        kaggle_root,
        "--epochs",
        "1",
        "--limit",
        "100",
        "--out",
        tmp_path / "r2",
        "--device",
        "cpu",
    )
    assert code == 0
    assert "Epoch 1/1  train loss" in err and "val loss" in err  # the per-epoch line, on stderr
    assert "run folder:" in out
    code, _, err = run(
        capsys,
        "train",
        "--dataset",
        "kaggle",
        "--data-dir",
        kaggle_root,
        "--precision",
        "fp16",
        "--out",
        tmp_path / "r3",
    )
    assert code != 0 and "unknown precision 'fp16'" in err and not (tmp_path / "r3").exists()


def test_evaluate_kaggle_val_and_test(capsys, trained_run, kaggle_root):
    result = run_json(capsys, "evaluate", trained_run, "--split", "val", "--data-dir", kaggle_root)
    assert {"accuracy", "loss", "per_class", "confusion_matrix"} <= set(result)
    assert sum(map(sum, result["confusion_matrix"])) == result["size"]
    code, out, _ = run(capsys, "evaluate", trained_run, "--split", "val", "--data-dir", kaggle_root)
    assert code == 0 and "Confusion matrix" in out and "Per class" in out
    code, _, err = run(capsys, "evaluate", trained_run, "--data-dir", kaggle_root)
    assert code == 1 and "test set has no labels" in err and "Traceback" not in err


def test_kaggle_submit(capsys, trained_run, kaggle_root, tmp_path):
    out_csv = tmp_path / "submission.csv"
    result = run_json(
        capsys,
        "kaggle",
        "submit",
        "--model",
        trained_run,
        "--test",
        kaggle_root / "kaggle" / "test.csv",
        "--out",
        out_csv,
    )
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 31 and result["rows"] == 30
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(1, 31)]
    assert all(line.split(",")[1] in "0123456789" for line in lines[1:])


def test_resume_refuses_changed_settings(capsys, trained_run):
    code, _, err = run(capsys, "train", "--resume", trained_run, "--epochs", "5")
    assert code == 1 and "drop --epochs" in err


def test_errors_are_one_sentence_without_traceback(capsys, tmp_path):
    code, out, err = run(capsys, "evaluate", tmp_path / "missing-run")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "does not exist" in err and "Traceback" not in err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    code, _, err = run(capsys, "evaluate", bad)
    assert code == 1 and "not a readable safetensors checkpoint" in err
    code, _, err = run(capsys, "train", "--recipe", "nope")
    assert code == 1 and "unknown recipe 'nope'" in err
    code, _, err = run(capsys, "data", "info", "--data-dir", tmp_path / "nowhere")
    assert code == 1 and "does not exist" in err


def test_debug_shows_the_traceback(tmp_path):
    from digitrec.errors import DigitrecError

    with pytest.raises(DigitrecError):
        main(["--debug", "evaluate", str(tmp_path / "missing-run")])


def test_usage_error_exit_code(capsys):
    code, _, _ = run(capsys, "train", "--no-such-flag")
    assert code == 2


@pytest.mark.mnist
def test_data_commands_on_real_mnist(capsys, mnist_root):
    download = run_json(capsys, "data", "download", "--data-dir", mnist_root)
    assert download["verified"] and len(download["files"]) == 4
    info = run_json(capsys, "data", "info", "--data-dir", mnist_root)
    assert info["splits"]["train"]["size"] == 60000 and info["splits"]["test"]["size"] == 10000


def test_the_command_line_imports_no_heavy_library_until_a_command_needs_it():
    """`digitrec --help` and `digitrec serve --runtime onnx` must not pay for (or need)
    PyTorch: the commands import the library inside their bodies."""
    script = "import sys, digitrec.cli; print(sorted(m for m in ('torch', 'fastapi', 'cv2') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_installed_console_script():
    beside_python = Path(sys.executable).parent / "digitrec"
    exe = str(beside_python) if beside_python.exists() else shutil.which("digitrec")
    if exe is None:
        pytest.skip("digitrec is not installed as a console script in this environment")
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("digitrec ")


def test_report_command(capsys, trained_run, kaggle_root):
    result = run_json(capsys, "report", trained_run, "--split", "val", "--data-dir", kaggle_root, "--normalize")
    assert result["report"] == str(trained_run / "report.html") and len(result["figures"]) == 6
    code, _, err = run(capsys, "report", trained_run, "--data-dir", kaggle_root)
    assert code == 1 and "test set has no labels" in err


def test_train_and_evaluate_write_the_report(capsys, trained_run, kaggle_root):
    assert (trained_run / "report.html").exists(), "train writes the report at its end"
    (trained_run / "report.html").unlink()
    result = run_json(capsys, "evaluate", trained_run, "--split", "val", "--data-dir", kaggle_root)
    assert result["report"] == str(trained_run / "report.html")
    assert (trained_run / "report.html").read_text().count("<img") == 6, "evaluate wrote it again, figures and all"


def test_kfold_command(capsys, kaggle_root, tmp_path):
    result = run_json(
        capsys,
        "kfold",
        "--recipe",
        "fast",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--dataset",
        "kaggle",
        "--data-dir",
        kaggle_root,
        "--out",
        tmp_path / "kf",
        "--device",
        "cpu",
    )
    accuracies = [fold["val_accuracy"] for fold in result["folds"]]
    assert [fold["fold"] for fold in result["folds"]] == [1, 2]
    assert result["val_accuracy_mean"] == pytest.approx(sum(accuracies) / 2)
    for fold in result["folds"]:  # each fold's figure is its own run's
        metrics = json.loads((Path(fold["run_dir"]) / "metrics.json").read_text())
        assert fold["val_accuracy"] == metrics["val_accuracy"]
    assert (tmp_path / "kf" / "report.html").exists() and (tmp_path / "kf" / "results.json").exists()
    code, _, err = run(capsys, "kfold", "--resume", tmp_path / "kf", "--data-dir", kaggle_root)
    assert code == 1 and "never overwritten" in err


def test_compare_command(capsys, trained_run, kaggle_root, tmp_path):
    chart = tmp_path / "cmp.png"
    result = run_json(capsys, "compare", trained_run, trained_run, "--chart", chart, "--data-dir", kaggle_root)
    assert len(result["runs"]) == 2 and chart.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(capsys, "compare", trained_run, "--chart", chart, "--data-dir", kaggle_root)
    assert code == 0 and "Runs compared" in out


def test_predict_files_folders_json_errors_and_crops(capsys, trained_run, tmp_path):
    import numpy as np
    from PIL import Image

    from tests.helpers import synthetic_digits

    folder = tmp_path / "pictures"
    folder.mkdir()
    images, _ = synthetic_digits(2, seed=4)
    for i, image in enumerate(images):
        Image.fromarray(255 - np.kron(image, np.ones((4, 4), np.uint8))).save(folder / f"d{i}.png")
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(folder / "blank.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    crops = tmp_path / "crops"
    code, out, err = run(capsys, "predict", "--model", trained_run, folder, "--json", "--save-crops", crops)
    assert code == 1, "a file that cannot be read makes the exit code 1"
    lines = [json.loads(line) for line in out.splitlines()]
    by_file = {Path(d["file"]).name: d for d in lines}
    assert set(by_file) == {"d0.png", "d1.png", "blank.png", "broken.jpg"}, "the others are still processed"
    assert "broken.jpg" in by_file["broken.jpg"]["error"] and by_file["broken.jpg"]["text"] == ""
    assert by_file["blank.png"]["text"] == "" and "no digit" in by_file["blank.png"]["warning"]
    for name in ("d0.png", "d1.png"):
        d = by_file[name]
        assert len(d["text"]) >= 1 and d["text"] == "".join(str(x["digit"]) for x in d["digits"])
        for digit in d["digits"]:
            assert set(digit) == {"digit", "confidence", "top3", "box", "probabilities"}
            assert len(digit["top3"]) == 3 and len(digit["box"]) == 4 and abs(sum(digit["probabilities"]) - 1) < 1e-3
    saved = list(crops.glob("*.png"))
    assert saved and all(Image.open(p).size == (28, 28) for p in saved)
    code, out, _ = run(capsys, "predict", "--model", trained_run, folder / "d0.png", "--single")
    assert code == 0 and out.startswith(str(folder / "d0.png") + "\t")
    code, _, err = run(capsys, "predict", "--model", trained_run, tmp_path / "nothing-here")
    assert code == 1 and "does not exist" in err


def test_predict_with_the_shipped_reader_and_evaluate_a_labelled_folder(capsys, tmp_path):
    from digitrec.shipped import READER
    from tests.training.test_reader import write_number_folder

    folder = write_number_folder(tmp_path / "fields", n=6)
    code, out, err = run(capsys, "predict", folder, "--json")  # no --model: the shipped reader
    assert code == 0, err
    readings = list(map(json.loads, out.splitlines()))
    for d in readings:
        assert d["text"].replace(" ", "") == "".join(str(x["digit"]) for x in d["digits"])
        assert len(d["numbers"]) == len(d["text"].split())
        for number in d["numbers"]:
            assert len(number["box"]) == 4 and 0 <= number["confidence"] <= 1
    code, out, _ = run(capsys, "predict", folder / "000.png", "--json", "--min-confidence", "1")
    d = json.loads(out)
    assert code == 0 and d["text"] == "" and "--min-confidence" in d["warning"]
    code, out, _ = run(capsys, "predict", "--model", READER, folder / "000.png", "--single")
    assert code == 0, "a reader is paired with the shipped classifier for single digits"
    report = run_json(capsys, "evaluate", READER, "--dataset", folder)
    labels = dict(line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:])
    right = sum(d["text"].replace(" ", "") == labels[Path(d["file"]).name] for d in readings)
    assert report["size"] == 6 and report["accuracy"] == right / 6, "evaluate scores what predict reads"
    assert report["errors"] == 6 - right
    for confusion in report["confusions"]:
        assert set(confusion) == {"true", "read", "count"} and confusion["true"] != confusion["read"]
    code, _, err = run(capsys, "evaluate", READER, "--dataset", tmp_path / "nowhere")
    assert code == 1 and "is not a folder" in err
    if not torch.cuda.is_available():  # the folder's path honours --device (it read on the CPU whatever was asked)
        code, _, err = run(capsys, "evaluate", READER, "--dataset", folder, "--device", "cuda")
        assert code == 1 and "no CUDA GPU" in err
    for layout in ("field", "page"):
        code, out, err = run(capsys, "predict", folder / "000.png", "--layout", layout, "--json")
        assert code == 0 and json.loads(out)["file"].endswith("000.png"), err
    code, _, err = run(capsys, "predict", folder / "000.png", "--layout", "column")
    assert code == 1 and "--layout must be one of auto, field, page, got 'column'" in err


def test_predict_reports_every_unreadable_entry_of_a_folder_and_reads_the_rest(
    capsys, trained_run, tmp_path, monkeypatch
):
    """Each was skipped in silence (or hung, for a FIFO); now each has its own line."""
    import os

    import numpy as np
    from PIL import Image

    folder = tmp_path / "pictures"
    (folder / "locked").mkdir(parents=True)
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(folder / "good.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(folder / "locked" / "hidden.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "dangling.png").symlink_to(tmp_path / "gone.png")
    (folder / "up").symlink_to(folder)  # a link to an ancestor: following it never ends
    os.mkfifo(folder / "pipe.png")
    (folder / "x.png").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder: deny this one as a filesystem would
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, _err = run(capsys, "predict", "--model", trained_run, folder, folder / "pipe.png", "--json")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    errors = {Path(d["file"]).name: d["error"] for d in lines if "error" in d}
    assert [Path(d["file"]).name for d in lines if "error" not in d] == ["good.png"]
    assert "symlink loop" in errors["loop.png"]
    assert "dangling symlink" in errors["dangling.png"]
    assert "not followed" in errors["up"]
    assert "is a FIFO" in errors["pipe.png"]  # in the folder and named on the command line
    assert sum(1 for d in lines if Path(d["file"]).name == "pipe.png") == 2
    assert "is a folder, not an image" in errors["x.png"]
    assert "cannot list folder" in errors["locked"] and "Permission denied" in errors["locked"]
