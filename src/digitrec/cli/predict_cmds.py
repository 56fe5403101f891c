"""`digitrec predict`: read the digits in pictures, a few or a whole archive."""

from __future__ import annotations

from pathlib import Path

import typer

from digitrec.cli.common import FinderOption, emit_json, err


def predict(
    paths: list[str] = typer.Argument(
        ...,
        help=(
            "Image files, folders, globs ('scans/**/*.png', quoted), list files (.txt: one path per line) "
            "or s3:// URIs."
        ),
    ),
    model: Path | None = typer.Option(
        None,
        "--model",
        help=(
            "Run folder, checkpoint or .onnx: a number reader (recipe `reader`) or a digit classifier; "
            "default: the shipped reader."
        ),
    ),
    single: bool = typer.Option(
        False, "--single", help="Treat each whole image as one digit (uses a digit classifier)."
    ),
    layout: str = typer.Option(
        "auto",
        "--layout",
        help=(
            "field: each picture is one field (a cell, an amount box, a strip, a lone digit), read whole; "
            "page: find its numbers, read each; "
            "auto: a picture 600 pixels or more on its longer side is a page of the numbers found on it, "
            "a smaller one a field."
        ),
    ),
    finder: Path | None = FinderOption,
    min_confidence: float = typer.Option(
        0.0, "--min-confidence", min=0.0, max=1.0, help="Report numbers read with less confidence as not read."
    ),
    deskew: bool = typer.Option(False, "--deskew", help="Straighten slanted digits before reading them."),
    save_crops: Path | None = typer.Option(
        None, "--save-crops", help="Write the normalised 28x28 crops here, for inspection."
    ),
    device: str = typer.Option("cpu", "--device", help="cpu is fastest for single pictures."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help=(
            "Write one row per picture to this .jsonl, .csv or .parquet file as results come; "
            "run again to resume (pictures already in it are skipped)."
        ),
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Processes reading pictures, each with the model loaded once (default: one per core).",
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (processes on this machine) or ray (Ray Data; pip install 'digitrec\\[cluster]').",
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="--engine ray: the cluster to join (ray://HOST:10001 or auto); default: a local Ray on this machine.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON object per picture on stdout; with --out, the job's summary as one JSON object."
    ),
) -> None:
    """Read the digits in each picture: one line per image on stdout (--json: one JSON
    object per line), or, with --out, one row per image in a results file. Exit code 1
    if any picture failed (its row or line says why), 130 if interrupted."""
    from digitrec.batch.job import run_job
    from digitrec.batch.rows import ReaderSpec
    from digitrec.errors import DigitrecError

    if address is not None and engine != "ray":
        raise DigitrecError("--address names a Ray cluster; it needs --engine ray")
    if engine == "ray" and out is None:
        raise DigitrecError("--engine ray writes a results file: pass --out FILE (.jsonl, .csv or .parquet)")
    from digitrec.recognizer import check_layout

    spec = ReaderSpec(
        str(model) if model is not None else None,
        device,
        single,
        deskew,
        min_confidence,
        str(save_crops) if save_crops else None,
        check_layout(layout),
        str(finder) if finder is not None else None,
    )
    bar = BatchBar() if out is not None and err.is_terminal else None
    on_row = None if out is not None else (print_json_row if as_json else print_row)
    try:
        summary = run_job(
            paths,
            spec,
            out,
            workers=workers,
            engine=engine,
            address=address,
            on_row=on_row,
            progress=bar,
            details=as_json and out is None,
        )
    finally:
        if bar is not None:
            bar.close()
    if out is not None and as_json:  # the rows are in the file; stdout gets the job's summary
        emit_json(
            {
                "out": out,
                "read": summary.read,
                "failed": summary.failed,
                "skipped": summary.skipped,
                "skipped_failed": summary.skipped_failed,
                "seconds": summary.seconds,
                "interrupted": summary.interrupted,
            }
        )
    elif out is not None:
        skipped = f"; {summary.skipped:,} already in {out} were skipped" if summary.skipped else ""
        err.print(
            f"{summary.read:,} pictures read in {summary.seconds:.1f} s ({summary.images_per_second:,.1f}/s), "
            f"{summary.failed:,} failed{skipped}; results in {out}",
            markup=False,
        )
    if summary.interrupted:
        err.print(
            f"interrupted: {summary.read:,} rows were written; run the same command again to resume"
            if out
            else "interrupted"
        )
        raise typer.Exit(130)
    if summary.any_failed:
        raise typer.Exit(1)


def print_row(row) -> None:
    if row.error:  # its own line, and the rest are still read
        err.print(f"{row.path}: error: {row.error}", markup=False)
    elif row.number:  # tab-separated: file, number read, confidence
        print(f"{row.path}\t{row.number}\t{row.confidence:.3f}", flush=True)
    else:
        print(f"{row.path}\t\t0.000\t({row.warning})", flush=True)


def print_json_row(row) -> None:
    if row.error:
        emit_json({"file": row.path, "text": "", "digits": [], "error": row.error})
    else:
        emit_json({"file": row.path, **(row.details or {})})


class BatchBar:
    """A live bar on stderr: pictures read, images per second and, once the inputs are
    counted, the ETA."""

    def __init__(self, console=err) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("reading"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("read", total=None, rate="")
        self.progress.start()

    def total_known(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advanced(self, rows: int) -> None:
        self.progress.advance(self.task, rows)
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, rate=f"{speed:,.1f} images/s" if speed else "")

    def close(self) -> None:
        self.progress.stop()
