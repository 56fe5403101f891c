"""Reviewing a results file: a person checks what the reader was unsure of.

`predict --out` reads an archive into a results file; review splits its rows by a
confidence bar into accepted and to-review, keeps every decision a person makes in a
journal beside the file (`journal.py`), and exports the final results and the
corrections (`export.py`).
"""

from digitrec.review.journal import ACTIONS, Decision, ReviewError, ReviewJournal, check_typed
from digitrec.review.queue import ReviewQueue

__all__ = ["ACTIONS", "Decision", "ReviewError", "ReviewJournal", "ReviewQueue", "check_typed"]
