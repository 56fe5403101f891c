"""A batch job's results file: JSON lines, CSV or Parquet, chosen by its extension,
written row by row as results come, and read back to resume an interrupted job.

Kill-safety: JSON lines and CSV are appended one line per row, so a job killed at any
moment leaves at most one partial last line, which resuming cuts off (that picture is
read again). Parquet cannot be appended to and is unreadable until its footer is
written, so its rows go first to a JSON-lines journal beside it (FILE.partial.jsonl);
closing the job, or resuming after a kill, merges the journal into the Parquet file
through a temporary file and a rename. No path is ever lost or written twice.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digitrec.batch.inputs import chunked
from digitrec.batch.rows import COLUMNS, Row
from digitrec.errors import DigitrecError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
JOURNAL_SUFFIX = ".partial.jsonl"  # Parquet's rows until the job closes
PARQUET_BATCH = 65_536  # rows per Parquet row group when merging: memory stays flat


class OutputError(DigitrecError):
    pass


def output_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise OutputError(
            f"--out {path}: unknown format {path.suffix or '(no extension)'}; use .jsonl, .csv or .parquet"
        ) from None


@dataclass
class Done:
    """What an earlier run of the job already wrote: its paths, failures and models."""

    paths: set[str] = field(default_factory=set)
    failed: int = 0
    models: set[str] = field(default_factory=set)

    def add(self, row: Row) -> None:
        self.paths.add(row.path)
        self.failed += bool(row.error)
        self.models.add(row.model)


def clean_line_text(value: str) -> str:
    """One row, one line: CSV rows never hold a newline (see the module's kill-safety)."""
    return value.replace("\r", " ").replace("\n", " ")


# A spreadsheet runs a cell that starts with one of these as a formula: a crafted file name
# (`=HYPERLINK(...)`) would run on the archivist's machine. Such a cell is written with a
# leading quote, which spreadsheets show as text, and read back without it; so is a cell
# that starts with the quote itself, so that reading back is exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def from_spreadsheet_safe(value: str) -> str:
    return value[1:] if value.startswith("'") else value


class LineFile:
    """Appends rows as lines (JSON or CSV) to a file that may hold an earlier run's."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        self.done = Done()
        self.fh: io.TextIOBase | None = None

    def open(self) -> Done:
        keep = self._scan() if self.path.exists() else 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # stays open as self.fh until close(): rows are appended as they come
        fh = open(self.path, "r+b" if self.path.exists() else "wb")  # noqa: SIM115
        fh.truncate(keep)  # a partial last line from a killed run goes: its picture is read again
        fh.seek(keep)
        self.fh = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        if keep == 0 and self.kind == "csv":
            self.fh.write(",".join(COLUMNS) + "\n")
        self.writer = csv.writer(self.fh, lineterminator="\n") if self.kind == "csv" else None
        return self.done

    def _scan(self) -> int:
        """Reads back the earlier rows; returns the length of the complete lines."""
        keep = 0
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.endswith(b"\n"):
                    break  # cut short by a kill
                if number == 1 and self.kind == "csv":
                    if line.decode("utf-8", "replace").strip() != ",".join(COLUMNS):
                        raise OutputError(
                            f"{self.path} is not a digitrec results file "
                            f"(its header is not {','.join(COLUMNS)}); not appending to it"
                        )
                else:
                    self.done.add(self._parse(line, number))
                keep += len(line)
        return keep

    def _parse(self, line: bytes, number: int) -> Row:
        try:
            text = line.decode("utf-8")
            if self.kind == "jsonl":
                return Row.from_dict(json.loads(text))
            values = next(csv.reader([text]))
            if len(values) != len(COLUMNS):
                raise ValueError(f"{len(values)} fields, not {len(COLUMNS)}")
            return Row.from_dict({c: from_spreadsheet_safe(v) for c, v in zip(COLUMNS, values)})
        except (ValueError, TypeError, StopIteration) as e:
            raise OutputError(f"{self.path} line {number} is not a results row ({e}); not appending to it") from None

    def write(self, row: Row) -> None:
        assert self.fh is not None
        if self.writer is not None:
            d = row.to_dict()
            self.writer.writerow(
                [spreadsheet_safe(clean_line_text(d[c])) if isinstance(d[c], str) else d[c] for c in COLUMNS]
            )
        else:
            self.fh.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None


class ParquetFile:
    """Rows journalled as JSON lines, merged into the Parquet file on close."""

    def __init__(self, path: Path):
        self.path = path
        self.journal_path = path.with_name(path.name + JOURNAL_SUFFIX)
        self.journal = LineFile(self.journal_path, "jsonl")

    def open(self) -> Done:
        import pyarrow.parquet as pq

        done = self.journal.open()
        if self.path.exists():
            try:
                for batch in pq.ParquetFile(self.path).iter_batches(
                    batch_size=PARQUET_BATCH, columns=["path", "error", "model"]
                ):
                    for path, error, model in zip(*(batch.column(i).to_pylist() for i in range(3))):
                        done.add(Row(path, error=error or "", model=model or ""))
            except Exception as e:  # pyarrow raises its own kinds for a file that is not Parquet
                self.journal.close()
                raise OutputError(
                    f"{self.path} is not a readable Parquet results file ({e}); not appending to it"
                ) from None
        return done

    def write(self, row: Row) -> None:
        self.journal.write(row)

    def flush(self) -> None:
        self.journal.flush()

    def close(self) -> None:
        self.journal.close()
        merge_into_parquet(self.path, self.journal_path)


def schema():
    import pyarrow as pa

    return pa.schema([(c, pa.float64() if c == "confidence" else pa.string()) for c in COLUMNS])


def merge_into_parquet(path: Path, journal: Path) -> None:
    """path := path's rows + journal's rows, atomically; then the journal goes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema()) as writer:
        if path.exists():
            for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH):
                writer.write_batch(batch)
        for rows in chunked(_journal_rows(journal), PARQUET_BATCH):
            writer.write_table(pa.Table.from_pylist([r.to_dict() for r in rows], schema=schema()))
    os.replace(tmp, path)
    journal.unlink()


def _journal_rows(journal: Path) -> Iterator[Row]:
    with open(journal, "rb") as fh:
        for line in fh:
            yield Row.from_dict(json.loads(line))


def open_results(path: Path) -> tuple[LineFile | ParquetFile, Done]:
    """The results file at `path`, ready to append to, and what it already holds."""
    kind = output_format(path)
    out: LineFile | ParquetFile = ParquetFile(path) if kind == "parquet" else LineFile(path, kind)
    try:
        return out, out.open()
    except PermissionError as e:
        raise OutputError(f"cannot write --out {path}: {e.strerror}") from None
    except IsADirectoryError:
        raise OutputError(f"--out {path} is a folder; name a file") from None


def read_results(path: Path) -> list[Row]:
    """Every row of a finished results file (for tests, benches and small jobs)."""
    kind = output_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return [Row.from_dict(d) for d in pq.read_table(path).to_pylist()]
    lines = LineFile(path, kind)
    with open(path, "rb") as fh:
        numbered = list(enumerate(fh, 1))
    start = 2 if kind == "csv" else 1
    return [lines._parse(line, n) for n, line in numbered if n >= start]
