"""--engine ray: the same job on a local Ray cluster of 2 CPUs, no network."""

from __future__ import annotations

import pytest

from digitrec.batch import ReaderSpec, read_results, run_job
from tests.batch.conftest import Interrupt

ray = pytest.importorskip("ray")


def test_a_local_ray_cluster_writes_what_the_local_engine_does(reference, archive, tmp_path):
    out = tmp_path / "rows.parquet"
    half = run_job([str(archive)], ReaderSpec(), out, engine="ray", workers=2, on_row=Interrupt(after=20))
    assert half.interrupted and not ray.is_initialized()  # its own Ray is shut down with the job
    summary = run_job([str(archive)], ReaderSpec(), out, engine="ray", workers=2)
    assert (summary.skipped, summary.read, summary.failed) == (half.read, 61 - half.read, 1 - half.failed)
    assert read_results(out) == read_results(reference)
