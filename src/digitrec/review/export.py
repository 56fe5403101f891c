"""What a review leaves: the final results, and the corrections as a labelled folder."""

from __future__ import annotations

import csv
import io
import json
import zlib
from pathlib import Path

from digitrec.batch.output import output_format, spreadsheet_safe
from digitrec.fileio import atomic_write_bytes, atomic_write_text
from digitrec.review.journal import ACCEPT, CORRECT, ReviewError
from digitrec.review.queue import ReviewQueue

VALIDATION_EVERY = 5  # of a review's corrections, one page in this many chooses the epoch and calibrates
EXPORT_COLUMNS = ("path", "number", "source", "confidence", "model", "error", "warning")


def export_results(queue: ReviewQueue, out: Path) -> int:
    """Every row with its final number and where it came from, in the format `out`'s
    extension names (as `predict --out`); written whole, atomically. Returns the rows."""
    records = []
    for row in queue.rows:
        final = queue.final(row)
        records.append(
            {
                "path": row.path,
                "number": final.number,
                "source": final.source,
                "confidence": row.confidence,
                "model": row.model,
                "error": row.error,
                "warning": row.warning,
            }
        )
    kind = output_format(out)
    if queue.results is not None and out.resolve() == queue.results.resolve():
        raise ReviewError(f"--export {out} is the results file under review: name another file")
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(records), sink)
        atomic_write_bytes(out, sink.getvalue().to_pybytes())
    elif kind == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for r in records:
            writer.writerow([spreadsheet_safe(v) if isinstance(v, str) else v for v in r.values()])
        atomic_write_text(out, text.getvalue())
    else:
        atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return len(records)


def export_corrections(queue: ReviewQueue, folder: Path) -> dict[str, int]:
    """The numbers a person confirmed or typed, as a labelled folder (`labels.csv`,
    `file,label,part`) that `train --dataset` and `evaluate --dataset` take. The pictures
    are referenced by their absolute paths, not copied (a relative path is taken from the
    current folder, as `predict` wrote it). Pictures marked as holding no number or as
    unreadable are left out: a label is digits. Returns the labels written per part.

    The part is fixed here, by page, one page in VALIDATION_EVERY to validation: an
    archive's pages may all hash into one part of the folder they came from (the test
    part of a data set, say), which would leave nothing to train on."""
    from digitrec.data.folders import page_of

    lines = []
    for row in queue.rows:
        decision = queue.decisions.get(row.path)
        if decision is None or decision.action not in (ACCEPT, CORRECT):
            continue
        number = queue.final(row).number
        if number.isdigit():  # a label is digits: a row of several numbers ("12 34") is left out
            lines.append((str(Path(row.path).resolve()), number))
    pages = sorted({page_of(f) for f, _ in lines}, key=lambda p: (zlib.crc32(f"review:{p}".encode()), p))
    validation = set(pages[::VALIDATION_EVERY])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("file", "label", "part"))
    counts = {"train": 0, "validation": 0}
    for file, number in lines:
        part = "validation" if page_of(file) in validation else "train"
        counts[part] += 1
        writer.writerow((file, number, part))
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "labels.csv", text.getvalue())
    return counts
