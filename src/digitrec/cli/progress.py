"""Keras-like training progress, but better: a live bar per epoch, then one line per epoch."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from digitrec.cli.common import percent
from digitrec.training.engine import TrainReporter
from digitrec.training.runs import EpochStats


class ConsoleReporter(TrainReporter):
    def __init__(self, console: Console):
        self.console = console
        self.progress: Progress | None = None
        self.task = None

    def epoch_started(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.console.is_terminal:
            return  # a log file gets the epoch lines only, not a redrawn bar
        self.progress = Progress(
            TextColumn(f"Epoch {epoch}/{epochs}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,  # the bar gives way to the epoch's summary line
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, loss=float("nan"), acc="-")

    def batch_done(self, step: int, loss: float, accuracy: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, loss=loss, acc=percent(accuracy))

    def epoch_done(self, stats: EpochStats, epochs: int, improved: bool) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        val = (
            f"  val loss {stats.val_loss:.4f} acc {percent(stats.val_accuracy)}"
            if stats.val_accuracy is not None
            else ""
        )
        mark = "  [green]* best[/]" if improved and stats.val_accuracy is not None else ""
        self.console.print(
            f"Epoch {stats.epoch:>{len(str(epochs))}}/{epochs}  train loss {stats.train_loss:.4f} "
            f"acc {percent(stats.train_accuracy)}{val}  lr {stats.lr:.2e}  {stats.seconds:.1f}s{mark}"
        )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
