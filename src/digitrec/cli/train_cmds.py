"""`digitrec recipes`, `digitrec train`, `digitrec evaluate`, `digitrec kaggle submit`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from digitrec.cli.common import DataDirOption, DeviceOption, JsonOption, emit_json, err, out, percent
from digitrec.errors import ConfigError
from digitrec.models import build_model, count_parameters, format_summary, summarize
from digitrec.training import RECIPES, RunOptions, get_recipe, resume_run, train_recipe


def recipes(
    name: Optional[str] = typer.Argument(None, help="Show this recipe in full, with its model summary."),
    as_json: bool = JsonOption,
) -> None:
    """List the recipes, or print one with a Keras-style model summary."""
    if name is None:
        rows = [
            {"name": r.name, "summary": r.summary, "parameters": count_parameters(build_model(r.model)), "published": r.published}
            for r in RECIPES.values()
        ]
        if as_json:
            emit_json({"recipes": rows})
            return
        table = Table(title="Recipes (digitrec recipes NAME for details)")
        for col, justify in (("name", "left"), ("parameters", "right"), ("published", "left"), ("summary", "left")):
            table.add_column(col, justify=justify)
        for r in rows:
            table.add_row(r["name"], f"{r['parameters']:,}", r["published"] or "-", r["summary"])
        out.print(table)
        return
    recipe = get_recipe(name)
    model = build_model(recipe.model)
    rows = summarize(model)
    if as_json:
        emit_json(
            {
                "recipe": recipe.to_dict(),
                "parameters": count_parameters(model),
                "layers": [{"name": r.name, "type": r.kind, "output_shape": list(r.output_shape), "params": r.params} for r in rows],
            }
        )
        return
    out.print(f"[bold]{recipe.name}[/]: {recipe.summary}")
    out.print(f"source: {recipe.source}")
    if recipe.published:
        out.print(f"published: {recipe.published}")
    o, s, a = recipe.optimizer, recipe.schedule, recipe.augment
    out.print(f"optimizer: {o.name} lr {o.lr:g}" + (f" betas {tuple(o.betas)}" if o.name.startswith("adam") else f" rho {o.rho:g}") + f" eps {o.eps:g}")
    out.print(f"schedule: {s.kind}  epochs: {recipe.epochs}  batch size: {recipe.batch_size}  validation split: {recipe.val_split:.4g}")
    out.print(
        "augmentation: " + (f"rotation ±{a.rotation:g}°, zoom ±{a.zoom:.0%}, shift ±{a.shift:.0%}" if a.enabled else "none")
        + f"  label smoothing: {recipe.label_smoothing:g}"
    )
    out.print()
    out.print(format_summary(rows, count_parameters(model)), markup=False)


def train(
    recipe_name: Optional[str] = typer.Option(None, "--recipe", help="Recipe to train (see `digitrec recipes`); default fast."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (the peak, for one-cycle)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = DeviceOption,
    val_split: Optional[float] = typer.Option(None, "--val-split", help="Fraction of the training set held out, 0 for none."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Train on a random subset of this many images (quick runs)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Run folder to create (default runs/<recipe>-<time>)."),
    dataset: str = typer.Option("mnist", "--dataset", help="mnist or kaggle."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue this interrupted run folder."),
    data_dir: Optional[Path] = DataDirOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    as_json: bool = JsonOption,
) -> None:
    """Train a recipe into a run folder: config, history, best and last checkpoints, metrics."""
    from digitrec.cli.progress import ConsoleReporter

    reporter = None if quiet else ConsoleReporter(err)
    try:
        if resume is not None:
            changed = [n for n, v in (("--recipe", recipe_name), ("--epochs", epochs), ("--batch-size", batch_size), ("--lr", lr),
                                      ("--val-split", val_split), ("--limit", limit), ("--out", out_dir)) if v is not None]
            if changed:
                raise ConfigError(f"--resume continues a run with its own settings; drop {', '.join(changed)}")
            if not quiet:
                err.print(f"resuming {resume}")
            outcome = resume_run(resume, data_dir, reporter, device=None if device == "auto" else device)
        else:
            recipe = get_recipe(recipe_name or "fast").with_overrides(
                epochs=epochs, batch_size=batch_size, lr=lr, val_split=val_split
            )
            options = RunOptions(dataset=dataset, seed=seed, limit=limit, device=device)
            outcome = train_recipe(recipe, options, out_dir, data_dir, reporter)
    except KeyboardInterrupt:
        if reporter is not None:
            reporter.close()
        where = resume or out_dir or "the run folder"
        err.print(f"interrupted: finished epochs are saved; continue with `digitrec train --resume {where}`")
        raise typer.Exit(130)
    m = outcome.metrics
    if as_json:
        emit_json({"run_dir": str(outcome.run.path), **m, "history": [vars(h) for h in outcome.fit.history]})
        return
    val = f", validation accuracy {percent(m['val_accuracy'])} (epoch {m['best_epoch']})" if m["val_accuracy"] is not None else ""
    out.print(f"trained {m['recipe']} for {m['epochs']} epochs in {m['train_seconds']:.1f}s{val}")
    out.print(f"run folder: {outcome.run.path}  (evaluate with `digitrec evaluate {outcome.run.path}`)")


def evaluate(
    run: Path = typer.Argument(..., help="Run folder (its best checkpoint) or a .safetensors checkpoint."),
    split: str = typer.Option("test", "--split", help="test (the final number) or val (the run's own validation split)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Default: the data set the model was trained on."),
    data_dir: Optional[Path] = DataDirOption,
    device: str = DeviceOption,
    batch_size: int = typer.Option(2048, "--batch-size", min=1),
    as_json: bool = JsonOption,
) -> None:
    """Loss, accuracy, per-class precision and recall, and the confusion matrix."""
    from digitrec.evaluation.checkpoints import evaluate_saved_model

    ev = evaluate_saved_model(run, split, dataset, data_dir, device, batch_size)
    d = ev.to_dict()
    if as_json:
        emit_json(d)
        return
    out.print(f"{ev.model_path} on {ev.dataset} {split} ({d['size']:,} images)")
    out.print(f"accuracy {percent(d['accuracy'])}  loss {d['loss']:.4f}  errors {d['errors']}")
    per_class = Table(title="Per class")
    for col in ("class", "precision", "recall", "support"):
        per_class.add_column(col, justify="right")
    for row in d["per_class"]:
        per_class.add_row(str(row["class"]), percent(row["precision"]), percent(row["recall"]), str(row["support"]))
    out.print(per_class)
    cm = Table(title="Confusion matrix (rows: true class, columns: predicted)")
    cm.add_column("")
    for c in range(10):
        cm.add_column(str(c), justify="right")
    for c, row in enumerate(d["confusion_matrix"]):
        cm.add_row(str(c), *[(f"[bold]{v}[/]" if i == c else (str(v) if v else "·")) for i, v in enumerate(row)])
    out.print(cm)


kaggle_app = typer.Typer(help="Kaggle Digit Recognizer.", no_args_is_help=True)


@kaggle_app.command("submit")
def kaggle_submit(
    model: Path = typer.Option(..., "--model", help="Run folder or checkpoint."),
    test: Path = typer.Option(..., "--test", help="Kaggle's test.csv (pixel0..pixel783)."),
    out_path: Path = typer.Option(Path("submission.csv"), "--out", help="Submission file to write."),
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the competition's ImageId,Label file for test.csv."""
    from digitrec.evaluation.kaggle import kaggle_submission

    result = kaggle_submission(model, test, out_path, device)
    if as_json:
        emit_json(result)
        return
    out.print(f"wrote {result['rows']:,} predictions to {result['out']}")
