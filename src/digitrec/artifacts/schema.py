"""The one schema of a model's metadata, checked when a checkpoint or an ONNX export is
loaded, so that a bad model fails at start-up with one sentence naming the fault, not
later on every request (a server answered 500 to each; `evaluate` scored 9.80% with a
`std` of 0).

No PyTorch here: the ONNX runtime checks its models with the same rules.
"""

from __future__ import annotations

import math
from typing import Any

from digitrec.errors import CheckpointError

# --- bounds --------------------------------------------------------------------------
MAX_OPTION = 65_536  # no layer of a digit model is wider than this (hidden=400000 allocated 2.8 GB)
KINDS = ("classifier", "reader", "finder")  # a digit classifier, a number reader, a page's number finder
DIGITS = "0123456789"  # a number reader's alphabet, after its blank


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _options_fault(options: Any) -> str | None:
    if not isinstance(options, dict):
        return f"model.options is {type(options).__name__}, not an object"
    for key, value in options.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool) or v is None or isinstance(v, str):
                continue
            if not _number(v):
                return f"model.options.{key} holds {type(v).__name__}, not numbers"
            if not math.isfinite(v) or v < 0 or v > MAX_OPTION:
                return f"model.options.{key} is {v!r}, outside 0-{MAX_OPTION:,}"
    return None


def metadata_fault(meta: Any, *, needs_model: bool = True) -> str | None:
    """What is wrong with a model's metadata, in a few words; None when it is sound."""
    if not isinstance(meta, dict):
        return f"its metadata is a JSON {type(meta).__name__}, not an object"
    kind = meta.get("kind", "classifier")
    if kind not in KINDS:
        return f"its kind is {kind!r}; expected one of {', '.join(KINDS)}"
    if needs_model:
        model = meta.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("arch"), str):
            return "it has no model description (model.arch) in its metadata"
        fault = _options_fault(model.get("options", {}))
        if fault:
            return fault
    norm = meta.get("normalization")
    if not isinstance(norm, dict):
        return (
            "it has no normalization (an object with mean and std)"
            if norm is None
            else f"its normalization is {type(norm).__name__}, not an object with mean and std"
        )
    if set(norm) != {"mean", "std"} or not all(_number(norm[k]) for k in ("mean", "std")):
        return f"its normalization must be {{mean, std}} numbers, got {norm}"
    if not (math.isfinite(norm["mean"]) and math.isfinite(norm["std"]) and norm["std"] > 0):
        return (
            f"its normalization has mean {norm['mean']!r} and std {norm['std']!r}; std must be a finite number above 0"
        )
    classes = meta.get("classes")
    if not (
        isinstance(classes, list)
        and len(classes) == 10
        and all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    ):
        return f"its classes must be a list of the 10 digits, got {classes!r}"
    if kind == "finder":
        side = meta.get("input", {}).get("side") if isinstance(meta.get("input"), dict) else None
        if not (isinstance(side, int) and not isinstance(side, bool) and 64 <= side <= 4096):
            return f"a number finder's input.side must be a whole number of pixels in 64-4096, got {side!r}"
        target = meta.get("target")
        if not (
            isinstance(target, dict)
            and isinstance(target.get("stride"), int)
            and 1 <= target["stride"] <= 64
            and all(_number(target.get(k)) and 0 <= target[k] < 0.5 for k in ("shrink_x", "shrink_y"))
        ):
            return f"a number finder's target must be {{stride: 1-64, shrink_x, shrink_y: 0-0.5}}, got {target!r}"
    if kind == "reader":
        stride = meta.get("stride")
        if not (isinstance(stride, int) and not isinstance(stride, bool) and 1 <= stride <= 64):
            return f"a reader's stride must be a whole number of pixels in 1-64, got {stride!r}"
        # Column 0 is CTC's blank and columns 1-10 the digits 0-9: what `ctc` reads.
        # (Checkpoints written before these two keys were recorded are read so too.)
        if meta.get("blank", 0) != 0 or meta.get("alphabet", DIGITS) != DIGITS:
            return (
                f"a reader's columns must be the blank (0), then the digits {DIGITS}; "
                f"it has blank {meta.get('blank')!r} and alphabet {meta.get('alphabet')!r}"
            )
    return None


def check_metadata(meta: Any, where: object, *, needs_model: bool = True) -> dict[str, Any]:
    """`meta` if it is sound, else a CheckpointError naming `where` and the fault."""
    fault = metadata_fault(meta, needs_model=needs_model)
    if fault:
        raise CheckpointError(f"{where} is not a usable digitrec model: {fault}")
    return meta
