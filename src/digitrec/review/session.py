"""One review of one results file: its queue, its journal, and the pictures it may show."""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from digitrec.batch.inputs import PictureFile
from digitrec.batch.rows import ReaderSpec, Row, model_named, read_row
from digitrec.review.calibration import CalibrationTable
from digitrec.review.journal import Decision, ReviewError, ReviewJournal
from digitrec.review.queue import ReviewQueue
from digitrec.review.readings import ReadingLog

MAX_PICTURE_BYTES = 10 * 1024 * 1024  # as `serve`'s default upload limit
PICTURE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp",
                 "TIFF": "image/tiff", "WEBP": "image/webp"}  # fmt: skip


class ReadAgain(ReviewError):
    """A person accepted a reading that a newer model has replaced since it was shown."""


class PictureRefused(Exception):
    """A row's picture is not shown; the message says why (never the file's content)."""


@dataclass
class ReviewSession:
    results: Path
    journal: ReviewJournal
    readings: ReadingLog
    queue: ReviewQueue
    roots: tuple[Path, ...]  # pictures are shown only from inside these folders
    calibration: CalibrationTable | None = None  # of the model that wrote the results file
    tables: dict[str, CalibrationTable] = field(default_factory=dict)  # of the models that read rows again
    precision: float | None = None  # what the bar was chosen for, if it was
    refused: set[int] = field(default_factory=set)  # rows whose picture was refused
    _readers: dict = field(default_factory=dict)  # model name -> its Recognizer, or None if it cannot load here
    _reader_lock: threading.Lock = field(default_factory=threading.Lock)
    _decision_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls,
        results: Path,
        bar: float,
        roots: list[Path],
        calibration: CalibrationTable | None = None,
        precision: float | None = None,
    ) -> ReviewSession:
        partial = results.with_name(results.name + ".partial.jsonl")
        if partial.exists():
            raise ReviewError(
                f"{results} is unfinished ({partial.name} holds rows not merged yet): "
                f"finish it first with `digitrec predict ... --out {results}`"
            )
        journal = ReviewJournal(results)
        decisions = journal.open()
        readings = ReadingLog(results)
        try:
            queue = ReviewQueue.load(results, decisions, bar, readings.open())
        except BaseException:
            readings.close()
            journal.close()
            raise
        roots_inside = tuple(r.resolve() for r in roots)
        return cls(results, journal, readings, queue, roots_inside, calibration=calibration, precision=precision)

    def close(self) -> None:
        self.readings.close()
        self.journal.close()

    def adopt(self, model: str, table: CalibrationTable | None) -> None:
        """Use `model` for rows read again: its bar from its own calibration at the
        precision asked for, or the bar given by hand (which promises no precision)."""
        if self.precision is None:
            self.queue.bars[model] = self.queue.bar
            return
        if table is None:
            raise ReviewError(
                f"{model} has no calibration: measure one with `digitrec calibrate --model {model} --dataset ...`"
            )
        self.tables[model] = table
        self.queue.bars[model] = table.bar(self.precision)

    def record_readings(self, rows: list[Row]) -> None:
        """Newer readings of rows nobody has decided (a decision made meanwhile wins: the
        row keeps it, and the reading is not kept)."""
        with self._decision_lock:
            fresh = [r for r in rows if r.path not in self.queue.decisions]
            if fresh:
                self.readings.record(fresh)
                self.queue.read_again(fresh)

    def row(self, index: int) -> Row:
        if not 0 <= index < len(self.queue.rows):
            raise KeyError(index)
        return self.queue.rows[index]

    def decide(self, index: int, action: str, number: str = "") -> Decision:
        """Keep a decision on row `index`: `accept` keeps what was read (`number`, if
        given, is what the person saw: refused if the row was read again since), `correct`
        the number typed, `no-number` and `unreadable` no number at all."""
        row = self.row(index)
        if action == "accept" and (row.error or not row.number):
            raise ReviewError(f"{Path(row.path).name} has no reading to accept: type its number, or mark it")
        if action == "accept" and number and number != row.number:
            raise ReadAgain(f"{Path(row.path).name} was read again meanwhile: it now reads {row.number}; look again")
        if action == "accept":
            number = row.number
        elif action != "correct":
            number = ""
        with self._decision_lock:  # the journal's order and the queue's are the same order
            decision = self.journal.record(Decision(row.path, action, number))
            self.queue.decisions[row.path] = decision
        return decision

    def picture(self, index: int) -> tuple[bytes, str]:
        """The row's picture and its media type, if it lies inside the roots and is an
        image; else PictureRefused (and the row is counted as refused)."""
        try:
            return self._picture(Path(self.row(index).path))
        except PictureRefused:
            self.refused.add(index)
            raise

    def _picture(self, path: Path) -> tuple[bytes, str]:
        real = path.resolve()  # symlinks followed: a link out of the archive is refused as well
        if not any(real.is_relative_to(root) for root in self.roots):
            raise PictureRefused("outside the folders under review")
        if not real.is_file():
            raise PictureRefused("not a file")
        if os.path.getsize(real) > MAX_PICTURE_BYTES:
            raise PictureRefused("too large")
        data = real.read_bytes()
        try:  # the bytes that are sent are the bytes checked
            with Image.open(io.BytesIO(data)) as im:
                kind = PICTURE_TYPES.get(im.format or "")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            kind = None
        if kind is None:
            raise PictureRefused("not a picture")
        return data, kind

    def details(self, index: int) -> dict | None:
        """The row's picture read again by the model that read it: each number's box and
        each digit's box and top 3, for the page to draw (the results file keeps only
        the number). None when that model cannot be loaded here."""
        data, _ = self.picture(index)  # the same rules as showing it
        with self._reader_lock:  # one reading at a time: the model is shared by the server's threads
            reader = self._load_reader(self.row(index).model)
            if reader is None:
                return None
            reading = reader.read(data, name=Path(self.row(index).path).name)
        return {**reading.to_dict(), "width": reading.width, "height": reading.height}

    def _load_reader(self, model: str):
        from digitrec.errors import DigitrecError
        from digitrec.recognizer import Recognizer

        if model not in self._readers:
            try:
                self._readers[model] = Recognizer.load(model_named(model))
            except (DigitrecError, OSError):
                self._readers[model] = None  # asked once: the page shows the reading alone
        return self._readers[model]

    def use_reader(self, model: str, recognizer) -> None:
        """Show the details of rows `model` reads with this recognizer (already loaded)."""
        with self._reader_lock:
            self._readers[model] = recognizer

    def read_again(self, path: str, spec: ReaderSpec) -> Row | None:
        """Row `path` read by `spec`'s model (loaded with use_reader), from the picture as
        the page would show it; None when the picture is refused (the old reading stays)."""
        index = self.queue.position[path]
        try:
            data, _ = self.picture(index)
        except PictureRefused:
            return None
        with self._reader_lock:  # one reading at a time, as details()
            return read_row(self._readers[spec.name], PictureFile(path), spec, data)

    def load_models(self) -> None:
        """Load the rows' models now, before serving: loading one later (PyTorch's import
        among it) held the server for about a second, in the middle of a person's work."""
        with self._reader_lock:
            for model in sorted({r.model for r in self.queue.rows}):
                self._load_reader(model)

    def state(self) -> dict:
        counts = self.queue.counts()
        return {
            **counts,
            "bar": self.queue.bar,
            "bars": dict(self.queue.bars),
            "precision": self.precision,
            "estimated_errors_accepted": self._estimated_errors(),
            "refused": len(self.refused),
        }

    def _estimated_errors(self) -> float | None:
        """Of the rows accepted without review, how many are wrong by their models'
        calibration (each table at its model's bar); None where a model has none."""
        wrong_share: dict[str, float | None] = {}  # per model: 1 - precision at its bar
        wrong = 0.0
        for row in self.queue.rows:
            if not self.queue.sure(row) or row.path in self.queue.decisions:
                continue
            if row.model not in wrong_share:
                table = self.tables.get(row.model, self.calibration)
                wrong_share[row.model] = None if table is None else 1 - table.at(self.queue.bar_of(row.model))[1]
            if wrong_share[row.model] is None:
                return None
            wrong += wrong_share[row.model]
        return round(wrong, 1)

    def items(self, after: tuple[float, int] | None, count: int) -> list[dict]:
        """The to-review queue, least sure first, after the row whose key (confidence,
        index) is `after`: paged by key, not by offset, since the queue shrinks as rows are
        decided."""
        rows = self.queue.to_review()
        return [self._item(r) for r in self._after(rows, after, self.queue.order)[:count]]

    def browse(self, number: str | None, after: tuple[float, int] | None, count: int) -> list[dict]:
        """Rows to look at again: those whose number is now `number` (read so, or decided
        so), to spot a systematic error; or with None the rows accepted without review,
        the least sure first. Each with the decision already made on it, if any; paged by
        key, as `items`."""
        if number is None:
            rows = sorted(
                (r for r in self.queue.rows if self.queue.sure(r) and r.path not in self.queue.decisions),
                key=self.queue.order,
            )
            return [self._item(r) for r in self._after(rows, after, self.queue.order)[:count]]

        def by_index(r: Row) -> tuple[float, int]:
            return (0.0, self.queue.position[r.path])

        rows = [r for r in self.queue.rows if self.queue.final(r).number == number]
        after = None if after is None else (0.0, after[1])  # this list is in the file's order
        return [self._item(r) for r in self._after(rows, after, by_index)[:count]]

    @staticmethod
    def _after(rows: list[Row], after: tuple[float, int] | None, key) -> list[Row]:
        return rows if after is None else [r for r in rows if key(r) > after]

    def item(self, index: int) -> dict:
        """Row `index` as the page lists it."""
        return self._item(self.row(index))

    def _item(self, row: Row) -> dict:
        name = Path(row.path).name
        made = self.queue.decisions.get(row.path)
        decision = None if made is None else {"action": made.action, "number": made.number}
        return {"id": self.queue.position[row.path], "name": name, "number": row.number,
                "confidence": row.confidence, "error": row.error, "decision": decision}  # fmt: skip


