"""Scoring number reading: whole numbers right, character error rate, confusions.

Readings are compared as digit strings. The character error rate is the Levenshtein
distance (insertions, deletions, substitutions) over the number of true digits; the
confusions come from the same alignment: ("3", "8") is a 3 read as 8, ("1", "") a 1 that
was missed, ("", "1") a 1 that was not there.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import Levenshtein

from digitrec.errors import DigitrecError

if TYPE_CHECKING:
    from digitrec.review.calibration import CalibrationTable

# --- tuning --------------------------------------------------------------------------
TOP_CONFUSIONS = 10  # how many confusions a report lists
WORST_FIELDS = 24  # how many wrong readings a report shows, least confident first


@dataclass
class FieldResult:
    file: str
    label: str
    text: str
    confidence: float
    seconds: float
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.text == self.label


@dataclass
class NumberScore:
    name: str
    results: list[FieldResult] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.results)

    @property
    def accuracy(self) -> float:
        return sum(r.correct for r in self.results) / max(1, self.size)

    @property
    def character_error_rate(self) -> float:
        edits = sum(Levenshtein.distance(r.label, r.text) for r in self.results)
        return edits / max(1, sum(len(r.label) for r in self.results))

    @property
    def ms_per_image(self) -> float:
        return 1000 * sum(r.seconds for r in self.results) / max(1, self.size)

    def confusions(self, top: int = TOP_CONFUSIONS) -> list[tuple[str, str, int]]:
        """The most frequent (true, read) digit pairs; '' marks a missing or an extra digit."""
        counts: Counter[tuple[str, str]] = Counter()
        for r in self.results:
            for op in Levenshtein.editops(r.label, r.text):
                true = r.label[op.src_pos] if op.tag in ("replace", "delete") else ""
                read = r.text[op.dest_pos] if op.tag in ("replace", "insert") else ""
                counts[(true, read)] += 1
        return [(a, b, n) for (a, b), n in counts.most_common(top)]

    def worst(self, n: int = WORST_FIELDS) -> list[FieldResult]:
        """Wrong readings, the most confidently wrong first (those are the dangerous ones)."""
        return sorted((r for r in self.results if not r.correct), key=lambda r: -r.confidence)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "accuracy": self.accuracy,
            "character_error_rate": self.character_error_rate,
            "ms_per_image": self.ms_per_image,
            "errors": sum(not r.correct for r in self.results),
            "confusions": [{"true": a, "read": b, "count": n} for a, b, n in self.confusions()],
            "worst": [vars(r) for r in self.worst()],
        }


Reader = Callable[[Path], tuple[str, float]]  # a file -> (digits read, confidence)


def score_reader(read: Reader, files: Iterable[tuple[Path, str]], name: str) -> NumberScore:
    """Read every (file, label) with `read`, timing each from file to answer."""
    score = NumberScore(name)
    for path, label in files:
        started = time.perf_counter()
        try:
            text, confidence = read(path)
            error = None
        except DigitrecError as e:
            text, confidence, error = "", 0.0, str(e)
        score.results.append(FieldResult(str(path), label, text, confidence, time.perf_counter() - started, error))
    return score


def recognizer_reader(recognizer: Any) -> Reader:
    """A `Recognizer` as a Reader: the digits of every number it finds, joined."""

    def read(path: Path) -> tuple[str, float]:
        reading = recognizer.read(path)
        return reading.text.replace(" ", ""), reading.confidence

    return read


def fields_evaluation_record(score: NumberScore) -> dict[str, Any]:
    """What an evaluation on a labelled folder records (evaluation-fields-*.json, and
    `digitrec evaluate --json`): the score, and how often answers above each confidence
    are right."""
    return {**score.to_dict(), "calibration": calibration(score.results)}


def fields_evaluation_file(spec: str) -> str:
    """The run-folder file an evaluation on a labelled folder is saved as."""
    name = Path(str(spec).replace(":", "-")).name or "fields"
    return f"evaluation-fields-{name}.json"


def evaluate_fields(
    run_or_checkpoint: str | Path, spec: str, data_dir: str | Path | None = None, device: str = "cpu", save: bool = True
) -> NumberScore:
    """Read every image of a labelled folder with the model, from file to answer (the
    same path as `digitrec predict`); saved into a run folder as evaluation-fields-*.json."""
    from digitrec.data.folders import read_labels
    from digitrec.data.mnist import data_root_from
    from digitrec.fileio import atomic_write_json
    from digitrec.recognizer import Recognizer

    files = read_labels(spec, data_root_from(data_dir))
    score = score_reader(
        recognizer_reader(Recognizer.load(run_or_checkpoint, device)), [(f.path, f.label) for f in files], str(spec)
    )
    if save and Path(run_or_checkpoint).is_dir():
        atomic_write_json(Path(run_or_checkpoint) / fields_evaluation_file(spec), fields_evaluation_record(score))
    return score


def calibration(
    results: list[FieldResult], thresholds: Iterable[float] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
) -> list[dict[str, float]]:
    """For each confidence threshold: the share of fields answered at or above it, and how
    often those answers are right (what `--min-confidence` buys)."""
    rows = []
    for t in thresholds:
        kept = [r for r in results if r.text and r.confidence >= t]
        rows.append(
            {
                "min_confidence": t,
                "answered": len(kept) / max(1, len(results)),
                "right_when_answered": sum(r.correct for r in kept) / max(1, len(kept)),
            }
        )
    return rows


def accepted_at_precision(results: list[FieldResult], precision: float = 0.99) -> tuple[float, float]:
    """The largest share of fields that can be answered, surest first, with at least
    `precision` of the answers right, and the confidence that admits them: (share,
    threshold); (0, 1) when not even the surest answer is sure enough. What an archive
    accepts without review; the rest goes to a person."""
    from digitrec.review.calibration import bar_for_precision

    bar = bar_for_precision(((r.confidence, r.correct) for r in results if r.text), precision)
    if math.isinf(bar):
        return 0.0, 1.0
    return sum(1 for r in results if r.text and r.confidence >= bar) / max(1, len(results)), bar


def calibrate(
    model: str | Path | None, specs: list[str], data_dir: str | Path | None = None, device: str = "cpu"
) -> tuple[CalibrationTable, list[NumberScore]]:
    """Read every labelled folder in `specs` with the model (None: the shipped models), as
    `predict` reads, and measure how often its answers at or above each confidence are
    right: the table `digitrec review` turns a precision into a bar with."""
    from digitrec.review.calibration import CalibrationTable

    scores = [evaluate_fields(model, spec, data_dir, device, save=False) for spec in specs]
    results = [r for s in scores for r in s.results]
    pairs = [(r.confidence, r.correct) for r in results if r.text]
    return CalibrationTable.from_pairs(" + ".join(specs), pairs, len(results)), scores


def accepted_above(results: list[FieldResult], threshold: float) -> tuple[float, float]:
    """The share of fields answered at or above `threshold` (chosen elsewhere, e.g. on
    validation), and how often those answers are right."""
    kept = [r for r in results if r.text and r.confidence >= threshold]
    return len(kept) / max(1, len(results)), sum(r.correct for r in kept) / max(1, len(kept))
