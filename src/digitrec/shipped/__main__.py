"""`python -m digitrec.shipped RUN_READER RUN_CLASSIFIER [--reader-file FILE] [--threads N]`:
copy two trained runs' best checkpoints into the package as its default models, with
their figures and the compute behind them in MODELS.json.

`--reader-file` ships another checkpoint of the reader's run (the reader with its box
head, `training.boxes`). The compute is every stage's: the run, the runs it was
continued from with --init (followed through their run folders), the box head; core-
hours are seconds of training times the threads that trained (metrics.json says; else
--threads)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from digitrec.artifacts.checkpoint import load_model, resolve_model_path
from digitrec.fileio import atomic_write_json
from digitrec.shipped import CARD, CLASSIFIER, READER


def compute_of(run: Path, meta: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """The training behind a model: each stage (this run and those it was continued from
    with --init, oldest first, and a box head), its seconds and core-hours, and the total."""
    stages = []
    seen: set[Path] = set()
    while run.is_dir() and run.resolve() not in seen and (run / "metrics.json").exists():
        seen.add(run.resolve())
        metrics = json.loads((run / "metrics.json").read_text())
        cores = metrics.get("threads", threads)
        if cores is None:
            raise SystemExit(f"{run}/metrics.json does not say how many threads trained it: pass --threads")
        seconds = float(metrics["train_seconds"])
        stages.append({"run": run.name, "device": metrics.get("device", "cpu"), "threads": cores, "train_seconds": round(seconds, 1),
                       "core_hours": round(seconds * cores / 3600, 3)})
        init = json.loads((run / "config.json").read_text()).get("options", {}).get("init")
        run = Path(init) if init else Path("/nonexistent")
        run = run if run.is_dir() else run.parent
    stages.reverse()
    if "box_head" in meta:
        seconds = float(meta["box_head"]["seconds"])
        cores = threads or stages[-1]["threads"]
        stages.append({"run": "box head", "device": "cpu", "threads": cores, "train_seconds": round(seconds, 1), "core_hours": round(seconds * cores / 3600, 3)})
    return {"stages": stages, "core_hours": round(sum(s["core_hours"] for s in stages), 3)}


def card_of(run: Path, checkpoint: Path, threads: int | None = None) -> dict:
    meta = load_model(checkpoint, "cpu").meta
    figures = {}
    for name in ("metrics.json", "evaluation-test.json", *sorted(p.name for p in run.glob("evaluation-fields-*.json"))):
        if (run / name).exists():
            data = json.loads((run / name).read_text())
            keep = ("accuracy", "character_error_rate", "size", "val_accuracy", "train_seconds", "epochs", "best_epoch", "name")
            figures[name] = {k: data[k] for k in keep if k in data}
    return {"recipe": meta.get("recipe"), "epoch": meta.get("epoch"), "parameters": meta.get("parameters"),
            "bytes": checkpoint.stat().st_size, "from_run": run.name, "compute": compute_of(run, meta, threads), "figures": figures}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reader_run", type=Path)
    parser.add_argument("classifier_run", type=Path)
    parser.add_argument("--reader-file", type=Path, help="the reader checkpoint to ship (default: the run's best)")
    parser.add_argument("--threads", type=int, help="threads that trained a run whose metrics.json does not say")
    args = parser.parse_args(argv)
    reader_run, classifier_run = args.reader_run, args.classifier_run
    reader, classifier = args.reader_file or resolve_model_path(reader_run), resolve_model_path(classifier_run)
    if load_model(reader, "cpu").meta.get("kind") != "reader":
        raise SystemExit(f"{reader_run} is not a number reader")
    if load_model(classifier, "cpu").meta.get("kind") == "reader":
        raise SystemExit(f"{classifier_run} is a number reader, not a digit classifier")
    shutil.copyfile(reader, READER)
    shutil.copyfile(classifier, CLASSIFIER)
    card = {"reader": card_of(reader_run, reader, args.threads), "classifier": card_of(classifier_run, classifier, args.threads)}
    atomic_write_json(CARD, card)
    print(f"shipped {READER.name} ({READER.stat().st_size:,} bytes) and {CLASSIFIER.name} ({CLASSIFIER.stat().st_size:,} bytes) in {READER.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
