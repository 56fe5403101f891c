"""The shipped models: they load with the network blocked, and the reader reads real-looking
fields made from MNIST *test* digits (never trained on) with the distractors of documents."""

from __future__ import annotations

import socket

import cv2
import numpy as np
import pytest

from digitrec import Recognizer
from digitrec.shipped import CARD, CLASSIFIER, READER
from tests.pictures import encode, paper, paste_digit, ruled_lines, shadow


def test_the_shipped_models_are_small_and_load_and_read_with_the_network_blocked(monkeypatch) -> None:
    def no_network(*args, **kwargs):
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    recognizer = Recognizer.load()
    assert recognizer.reader is not None and recognizer.classifier is not None
    assert recognizer.reader.meta["kind"] == "reader" and recognizer.classifier.meta.get("kind") != "reader"
    page = paper(200, 80)
    cv2.line(page, (60, 20), (64, 60), 20, 4)  # a "1"
    assert recognizer.read(encode(page)).text == "1"
    # Small enough to ship in the wheel: a 1.1M-parameter reader and a 0.4M classifier in fp32.
    assert READER.stat().st_size + CLASSIFIER.stat().st_size < 8_000_000
    assert CARD.exists()


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


@pytest.fixture(scope="module")
def digits(mnist_test, recognizer):
    """For each class, test digits the classifier reads confidently alone (clearly written)."""
    images, labels = mnist_test.images[:3000].numpy(), mnist_test.labels[:3000].numpy()
    probs = recognizer.classify(images)
    return {
        c: [images[i] for i in np.flatnonzero((labels == c) & (probs.argmax(1) == c) & (probs.max(1) > 0.95))[:6]]
        for c in range(10)
    }


def write(
    page: np.ndarray, digits, text: str, x: int, y: int, height: int, advance: float = 0.75, pick: int = 0
) -> tuple[int, int, int, int]:
    """Paste the digits of `text` as dark ink; `advance` is the step between digits in digit heights."""
    boxes = []
    for i, c in enumerate(text):
        boxes.append(
            paste_digit(
                page, digits[int(c)][(pick + i) % len(digits[int(c)])], x + round(i * advance * height), y, height
            )
        )
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    return x0, y0, max(b[0] + b[2] for b in boxes) - x0, max(b[1] + b[3] for b in boxes) - y0


@pytest.mark.mnist
@pytest.mark.parametrize("text", ["47", "3805", "190263"])
def test_touching_digits_are_read(recognizer, digits, text) -> None:
    page = paper(80 + 40 * len(text), 110, seed=len(text))
    write(page, digits, text, 30, 25, 60, advance=0.45)  # MNIST digits are ~2/3 as wide as tall: these overlap
    assert recognizer.read(encode(page)).text == text


@pytest.mark.mnist
def test_a_field_with_a_dark_margin_and_table_lines(recognizer, digits) -> None:
    page = paper(150, 200, seed=7)
    write(page, digits, "58", 65, 80, 36)
    page[:, :45] = 12  # the scanner's black margin
    page = ruled_lines(page, 170, colour=80, width=2)
    page[:, 138:140] = 80  # the column's border
    page[125:128, 62:120] = 40  # an underline
    reading = recognizer.read(encode(page, "JPEG", quality=85))
    assert reading.text == "58"


