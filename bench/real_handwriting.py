"""How well digitrec reads real handwriting, from image files to answers.

    python bench/real_handwriting.py --model runs/demo [--data-dir ../shared/data] [--every-variant]

Development sets (never used for training):
- real-dev: 38 real drawings, labelled by the first character of their file names;
- USPS: the 7,291 USPS training digits (scanned envelopes, not MNIST), written out as
  image files at several sizes, in both polarities, as PNG and as JPEG. By default each
  image gets one variant in turn; --every-variant writes every image in every variant.

Prints accuracy per set and per variant, and the time per single-digit image from file
to answer (decode, preprocess, classify), on this machine's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np
from PIL import Image

from digitrec import Recognizer

SIZES = (16, 28, 64, 200)
POLARITIES = ("white-on-black", "black-on-white")
FORMATS = ("png", "jpg")
VARIANTS = list(product(SIZES, POLARITIES, FORMATS))


def write_usps(
    images: np.ndarray, labels: np.ndarray, folder: Path, every_variant: bool
) -> list[tuple[Path, int, tuple]]:
    files = []
    for i, (image, label) in enumerate(zip(images, labels)):
        variants = VARIANTS if every_variant else [VARIANTS[i % len(VARIANTS)]]
        for size, polarity, fmt in variants:
            pixels = image if polarity == "white-on-black" else 255 - image
            picture = Image.fromarray(pixels).resize((size, size), Image.BICUBIC)
            path = folder / f"{i:05d}_{label}_{size}_{polarity}.{fmt}"
            picture.save(path, quality=85) if fmt == "jpg" else picture.save(path)
            files.append((path, int(label), (size, polarity, fmt)))
    return files


def read_all(recognizer: Recognizer, files: list[tuple[Path, int, tuple]]) -> tuple[list[bool], list[float]]:
    correct, seconds = [], []
    for path, label, _ in files:
        started = time.perf_counter()
        reading = recognizer.read(path, single=True)
        seconds.append(time.perf_counter() - started)
        correct.append(reading.text == str(label))
    return correct, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/demo", help="run folder or checkpoint")
    parser.add_argument("--data-dir", default=os.environ.get("DIGITREC_DATA", "../shared/data"))
    parser.add_argument(
        "--every-variant", action="store_true", help="every USPS image in every variant (16x the files)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N USPS digits")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    root = Path(args.data_dir)
    recognizer = Recognizer.load(args.model, device="cpu")
    report: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "model": str(recognizer.classifier.path),
        "recipe": recognizer.meta.get("recipe"),
    }

    real = sorted((root / "real-dev").glob("*.png"))
    real_files = [(p, int(p.name[0]), ("real-dev",)) for p in real]
    recognizer.read(real_files[0][0])  # warm-up: the first call pays one-off set-up costs
    correct, seconds = read_all(recognizer, real_files)
    misses = [p.name for (p, _, _), ok in zip(real_files, correct) if not ok]
    report["real_dev"] = {"correct": sum(correct), "total": len(correct), "misses": misses}

    usps = np.load(root / "usps" / "usps-train.npz")
    with tempfile.TemporaryDirectory() as tmp:
        files = write_usps(usps["images"][: args.limit], usps["labels"][: args.limit], Path(tmp), args.every_variant)
        u_correct, u_seconds = read_all(recognizer, files)
    by_variant = {}
    for (_, _, variant), ok in zip(files, u_correct):
        by_variant.setdefault(variant, []).append(ok)
    report["usps"] = {
        "accuracy": sum(u_correct) / len(u_correct),
        "images": len(u_correct),
        "by_variant": {f"{s}px {p} {f}": sum(v) / len(v) for (s, p, f), v in sorted(by_variant.items())},
    }
    all_seconds = seconds + u_seconds
    report["latency_ms"] = {
        "mean": 1000 * statistics.fmean(all_seconds),
        "p50": 1000 * statistics.median(all_seconds),
        "p99": 1000 * float(np.percentile(all_seconds, 99)),
        "what": "one single-digit image file, decode + preprocess + classify, batch 1, CPU",
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['threads']} threads; model {report['model']} ({report['recipe']})")
    r = report["real_dev"]
    print(f"real-dev: {r['correct']}/{r['total']}" + (f"  misses: {', '.join(r['misses'])}" if r["misses"] else ""))
    u = report["usps"]
    print(f"USPS as image files: {100 * u['accuracy']:.2f}% of {u['images']:,} (target >= 97%)")
    for name, acc in u["by_variant"].items():
        print(f"  {name:<28} {100 * acc:6.2f}%")
    lat = report["latency_ms"]
    print(
        f"time per image from file to answer: mean {lat['mean']:.1f} ms, p50 {lat['p50']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms (target < 20 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
