"""`digitrec calibrate`: how far a reader's confidence can be trusted, for review."""

from __future__ import annotations

from pathlib import Path

import typer

from digitrec.cli.common import DataDirOption, JsonOption, emit_json, out, percent

SHOWN_PRECISIONS = (0.95, 0.98, 0.99, 0.995)  # the bars printed: what an archive usually asks


def calibrate(
    dataset: list[str] = typer.Option(
        ..., "--dataset", help="A labelled folder (labels.csv), or FOLDER:validation; repeat for several."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Run folder or checkpoint of a number reader; default: the shipped reader."
    ),
    out_path: Path | None = typer.Option(
        None, "--out", help="Where to write the table; default: calibration.json in the model's run folder."
    ),
    data_dir: Path | None = DataDirOption,
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    as_json: bool = JsonOption,
) -> None:
    """Measure how often the reader's answers at or above each confidence are right, on
    labelled fields it did not train on; `digitrec review --precision P` turns it into a
    confidence bar."""
    from digitrec.errors import ConfigError
    from digitrec.evaluation.numbers import calibrate as measure
    from digitrec.fileio import atomic_write_json
    from digitrec.review.calibration import CALIBRATION_FILE

    if out_path is None:
        if model is None or not model.is_dir():
            raise ConfigError("name the table's file with --out (only a run folder has a place of its own for it)")
        out_path = model / CALIBRATION_FILE
    table, _ = measure(model, dataset, data_dir, device)
    atomic_write_json(out_path, table.to_dict())
    bars = []
    for p in SHOWN_PRECISIONS:
        bar = table.bar(p)
        share, right = table.at(bar)
        bars.append({"precision": p, "bar": bar, "accepted": share, "right_when_accepted": right})
    if as_json:
        emit_json({"out": out_path, "fields": table.fields, "bars": bars})
        return
    out.print(f"{table.fields:,} fields of {table.name}; wrote {out_path}")
    for b in bars:
        if b["bar"] == float("inf"):
            out.print(f"  precision {percent(b['precision'], 1)}: no confidence reaches it")
        else:
            out.print(
                f"  precision {percent(b['precision'], 1)}: confidence ≥ {b['bar']:.4f} accepts "
                f"{percent(b['accepted'], 1)} of the fields ({percent(b['right_when_accepted'])} of them right)"
            )
