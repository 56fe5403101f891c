"""The review server: it shows only the pictures of the results file, from inside the
folders under review, and keeps each decision before it answers."""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitrec.batch.output import open_results
from digitrec.batch.rows import Row
from digitrec.review.app import create_review_app
from digitrec.review.journal import ReviewError, ReviewJournal
from digitrec.review.session import ReviewSession, start_review


def write_archive(root, n: int = 6, outside=None):
    """`n` small pictures under root/scans and a results file naming them, all unsure;
    `outside`: extra paths to name in the results file too."""
    (root / "scans").mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.fromarray(np.full((20, 30), 40 * i % 256, np.uint8)).save(root / "scans" / f"{i}.png")
        rows.append(Row(str(root / "scans" / f"{i}.png"), str(10 + i), 0.9 * i / n, model="m"))
    rows += [Row(str(p), "1", 0.0, model="m") for p in outside or []]
    out, _ = open_results(root / "rows.jsonl")
    for r in rows:
        out.write(r)
    out.close()
    return root / "rows.jsonl"


@pytest.fixture
def archive(tmp_path):
    secret = tmp_path / "secret.png"
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(secret)
    (tmp_path / "scans-link").mkdir()
    os.symlink(secret, tmp_path / "scans-link" / "link.png")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    outside = [secret, tmp_path / "scans" / ".." / "secret.png", tmp_path / "scans-link" / "link.png"]
    results = write_archive(tmp_path, outside=outside)
    (tmp_path / "scans" / "fake.png").write_text("not a picture")
    return results


@contextmanager
def served(results, roots, bar: float, **app_options):
    """The review app of `results` in a test client; its session closed after."""
    session = start_review(results, roots, bar=bar)
    try:
        with TestClient(create_review_app(session, **app_options)) as c:
            yield c
    finally:
        session.close()


@pytest.fixture
def client(archive):
    session = start_review(archive, [archive.parent / "scans", archive.parent / "scans-link"], bar=0.5)
    with TestClient(create_review_app(session)) as c:
        yield c, session
    session.close()


def test_pictures_are_shown_only_from_inside_the_folders_under_review(client):
    c, _ = client
    assert c.get("/api/review/picture/0").headers["content-type"] == "image/png"
    for row in (6, 7):  # an absolute path elsewhere, and ../ out of the archive
        r = c.get(f"/api/review/picture/{row}")
        assert r.status_code == 403 and "outside the folders under review" in r.json()["error"]
    r = c.get("/api/review/picture/8")  # a symlink inside a root that points out of it
    assert r.status_code == 403
    assert c.get("/api/review/picture/99").status_code == 404
    assert c.get("/api/review/state").json()["refused"] == 3


def test_a_file_that_is_not_a_picture_is_not_served(tmp_path):
    results = write_archive(tmp_path, n=1)
    (tmp_path / "scans" / "0.png").write_text("#!/bin/sh\necho not a picture")
    with served(results, [tmp_path], bar=0.5) as c:
        r = c.get("/api/review/picture/0")
    assert r.status_code == 403 and "not a picture" in r.json()["error"]


def test_the_queue_is_least_sure_first_and_a_decision_is_kept_before_the_answer(client, archive):
    c, _ = client
    queue = c.get("/api/review/queue").json()
    assert [q["confidence"] for q in queue] == sorted(q["confidence"] for q in queue)
    first = queue[0]["id"]
    r = c.post("/api/review/decide", json={"id": first, "action": "correct", "number": "42"})
    assert r.status_code == 200 and r.json()["decided"] == 1
    journal = archive.with_name("rows.jsonl.review.jsonl").read_text()
    assert '"number": "42"' in journal  # on disk when the answer came
    assert first not in [q["id"] for q in c.get("/api/review/queue").json()]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"id": 0, "action": "correct", "number": "4a"}, 422),
        ({"id": 0, "action": "correct", "number": "=1+1"}, 422),
        ({"id": 0, "action": "delete"}, 422),
        ({"id": 999, "action": "accept"}, 404),
        ({"id": "0; drop", "action": "accept"}, 422),
    ],
)
def test_a_bad_decision_is_refused_and_nothing_is_written(client, archive, body, status):
    c, _ = client
    r = c.post("/api/review/decide", json=body)
    assert r.status_code == status
    assert archive.with_name("rows.jsonl.review.jsonl").read_text() == ""


