"""The number finder: synthetic pages and their targets, the finder's map turned back
into boxes, its checkpoint, its training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.artifacts.checkpoint import load_model
from digitrec.data.synthetic import DigitBank, NumberMaker
from digitrec.data.synthetic_pages import MASK_STRIDE, SHRINK_X, SHRINK_Y, PageConfig, PageMaker, number_mask
from digitrec.errors import CheckpointError, ConfigError
from digitrec.layout import NumberFinderRuntime, Target, number_boxes, page_canvas
from digitrec.models.finder import NumberFinder
from digitrec.preprocess.decode import decode_picture
from digitrec.recognizer import Recognizer
from digitrec.runtime import load_runtime_model
from digitrec.training import finder as finder_training
from tests.helpers import synthetic_digits

TARGET = Target(MASK_STRIDE, SHRINK_X, SHRINK_Y)


@pytest.fixture(scope="module")
def numbers() -> NumberMaker:
    images, labels = synthetic_digits(200, seed=5)
    return NumberMaker(DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64"))))


def iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    w = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    h = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    return w * h / (aw * ah + bw * bh - w * h)


def test_a_page_batch_has_its_numbers_ink_inside_their_boxes(numbers):
    batch = PageMaker(numbers).batch(8, torch.Generator().manual_seed(0))
    assert batch.pages.shape == (8, 1, 256, 384) and float(batch.pages.min()) >= 0 and float(batch.pages.max()) <= 1
    used = batch.boxes[..., 0] >= 0
    assert used.sum() >= 4, "pages hold numbers"
    for page, boxes, on in zip(batch.pages, batch.boxes, used):
        for x0, y0, x1, y1 in boxes[on].round().long().tolist():
            inside = page[0, max(0, y0) : y1, max(0, x0) : x1]
            assert inside.numel() and float(inside.max()) > 0.3, "a number's box holds its ink"
    masks = batch.masks()
    assert masks.shape == (8, 1, 64, 96) and 0 < float(masks.mean()) < 0.2


def test_a_page_with_no_numbers_has_an_empty_target(numbers):
    batch = PageMaker(numbers, dataclasses.replace(PageConfig(), fill=0.0)).batch(4, torch.Generator().manual_seed(1))
    assert (batch.boxes == -1).all() and float(batch.masks().sum()) == 0.0
    assert float(batch.pages.max()) > 0.3, "printed words and rules are still there"


def test_the_target_and_the_boxes_read_back_from_it_agree():
    """The finder's training target, read back by the post-processing, gives the boxes it
    was made from: what the finder learns is what the recognizer reads."""
    truth = [(40, 20, 200, 60), (260, 24, 360, 56), (60, 150, 140, 230)]  # x0, y0, x1, y1
    mask = number_mask(torch.tensor([truth], dtype=torch.float32), 64, 96)[0, 0].numpy()
    found = number_boxes(mask, TARGET, 1.0, 384, 256)
    assert len(found.boxes) == 3
    expected = [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in truth]
    for box, want in zip(found.boxes, expected):  # reading order: the first line left to right
        assert iou(box, want) > 0.75, (box, want)


def test_boxes_are_scaled_to_the_picture_and_specks_dropped():
    chances = np.zeros((20, 30), np.float32)
    chances[5:9, 4:14] = 0.9  # a number
    chances[15, 25] = 0.99  # a speck
    found = number_boxes(chances, TARGET, 0.5, 240, 160)  # the finder saw the picture at half size
    assert len(found.boxes) == 1
    x, y, w, h = found.boxes[0]
    assert (x, y) == (pytest.approx(20, abs=12), pytest.approx(32, abs=12)) and w > 70 and h > 28
    assert found.scores[0] == pytest.approx(0.9)


def test_the_page_canvas_is_ink_bright_at_the_finders_side():
    page = np.full((700, 1000), 235, np.uint8)
    page[300:340, 500:510] = 30
    canvas, scale = page_canvas(decode_picture(page), 768)
    assert canvas.shape[1] == 768 and canvas.shape[0] % 16 == 0 and canvas.shape[0] >= 700 * 768 / 1000
    assert scale == pytest.approx(0.768)
    assert canvas[int(320 * scale), int(505 * scale)] > 200 and canvas[50, 50] < 30


def test_a_small_picture_is_enlarged_at_most_as_its_finder_learned():
    cell = np.full((120, 180), 235, np.uint8)
    assert page_canvas(decode_picture(cell), 768)[1] == pytest.approx(2.0)  # finders that do not say: 2x
    canvas, scale = page_canvas(decode_picture(cell), 768, enlarge=1.0)
    assert scale == pytest.approx(1.0) and canvas.shape == (128, 192)


def test_a_field_is_searched_at_most_field_side_and_a_page_at_the_finders_side():
    from digitrec.layout.finder import FIELD_SIDE

    seen = []

    def chances(canvas):
        seen.append(canvas.shape)
        return np.zeros((canvas.shape[0] // 4, canvas.shape[1] // 4), np.float32)

    meta = {"input": {"side": 768, "enlarge": 1.33}, "target": {"stride": 4, "shrink_x": 0.0, "shrink_y": 0.0}}
    finder = NumberFinderRuntime(meta, Path("double"), chances, "pytorch")
    drawing = decode_picture(np.full((FIELD_SIDE, FIELD_SIDE), 235, np.uint8))
    assert finder.field_places(drawing) == []
    assert max(seen[-1]) <= FIELD_SIDE, "a field is not enlarged past FIELD_SIDE"
    finder.find(drawing)
    assert max(seen[-1]) >= 1.3 * FIELD_SIDE, "a page is, as far as its finder learned"
    cell = decode_picture(np.full((150, 120), 235, np.uint8))
    finder.field_places(cell)
    assert seen[-1][0] >= 1.3 * 150, "a small field is enlarged as before"


def test_the_finder_maps_a_page_to_quarter_resolution():
    out = NumberFinder()(torch.rand(2, 1, 64, 96))
    assert out.shape == (2, 1, 16, 24)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, numbers, monkeypatch_module):
    """A finder trained for a few steps on small pages: a real checkpoint, not a good one."""
    monkeypatch_module.setattr(finder_training, "digit_bank", lambda *a, **k: numbers.bank)
    out = tmp_path_factory.mktemp("finder") / "finder.safetensors"
    figures = finder_training.train_finder(out, steps=30, batch=4, page=PageConfig(height=64, width=96))
    return out, figures


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as m:
        yield m


def test_training_lowers_the_loss_and_writes_a_checkpoint_that_says_how_to_run_it(trained):
    out, figures = trained
    assert figures["final_loss"] < figures["first_loss"]
    meta = load_model(out).meta
    assert meta["kind"] == "finder" and meta["input"]["side"] == finder_training.SIDE
    assert meta["target"] == {"stride": MASK_STRIDE, "shrink_x": SHRINK_X, "shrink_y": SHRINK_Y}
    found = NumberFinderRuntime.load(out).find(np.full((300, 400), 230, np.uint8))
    assert len(found.boxes) == len(found.scores)


def test_a_finder_continued_with_init_records_the_whole_chains_steps_and_seconds(trained, tmp_path):
    out, _ = trained
    first = load_model(out).meta["training"]
    finder_training.train_finder(
        tmp_path / "more.safetensors", steps=3, batch=2, page=PageConfig(height=64, width=96), init=out
    )
    more = load_model(tmp_path / "more.safetensors").meta["training"]
    assert more["steps"] == first["steps"] + 3 and more["seconds"] > first["seconds"] and more["init"] == str(out)
    assert more["core_seconds"] > first["core_seconds"]


def test_a_finder_trained_at_its_own_scale_finds_at_that_scale(trained, tmp_path):
    out, _ = trained
    assert load_model(out).meta["input"]["enlarge"] == 2.0
    finder_training.train_finder(
        tmp_path / "1x.safetensors", steps=2, batch=2, page=PageConfig(height=64, width=96), init=out, enlarge=1.0
    )
    finder_training.train_finder(
        tmp_path / "kept.safetensors",
        steps=2,
        batch=2,
        page=PageConfig(height=64, width=96),
        init=tmp_path / "1x.safetensors",
    )
    assert load_model(tmp_path / "kept.safetensors").meta["input"]["enlarge"] == 1.0, "--init's scale is kept"
    runtime = NumberFinderRuntime.load(tmp_path / "1x.safetensors")
    seen = []
    runtime._chances = lambda canvas: (
        seen.append(canvas.shape) or np.zeros((canvas.shape[0] // 4, canvas.shape[1] // 4), np.float32)
    )
    runtime.find(np.full((120, 180), 235, np.uint8))
    assert seen == [(128, 192)], "a 180x120 cell read at 1x, not enlarged twice"


def test_a_finder_is_not_a_reader_nor_a_classifier(trained, tmp_path):
    out, _ = trained
    with pytest.raises(CheckpointError, match="is a number finder"):
        load_runtime_model(out)
    from digitrec.shipped import CLASSIFIER

    with pytest.raises(ConfigError, match="is a digit classifier"):
        Recognizer.load(CLASSIFIER, finder=out)


def test_a_finder_checkpoint_without_its_target_is_refused(trained, tmp_path):
    from safetensors.torch import load_file

    from digitrec.artifacts.checkpoint import save_model_checkpoint

    out, _ = trained
    meta = load_model(out).meta
    broken = {k: v for k, v in meta.items() if k not in ("target", "format", "classes", "versions", "created")}
    model = NumberFinder()
    model.load_state_dict(load_file(str(out)))
    path = save_model_checkpoint(tmp_path / "broken.safetensors", model, broken)
    with pytest.raises(CheckpointError, match="target"):
        NumberFinderRuntime.load(path)


def test_predict_with_a_finder_beside_a_digit_classifier_says_why_not(trained, tmp_path, capsys):
    from PIL import Image

    from digitrec.shipped import CLASSIFIER
    from tests.cli.test_cli import run

    out, _ = trained
    picture = tmp_path / "page.png"
    Image.fromarray(np.full((60, 200), 230, np.uint8)).save(picture)
    code, _, err = run(capsys, "predict", "--model", CLASSIFIER, "--finder", out, picture)
    assert code != 0 and "is a digit classifier" in err


def test_serve_with_a_finder_beside_a_digit_classifier_says_why_not_before_taking_the_port(trained, capsys):
    from digitrec.shipped import CLASSIFIER
    from tests.cli.test_cli import run

    out, _ = trained
    code, _, err = run(
        capsys, "serve", "--model", CLASSIFIER, "--finder", out, "--port", "1"
    )  # a port it could not take: the model fails first
    assert code != 0 and "is a digit classifier" in err


def test_an_exported_finder_is_served_beside_a_reader(trained, tmp_path, capsys):
    from tests.cli.test_cli import run

    out, _ = trained
    code, printed, _ = run(capsys, "export", out, "--out", tmp_path / "finder.onnx")
    assert code == 0 and f"--finder {tmp_path / 'finder.onnx'}" in printed and "--model reader.onnx" in printed


def test_a_shipped_finders_card_says_its_steps_and_the_core_hours_behind_it(trained):
    from digitrec.shipped import CLASSIFIER
    from digitrec.shipped.__main__ import finder_card

    out, _figures = trained
    card = finder_card(out)
    training = load_model(out).meta["training"]
    assert card["steps"] == 30 and card["parameters"] == sum(p.numel() for p in NumberFinder().parameters())
    assert card["compute"]["core_hours"] == round(training["core_seconds"] / 3600, 3)
    assert training["core_seconds"] == pytest.approx(training["seconds"] * training["threads"], rel=0.01)
    with pytest.raises(SystemExit, match="not a number finder"):
        finder_card(CLASSIFIER)


def test_shipping_a_finder_that_is_not_one_is_refused_and_changes_nothing(trained, tmp_path, monkeypatch):
    import shutil

    from digitrec import shipped
    from digitrec.shipped import __main__ as ship

    _out, _ = trained
    files = {name: tmp_path / f"{name}.file" for name in ("READER", "CLASSIFIER", "FINDER", "CARD")}
    shutil.copyfile(shipped.READER, files["READER"])
    files["FINDER"].write_bytes(b"the finder shipped before")
    for name, path in files.items():
        monkeypatch.setattr(ship, name, path)
    with pytest.raises(SystemExit, match="not a number finder"):
        ship.main([str(shipped.READER), "--finder", str(shipped.CLASSIFIER)])
    assert files["FINDER"].read_bytes() == b"the finder shipped before" and not files["CARD"].exists()


def test_a_finder_ships_reading_small_pictures_at_the_scale_chosen_for_it(trained, tmp_path, monkeypatch):
    import shutil

    from digitrec import shipped
    from digitrec.shipped import __main__ as ship

    out, _ = trained
    files = {name: tmp_path / f"{name}.file" for name in ("READER", "CLASSIFIER", "FINDER", "CARD")}
    shutil.copyfile(shipped.CARD, files["CARD"])
    shutil.copyfile(shipped.CLASSIFIER, files["CLASSIFIER"])  # kept: only the reader and its finder ship
    for name, path in files.items():
        monkeypatch.setattr(ship, name, path)
    with pytest.raises(SystemExit, match="at least 1"):
        ship.main([str(shipped.READER), "--finder", str(out), "--finder-enlarge", "0.5"])
    assert ship.main([str(shipped.READER), "--finder", str(out), "--finder-enlarge", "1.33", "--threads", "2"]) == 0
    assert NumberFinderRuntime.load(files["FINDER"]).enlarge == 1.33
    assert json.loads(files["CARD"].read_text())["finder"]["enlarge"] == 1.33
    assert load_model(out).meta["input"]["enlarge"] == 2.0, "the finder trained stays as it was"


def test_a_reader_that_learned_from_a_finders_strips_ships_only_with_a_finder(tmp_path, monkeypatch):
    from digitrec import shipped
    from digitrec.artifacts.checkpoint import save_model_checkpoint
    from digitrec.shipped import __main__ as ship

    loaded = load_model(shipped.READER)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "classes", "versions", "created")}
    meta["input"] = {**meta["input"], "cut": "finder"}
    reader = save_model_checkpoint(tmp_path / "found.safetensors", loaded.model, meta)
    for name in ("READER", "CLASSIFIER", "FINDER", "CARD"):
        monkeypatch.setattr(ship, name, tmp_path / f"{name}.file")
    with pytest.raises(SystemExit, match="ship that finder with it"):
        ship.main([str(reader)])
    assert not any((tmp_path / f"{name}.file").exists() for name in ("READER", "FINDER", "CARD"))


def test_a_fields_number_joins_the_regions_that_continue_its_line_and_no_others():
    from digitrec.layout.finder import FoundNumbers, field_number_box

    surest, after_a_gap = (100, 40, 60, 40), (175, 42, 50, 38)  # a wide gap between two digits
    neighbours_row, far_right = (100, 100, 60, 30), (400, 40, 40, 40)
    found = FoundNumbers([surest, after_a_gap, neighbours_row, far_right], [0.9, 0.7, 0.8, 0.8])
    assert field_number_box(found) == (100, 40, 125, 40)
    assert field_number_box(FoundNumbers([surest], [0.5])) == surest


def test_a_fields_candidate_places_are_each_region_joined_along_its_line_surest_first_each_once():
    from digitrec.layout.finder import FoundNumbers, field_number_boxes

    surest, after_a_gap = (100, 40, 60, 40), (175, 42, 50, 38)
    neighbours_row, far_right = (100, 100, 60, 30), (400, 40, 40, 40)
    choices = field_number_boxes(FoundNumbers([surest, after_a_gap, neighbours_row, far_right], [0.9, 0.7, 0.8, 0.8]))
    assert choices[0] == ((100, 40, 125, 40), 0.9), "the surest region joined by the one after the gap"
    assert set(choices[1:]) == {((100, 100, 60, 30), 0.8), ((400, 40, 40, 40), 0.8)}, (
        "the gap's region is not a place of its own"
    )
