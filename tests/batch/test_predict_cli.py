"""`digitrec predict --out`: the command's summary, exit codes, progress bar, and a
kill -9 in the middle of a job with worker processes."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

from rich.console import Console

from digitrec.batch import ReaderSpec, read_results, run_job
from digitrec.cli.predict_cmds import BatchBar
from tests.batch.conftest import write_archive
from tests.cli.test_cli import run
from tests.processes import children, gone_within, reap


def test_predict_out_says_what_it_did_and_exits_1_when_a_picture_failed(capsys, archive, tmp_path):
    out = tmp_path / "rows.csv"
    code, stdout, err = run(capsys, "predict", archive, "--out", out, "--workers", "1")
    assert code == 1 and stdout == ""  # the corrupt picture; rows go to the file, not stdout
    assert "61 pictures read" in err and "1 failed" in err
    assert len(read_results(out)) == 61
    code, _, err = run(capsys, "predict", archive, "--out", out, "--workers", "1")
    assert code == 1 and "0 pictures read" in err and "61 already in" in err  # its failure still counts
    good = tmp_path / "good"
    write_archive(good, 3)
    assert run(capsys, "predict", good, "--out", tmp_path / "good.jsonl")[0] == 0
    code, _, err = run(capsys, "predict", good, "--out", tmp_path / "rows.xlsx")
    assert code == 1 and "use .jsonl, .csv or .parquet" in err
    code, _, err = run(capsys, "predict", good, "--address", "auto")
    assert code == 1 and "--address names a Ray cluster" in err
    code, _, err = run(capsys, "predict", good, "--engine", "ray")
    assert code == 1 and "--engine ray writes a results file" in err
    code, stdout, _ = run(
        capsys, "predict", good, archive, "--out", tmp_path / "good.jsonl", "--json", "--workers", "1"
    )
    summary = json.loads(stdout)  # the three good ones were read by the first run: the archive's are new
    assert (summary["skipped"], summary["read"], summary["failed"], code) == (3, 61, 1, 1)


def test_the_progress_bar_shows_the_rate_and_once_counted_the_eta():
    screen = io.StringIO()
    bar = BatchBar(Console(file=screen, force_terminal=True, width=160))
    bar.total_known(100)
    for _ in range(5):
        bar.advanced(10)
        bar.progress.refresh()
    bar.close()
    drawn = screen.getvalue()
    assert "50/100" in drawn and "images/s" in drawn and "ETA" in drawn


def test_a_job_killed_with_its_workers_resumes_to_the_uninterrupted_file(tmp_path):
    archive = tmp_path / "archive"
    total = len(write_archive(archive, 400, seed=1))
    out = tmp_path / "rows.jsonl"
    job = subprocess.Popen(
        [sys.executable, "-m", "digitrec", "predict", str(archive), "--out", str(out), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_bytes().count(b"\n") >= 32):  # the workers are reading
            assert job.poll() is None and time.monotonic() < deadline, job.stderr.read()
            time.sleep(0.01)
        workers = children(job.pid)
        job.send_signal(signal.SIGKILL)
        job.wait()
        assert gone_within(workers, 5), "a worker outlived its killed job"
    finally:
        reap(job)
    written = out.read_bytes().count(b"\n")
    assert 32 <= written < total, "the kill did not land in the middle of the job"
    summary = run_job([str(archive)], ReaderSpec(), out, workers=1)
    assert summary.skipped + summary.read == total
    reference = tmp_path / "reference.jsonl"
    run_job([str(archive)], ReaderSpec(), reference, workers=1)
    assert out.read_bytes() == reference.read_bytes()
