"""Classifiers: uint8 28x28 digits in, class probabilities out, on PyTorch or ONNX Runtime.

The ONNX path imports neither torch nor any training code, so a server running an
exported model needs only numpy, OpenCV, Pillow and onnxruntime.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from digitrec.artifacts.onnx import ONNX_METADATA_KEY
from digitrec.artifacts.schema import check_metadata
from digitrec.errors import CheckpointError

NUM_CLASSES = 11  # a reader's classes per column: CTC's blank and the ten digits (as models.reader, which needs torch)


class Classifier(Protocol):
    runtime: str
    meta: dict[str, Any]

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for uint8 (N, 28, 28) white-on-black digits."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Over the last axis: classes of (N, 10) logits, or of each column of (N, T, 11)."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class TorchClassifier:
    runtime = "pytorch"

    def __init__(self, path: Path, device: str = "cpu", loaded: Any = None):
        from digitrec.artifacts.checkpoint import load_model

        self.loaded = loaded if loaded is not None else load_model(path, device)
        self.meta = self.loaded.meta
        self.path = self.loaded.path

    def classify(self, images: np.ndarray) -> np.ndarray:
        import torch

        from digitrec.models.inputs import predict_logits

        if len(images) == 0:
            return np.empty((0, 10), np.float32)
        batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        return predict_logits(self.loaded.model, batch, self.loaded.normalization).softmax(1).cpu().numpy()


def onnx_session(path: Path, threads: int = 1) -> tuple[Any, dict[str, Any]]:
    """An ONNX Runtime session for a digitrec export, and the model's metadata."""
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
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise CheckpointError(f"{path} is not a readable ONNX model ({str(e).splitlines()[0][:200]})") from None
    custom = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY not in custom:
        raise CheckpointError(f"{path} is an ONNX model without digitrec metadata; export it with `digitrec export`")
    try:
        meta = json.loads(custom[ONNX_METADATA_KEY])
    except json.JSONDecodeError:
        raise CheckpointError(
            f"{path} has digitrec metadata that is not valid JSON; export it again with `digitrec export`"
        ) from None
    return session, check_metadata(meta, path, needs_model=False)


class OnnxReader:
    runtime = "onnxruntime"

    def __init__(self, session: Any, meta: dict[str, Any], path: Path):
        self.session, self.meta, self.path = session, meta, path
        self.stride = int(meta["stride"])  # checked by artifacts.schema
        self.input_name = session.get_inputs()[0].name

    def read_columns(self, strips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        if not strips:
            return []
        (out,) = self.session.run(None, {self.input_name: pad_batch(strips, self.stride)})
        return split_columns(out.astype(np.float64), strips, self.stride)

    def column_probabilities(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        return [p for p, _ in self.read_columns(strips)]


class OnnxClassifier:
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int = 1, session: Any = None, meta: dict[str, Any] | None = None):
        if session is None or meta is None:
            session, meta = onnx_session(path, threads)
        self.session, self.meta, self.path = session, meta, path
        self.input_name = self.session.get_inputs()[0].name
        norm = self.meta["normalization"]
        self.mean, self.std = float(norm["mean"]), float(norm["std"])

    def classify(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, 10), np.float32)
        x = (np.asarray(images, np.float32)[:, None] / 255.0 - self.mean) / self.std
        (logits,) = self.session.run(None, {self.input_name: x.astype(np.float32)})
        return softmax(logits.astype(np.float64)).astype(np.float32)


