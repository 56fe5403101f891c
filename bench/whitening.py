"""What a whitened, fixed first layer saves in a training step: fastnet with its first
convolution learned, against the same network with `PatchWhitening` (max-pooled, and at
stride 2 instead of the pool: `quick`'s), side by side.

    python bench/whitening.py [--widths 24/32/256,32/64/256] [--batches 128,256] [--steps 100]
        [--repeats 3] [--device auto] [--json out.json]

Each configuration trains `--steps` Adam steps on random images (the cost of a step does
not depend on the pixels), channels-last as digitrec trains, after 10 steps to warm up;
the variants alternate `--repeats` times and each keeps its median, so that a slow
moment of the machine does not fall on one side only. What the saving buys in accuracy is
`bench/choose_settings.py`'s to say (`--vary model.whiten=false,true`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from digitrec.device import describe_machine, select_device
from digitrec.models import ModelConfig, build_model
from digitrec.models.whitening import fit_fixed_layers

WARMUP_STEPS = 10
VARIANTS = {  # model options on top of the widths
    "learned": {},
    "whitened": {"whiten": True},
    "strided": {"whiten": True, "first_stride": 2},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(options: dict, batch: int, steps: int, device: torch.device) -> float:
    torch.manual_seed(0)
    model = build_model(ModelConfig("fastnet", options)).to(device, memory_format=torch.channels_last)
    x = torch.randn(batch, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    fit_fixed_layers(model, x)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP_STEPS):
        step()
    sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return 1000 * (time.perf_counter() - started) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="24/32/256,32/64/256", help="conv1/conv2/hidden, comma-separated")
    parser.add_argument("--batches", default="128,256")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    m = describe_machine()
    print(f"machine: {m['cpu']}; {m['threads']} threads; device {device}; torch {m['torch']}")
    print(f"{'fastnet':<14}{'batch':>7}{'learned ms':>12}{'whitened ms':>13}{'saved':>8}{'strided ms':>12}{'saved':>8}")
    rows = []
    for widths in args.widths.split(","):
        conv1, conv2, hidden = (int(w) for w in widths.split("/"))
        base = {"conv1": conv1, "conv2": conv2, "hidden": hidden}
        for batch in (int(b) for b in args.batches.split(",")):
            times: dict[str, list[float]] = {name: [] for name in VARIANTS}
            for _ in range(args.repeats):
                for name, options in VARIANTS.items():
                    times[name].append(ms_per_step({**base, **options}, batch, args.steps, device))
            ms = {name: statistics.median(t) for name, t in times.items()}
            rows.append({"widths": widths, "batch": batch, **{f"{name}_ms": v for name, v in ms.items()}})
            learned, whitened, strided = ms["learned"], ms["whitened"], ms["strided"]
            print(
                f"{widths:<14}{batch:>7}{learned:>12.1f}{whitened:>13.1f}{1 - whitened / learned:>8.0%}"
                f"{strided:>12.1f}{1 - strided / learned:>8.0%}"
            )
    if args.json:
        args.json.write_text(json.dumps({"machine": m, "device": str(device), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
