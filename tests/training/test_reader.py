"""Training the number reader through the one engine: run folders, resume, fine-tuning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from digitrec import Recognizer
from digitrec.artifacts.checkpoint import load_model
from digitrec.data.folders import load_fields
from digitrec.data.synthetic import DigitBank, NumberMaker, SyntheticConfig
from digitrec.errors import ConfigError
from digitrec.models import ModelConfig
from digitrec.training import RunOptions, ScheduleConfig, get_recipe, resume_run, train_recipe
from digitrec.training.runs import RunFolder
from digitrec.training.tasks import score_fields
from tests.helpers import synthetic_digits, write_kaggle_root
from tests.training.test_engine import StopAfter

CLEAN = SyntheticConfig(
    min_digits=1,
    max_digits=3,
    separator=0.0,
    trailing=0.0,
    line=0.0,
    border=0.0,
    margin=0.0,
    underline=0.0,
    stain=0.0,
    pattern=0.0,
    blur=0.0,
    jpeg=0.0,
    low_contrast=0.0,
    noise=0.0,
    inverted=0.0,
    stroke=0.0,
)


def write_number_folder(folder: Path, n: int = 45, seed: int = 0) -> Path:
    """A labelled folder of field images: synthetic numbers of test digits, dark on light."""
    images, labels = synthetic_digits(300, seed=11)
    bank = DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64")))
    batch = NumberMaker(bank, CLEAN).batch(n, torch.Generator().manual_seed(seed))
    folder.mkdir(parents=True)
    rows = ["file,label"]
    for i, (strip, width, text) in enumerate(zip(batch.strips[:, 0], batch.widths, batch.texts())):
        pixels = 255 - (strip[:, : int(width)].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(np.pad(pixels, 8, constant_values=255)).resize((2 * (pixels.shape[1] + 16), 96)).save(
            folder / f"{i:03d}.png"
        )
        rows.append(f"{i:03d}.png,{text}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def tiny(recipe: str, folder: Path, model: ModelConfig, epochs: int, steps: int, **reader_changes):
    """`recipe` on a tiny network, a constant high learning rate and clean synthetic
    numbers of Kaggle digits, real fields from `folder`: learns something in seconds."""
    base = get_recipe(recipe)
    reader = dataclasses.replace(
        base.reader,
        synthetic=CLEAN,
        digit_sources=("kaggle",),
        real=(f"{folder}:train",),
        real_weights=(1.0,),
        validation=(f"{folder}:validation",),
        steps_per_epoch=steps,
        **reader_changes,
    )
    return base.with_overrides(
        model=model, reader=reader, epochs=epochs, batch_size=16, ema=0.0, schedule=ScheduleConfig("constant"), lr=1e-2
    )


def tiny_reader(folder: Path, epochs: int = 2, steps: int = 8, real_share: float = 0.5, finder: str | None = None):
    """`strip-reader` on a network of 16k parameters, to exercise the reader's paths; its
    real fields cut by the rule-based field finder unless a number finder is given."""
    model = ModelConfig("crnn", {"channels": [8, 16, 16, 24], "hidden": 16})
    return tiny("strip-reader", folder, model, epochs, steps, real_share=real_share, finder=finder)


def tiny_field_reader(folder: Path, epochs: int = 2, steps: int = 8):
    """`reader` (whole fields) at 32 pixels on a network of ~15k parameters, to exercise the field reader's paths."""
    fields = dataclasses.replace(get_recipe("reader").reader.fields, height=32)
    model = ModelConfig("field-crnn", {"height": 32, "channels": [8, 8, 16, 16, 24], "hidden": 16})
    return tiny("reader", folder, model, epochs, steps, fields=fields)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_kaggle_root(tmp_path_factory.mktemp("data"), n_train=300, n_test=10)
    return root, write_number_folder(tmp_path_factory.mktemp("fields") / "numbers")


@pytest.fixture(autouse=True)
def _field_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


OPTIONS = RunOptions(seed=0, device="cpu")