def test_every_answer_carries_the_security_headers_and_the_api_key_is_required(archive):
    with served(archive, [archive.parent / "scans"], bar=0.5, api_key="k" * 16) as c:
        assert c.get("/api/review/state").status_code == 401
        r = c.get("/api/review/state", headers={"X-API-Key": "k" * 16})
        assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
        assert c.get("/").headers["x-frame-options"] == "DENY"


def test_no_bar_and_no_calibration_is_refused_by_name(archive):
    from digitrec.review.journal import ReviewError

    with pytest.raises(ReviewError, match="no calibration for the model"):
        start_review(archive, [archive.parent])
    with ReviewJournal(archive) as journal:  # the refused review left the file free
        journal.open()


def test_a_second_session_on_one_file_is_refused(archive):
    from digitrec.review.journal import ReviewError

    first = ReviewSession.open(archive, 0.5, [archive.parent])
    try:
        with pytest.raises(ReviewError, match="being reviewed by another process"):
            start_review(archive, [archive.parent], bar=0.5)
    finally:
        first.close()


def test_rows_can_be_browsed_by_reading_and_the_accepted_ones_reopened(tmp_path):
    results = write_archive(tmp_path, n=6)  # numbers 10..15, confidences 0 .. 0.75
    with served(results, [tmp_path], bar=0.5) as c:
        accepted = c.get("/api/review/rows").json()
        assert [a["number"] for a in accepted] == ["14", "15"]  # at or above the bar, least sure first
        c.post("/api/review/decide", json={"id": accepted[0]["id"], "action": "correct", "number": "11"})
        read_as_11 = c.get("/api/review/rows", params={"number": "11"}).json()
        assert sorted(r["number"] for r in read_as_11) == ["11", "14"]  # as read, and as decided
        assert [r["decision"] for r in read_as_11 if r["number"] == "14"] == [{"action": "correct", "number": "11"}]
        assert [a["number"] for a in c.get("/api/review/rows").json()] == ["15"]  # reopened: no longer accepted
        assert c.get("/api/review/rows", params={"number": "1'"}).status_code == 422


def test_details_show_where_the_model_that_read_a_row_saw_its_digits(tmp_path):
    from tests.training.test_reader import write_number_folder

    folder = write_number_folder(tmp_path / "numbers", n=2)
    pictures = sorted(folder.glob("*.png"))
    out, _ = open_results(tmp_path / "rows.jsonl")
    out.write(Row(str(pictures[0]), "0", 0.1, model="shipped:reader"))
    out.close()
    with served(tmp_path / "rows.jsonl", [tmp_path], bar=0.5) as c:
        found = c.get("/api/review/details/0").json()
        w, h = Image.open(pictures[0]).size
        assert (found["width"], found["height"]) == (w, h) and found["digits"]
        for d in found["digits"]:
            x, y, bw, bh = d["box"]
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h, d["box"]
            assert d["top3"][0][0] == d["digit"] and len(d["top3"]) == 3


def test_details_of_a_row_whose_model_is_not_here_say_so(tmp_path):
    results = write_archive(tmp_path, n=1)  # model "m": no such model on this machine
    with served(results, [tmp_path], bar=0.5) as c:
        r = c.get("/api/review/details/0")
    assert r.status_code == 404 and "cannot be loaded here" in r.json()["error"]


