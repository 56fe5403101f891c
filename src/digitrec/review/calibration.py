"""How often a reader's answers at or above a confidence are right: the table that turns
"accept with 99% precision" into a confidence bar.

It is measured on labelled fields the reader did not train on (`digitrec calibrate`): for
the shipped reader on the validation parts of its real sets, for one's own model on one's
own labelled folder. Only answers count (a field read as holding no number is never
accepted without review).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from digitrec.batch.rows import model_named
from digitrec.errors import DigitrecError
from digitrec.fileio import read_json

MAX_POINTS = 400  # bars kept in a table: each exact, between them the next higher one is used
# A bar promises a precision only over enough answers: with none wrong among n, the error
# rate is below 3/n at 95% confidence (the rule of three), so precision p needs at least
# 3 / (1 - p) answers at or above the bar (300 for 99%). A reader calibrated on the ~100
# validation cells of a review's corrections promised 99% at a bar where it was right
# 94% of the time on the rows it then accepted.
EVIDENCE = 3.0


class CalibrationError(DigitrecError):
    """A calibration table that cannot be used; the message names the file."""


def bar_for_precision(pairs: Iterable[tuple[float, bool]], precision: float) -> float:
    """The lowest confidence bar at which the answers at or above it were right at least
    `precision` of the time, from (confidence, right) pairs; inf when no bar reaches it.
    Ties stay together: a bar never splits equal confidences."""
    if not 0 < precision <= 1:
        raise CalibrationError(f"the precision asked for must be in (0, 1], not {precision}")
    ranked = sorted(pairs, key=lambda p: -p[0])
    bar, right = math.inf, 0
    for seen, (confidence, ok) in enumerate(ranked, start=1):
        right += bool(ok)
        last_of_tie = seen == len(ranked) or ranked[seen][0] < confidence
        if last_of_tie and right >= precision * seen:
            bar = confidence
    return bar


@dataclass(frozen=True)
class CalibrationTable:
    """Cumulative counts at some bars: `points` (bar, answers at or above, right among
    them), bars descending; `fields` all the fields measured, answered or not."""

    name: str
    fields: int
    points: tuple[tuple[float, int, int], ...]

    @classmethod
    def from_pairs(cls, name: str, pairs: Iterable[tuple[float, bool]], fields: int) -> CalibrationTable:
        ranked = sorted(pairs, key=lambda p: -p[0])
        cuts = [i for i in range(1, len(ranked) + 1) if i == len(ranked) or ranked[i][0] < ranked[i - 1][0]]
        step = max(1, math.ceil(len(cuts) / MAX_POINTS))
        kept = cuts[step - 1 :: step]
        if cuts and (not kept or kept[-1] != cuts[-1]):
            kept.append(cuts[-1])  # the lowest bar, where every answer is accepted
        right = [0]
        for _, ok in ranked:
            right.append(right[-1] + bool(ok))
        return cls(name, fields, tuple((ranked[i - 1][0], i, right[i]) for i in kept))

    def bar(self, precision: float) -> float:
        """The lowest bar of the table whose answers were right at least `precision` of the
        time, over enough answers to show it (EVIDENCE); inf when none."""
        if not 0 < precision <= 1:
            raise CalibrationError(f"the precision asked for must be in (0, 1], not {precision}")
        needed = EVIDENCE / (1 - precision) if precision < 1 else math.inf
        ok = [bar for bar, seen, right in self.points if right >= precision * seen and seen >= needed]
        return min(ok) if ok else math.inf

    def at(self, bar: float) -> tuple[float, float]:
        """(share of fields accepted, precision of those) at `bar`, by the nearest bar of
        the table at or above it."""
        above = [(seen, right) for b, seen, right in self.points if b >= bar]
        if not above:
            return 0.0, 1.0
        seen, right = above[-1]
        return seen / max(1, self.fields), right / seen

    def to_dict(self) -> dict:
        return {"name": self.name, "fields": self.fields, "points": [list(p) for p in self.points]}

    @classmethod
    def from_dict(cls, d: dict, where: str = "the calibration") -> CalibrationTable:
        try:
            points = tuple((float(b), int(s), int(r)) for b, s, r in d["points"])
            table = cls(str(d["name"]), int(d["fields"]), points)
        except (KeyError, TypeError, ValueError) as e:
            raise CalibrationError(f"{where} is not a calibration table ({e})") from None
        if any(not 0 <= r <= s <= table.fields for _, s, r in points) or any(
            b1 <= b2 or s1 > s2 or r1 > r2 for (b1, s1, r1), (b2, s2, r2) in pairwise(points)
        ):
            raise CalibrationError(f"{where} is not a calibration table (its counts do not add up)")
        return table


CALIBRATION_FILE = "calibration.json"  # in a model's run folder, written by `digitrec calibrate`


def load_calibration(path: str | Path) -> CalibrationTable:
    return CalibrationTable.from_dict(read_json(Path(path)), str(path))


def calibration_of_model(model: str) -> CalibrationTable | None:
    """The calibration a model carries: the shipped reader's (`shipped:reader`, as results
    files name it), or the one `digitrec calibrate` wrote into a run folder; None if none."""
    from digitrec.shipped import CALIBRATION

    if model_named(model) is None:
        return load_calibration(CALIBRATION) if CALIBRATION.exists() else None
    path = Path(model)
    path = path / CALIBRATION_FILE if path.is_dir() else path.with_name(CALIBRATION_FILE)
    return load_calibration(path) if path.exists() else None
