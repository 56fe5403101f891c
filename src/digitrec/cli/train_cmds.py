"""`digitrec recipes`, `digitrec train`, `digitrec evaluate`, `digitrec kaggle submit`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from digitrec.cli.common import DataDirOption, DeviceOption, JsonOption, PrecisionOption, emit_json, err, out, percent
from digitrec.errors import ConfigError

# Library imports live inside the commands: they pull in PyTorch, which `digitrec serve
# --runtime onnx` must not need.


def recipes(
    name: str | None = typer.Argument(None, help="Show this recipe in full, with its model summary."),
    as_json: bool = JsonOption,
) -> None:
    """List the recipes, or print one with a Keras-style model summary."""
    from digitrec.training.recipes import describe_recipe, recipe_listing

    if name is None:
        rows = recipe_listing()
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
    described = describe_recipe(name)
    if as_json:
        emit_json(described.to_dict())
        return
    out.print(f"[bold]{described.recipe.name}[/]: {described.recipe.summary}")
    for line in described.settings_lines():
        out.print(line)
    out.print()
    out.print(described.model_summary(), markup=False)


def refuse_on_resume(*flags: tuple[str, object]) -> None:
    """--resume continues a run with the settings it was started with: a flag that would
    change them is refused, by name, rather than silently ignored."""
    given = [name for name, value in flags if value is not None]
    if given:
        raise ConfigError(f"--resume continues a run with its own settings; drop {', '.join(given)}")


def train(
    recipe_name: str | None = typer.Option(
        None, "--recipe", help="Recipe to train (see `digitrec recipes`); default fast."
    ),
    epochs: int | None = typer.Option(None, "--epochs", min=1),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (the peak, for one-cycle)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the split, the weights and the batches (default 0)."),
    device: str = DeviceOption,
    precision: str | None = PrecisionOption,
    val_split: float | None = typer.Option(
        None, "--val-split", help="Fraction of the training set held out, 0 for none."
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="Train on a random subset of this many images (quick runs)."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Run folder to create (default runs/<recipe>-<time>)."),
    dataset: str | None = typer.Option(
        None, "--dataset", help="mnist (default), kaggle, or a labelled folder (images + labels.csv) for the reader."
    ),
    init: Path | None = typer.Option(
        None, "--init", help="Start from this trained model's weights (fine-tuning, e.g. a reader on your own folder)."
    ),
    finder: Path | None = typer.Option(
        None,
        "--finder",
        help=(
            "A strip reader's real fields are cut where this number finder is surest "
            "(default: the recipe's, the shipped finder)."
        ),
    ),
    resume: Path | None = typer.Option(None, "--resume", help="Continue this interrupted run folder."),
    data_dir: Path | None = DataDirOption,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Write figures and report.html (on the validation split) at the end."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Train a recipe into a run folder: config, history, best and last checkpoints, metrics, report."""
    from digitrec.cli.progress import ConsoleReporter
    from digitrec.training import resume_run, train_recipe
    from digitrec.training.distributed import exit_rank, from_environment, leave
    from digitrec.training.runner import new_run_settings

    group = from_environment()  # under torchrun: this rank's place in the group; rank 0 reports
    reporter = None if quiet or not group.main else ConsoleReporter(err)
    try:
        if resume is not None:
            refuse_on_resume(
                ("--recipe", recipe_name),
                ("--epochs", epochs),
                ("--batch-size", batch_size),
                ("--lr", lr),
                ("--val-split", val_split),
                ("--limit", limit),
                ("--out", out_dir),
                ("--init", init),
                ("--seed", seed),
                ("--dataset", dataset),
                ("--precision", precision),
                ("--finder", finder),
            )
            if report and group.main:
                from digitrec.evaluation.report import finish_missing_report

                path = finish_missing_report(resume, data_dir, device)
                if path is not None:
                    out.print(f"{resume} had finished training without its report; wrote {path}")
                    return
            if not quiet and group.main:
                err.print(f"resuming {resume}" + (f" on --device {device}" if device != "auto" else ""))
            outcome = resume_run(resume, data_dir, reporter, device=None if device == "auto" else device, group=group)
        else:
            recipe, options = new_run_settings(
                recipe_name,
                {"epochs": epochs, "batch_size": batch_size, "lr": lr, "val_split": val_split, "finder": finder},
                dataset=dataset,
                seed=seed,
                limit=limit,
                device=device,
                precision=precision,
                init=None if init is None else str(init),
            )
            outcome = train_recipe(recipe, options, out_dir, data_dir, reporter, group)
    except KeyboardInterrupt:
        if reporter is not None:
            reporter.close()
        where = resume or out_dir or "the run folder"
        err.print(f"interrupted: finished epochs are saved; continue with `digitrec train --resume {where}`")
        raise typer.Exit(130) from None
    leave(group)
    if group.main:  # rank 0 reports for the group
        report_outcome(outcome, report=report, data_dir=data_dir, device=device, as_json=as_json)
    if group.active:
        exit_rank()


