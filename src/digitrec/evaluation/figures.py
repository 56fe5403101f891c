"""Figures, drawn with matplotlib's non-interactive Agg backend (no display needed), but
in a Jupyter kernel with the kernel's own, so that the figures show in a notebook
(examples/). A GUI backend chosen in MPLBACKEND is not honoured: train and report run on
servers with no display.

Each figure has a data function beside it where there is a choice to check (which
errors are the most confident, which predictions are wrong), so the tests can verify
what a figure shows, not only that it was drawn.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from digitrec.data.dataset import DigitDataset
from digitrec.fileio import atomic_write_bytes
from digitrec.training.runs import EpochStats

WRONG = "#c62828"  # red for wrong predictions
RIGHT = "#1b5e20"
TRAIN_STYLE = {"color": "#1f77b4", "marker": "o", "markersize": 3}
VAL_STYLE = {"color": "#ff7f0e", "marker": "s", "markersize": 3}


def _grid(count: int, max_cols: int, cell: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    cols = max(1, min(count, max_cols))
    rows = max(1, -(-count // cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(cell[0] * cols, cell[1] * rows + 0.6), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def _show_digit(ax: plt.Axes, image: torch.Tensor) -> None:
    # Dark ink on white reads as handwriting on paper; the model sees white on black.
    ax.imshow(image.cpu().numpy(), cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")


# --- training data -------------------------------------------------------------------


def sample_grid(data: DigitDataset, count: int = 36, seed: int = 0) -> Figure:
    """A grid of random images, each titled with its label."""
    count = max(1, min(count, len(data)))
    chosen = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    fig, axes = _grid(count, 6 if count <= 36 else 10, (1.4, 1.55))
    for ax, i in zip(axes.flat, chosen.tolist()):
        _show_digit(ax, data.images[i])
        ax.set_title(f"label {int(data.labels[i])}" if data.labels is not None else f"#{i}", fontsize=9)
    fig.suptitle(f"{count} random samples from {data.name}", fontsize=11)
    return fig


# --- learning curves -----------------------------------------------------------------


def _epoch_axes(ax: plt.Axes, title: str, ylabel: str, legend: bool = True, **kwargs: Any) -> None:
    """Per-epoch axes: whole-number epochs, a light grid, a small legend."""
    ax.set(title=title, xlabel="epoch", ylabel=ylabel, **kwargs)
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if legend:
        ax.legend(fontsize=8)


def learning_curves(history: Sequence[EpochStats], title: str = "Learning curves") -> Figure:
    """Loss and accuracy per epoch, training against validation; a learning-rate panel
    when the rate changed."""
    epochs = [h.epoch for h in history]
    has_val = any(h.val_accuracy is not None for h in history)
    lrs = [h.lr for h in history]
    show_lr = len(set(lrs)) > 1
    # No figure wider than 3:2: a phone shrinks it to its width, and a row of three panels
    # (or two) was then too small to read. Loss and accuracy side by side with the learning
    # rate below; without it, one above the other.
    if show_lr:
        fig, axes = plt.subplots(2, 2, figsize=(8.4, 6.8), layout="constrained")
        ax_loss, ax_acc = axes[0, 0], axes[0, 1]
    else:
        fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(5.6, 6.4), layout="constrained")
    ax_loss.plot(epochs, [h.train_loss for h in history], label="training", **TRAIN_STYLE)
    ax_acc.plot(epochs, [100 * h.train_accuracy for h in history], label="training", **TRAIN_STYLE)
    if has_val:
        ax_loss.plot(epochs, [h.val_loss for h in history], label="validation", **VAL_STYLE)
        ax_acc.plot(epochs, [100 * h.val_accuracy for h in history], label="validation", **VAL_STYLE)
    _epoch_axes(ax_loss, "Loss", "cross-entropy")
    _epoch_axes(ax_acc, "Accuracy", "accuracy (%)", ylim=(None, 100))
    if show_lr:
        axes[1, 1].remove()
        ax_lr = axes[1, 0]
        ax_lr.plot(epochs, lrs, color="#2ca02c", marker="o", markersize=3)
        _epoch_axes(ax_lr, "Learning rate (end of epoch)", "learning rate", legend=False, yscale="log")
    fig.suptitle(title, fontsize=11)
    return fig


def overlaid_learning_curves(
    histories: Sequence[Sequence[EpochStats]], title: str = "K-fold learning curves"
) -> Figure:
    """Every fold's validation (solid) and training (dashed) curves in one figure."""
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(6.4, 6.8), layout="constrained")  # at most 3:2, as above
    colors = plt.get_cmap("tab10")
    for k, history in enumerate(histories):
        epochs = [h.epoch for h in history]
        c = colors(k % 10)
        ax_loss.plot(epochs, [h.train_loss for h in history], color=c, linestyle="--", alpha=0.6)
        ax_acc.plot(epochs, [100 * h.train_accuracy for h in history], color=c, linestyle="--", alpha=0.6)
        ax_loss.plot(epochs, [h.val_loss for h in history], color=c, label=f"fold {k + 1}")
        ax_acc.plot(epochs, [100 * h.val_accuracy for h in history], color=c, label=f"fold {k + 1}")
    _epoch_axes(ax_loss, "Loss (solid: validation, dashed: training)", "cross-entropy")
    _epoch_axes(ax_acc, "Accuracy (solid: validation, dashed: training)", "accuracy (%)", ylim=(None, 100))
    fig.suptitle(title, fontsize=11)
    return fig


