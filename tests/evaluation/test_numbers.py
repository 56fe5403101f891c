"""Scoring number reading: whole numbers, character error rate, confusions, calibration."""

from __future__ import annotations

from pathlib import Path

from digitrec.data import is_labelled_folder
from digitrec.errors import DigitrecError
from digitrec.evaluation.numbers import (
    FieldResult,
    NumberScore,
    accepted_above,
    accepted_at_precision,
    calibration,
    fields_evaluation_record,
    score_reader,
)


def result(label: str, text: str, confidence: float = 0.9) -> FieldResult:
    return FieldResult(f"{label}.png", label, text, confidence, 0.001)


def test_whole_numbers_and_character_error_rate() -> None:
    score = NumberScore("s", [result("1250", "1250"), result("1250", "1258"), result("77", "7"), result("3", "31")])
    assert score.accuracy == 0.25
    assert score.character_error_rate == 3 / 11  # one substitution, one deletion, one insertion over 11 true digits


def test_confusions_name_what_was_read_for_what_and_missing_or_extra_digits() -> None:
    score = NumberScore("s", [result("10", "18"), result("30", "38"), result("77", "7"), result("3", "31")])
    confusions = {(a, b): n for a, b, n in score.confusions()}
    assert confusions == {("0", "8"): 2, ("7", ""): 1, ("", "1"): 1}
    assert score.confusions(top=1) == [("0", "8", 2)]


def test_the_worst_readings_are_the_most_confidently_wrong() -> None:
    score = NumberScore("s", [result("1", "1", 0.99), result("2", "7", 0.4), result("3", "8", 0.95)])
    assert [r.label for r in score.worst()] == ["3", "2"]


def test_calibration_says_how_often_answers_above_a_confidence_are_right() -> None:
    results = [result("1", "1", 0.99), result("2", "2", 0.97), result("3", "8", 0.6), result("4", "", 0.0)]
    rows = {r["min_confidence"]: r for r in calibration(results, thresholds=(0.0, 0.9))}
    assert rows[0.0]["answered"] == 0.75 and rows[0.0]["right_when_answered"] == 2 / 3  # an empty reading is no answer
    assert rows[0.9]["answered"] == 0.5 and rows[0.9]["right_when_answered"] == 1.0


def test_a_file_that_cannot_be_read_is_scored_wrong_with_its_error() -> None:
    def read(path: Path) -> tuple[str, float]:
        if path.name == "bad.png":
            raise DigitrecError("bad.png is not an image")
        return "12", 0.9

    score = score_reader(read, [(Path("good.png"), "12"), (Path("bad.png"), "12")], "s")
    assert score.accuracy == 0.5
    assert score.results[1].error == "bad.png is not an image" and score.results[1].text == ""


def test_accepted_at_99_percent_answers_the_surest_fields_while_99_of_100_are_right() -> None:
    # 300 right answers at 0.9-0.99, then 2 wrong at 0.85, then 98 right below, and 20 unanswered.
    results = [result("1", "1", 0.99 - i * 0.0003) for i in range(300)]
    results += [result("2", "3", 0.85), result("4", "5", 0.85)]
    results += [result("6", "6", 0.8 - i * 0.001) for i in range(98)]
    results += [result("7", "", 0.0) for _ in range(20)]
    share, threshold = accepted_at_precision(results, 0.99)
    # The 2 wrong ones enter together (a tie) at k = 302 (300/302 > 99%); every later right one keeps it above.
    assert share == 400 / 420 and threshold == results[399].confidence
    assert accepted_at_precision(results, 0.999) == (300 / 420, results[299].confidence)
    assert accepted_above(results, 0.9) == (sum(r.confidence >= 0.9 for r in results) / 420, 1.0)
    assert accepted_at_precision([result("1", "2", 0.9)], 0.99) == (0.0, 1.0)


def test_a_data_set_that_is_not_a_digit_data_set_is_a_labelled_folder() -> None:
    assert not is_labelled_folder(None), "None: the model's own data set"
    assert not is_labelled_folder("mnist") and not is_labelled_folder("kaggle")
    assert is_labelled_folder("scans/cells") and is_labelled_folder("scans/cells:validation")


def test_a_folders_evaluation_records_its_score_and_calibration() -> None:
    score = NumberScore("cells", [result("12", "12", 0.99), result("7", "1", 0.6), result("30", "", 0.0)])
    record = fields_evaluation_record(score)
    assert record["accuracy"] == 1 / 3 and record["calibration"][0]["answered"] == 2 / 3