def report_outcome(outcome, *, report: bool, data_dir: Path | None, device: str, as_json: bool) -> None:
    """What `train` prints at the end, and the report it writes."""
    m = outcome.metrics
    report_path = None
    if report:
        from digitrec.evaluation.report import write_training_report

        report_path = write_training_report(outcome.run.path, data_dir, device)
    if as_json:
        emit_json(
            {
                "run_dir": str(outcome.run.path),
                **m,
                "report": report_path,
                "history": [vars(h) for h in outcome.fit.history],
            }
        )
        return
    val = (
        f", validation accuracy {percent(m['val_accuracy'])} (epoch {m['best_epoch']})"
        if m["val_accuracy"] is not None
        else ""
    )
    out.print(f"trained {m['recipe']} for {m['epochs']} epochs in {m['train_seconds']:.1f}s{val}")
    out.print(f"run folder: {outcome.run.path}  (evaluate with `digitrec evaluate {outcome.run.path}`)")
    if report_path:
        out.print(f"report: {report_path}")


def evaluate(
    run: Path = typer.Argument(..., help="Run folder (its best checkpoint) or a .safetensors checkpoint."),
    split: str = typer.Option(
        "test", "--split", help="test (the final number) or val (the run's own validation split)."
    ),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help=(
            "Default: the data set the model was trained on. A labelled folder "
            "(labels.csv; FOLDER:validation for its held-out part) reads every image as `predict` does."
        ),
    ),
    data_dir: Path | None = DataDirOption,
    device: str = DeviceOption,
    batch_size: int = typer.Option(2048, "--batch-size", min=1),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Rewrite the run folder's figures and report.html with this evaluation."
    ),
    normalize: bool = typer.Option(False, "--normalize", help="Confusion matrix figure as rates per true class."),
    as_json: bool = JsonOption,
) -> None:
    """Loss, accuracy, per-class precision and recall, and the confusion matrix; on a
    labelled folder, whole numbers right, character error rate and the frequent confusions."""
    from digitrec.data import is_labelled_folder

    if is_labelled_folder(dataset):
        evaluate_folder(run, dataset, data_dir, device, report, as_json)
        return
    from digitrec.evaluation.checkpoints import evaluate_saved_model
    from digitrec.evaluation.report import rewrite_run_report

    ev = evaluate_saved_model(run, split, dataset, data_dir, device, batch_size)
    report_path = rewrite_run_report(run, ev, data_dir, normalize) if report else None
    d = ev.to_dict()
    if as_json:
        emit_json({**d, "report": report_path})
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
    if report_path:
        out.print(f"report: {report_path}")


def evaluate_folder(run: Path, spec: str, data_dir: Path | None, device: str, report: bool, as_json: bool) -> None:
    """`evaluate --dataset FOLDER`: a labelled folder read file by file, as `predict` reads."""
    from digitrec.evaluation.numbers import evaluate_fields, fields_evaluation_record
    from digitrec.evaluation.report import rewrite_run_report

    score = evaluate_fields(run, spec, data_dir, device)
    report_path = rewrite_run_report(run, data_dir=data_dir) if report else None
    d = fields_evaluation_record(score)
    if as_json:
        emit_json({**d, "report": report_path})
        return
    out.print(f"{run} on {spec} ({d['size']:,} images, each read from its file as `digitrec predict` does)")
    out.print(
        f"whole numbers right {percent(d['accuracy'])}  character error rate {percent(d['character_error_rate'])}  "
        f"errors {d['errors']}  {d['ms_per_image']:.1f} ms per image"
    )
    if d["confusions"]:
        out.print(
            "most frequent confusions (true -> read, ∅ = missing or extra): "
            + ", ".join(f"{c['true'] or '∅'}->{c['read'] or '∅'} x{c['count']}" for c in d["confusions"])
        )
    if report_path:
        out.print(f"report: {report_path}")


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


