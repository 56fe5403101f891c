"""The local engine: a batch job's pictures read by one process per core.

Each worker process loads the model once (`ReaderSpec.load`) and reads chunks of
pictures; the parent submits chunks as the inputs stream in, keeps a bounded number in
flight, and hands results back in input order, so memory stays flat however long the
job and the output's order is the input's.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice

from digitrec.batch.inputs import PictureFile, chunked
from digitrec.batch.rows import ReaderSpec, Row, read_row
from digitrec.errors import DigitrecError

# --- tuning --------------------------------------------------------------------------
CHUNK = 16  # pictures per task: amortises the pickling round trip (~0.2 ms) over ~50 ms of reading
IN_FLIGHT = 4  # chunks queued per worker: enough that none waits while the parent writes
SMALL_JOB = 2 * CHUNK  # a job this small is read in this process: starting workers costs more


# --- in each worker process ------------------------------------------------------------
_worker_state: dict = {}


def _start_worker(spec: ReaderSpec, parent: int) -> None:
    from digitrec.processes import start_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the job
    _worker_state["recognizer"] = start_worker(spec.load, parent)
    _worker_state["spec"] = spec


def _read_chunk(chunk: list[PictureFile], details: bool) -> list[Row]:
    recognizer, spec = _worker_state["recognizer"], _worker_state["spec"]
    return [read_row(recognizer, picture, spec, details=details) for picture in chunk]


# --- in the parent ---------------------------------------------------------------------
def read_in_process(
    pictures: Iterable[PictureFile], spec: ReaderSpec, recognizer=None, *, details: bool = False
) -> Iterator[list[Row]]:
    recognizer = recognizer if recognizer is not None else spec.load()
    for chunk in chunked(pictures, CHUNK):
        yield [read_row(recognizer, picture, spec, details=details) for picture in chunk]


def read_local(
    pictures: Iterable[PictureFile], spec: ReaderSpec, workers: int, recognizer=None, *, details: bool = False
) -> Iterator[list[Row]]:
    """Rows, chunk by chunk in input order, read by `workers` processes (1: this one).
    `recognizer`, when given, is this process's already loaded copy of `spec`; `details`:
    each row also carries its whole reading (digits, boxes), for `predict --json`."""
    it = iter(pictures)
    head = list(islice(it, SMALL_JOB))
    if workers <= 1 or len(head) < SMALL_JOB:
        yield from read_in_process(chain(head, it), spec, recognizer, details=details)
        return
    yield from _read_in_pool(chunked(chain(head, it), CHUNK), spec, workers, details=details)


def _read_in_pool(
    chunks: Iterator[list[PictureFile]], spec: ReaderSpec, workers: int, *, details: bool
) -> Iterator[list[Row]]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or locks
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(spec, os.getpid()))
    pending: deque[Future] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(_read_chunk, chunk, details))
            if len(pending) >= workers * IN_FLIGHT:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future) -> list[Row]:
    try:
        return future.result()
    except BrokenProcessPool:
        raise DigitrecError(
            "a worker process died (killed, out of memory, or a crash in a decoder); "
            "the rows read so far are kept: run the same command again to resume"
        ) from None
