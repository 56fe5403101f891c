"""Classifiers: uint8 28x28 digits in, class probabilities out, on PyTorch or ONNX Runtime.

The ONNX path imports neither torch nor any training code, so a server running an
exported model needs only numpy, OpenCV, Pillow and onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from digitrec.errors import CheckpointError

ONNX_METADATA_KEY = "digitrec"


class Classifier(Protocol):
    runtime: str
    meta: dict[str, Any]

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for uint8 (N, 28, 28) white-on-black digits."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class TorchClassifier:
    runtime = "pytorch"

    def __init__(self, path: Path, device: str = "cpu"):
        from digitrec.device import select_device
        from digitrec.training.checkpoint import load_model_checkpoint

        self.loaded = load_model_checkpoint(path, select_device(device))
        self.meta = self.loaded.meta
        self.path = self.loaded.path

    def classify(self, images: np.ndarray) -> np.ndarray:
        import torch

        from digitrec.evaluation.metrics import predict_logits

        if len(images) == 0:
            return np.empty((0, 10), np.float32)
        batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        return predict_logits(self.loaded.model, batch, self.loaded.normalization).softmax(1).cpu().numpy()


class OnnxClassifier:
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise CheckpointError("ONNX models need onnxruntime: pip install onnxruntime") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Digits come a few at a time: one thread by default, and no spin-waiting between
        # calls, which would burn the cores a server needs for its other requests.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise CheckpointError(f"{path} is not a readable ONNX model ({str(e).splitlines()[0][:200]})") from None
        custom = self.session.get_modelmeta().custom_metadata_map
        if ONNX_METADATA_KEY not in custom:
            raise CheckpointError(f"{path} is an ONNX model without digitrec metadata; export it with `digitrec export`")
        self.meta = json.loads(custom[ONNX_METADATA_KEY])
        self.path = path
        self.input_name = self.session.get_inputs()[0].name
        norm = self.meta["normalization"]
        self.mean, self.std = float(norm["mean"]), float(norm["std"])

    def classify(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, 10), np.float32)
        x = (np.asarray(images, np.float32)[:, None] / 255.0 - self.mean) / self.std
        (logits,) = self.session.run(None, {self.input_name: x.astype(np.float32)})
        return softmax(logits.astype(np.float64)).astype(np.float32)


def load_classifier(path: str | Path, device: str = "cpu", runtime: str = "auto") -> Classifier:
    """A run folder or .safetensors file runs on PyTorch, an .onnx file on ONNX Runtime."""
    path = Path(path)
    if runtime == "auto":
        runtime = "onnx" if path.suffix.lower() == ".onnx" else "pytorch"
    if runtime == "onnx":
        if path.suffix.lower() != ".onnx":
            raise CheckpointError(f"--runtime onnx needs an .onnx file (export one with `digitrec export {path} --format onnx`)")
        if not path.exists():
            raise CheckpointError(f"{path} does not exist")
        return OnnxClassifier(path)
    if runtime != "pytorch":
        raise CheckpointError(f"unknown runtime {runtime!r}; use pytorch or onnx")
    from digitrec.training.runs import resolve_model_path

    return TorchClassifier(resolve_model_path(path), device)
