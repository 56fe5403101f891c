"""Batch reading of whole archives: inputs streamed (folders, globs, list files, s3://),
read by processes on this machine or by Ray Data on a cluster, rows written as they
come to a resumable JSON-lines, CSV or Parquet file."""

from digitrec.batch.inputs import PictureFile, iter_pictures
from digitrec.batch.job import JobSummary, run_job
from digitrec.batch.output import open_results, read_results
from digitrec.batch.rows import COLUMNS, ReaderSpec, Row

__all__ = [
    "COLUMNS",
    "JobSummary",
    "PictureFile",
    "ReaderSpec",
    "Row",
    "iter_pictures",
    "open_results",
    "read_results",
    "run_job",
]
