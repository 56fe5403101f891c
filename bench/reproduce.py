"""The reproduction table: each tutorial recipe at full length over several seeds, set
against the figure its tutorial published.

    python bench/reproduce.py [--recipes all] [--seeds 3] [--device auto]
        [--runs build/reproduce] [--json build/reproduce.json]

Each run is a normal `digitrec train` run folder under --runs (one per recipe and seed),
so an interrupted table resumes: finished runs are read back, not retrained, and an
unfinished one continues from its last finished epoch. A recipe's checkpoint is chosen
on its own validation split where it has one, else its last epoch is used; the test set
gives the final number only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from digitrec.device import describe_machine, select_device
from digitrec.errors import RunError
from digitrec.evaluation.checkpoints import evaluate_saved_model
from digitrec.fileio import read_json
from digitrec.training import RunOptions, get_recipe, resume_run, train_recipe
from digitrec.training.recipes import TUTORIAL_RECIPES
from digitrec.training.runs import RunFolder


def train_or_resume(recipe_name: str, seed: int, folder: Path, device: str, data_dir: str | None,
                    limit: int | None, epochs: int | None) -> dict:
    """The run's metrics.json, training it first if it is not finished."""
    if folder.exists():
        try:
            if RunFolder(folder).finished:
                return read_json(folder / "metrics.json")
            resume_run(folder, data_dir, device=device)
            return read_json(folder / "metrics.json")
        except RunError:
            raise SystemExit(f"{folder} exists and is not a run of {recipe_name}; move it away")
    recipe = get_recipe(recipe_name).with_overrides(epochs=epochs)
    train_recipe(recipe, RunOptions(seed=seed, device=device, limit=limit), folder, data_dir)
    return read_json(folder / "metrics.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="all", help=f"comma-separated from {', '.join(TUTORIAL_RECIPES)}, or 'all'")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--runs", type=Path, default=Path("build/reproduce"), help="folder for the run folders")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="train on a subset: to try the script, not for the table")
    parser.add_argument("--epochs", type=int, default=None, help="shorter runs: to try the script, not for the table")
    args = parser.parse_args(argv)

    names = TUTORIAL_RECIPES if args.recipes == "all" else tuple(args.recipes.split(","))
    device = select_device(args.device)
    rows = []
    for name in names:
        recipe = get_recipe(name)
        accuracies, seconds = [], []
        for seed in range(args.seeds):
            folder = args.runs / f"{name}-seed{seed}"
            metrics = train_or_resume(name, seed, folder, str(device), args.data_dir, args.limit, args.epochs)
            test = evaluate_saved_model(folder, "test", data_dir=args.data_dir, device=str(device))
            accuracies.append(test.result.accuracy)
            seconds.append(float(metrics["train_seconds"]))
            print(f"  {name} seed {seed}: {100 * test.result.accuracy:.2f}% test, {seconds[-1]:.0f} s of training", file=sys.stderr, flush=True)
        rows.append({
            "recipe": name, "epochs": args.epochs or recipe.epochs, "batch_size": recipe.batch_size, "published": recipe.published,
            "test_accuracy": accuracies, "mean": statistics.mean(accuracies),
            "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0, "train_seconds": seconds,
        })
    m = describe_machine()
    where = f"CPU {m['cpu']}, {m['threads']} threads; GPU {m['gpu'] or 'none'}; torch {m['torch']}"
    print(f"machine: {where}; device {device}; {time.strftime('%Y-%m-%d')}")
    print(f"{'recipe':<22}{'epochs':>7}{'published':>46}{'digitrec (mean ± std)':>26}{'train s per run':>18}")
    for r in rows:
        ours = f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}% ({len(r['test_accuracy'])})"
        print(f"{r['recipe']:<22}{r['epochs']:>7}{r['published']:>46}{ours:>26}{statistics.mean(r['train_seconds']):>18.0f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": where, "device": str(device), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
