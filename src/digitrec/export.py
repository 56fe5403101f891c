"""Exporting a trained model to ONNX, with what a runtime needs in its metadata."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

from digitrec.errors import CheckpointError
from digitrec.fileio import atomic_write_bytes, read_json
from digitrec.runtime import ONNX_METADATA_KEY
from digitrec.training.runs import resolve_model_path

OPSET = 17


def model_card(run_or_checkpoint: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What a server reports about a model: the checkpoint's metadata plus, when the run
    folder has one, its test evaluation."""
    card = dict(meta)
    evaluation = Path(run_or_checkpoint) / "evaluation-test.json"
    if Path(run_or_checkpoint).is_dir() and evaluation.exists():
        card["test_accuracy"] = read_json(evaluation)["accuracy"]
    return card


def export_onnx(run_or_checkpoint: str | Path, out: str | Path) -> Path:
    """Write an ONNX model: input `input` float (N, 1, 28, 28) already normalised, output
    `logits` (N, 10). Normalisation, class names and the model's description go in the
    metadata, where `digitrec.runtime.OnnxClassifier` reads them."""
    import onnx
    import torch

    from digitrec.training.checkpoint import load_model_checkpoint

    source = Path(run_or_checkpoint)
    loaded = load_model_checkpoint(resolve_model_path(source), "cpu")
    model = loaded.model.eval().to(memory_format=torch.contiguous_format)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, 28, 28),),
            buffer,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    card = model_card(source, loaded.meta)
    card["source_checkpoint"] = loaded.path.name  # a name, not this machine's folders
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(card)
    for key, value in (("normalization", json.dumps(loaded.meta["normalization"])), ("classes", json.dumps(loaded.meta["classes"]))):
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise CheckpointError(f"the exported ONNX model does not validate: {e}") from None
    return atomic_write_bytes(out, proto.SerializeToString())
