"""What every command shares: output on stdout, progress and errors on stderr."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

# Results go to stdout (so `--json` output can be piped); progress and errors to stderr.
# A pipe or log file has no width; rich would assume 80 columns and squeeze the tables.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 120)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Local data root holding mnist/ (and kaggle/); also $DIGITREC_DATA. No network is used.",
    show_default=False,
)
FinderOption = typer.Option(
    None,
    "--finder",
    help=(
        "A number finder's checkpoint (python -m digitrec.training.finder) or its .onnx export: "
        "where the numbers are (a field's, a page's); "
        "default: the one shipped with the shipped reader, else the rule-based field finder."
    ),
)
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout instead of tables.")
DeviceOption = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")
PrecisionOption = typer.Option(
    None,
    "--precision",
    help="Training forward pass: auto (the default: bf16 autocast on CUDA, fp32 elsewhere), fp32 or bf16.",
)


def _clean(obj: Any) -> Any:
    """Strict JSON: NaN and infinities become null, paths become strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit_json(obj: Any) -> None:
    print(json.dumps(_clean(obj), allow_nan=False))


def percent(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"
