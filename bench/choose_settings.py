"""Choose a recipe's settings on its validation split, never on the test set.

    python bench/choose_settings.py --recipe fast --vary epochs=2,3,4,5,6 [--seeds 3]
        [--val-split 0.0833] [--device auto] [--json out.json]
    python bench/choose_settings.py --recipe quick --vary batch_size=128,256 --vary lr=0.005,0.01
    python bench/choose_settings.py --recipe fast --vary model.whiten=false,true --vary augment.rotation=5,8

Trains the recipe once per combination of the --vary values and seed, each on the
training part of a 55,000/5,000 split of MNIST's training set (--val-split; a recipe
that trains on all 60,000 is split for this), and prints the last epoch's validation
accuracy (mean ± std over the seeds, and the errors out of the validation images) with
the training seconds. The test set is never loaded. The rule that picks from the table
is the recipe's to state (see `training/recipes.py`), before the table is made.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
import tempfile
from pathlib import Path

from digitrec.device import describe_machine
from digitrec.training import RunOptions, get_recipe, train_recipe
from digitrec.training.config import Recipe

DEFAULT_VAL_SPLIT = 1 / 12  # 5,000 of MNIST's 60,000 training images, as `fast` holds out


def parse_value(text: str) -> bool | int | float:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if text.lstrip("-").isdigit() else float(text)


def parse_vary(values: list[str]) -> dict[str, list]:
    """ "epochs=2,3,4" -> {"epochs": [2, 3, 4]}; numbers become int or float, true/false bools."""
    grid = {}
    for item in values:
        name, _, options = item.partition("=")
        if not options:
            raise SystemExit(f"--vary {item!r}: expected NAME=V1,V2,...")
        grid[name] = [parse_value(v) for v in options.split(",")]
    return grid


def with_settings(recipe: Recipe, changes: dict) -> Recipe:
    """`recipe` with `changes` made: `model.X` is an option of its model, `augment.X` a
    field of its augmentation, anything else a recipe field (or lr)."""
    model = {k.removeprefix("model."): v for k, v in changes.items() if k.startswith("model.")}
    augment = {k.removeprefix("augment."): v for k, v in changes.items() if k.startswith("augment.")}
    plain = {k: v for k, v in changes.items() if not k.startswith(("model.", "augment."))}
    recipe = recipe.with_overrides(**plain)
    if model:
        recipe = dataclasses.replace(
            recipe, model=dataclasses.replace(recipe.model, options={**recipe.model.options, **model})
        )
    if augment:
        recipe = dataclasses.replace(recipe, augment=dataclasses.replace(recipe.augment, **augment))
    return recipe


def validation_run(recipe, options: RunOptions, data_dir: str | None, folder: Path) -> dict:
    """The last epoch's validation accuracy (a fixed schedule's result, not a chosen epoch)."""
    outcome = train_recipe(recipe, options, folder, data_dir)
    last = outcome.fit.history[-1]
    return {
        "seed": options.seed,
        "val_accuracy": last.val_accuracy,
        "val_size": outcome.metrics["val_size"],
        "train_seconds": outcome.metrics["train_seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", required=True)
    parser.add_argument(
        "--vary", action="append", default=[], help="NAME=V1,V2,... (a recipe field, or lr); repeatable"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--val-split",
        type=float,
        default=None,
        help=f"default: the recipe's own, or {DEFAULT_VAL_SPLIT:.4f} if it has none",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="split a subset of this many images: to try the script, not to choose"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    base = get_recipe(args.recipe)
    val_split = args.val_split if args.val_split is not None else (base.val_split or DEFAULT_VAL_SPLIT)
    grid = parse_vary(args.vary)
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitrec-choose-") as scratch:
        for values in itertools.product(*grid.values()) if grid else [()]:
            changes = dict(zip(grid, values))
            recipe = with_settings(base, {"val_split": val_split, **changes})
            runs = []
            for seed in range(args.seeds):
                folder = Path(scratch) / f"{len(rows)}-{seed}"
                options = RunOptions(seed=seed, device=args.device, limit=args.limit)
                runs.append(validation_run(recipe, options, args.data_dir, folder))
                print(
                    f"  {changes or 'as is'} seed {seed}: {100 * runs[-1]['val_accuracy']:.2f}% validation, "
                    f"{runs[-1]['train_seconds']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            accuracies = [r["val_accuracy"] for r in runs]
            rows.append(
                {
                    "settings": changes,
                    "runs": runs,
                    "val_accuracy_mean": statistics.mean(accuracies),
                    "val_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                    "train_seconds_median": statistics.median(r["train_seconds"] for r in runs),
                }
            )
    validation_images = rows[0]["runs"][0]["val_size"]
    m = describe_machine()
    print(
        f"{args.recipe} on a {(args.limit or 60_000) - validation_images:,}/{validation_images:,} "
        "split of MNIST's training set; "
        f"{args.seeds} seeds; {m['cpu']}, {m['threads']} threads; torch {m['torch']}"
    )
    print(f"{'settings':<36}{'validation accuracy':>24}{'errors (mean)':>15}{'train s':>10}")
    for row in rows:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "as is"
        accuracy = f"{100 * row['val_accuracy_mean']:.2f} ± {100 * row['val_accuracy_std']:.2f}%"
        errors = (1 - row["val_accuracy_mean"]) * validation_images
        print(f"{settings:<36}{accuracy:>24}{errors:>15.1f}{row['train_seconds_median']:>10.1f}")
    if args.json:
        args.json.write_text(
            json.dumps({"recipe": args.recipe, "val_split": val_split, "machine": m, "rows": rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
