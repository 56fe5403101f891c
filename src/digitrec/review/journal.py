"""Every decision a person makes on a results file, kept at once in a journal beside it.

    rows.jsonl                 the results of `predict --out`, never changed by review
    rows.jsonl.review.jsonl    the journal: one decision per line, in the order made
    rows.jsonl.review.lock     held by the one review process working on the file
    rows.jsonl.readings.jsonl  rows read again by a model that learned from the decisions

A decision is appended as one line and flushed to the disk before it is acknowledged, so
killing the server or the machine at any moment loses nothing that was acknowledged; a
kill in the middle of a write leaves at most a partial last line, which the next review
cuts off (that decision was never acknowledged). A later decision on the same picture
replaces an earlier one: going back and changing one's mind is a new line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from digitrec.errors import DigitrecError
from digitrec.fileio import LockHeld, take_lock

JOURNAL_SUFFIX = ".review.jsonl"
LOCK_SUFFIX = ".review.lock"
ACCEPT, CORRECT, NO_NUMBER, UNREADABLE = "accept", "correct", "no-number", "unreadable"
ACTIONS = (ACCEPT, CORRECT, NO_NUMBER, UNREADABLE)
T = TypeVar("T")
MAX_TYPED_DIGITS = 32  # a number a person types: longer is a stuck key, not a number


class ReviewError(DigitrecError):
    """A review cannot go on as asked; the message names the file and what to do."""


@dataclass(frozen=True)
class Decision:
    path: str  # the picture, as the results file names it
    action: str  # accept (the reader's number), correct (the person's), no-number, unreadable
    number: str = ""  # what the picture shows after the decision: the reader's, the person's, or ""
    at: float = 0.0  # seconds since the epoch, when it was made

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ReviewError(f"unknown review action {self.action!r}; use one of {', '.join(ACTIONS)}")
        if self.action == CORRECT:
            check_typed(self.number)


def check_typed(text: str) -> str:
    """A number typed by a person: digits only (the marks for no number or an unreadable
    picture are actions of their own, not text)."""
    if not text or not text.isascii() or not text.isdigit():
        raise ReviewError(f"a typed number must be digits 0-9 only, not {text!r}")
    if len(text) > MAX_TYPED_DIGITS:
        raise ReviewError(f"a typed number has at most {MAX_TYPED_DIGITS} digits, not {len(text)}")
    return text


def _decision_of(record: dict) -> Decision:
    return Decision(**record)


def open_log(path: Path, parse: Callable[[dict], T], what: str) -> tuple[list[T], BinaryIO]:
    """The records of an append-only log of JSON lines, parsed, and the log open for
    appending. A partial last line (a kill in the middle of a write, never acknowledged)
    is cut off; a line that does not parse stops with an error naming it."""
    records: list[T] = []
    keep = 0
    if path.exists():
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.endswith(b"\n"):
                    break
                try:
                    records.append(parse(json.loads(line)))
                except (ValueError, TypeError, KeyError, ReviewError) as e:
                    raise ReviewError(
                        f"{path} line {number} is not {what} ({e}); "
                        "it was not written by digitrec review, so it is left as it is"
                    ) from None
                keep += len(line)
    created = not path.exists()
    fh = open(path, "r+b" if not created else "wb")  # noqa: SIM115 - appended to until closed
    fh.truncate(keep)
    fh.seek(keep)
    if created:  # the new file's name is on the disk too, not only its lines
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return records, fh


def append_durably(fh: BinaryIO, records: list[dict]) -> None:
    """Append `records`, a line each, and have them on the disk before returning."""
    fh.write(b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in records))
    fh.flush()
    os.fsync(fh.fileno())


class ReviewJournal:
    """The journal of one results file, held by this process while it is open."""

    def __init__(self, results: str | os.PathLike[str]):
        self.results = Path(results)
        self.path = self.results.with_name(self.results.name + JOURNAL_SUFFIX)
        self.lock_path = self.results.with_name(self.results.name + LOCK_SUFFIX)
        self._lock = None
        self._fh = None

    def open(self) -> dict[str, Decision]:
        """Take the file for this process and return the decisions made so far, the last
        one of each picture."""
        try:
            self._lock = take_lock(self.lock_path)
        except LockHeld as e:
            raise ReviewError(
                f"{self.results} is being reviewed by another process (pid {e.holder}); "
                "close that review first, or wait for it to end"
            ) from None
        try:
            lines, self._fh = open_log(self.path, _decision_of, "a review decision")
        except BaseException:
            self.close()
            raise
        return {d.path: d for d in lines}

    def record(self, decision: Decision) -> Decision:
        """Append `decision` and make it durable before returning it."""
        if self._fh is None:
            raise ReviewError(f"the review journal of {self.results} is not open")
        if not decision.at:
            decision = Decision(decision.path, decision.action, decision.number, time.time())
        append_durably(self._fh, [asdict(decision)])
        return decision

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ReviewJournal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
