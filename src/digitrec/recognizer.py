"""The public entry point for reading digits: `Recognizer.load(path).read(image)`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from digitrec.device import select_device
from digitrec.models.inputs import to_model_input
from digitrec.preprocess import ImageError, PreprocessOptions, extract_digits
from digitrec.preprocess.decode import ImageInput
from digitrec.training.checkpoint import LoadedModel, load_model_checkpoint
from digitrec.training.runs import resolve_model_path


@dataclass
class DigitReading:
    digit: int
    confidence: float
    top3: list[tuple[int, float]]
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture
    image: np.ndarray  # the uint8 28x28 image that was classified

    def to_dict(self) -> dict[str, Any]:
        return {"digit": self.digit, "confidence": self.confidence, "top3": [list(t) for t in self.top3], "box": list(self.box)}


@dataclass
class Reading:
    text: str
    digits: list[DigitReading] = field(default_factory=list)
    width: int = 0
    height: int = 0
    warning: str | None = None

    @property
    def confidence(self) -> float:
        """The probability that every digit is right, as the model sees it."""
        return float(np.prod([d.confidence for d in self.digits])) if self.digits else 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text, "digits": [x.to_dict() for x in self.digits]}
        if self.warning:
            d["warning"] = self.warning
        return d


class Recognizer:
    """A trained model plus the preprocessing path; reads pictures of digits."""

    def __init__(self, loaded: LoadedModel, device: torch.device, options: PreprocessOptions = PreprocessOptions()):
        self.loaded = loaded
        self.model = loaded.model
        self.device = device
        self.options = options

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu", options: PreprocessOptions = PreprocessOptions()) -> Recognizer:
        """From a run folder (its best checkpoint) or a .safetensors checkpoint."""
        dev = select_device(device)
        return cls(load_model_checkpoint(resolve_model_path(Path(path)), dev), dev, options)

    @property
    def meta(self) -> dict[str, Any]:
        return self.loaded.meta

    def classify(self, images: np.ndarray) -> torch.Tensor:
        """Probabilities (N, 10) for uint8 (N, 28, 28) MNIST-style images, in one batch."""
        if len(images) == 0:
            return torch.empty((0, 10))
        batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).to(self.device)
        with torch.inference_mode():
            return self.model(to_model_input(batch, self.loaded.normalization)).float().softmax(1).cpu()

    def read(self, image: ImageInput, single: bool | None = None, name: str | None = None) -> Reading:
        """Read every digit of a picture (path, bytes, PIL image or numpy array), left to right."""
        options = self.options if single is None else dataclasses.replace(self.options, single=single)
        pre = extract_digits(image, options, name)
        if not pre.digits:
            return Reading("", [], pre.width, pre.height, pre.warning)
        probabilities = self.classify(np.stack([d.image for d in pre.digits]))
        readings = []
        for crop, p in zip(pre.digits, probabilities):
            top = torch.topk(p, 3)
            top3 = [(int(i), float(v)) for v, i in zip(top.values, top.indices)]
            readings.append(DigitReading(top3[0][0], top3[0][1], top3, crop.box, crop.image))
        return Reading("".join(str(r.digit) for r in readings), readings, pre.width, pre.height)


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, and the image files inside folders (sorted), for `predict`."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


__all__ = ["DigitReading", "ImageError", "Reading", "Recognizer", "expand_paths"]
