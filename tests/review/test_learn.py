"""The reader learns from a review: rows read again are kept beside the results file with
the model that read them, judged by that model's own bar, and a real learning round
fine-tunes the reader on the corrections and reads the waiting rows again."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from digitrec.batch.output import open_results, read_results
from digitrec.batch.rows import Row
from digitrec.review.calibration import CalibrationTable
from digitrec.review.export import export_results
from digitrec.review.journal import ReviewError
from digitrec.review.learn import Learner
from digitrec.review.readings import ReadingLog
from digitrec.review.session import start_review
from tests.review.test_app import write_archive
from tests.training.test_reader import write_number_folder


def table(name: str, right_above: float) -> CalibrationTable:
    """A calibration whose answers are all right at or above `right_above`, half below."""
    pairs = [(c / 10_000, c / 10_000 >= right_above or c % 2 == 0) for c in range(1, 10_000)]
    return CalibrationTable.from_pairs(name, pairs, len(pairs))


def test_a_row_read_again_keeps_its_new_reading_and_model_across_a_reopen(tmp_path):
    results = write_archive(tmp_path)
    session = start_review(results, [tmp_path], bar=0.95)
    try:
        waiting = session.queue.to_review()
        again = [Row(waiting[0].path, "4711", 0.97, model="runs/new"), Row(waiting[1].path, "5", 0.2, model="runs/new")]
        session.adopt("runs/new", None)  # a bar by hand: the same bar for the new model
        session.record_readings(again)
        assert session.state()["accepted"] == 1  # 0.97 >= 0.95: no longer waiting
    finally:
        session.close()
    session = start_review(results, [tmp_path], bar=0.95)
    try:
        rows = {r.path: r for r in session.queue.rows}
        assert (rows[again[0].path].number, rows[again[0].path].model) == ("4711", "runs/new")
        assert session.queue.bars == {"runs/new": 0.95} and session.state()["accepted"] == 1
        export_results(session.queue, tmp_path / "final.jsonl")
    finally:
        session.close()
    final = {r["path"]: r for r in map(json.loads, (tmp_path / "final.jsonl").read_text().splitlines())}
    assert final[again[0].path]["model"] == "runs/new" and final[again[0].path]["source"] == "reader"
    assert final[waiting[2].path]["model"] == "m"  # not read again: the file's model
    assert [r.number for r in read_results(results)] == [str(10 + i) for i in range(6)]  # the file is untouched


def test_a_decision_made_while_rows_were_read_again_wins(tmp_path):
    results = write_archive(tmp_path)
    session = start_review(results, [tmp_path], bar=0.95)
    try:
        row = session.queue.to_review()[0]
        session.decide(session.queue.position[row.path], "correct", "31")
        session.adopt("runs/new", None)
        session.record_readings([Row(row.path, "99", 0.99, model="runs/new")])
        assert session.queue.final(session.row(session.queue.position[row.path])).number == "31"
    finally:
        session.close()
    assert not results.with_name("rows.jsonl.readings.jsonl").read_text()  # nothing kept for it


def test_each_model_is_judged_by_its_own_calibration(tmp_path):
    rows = [Row(f"{i}.png", "7", 0.85, model="old" if i < 2 else "new") for i in range(4)]
    results = tmp_path / "rows.jsonl"
    out, _ = open_results(results)
    for r in rows[:2] + [Row(r.path, "7", 0.5, model="old") for r in rows[2:]]:
        out.write(r)
    out.close()
    (tmp_path / "old.json").write_text(json.dumps(table("old", 0.9).to_dict()))
    session = start_review(results, [tmp_path], precision=0.99, calibration=tmp_path / "old.json")
    try:
        with pytest.raises(ReviewError, match="new has no calibration"):
            session.adopt("new", None)  # no bar to judge its rows by: refused, not guessed
        session.adopt("new", table("new", 0.8))
        session.record_readings(rows[2:])
        assert session.queue.bar >= 0.9 and session.queue.bars["new"] < 0.85
        s = session.state()
        assert (s["accepted"], s["left"]) == (2, 2)  # the same confidence, sure for one model only
        assert s["estimated_errors_accepted"] == 0.0
    finally:
        session.close()


def test_a_partial_last_reading_is_cut_off(tmp_path):
    results = write_archive(tmp_path)
    log = ReadingLog(results)
    log.open()
    log.record([Row("a.png", "1", 0.5, model="x")])
    log.close()
    log.path.write_bytes(log.path.read_bytes() + b'{"path": "b.png", "num')
    log = ReadingLog(results)
    assert list(log.open()) == ["a.png"]
    log.close()
    assert log.path.read_bytes().endswith(b"}\n")


def test_learning_needs_enough_corrections(tmp_path):
    results = write_archive(tmp_path)
    session = start_review(results, [tmp_path], bar=0.95)
    try:
        session.decide(0, "correct", "10")
        with pytest.raises(ReviewError, match="1 corrections so far"):
            Learner(session).start()
        with TestClient(_app(session)) as c:
            r = c.post("/api/review/learn", json={})
            assert r.status_code == 422 and "review some more" in r.json()["error"]
            assert c.post("/api/review/learn", json={}, headers={"Origin": "http://evil.example"}).status_code == 403
            assert c.get("/api/review/learn").json()["stage"] == "idle"
    finally:
        session.close()


def _app(session):
    from digitrec.review.app import create_review_app

    return create_review_app(session, learner=Learner(session))


@pytest.mark.mnist  # the reader's synthetic numbers are made of MNIST digits
def test_a_learning_round_fine_tunes_the_reader_and_reads_the_waiting_rows_again(tmp_path, mnist_root):
    from digitrec.batch.inputs import PictureFile
    from digitrec.batch.rows import ReaderSpec, read_row

    folder = write_number_folder(tmp_path / "archive", n=40)
    truth = dict(line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:])
    spec = ReaderSpec()
    reader = spec.load()
    results = tmp_path / "rows.jsonl"
    out, _ = open_results(results)
    for name in sorted(truth):
        out.write(read_row(reader, PictureFile(str(folder / name)), spec))
    out.close()
    session = start_review(results, [folder], bar=2.0)  # no confidence reaches it: every row waits
    try:
        for row in session.queue.rows[:30]:
            label = truth[row.path.rsplit("/", 1)[-1]]
            session.decide(session.queue.position[row.path], "accept" if row.number == label else "correct", label)
        seen = []
        learner = Learner(session, mnist_root, train_args=("--epochs", "1", "--batch-size", "8"))
        done = learner.run(on_progress=lambda p: seen.append(p.stage))
        run = results.with_name("rows.jsonl.learn") / "reader-1"
        assert done.stage == "done" and done.model == str(run.resolve()) and done.corrections == 30
        assert seen.index("training") < seen.index("calibrating") < seen.index("reading") < seen.index("done")
        assert (run / "best.safetensors").exists() and (run / "calibration.json").exists()
        readings = ReadingLog(results).path.read_text().splitlines()
        assert len(readings) == 10  # the rows nobody decided, each read by the new model
        assert {json.loads(line)["model"] for line in readings} == {done.model}
        assert {r.model for r in session.queue.rows[30:]} == {done.model}
        assert {r.model for r in session.queue.rows[:30]} == {"shipped:reader"}  # decided: kept as they were
    finally:
        session.close()


def test_review_learn_says_why_it_cannot_learn_yet(tmp_path, capsys):
    from digitrec.cli import main

    results = write_archive(tmp_path)
    assert main(["review", str(results), "--bar", "0.5", "--root", str(tmp_path), "--learn"]) == 1
    assert "0 corrections so far; the reader learns from 20 or more" in capsys.readouterr().err
    assert not (tmp_path / "rows.jsonl.learn").exists()  # nothing written for nothing


def test_the_learned_reader_is_calibrated_where_the_files_model_was_when_this_machine_has_it(tmp_path):
    results = tmp_path / "rows.jsonl"
    out, _ = open_results(results)
    out.write(Row(str(tmp_path / "a.png"), "7", 0.5, model="shipped:reader"))
    out.close()
    root = tmp_path / "data"
    (root / "danish-rowid").mkdir(parents=True)  # orand-car-a-dev is not on this machine
    session = start_review(results, [tmp_path], precision=0.99)
    try:
        assert session.calibration.name == "danish-rowid:validation + orand-car-a-dev:validation"
        assert Learner(session, root)._calibration_sets() == ("danish-rowid:validation",)
        assert Learner(session, root, calibrate_on=("mine:validation",))._calibration_sets() == ("mine:validation",)
    finally:
        session.close()
    session = start_review(results, [tmp_path], bar=0.9)  # by hand: the new reader is judged by that bar
    try:
        assert Learner(session, root)._calibration_sets() == ()
    finally:
        session.close()


def test_a_round_that_cannot_train_says_why_and_the_review_goes_on(tmp_path):
    results = write_archive(tmp_path, n=25)
    session = start_review(results, [tmp_path], bar=0.95)
    try:
        for row in list(session.queue.rows)[:21]:
            session.decide(session.queue.position[row.path], "correct", "42")
        learner = Learner(session, tmp_path / "no-data")  # the rows' model "m" is no file: nothing to start from
        with pytest.raises(ReviewError, match=r"`digitrec train` failed: error: m does not exist.*reader-1\.log"):
            learner.run()
        assert not ReadingLog(results).path.read_text()  # nothing read again
        session.decide(21, "accept")  # the review itself goes on
    finally:
        session.close()