def test_a_huge_decision_body_is_refused_unread(client):
    c, _ = client
    r = c.post("/api/review/decide", content=b'{"id": 0, "action": "accept", "number": "' + b"1" * 10_000 + b'"}',
               headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and "over the limit of 4,096" in r.json()["error"]
    json_type = {"content-type": "application/json"}
    assert c.post("/api/review/decide", content=b"not json", headers=json_type).status_code == 422

    def streamed():  # no Content-Length: the cap holds while reading
        yield b'{"id": 0, "action": "accept", "number": "'
        for _ in range(10):
            yield b"1" * 1000
        yield b'"}'

    r = c.post("/api/review/decide", content=streamed(), headers=json_type)
    assert r.status_code == 413


def test_only_the_review_page_can_decide(archive):
    with served(archive, [archive.parent / "scans"], bar=0.5, hosts=["testserver"]) as c:
        body = '{"id": 0, "action": "accept"}'
        assert c.post("/api/review/decide", content=body, headers={"content-type": "text/plain"}).status_code == 415
        for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
            r = c.post("/api/review/decide", content=body, headers={"content-type": "application/json", **headers})
            assert r.status_code == 403, headers
        assert c.get("/api/review/state", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
        assert archive.with_name("rows.jsonl.review.jsonl").read_text() == ""
        same = {"content-type": "application/json", "origin": "http://testserver", "sec-fetch-site": "same-origin"}
        assert c.post("/api/review/decide", json={"id": 4, "action": "accept"}, headers=same).status_code == 200


def test_a_bar_given_by_hand_promises_no_precision(archive, tmp_path):
    from digitrec.fileio import atomic_write_json
    from digitrec.review.calibration import CalibrationTable

    table = CalibrationTable.from_pairs("t", [(0.9, True), (0.2, False)], fields=2)
    atomic_write_json(tmp_path / "c.json", table.to_dict())
    session = start_review(archive, [tmp_path], bar=0.2, calibration=tmp_path / "c.json")
    try:
        assert session.state()["precision"] is None and session.state()["bar"] == 0.2
    finally:
        session.close()


def test_what_a_person_accepted_stays_accepted_and_a_failed_picture_cannot_be(tmp_path):
    from digitrec.review.queue import ReviewQueue

    out, _ = open_results(tmp_path / "rows.jsonl")
    out.write(Row("a.png", "17", 0.2, model="m"))
    out.write(Row("b.png", "", 0.0, error="cannot decode b.png", model="m"))
    out.close()
    session = start_review(tmp_path / "rows.jsonl", [tmp_path], bar=0.5)
    try:
        with pytest.raises(ReviewError, match="no reading to accept"):
            session.decide(1, "accept")
        session.decide(0, "accept")
        session.decide(1, "no-number", "123")  # a mark carries no number, whatever is sent
        decisions = dict(session.queue.decisions)
    finally:
        session.close()
    assert decisions["b.png"].number == ""
    rewritten = [Row("a.png", "71", 0.2, model="m"), Row("b.png", "", 0.0, model="m")]  # predict run again
    final = ReviewQueue(rewritten, decisions, 0.5).final(rewritten[0])
    assert (final.number, final.source) == ("17", "reader, accepted")


def test_the_export_never_overwrites_the_results_and_keeps_labels_digits(tmp_path, monkeypatch):
    from digitrec.review.export import export_corrections, export_results
    from digitrec.review.journal import Decision
    from digitrec.review.queue import ReviewQueue

    monkeypatch.chdir(tmp_path)
    rows = [Row("a.png", "12 34", 0.2, model="m"), Row("b.png", "5", 0.2, model="m")]
    decisions = {r.path: Decision(r.path, "accept", r.number) for r in rows}
    queue = ReviewQueue(rows, decisions, 0.5, tmp_path / "rows.jsonl")
    with pytest.raises(ReviewError, match="is the results file under review"):
        export_results(queue, tmp_path / "rows.jsonl")
    assert export_corrections(queue, tmp_path / "corrections") == {"train": 0, "validation": 1}  # "12 34" is no label
    assert (tmp_path / "corrections" / "labels.csv").read_text().splitlines()[1].endswith("b.png,5,validation")


def test_lists_are_paged_by_key_so_deciding_rows_skips_none(tmp_path):
    results = write_archive(tmp_path, n=240)  # all at or above a bar of 0: all accepted
    with served(results, [tmp_path], bar=0.0) as c:
        first = c.get("/api/review/rows", params={"count": 100}).json()
        for item in first[:80]:  # reopened and decided: they leave the accepted list
            c.post("/api/review/decide", json={"id": item["id"], "action": "correct", "number": "1"})
        last = first[-1]
        after = {"after_confidence": last["confidence"], "after_id": last["id"], "count": 100}
        second = c.get("/api/review/rows", params=after).json()
        assert [r["id"] for r in second] == list(range(100, 200)), "no row skipped, none twice"
        ones = c.get("/api/review/rows", params={"number": "1", "count": 50}).json()
        more = c.get("/api/review/rows", params={"number": "1", "after_id": ones[-1]["id"], "count": 50}).json()
        assert [r["id"] for r in ones + more] == list(range(80))
