"""Training the number finder (`models.finder`) on synthetic pages.

    python -m digitrec.training.finder OUT.safetensors [--steps 1500] [--init CHECKPOINT]
        [--fields danish-rowid:train --fields orand-car-a-dev:train [--locate-with READER]] [--enlarge 1]

Pages are made on the device (`data.synthetic_pages`: numbers of MNIST training digits
in boxes, on lines, after labels, among printed words and rules) with their number boxes;
the target is each box a little shrunk (`number_mask`). The loss is binary cross-entropy
plus a soft Dice term (numbers are ~2% of a page: the cross-entropy alone learns "no
number anywhere" first). Every SAVE_EVERY steps the weights are written (atomically) to
OUT.partial.safetensors, so an interrupted training keeps its progress (continue it with
`--init` on that file); OUT itself appears only when the training has finished.

With `--fields`, every step also shows the finder REAL_SHARE as many real fields (register
cells, cheque amounts: labelled folders' train parts) as synthetic pages, each with its
number's box located by reading (`training.finder_fields`): the finder learns which of a
real field's marks is its number. Every step also shows it LONE_SHARE as many pictures of
one digit alone (`finder_fields.lone_digit_canvases`): a digit that fills its picture is
one number, not a stroke or two.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from digitrec.artifacts.checkpoint import load_model, save_model_checkpoint
from digitrec.data.synthetic import NumberMaker, SyntheticConfig
from digitrec.data.synthetic_pages import MASK_STRIDE, SHRINK_X, SHRINK_Y, PageConfig, PageMaker, number_mask
from digitrec.device import select_device
from digitrec.errors import ConfigError
from digitrec.layout.finder import ENLARGE, finder_enlarge, training_core_seconds
from digitrec.models.registry import ModelConfig, build_model
from digitrec.processes import TRAINING_MMAP_THRESHOLD, TRAINING_TRIM_THRESHOLD, keep_freed_memory
from digitrec.training.finder_fields import RealFieldBank, located_fields, lone_digit_canvases
from digitrec.training.reader_data import digit_bank

# --- tuning --------------------------------------------------------------------------
STEPS = 1500  # ~25 minutes on 2 CPU cores
BATCH = 12  # pages of 256 x 384 per step
LR = 3e-3
SIDE = 768  # a page is read with its longer side at this many pixels: a form's 40-60 px
# digits keep 30-45, a photographed number's hundreds of pixels come down to ~100
SAVE_EVERY = 250
CHANNELS = (16, 32, 48, 64)
REAL_SHARE = 0.5  # with --fields: real fields per synthetic page in a step
LONE_SHARE = 0.25  # pictures of a lone digit (MNIST training digits) per synthetic page in a step


def finder_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice over the batch."""
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, mask) + dice


def finder_meta(
    config: ModelConfig,
    steps: int,
    seconds: float,
    loss: float,
    init: str | None,
    core_seconds: float,
    fields: list[str],
    enlarge: float = ENLARGE,
) -> dict[str, Any]:
    """A finder checkpoint's metadata: enough to rebuild and run it with no training code."""
    return {
        "kind": "finder",
        "model": config.to_dict(),
        "normalization": {"mean": 0.0, "std": 1.0},
        "input": {
            "side": SIDE,
            "enlarge": enlarge,
            "dtype": "uint8",
            "ink": "bright on dark, contrast stretched",
            "layout": "page",
        },
        "target": {"stride": MASK_STRIDE, "shrink_x": SHRINK_X, "shrink_y": SHRINK_Y},
        "training": {
            "steps": steps,
            "batch": BATCH,
            "seconds": seconds,
            "final_loss": loss,
            "threads": torch.get_num_threads(),
            "init": init,
            "core_seconds": core_seconds,  # seconds x threads of every run in the --init chain
            "real_fields": fields,
            "lone_share": LONE_SHARE,
        },
    }


