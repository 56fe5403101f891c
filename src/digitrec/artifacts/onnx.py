"""Exporting a trained model to ONNX, with what a runtime needs in its metadata.

Importing this module costs nothing: torch and onnx are imported by `export_onnx`, so an
ONNX server reads `ONNX_METADATA_KEY` from here without PyTorch.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

from digitrec.errors import CheckpointError
from digitrec.fileio import atomic_write_bytes

OPSET = 17
ONNX_METADATA_KEY = "digitrec"


def export_onnx(run_or_checkpoint: str | Path, out: str | Path) -> Path:
    """Write an ONNX model. A classifier: input `input` float (N, 1, 28, 28) already
    normalised, output `logits` (N, 10). A number reader: input float (N, 1, H, W) strips
    or whole fields in [0, 1] (H its input height: 32 for strips), W a multiple of its
    stride, output `logits` (N, W / stride, 11), followed per column by the 4 outputs of
    its box head if it has one. A number finder: input float (N, 1, H, W) ink-bright pages
    in [0, 1], H and W multiples of 16, output `logits` (N, 1, H / 4, W / 4). The model's
    description (normalisation, classes or alphabet, stride) goes in the metadata, where
    `digitrec.runtime` reads it."""
    import onnx
    import torch

    from digitrec.artifacts.checkpoint import load_model, model_card

    source = Path(run_or_checkpoint)
    loaded = load_model(source, "cpu")
    model = loaded.model.eval().to(memory_format=torch.contiguous_format)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        example, axes = _example(loaded.meta, torch)
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    card = model_card(source, loaded.meta)
    card["source_checkpoint"] = loaded.path.name  # a name, not this machine's folders
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(card)
    for key in ("normalization", "classes"):  # a finder has neither
        if key in loaded.meta:
            prop = proto.metadata_props.add()
            prop.key, prop.value = key, json.dumps(loaded.meta[key])
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise CheckpointError(f"the exported ONNX model does not validate: {e}") from None
    return atomic_write_bytes(out, proto.SerializeToString())


def _example(meta: dict[str, Any], torch: Any) -> tuple[Any, dict[str, dict[int, str]]]:
    """An example input of the model's kind and the axes that vary."""
    kind = meta.get("kind")
    if kind == "reader":
        return torch.zeros(2, 1, int(meta["input"]["shape"][1]), 64), {
            "input": {0: "batch", 3: "width"},
            "logits": {0: "batch", 1: "columns"},
        }
    if kind == "finder":
        return torch.zeros(1, 1, 64, 96), {
            "input": {0: "batch", 2: "height", 3: "width"},
            "logits": {0: "batch", 2: "rows", 3: "columns"},
        }
    return torch.zeros(1, 1, 28, 28), {"input": {0: "batch"}, "logits": {0: "batch"}}
