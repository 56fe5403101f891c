"""DistributedDataParallel against one process: ms per training step, training time and
test accuracy (mean ± std over seeds) of the same recipe, the same global batch.

    python bench/ddp_train.py --data-dir ../shared/data                # CPU: 1 process vs 2 (gloo)
    python bench/ddp_train.py --device cuda --processes 1,8            # a node of 8 GPUs (NCCL)

Each run is `digitrec train` as a user runs it (under `torchrun --standalone
--nproc-per-node N` for N > 1), then `digitrec evaluate` on the test set. A step is one
global batch: with N processes each takes 1/N of it. On a CPU the processes share the
cores (torchrun gives each 1/N of the threads), so no speed-up is expected there: the
point is that DDP costs little and lands on the same accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train_command(processes: int, seed: int, out: Path, args: argparse.Namespace) -> list[str]:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    command = [
        *launcher,
        "-m",
        "digitrec",
        "train",
        "--recipe",
        args.recipe,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--device",
        args.device,
        "--dataset",
        args.dataset,
        "--no-report",
        "--quiet",
        "--json",
    ]
    return command + [
        f
        for flag, value in (("--data-dir", args.data_dir), ("--limit", args.limit), ("--epochs", args.epochs))
        if value
        for f in (flag, str(value))
    ]


def one_run(processes: int, seed: int, args: argparse.Namespace) -> dict:
    out = args.work / f"{args.recipe}-p{processes}-seed{seed}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    subprocess.run(train_command(processes, seed, out, args), check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitrec",
            "evaluate",
            str(out),
            "--no-report",
            "--json",
            "--device",
            args.device,
            *(["--data-dir", args.data_dir] if args.data_dir else []),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    accuracy = json.loads(evaluation.stdout)["accuracy"]
    steps = metrics["epochs"] * -(
        -metrics["examples_per_epoch"] // json.loads((out / "config.json").read_text())["recipe"]["batch_size"]
    )
    return {
        "processes": processes,
        "seed": seed,
        "train_seconds": metrics["train_seconds"],
        "ms_per_step": 1000 * metrics["train_seconds"] / steps,
        "test_accuracy": accuracy,
    }


def summary(runs: list[dict]) -> dict:
    acc = [r["test_accuracy"] for r in runs]
    return {
        "processes": runs[0]["processes"],
        "ms_per_step": statistics.median(r["ms_per_step"] for r in runs),
        "train_seconds": statistics.median(r["train_seconds"] for r in runs),
        "accuracy_mean": statistics.mean(acc),
        "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="quick")
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=os.environ.get("DIGITREC_DATA"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument(
        "--limit", type=int, default=None, help="train on a random subset (a quick check of the script)"
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "ddp")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for processes in map(int, args.processes.split(",")):
        runs = [one_run(processes, seed, args) for seed in range(args.seeds)]
        results.append(summary(runs))
        r = results[-1]
        print(
            f"{args.recipe} on {processes} process(es): {r['ms_per_step']:.1f} ms per step (median), "
            f"{r['train_seconds']:.1f} s of training, "
            f"test accuracy {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}% over {args.seeds} seeds",
            flush=True,
        )
    one = results[0]
    for r in results[1:]:
        print(
            f"{r['processes']} processes: step time {r['ms_per_step'] / one['ms_per_step']:.2f}x "
            f"{one['processes']} process(es)'s; "
            f"accuracy {100 * (r['accuracy_mean'] - one['accuracy_mean']):+.2f} points"
        )
    report = {"recipe": args.recipe, "device": args.device, "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