def test_a_reader_trains_into_a_run_folder_whose_model_reads_pictures(tmp_path, data):
    root, folder = data
    outcome = train_recipe(tiny_reader(folder), OPTIONS, tmp_path / "run", root)
    run = outcome.run
    assert [h.epoch for h in run.read_history()] == [1, 2]
    assert outcome.metrics["val_size"] == len(load_fields(f"{folder}:validation", root))
    loaded = load_model(run.path)
    assert loaded.meta["kind"] == "reader" and loaded.meta["alphabet"] == "0123456789"
    assert loaded.meta["recipe_config"]["reader"]["steps_per_epoch"] == 8  # the whole resolved recipe travels along
    reading = Recognizer.load(run.path).read(next(folder.glob("*.png")))
    assert all(d.digit in range(10) and len(d.top3) == 3 for d in reading.digits)
    assert reading.text.replace(" ", "") == "".join(str(d.digit) for d in reading.digits)


def test_a_field_reader_trains_on_whole_fields_and_reads_a_picture_whole(tmp_path, data):
    root, folder = data
    outcome = train_recipe(tiny_field_reader(folder), OPTIONS, tmp_path / "run", root)
    loaded = load_model(outcome.run.path)
    assert loaded.meta["input"]["layout"] == "field" and loaded.meta["input"]["shape"][1] == 32
    whole = load_fields(f"{folder}:validation", root, whole=32)
    assert whole.strips.shape[1] == 32 and outcome.metrics["val_size"] == len(whole)
    recognizer = Recognizer.load(outcome.run.path)
    assert recognizer.reads_fields
    picture = next(folder.glob("*.png"))
    reading = recognizer.read(picture, layout="field")
    assert len(reading.numbers) <= 1, "a field gives one number, or none"
    assert reading.text == "".join(str(d.digit) for d in reading.digits)
    with pytest.raises(ConfigError, match="--layout must be one of"):
        recognizer.read(picture, layout="column")


def test_column_targets_give_each_column_the_box_of_the_digit_it_is_in():
    from digitrec.training.boxes import column_targets

    boxes = torch.tensor([[[4.0, 8.0, 14.0, 24.0], [13.0, 6.0, 30.0, 26.0], [-1.0, -1.0, -1.0, -1.0]]])
    target, has = column_targets(boxes, 10, 32)  # column centres 2, 6, 10, ..., 38
    assert has[0].tolist() == [
        True,
        True,
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]  # 2 is within the margin of 4
    # Column 3 (centre 14) is in both boxes: the first's centre (9) is nearer than the second's (21.5).
    assert torch.allclose(target[0, 3], torch.tensor([(4 - 14) / 32, (14 - 14) / 32, 8 / 32, 24 / 32]))
    assert torch.allclose(target[0, 4], torch.tensor([(13 - 18) / 32, (30 - 18) / 32, 6 / 32, 26 / 32]))


def test_a_box_head_learns_on_a_frozen_field_reader_and_its_boxes_reach_the_recognizer(tmp_path, data):
    from digitrec.training.boxes import train_box_head

    root, folder = data
    run = train_recipe(tiny_field_reader(folder, epochs=1, steps=3), OPTIONS, tmp_path / "run", root).run.path
    before = load_model(run).model.state_dict()
    figures = train_box_head(run, tmp_path / "boxed.safetensors", root, steps=60)
    assert figures["final_loss"] < 0.7 * figures["first_loss"], figures
    boxed = load_model(tmp_path / "boxed.safetensors")
    assert boxed.meta["model"]["options"]["boxes"] is True and boxed.meta["input"]["layout"] == "field"
    after = boxed.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "everything but the head is frozen"
    recognizer = Recognizer.load(tmp_path / "boxed.safetensors")
    picture = next(folder.glob("*.png"))
    canvas_columns = recognizer.reader.read_columns([np.zeros((32, 40), np.uint8)])
    assert canvas_columns[0][1].shape == (10, 4)
    reading = recognizer.read(picture, layout="field")
    width, height = Image.open(picture).size
    for d in reading.digits:
        x, y, w, h = d.box
        assert x >= 0 and x + w <= width + 1 and y >= 0 and y + h <= height + 1