def train_finder(
    out: str | Path,
    data_dir: str | Path | None = None,
    steps: int = STEPS,
    seed: int = 0,
    init: str | Path | None = None,
    page: PageConfig = PageConfig(),
    batch: int = BATCH,
    fields: list[str] | tuple[str, ...] = (),
    locate_with: str | Path | None = None,
    enlarge: float | None = None,
) -> dict[str, Any]:
    """Train a number finder into `out` (see the module's doc); `enlarge`: a small
    picture's most enlargement (None: the --init finder's, else ENLARGE)."""
    device = select_device("cpu")  # one thread per core, or OMP_NUM_THREADS
    keep_freed_memory(TRAINING_MMAP_THRESHOLD, TRAINING_TRIM_THRESHOLD)
    torch.manual_seed(seed)
    config = ModelConfig("number-finder", {"channels": list(CHANNELS)})
    model = build_model(config)
    seconds_before, steps_before, core_seconds_before = 0.0, 0, 0.0  # of the finders --init continues: the chain's cost
    if init is not None:
        loaded = load_model(init, "cpu")
        if loaded.meta.get("kind") != "finder":
            raise ConfigError(f"--init {init} is not a number finder")
        model.load_state_dict(loaded.model.state_dict())
        before = loaded.meta.get("training", {})
        seconds_before, steps_before = float(before.get("seconds", 0.0)), int(before.get("steps", 0))
        core_seconds_before = training_core_seconds(before)
        enlarge = enlarge if enlarge is not None else finder_enlarge(loaded.meta)
    enlarge = enlarge if enlarge is not None else ENLARGE
    model.train()
    maker = PageMaker(NumberMaker(digit_bank(("mnist",), data_dir, device), SyntheticConfig()), page)
    real = _real_fields(fields, data_dir, locate_with, enlarge)
    n_real = round(REAL_SHARE * batch) if real is not None else 0
    n_lone = round(LONE_SHARE * batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    started, losses = time.perf_counter(), []

    out = Path(out)
    partial = out.with_name(out.name.removesuffix(".safetensors") + ".partial.safetensors")

    def save(step: int, path: Path) -> None:
        model.eval()
        loss = sum(losses[-50:]) / max(1, len(losses[-50:]))
        elapsed = time.perf_counter() - started
        meta = finder_meta(
            config,
            steps_before + step,
            seconds_before + elapsed,
            loss,
            None if init is None else str(init),
            core_seconds_before + elapsed * torch.get_num_threads(),
            list(fields),
            enlarge,
        )
        save_model_checkpoint(path, model, meta)
        model.train()

    for step in range(1, steps + 1):
        pages = maker.batch(batch, generator)
        x, mask = pages.pages, pages.masks()
        more = [real.batch(n_real, page.height, page.width, generator)] if n_real else []
        if n_lone:
            more.append(
                lone_digit_canvases(maker.numbers.bank, n_lone, page.height, page.width, generator, maker.words)
            )
        for more_x, boxes in more:  # canvases of one number each, beside the pages
            x = torch.cat([x, more_x])
            mask = torch.cat([mask, number_mask(boxes, page.height // MASK_STRIDE, page.width // MASK_STRIDE)])
        loss = finder_loss(model(x), mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % SAVE_EVERY == 0 and step < steps:
            save(step, partial)
            print(
                f"step {step}/{steps}  loss {sum(losses[-SAVE_EVERY:]) / len(losses[-SAVE_EVERY:]):.4f}  "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    save(steps, out)
    partial.unlink(missing_ok=True)
    return {
        "steps": steps,
        "seconds": time.perf_counter() - started,
        "first_loss": sum(losses[:20]) / len(losses[:20]),
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
    }


def _real_fields(specs, data_dir, locate_with, enlarge: float) -> RealFieldBank | None:
    """The real fields of `specs` with their numbers located (None: no specs)."""
    if not specs:
        return None
    from digitrec.data.mnist import data_root_from, default_cache_dir
    from digitrec.shipped import READER

    root = data_root_from(data_dir)
    located = [f for spec in specs for f in located_fields(spec, root, locate_with or READER, default_cache_dir())]
    if not located:
        raise ConfigError(f"no field of {', '.join(specs)} was read as its label: nothing to learn where numbers are")
    bank = RealFieldBank(located, SIDE, enlarge)
    print(f"real fields: {len(bank)} located in {', '.join(specs)}", flush=True)
    return bank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--init", default=None, help="continue from this finder's weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="the data root (else DIGITREC_DATA)")
    parser.add_argument(
        "--fields",
        action="append",
        default=[],
        help="a labelled folder (part) of real fields to learn from too; repeatable",
    )
    parser.add_argument(
        "--enlarge",
        type=float,
        default=None,
        help="enlarge small pictures at most this many times, learning and finding "
        f"(default: the --init finder's, else {ENLARGE:g}; 1: a field at its own scale, cheaper)",
    )
    parser.add_argument(
        "--locate-with",
        default=None,
        help="the strip reader that locates the real fields' numbers (default: the shipped reader)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1:
        raise SystemExit("--steps must be at least 1")
    if args.enlarge is not None and args.enlarge < 1:
        raise SystemExit("--enlarge must be at least 1")
    figures = train_finder(
        args.out,
        args.data_dir,
        args.steps,
        args.seed,
        args.init,
        fields=args.fields,
        locate_with=args.locate_with,
        enlarge=args.enlarge,
    )
    print(
        f"number finder: {figures['steps']} steps in {figures['seconds']:.0f} s, "
        f"loss {figures['first_loss']:.3f} -> {figures['final_loss']:.3f}; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