# --- evaluation ----------------------------------------------------------------------


def confusion_matrix_figure(
    confusion: torch.Tensor, normalize: bool = False, title: str = "Confusion matrix"
) -> Figure:
    """A heatmap with the count (or, normalised, the rate per true class) in each cell."""
    counts = confusion.double().numpy()
    values = counts / np.maximum(counts.sum(1, keepdims=True), 1) if normalize else counts
    fig, ax = plt.subplots(figsize=(6.4, 5.6), layout="constrained")
    # A log-like colour scale would hide the diagonal; a square root keeps errors visible.
    image = ax.imshow(np.sqrt(values / max(values.max(), 1e-12)), cmap="Blues", vmin=0, vmax=1)
    for t in range(10):
        for p in range(10):
            v = values[t, p]
            text = (f"{v:.2f}" if v >= 0.005 else ("0" if v == 0 else "<.01")) if normalize else f"{int(v)}"
            dark = image.norm(np.sqrt(v / max(values.max(), 1e-12))) > 0.6
            ax.text(
                p, t, text, ha="center", va="center", fontsize=7 if normalize else 8, color="white" if dark else "black"
            )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.set_title(
        f"{title} ({'rate per true class' if normalize else f'counts, {int(counts.sum()):,} images'})", fontsize=11
    )
    return fig


@dataclass(frozen=True)
class ConfidentError:
    index: int
    true: int
    predicted: int
    p_predicted: float
    p_true: float

    @property
    def margin(self) -> float:
        return self.p_predicted - self.p_true


def most_confident_errors(probabilities: torch.Tensor, labels: torch.Tensor, k: int = 16) -> list[ConfidentError]:
    """The wrong predictions whose predicted probability most exceeds the true class's."""
    predicted = probabilities.argmax(1)
    wrong = torch.nonzero(predicted != labels).flatten()
    if len(wrong) == 0:
        return []
    p_pred = probabilities[wrong, predicted[wrong]]
    p_true = probabilities[wrong, labels[wrong]]
    order = torch.argsort(p_pred - p_true, descending=True, stable=True)[:k]
    return [
        ConfidentError(
            int(wrong[i]), int(labels[wrong[i]]), int(predicted[wrong[i]]), float(p_pred[i]), float(p_true[i])
        )
        for i in order.tolist()
    ]


def confident_errors_figure(images: torch.Tensor, errors: Sequence[ConfidentError], title: str) -> Figure:
    fig, axes = _grid(max(1, len(errors)), 6, (1.75, 2.0))
    if not errors:
        axes.flat[0].text(0.5, 0.5, "no errors", ha="center", va="center", fontsize=12)
    for ax, e in zip(axes.flat, errors):
        _show_digit(ax, images[e.index])
        ax.set_title(
            f"pred {e.predicted} ({e.p_predicted:.2f})\ntrue {e.true} ({e.p_true:.2f})", fontsize=8, color=WRONG
        )
    fig.suptitle(title, fontsize=11)
    return fig


