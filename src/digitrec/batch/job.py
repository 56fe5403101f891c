"""A batch job: inputs streamed to an engine, rows streamed to a results file.

    run_job(["archive/"], ReaderSpec(), out=Path("results.parquet"), workers=8)

Pictures already in `out` are skipped, so running the same command again after an
interruption finishes the job with nothing duplicated or lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digitrec.batch.inputs import PictureFile, iter_pictures
from digitrec.batch.local import read_local
from digitrec.batch.output import OutputError, open_results
from digitrec.batch.rows import ReaderSpec, Row
from digitrec.errors import DigitrecError
from digitrec.processes import available_cores

ENGINES = ("local", "ray")


class Progress(Protocol):
    """What a job tells its watcher (the CLI draws a bar from it)."""

    def total_known(self, total: int) -> None: ...  # pictures left to read, once counted
    def advanced(self, rows: int) -> None: ...


@dataclass
class JobSummary:
    read: int = 0  # rows written by this run
    failed: int = 0  # of which had an error
    skipped: int = 0  # pictures an earlier run had already written
    skipped_failed: int = 0  # of which had an error
    seconds: float = 0.0
    interrupted: bool = False
    out: Path | None = None

    @property
    def any_failed(self) -> bool:
        return bool(self.failed or self.skipped_failed)

    @property
    def images_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def run_job(
    inputs: Iterable[str],
    spec: ReaderSpec,
    out: Path | None = None,
    *,
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    on_row: Callable[[Row], None] | None = None,
    progress: Progress | None = None,
    details: bool = False,
) -> JobSummary:
    """Read every picture of `inputs` not yet in `out`; write each row to `out` (if any)
    and hand it to `on_row` as it comes. Raises DigitrecError for a bad model, a bad
    results file or inputs that name no picture; a picture that fails is a row."""
    if engine not in ENGINES:
        raise DigitrecError(f"unknown --engine {engine!r}; use {' or '.join(ENGINES)}")
    inputs = [str(i) for i in inputs]
    recognizer = spec.load()  # a bad model fails here, before any file is touched (and a cluster is started)
    results, done = open_results(out) if out is not None else (None, None)
    summary = JobSummary(out=out)
    try:
        if done is not None:
            check_models(out, done.models, spec.name)
            summary.skipped, summary.skipped_failed = len(done.paths), done.failed
        skip = done.paths if done is not None else set()
        pictures = (p for p in iter_pictures(inputs) if p.path not in skip)
        if progress is not None:
            count_in_background(inputs, skip, progress)
        started = time.perf_counter()
        chunks = engine_rows(engine, pictures, spec, workers, recognizer, address, details=details)
        try:
            write_rows(chunks, results, summary, on_row, progress)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            chunks.close()  # stops the workers now, not when the generator is collected
        summary.seconds = time.perf_counter() - started
    finally:
        if results is not None:
            results.close()
    if summary.read + summary.skipped == 0 and not summary.interrupted:
        raise DigitrecError(f"no image files found in {', '.join(inputs)}")
    return summary


def write_rows(
    chunks: Iterable[list[Row]],
    results,
    summary: JobSummary,
    on_row: Callable[[Row], None] | None,
    progress: Progress | None,
) -> None:
    """Each row to the results file and to `on_row`, counted; flushed after each chunk."""
    for rows in chunks:
        for row in rows:
            if results is not None:
                results.write(row)
            summary.read += 1
            summary.failed += bool(row.error)
            if on_row is not None:
                on_row(row)
        if results is not None:
            results.flush()
        if progress is not None:
            progress.advanced(len(rows))


def engine_rows(
    engine: str,
    pictures: Iterator[PictureFile],
    spec: ReaderSpec,
    workers: int | None,
    recognizer,
    address: str | None,
    *,
    details: bool,
) -> Iterator[list[Row]]:
    workers = workers or available_cores()
    if engine == "ray":
        from digitrec.batch.ray_engine import read_ray

        return read_ray(pictures, spec, workers, address)
    return read_local(pictures, spec, workers, recognizer, details=details)


def check_models(out: Path, models: set[str], model: str) -> None:
    """A results file holds one model's readings: resuming with another would mix them."""
    others = models - {model}
    if others:
        raise OutputError(
            f"{out} holds readings by {', '.join(sorted(others))}, not {model}; "
            "name another --out, or delete it to start over"
        )


def count_in_background(inputs: list[str], skip: set[str], progress: Progress) -> None:
    """The job streams its inputs and never knows their number; a second walk counts
    them (cheap beside reading them) so that the progress bar can show an ETA."""

    def count() -> None:
        progress.total_known(sum(1 for p in iter_pictures(inputs) if p.path not in skip))

    threading.Thread(target=count, name="digitrec-count", daemon=True).start()
