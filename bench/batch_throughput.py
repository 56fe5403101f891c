"""Batch reading throughput: 100,000 field images read by one process, by every core
with the local engine, and by a local Ray cluster; images per second, memory over the
run, scaling efficiency, and whether the three wrote the same rows.

    python bench/batch_throughput.py --data-dir ../shared/data --json build/batch.json

The images are the development sets' real fields (danish-rowid's register cells,
orand-car-a-dev's cheque amounts, real-dev's digits), hard-linked under new names until
there are --count of them, in folders of 1,000 (made once, under --work). Each mode runs
`digitrec predict FOLDER --out FILE` as a child process, timed from start to exit
(model loading and, for Ray, starting the cluster included), while this script samples
the memory (RSS) of the child and every process it started, once a second, against the
rows written so far. "One process" runs `--workers 1` pinned to one core: the unit that
the scaling efficiency divides by.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from digitrec.batch.output import read_results  # noqa: E402
from digitrec.processes import available_cores  # noqa: E402

SOURCES = ("danish-rowid/train", "danish-rowid/validation", "orand-car-a-dev", "real-dev")
PER_FOLDER = 1000
SAMPLE_EVERY = 1.0  # seconds between memory samples
MODES = {  # name -> (what it is, extra arguments of `digitrec predict`, pinned to one core)
    # One process on one core: unpinned, --workers 1 would also run PyTorch's and OpenCV's
    # thread pools on the other cores, and the ratio would not say what the processes add.
    "one": ("one process, one core", ["--workers", "1"], True),
    "local": ("local engine, all cores", [], False),
    "ray": ("Ray, local cluster", ["--engine", "ray"], False),
}
MIX = 7919  # a prime stride through the sorted sources, so every set is in the mix from the start


def make_fields(data_dir: Path, folder: Path, count: int) -> Path:
    """count field images under folder (reused when already there)."""
    done = folder / f".complete-{count}"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    sources = sorted(p for s in SOURCES for p in (data_dir / s).rglob("*") if p.suffix.lower() in {".jpg", ".png"})
    if not sources:
        raise SystemExit(f"no development images under {data_dir} ({', '.join(SOURCES)})")
    for i in range(count):
        source = sources[i * MIX % len(sources)]
        target = folder / f"{i // PER_FOLDER:03d}" / f"{i:06d}{source.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another filesystem: copy
            shutil.copyfile(source, target)
    done.touch()
    print(f"made {count:,} field images from {len(sources):,} development images in {folder}")
    return folder


def tree_rss(pid: int) -> int:
    """Bytes resident in pid and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        p = int(status.parent.name)
        parents[p] = int(fields.get("PPid", "0"))
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, grew = {pid}, True
    while grew:
        grew = False
        for p, parent in parents.items():
            if parent in tree and p not in tree:
                tree.add(p)
                grew = True
    return sum(rss.get(p, 0) for p in tree)


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def run_mode(name: str, fields: Path, out: Path, count: int) -> dict:
    label, extra, pinned = MODES[name]
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "digitrec", "predict", str(fields), "--out", str(out), *extra]
    started = time.perf_counter()
    first_core = min(os.sched_getaffinity(0))
    pin = (lambda: os.sched_setaffinity(0, {first_core})) if pinned else None
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=pin)
    samples = []  # (seconds, rows written, bytes resident)
    try:
        while child.poll() is None:
            time.sleep(SAMPLE_EVERY)
            rows = out.stat().st_size and count_lines(out) if out.exists() else 0
            samples.append((time.perf_counter() - started, rows, tree_rss(child.pid)))
    finally:
        if child.poll() is None:
            child.kill()
    seconds = time.perf_counter() - started
    stderr = child.stderr.read()
    if child.returncode not in (0, 1):
        raise SystemExit(f"{name}: exit code {child.returncode}\n{stderr}")
    return {
        "mode": name,
        "label": label,
        "seconds": seconds,
        "images_per_second": count / seconds,
        "memory": memory_profile(samples, count),
        "stderr": stderr.strip().splitlines()[-1:],
    }


def memory_profile(samples: list[tuple[float, int, int]], count: int) -> dict:
    """Resident memory when 10%, 50% and 90% of the rows were written, and its peak."""

    def at(share: float) -> int | None:
        return next((rss for _, rows, rss in samples if rows >= share * count), None)

    return {"at_10%": at(0.1), "at_50%": at(0.5), "at_90%": at(0.9), "peak": max((s[2] for s in samples), default=None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DIGITREC_DATA", ROOT.parent / "shared" / "data"))
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "batch")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated from: {', '.join(f'{k} ({v[0]})' for k, v in MODES.items())}",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    fields = make_fields(args.data_dir, args.work / "fields", args.count)
    cores = available_cores()
    results = []
    for name in args.modes.split(","):
        result = run_mode(name, fields, args.work / f"{name}.jsonl", args.count)
        results.append(result)
        print_row(result)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"count": args.count, "cores": cores, "results": results}, indent=2))
    summarise(results, cores, args.work)


def mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MB"


def print_row(r: dict) -> None:
    m = r["memory"]
    print(
        f"{r['label']:<24} {r['seconds']:8.1f} s  {r['images_per_second']:8.1f} images/s   "
        "memory at 10% / 50% / 90% of the rows "
        f"{mb(m['at_10%'])} / {mb(m['at_50%'])} / {mb(m['at_90%'])}, peak {mb(m['peak'])}",
        flush=True,
    )


def summarise(results: list[dict], cores: int, work: Path) -> None:
    one = next((r for r in results if r["mode"] == "one"), None)
    for r in results:
        if one is not None and r is not one:
            speedup = r["images_per_second"] / one["images_per_second"]
            print(
                f"{r['label']}: {speedup:.2f}x one process on {cores} cores (scaling efficiency {speedup / cores:.0%})"
            )
    outputs = [work / f"{r['mode']}.jsonl" for r in results]
    if len(outputs) > 1:
        rows = [read_results(p) for p in outputs]
        same = all(r == rows[0] for r in rows[1:])
        print(f"the {len(outputs)} modes wrote {'the same' if same else 'DIFFERENT'} rows ({len(rows[0]):,} each)")


if __name__ == "__main__":
    main()