def test_an_interrupted_reader_run_resumes_exactly(tmp_path, data):
    root, folder = data
    recipe = tiny_reader(folder, epochs=3, steps=5)
    straight = train_recipe(recipe, OPTIONS, tmp_path / "straight", root)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, OPTIONS, tmp_path / "broken", root, reporter=StopAfter(2))
    assert not RunFolder(tmp_path / "broken").finished
    resumed = resume_run(tmp_path / "broken", root)
    ws, wr = safetensors.torch.load_file(straight.run.last), safetensors.torch.load_file(resumed.run.last)
    assert all(torch.equal(ws[k], wr[k]) for k in ws)


def test_fine_tuning_on_ones_own_folder_improves_a_weak_reader(tmp_path, data):
    root, folder = data
    weak = train_recipe(tiny_reader(folder, epochs=1, steps=3), OPTIONS, tmp_path / "weak", root)
    options = dataclasses.replace(OPTIONS, dataset=str(folder), init=str(weak.run.path))
    tuned = train_recipe(tiny_reader(folder, epochs=4, steps=15, real_share=1.0), options, tmp_path / "tuned", root)
    val = [load_fields(f"{folder}:validation", root)]

    def validation_loss(run: Path) -> float:
        return score_fields(load_model(run).model, val, torch.device("cpu")).loss

    before, after = validation_loss(weak.run.path), validation_loss(tuned.run.path)
    assert after < 0.8 * before, (before, after)
    assert tuned.metrics["train_size"] == len(load_fields(f"{folder}:train", root, others=True))


def test_init_from_another_architecture_is_refused(tmp_path, data):
    root, folder = data
    weak = train_recipe(tiny_reader(folder, epochs=1, steps=2), OPTIONS, tmp_path / "weak", root)
    other = tiny_reader(folder).with_overrides(model=ModelConfig("crnn", {"channels": [8, 16, 16, 32], "hidden": 16}))
    with pytest.raises(ConfigError, match=r"--init .* with other options"):
        train_recipe(other, dataclasses.replace(OPTIONS, init=str(weak.run.path)), tmp_path / "other", root)


def test_init_from_another_architecture_names_the_recipes_that_fit_it(tmp_path):
    from digitrec.shipped import READER
    from digitrec.training.runner import init_weights_of

    with pytest.raises(ConfigError, match="fine-tune it with --recipe strip-reader or reader-tune"):
        init_weights_of(str(READER), get_recipe("reader"))  # the field reader: another network


def test_evaluating_a_folder_and_the_report_show_the_worst_read_fields(tmp_path, data):
    from digitrec.evaluation.numbers import evaluate_fields, fields_evaluation_record
    from digitrec.evaluation.report import write_run_report
    from digitrec.fileio import read_json

    root, folder = data
    run = train_recipe(tiny_reader(folder, epochs=1, steps=3), OPTIONS, tmp_path / "run", root).run.path
    score = evaluate_fields(run, str(folder), root)
    saved = read_json(run / "evaluation-fields-numbers.json")
    assert saved["size"] == score.size == 45 and saved["accuracy"] == score.accuracy
    assert saved == fields_evaluation_record(score), "the file records what `evaluate --json` prints"
    assert score.accuracy < 1.0, "a reader three steps old gets some wrong: they make the gallery"
    page = write_run_report(run, data_dir=root).read_text()
    assert "Worst-read fields of" in page and (run / "figures" / "worst_fields_1.png").exists()
    assert f"{100 * score.accuracy:.2f}% of 45 numbers right" in page


