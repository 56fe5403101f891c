"""`digitrec calibrate` measures a reader's confidence on labelled fields; the shipped
reader carries its own table."""

from __future__ import annotations

import json

from digitrec.cli import main
from digitrec.review.calibration import calibration_of_model, load_calibration
from tests.training.test_reader import write_number_folder


def test_calibrate_writes_a_table_review_can_use(tmp_path, capsys):
    folder = write_number_folder(tmp_path / "numbers", n=12)
    assert main(["calibrate", "--dataset", str(folder), "--out", str(tmp_path / "c.json"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    table = load_calibration(tmp_path / "c.json")
    assert table.fields == printed["fields"] == 12
    answered, right = table.points[-1][1], table.points[-1][2]  # the lowest bar: every answer
    assert answered <= 12 and right <= answered
    for bar in printed["bars"]:
        if bar["bar"] is not None:  # null: no confidence reaches that precision on 12 fields
            assert bar["right_when_accepted"] >= bar["precision"]


def test_calibrate_needs_a_place_for_the_table(tmp_path, capsys):
    folder = write_number_folder(tmp_path / "numbers", n=2)
    assert main(["calibrate", "--dataset", str(folder)]) == 1
    assert "name the table's file with --out" in capsys.readouterr().err


def test_the_shipped_reader_carries_a_calibration_that_keeps_its_promise():
    table = calibration_of_model("shipped:reader")
    assert table is not None and table.fields > 1000  # measured on the validation fields, not a handful
    for precision in (0.98, 0.99):
        share, right = table.at(table.bar(precision))
        assert right >= precision and share > 0.5