@pytest.mark.mnist
def test_separators_are_not_part_of_the_number(recognizer, digits) -> None:
    page = paper(420, 110, seed=8)
    h = 50
    boxes = [paste_digit(page, digits[int(c)][0], x, 30, h) for c, x in zip("10000", (30, 70, 140, 180, 220))]
    bottom = max(b[1] + b[3] for b in boxes)
    for x in (118, 268):  # "10.000." : dots on the baseline
        cv2.circle(page, (x, bottom - 3), 4, 25, -1)
    cv2.line(page, (290, 30 + h // 2), (320, 30 + h // 2), 25, 4)  # and the dash: "10.000.-"
    assert recognizer.read(encode(page)).text == "10000"


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes (x, y, w, h)."""
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.mark.mnist
def test_each_digits_box_is_on_that_digits_ink_not_on_the_fields_clutter(recognizer, digits) -> None:
    """What the page's digit crops show: each digit's box covers its ink, not the rule
    under the number, the column's border, the next row's number or a word printed
    beside it. (The unit tests of `preprocess.digit_boxes` put clutter inside the
    number's place; here it is where the finder leaves it out.)"""
    page = paper(300, 170, seed=11)
    boxes = [paste_digit(page, digits[int(c)][1], 40 + 42 * i, 30, 56) for i, c in enumerate("2596")]
    page[100:103, :] = 60  # the rule the number stands on
    page[:, 14:17] = 60  # the column's border
    paste_digit(page, digits[3][2], 80, 106, 56)  # the next row's number ...
    page = page[:124]  # ... cut by the picture's edge
    word = np.zeros(page.shape, np.uint8)
    cv2.putText(word, "kr.", (215, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)  # printed after the number
    page[word > 0] = 40
    reading = recognizer.read(encode(page))
    assert reading.text == "2596"
    scores = [overlap(d.box, true) for d, true in zip(reading.digits, boxes)]
    assert min(scores) >= 0.6, scores


@pytest.mark.mnist
def test_a_page_with_three_numbers_gives_three_results_in_order(recognizer, digits) -> None:
    page = paper(700, 500, seed=9)
    truth = [
        ("305", write(page, digits, "305", 60, 60, 60)),
        ("72", write(page, digits, "72", 450, 70, 60, pick=1)),
        ("9146", write(page, digits, "9146", 120, 320, 70, pick=2)),
    ]
    reading = recognizer.read(encode(shadow(page), "JPEG", quality=85))
    assert [n.text for n in reading.numbers] == [t for t, _ in truth]
    assert reading.text == "305 72 9146"
    for number, (_, (x, y, w, h)) in zip(reading.numbers, truth):
        bx, by, bw, bh = number.box
        assert bx <= x + 3 and by <= y + 3 and bx + bw >= x + w - 3 and by + bh >= y + h - 3, (number.box, (x, y, w, h))


def test_a_blank_field_and_a_dash_give_no_number_and_a_scribble_no_sure_one(recognizer) -> None:
    blank = paper(200, 80, seed=1)
    dash = paper(200, 80, seed=2)
    cv2.line(dash, (70, 40), (130, 41), 25, 5)
    scribble = paper(200, 80, seed=3)
    t = np.linspace(0, 6 * np.pi, 200)
    points = np.stack([100 + 60 * np.sin(t) * np.cos(t / 3), 40 + 20 * np.sin(2.3 * t)], 1).astype(np.int32)
    cv2.polylines(scribble, [points], False, 25, 3)
    for name, page in (("blank", blank), ("dash", dash)):
        reading = recognizer.read(encode(page))
        assert (reading.text, reading.warning) == ("", "no digit found"), name
    # Loops a hand drew may be 8s and 0s: not read as sure (it reads 8880 at 0.42).
    reading = recognizer.read(encode(scribble))
    assert reading.confidence < 0.5, (reading.text, reading.confidence)


def test_a_picture_too_small_for_the_finder_to_place_a_number_in_is_read_whole(recognizer) -> None:
    # A 16x16 "1" as USPS stores its digits: the finder, at 4 pixels a cell, marked half of
    # the stroke, and the reader read that half as a 0.
    one = np.zeros((16, 16), np.uint8)
    one[:, 7], one[:, 8], one[2:15, 6] = 255, 150, 30
    assert recognizer.finder.find(encode(one)).boxes == []
    for pixels in (one, 255 - one):
        assert recognizer.read(encode(pixels)).text == "1"


@pytest.mark.mnist
def test_tight_crops_of_lone_digits_are_read_though_a_7s_bar_and_a_1s_stem_span_them(recognizer, digits) -> None:
    # As USPS crops its digits: the ink fills the picture, so the bar of a 7 and the stem of
    # a 1 run from edge to edge, like the rules and borders the field finder removes.
    for c in (1, 7, 4):
        for image in digits[c][:3]:
            ys, xs = np.nonzero(image > 40)
            crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            for pixels in (crop, 255 - crop):
                picture = cv2.resize(pixels, (3 * crop.shape[1], 3 * crop.shape[0]), interpolation=cv2.INTER_CUBIC)
                assert recognizer.read(encode(picture)).text == str(c)


def test_a_doubtful_short_number_beside_a_surer_one_is_a_neighbours_stroke() -> None:
    from digitrec.ctc import DecodedNumber
    from digitrec.preprocess.fields import Field

    def field(height: int) -> Field:
        return Field(np.zeros((32, 40), np.uint8), (0, 0, 40, height), 1.0, 1.0)

    sure, doubtful = DecodedNumber("12", 0.97, []), DecodedNumber("1", 0.4, [])
    assert Recognizer.neighbours_stroke(field(20), doubtful, field(40), sure)  # cut by the cell's edge
    assert not Recognizer.neighbours_stroke(field(38), doubtful, field(40), sure)  # a page's other number
    assert not Recognizer.neighbours_stroke(field(20), DecodedNumber("7", 0.9, []), field(40), sure)  # read surely


def test_the_model_card_adds_up_the_compute_of_every_stage_behind_a_model(tmp_path) -> None:
    import json

    from digitrec.shipped.__main__ import compute_of, kept_card

    first, second = tmp_path / "first", tmp_path / "second"
    for run, seconds, threads, init in ((first, 3600.0, None, None), (second, 1800.0, 4, str(first))):
        run.mkdir()
        metrics = {"train_seconds": seconds, "device": "cpu", **({"threads": threads} if threads else {})}
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / "config.json").write_text(json.dumps({"options": {"init": init}}))
    compute = compute_of(second, {"box_head": {"seconds": 360.0}}, threads=2)
    # first: 1 h on 2 threads (--threads: its metrics do not say); second: 0.5 h on its own 4; the head: 0.1 h on 2.
    assert [s["run"] for s in compute["stages"]] == ["first", "second", "box head"]
    assert [s["core_hours"] for s in compute["stages"]] == [2.0, 2.0, 0.2] and compute["core_hours"] == 4.2
    with pytest.raises(SystemExit, match="pass --threads"):
        compute_of(first, {}, threads=None)
    # A run stopped after some epochs and continued with --init from its checkpoint: its
    # epochs count, on the threads of the run that continued it.
    stopped, third = tmp_path / "stopped", tmp_path / "third"
    stopped.mkdir(), third.mkdir()
    (stopped / "history.csv").write_text("epoch,val_accuracy,seconds\n1,0.1,1800.0\n2,0.2,1800.0\n")
    (stopped / "config.json").write_text(json.dumps({"options": {"init": None}}))
    (third / "metrics.json").write_text(json.dumps({"train_seconds": 3600.0, "device": "cpu", "threads": 2}))
    (third / "config.json").write_text(json.dumps({"options": {"init": str(stopped / "best.safetensors")}}))
    compute = compute_of(third, {}, threads=None)
    assert [(s["run"], s.get("stopped", False), s["core_hours"]) for s in compute["stages"]] == [
        ("stopped", True, 2.0),
        ("third", False, 2.0),
    ]
    old = {"from_run": "handwriting", "figures": {"metrics.json": {"train_seconds": 360.0}}}
    assert kept_card(old, 2)["compute"]["core_hours"] == 0.2


def test_a_model_trained_on_a_gpu_costs_gpu_minutes_not_the_feeding_threads_core_hours(tmp_path) -> None:
    import json

    from digitrec.shipped.__main__ import compute_of

    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    for run, device, init in ((cpu, "cpu", None), (gpu, "cuda", str(cpu))):
        run.mkdir()
        (run / "metrics.json").write_text(
            json.dumps(
                {
                    "train_seconds": 3600.0 if device == "cpu" else 180.0,
                    "device": device,
                    "threads": 2 if device == "cpu" else 7,
                }
            )
        )
        (run / "config.json").write_text(json.dumps({"options": {"init": init}}))
    compute = compute_of(gpu, {}, threads=None)
    assert compute["stages"][1]["gpu_minutes"] == 3.0 and "core_hours" not in compute["stages"][1]
    assert compute["core_hours"] == 2.0 and compute["gpu_minutes"] == 3.0
    assert "gpu_minutes" not in compute_of(cpu, {}, threads=None)
