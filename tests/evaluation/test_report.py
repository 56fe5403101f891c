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

EXPECTED = {"learning_curves", "confusion_matrix", "per_class_accuracy", "confident_errors", "prediction_grid", "samples"}


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
    assert f"{100 * evaluation['accuracy']:.2f}%" in text and "val set" in text


def test_report_needs_a_run_folder(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        write_run_report(tmp_path)
