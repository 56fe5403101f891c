"""`python -m digitrec.shipped RUN_READER [RUN_CLASSIFIER] [--reader-file FILE] \
[--finder FILE [--finder-enlarge X]] [--threads N]`:
copy trained runs' best checkpoints into the package as its default models, with their
figures and the compute behind them in MODELS.json. `--finder` ships a number finder
beside the reader (the shipped reader then finds numbers with it: a field's, a page's).

`--reader-file` ships another checkpoint of the reader's run (the reader with its box
head, `training.boxes`). The compute is every stage's: the run, the runs it was
continued from with --init (followed through their run folders), the box head; core-
hours are seconds of training times the threads that trained (metrics.json says; else
--threads)."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from digitrec.artifacts.checkpoint import load_model, resolve_model_path, save_model_checkpoint
from digitrec.fileio import atomic_write_json
from digitrec.layout.finder import finder_enlarge, training_core_seconds
from digitrec.models.registry import count_parameters
from digitrec.shipped import CARD, CLASSIFIER, FINDER, READER


def compute_of(run: Path, meta: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """The training behind a model: each stage (this run and those it was continued from
    with --init, oldest first, and a box head), its seconds and core-hours, and the total."""
    stages = []
    seen: set[Path] = set()
    while (
        run.is_dir()
        and run.resolve() not in seen
        and ((run / "metrics.json").exists() or (run / "history.csv").exists())
    ):
        seen.add(run.resolve())
        stages.append(_costed(_stage_of(run, threads, stages[-1]["threads"] if stages else None)))
        init = json.loads((run / "config.json").read_text()).get("options", {}).get("init")
        if not init:
            break
        run = Path(init) if Path(init).is_dir() else Path(init).parent  # a run folder, or a checkpoint in one
    stages.reverse()
    if "box_head" in meta:
        seconds = float(meta["box_head"]["seconds"])
        cores = threads or stages[-1]["threads"]
        stages.append(
            _costed({"run": "box head", "device": "cpu", "threads": cores, "train_seconds": round(seconds, 1)})
        )
    return _totals(stages)


def _costed(stage: dict[str, Any]) -> dict[str, Any]:
    """A stage with its cost: GPU-minutes on a GPU (its threads only fed it), else
    core-hours, the seconds times the threads that trained."""
    if stage["device"].startswith("cuda"):
        return {**stage, "gpu_minutes": round(stage["train_seconds"] / 60, 2)}
    return {**stage, "core_hours": round(stage["train_seconds"] * stage["threads"] / 3600, 3)}


def _totals(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The stages and what they cost together: core-hours, and GPU-minutes where a GPU trained."""
    totals = {"core_hours": round(sum(s.get("core_hours", 0.0) for s in stages), 3)}
    if any("gpu_minutes" in s for s in stages):
        totals["gpu_minutes"] = round(sum(s.get("gpu_minutes", 0.0) for s in stages), 2)
    return {"stages": stages, **totals}


def _stage_of(run: Path, threads: int | None, continued_on: int | None) -> dict[str, Any]:
    """A run's training seconds, device and threads: from its metrics.json, or, for a run
    stopped before it finished (its best checkpoint continued with --init), the seconds of
    the epochs its history.csv records, on --threads or else the threads of the run that
    continued it."""
    if (run / "metrics.json").exists():
        metrics = json.loads((run / "metrics.json").read_text())
        seconds, device, cores = (
            float(metrics["train_seconds"]),
            metrics.get("device", "cpu"),
            metrics.get("threads", threads),
        )
        stage = {"run": run.name}
    else:
        with open(run / "history.csv", newline="") as f:
            seconds = sum(float(row["seconds"]) for row in csv.DictReader(f))
        device, cores = "cpu", threads if threads is not None else continued_on
        stage = {"run": run.name, "stopped": True}
    if cores is None:
        raise SystemExit(f"{run} does not say how many threads trained it: pass --threads")
    return {**stage, "device": device, "threads": cores, "train_seconds": round(seconds, 1)}


