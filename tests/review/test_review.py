"""Review of a results file: the journal keeps every decision, the bar splits the rows,
the export says where each number came from."""

from __future__ import annotations

import csv
import json
import math

import pytest

from digitrec.batch.output import open_results
from digitrec.batch.rows import Row
from digitrec.data.folders import read_labels
from digitrec.review import Decision, ReviewError, ReviewJournal, ReviewQueue, check_typed
from digitrec.review.calibration import CalibrationError, CalibrationTable, bar_for_precision
from digitrec.review.export import export_corrections, export_results
from digitrec.review.queue import BY_PERSON, BY_READER, BY_READER_ACCEPTED, NOT_REVIEWED


@pytest.fixture
def results(tmp_path):
    """A results file of five pictures (real files, for the corrections), one failed."""
    rows = [
        Row("a.png", "12", 0.99, model="m"),
        Row("b.png", "7", 0.40, model="m"),
        Row("c.png", "305", 0.75, model="m"),
        Row("d.png", "", 0.0, error="cannot decode d.png", model="m"),
        Row("e.png", "88", 0.97, model="m"),
    ]
    for r in rows:
        (tmp_path / r.path).write_bytes(b"picture")
    out, _ = open_results(tmp_path / "rows.jsonl")
    for r in rows:
        out.write(r)
    out.close()
    return tmp_path / "rows.jsonl"


def test_every_decision_survives_a_reopen_and_the_last_one_counts(results):
    with ReviewJournal(results) as journal:
        assert journal.open() == {}
        journal.record(Decision("b.png", "correct", "1"))
        journal.record(Decision("c.png", "accept", "305"))
        journal.record(Decision("b.png", "correct", "17"))  # went back and changed it
    with ReviewJournal(results) as journal:
        decisions = journal.open()
    assert {p: (d.action, d.number) for p, d in decisions.items()} == {
        "b.png": ("correct", "17"),
        "c.png": ("accept", "305"),
    }
    assert all(d.at > 0 for d in decisions.values())


def test_a_decision_cut_short_by_a_kill_is_dropped_and_the_journal_goes_on(results):
    with ReviewJournal(results) as journal:
        journal.open()
        journal.record(Decision("b.png", "correct", "17"))
    path = results.with_name("rows.jsonl.review.jsonl")
    path.write_bytes(path.read_bytes() + b'{"path": "c.png", "act')  # killed mid-write
    with ReviewJournal(results) as journal:
        assert set(journal.open()) == {"b.png"}
        journal.record(Decision("c.png", "no-number"))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["b.png", "c.png"]


def test_two_reviews_of_one_file_are_refused_by_name(results):
    with ReviewJournal(results) as first:
        first.open()
        with pytest.raises(ReviewError, match=r"being reviewed by another process \(pid \d+\)"):
            ReviewJournal(results).open()
    with ReviewJournal(results) as again:  # free once the first is closed
        again.open()


def test_a_journal_someone_else_wrote_is_refused_not_overwritten(results):
    path = results.with_name("rows.jsonl.review.jsonl")
    path.write_text('{"path": "a.png", "action": "delete-everything"}\n')
    with pytest.raises(ReviewError, match="line 1 is not a review decision"):
        ReviewJournal(results).open()
    assert "delete-everything" in path.read_text()


@pytest.mark.parametrize("typed", ["", "12a", "١٢", "=1+1", "1" * 33])
def test_a_typed_number_is_digits_only(typed):
    with pytest.raises(ReviewError, match="typed number"):
        check_typed(typed)
    with pytest.raises(ReviewError):
        Decision("a.png", "correct", typed)
    assert check_typed("0042") == "0042"


def test_the_bar_is_the_lowest_confidence_that_keeps_the_precision_asked_for():
    pairs = [(0.99, True), (0.98, True), (0.95, True), (0.9, False), (0.8, True), (0.7, True), (0.5, False)]
    assert bar_for_precision(pairs, 1.0) == 0.95
    assert bar_for_precision(pairs, 0.8) == 0.7  # 5 of 6 right at or above 0.7
    assert bar_for_precision([(0.9, False), (0.9, True)], 0.99) == math.inf  # a tie is never split
    with pytest.raises(CalibrationError, match="precision"):
        bar_for_precision(pairs, 1.5)
    table = CalibrationTable.from_pairs("t", pairs, fields=8)  # one field read as holding no number
    assert table.bar(0.5) == 0.5 and table.at(0.7) == (6 / 8, 5 / 6)  # 5 of 7 right over all 7 answers
    assert table.bar(0.8) == math.inf  # 5 of 6 right at 0.7, but 6 answers cannot show 80% (15 could)
    assert CalibrationTable.from_dict(table.to_dict()) == table
    many = CalibrationTable.from_pairs("t", pairs * 3, fields=24)  # the same, seen three times
    assert many.bar(0.8) == 0.7 and many.bar(1.0) == math.inf  # no count of answers promises 100%


