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


def review(
    results: Path = typer.Argument(..., help="A results file of `digitrec predict --out` (.jsonl, .csv, .parquet)."),
    precision: float = typer.Option(
        0.99, "--precision", min=0.5, max=1.0, help="Accept without review what the calibration says is this sure."
    ),
    bar: float | None = typer.Option(None, "--bar", help="Accept at or above this confidence instead."),
    calibration: Path | None = typer.Option(
        None, "--calibration", help="A table of `digitrec calibrate`; default: the one the results' model carries."
    ),
    root: list[Path] = typer.Option(
        [], "--root", help="A folder the pictures may be shown from (repeat); default: the current folder."
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Write the final results here (format by extension) and exit, no server."
    ),
    corrections: Path | None = typer.Option(
        None, "--corrections", help="With --export: also the confirmed and corrected numbers as a labelled folder."
    ),
    learn: bool = typer.Option(
        False,
        "--learn",
        help="Fine-tune the reader on the corrections so far, read the rows still waiting again, and exit.",
    ),
    learn_epochs: int | None = typer.Option(
        None, "--learn-epochs", min=1, help="How long the reader learns, in epochs of 50 steps (default 8)."
    ),
    learn_seed: int = typer.Option(0, "--learn-seed", help="Seed of the learning round's training."),
    calibrate_on: list[str] = typer.Option(
        [],
        "--calibrate-on",
        help="A labelled folder the learned reader is calibrated on beside the corrections (repeat); "
        "default: those the results' model was calibrated on, where the data root has them.",
    ),
    data_dir: Path | None = DataDirOption,
    device: str = typer.Option("cpu", "--device", help="Where learning trains and reads: cpu, cuda, cuda:N or mps."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback unless you say otherwise."),
    port: int = typer.Option(8001, "--port", min=1, max=65535),
    api_key: str | None = typer.Option(None, "--api-key", envvar="DIGITREC_API_KEY", help="Required on /api/."),
    api_key_file: Path | None = typer.Option(None, "--api-key-file", help="Read the API key from this file."),
) -> None:
    """Review what the reader was unsure of: a page that shows the least sure fields first,
    decided by keyboard, each decision kept at once beside the results file. The reader
    learns from the corrections (the page's "Teach the reader your corrections", or --learn)."""
    from digitrec.cli.common import err
    from digitrec.review.learn import Learner
    from digitrec.review.session import start_review

    session = start_review(results, root or [Path.cwd()], precision, bar, calibration)
    train_args = ("--seed", str(learn_seed), *(() if learn_epochs is None else ("--epochs", str(learn_epochs))))
    learner = Learner(session, data_dir, device, train_args, tuple(calibrate_on))
    try:
        if learn:
            _learn_now(session, learner)
            return
        if export is not None:
            from digitrec.review.export import export_corrections, export_results

            rows = export_results(session.queue, export)
            out.print(f"wrote {rows:,} rows to {export}")
            if corrections is not None:
                parts = export_corrections(session.queue, corrections)
                out.print(
                    f"wrote {sum(parts.values()):,} labels to {corrections / 'labels.csv'} "
                    f"({parts['train']:,} to train on, {parts['validation']:,} to validate)"
                )
            return
        _serve_review(session, learner, host, port, api_key, api_key_file, err)
    finally:
        learner.stop()
        session.close()


def _learn_now(session, learner) -> None:
    """One learning round with a progress bar, and what it changed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digitrec.cli.common import err

    before = session.state()
    columns = (TextColumn("{task.description:<40}"), BarColumn(bar_width=30), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=not err.is_terminal) as bar:
        task = bar.add_task("learning", total=None)
        said = set()

        def show(p) -> None:
            bar.update(task, description=p.stage, completed=p.done, total=p.total or None)
            if not err.is_terminal and p.message not in said:  # a log gets each stage once, not a redrawn bar
                said.add(p.message)
                err.print(p.message)

        done = learner.run(on_progress=show)
    after = session.state()
    out.print(f"learned from {done.corrections:,} corrections: {done.model}")
    out.print(
        f"read {before['left']:,} waiting rows again: {done.moved:,} moved to accepted; "
        f"accepted {before['accepted']:,} -> {after['accepted']:,}, left {before['left']:,} -> {after['left']:,}"
    )


def _serve_review(session, learner, host: str, port: int, api_key: str | None, api_key_file: Path | None, err) -> None:
    from digitrec.review.app import create_review_app
    from digitrec.serving.app import serve_on
    from digitrec.serving.config import ServerConfig
    from digitrec.serving.listen import claim_port
    from digitrec.serving.security import is_loopback, read_api_key

    key = read_api_key(api_key, api_key_file)
    if not is_loopback(host) and not key:
        err.print(
            f"[bold yellow]warning:[/] reviewing on {host}, not loopback: anyone who can reach it sees the pictures"
        )
    session.load_models()  # before the port: no stall in the middle of the review
    hosts = None if host in ("0.0.0.0", "::") else [host, "localhost", "127.0.0.1", "[::1]"]  # any name: no check
    app = create_review_app(session, key, hosts, learner)
    claim = claim_port(host, port)
    try:
        s = session.state()
        err.print(
            f"reviewing {session.results}: {s['left']:,} fields to review, {s['accepted']:,} accepted; "
            f"open http://{host}:{port}/  (Ctrl-C to stop; every decision is already saved)"
        )
        serve_on(app, claim.sockets[0], ServerConfig(api_key=key))
    finally:
        claim.close()