def start_review(
    results: Path,
    roots: list[Path],
    precision: float = 0.99,
    bar: float | None = None,
    calibration: Path | None = None,
) -> ReviewSession:
    """Open the review of a results file: its bar from `bar`, or else from `precision` and
    the calibration (the file given, else the one the rows' model carries)."""
    import math

    from digitrec.review.calibration import calibration_of_model, load_calibration

    if not results.is_file():
        raise ReviewError(f"{results} is not a results file (write one with `digitrec predict ... --out {results}`)")
    session = ReviewSession.open(results, math.inf, roots)
    try:
        models = session.queue.file_models
        table = load_calibration(calibration) if calibration is not None else None
        if table is None and len(models) == 1:
            table = calibration_of_model(models[0])
        bar_from_table = bar is None  # a bar given by hand promises no precision
        if bar is None:
            if table is None:
                raise ReviewError(
                    f"no calibration for the model of {results} ({', '.join(models) or 'none'}): measure one with "
                    "`digitrec calibrate --dataset LABELLED_FOLDER --model MODEL` and pass --calibration, or pass --bar"
                )
            bar = table.bar(precision)
            if math.isinf(bar):
                raise ReviewError(f"no confidence reaches {precision:.1%} precision on {table.name}; ask for less")
        session.queue.bar, session.calibration = bar, table
        session.precision = precision if table is not None and bar_from_table else None
        for model in sorted({r.model for r in session.queue.rows} - set(models)):  # models that read rows again
            session.adopt(model, calibration_of_model(model))
    except BaseException:
        session.close()
        raise
    return session
