"""Every GPU figure at once, as one JSON file: what a person with a CUDA GPU runs.

    bash bench/gpu.sh                      # = python bench/gpu.py --json build/gpu.json
    python bench/gpu.py --device cpu --tiny --json out.json   # the CPU path, in seconds

Four sections, each recorded even when another fails:
1. step: ms per training step of quick's, fast's and best's networks (and the reader's)
   in each execution variant: fp32 and bf16 autocast, contiguous and channels-last, eager,
   `torch.compile` and `torch.compile(mode="reduce-overhead")` (CUDA graphs). A variant
   that fails records its error and the eager figure stands; the fastest is named.
2. time_to_accuracy: bench/time_to_accuracy.py for quick, fast, best and every reference,
   3 seeds, on the device (digitrec's engine trains eager, bf16 autocast, channels-last).
3. reader: the number reader's training throughput (fields per second) in eager bf16.
4. inference: images per second of fast's network at batch 1, 1024 and 8192, fp32 and bf16.
5. ddp: on a machine with 2 or more GPUs, bench/ddp_train.py: `fast` on one GPU against
   all of them (torchrun, NCCL), ms per step and test accuracy, 2 seeds.

The targets on an H200 (issue 15): 99.0% in <= 0.25 s, 99.5% <= 1 s, 99.7% <= 5 s of
training. The whole run stays within about 8 minutes (--max-seconds caps each
time-to-accuracy run; --tiny shrinks everything for the CPU test in CI).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import torch

from digitrec.device import describe_machine, select_device
from digitrec.models.registry import build_model
from digitrec.training.engine import training_parts
from digitrec.training.recipes import get_recipe
from digitrec.training.runner import RunOptions, build_task

BENCH = Path(__file__).resolve().parent
STEP_RECIPES = ("quick", "fast", "best", "reader")  # the networks whose training step is timed
VARIANTS = [  # (name, autocast dtype, memory format, torch.compile mode or None)
    ("fp32 contiguous eager", None, torch.contiguous_format, None),
    ("fp32 channels-last eager", None, torch.channels_last, None),
    ("bf16 channels-last eager", torch.bfloat16, torch.channels_last, None),
    ("bf16 channels-last compile", torch.bfloat16, torch.channels_last, "default"),
    ("bf16 channels-last cuda-graphs", torch.bfloat16, torch.channels_last, "reduce-overhead"),
]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_ms(recipe, task, batches: list, device: torch.device, variant: tuple, warmup: int) -> float:
    """The mean time of a training step over `batches` after the first `warmup` of them
    (compilation and graph capture happen in the warm-up)."""
    _, autocast, layout, mode = variant
    torch.manual_seed(0)
    model = build_model(recipe.model).to(device, memory_format=layout)
    parts = training_parts(model, recipe, task, 0)
    forward = torch.compile(model, mode=mode) if mode else model
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            sync(device)
            started = time.perf_counter()
        with torch.autocast(device.type, dtype=autocast) if autocast is not None else nullcontext():
            loss = task.loss(forward(x.contiguous(memory_format=layout)), y, recipe)
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts.optimizer.step()
    sync(device)
    return 1000 * (time.perf_counter() - started) / (len(batches) - warmup)


def step_section(device: torch.device, data_dir: str | None, tiny: bool, variants: list[tuple]) -> dict:
    steps, warmup = (2, 1) if tiny else (50, 10)
    out = {}
    for name in STEP_RECIPES:
        recipe = get_recipe(name)
        # The same batches for every variant: of MNIST (a subset is plenty) or the reader's fields.
        task = build_task(
            recipe, RunOptions(seed=0, device=str(device), limit=None if recipe.reader else 8192), data_dir, device
        )
        generator = torch.Generator(device=device).manual_seed(0)
        batches = list(itertools.islice(task.batches(recipe, generator), warmup + steps))
        rows = {}
        for variant in variants:
            try:
                rows[variant[0]] = {"ms_per_step": step_ms(recipe, task, batches, device, variant, warmup)}
            except Exception as e:  # a variant this machine cannot run: recorded, eager stands
                rows[variant[0]] = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
            print(f"  step {name} {variant[0]}: {rows[variant[0]]}", file=sys.stderr, flush=True)
        timed = {k: v["ms_per_step"] for k, v in rows.items() if "ms_per_step" in v}
        out[name] = {"variants": rows, "fastest": min(timed, key=timed.get) if timed else None}
    return out


def load_bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def time_to_accuracy_section(device: torch.device, data_dir: str | None, tiny: bool, max_seconds: float) -> dict:
    bench = load_bench("time_to_accuracy")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.json"
        args = [
            "--recipes",
            "quick" if tiny else "quick,fast,best",
            "--references",
            "train-mnist-fast" if tiny else "all",
            "--seeds",
            "1" if tiny else "3",
            "--max-seconds",
            str(max_seconds),
            "--device",
            str(device),
            "--json",
            str(out),
        ]
        if data_dir:
            args += ["--data-dir", data_dir]
        if tiny:
            args += ["--eval-every", "0.5"]
        bench.main(args)
        report = json.loads(out.read_text())
    return {k: report[k] for k in ("results", "reference_layouts", "precision", "seeds", "max_seconds") if k in report}


def inference_section(device: torch.device, tiny: bool) -> dict:
    model = build_model(get_recipe("fast").model).to(device).eval()
    out = {}
    for batch, dtype in itertools.product((1, 1024, 8192) if not tiny else (1, 64), (None, torch.bfloat16)):
        x = torch.rand(batch, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
            for _ in range(3):
                model(x)
            sync(device)
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < (0.2 if tiny else 2.0):
                model(x)
                calls += 1
            sync(device)
        out[f"batch {batch} {'bf16' if dtype else 'fp32'}"] = calls * batch / (time.perf_counter() - started)
    return out


def reader_section(step: dict) -> dict:
    """Fields per second from the reader's step times (batch 64)."""
    batch = get_recipe("reader").batch_size
    rows = step.get("reader", {}).get("variants", {})
    return {name: batch * 1000 / row["ms_per_step"] for name, row in rows.items() if "ms_per_step" in row}


