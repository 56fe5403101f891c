"""The one checkpoint format: safetensors tensors plus JSON metadata, written atomically,
never pickled. This module alone writes and reads checkpoints, and `load_model` is the
one way to get a model back, for evaluation, runtimes, export and serving alike.

Two kinds share the format:
- a model checkpoint (`best.safetensors`, `last.safetensors`): the weights and what is
  needed to use them (architecture config, normalisation, classes, versions);
- a training state (`train_state.safetensors`): model, optimiser, schedule, RNG states
  and history, everything `--resume` needs to continue as if never interrupted.

Nested Python state (an optimiser's state_dict, say) is stored as a JSON skeleton in the
safetensors header whose tensors are references into the file's tensors.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

import digitrec
from digitrec.artifacts.schema import check_metadata
from digitrec.errors import CheckpointError
from digitrec.fileio import atomic_write_bytes
from digitrec.models.inputs import Normalization
from digitrec.models.registry import ModelConfig, build_model

BEST_CHECKPOINT = "best.safetensors"  # a run folder's model of its best epoch
LAST_CHECKPOINT = "last.safetensors"  # ... and of its last finished epoch
CHECKPOINT_FORMAT = "digitrec.checkpoint/1"
TRAIN_STATE_FORMAT = "digitrec.train-state/1"
METADATA_KEY = "digitrec"


def library_versions() -> dict[str, str]:
    return {"digitrec": digitrec.__version__, "torch": torch.__version__, "python": platform.python_version()}


# --- nested state <-> (JSON skeleton, flat tensors) ---------------------------------


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "s") -> Any:
    """A JSON-able skeleton of `obj`; every tensor moves into `tensors` under a fresh key."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj:
            return {k: flatten_state(v, tensors, prefix) for k, v in obj.items()}
        return {"__items__": [[k, flatten_state(v, tensors, prefix)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__items__" in skeleton:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__items__"]}
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# --- reading and writing ------------------------------------------------------------


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    blob = safetensors.torch.save(tensors, metadata={METADATA_KEY: json.dumps(meta)})
    return atomic_write_bytes(path, blob)


def _read(path: Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            # safe_open has keys() but is not iterable itself
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as e:  # safetensors raises its own error types and OSError for bad headers
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint ({e}); it may be truncated or corrupt"
        ) from None
    try:
        meta = json.loads(header[METADATA_KEY])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(
            f"{path} is a safetensors file without digitrec metadata; it is not a digitrec checkpoint"
        ) from None
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{path} is not a usable digitrec checkpoint: its metadata is a JSON {type(meta).__name__}, not an object"
        )
    if meta.get("format") != expected_format:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}, expected {expected_format!r}")
    return tensors, meta


def save_model_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write weights and metadata; `meta` must hold 'model' (a ModelConfig dict) and
    'normalization', and holds the whole resolved recipe under 'recipe_config'."""
    full = {
        "format": CHECKPOINT_FORMAT,
        "classes": list(range(10)),
        "input": {"shape": [1, 28, 28], "dtype": "uint8", "ink": "white on black, as MNIST"},
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return _write(Path(path), tensors, full)


@dataclass
class LoadedModel:
    model: nn.Module
    meta: dict[str, Any]
    path: Path

    @property
    def normalization(self) -> Normalization:
        return Normalization(**self.meta["normalization"])


def resolve_model_path(run_or_checkpoint: str | Path) -> Path:
    """A run folder means its best checkpoint (else its last); a file is itself."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
            if (path / name).exists():
                return path / name
        raise CheckpointError(
            f"{path} has no {BEST_CHECKPOINT} or {LAST_CHECKPOINT}; is it a run folder with a finished epoch?"
        )
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; give a run folder or a .safetensors checkpoint")
    if path.suffix.lower() == ".onnx":
        raise CheckpointError(
            f"{path} is an ONNX export, which runs on ONNX Runtime (`digitrec predict` and `digitrec serve` take it); "
            "this command needs the PyTorch checkpoint it was exported from: a run folder or a .safetensors file"
        )
    return path


def load_model(run_or_checkpoint: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """The model of a run folder (its best checkpoint) or of a checkpoint file, rebuilt
    from the checkpoint alone, in eval mode on `device` ('auto' picks one)."""
    if isinstance(device, str):
        from digitrec.device import select_device

        device = select_device(device)
    return _rebuild_from_file(resolve_model_path(run_or_checkpoint), device)


def model_card(run_or_checkpoint: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What a server reports about a model: the checkpoint's metadata plus, when the run
    folder has one, its test evaluation."""
    card = dict(meta)
    evaluation = Path(run_or_checkpoint) / "evaluation-test.json"
    if Path(run_or_checkpoint).is_dir() and evaluation.exists():
        card["test_accuracy"] = json.loads(evaluation.read_text())["accuracy"]
    return card


def _rebuild_from_file(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the model from one checkpoint file, in eval mode on `device`. Everything is
    checked before the model takes memory: the metadata against its schema, each tensor's
    shape against the architecture (built first on the meta device, which allocates
    nothing), and the weights for NaN and infinity."""
    path = Path(path)
    tensors, meta = _read(path, CHECKPOINT_FORMAT)
    check_metadata(meta, path)
    config = ModelConfig.from_dict(meta["model"])
    with torch.device("meta"):
        skeleton = build_model(config)
    fault = shape_fault(skeleton.state_dict(), tensors)
    if fault:
        raise CheckpointError(f"{path}: weights do not fit architecture {config.arch!r} {config.options} ({fault})")
    bad = next((k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad} holds NaN or infinite values; the training that wrote it diverged")
    model = build_model(config)
    model.load_state_dict(tensors, strict=True)
    return LoadedModel(model.to(device).eval(), meta, path)


def shape_fault(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str | None:
    """The first difference between an architecture's tensors and a file's, in words."""
    missing = sorted(set(expected) - set(found))
    if missing:
        return f"missing {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
    extra = sorted(set(found) - set(expected))
    if extra:
        return f"unexpected {extra[0]}" + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
    for key, tensor in expected.items():
        if tuple(tensor.shape) != tuple(found[key].shape):
            return f"{key} is {list(found[key].shape)} in the file, {list(tensor.shape)} in the architecture"
    return None


def save_train_state(path: str | Path, state: dict[str, Any]) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(state, tensors)
    return _write(Path(path), tensors, {"format": TRAIN_STATE_FORMAT, "state": skeleton})


def load_train_state(path: str | Path) -> dict[str, Any]:
    tensors, meta = _read(Path(path), TRAIN_STATE_FORMAT)
    return unflatten_state(meta["state"], tensors)
