"""`python -m digitrec.shipped RUN_READER RUN_CLASSIFIER`: copy two trained runs' best
checkpoints into the package as its default models, with their figures in MODELS.json."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from digitrec.artifacts.checkpoint import load_model, resolve_model_path
from digitrec.fileio import atomic_write_json
from digitrec.shipped import CARD, CLASSIFIER, READER


def card_of(run: Path, checkpoint: Path) -> dict:
    meta = load_model(checkpoint, "cpu").meta
    figures = {}
    for name in ("metrics.json", "evaluation-test.json", *sorted(p.name for p in run.glob("evaluation-fields-*.json"))):
        if (run / name).exists():
            data = json.loads((run / name).read_text())
            keep = ("accuracy", "character_error_rate", "size", "val_accuracy", "train_seconds", "epochs", "best_epoch", "name")
            figures[name] = {k: data[k] for k in keep if k in data}
    return {"recipe": meta.get("recipe"), "epoch": meta.get("epoch"), "parameters": meta.get("parameters"),
            "bytes": checkpoint.stat().st_size, "from_run": run.name, "figures": figures}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    reader_run, classifier_run = (Path(a) for a in argv)
    reader, classifier = resolve_model_path(reader_run), resolve_model_path(classifier_run)
    if load_model(reader, "cpu").meta.get("kind") != "reader":
        raise SystemExit(f"{reader_run} is not a number reader")
    if load_model(classifier, "cpu").meta.get("kind") == "reader":
        raise SystemExit(f"{classifier_run} is a number reader, not a digit classifier")
    shutil.copyfile(reader, READER)
    shutil.copyfile(classifier, CLASSIFIER)
    atomic_write_json(CARD, {"reader": card_of(reader_run, reader), "classifier": card_of(classifier_run, classifier)})
    print(f"shipped {READER.name} ({READER.stat().st_size:,} bytes) and {CLASSIFIER.name} ({CLASSIFIER.stat().st_size:,} bytes) in {READER.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
