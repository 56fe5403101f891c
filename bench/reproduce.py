"""The reproduction table: each tutorial recipe at full length over several seeds, set
against the figure its tutorial published. Any recipe can be tabled the same way, and
`--ensemble` also scores the ensemble of each recipe's seeds (the record-accuracy table)
and, given several recipes, the ensemble of all their seeds together: members that
differ in architecture where the recipes' networks do.

    python bench/reproduce.py [--recipes all] [--seeds 3] [--device auto]
        [--runs build/reproduce] [--json build/reproduce.json]
    python bench/reproduce.py --recipes best,best-resnet --seeds 5 --ensemble

Each run is a normal `digitrec train` run folder under --runs (one per recipe and seed),
so an interrupted table resumes: finished runs are read back, not retrained, and an
unfinished one continues from its last finished epoch. A folder is reused only if its
config.json holds the same recipe (every setting, as the code has it now), seed, limit
and dataset; any other run there is moved aside (`NAME.stale-N`) and trained again. A recipe's checkpoint is chosen
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
from digitrec.evaluation.ensemble import ensemble_of
from digitrec.fileio import read_json
from digitrec.training import RunOptions, get_recipe, resume_run, train_recipe
from digitrec.training.config import Recipe
from digitrec.training.recipes import TUTORIAL_RECIPES
from digitrec.training.runner import run_settings
from digitrec.training.runs import RunFolder

COMPARED_OPTIONS = ("dataset", "seed", "limit", "fold", "folds", "init")  # what changes a run's result
# (the device and precision may differ between machines: a run is not stale for them)


def stale_reason(folder: Path, recipe: Recipe, options: RunOptions) -> str | None:
    """Why the run in `folder` is not the run asked for (None: it is): its config.json
    must hold this recipe, every setting of it as the code has it now, and these options."""
    try:
        ran_recipe, ran_options = run_settings(RunFolder(folder))
    except RunError as e:
        return str(e)
    if ran_recipe.name != recipe.name:
        return f"it is a run of {ran_recipe.name}, not {recipe.name}"
    if ran_recipe.to_dict() != recipe.to_dict():
        was, now = ran_recipe.to_dict(), recipe.to_dict()
        changed = sorted(k for k in now if was.get(k) != now[k])
        return f"its recipe differs in {', '.join(changed)}"
    changed = [k for k in COMPARED_OPTIONS if getattr(ran_options, k) != getattr(options, k)]
    if changed:
        return "its " + ", ".join(f"{k} was {getattr(ran_options, k)!r}, not {getattr(options, k)!r}" for k in changed)
    return None


def set_aside(folder: Path) -> Path:
    """Move a stale run out of the way (never deleted: it may be someone's finished run)."""
    n = 1
    while folder.with_name(f"{folder.name}.stale-{n}").exists():
        n += 1
    return folder.rename(folder.with_name(f"{folder.name}.stale-{n}"))


def train_or_resume(
    recipe_name: str, seed: int, folder: Path, device: str, data_dir: str | None, limit: int | None, epochs: int | None
) -> dict:
    """The run's metrics.json, training it first unless `folder` holds this very run,
    finished; an unfinished one continues, a different one is set aside and retrained."""
    recipe = get_recipe(recipe_name).with_overrides(epochs=epochs)
    options = RunOptions(seed=seed, device=device, limit=limit)
    if folder.exists():
        reason = stale_reason(folder, recipe, options)
        if reason is None:
            if not RunFolder(folder).finished:
                resume_run(folder, data_dir, device=device)
            return read_json(folder / "metrics.json")
        moved = set_aside(folder)
        print(
            f"  {folder} is not this run ({reason}): moved to {moved.name}, training again", file=sys.stderr, flush=True
        )
    train_recipe(recipe, options, folder, data_dir)
    return read_json(folder / "metrics.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--recipes",
        default="all",
        help=f"comma-separated recipe names, or 'all' for the tutorials' {', '.join(TUTORIAL_RECIPES)}",
    )
    parser.add_argument(
        "--ensemble", action="store_true", help="also score the ensemble of each recipe's seeds on the test set"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--runs", type=Path, default=Path("build/reproduce"), help="folder for the run folders")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--limit", type=int, default=None, help="train on a subset: to try the script, not for the table"
    )
    parser.add_argument("--epochs", type=int, default=None, help="shorter runs: to try the script, not for the table")
    args = parser.parse_args(argv)

    names = TUTORIAL_RECIPES if args.recipes == "all" else tuple(args.recipes.split(","))
    device = select_device(args.device)
    rows, everyone = [], []
    for name in names:
        recipe = get_recipe(name)
        accuracies, train_accuracies, seconds, tests = [], [], [], []
        for seed in range(args.seeds):
            folder = args.runs / f"{name}-seed{seed}"
            metrics = train_or_resume(name, seed, folder, str(device), args.data_dir, args.limit, args.epochs)
            test = evaluate_saved_model(folder, "test", data_dir=args.data_dir, device=str(device))
            tests.append(test)
            accuracies.append(test.result.accuracy)
            seconds.append(float(metrics["train_seconds"]))
            train_accuracies.append(float(metrics["train_accuracy"]))  # one tutorial published only this
            print(
                f"  {name} seed {seed}: {100 * test.result.accuracy:.2f}% test, {seconds[-1]:.0f} s of training",
                file=sys.stderr,
                flush=True,
            )
        everyone += tests
        rows.append(
            {
                "recipe": name,
                "epochs": args.epochs or recipe.epochs,
                "batch_size": recipe.batch_size,
                "published": recipe.published,
                "test_accuracy": accuracies,
                "mean": statistics.mean(accuracies),
                "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "train_seconds": seconds,
                "train_accuracy": train_accuracies,
                "ensemble": ensemble_of(tests).ensemble.result.accuracy if args.ensemble and len(tests) > 1 else None,
            }
        )
    m = describe_machine()
    where = f"CPU {m['cpu']}, {m['threads']} threads; GPU {m['gpu'] or 'none'}; torch {m['torch']}"
    print(f"machine: {where}; device {device}; {time.strftime('%Y-%m-%d')}")
    all_together = None
    if args.ensemble and len(rows) > 1:
        all_together = {"recipes": list(names), "members": len(everyone)}
        all_together["accuracy"] = ensemble_of(everyone).ensemble.result.accuracy
    ensembles = any(r["ensemble"] is not None for r in rows)
    print(
        (
            f"{'recipe':<22}{'epochs':>7}{'published':>46}{'digitrec (mean ± std)':>26}"
            f"{'train acc':>11}{'train s per run':>18}"
        )
        + (f"{'ensemble':>10}" if ensembles else "")
    )
    for r in rows:
        ours = f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f}% ({len(r['test_accuracy'])})"
        line = (
            f"{r['recipe']:<22}{r['epochs']:>7}{r['published'] or '-':>46}{ours:>26}"
            f"{100 * statistics.mean(r['train_accuracy']):>10.2f}%{statistics.mean(r['train_seconds']):>18.0f}"
        )
        if ensembles:
            line += f"{100 * r['ensemble']:>9.2f}%" if r["ensemble"] is not None else f"{'-':>10}"
        print(line)
    if all_together:
        print(
            f"all {all_together['members']} models of {', '.join(names)} averaged: "
            f"{100 * all_together['accuracy']:.2f}% test"
        )
    if args.json:
        summary = {"machine": where, "device": str(device), "rows": rows, "ensemble_of_all": all_together}
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
