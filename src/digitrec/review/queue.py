"""A results file split by a confidence bar: what is accepted as read, and what a person
reviews, least sure first; with each row's final number and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from digitrec.batch.output import read_results
from digitrec.batch.rows import Row
from digitrec.review.journal import ACCEPT, CORRECT, Decision

# Where a row's final number came from, in the export.
BY_READER = "reader"  # at or above the bar: accepted without review
BY_READER_ACCEPTED = "reader, accepted"  # below the bar, and a person accepted the reader's number
BY_PERSON = "person"  # a person typed the number, or marked the picture as holding none or as unreadable
NOT_REVIEWED = "reader, not reviewed"  # below the bar, and nobody has looked at it yet


@dataclass(frozen=True)
class Final:
    row: Row
    number: str
    source: str
    decision: Decision | None


class ReviewQueue:
    """The rows of one results file (each as last read), the decisions made on them, and
    the bar: one confidence for the model that wrote the file, and one of its own for each
    model that read rows again (`bars`), since each model's confidence means its own."""

    def __init__(
        self,
        rows: list[Row],
        decisions: dict[str, Decision],
        bar: float,
        results: Path | None = None,
        file_models: list[str] | None = None,  # the models that wrote the results file; default: the rows'
    ):
        self.rows, self.decisions, self.bar, self.results = rows, decisions, bar, results
        self.bars: dict[str, float] = {}  # model -> its bar, for models other than the file's
        self.file_models = file_models if file_models is not None else sorted({r.model for r in rows})
        self.position = {r.path: i for i, r in enumerate(rows)}  # a row's index: its id on the page

    @classmethod
    def load(
        cls, results: Path, decisions: dict[str, Decision], bar: float, readings: dict[str, Row] | None = None
    ) -> ReviewQueue:
        """The results file's rows, each replaced by its newest reading if it was read again."""
        readings = readings or {}
        rows = read_results(results)
        return cls([readings.get(r.path, r) for r in rows], decisions, bar, results, sorted({r.model for r in rows}))

    def bar_of(self, model: str) -> float:
        return self.bars.get(model, self.bar)

    def sure(self, row: Row) -> bool:
        """Accepted without review: a number read at or above its model's bar. A picture
        read as holding no number is always reviewed (the calibration counts answers only)."""
        return not row.error and bool(row.number) and row.confidence >= self.bar_of(row.model)

    def read_again(self, rows: list[Row]) -> None:
        """Newer readings of some rows (their review had not started): they replace the old."""
        for row in rows:
            self.rows[self.position[row.path]] = row

    def to_review(self) -> list[Row]:
        """Rows below the bar (failed pictures included) that no one has decided yet,
        least sure first."""
        left = [r for r in self.rows if not self.sure(r) and r.path not in self.decisions]
        return sorted(left, key=self.order)

    def order(self, row: Row) -> tuple[float, int]:
        """Least sure first, then as the results file lists them: the key a page pages by."""
        return (row.confidence, self.position[row.path])

    def final(self, row: Row) -> Final:
        decision = self.decisions.get(row.path)
        if decision is not None:
            # What the person accepted, as journalled: not what the file may say by now.
            source = BY_READER_ACCEPTED if decision.action == ACCEPT else BY_PERSON
            return Final(row, decision.number if decision.action in (ACCEPT, CORRECT) else "", source, decision)
        return Final(row, row.number, BY_READER if self.sure(row) else NOT_REVIEWED, None)

    def corrections(self) -> int:
        """Rows a person gave a number to (accepted or typed): what the reader can learn from."""
        return sum(d.action in (ACCEPT, CORRECT) and d.number.isdigit() for d in self.decisions.values())

    def counts(self) -> dict[str, int]:
        """How many rows are accepted as read, decided by a person, and left to review."""
        sure = sum(self.sure(r) and r.path not in self.decisions for r in self.rows)
        decided = sum(r.path in self.decisions for r in self.rows)
        return {"rows": len(self.rows), "accepted": sure, "decided": decided, "left": len(self.rows) - sure - decided}
