"""run_job: one row per picture, errors in their rows, resuming with nothing lost or
written twice, and the same rows from worker processes as from one."""

from __future__ import annotations

import json

import pytest

from digitrec.batch import ReaderSpec, read_results, run_job
from digitrec.batch.output import JOURNAL_SUFFIX, OutputError
from digitrec.recognizer import Recognizer
from tests.batch.conftest import Interrupt

SHIPPED = ReaderSpec()


def test_one_row_per_picture_and_the_corrupt_file_in_its_own(reference, archive):
    rows = read_results(reference)
    assert [r.path for r in rows] == sorted((str(p) for p in archive.rglob("*.png")), key=lambda s: s.split("/"))
    bad = [r for r in rows if r.error]
    assert [r.path for r in bad] == [str(archive / "box002" / "corrupt.png")] and "not an image" in bad[0].error
    assert {r.model for r in rows} == {"shipped:reader"}
    recognizer = Recognizer.load()
    for row in rows[:3] + rows[-3:]:  # the rows say what the recognizer reads
        reading = recognizer.read(row.path)
        assert (row.number, row.confidence) == (reading.text, round(reading.confidence, 6))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_an_interrupted_job_resumed_writes_the_same_file(reference, archive, tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    first = run_job([str(archive)], SHIPPED, out, workers=1, on_row=Interrupt(after=25))
    assert first.interrupted and len(read_results(out)) == first.read
    second = run_job([str(archive)], SHIPPED, out, workers=1)
    assert (second.skipped, second.read) == (first.read, 61 - first.read)
    assert second.any_failed and second.failed + second.skipped_failed == 1
    assert read_results(out) == read_results(reference)
    if suffix == ".jsonl":
        assert out.read_bytes() == reference.read_bytes()
    assert not out.with_name(out.name + JOURNAL_SUFFIX).exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_partial_last_line_from_a_kill_is_cut_and_its_picture_read_again(reference, archive, tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    run_job([str(archive)], SHIPPED, out, workers=1)
    whole = out.read_bytes()
    lines = whole.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-3]) + lines[-3][:17])  # killed while writing a line
    summary = run_job([str(archive)], SHIPPED, out, workers=1)
    assert summary.read == 3 and out.read_bytes() == whole


def test_a_parquet_journal_left_by_a_kill_is_merged_on_resume(reference, archive, tmp_path):
    out = tmp_path / "rows.parquet"
    journal = out.with_name(out.name + JOURNAL_SUFFIX)
    lines = reference.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:20]) + lines[20][:9])  # what a killed job leaves: no Parquet yet
    summary = run_job([str(archive)], SHIPPED, out, workers=1)
    assert (summary.skipped, summary.read) == (20, 41)
    assert read_results(out) == read_results(reference) and not journal.exists()


def test_two_worker_processes_write_what_one_does(reference, archive, tmp_path):
    out = tmp_path / "rows.jsonl"
    summary = run_job([str(archive)], SHIPPED, out, workers=2)
    assert summary.read == 61
    assert out.read_bytes() == reference.read_bytes()


def test_resuming_with_another_model_or_into_a_foreign_file_is_refused(reference, archive, tiny_run, tmp_path):
    out = tmp_path / "rows.jsonl"
    out.write_bytes(reference.read_bytes())
    with pytest.raises(OutputError, match="holds readings by shipped:reader"):
        run_job([str(archive)], ReaderSpec(str(tiny_run), single=True), out, workers=1)
    assert out.read_bytes() == reference.read_bytes()
    foreign = tmp_path / "accounts.csv"
    foreign.write_text("name,amount\nalice,3\n")
    with pytest.raises(OutputError, match="not a digitrec results file"):
        run_job([str(archive)], SHIPPED, foreign, workers=1)
    assert foreign.read_text() == "name,amount\nalice,3\n"
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(read_results(reference)[0].to_dict()) + "\n{oops\n" + "{}\n")
    with pytest.raises(OutputError, match="line 2 is not a results row"):
        run_job([str(archive)], SHIPPED, broken, workers=1)
    with pytest.raises(OutputError, match=r"unknown format \.xlsx"):
        run_job([str(archive)], SHIPPED, tmp_path / "rows.xlsx", workers=1)


def test_inputs_that_name_no_picture_are_an_error(tmp_path):
    from digitrec.errors import DigitrecError

    (tmp_path / "empty").mkdir()
    with pytest.raises(DigitrecError, match="no image files found"):
        run_job([str(tmp_path / "empty")], SHIPPED, tmp_path / "rows.jsonl", workers=1)


def test_uris_are_read_through_pyarrow_filesystems(reference, archive, tmp_path):
    """file:// goes the way s3:// does (pyarrow's FileSystem.from_uri), without a network."""
    local = read_results(reference)[:5]
    listing = tmp_path / "uris.txt"
    listing.write_text("".join(f"file://{row.path}\n" for row in local) + f"file://{archive}/missing.png\n")
    rows = read_results(run_job([str(listing)], SHIPPED, tmp_path / "rows.jsonl", workers=1).out)
    assert [(r.number, r.confidence) for r in rows[:5]] == [(r.number, r.confidence) for r in local]
    assert rows[5].path == f"file://{archive}/missing.png" and "missing.png" in rows[5].error
