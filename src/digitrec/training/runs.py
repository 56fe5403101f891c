"""Run folders: what a training run leaves behind, and the rules that protect it.

runs/<recipe>-<time>/
  config.json              the resolved recipe and run options
  history.csv              one row per finished epoch
  train_state.safetensors  everything --resume needs (the commit point of an epoch)
  last.safetensors         the model after the last finished epoch
  best.safetensors         the model of the best epoch by validation accuracy
  metrics.json             final figures; its presence marks the run finished
  .lock                    held by the process training the run (see `hold`)
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from digitrec.artifacts.checkpoint import BEST_CHECKPOINT, LAST_CHECKPOINT
from digitrec.errors import RunError
from digitrec.fileio import LockHeld, atomic_write_text, take_lock


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float  # training time of the epoch, evaluation excluded


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = None

    config = property(lambda self: self.path / "config.json")
    history = property(lambda self: self.path / "history.csv")
    train_state = property(lambda self: self.path / "train_state.safetensors")
    last = property(lambda self: self.path / LAST_CHECKPOINT)
    best = property(lambda self: self.path / BEST_CHECKPOINT)
    metrics = property(lambda self: self.path / "metrics.json")

    @property
    def finished(self) -> bool:
        return self.metrics.exists()

    def hold(self) -> RunFolder:
        """Take the folder's lock until `release` (or this process's end): two processes
        training one run would interleave its checkpoints."""
        if self._lock is None:
            self._lock = hold_folder(self.path, "run")
        return self

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @staticmethod
    def default_path(recipe_name: str, root: str | Path = "runs") -> Path:
        return Path(root) / f"{recipe_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"

    @classmethod
    def create(cls, path: str | Path) -> RunFolder:
        """A new run folder; refuses any folder that already holds something."""
        run = cls(path)
        if run.path.exists():
            if not run.path.is_dir():
                raise RunError(f"{run.path} exists and is not a folder; choose another --out")
            if run.finished:
                raise RunError(f"{run.path} holds a finished run, which is never overwritten; choose another --out")
            if run.config.exists():
                raise RunError(
                    f"{run.path} holds an unfinished run; continue it with `digitrec train --resume {run.path}` "
                    "or choose another --out"
                )
            if any(run.path.iterdir()):
                raise RunError(f"{run.path} exists and is not empty; choose another --out")
        run.path.mkdir(parents=True, exist_ok=True)
        return run

    @classmethod
    def open_unfinished(cls, path: str | Path) -> RunFolder:
        run = cls(path)
        if not run.path.is_dir():
            raise RunError(f"cannot resume {run.path}: no such run folder")
        if not run.config.exists():
            raise RunError(f"cannot resume {run.path}: it has no config.json, so it is not a digitrec run folder")
        if run.finished:
            raise RunError(f"{run.path} is already finished; there is nothing to resume")
        run.hold()  # before its temporary files go: they may be another process's writes
        run.remove_interrupted_writes()
        return run

    def remove_interrupted_writes(self) -> None:
        """Delete temporary files of atomic writes cut short by a crash: they are never
        referenced, since a write only counts once renamed into place."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def write_history(self, rows: list[EpochStats]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        names = [f.name for f in fields(EpochStats)]
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if v is None else v for v in asdict(row).values()])
        atomic_write_text(self.history, buffer.getvalue())

    def read_history(self) -> list[EpochStats]:
        if not self.history.exists():
            return []
        with open(self.history, newline="") as f:
            rows = []
            for rec in csv.DictReader(f):
                values = {k: (None if v == "" else float(v)) for k, v in rec.items()}
                values["epoch"] = int(values["epoch"])  # type: ignore[arg-type]
                rows.append(EpochStats(**values))  # type: ignore[arg-type]
            return rows


def hold_folder(folder: Path, what: str):
    """The lock of a run or K-fold folder, or a RunError naming the process that holds it."""
    try:
        return take_lock(folder / ".lock")
    except LockHeld as e:
        raise RunError(
            f"{folder} is being trained by another process (pid {e.holder}); "
            "wait for it to finish or stop it, then --resume"
        ) from None