class StripReader(Protocol):
    runtime: str
    meta: dict[str, Any]
    stride: int  # strip pixels per column of probabilities, from the checkpoint

    def column_probabilities(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        """Per strip (uint8 (H, W), ink bright), probabilities (W // stride, 11): blank, 0-9."""
        ...

    def read_columns(self, strips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per strip, the probabilities above and, from a reader with a box head, each
        column's box (W // stride, 4); None without one."""
        ...


def pad_batch(strips: list[np.ndarray], stride: int) -> np.ndarray:
    """uint8 strips of any widths -> float (B, 1, 32, W) in [0, 1], 0-padded to a multiple of `stride`."""
    width = -(-max(s.shape[1] for s in strips) // stride) * stride
    out = np.zeros((len(strips), 1, strips[0].shape[0], width), np.float32)
    for i, s in enumerate(strips):
        out[i, 0, :, : s.shape[1]] = s / 255.0
    return out


def own_columns(probs: np.ndarray, strips: list[np.ndarray], stride: int) -> list[np.ndarray]:
    """Each strip's rows of a padded batch's (B, T, 11) probabilities: columns past a
    strip's own width saw only padding and are not part of it."""
    return [p[: -(-s.shape[1] // stride)] for p, s in zip(probs, strips)]


def split_columns(out: np.ndarray, strips: list[np.ndarray], stride: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """A reader's (B, T, 11 [+ 4]) outputs -> per strip, its columns' class probabilities
    and, from a reader with a box head, its columns' boxes (None without one)."""
    probs = own_columns(softmax(out[..., :NUM_CLASSES]).astype(np.float32), strips, stride)
    if out.shape[-1] == NUM_CLASSES:
        return [(p, None) for p in probs]
    return list(zip(probs, own_columns(out[..., NUM_CLASSES:].astype(np.float32), strips, stride)))


@contextmanager
def without_onednn():
    """PyTorch's CPU convolutions without oneDNN, for the reader: oneDNN caches a kernel for
    every input shape it meets, and strips come in every width, so a process reading an
    archive grew by ~190 MB over 12,000 fields; without it memory stays flat, at the same
    speed (138 against 139 fields/s on one core) and with the same readings. The switch
    is process-wide while it lasts: a classifier running meanwhile in another thread gets
    the same results either way (to ~1e-6)."""
    import torch

    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


class TorchReader:
    runtime = "pytorch"

    def __init__(self, loaded: Any):
        self.loaded, self.meta, self.path = loaded, loaded.meta, loaded.path
        self.stride = int(self.meta["stride"])  # checked by artifacts.schema

    def read_columns(self, strips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        import torch

        if not strips:
            return []
        with torch.inference_mode(), without_onednn():
            x = torch.from_numpy(pad_batch(strips, self.stride)).contiguous(memory_format=torch.channels_last)
            out = self.loaded.model(x).double().numpy()
        return split_columns(out, strips, self.stride)

    def column_probabilities(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        return [p for p, _ in self.read_columns(strips)]


def load_runtime_model(path: str | Path, device: str = "cpu", runtime: str = "auto") -> Classifier | StripReader:
    """A classifier or a reader, ready to run: a run folder or .safetensors file on PyTorch,
    an .onnx file on ONNX Runtime."""
    path = Path(path)
    if runtime == "auto":
        runtime = "onnx" if path.suffix.lower() == ".onnx" else "pytorch"
    if runtime == "onnx":
        if path.suffix.lower() != ".onnx":
            raise CheckpointError(
                f"--runtime onnx needs an .onnx file (export one with `digitrec export {path} --format onnx`)"
            )
        if not path.exists():
            raise CheckpointError(f"{path} does not exist")
        session, meta = onnx_session(path)
        if meta.get("kind") == "reader":
            return OnnxReader(session, meta, path)
        return OnnxClassifier(path, session=session, meta=meta)
    if runtime != "pytorch":
        raise CheckpointError(f"unknown runtime {runtime!r}; use pytorch or onnx")
    from digitrec.artifacts.checkpoint import load_model

    loaded = load_model(path, device)
    if loaded.meta.get("kind") == "finder":
        raise CheckpointError(
            f"{path} is a number finder: it finds numbers on a page for a field reader "
            "(Recognizer.load(reader, finder=...)), it reads none"
        )
    if loaded.meta.get("kind") == "reader":
        return TorchReader(loaded)
    return TorchClassifier(loaded.path, device, loaded)