def test_a_long_calibration_keeps_exact_counts_at_fewer_bars():
    import random

    rng = random.Random(0)
    pairs = [(c, rng.random() < c) for c in (rng.random() for _ in range(5000))]
    table = CalibrationTable.from_pairs("t", pairs, fields=5000)
    assert len(table.points) <= 401 and table.points[-1][1] == 5000  # the lowest bar accepts every answer
    for bar, answered, right in table.points:  # each kept bar's counts are exact
        assert answered == sum(c >= bar for c, _ in pairs) and right == sum(ok for c, ok in pairs if c >= bar)
    for p in (0.9, 0.95, 0.99):
        assert table.bar(p) >= bar_for_precision(pairs, p)  # never looser than the exact bar
        _share, precision = table.at(table.bar(p))
        assert precision >= p


def test_a_broken_calibration_file_is_named(tmp_path):
    from digitrec.review.calibration import load_calibration

    for points in ("[[0.9, 20, 5]]", "[[0.5, 5, 5], [0.9, 8, 8]]"):  # more than measured; bars not descending
        (tmp_path / "c.json").write_text(f'{{"name": "x", "fields": 10, "points": {points}}}')
        with pytest.raises(CalibrationError, match=r"c\.json is not a calibration table"):
            load_calibration(tmp_path / "c.json")


def test_the_bar_splits_the_rows_and_the_least_sure_come_first(results):
    queue = ReviewQueue.load(results, {}, bar=0.9)
    assert [r.path for r in queue.to_review()] == ["d.png", "b.png", "c.png"]  # the failed picture first
    assert queue.counts() == {"rows": 5, "accepted": 2, "decided": 0, "left": 3}
    queue = ReviewQueue.load(results, {"b.png": Decision("b.png", "correct", "17")}, bar=0.9)
    assert [r.path for r in queue.to_review()] == ["d.png", "c.png"]
    assert queue.counts() == {"rows": 5, "accepted": 2, "decided": 1, "left": 2}


def test_the_export_says_where_each_number_came_from(results, tmp_path):
    decisions = {
        "b.png": Decision("b.png", "correct", "17"),
        "c.png": Decision("c.png", "accept", "305"),
        "e.png": Decision("e.png", "no-number"),  # a person reopened an accepted row
    }
    queue = ReviewQueue.load(results, decisions, bar=0.9)
    assert export_results(queue, tmp_path / "final.jsonl") == 5
    lines = (tmp_path / "final.jsonl").read_text().splitlines()
    final = {r["path"]: (r["number"], r["source"]) for r in map(json.loads, lines)}
    assert final == {
        "a.png": ("12", BY_READER),
        "b.png": ("17", BY_PERSON),
        "c.png": ("305", BY_READER_ACCEPTED),
        "d.png": ("", NOT_REVIEWED),
        "e.png": ("", BY_PERSON),
    }
    export_results(queue, tmp_path / "final.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "final.parquet").column("source").to_pylist() == [v[1] for v in final.values()]


def test_the_csv_export_is_safe_to_open_in_a_spreadsheet(tmp_path):
    queue = ReviewQueue([Row('=HYPERLINK("http://x","y").png', "1", 0.99)], {}, bar=0.5)
    export_results(queue, tmp_path / "final.csv")
    with open(tmp_path / "final.csv", newline="") as f:
        header, row = list(csv.reader(f))
    assert header[:3] == ["path", "number", "source"] and row[0].startswith("'=")


def test_the_corrections_are_a_labelled_folder_train_takes(results, tmp_path, monkeypatch):
    monkeypatch.chdir(results.parent)  # predict wrote paths relative to where it ran
    decisions = {
        "b.png": Decision("b.png", "correct", "17"),
        "c.png": Decision("c.png", "accept", "305"),
        "d.png": Decision("d.png", "unreadable"),
    }
    queue = ReviewQueue.load(results, decisions, bar=0.9)
    assert export_corrections(queue, tmp_path / "corrections") == {"train": 1, "validation": 1}
    labels = read_labels(tmp_path / "corrections")
    assert sorted((f.path.name, f.label) for f in labels) == [("b.png", "17"), ("c.png", "305")]
    assert all(f.path.is_absolute() for f in labels)
    # Each page has a part of its own choosing, whatever part its name hashes into.
    train, validation = (read_labels(f"{tmp_path / 'corrections'}:{part}") for part in ("train", "validation"))
    assert len(train) == len(validation) == 1
