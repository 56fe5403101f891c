import base64
import io
import re
from html.parser import HTMLParser

import pytest
from PIL import Image

from digitrec.errors import RunError
from digitrec.evaluation.report import write_run_report
from digitrec.fileio import read_json
from tests.helpers import train_tiny_run, write_kaggle_root

EXPECTED = {
    "learning_curves",
    "confusion_matrix",
    "per_class_accuracy",
    "confident_errors",
    "prediction_grid",
    "samples",
}


class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.refs.append((tag, a[key], a))


@pytest.fixture(scope="module")
def run_with_report(tmp_path_factory):
    root = write_kaggle_root(tmp_path_factory.mktemp("data"), n_train=400, n_test=20)
    run_dir = train_tiny_run(root, tmp_path_factory.mktemp("runs") / "r", epochs=2, batch_size=16)
    return run_dir, root, write_run_report(run_dir, split="val", data_dir=root, device="cpu")


def test_every_figure_is_a_valid_png_of_sensible_size(run_with_report):
    run_dir, _, _ = run_with_report
    pngs = {p.stem: p for p in (run_dir / "figures").glob("*.png")}
    assert set(pngs) == EXPECTED
    for name, path in pngs.items():
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            w, h = im.size
        assert 400 <= w <= 3000 and 250 <= h <= 3000, (name, w, h)


def test_html_is_self_contained_and_references_every_figure(run_with_report):
    run_dir, _, report = run_with_report
    text = report.read_text()
    parser = Refs()
    parser.feed(text)
    images = [(src, attrs) for tag, src, attrs in parser.refs if tag == "img"]
    assert {attrs["data-file"] for _, attrs in images} == {f"figures/{n}.png" for n in EXPECTED}
    for src, attrs in images:
        assert src.startswith("data:image/png;base64,")
        embedded = base64.b64decode(src.split(",", 1)[1])
        assert embedded == (run_dir / attrs["data-file"]).read_bytes(), "the embedded figure is the saved one"
        Image.open(io.BytesIO(embedded)).verify()
        assert attrs.get("alt")
    assert not [r for _, r, _ in parser.refs if not r.startswith("data:")], "no reference leaves the page"
    assert "script" not in parser.tags and not re.search(r"https?://", text)
    assert '<meta name="viewport" content="width=device-width' in text
    assert "recipe.optimizer.lr" in text, "the run's config is in the report"


def test_report_states_the_evaluation_it_shows(run_with_report):
    run_dir, _, report = run_with_report
    text = report.read_text()
    evaluation = read_json(run_dir / "evaluation-val.json")
    assert f"{100 * evaluation['accuracy']:.2f}%" in text and "Kaggle validation set" in text


def test_report_tables_speak_a_persons_language(run_with_report):
    run_dir, _, report = run_with_report
    text = report.read_text()
    metrics = read_json(run_dir / "metrics.json")
    assert f"<th>Validation accuracy</th><td>{100 * metrics['val_accuracy']:.2f}%</td>" in text
    assert f"<th>Training images</th><td>{metrics['train_size']:,}</td>" in text
    assert "<th>val_accuracy</th>" not in text and "kaggle val set" not in text


def test_training_figures_get_labels_units_and_the_meaning_of_examples_per_epoch():
    from digitrec.evaluation.report import metrics_rows

    rows = dict(
        metrics_rows(
            {
                "val_accuracy": 0.99421,
                "train_seconds": 125.4,
                "parameters": 431754,
                "train_size": 54000,
                "examples_per_epoch": 53760,
                "new_figure": 3,
            }
        )
    )
    assert rows["Validation accuracy"] == "99.42%" and rows["Training time"] == "2 min 5 s"
    assert rows["Parameters"] == "431,754" and rows["new_figure"] == "3"  # an unknown figure is still shown
    assert "partial batch" in rows["Examples per epoch against training images"]
    why = "Examples per epoch against training images"
    reader = {"train_size": 14270, "examples_per_epoch": 12800}  # 200 steps of 64, fewer than the fields
    assert "fixed number of steps" in dict(metrics_rows(reader, epoch_of_steps=True))[why]
    assert why not in dict(metrics_rows({"train_size": 100, "examples_per_epoch": 100}))  # one whole pass
    assert why not in dict(metrics_rows({"train_size": 100, "examples_per_epoch": 0}))  # resumed after its last epoch


def test_report_needs_a_run_folder(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        write_run_report(tmp_path)


@pytest.fixture
def finished_runs(tmp_path):
    """Two finished runs without their reports: one that held out a validation split, one that trained on all."""
    from digitrec.training import RunOptions, train_recipe
    from tests.helpers import tiny_recipe

    root = write_kaggle_root(tmp_path / "data", n_train=240, n_test=10)
    with_val = train_tiny_run(root, tmp_path / "with-val", epochs=1, batch_size=32)
    no_val = tmp_path / "no-val"
    train_recipe(
        tiny_recipe(epochs=1, batch_size=32).with_overrides(val_split=0.0),
        RunOptions(dataset="kaggle", device="cpu"),
        no_val,
        root,
    )
    return root, with_val, no_val


def test_the_training_report_evaluates_the_validation_split_when_the_run_held_one_out(finished_runs):
    from digitrec.evaluation.report import write_training_report

    root, with_val, no_val = finished_runs
    text = write_training_report(with_val, root, "cpu").read_text()
    evaluation = read_json(with_val / "evaluation-val.json")
    assert f"{100 * evaluation['accuracy']:.2f}%" in text and "Kaggle validation set" in text
    path = write_training_report(no_val, root, "cpu")
    assert path == no_val / "report.html" and "Evaluation (" not in path.read_text()
    assert not list(no_val.glob("evaluation-*.json")), "no split to evaluate: training figures only"


def test_a_finished_run_without_its_report_gets_it_and_only_then(finished_runs):
    from digitrec.evaluation.report import finish_missing_report

    root, with_val, _ = finished_runs
    assert finish_missing_report(with_val / "nowhere", root, "cpu") is None, "not a finished run"
    path = finish_missing_report(with_val, root, "cpu")
    assert path == with_val / "report.html" and "Kaggle validation set" in path.read_text()
    path.write_text("kept")
    assert finish_missing_report(with_val, root, "cpu") is None
    assert path.read_text() == "kept", "a report already there is left alone"


def test_evaluate_rewrites_a_run_folders_report_but_not_a_checkpoints(finished_runs):
    from digitrec.evaluation.checkpoints import evaluate_saved_model
    from digitrec.evaluation.report import rewrite_run_report

    root, with_val, _ = finished_runs
    evaluation = evaluate_saved_model(with_val, "val", data_dir=root, device="cpu")
    path = rewrite_run_report(with_val, evaluation, root)
    assert path == with_val / "report.html"
    assert f"{100 * evaluation.result.accuracy:.2f}%</span> accuracy on the Kaggle validation set" in path.read_text()
    path.unlink()
    assert rewrite_run_report(with_val / "best.safetensors", evaluation, root) is None
    assert not path.exists(), "a checkpoint file has no folder to hold a report"
