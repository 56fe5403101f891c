"""The public entry point for reading digits: `Recognizer.load(path).read(image)`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from digitrec.preprocess import ImageError, Preprocessed, PreprocessOptions, extract_digits
from digitrec.preprocess.decode import ImageInput
from digitrec.runtime import Classifier, load_classifier


@dataclass
class DigitReading:
    digit: int
    confidence: float
    top3: list[tuple[int, float]]
    box: tuple[int, int, int, int]  # x, y, w, h in the original picture
    image: np.ndarray  # the uint8 28x28 image that was classified
    probabilities: list[float] = field(default_factory=list)  # all ten, for 0..9

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "top3": [list(t) for t in self.top3],
            "box": list(self.box),
            "probabilities": [round(p, 6) for p in self.probabilities],
        }


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

    def __init__(self, classifier: Classifier, options: PreprocessOptions = PreprocessOptions()):
        self.classifier = classifier
        self.options = options

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: str = "cpu", options: PreprocessOptions = PreprocessOptions(), runtime: str = "auto"
    ) -> Recognizer:
        """From a run folder (its best checkpoint), a .safetensors checkpoint or an .onnx export."""
        return cls(load_classifier(Path(path), device, runtime), options)

    @property
    def meta(self) -> dict[str, Any]:
        return self.classifier.meta

    @property
    def runtime(self) -> str:
        return self.classifier.runtime

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for uint8 (N, 28, 28) MNIST-style images, in one batch."""
        return self.classifier.classify(np.asarray(images, np.uint8))

    def read(self, image: ImageInput, single: bool | None = None, name: str | None = None) -> Reading:
        """Read every digit of a picture (path, bytes, PIL image or numpy array), left to right."""
        pre = self.preprocess(image, single, name)
        return self.reading(pre, self.classify(pre.images))

    def preprocess(self, image: ImageInput, single: bool | None = None, name: str | None = None) -> Preprocessed:
        """The first half of `read`: the picture's digits as MNIST-style 28x28 images."""
        options = self.options if single is None else dataclasses.replace(self.options, single=single)
        return extract_digits(image, options, name)

    @staticmethod
    def reading(pre: Preprocessed, probabilities: np.ndarray) -> Reading:
        """The second half of `read`: the digits of `pre` with their (N, 10) probabilities.
        Split from `read` so that a server can classify the digits of many requests at once."""
        assert len(probabilities) == len(pre.digits)
        if not pre.digits:
            return Reading("", [], pre.width, pre.height, pre.warning)
        readings = []
        for crop, p in zip(pre.digits, probabilities):
            order = np.argsort(-p, kind="stable")[:3]
            top3 = [(int(i), float(p[i])) for i in order]
            readings.append(DigitReading(top3[0][0], top3[0][1], top3, crop.box, crop.image, p.tolist()))
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
