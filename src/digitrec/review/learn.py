"""The reader learns from a review: fine-tune it on the corrections so far, in the
background, then read the rows still waiting again with the new model.

One round, from the page's "Teach the reader your corrections" or `digitrec review RESULTS --learn`:

    RESULTS.learn/corrections-N/labels.csv   the decisions so far (`export_corrections`)
    RESULTS.learn/reader-N/                  `digitrec train --recipe reader-tune
                                             --dataset corrections-N --init MODEL`, a run
                                             folder of its own, with calibration.json
    RESULTS.learn/reader-N.log               what those commands printed
    RESULTS.readings.jsonl                   the rows read again, with the new model's name

Training and calibrating run as `digitrec` child processes (which end with this one), so
that the review server stays responsive and review never imports training code. Each
round starts from the model that wrote the results file and learns from every correction
so far: a round never builds on another round's mistakes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from digitrec.batch.rows import ReaderSpec, model_named
from digitrec.review.calibration import CALIBRATION_FILE, load_calibration
from digitrec.review.export import export_corrections
from digitrec.review.journal import ReviewError
from digitrec.review.session import ReviewSession

# --- tuning --------------------------------------------------------------------------
RECIPE = "reader-tune"  # what a round trains (see `digitrec recipes reader-tune`)
MIN_CORRECTIONS = 20  # fewer teach the reader nothing it can show on its validation part
READ_CHUNK = 32  # rows read again between two durable writes (and progress updates)
POLL_SECONDS = 0.5  # how often the training's progress (its history.csv) is looked at
STOP_SECONDS = 30.0  # a closing server waits this long for a round to stop (a chunk reads in ~1 s)
LEARN_SUFFIX = ".learn"

IDLE, TRAINING, CALIBRATING, READING, DONE, FAILED = "idle", "training", "calibrating", "reading", "done", "failed"


class LearnBusy(ReviewError):
    """A round is running already."""


@dataclass
class LearnProgress:
    stage: str = IDLE
    done: int = 0  # of `total`: epochs while training, rows while reading
    total: int = 0
    round: int = 0
    corrections: int = 0  # the corrections the round learns from
    model: str | None = None  # the new model's run folder
    moved: int | None = None  # rows the new reading moved from to-review to accepted
    message: str = ""

    @property
    def running(self) -> bool:
        return self.stage in (TRAINING, CALIBRATING, READING)

    def to_dict(self) -> dict:
        return asdict(self)


class Learner:
    """Learning rounds of one review, one at a time."""

    def __init__(
        self,
        session: ReviewSession,
        data_dir: str | os.PathLike | None = None,
        device: str = "cpu",
        train_args: tuple[str, ...] = (),  # more `digitrec train` options (--epochs, --batch-size ...)
        calibrate_on: tuple[str, ...] = (),  # labelled folders to calibrate on beside the corrections
    ):
        self.session, self.data_dir, self.device = session, data_dir, device
        self.train_args, self.calibrate_on = tuple(train_args), tuple(calibrate_on)
        self.folder = session.results.with_name(session.results.name + LEARN_SUFFIX)
        self._progress = LearnProgress()
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    def progress(self) -> LearnProgress:
        with self._lock:
            return LearnProgress(**asdict(self._progress))

    def _set(self, **changes) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._progress, k, v)

    def start(self) -> LearnProgress:
        """Start a round in a background thread; refused while one runs."""
        self._check_enough()
        with self._lock:
            if self._progress.running:
                raise LearnBusy("the reader is already learning; wait for this round to end")
            self._progress = LearnProgress(stage=TRAINING, message="starting")
        self._thread = threading.Thread(target=self._run_quietly, name="digitrec-learn", daemon=True)
        self._thread.start()
        return self.progress()

    def _run_quietly(self) -> None:
        try:
            self.run()
        except Exception as e:  # the page shows why; the review goes on
            self._set(stage=FAILED, message=str(e))

    def run(self, on_progress: Callable[[LearnProgress], None] | None = None) -> LearnProgress:
        """One round, here and now: corrections, training, calibration, reading again."""
        notify = on_progress or (lambda p: None)
        init = self._model_to_tune()
        self._check_enough()
        self._set(stage=TRAINING, message="writing the corrections")
        number = self._next_round()
        corrections = self.folder / f"corrections-{number}"
        parts = export_corrections(self.session.queue, corrections)
        count = sum(parts.values())
        if not parts["validation"] or not parts["train"]:
            raise ReviewError(
                f"the {count} corrections so far come from one page: the reader learns from two or more "
                "(one page in five chooses its epoch); review some more first"
            )
        run = (self.folder / f"reader-{number}").resolve()
        log = self.folder / f"reader-{number}.log"
        self._set(round=number, corrections=count, model=str(run), message=f"training on {count} corrections")
        train = ["train", "--recipe", RECIPE, "--dataset", str(corrections.resolve()), "--init", init]
        train += ["--out", str(run), "--no-report", "--quiet", "--device", self.device, *self.train_args]
        self._child_run(train, log, lambda: self._watch_training(run, notify))
        self._set(stage=CALIBRATING, done=0, total=0, message="measuring the new reader's confidence")
        notify(self.progress())
        calibrate = ["calibrate", "--model", str(run), "--dataset", f"{corrections.resolve()}:validation"]
        for spec in self._calibration_sets():
            calibrate += ["--dataset", spec]
        self._child_run([*calibrate, "--device", self.device], log, lambda: None)
        self.session.adopt(str(run), load_calibration(run / CALIBRATION_FILE))
        moved = self._read_again(str(run), notify)
        waited = self._progress.total
        said = f"learned from {count:,} corrections; read the {waited:,} waiting rows again: {moved:,} now accepted"
        self._set(stage=DONE, moved=moved, message=said)
        notify(self.progress())
        return self.progress()

    def _check_enough(self) -> None:
        corrections = self.session.queue.corrections()
        if corrections < MIN_CORRECTIONS:
            raise ReviewError(
                f"{corrections} corrections so far; the reader learns from {MIN_CORRECTIONS} or more: review some more"
            )

    def _calibration_sets(self) -> tuple[str, ...]:
        """Beside the corrections' validation pages (about a hundred fields for 500
        corrections: too few to show a bar of 99%), the labelled folders asked for, or else
        those the file's model was calibrated on, where this machine has them. None with a
        bar set by hand: the new reader's rows are judged by that bar, not by its table."""
        from digitrec.data.folders import split_spec

        if self.calibrate_on or self.session.calibration is None or self.session.precision is None:
            return self.calibrate_on
        root = self.data_dir or os.environ.get("DIGITREC_DATA")
        found = []
        for spec in self.session.calibration.name.split(" + "):
            folder, _ = split_spec(spec)
            if folder.is_dir() or (root is not None and (Path(root) / folder).is_dir()):
                found.append(spec)
        return tuple(found)

    def _model_to_tune(self) -> str:
        models = self.session.queue.file_models
        if len(models) != 1:
            raise ReviewError(f"the results file was read by {len(models)} models; learning needs it read by one")
        if model_named(models[0]) is None:
            from digitrec.shipped import READER, shipped

            return str(shipped(READER))
        return models[0]

    def _next_round(self) -> int:
        self.folder.mkdir(exist_ok=True)
        taken = [int(p.name.split("-")[-1]) for p in self.folder.glob("reader-*") if p.name.split("-")[-1].isdigit()]
        return max(taken, default=0) + 1

    def _child_run(self, args: list[str], log: Path, watch: Callable[[], None]) -> None:
        """`digitrec ARGS`, its output appended to `log`; `watch` is called while it runs.
        It ends with this process (DIGITREC_PARENT) and with stop()."""
        env = {**os.environ, "DIGITREC_PARENT": str(os.getpid())}
        if self.data_dir is not None:
            env["DIGITREC_DATA"] = str(self.data_dir)
        with open(log, "ab") as out:
            out.write(f"$ digitrec {' '.join(args)}\n".encode())
            out.flush()
            with self._lock:
                if self._stopping:
                    raise ReviewError("the review is closing")
                self._child = subprocess.Popen(
                    [sys.executable, "-m", "digitrec", *args], stdout=out, stderr=subprocess.STDOUT, env=env
                )
            try:
                while self._child.poll() is None:
                    watch()
                    time.sleep(POLL_SECONDS)
            finally:
                if self._child.poll() is None:
                    self._child.terminate()
                    self._child.wait()
        if self._child.returncode != 0:
            raise ReviewError(f"`digitrec {args[0]}` failed: {_last_line(log)} (all of it in {log})")

    def _watch_training(self, run: Path, notify: Callable[[LearnProgress], None]) -> None:
        try:
            epochs = json.loads((run / "config.json").read_text())["recipe"]["epochs"]
            done = max(0, len((run / "history.csv").read_text().splitlines()) - 1)
        except (OSError, ValueError, KeyError):
            return  # not written yet
        if (done, epochs) != (self._progress.done, self._progress.total):
            self._set(done=done, total=epochs, message=f"training: epoch {done} of {epochs}")
            notify(self.progress())

    def _read_again(self, model: str, notify: Callable[[LearnProgress], None]) -> int:
        """Read the rows still waiting with `model`, a chunk at a time, each chunk kept at
        once; returns how many of them the new reading accepted."""
        spec = ReaderSpec(model=model, device=self.device)
        self.session.use_reader(model, spec.load())
        waiting = self.session.queue.to_review()
        self._set(stage=READING, done=0, total=len(waiting), message=f"reading {len(waiting):,} rows again")
        notify(self.progress())
        for start in range(0, len(waiting), READ_CHUNK):
            if self._stopping:  # what was read is kept; the rest keep their old reading
                raise ReviewError("the review is closing")
            chunk = waiting[start : start + READ_CHUNK]
            rows = [row for r in chunk if (row := self.session.read_again(r.path, spec)) is not None]
            self.session.record_readings(rows)
            self._set(done=start + len(chunk))
            notify(self.progress())
        queue = self.session.queue
        return sum(queue.sure(queue.rows[queue.position[r.path]]) for r in waiting)

    def stop(self) -> None:
        """End a running round (the server is closing): its child process at once, its
        reading after the chunk in hand, before the session's files are closed."""
        with self._lock:
            self._stopping = True
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
        if self._thread is not None:
            self._thread.join(timeout=STOP_SECONDS)


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