def ddp_section(device: torch.device, data_dir: str | None, tiny: bool) -> dict:
    """One GPU against all of them, where there are several; else why not."""
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if gpus < 2 or tiny:
        return {"skipped": f"needs 2 or more CUDA GPUs (this machine: {gpus})"}
    ddp = load_bench("ddp_train")
    with tempfile.TemporaryDirectory() as work:
        argv = ["--recipe", "fast", "--processes", f"1,{gpus}", "--seeds", "2", "--device", "cuda", "--work", work]
        return ddp.main(argv + (["--data-dir", data_dir] if data_dir else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="cap on each time-to-accuracy run")
    parser.add_argument(
        "--tiny", action="store_true", help="a few steps of everything: tests the script, measures nothing"
    )
    parser.add_argument("--eager-only", action="store_true", help="skip the torch.compile variants")
    args = parser.parse_args(argv)
    device = select_device(args.device)
    variants = [v for v in VARIANTS if not (args.eager_only and v[3])]
    if device.type != "cuda":
        variants = [v for v in variants if v[1] is None]  # bf16 is emulated on most CPUs: not a GPU figure
    started = time.perf_counter()
    report: dict = {
        "machine": describe_machine(),
        "device": str(device),
        "date": time.strftime("%Y-%m-%d"),
        "errors": {},
    }
    sections = [
        ("step", lambda: step_section(device, args.data_dir, args.tiny, variants)),
        (
            "time_to_accuracy",
            lambda: time_to_accuracy_section(device, args.data_dir, args.tiny, 2.0 if args.tiny else args.max_seconds),
        ),
        ("reader", lambda: reader_section(report.get("step", {}))),
        ("inference", lambda: inference_section(device, args.tiny)),
        ("ddp", lambda: ddp_section(device, args.data_dir, args.tiny)),
    ]
    for name, run in sections:
        try:
            report[name] = run()
        except Exception:  # one failing section must not cost the others' figures
            report["errors"][name] = traceback.format_exc(limit=3)
            print(f"  {name} failed:\n{report['errors'][name]}", file=sys.stderr, flush=True)
        args.json.write_text(json.dumps(report, indent=1))  # after every section: a killed run keeps what it has
    report["seconds"] = time.perf_counter() - started
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("device", "seconds", "errors")}, indent=1))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
