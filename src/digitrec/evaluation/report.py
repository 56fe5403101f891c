"""The run report: every figure as a PNG under figures/, and one self-contained
report.html (figures embedded, no script, no network) that reads well on a phone."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image

from digitrec.data import load_dataset
from digitrec.errors import RunError
from digitrec.evaluation import figures
from digitrec.evaluation.checkpoints import CheckpointEvaluation, evaluate_saved_model
from digitrec.fileio import atomic_write_bytes, atomic_write_text, read_json
from digitrec.training.runs import RunFolder


@dataclass(frozen=True)
class ReportFigure:
    name: str  # file stem under figures/
    title: str
    caption: str
    png: bytes


def _fig(name: str, title: str, caption: str, fig: Any) -> ReportFigure:
    return ReportFigure(name, title, caption, figures.figure_png(fig))


def evaluation_figures(ev: CheckpointEvaluation, normalize: bool = False) -> list[ReportFigure]:
    r = ev.result
    where = f"{dataset_name(ev.dataset)} {split_name(ev.split)} set, {r.size:,} images"
    errors = figures.most_confident_errors(r.probabilities, r.labels, k=18)
    return [
        _fig(
            "confusion_matrix",
            "Confusion matrix",
            f"Rows are true classes, columns predicted ({where}).",
            figures.confusion_matrix_figure(r.confusion, normalize),
        ),
        _fig(
            "per_class_accuracy",
            "Accuracy per class",
            f"The share of each class read correctly ({where}).",
            figures.per_class_accuracy_figure(r.confusion),
        ),
        _fig(
            "confident_errors",
            "Most confident errors",
            f"The {len(errors)} errors where the predicted class's probability most exceeds "
            f"the true class's ({where}).",
            figures.confident_errors_figure(
                ev.images, errors, f"Most confident errors on the {split_name(ev.split)} set"
            ),
        ),
        _fig(
            "prediction_grid",
            "Predictions",
            f"Random images with true and predicted class; wrong ones in red ({where}).",
            figures.prediction_grid(ev.images, r.labels, r.predictions),
        ),
    ]


def run_figures(
    run: RunFolder, evaluation: CheckpointEvaluation | None, data_dir: str | Path | None, normalize: bool
) -> list[ReportFigure]:
    out = []
    history = run.read_history()
    if history:
        out.append(
            _fig(
                "learning_curves",
                "Learning curves",
                "Loss and accuracy per epoch, training against validation.",
                figures.learning_curves(history, f"Learning curves: {run.path.name}"),
            )
        )
    if evaluation is not None:
        out += evaluation_figures(evaluation, normalize)
    dataset = read_json(run.config)["options"].get("dataset", "mnist") if run.config.exists() else "mnist"
    train = load_dataset(dataset, "train", data_dir)
    out.append(
        _fig(
            "samples",
            "Training samples",
            f"Random images from the {dataset_name(dataset)} training set with their labels.",
            figures.sample_grid(train, 24),
        )
    )
    return out


def _percent(v: float) -> str:
    return f"{100 * v:.2f}%"


def _seconds(v: float) -> str:
    if v < 60:
        return f"{v:.1f} s"
    minutes, seconds = divmod(round(v), 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _count(v: int) -> str:
    return f"{v:,}"


# metrics.json's keys as a person reads them: (label, how the value is shown). A key not
# listed is shown as it is, so that a new figure is never hidden.
METRIC_LABELS: dict[str, tuple[str, Any]] = {
    "recipe": ("Recipe", str),
    "epochs": ("Epochs trained", str),
    "best_epoch": ("Best epoch (the one saved as best.safetensors)", str),
    "selected_by": ("Best epoch chosen by", lambda v: {"val_accuracy": "validation accuracy"}.get(v, str(v))),
    "val_accuracy": ("Validation accuracy", _percent),
    "val_loss": ("Validation loss", lambda v: f"{v:.4f}"),
    "train_accuracy": ("Training accuracy (last epoch, on its training batches)", _percent),
    "train_loss": ("Training loss (last epoch)", lambda v: f"{v:.4f}"),
    "train_seconds": ("Training time", _seconds),
    "wall_seconds": ("Wall time, data loading and checkpoints included", _seconds),
    "parameters": ("Parameters", _count),
    "train_size": ("Training images", _count),
    "val_size": ("Validation images", _count),
    "device": ("Device", str),
    "threads": ("CPU threads", str),
    "precision": ("Precision of the training forward pass", str),
    "processes": ("Processes (torchrun ranks)", str),
    "examples_per_epoch": ("Examples per epoch", _count),
}

DATASET_NAMES = {"mnist": "MNIST", "kaggle": "Kaggle"}
SPLIT_NAMES = {"val": "validation", "test": "test", "train": "training"}


def dataset_name(name: str) -> str:
    return DATASET_NAMES.get(name, name)


def split_name(split: str) -> str:
    return SPLIT_NAMES.get(split, split)


def metrics_rows(metrics: dict[str, Any], epoch_of_steps: bool = False) -> list[tuple[str, str]]:
    """The Training table: every figure of metrics.json with its label and unit, and what
    examples per epoch against training images means. `epoch_of_steps`: an epoch is a
    fixed number of steps (a number reader's), not a pass over the training images."""
    rows = []
    for key, value in metrics.items():
        label, show = METRIC_LABELS.get(key, (key, _fmt))
        rows.append((label, "—" if value is None else show(value)))
    seen, images = metrics.get("examples_per_epoch"), metrics.get("train_size")
    if seen and images and (epoch_of_steps or seen < images):
        why = (
            "an epoch is a fixed number of steps of batches drawn at random from the real fields and from "
            "numbers made on the fly, not one pass over the training fields"
            if epoch_of_steps
            else "each epoch leaves out its last, partial batch (the recipe drops it, or under torchrun it is "
            "too small to give every process an image); the order is shuffled every epoch, so it is a "
            "different few images each time"
        )
        rows.append(("Examples per epoch against training images", f"{seen:,} of {images:,}: {why}"))
    return rows


def _flatten(d: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return "—" if v is None else str(v)


def _table(rows: Iterable[tuple[str, Any]], headers: tuple[str, str] = ("", "")) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    head = (
        f"<thead><tr><th>{html.escape(headers[0])}</th><th>{html.escape(headers[1])}</th></tr></thead>"
        if any(headers)
        else ""
    )
    return f'<div class="scroll"><table>{head}<tbody>{body}</tbody></table></div>'


def _details(label: str, body: str) -> str:
    """Collapsed by default: long, and rarely what a reader came for."""
    return f"<details><summary>{html.escape(label)}</summary>{body}</details>"


CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0; color: #1d1d1f; background: #fafafa; }
main { max-width: 980px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5rem; margin: 0.2em 0; } h2 { font-size: 1.15rem; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.scroll { overflow-x: auto; } table { border-collapse: collapse; font-size: 0.9rem; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; overflow-wrap: anywhere; }
th { font-weight: 600; color: #444; }
details > summary { cursor: pointer; font-weight: 600; margin: 0.4em 0; }
td.num, th.num { text-align: right; }
figure { margin: 1em 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { font-size: 0.85rem; color: #555; margin-top: 4px; }
.big { font-size: 1.6rem; font-weight: 700; } .muted { color: #666; font-size: 0.85rem; }
"""


def render_html(title: str, summary_html: str, sections: list[tuple[str, str]], figs: list[ReportFigure]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1>",
        summary_html,
    ]
    if figs:
        parts.append("<h2>Figures</h2>")
    for f in figs:
        data = base64.b64encode(f.png).decode("ascii")
        with Image.open(io.BytesIO(f.png)) as im:
            width, height = im.size
        # Every figure scales to the page, a phone's width included: nothing is clipped,
        # and the figures are drawn at most about 4:3 wide so that they stay readable.
        parts.append(
            f'<figure id="{f.name}"><div class="frame">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(f.title)}" '
            f'width="{width}" height="{height}" data-file="figures/{f.name}.png"></div>'
            f"<figcaption><b>{html.escape(f.title)}.</b> {html.escape(f.caption)}</figcaption></figure>"
        )
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    parts.append(
        f'<p class="muted">Written by digitrec on {datetime.now():%Y-%m-%d %H:%M}. '
        "Every figure is also saved as a PNG in figures/.</p></main></body></html>"
    )
    return "\n".join(parts)


def configuration_section(config: dict[str, Any]) -> tuple[str, str]:
    """A run's config.json as a collapsed section: the recipe, then the run options."""
    return (
        "Configuration",
        _details(
            "recipe and run options",
            _table(_flatten(config.get("recipe", {}), "recipe.")) + _table(_flatten(config.get("options", {}), "run.")),
        ),
    )


def _save_figures(folder: Path, figs: list[ReportFigure]) -> None:
    for f in figs:
        atomic_write_bytes(folder / "figures" / f"{f.name}.png", f.png)


def write_run_report(
    run_dir: str | Path,
    evaluation: CheckpointEvaluation | None = None,
    split: str | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    normalize: bool = False,
) -> Path:
    """Write figures/ and report.html into a run folder; evaluates on `split` unless an
    evaluation is given (None and no split: training figures only)."""
    run = RunFolder(run_dir)
    if not run.path.is_dir() or not run.config.exists():
        raise RunError(f"{run.path} is not a run folder (no config.json); `digitrec report` needs one")
    if is_reader_run(run):
        return write_reader_report(run.path, data_dir, evaluate=split is not None)
    if evaluation is None and split is not None:
        evaluation = evaluate_saved_model(run.path, split, data_dir=data_dir, device=device)
    figs = run_figures(run, evaluation, data_dir, normalize)
    _save_figures(run.path, figs)
    config = read_json(run.config)
    metrics = read_json(run.metrics) if run.metrics.exists() else {}
    summary = ""
    if evaluation is not None:
        r = evaluation.result
        summary = (
            f'<p><span class="big">{100 * r.accuracy:.2f}%</span> accuracy on the '
            f"{html.escape(dataset_name(evaluation.dataset))} {split_name(evaluation.split)} set "
            f"({r.size:,} images, {r.to_dict()['errors']:,} errors, "
            f"loss {r.loss:.4f}).</p>"
        )
    sections = []
    if metrics:
        sections.append(("Training", _table(metrics_rows(metrics))))
    if evaluation is not None:
        d = evaluation.to_dict()
        rows = "".join(
            f"<tr><td class='num'>{c['class']}</td><td class='num'>{100 * c['precision']:.2f}%</td>"
            f"<td class='num'>{100 * c['recall']:.2f}%</td><td class='num'>{c['support']}</td></tr>"
            for c in d["per_class"]
        )
        sections.append(
            (
                f"Evaluation ({split_name(evaluation.split)} set)",
                _table(
                    [
                        ("Model", d["model"]),
                        ("Epoch", d["epoch"]),
                        ("Accuracy", _percent(d["accuracy"])),
                        ("Loss (cross-entropy)", f"{d['loss']:.4f}"),
                        ("Errors", f"{d['errors']:,}"),
                        ("Images", f"{d['size']:,}"),
                    ]
                )
                + '<div class="scroll"><table><thead><tr><th class="num">Class</th><th class="num">Precision</th>'
                '<th class="num">Recall</th><th class="num">Images</th></tr></thead>'
                f"<tbody>{rows}</tbody></table></div>",
            )
        )
    sections.append(configuration_section(config))
    path = run.path / "report.html"
    atomic_write_text(path, render_html(f"digitrec run {run.path.name}", summary, sections, figs))
    return path


def write_training_report(run_dir: str | Path, data_dir: str | Path | None = None, device: str = "auto") -> Path:
    """The report `digitrec train` writes at the end of a finished run: evaluated on the
    run's own validation split when it held one out, else training figures only. The
    test set is kept for the final number (`digitrec evaluate`)."""
    run = RunFolder(run_dir)
    split = "val" if read_json(run.metrics)["val_size"] else None
    return write_run_report(run.path, split=split, data_dir=data_dir, device=device)


def finish_missing_report(run_dir: str | Path, data_dir: str | Path | None = None, device: str = "auto") -> Path | None:
    """Write the training report of a run killed between its last checkpoint and its
    report, so that `train --resume` finishes what is missing; None when nothing is (the
    run is unfinished, or has its report)."""
    run = RunFolder(run_dir)
    if not run.finished or (run.path / "report.html").exists():
        return None
    return write_training_report(run.path, data_dir, device)


def rewrite_run_report(
    run_or_checkpoint: str | Path,
    evaluation: CheckpointEvaluation | None = None,
    data_dir: str | Path | None = None,
    normalize: bool = False,
) -> Path | None:
    """After `digitrec evaluate`: rewrite a run folder's figures and report.html to show
    `evaluation` (a number reader's report lists every labelled folder it was evaluated
    on); None for a checkpoint file, which has no run folder to hold a report."""
    if not RunFolder(run_or_checkpoint).config.exists():
        return None
    return write_run_report(run_or_checkpoint, evaluation=evaluation, data_dir=data_dir, normalize=normalize)


def is_reader_run(run: RunFolder) -> bool:
    return run.config.exists() and read_json(run.config).get("recipe", {}).get("reader") is not None


def write_reader_report(run_dir: str | Path, data_dir: str | Path | None = None, evaluate: bool = True) -> Path:
    """report.html of a number reader's run: learning curves, and for each labelled folder
    it was evaluated on (`evaluation-fields-*.json`; with `evaluate`, first its own
    validation sets) the whole-number accuracy, character error rate, confusions and a
    gallery of the worst-read fields."""
    from types import SimpleNamespace

    from digitrec.evaluation.numbers import evaluate_fields

    run = RunFolder(run_dir)
    config = read_json(run.config)
    if evaluate:
        from digitrec.training.reader_data import validation_specs

        for spec in validation_specs(
            config["recipe"]["reader"]["validation"], config["options"].get("dataset", "mnist")
        ):
            evaluate_fields(run.path, spec, data_dir)
    figs, rows, sections = [], [], []
    history = run.read_history()
    if history:
        figs.append(
            _fig(
                "learning_curves",
                "Learning curves",
                "CTC loss and whole numbers right per epoch, training batches against the validation fields.",
                figures.learning_curves(history, f"Learning curves: {run.path.name}"),
            )
        )
    for i, path in enumerate(sorted(run.path.glob("evaluation-fields-*.json"))):
        ev = read_json(path)
        rows.append(
            (
                ev["name"],
                f"{100 * ev['accuracy']:.2f}% of {ev['size']:,} numbers right, "
                f"CER {100 * ev['character_error_rate']:.2f}%, "
                f"{ev['ms_per_image']:.1f} ms per image",
            )
        )
        confusions = ", ".join(f"{c['true'] or '∅'} read {c['read'] or '∅'} ×{c['count']}" for c in ev["confusions"])
        sections.append((f"Confusions on {ev['name']}", f"<p>{html.escape(confusions or 'none')}</p>"))
        worst = [SimpleNamespace(**w) for w in ev["worst"]]
        if worst:
            figs.append(
                _fig(
                    f"worst_fields_{i + 1}",
                    f"Worst-read fields of {ev['name']}",
                    "Wrong readings, the most confidently wrong first: true number, what was read, and its confidence.",
                    figures.worst_fields_figure(worst, f"Worst-read: {ev['name']}"),
                )
            )
    _save_figures(run.path, figs)
    metrics = read_json(run.metrics) if run.metrics.exists() else {}
    summary = _table(rows, ("labelled folder", "read")) if rows else ""
    if metrics:
        sections.insert(0, ("Training", _table(metrics_rows(metrics, epoch_of_steps=True))))
    sections.append(configuration_section(config))
    path = run.path / "report.html"
    atomic_write_text(path, render_html(f"digitrec number reader {run.path.name}", summary, sections, figs))
    return path


def write_html_page(
    folder: Path, title: str, summary_html: str, sections: list[tuple[str, str]], figs: list[ReportFigure]
) -> Path:
    """A report for folders that are not single runs (K-fold, comparisons)."""
    _save_figures(folder, figs)
    return atomic_write_text(folder / "report.html", render_html(title, summary_html, sections, figs))


def json_block(obj: Any) -> str:
    return f"<pre>{html.escape(json.dumps(obj, indent=2))}</pre>"


def write_kfold_report(outcome: Any) -> Path:
    """report.html for a K-fold folder: the K overlaid learning curves, the per-fold
    table with mean ± std, and with --test each fold's and the ensemble's test figures."""
    r = outcome.results
    figs = [
        _fig(
            "kfold_learning_curves",
            "Learning curves of every fold",
            "Validation (solid) and training (dashed) loss and accuracy of each fold.",
            figures.overlaid_learning_curves(
                [f.history for f in outcome.folds], f"{len(outcome.folds)}-fold learning curves: {outcome.recipe.name}"
            ),
        )
    ]
    test = r.get("test")
    header = (
        "<thead><tr><th class='num'>fold</th><th class='num'>val loss</th><th class='num'>val accuracy</th>"
        "<th class='num'>best epoch</th><th class='num'>train s</th>"
        + ("<th class='num'>test accuracy</th>" if test else "")
        + "</tr></thead>"
    )
    rows = []
    for i, f in enumerate(r["folds"]):
        test_cell = f"<td class='num'>{100 * test['per_fold'][i]['accuracy']:.2f}%</td>" if test else ""
        rows.append(
            f"<tr><td class='num'>{f['fold']}</td><td class='num'>{f['val_loss']:.4f}</td>"
            f"<td class='num'>{100 * f['val_accuracy']:.2f}%</td><td class='num'>{f['best_epoch']}</td>"
            f"<td class='num'>{f['train_seconds']:.1f}</td>{test_cell}</tr>"
        )
    mean_test = (
        f"<td class='num'>{100 * test['accuracy_mean']:.2f} ± {100 * test['accuracy_std']:.2f}%</td>" if test else ""
    )
    rows.append(
        f"<tr><th class='num'>mean ± std</th><td class='num'>{r['val_loss_mean']:.4f} ± {r['val_loss_std']:.4f}</td>"
        f"<td class='num'>{100 * r['val_accuracy_mean']:.2f} ± {100 * r['val_accuracy_std']:.2f}%</td>"
        f"<td></td><td></td>{mean_test}</tr>"
    )
    sections = [
        (
            "Folds",
            f"<div class='scroll'><table>{header}<tbody>{''.join(rows)}</tbody></table></div>"
            f"<p class='muted'>std is the {html.escape(r['std'])}.</p>",
        )
    ]
    summary = (
        f"<p><span class='big'>{100 * r['val_accuracy_mean']:.2f} ± {100 * r['val_accuracy_std']:.2f}%</span> "
        f"mean validation accuracy over {len(r['folds'])} folds.</p>"
    )
    if test:
        ens = test["ensemble"]
        summary += (
            f"<p>On the test set: {100 * test['accuracy_mean']:.2f} ± {100 * test['accuracy_std']:.2f}% "
            "per fold model, "
            f"<b>{100 * ens['accuracy']:.2f}%</b> for their averaged-probability ensemble.</p>"
        )
        figs += evaluation_figures(outcome.ensemble)
    sections.append(("Configuration", _details("recipe", _table(_flatten(outcome.recipe.to_dict(), "recipe.")))))
    return write_html_page(
        outcome.folder,
        f"digitrec {len(outcome.folds)}-fold cross-validation: {outcome.recipe.name}",
        summary,
        sections,
        figs,
    )