def report(
    run: Path = typer.Argument(..., help="Run folder."),
    split: str = typer.Option("test", "--split", help="Evaluate on test or val for the evaluation figures."),
    normalize: bool = typer.Option(False, "--normalize", help="Confusion matrix as rates per true class."),
    data_dir: Path | None = DataDirOption,
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the figures (PNG) and a self-contained report.html into a run folder."""
    from digitrec.evaluation.report import write_run_report

    path = write_run_report(run, split=split, data_dir=data_dir, device=device, normalize=normalize)
    figures = sorted(str(p) for p in (run / "figures").glob("*.png"))
    if as_json:
        emit_json({"report": path, "figures": figures})
        return
    out.print(f"wrote {path} with {len(figures)} figures in {run / 'figures'}")


def kfold(
    recipe_name: str | None = typer.Option(None, "--recipe", help="Recipe to cross-validate; default fast."),
    folds: int | None = typer.Option(None, "--folds", min=2, help="K, the number of folds (default 5)."),
    test: bool = typer.Option(
        False, "--test", help="Also evaluate every fold model and their ensemble on the test set."
    ),
    epochs: int | None = typer.Option(None, "--epochs", min=1),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    lr: float | None = typer.Option(None, "--lr"),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the folds and the training (default 0)."),
    limit: int | None = typer.Option(None, "--limit", help="Cross-validate on a random subset of this many images."),
    dataset: str | None = typer.Option(None, "--dataset", help="mnist (default) or kaggle."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to create (default runs/kfold-<recipe>-<time>)."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue an interrupted K-fold folder at its first unfinished fold."
    ),
    data_dir: Path | None = DataDirOption,
    device: str = DeviceOption,
    precision: str | None = PrecisionOption,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    as_json: bool = JsonOption,
) -> None:
    """K-fold cross-validation: K models on K disjoint validation folds, mean ± std, one report."""
    from digitrec.cli.progress import ConsoleReporter
    from digitrec.evaluation.kfold import cross_validate, run_kfold
    from digitrec.training.runner import new_run_settings

    def reporter_for(k: int, n: int):
        if quiet:
            return None
        err.print(f"[bold]fold {k}/{n}[/]")
        return ConsoleReporter(err)

    if resume is not None:
        refuse_on_resume(
            ("--recipe", recipe_name),
            ("--folds", folds),
            ("--epochs", epochs),
            ("--batch-size", batch_size),
            ("--lr", lr),
            ("--seed", seed),
            ("--limit", limit),
            ("--dataset", dataset),
            ("--out", out_dir),
            ("--precision", precision),
        )
        applied = [name for name, on in (("--test", test), (f"--device {device}", device != "auto")) if on]
        if applied and not quiet:
            err.print(f"resuming {resume} with its own settings, and {' and '.join(applied)}")
        outcome = run_kfold(
            resume, data_dir=data_dir, reporter_for=reporter_for, test=test, device=None if device == "auto" else device
        )
    else:
        recipe, options = new_run_settings(
            recipe_name,
            {"epochs": epochs, "batch_size": batch_size, "lr": lr},
            dataset=dataset,
            seed=seed,
            limit=limit,
            device=device,
            precision=precision,
        )
        outcome = cross_validate(recipe, options, folds, out_dir, data_dir, reporter_for, test)
    r = outcome.results
    if as_json:
        emit_json({"folder": outcome.folder, "report": outcome.report, **r})
        return
    table = Table(title=f"{len(r['folds'])}-fold cross-validation of {outcome.recipe.name}")
    for col in ("fold", "val loss", "val accuracy", "best epoch", "train s") + (
        ("test accuracy",) if "test" in r else ()
    ):
        table.add_column(col, justify="right")
    for i, f in enumerate(r["folds"]):
        test_cell = (percent(r["test"]["per_fold"][i]["accuracy"]),) if "test" in r else ()
        table.add_row(
            str(f["fold"]),
            f"{f['val_loss']:.4f}",
            percent(f["val_accuracy"]),
            str(f["best_epoch"]),
            f"{f['train_seconds']:.1f}",
            *test_cell,
        )
    test_mean = (
        (f"{100 * r['test']['accuracy_mean']:.2f} ± {100 * r['test']['accuracy_std']:.2f}%",) if "test" in r else ()
    )
    table.add_row(
        "mean ± std",
        f"{r['val_loss_mean']:.4f} ± {r['val_loss_std']:.4f}",
        f"{100 * r['val_accuracy_mean']:.2f} ± {100 * r['val_accuracy_std']:.2f}%",
        "",
        "",
        *test_mean,
    )
    out.print(table)
    if "test" in r:
        out.print(
            f"ensemble of {len(r['folds'])} (averaged probabilities) on the test set: "
            f"{percent(r['test']['ensemble']['accuracy'])}"
        )
    out.print(f"folder: {outcome.folder}  report: {outcome.report}")


def ensemble(
    models: list[Path] = typer.Argument(..., help="Finished run folders (or checkpoints) to combine."),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Labelled test set; default: the one the models were trained on."
    ),
    out_file: Path | None = typer.Option(None, "--out", help="Also write the figures as JSON here."),
    data_dir: Path | None = DataDirOption,
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """Average the probabilities of several models: each one's and the ensemble's test accuracy."""
    from digitrec.evaluation.ensemble import evaluate_ensemble
    from digitrec.fileio import atomic_write_json

    if len(models) < 2:
        raise typer.BadParameter("an ensemble needs two models or more", param_hint="MODELS")
    summary = evaluate_ensemble(models, dataset=dataset, data_dir=data_dir, device=device).to_dict()
    if out_file is not None:
        atomic_write_json(out_file, summary)
    if as_json:
        emit_json(summary)
        return
    table = Table(title=f"ensemble of {len(models)} on the {summary['dataset']} test set (averaged probabilities)")
    for col in ("model", "recipe", "test accuracy", "test loss"):
        table.add_column(col, justify="left" if col in ("model", "recipe") else "right")
    for m in summary["members"]:
        table.add_row(m["model"], str(m["recipe"]), percent(m["accuracy"]), f"{m['loss']:.4f}")
    table.add_row("mean ± std", "", f"{100 * summary['accuracy_mean']:.2f} ± {100 * summary['accuracy_std']:.2f}%", "")
    e = summary["ensemble"]
    table.add_row("[bold]ensemble[/]", "", f"[bold]{percent(e['accuracy'])}[/]", f"{e['loss']:.4f}")
    out.print(table)


def compare(
    runs: list[Path] = typer.Argument(..., help="Finished run folders."),
    chart: Path = typer.Option(Path("compare.png"), "--chart", help="PNG chart to write."),
    data_dir: Path | None = DataDirOption,
    device: str = DeviceOption,
    as_json: bool = JsonOption,
) -> None:
    """A table and a chart of accuracy, loss, parameters and training time across runs."""
    from digitrec.evaluation.compare import compare_runs
    from digitrec.evaluation.figures import comparison_figure, save_figure

    rows = compare_runs(runs, data_dir, device)
    save_figure(comparison_figure(rows), chart)
    if as_json:
        emit_json({"runs": rows, "chart": chart})
        return
    table = Table(title="Runs compared (test set)")
    for col in ("run", "recipe", "test accuracy", "test loss", "val accuracy", "parameters", "epochs", "train s"):
        table.add_column(col, justify="left" if col in ("run", "recipe") else "right")
    for r in rows:
        table.add_row(
            r["name"],
            r["recipe"],
            percent(r["accuracy"]),
            "-" if r["loss"] is None else f"{r['loss']:.4f}",
            percent(r["val_accuracy"]),
            f"{r['parameters']:,}",
            str(r["epochs"]),
            f"{r['train_seconds']:.1f}",
        )
    out.print(table)
    out.print(f"chart: {chart}")
