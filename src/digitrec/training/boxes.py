"""Teaching a trained field reader where its digits are: its box head.

CTC says which columns hold a digit, not where its ink is nor how tall it is. The box
head gives each column the box of the digit there. Only synthetic fields have true digit
boxes, so the head learns on them, the rest of the network frozen (its features already
find the number among margins, rules and neighbours):

    python -m digitrec.training.boxes RUN_OR_CHECKPOINT OUT.safetensors [--steps 1200]

The checkpoint written is the same reader with the head (`boxes: true` in its model
options), so any runtime reads both from it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from digitrec.artifacts.checkpoint import load_model, save_model_checkpoint
from digitrec.data.synthetic import NumberMaker
from digitrec.data.synthetic_fields import FieldMaker
from digitrec.errors import ConfigError
from digitrec.models.reader import NUM_CLASSES, STRIDE
from digitrec.models.registry import ModelConfig, build_model
from digitrec.training.config import Recipe
from digitrec.training.reader_data import digit_bank

# --- tuning --------------------------------------------------------------------------
# ~6 minutes on 2 CPU cores: a small head on frozen features (600 gave reader v8 IoU 0.42, 1,200 with the
# features beside the LSTM 0.48)
STEPS = 1200
BATCH = 64
LR = 3e-3
MARGIN = 2.0  # a column within this many pixels of a digit's box learns that digit's box


def column_targets(boxes: torch.Tensor, columns: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """True digit boxes (B, k, 4: x0, y0, x1, y1 in field pixels; -1 where none) -> each
    column's target (B, T, 4: x0 and x1 from the column's centre, y0, y1; in field
    heights) and whether it has one (B, T): the digit whose box it is in, the nearest
    centre winning where boxes overlap."""
    centres = (torch.arange(columns, device=boxes.device, dtype=torch.float32) + 0.5) * STRIDE  # (T,)
    c = centres.view(1, -1, 1)
    x0, y0, x1, y1 = (boxes[..., i].unsqueeze(1) for i in range(4))  # (B, 1, k)
    inside = (boxes[..., 0].unsqueeze(1) >= 0) & (c >= x0 - MARGIN) & (c <= x1 + MARGIN)  # (B, T, k)
    distance = torch.where(inside, (c - (x0 + x1) / 2).abs(), torch.inf)
    nearest = distance.argmin(2, keepdim=True)  # (B, T, 1)
    pick = [v.expand(-1, columns, -1).gather(2, nearest).squeeze(2) for v in (x0, y0, x1, y1)]
    ctr = centres.view(1, -1)
    target = torch.stack([(pick[0] - ctr) / height, (pick[2] - ctr) / height, pick[1] / height, pick[3] / height], -1)
    return target, inside.any(2)


def train_box_head(
    source: str | Path, out: str | Path, data_dir: str | Path | None = None, steps: int = STEPS, seed: int = 0
) -> dict[str, Any]:
    """Add a box head to the field reader at `source`, train it on synthetic fields with
    everything else frozen, and write the reader with its head to `out`."""
    loaded = load_model(source, "cpu")
    recipe = Recipe.from_dict(loaded.meta["recipe_config"])
    if recipe.reader is None or recipe.reader.fields is None:
        raise ConfigError(f"{source} is not a field reader (recipe `reader`); only a field reader has a box head")
    config = ModelConfig.from_dict(loaded.meta["model"])
    config = ModelConfig(config.arch, {**config.options, "boxes": True, "box_features": True})
    model = build_model(config)
    missing, unexpected = model.load_state_dict(loaded.model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("box_head.") for k in missing):
        raise ConfigError(
            f"{source}'s weights do not fit a field reader with a box head ({(unexpected or missing)[0]})"
        )
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("box_head."))
    model.eval()  # frozen features: batch norm keeps its statistics
    device = torch.device("cpu")
    maker = FieldMaker(
        NumberMaker(digit_bank(recipe.reader.digit_sources, data_dir, device), recipe.reader.synthetic),
        recipe.reader.fields,
    )
    optimizer = torch.optim.Adam(model.box_head.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    height = recipe.reader.fields.height
    started, losses = time.perf_counter(), []
    for _ in range(steps):
        batch = maker.batch(BATCH, generator)
        x = F.pad(batch.strips, (0, -batch.strips.shape[-1] % STRIDE))  # whole output columns
        predicted = model(x.contiguous(memory_format=torch.channels_last))[..., NUM_CLASSES:]
        target, has = column_targets(batch.boxes, predicted.shape[1], height)
        loss = F.smooth_l1_loss(predicted[has], target[has], beta=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "classes", "versions", "created")}
    meta["model"] = config.to_dict()
    meta["box_head"] = {
        "steps": steps,
        "batch": BATCH,
        "seconds": time.perf_counter() - started,
        "first_loss": sum(losses[:20]) / len(losses[:20]),
        "final_loss": sum(losses[-20:]) / len(losses[-20:]),
    }
    save_model_checkpoint(out, model, meta)
    return meta["box_head"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a field reader's run folder or checkpoint")
    parser.add_argument("out", help="the .safetensors file to write (the reader with its box head)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--data-dir", default=None, help="the data root (else DIGITREC_DATA)")
    args = parser.parse_args(argv)
    figures = train_box_head(args.source, args.out, args.data_dir, args.steps)
    print(
        f"box head: {figures['steps']} steps in {figures['seconds']:.0f} s, "
        f"final loss {figures['final_loss']:.4f}; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
