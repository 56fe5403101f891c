"""Inference throughput: images per second at batch 1 and batch 1024, on the CPU, with
PyTorch and with ONNX Runtime, for each model given.

    python bench/inference.py --model runs/demo [--model runs/best] [--seconds 3] [--threads 1]

The images are real MNIST test digits, already 28x28 (preprocessing is measured by
bench/real_handwriting.py). PyTorch and ONNX Runtime get the same number of threads
(--threads; by default PyTorch's own choice), so the two are compared on the same cores;
--threads 1 measures what one server worker does, as the server gives each one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from digitrec.artifacts.checkpoint import resolve_model_path
from digitrec.artifacts.onnx import export_onnx
from digitrec.data import load_dataset
from digitrec.runtime import OnnxClassifier, TorchClassifier


def images_per_second(classify, images: np.ndarray, batch: int, seconds: float) -> float:
    classify(images[:batch])  # warm-up: first calls allocate and pick kernels
    done, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        start = (i * batch) % (len(images) - batch + 1)
        classify(images[start : start + batch])
        done += batch
        i += 1
    return done / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="run folder or checkpoint; repeat for several")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for both runtimes (default: PyTorch's choice)"
    )
    args = parser.parse_args(argv)
    if (
        args.threads is not None
    ):  # through the environment too: loading a model sets one thread per core unless it says otherwise
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)

    images = load_dataset("mnist", "test", args.data_dir).images.numpy()
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.model:
            torch_classifier = TorchClassifier(resolve_model_path(Path(model)), "cpu")
            onnx_classifier = OnnxClassifier(export_onnx(Path(model), Path(tmp) / f"{len(rows)}.onnx"), threads=threads)
            recipe = torch_classifier.meta.get("recipe")
            for runtime, classifier in (("pytorch", torch_classifier), ("onnxruntime", onnx_classifier)):
                for batch in (1, 1024):
                    rate = images_per_second(classifier.classify, images, batch, args.seconds)
                    rows.append(
                        {
                            "model": model,
                            "recipe": recipe,
                            "runtime": runtime,
                            "batch": batch,
                            "images_per_second": rate,
                        }
                    )
                    print(f"  {recipe} {runtime} batch {batch}: {rate:,.0f} images/s", file=sys.stderr, flush=True)
    print(f"CPU, {threads} thread{'s' if threads != 1 else ''}; torch {torch.__version__}")
    print(f"{'model':<16}{'runtime':<14}{'batch 1 (images/s)':>20}{'batch 1024 (images/s)':>24}")
    for i in range(0, len(rows), 2):
        one, many = rows[i], rows[i + 1]
        print(
            f"{one['recipe']!s:<16}{one['runtime']:<14}{one['images_per_second']:>20,.0f}{many['images_per_second']:>24,.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
