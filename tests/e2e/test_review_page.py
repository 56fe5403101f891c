"""`digitrec review` in a real headless Chromium: fields decided by keyboard alone, the
server killed in the middle and started again, and the export of every decision."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.conftest import SCREENSHOTS
from tests.processes import free_port, reap
from tests.review.test_app import write_archive
from tests.training.test_reader import write_number_folder

pytestmark = pytest.mark.browser

FIELDS = 50


def start_review_server(results, port: int, bar: float = 0.99, *options: str) -> subprocess.Popen:
    """`digitrec review` on `results` (its folder under review), returned once it says
    where to open it (it listens)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "digitrec", "review", str(results), "--bar", str(bar), "--port", str(port),
         "--root", str(results.parent), *options],
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    for line in server.stderr:
        if "open http://" in line:
            return server
    reap(server)
    pytest.fail(f"digitrec review did not start: {server.stderr.read()}")


def what_to_type(i: int) -> tuple[list[str], str, str]:
    """The keys for field i, and the number and source the export must then hold."""
    if i % 5 == 0:
        return ["-"], "", "person"  # no number
    if i % 5 == 1:
        return ["x"], "", "person"  # cannot read
    if i % 5 == 2:
        return ["Enter"], None, "reader, accepted"  # as read
    return [*str(700 + i), "Enter"], str(700 + i), "person"  # typed


def review_fields(page, port: int, first: int, last: int, already_shown: int = 0) -> None:
    from playwright.sync_api import expect

    page.goto(f"http://127.0.0.1:{port}/")
    body = page.locator("body")
    shown = 1
    expect(body).to_have_attribute("data-shown", str(shown))
    for i in range(first, last):
        keys, _, _ = what_to_type(i)
        for key in keys:
            page.keyboard.press(key)
        shown += 1
        expect(body).to_have_attribute("data-shown", str(shown))  # the next field is on screen


def test_review_by_keyboard_survives_a_killed_server_and_exports_every_decision(browser, tmp_path):
    results = write_archive(tmp_path, n=FIELDS)
    rows = {json.loads(line)["path"]: json.loads(line) for line in results.read_text().splitlines()}
    order = sorted(rows, key=lambda p: (rows[p]["confidence"], p))  # least sure first
    port = free_port()
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    server = start_review_server(results, port)
    try:
        review_fields(page, port, 0, FIELDS // 2)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)
        os.kill(server.pid, signal.SIGKILL)  # no goodbye: only what was already on disk counts
        server.wait(timeout=30)
        journal = results.with_name("rows.jsonl.review.jsonl").read_text().splitlines()
        assert len(journal) == FIELDS // 2, "every decision answered before the kill is in the journal"
        server = start_review_server(results, port)  # the page picks up where the person stopped
        review_fields(page, port, FIELDS // 2, FIELDS)
        assert page.locator("#finished").is_visible()
    finally:
        context.close()
        reap(server)
    export = tmp_path / "final.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "digitrec", "review", str(results), "--bar", "0.99", "--export", str(export)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    final = {r["path"]: r for r in map(json.loads, export.read_text().splitlines())}
    for i, path in enumerate(order):
        _, number, source = what_to_type(i)
        assert (final[path]["number"], final[path]["source"]) == (
            rows[path]["number"] if number is None else number,
            source,
        ), path


def test_an_accepted_row_can_be_reopened_and_corrected_from_the_page(browser, tmp_path):
    from playwright.sync_api import expect

    results = write_archive(tmp_path, n=4)  # confidences 0, 0.225, 0.45, 0.675: one above 0.5
    port = free_port()
    server = start_review_server(results, port, bar=0.5)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        body = page.locator("body")
        expect(body).to_have_attribute("data-shown", "1")
        page.click("#browse-accepted")
        expect(body).to_have_attribute("data-shown", "2")
        assert page.text_content("#reading") == "13"
        page.keyboard.type("31")
        page.keyboard.press("Enter")
        expect(body).to_have_attribute("data-shown", "3")
        assert page.text_content("#finished-text") == "No more rows in this list."
        assert "1 decided by you" in page.text_content("#counts")
    finally:
        context.close()
        reap(server)
    journal = [json.loads(line) for line in results.with_name("rows.jsonl.review.jsonl").read_text().splitlines()]
    assert [(d["action"], d["number"]) for d in journal] == [("correct", "31")]


@pytest.mark.mnist  # the reader learns from synthetic numbers of MNIST digits too
def test_the_learn_button_teaches_the_reader_and_the_queue_follows(browser, tmp_path, mnist_root):
    from playwright.sync_api import expect

    folder = write_number_folder(tmp_path / "archive", n=30)
    truth = dict(line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:])
    results = tmp_path / "archive" / "rows.jsonl"
    read = subprocess.run(
        [sys.executable, "-m", "digitrec", "predict", str(folder), "--out", str(results)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    port = free_port()
    server = start_review_server(results, port, 2.0, "--learn-epochs", "1", "--data-dir", str(mnist_root))
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        body = page.locator("body")
        for shown in range(1, 26):  # 25 fields, each given its true number
            expect(body).to_have_attribute("data-shown", str(shown))
            name = page.text_content("#confidence").rsplit(" ", 1)[-1]
            page.keyboard.type(truth[name])
            page.keyboard.press("Enter")
        expect(body).to_have_attribute("data-shown", "26")
        page.click("#learn-start")
        expect(page.locator("#learn-progress")).to_be_visible()
        expect(body).to_have_attribute("data-learn", "done", timeout=240_000)
        assert "learned from 25 corrections; read the 5 waiting rows again" in page.text_content("#learn-status")
        assert page.locator("#learn-start").is_enabled()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "review-learned.png"), full_page=True)
        page.keyboard.press("Enter")  # the field on screen still takes its decision, then the fresh queue
        expect(body).to_have_attribute("data-shown", "27")
    finally:
        context.close()
        reap(server)
    readings = [json.loads(line) for line in results.with_name("rows.jsonl.readings.jsonl").read_text().splitlines()]
    assert len(readings) == 5 and all(r["model"].endswith("rows.jsonl.learn/reader-1") for r in readings)
