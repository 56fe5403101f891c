"""Rows read again while their review waited, by a reader that learned from the review.

The results file stays as `predict --out` wrote it. When a fine-tuned reader reads the
rows still waiting again, their new readings (number, confidence, and the model that
read them) are appended to `RESULTS.readings.jsonl`, durably, a batch at a time; the last
reading of a picture is the one that counts, so the export says which model read each row.
The review's lock (`journal.ReviewJournal`) covers this file too.
"""

from __future__ import annotations

import os
from pathlib import Path

from digitrec.batch.rows import Row
from digitrec.review.journal import ReviewError, append_durably, open_log

READINGS_SUFFIX = ".readings.jsonl"


def _row_of(record: dict) -> Row:
    if not isinstance(record.get("path"), str) or not isinstance(record.get("model"), str):
        raise ReviewError("a reading names its picture and its model")
    return Row.from_dict(record)


class ReadingLog:
    """The readings log of one results file, open while its review holds the lock."""

    def __init__(self, results: str | os.PathLike[str]):
        self.results = Path(results)
        self.path = self.results.with_name(self.results.name + READINGS_SUFFIX)
        self._fh = None

    def open(self) -> dict[str, Row]:
        """The newest reading of each picture read again so far."""
        rows, self._fh = open_log(self.path, _row_of, "a reading of a picture")
        return {r.path: r for r in rows}

    def record(self, rows: list[Row]) -> None:
        if self._fh is None:
            raise ReviewError(f"the readings of {self.results} are not open")
        append_durably(self._fh, [r.to_dict() for r in rows])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
