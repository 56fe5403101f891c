"""`digitrec data ...`: get, inspect and look at the data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from digitrec.cli.common import DataDirOption, JsonOption, emit_json, out

DATASETS = ("mnist", "kaggle")  # as digitrec.data.DATASETS, without importing torch for --help

app = typer.Typer(help="Get, inspect and look at the data.", no_args_is_help=True)


@app.command("download")
def download(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Get the four MNIST files (from the local data root, or the official mirrors into the user cache)
    and verify their sha256."""
    from digitrec.data.mnist import MnistSource, data_root_from

    files = MnistSource(data_root=data_root_from(data_dir)).locate_all()
    if as_json:
        emit_json({"files": files, "verified": True})
        return
    for f in files:
        out.print(f"verified  {f['path']}")


@app.command("info")
def info(
    dataset: str = typer.Option("mnist", "--dataset", help=f"One of: {', '.join(DATASETS)}."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Sizes and class counts of the train and test splits."""
    from digitrec.data import describe_dataset

    report = describe_dataset(dataset, data_dir)
    if as_json:
        emit_json(report)
        return
    table = Table(title=f"{dataset}: images per class")
    table.add_column("split")
    table.add_column("size", justify="right")
    for c in range(10):
        table.add_column(str(c), justify="right")
    for split, s in report["splits"].items():
        counts = s["class_counts"] or ["-"] * 10
        table.add_row(split, f"{s['size']:,}", *[str(c) for c in counts])
    out.print(table)
    out.print("Images are uint8 28x28, white ink on black.")


@app.command("show")
def show(
    out_path: Path = typer.Option(..., "--out", help="PNG file to write."),
    dataset: str = typer.Option("mnist", "--dataset"),
    split: str = typer.Option("train", "--split", help="train or test."),
    count: int = typer.Option(36, "--count", min=1, max=400, help="How many samples."),
    seed: int = typer.Option(0, "--seed"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write a grid of random samples, titled with their labels."""
    from digitrec.data import load_dataset
    from digitrec.evaluation.figures import sample_grid, save_figure

    data = load_dataset(dataset, split, data_dir)
    save_figure(sample_grid(data, count, seed), out_path)
    out.print(f"wrote {out_path}")