def card_of(run: Path, checkpoint: Path, threads: int | None = None) -> dict:
    meta = load_model(checkpoint, "cpu").meta
    figures = {}
    for name in ("metrics.json", "evaluation-test.json", *sorted(p.name for p in run.glob("evaluation-fields-*.json"))):
        if (run / name).exists():
            data = json.loads((run / name).read_text())
            keep = (
                "accuracy",
                "character_error_rate",
                "size",
                "val_accuracy",
                "train_seconds",
                "epochs",
                "best_epoch",
                "name",
            )
            figures[name] = {k: data[k] for k in keep if k in data}
    return {
        "recipe": meta.get("recipe"),
        "epoch": meta.get("epoch"),
        "parameters": meta.get("parameters"),
        "bytes": checkpoint.stat().st_size,
        "from_run": run.name,
        "compute": compute_of(run, meta, threads),
        "figures": figures,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reader_run", type=Path)
    parser.add_argument(
        "classifier_run", type=Path, nargs="?", help="omitted: the shipped classifier stays, with its card"
    )
    parser.add_argument("--reader-file", type=Path, help="the reader checkpoint to ship (default: the run's best)")
    parser.add_argument(
        "--finder", type=Path, help="a number finder to ship beside the reader (python -m digitrec.training.finder)"
    )
    parser.add_argument(
        "--finder-enlarge",
        type=float,
        help="how far the shipped finder enlarges a small picture, chosen on "
        "validation (default: as it was trained; it learned real fields jittered 0.75-1.33 times that scale)",
    )
    parser.add_argument("--threads", type=int, help="threads that trained a run whose metrics.json does not say")
    args = parser.parse_args(argv)
    reader = args.reader_file or resolve_model_path(args.reader_run)
    reader_meta = load_model(reader, "cpu").meta
    if reader_meta.get("kind") != "reader":
        raise SystemExit(f"{args.reader_run} is not a number reader")
    if args.finder is None and reader_meta.get("input", {}).get("cut") == "finder":
        raise SystemExit(
            f"{args.reader_run} learned from strips cut by a number finder: ship that finder with it (--finder FILE)"
        )
    card = {"reader": card_of(args.reader_run, reader, args.threads)}
    # Every check and card first, the files after: a refusal leaves the shipped set as it was.
    if args.finder_enlarge is not None and (args.finder is None or args.finder_enlarge < 1):
        raise SystemExit(
            "--finder-enlarge sets how far a shipped --finder enlarges small pictures: at least 1, with --finder"
        )
    if args.finder is not None:
        card["finder"] = finder_card(args.finder, args.finder_enlarge)
    classifier = None
    if args.classifier_run is not None:
        classifier = resolve_model_path(args.classifier_run)
        if load_model(classifier, "cpu").meta.get("kind") == "reader":
            raise SystemExit(f"{args.classifier_run} is a number reader, not a digit classifier")
        card["classifier"] = card_of(args.classifier_run, classifier, args.threads)
    else:
        card["classifier"] = kept_card(json.loads(CARD.read_text())["classifier"], args.threads)
    if classifier is not None:
        shutil.copyfile(classifier, CLASSIFIER)
    if args.finder is not None:
        ship_finder(args.finder, args.finder_enlarge)
    else:
        FINDER.unlink(missing_ok=True)  # a finder stays only beside the reader it was shipped with
    shutil.copyfile(reader, READER)
    atomic_write_json(CARD, card)
    finder = f" and {FINDER.name} ({FINDER.stat().st_size:,} bytes)" if args.finder is not None else ""
    print(
        f"shipped {READER.name} ({READER.stat().st_size:,} bytes), "
        f"{CLASSIFIER.name} ({CLASSIFIER.stat().st_size:,} bytes){finder} in {READER.parent}"
    )
    return 0


def ship_finder(path: Path, enlarge: float | None) -> None:
    """Copy a number finder in; with `enlarge`, as reading small pictures enlarged at most that much."""
    if enlarge is None:
        shutil.copyfile(path, FINDER)
        return
    loaded = load_model(path, "cpu")
    meta = {**loaded.meta, "input": {**loaded.meta["input"], "enlarge": enlarge}}
    save_model_checkpoint(FINDER, loaded.model, meta)


def finder_card(path: Path, enlarge: float | None = None) -> dict[str, Any]:
    """A number finder's card: its size, how far it enlarges small pictures and the
    training behind it (its own metadata)."""
    loaded = load_model(path, "cpu")
    meta = loaded.meta
    if meta.get("kind") != "finder":
        raise SystemExit(f"{path} is not a number finder")
    training = meta["training"]
    core_hours = round(training_core_seconds(training) / 3600, 3)
    stage = {
        "run": path.name,
        "device": "cpu",
        "threads": training["threads"],
        "train_seconds": round(float(training["seconds"]), 1),
        "core_hours": core_hours,
    }
    return {
        "kind": "finder",
        "parameters": count_parameters(loaded.model),
        "bytes": path.stat().st_size,
        "steps": training["steps"],
        "enlarge": enlarge if enlarge is not None else finder_enlarge(meta),
        "final_loss": training["final_loss"],
        "compute": {"stages": [stage], "core_hours": core_hours},
    }


def kept_card(card: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """The shipped classifier's card, kept; with its compute worked out from its recorded
    training seconds where an older card has none."""
    if "compute" in card:
        return card
    if threads is None:
        raise SystemExit("the shipped classifier's card records no compute: pass --threads (those that trained it)")
    seconds = float(card["figures"]["metrics.json"]["train_seconds"])
    return {
        **card,
        "compute": _totals(
            [
                _costed(
                    {"run": card["from_run"], "device": "cpu", "threads": threads, "train_seconds": round(seconds, 1)}
                )
            ]
        ),
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