def prediction_sample(
    labels: torch.Tensor, predictions: torch.Tensor, count: int = 36, seed: int = 0
) -> tuple[list[int], list[bool]]:
    """Random indices to show, and whether each prediction is wrong."""
    count = min(count, len(labels))
    chosen = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:count].tolist()
    return chosen, [bool(predictions[i] != labels[i]) for i in chosen]


def prediction_grid(
    images: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor, count: int = 36, seed: int = 0
) -> Figure:
    """Random images titled with actual and predicted class, the wrong ones in red."""
    chosen, wrong = prediction_sample(labels, predictions, count, seed)
    fig, axes = _grid(len(chosen), 6, (1.5, 1.75))
    for ax, i, is_wrong in zip(axes.flat, chosen, wrong):
        _show_digit(ax, images[i])
        ax.set_title(
            f"true {int(labels[i])} / pred {int(predictions[i])}", fontsize=8, color=WRONG if is_wrong else RIGHT
        )
    n_wrong = sum(wrong)
    fig.suptitle(f"{len(chosen)} random predictions, {n_wrong} wrong (in red)", fontsize=11)
    return fig


def per_class_accuracy_figure(confusion: torch.Tensor, title: str = "Accuracy per class") -> Figure:
    support = confusion.sum(1).double()
    accuracy = (confusion.diag().double() / support.clamp(min=1) * 100).numpy()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    bars = ax.bar(range(10), accuracy, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{a:.1f}" for a in accuracy], fontsize=7, padding=2)
    low = max(0.0, float(np.floor(accuracy.min() - 1)))
    ax.set_ylim(low, 100.5 if low > 0 else 105)
    ax.set_xticks(range(10))
    ax.set(xlabel="class", ylabel="accuracy (%)")
    ax.set_title(f"{title} (recall; y axis from {low:g}%)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    return fig


def comparison_figure(rows: Sequence[dict]) -> Figure:
    """Bars of accuracy, loss, parameters and training time, one bar per run."""
    names = [r["name"] for r in rows]
    metrics = [  # key, axis label, value, how a bar is labelled
        ("accuracy", "accuracy (%)", lambda r: None if r["accuracy"] is None else 100 * r["accuracy"], "{:.2f}"),
        ("loss", "loss", lambda r: r["loss"], "{:.4f}"),
        ("parameters", "parameters", lambda r: r["parameters"], "{:,.0f}"),
        ("train_seconds", "training time (s)", lambda r: r["train_seconds"], "{:.1f}"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 1.6 + 0.45 * len(rows) * 2), layout="constrained")
    for ax, (key, label, get, fmt) in zip(axes.flat, metrics):
        values = [get(r) for r in rows]
        shown = [0 if v is None else v for v in values]
        bars = ax.barh(range(len(rows)), shown, color="#4c72b0")
        ax.bar_label(bars, labels=["n/a" if v is None else fmt.format(v) for v in values], fontsize=7, padding=2)
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_title(label.capitalize(), fontsize=10)
        if key == "accuracy" and any(v is not None for v in values):
            low = min(v for v in values if v is not None)
            ax.set_xlim(max(0, low - 1), 100.6)
        else:
            ax.set_xlim(0, max(shown) * 1.25 if max(shown) > 0 else 1)
    fig.suptitle("Runs compared (accuracy and loss on the test set)", fontsize=11)
    return fig


def worst_fields_figure(results: Sequence, title: str = "Worst-read fields") -> Figure:
    """Field images with their true and read numbers (`evaluation.numbers.FieldResult`),
    in the order given: the most confidently wrong first."""
    from PIL import Image

    fig, axes = _grid(max(1, len(results)), 4, (2.6, 1.1))
    for ax, r in zip(axes.flat, results):
        try:
            with Image.open(r.file) as im:
                ax.imshow(np.asarray(im.convert("L")), cmap="gray", vmin=0, vmax=255)
        except OSError:
            pass  # a file that cannot be shown still gets its caption
        ax.set_title(f"{r.label} read {r.text or '∅'} ({r.confidence:.2f})", fontsize=8, color=WRONG)
    fig.suptitle(title)
    return fig


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    return atomic_write_bytes(path, figure_png(fig, dpi))