def test_reader_batches_are_grouped_by_width_so_narrow_fields_carry_no_wide_padding():
    from digitrec.data.folders import FieldDataset
    from digitrec.training.tasks import ReaderTask

    images, labels = synthetic_digits(100, seed=3)
    bank = DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64")))
    maker = NumberMaker(bank, dataclasses.replace(CLEAN, min_digits=5, max_digits=6))
    cells = FieldDataset(
        torch.full((40, 32, 32), 200, dtype=torch.uint8),
        torch.full((40,), 32),
        ("7",) * 40,
        (Path("c.png"),) * 40,
        "cells",
    )
    task = ReaderTask(maker, [cells], (1.0,), [], real_share=0.5)
    recipe = tiny_reader(Path("unused"), steps=8).with_overrides(batch_size=16)
    batches = list(task.batches(recipe, torch.Generator().manual_seed(0)))
    assert len(batches) == 8 and all(x.shape[0] == 16 for x, _ in batches)
    widths = sorted(x.shape[-1] for x, _ in batches)
    # Half the fields are 32-pixel cells (<= 52 after warping), half numbers of 5-6 digits:
    # grouped, the cells' batches stay narrow; mixed, every batch would be as wide as a number.
    assert widths[0] <= 56 and widths[-1] >= 100
    assert sum(t.lengths.tolist().count(1) for _, t in batches) == 64  # every cell came, once per draw


def test_a_strip_reader_can_train_on_strips_cut_from_synthetic_fields():
    from digitrec.data.synthetic_fields import CutFieldMaker, FieldConfig
    from digitrec.training.tasks import ReaderTask

    images, labels = synthetic_digits(100, seed=3)
    bank = DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64")))
    maker = CutFieldMaker(NumberMaker(bank, CLEAN), FieldConfig(height=64, empty=0.0), share=1.0)
    task = ReaderTask(maker, [], (), [], real_share=0.0)
    recipe = tiny_reader(Path("unused"), steps=2).with_overrides(batch_size=8)
    batches = list(task.batches(recipe, torch.Generator().manual_seed(0)))
    assert len(batches) == 2 and all(x.shape[:3] == (8, 1, 32) for x, _ in batches)
    assert all((t.lengths >= 1).all() for _, t in batches)  # every cut holds its field's number


def tiny_finder(out: Path) -> Path:
    """A number finder trained for two steps on small pages: a real checkpoint, not a good one."""
    from digitrec.data.synthetic_pages import PageConfig
    from digitrec.training import finder as finder_training

    images, labels = synthetic_digits(100, seed=3)
    bank = DigitBank.from_images(torch.from_numpy(images), torch.from_numpy(labels.astype("int64")))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(finder_training, "digit_bank", lambda *a, **k: bank)
        finder_training.train_finder(out, steps=2, batch=2, page=PageConfig(height=64, width=96))
    return out


def test_a_strip_reader_learns_from_a_finders_strips_and_is_read_with_a_finder(tmp_path, data, monkeypatch):
    from digitrec import shipped
    from digitrec.data.folders import read_labels

    root, folder = data
    finder = tiny_finder(tmp_path / "finder.safetensors")
    found = train_recipe(tiny_reader(folder, epochs=1, steps=3, finder=str(finder)), OPTIONS, tmp_path / "found", root)
    assert load_model(found.run.path).meta["input"]["cut"] == "finder"
    assert found.metrics["train_size"] == len(read_labels(f"{folder}:train")), (
        "one strip per field: where the finder is surest"
    )
    monkeypatch.setattr(shipped, "FINDER", tmp_path / "no-finder.safetensors")
    with pytest.raises(ConfigError, match="cut by a number finder: pass one with --finder"):
        Recognizer.load(found.run.path)
    assert Recognizer.load(found.run.path, finder=finder).finder is not None
    monkeypatch.setattr(shipped, "FINDER", finder)
    assert Recognizer.load(found.run.path).finder is not None, "the shipped finder, by default"
    ruled = train_recipe(tiny_reader(folder, epochs=1, steps=2), OPTIONS, tmp_path / "ruled", root)
    assert load_model(ruled.run.path).meta["input"]["cut"] == "rules" and Recognizer.load(ruled.run.path).finder is None


def test_only_a_strip_reader_takes_a_finder_for_its_fields():
    with pytest.raises(ConfigError, match="does not train one"):
        get_recipe("reader").with_overrides(finder="finder.safetensors")
    assert get_recipe("strip-reader").with_overrides(finder="f.safetensors").reader.finder == str(
        Path("f.safetensors").resolve()
    )
