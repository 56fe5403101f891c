"""The notebooks in examples/ run, top to bottom, through the Python API, on small
settings: a notebook that no longer runs, or whose answer is wrong, fails here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import write_kaggle_root

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_notebook(name: str, cwd: Path, **parameters) -> nbformat.NotebookNode:
    """Execute examples/`name` in `cwd`, `parameters` set in a cell right after the one
    tagged `parameters` (as papermill does), and return it with its outputs."""
    book = nbformat.read(EXAMPLES / name, as_version=4)
    at = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    lines = [f"{key} = {value!r}" for key, value in parameters.items()]
    book.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(lines)))
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return book


def printed(book: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.mnist
def test_the_mnist_tutorial_notebook_trains_evaluates_and_reports(tmp_path, mnist_root, monkeypatch):
    monkeypatch.setenv("DIGITREC_DATA", str(mnist_root.resolve()))  # the kernel runs in tmp_path
    book = run_notebook("01_mnist_tutorial.ipynb", tmp_path, RECIPE="quick", EPOCHS=1, LIMIT=5000, FOLDS=2)
    run = tmp_path / "runs" / "notebook-mnist"
    evaluation = json.loads((run / "evaluation-test.json").read_text())
    # 5,000 images, one epoch: 26 steps of 192 read 92-94%.
    assert evaluation["size"] == 10_000 and evaluation["accuracy"] > 0.9
    assert f"test accuracy {evaluation['accuracy']:.2%}" in printed(book)
    assert (run / "report.html").exists() and (run / "figures" / "per_class_accuracy.png").exists()  # evaluated
    assert (
        json.loads((tmp_path / "runs" / "notebook-mnist-kfold" / "results.json").read_text())["folds"][1]["fold"] == 2
    )
    figures = [o for c in book.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) == 4  # samples, learning curves, confusion matrix, errors


@pytest.mark.mnist
def test_the_own_picture_notebook_reads_the_number_it_wrote(tmp_path, mnist_root, monkeypatch):
    monkeypatch.setenv("DIGITREC_DATA", str(mnist_root.resolve()))
    book = run_notebook("02_read_your_own_picture.ipynb", tmp_path)
    assert "read '2026'" in printed(book)
    assert (tmp_path / "my-number.png").exists()


def test_the_kaggle_notebook_writes_a_submission_of_every_test_row(tmp_path):
    root = write_kaggle_root(tmp_path / "data", n_train=300, n_test=25)
    run_notebook("03_kaggle_submission.ipynb", tmp_path, DATA=str(root), EPOCHS=1)
    with open(tmp_path / "submission.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ImageId", "Label"] and [r[0] for r in rows[1:]] == [str(i) for i in range(1, 26)]
    assert all(r[1] in "0123456789" and len(r[1]) == 1 for r in rows[1:])
