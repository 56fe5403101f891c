"""One row of a batch job's output: what one picture says, or why it could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitrec.batch.inputs import PictureFile, is_remote
from digitrec.errors import ConfigError, DigitrecError
from digitrec.preprocess import PreprocessOptions

SHIPPED_READER = "shipped:reader"  # a row's model when the shipped models read it


def model_named(name: str) -> str | None:
    """The model a row's model column names: its path as given, or None for the shipped models."""
    return None if name == SHIPPED_READER else name


# The columns of every output format, in this order. Scripts rely on these names.
COLUMNS = ("path", "number", "confidence", "error", "warning", "model")


@dataclass(frozen=True)
class Row:
    path: str
    number: str = ""  # the picture's number, or its numbers joined by spaces; "" if none
    confidence: float = 0.0  # that every digit is right, as the model sees it
    error: str = ""  # why the picture could not be read ("" when it was)
    warning: str = ""  # read, but found nothing, or something odd (e.g. "no digit found")
    model: str = ""
    details: dict[str, Any] | None = field(
        default=None, compare=False
    )  # the whole reading, for `predict --json`; never written

    def to_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(
            **{k: ("" if d.get(k) is None else d.get(k, "")) for k in COLUMNS if k != "confidence"},
            confidence=float(d.get("confidence") or 0.0),
        )


@dataclass(frozen=True)
class ReaderSpec:
    """How to load the recognizer: picklable, so that every worker process (or Ray actor)
    loads its own copy once. `model` None: the shipped models."""

    model: str | None = None
    device: str = "cpu"
    single: bool = False
    deskew: bool = False
    min_confidence: float = 0.0
    save_crops: str | None = None  # a folder for the normalised 28x28 crops, for inspection
    layout: str = "auto"  # a field reader's layout: auto, field or page (`Recognizer`)
    finder: str | None = None  # a number finder's checkpoint: where a page's numbers are (else the rule-based finder)

    @property
    def name(self) -> str:
        """The model's name in every row: the path as given, or shipped:reader."""
        return self.model if self.model is not None else SHIPPED_READER

    def load(self):
        from digitrec.recognizer import Recognizer

        recognizer = Recognizer.load(
            self.model,
            self.device,
            PreprocessOptions(single=self.single, deskew=self.deskew),
            min_confidence=self.min_confidence,
            layout=self.layout,
            finder=self.finder,
        )
        if self.single and recognizer.classifier is None:
            raise ConfigError(
                f"--single reads one digit with a digit classifier, and {self.model or 'the shipped reader'} "
                "is a number reader with none beside it; pass a classifier's run folder"
            )
        return recognizer


def read_bytes(uri: str) -> bytes:
    """A remote picture's bytes, through pyarrow's filesystems (s3://, gs://, hdfs://...)."""
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(uri)
    with filesystem.open_input_stream(path) as f:
        return f.read()


def read_row(
    recognizer, picture: PictureFile, spec: ReaderSpec, data: bytes | None = None, *, details: bool = False
) -> Row:
    """The row for one picture; any failure to read it becomes the row's error."""
    model = spec.name
    if picture.problem is not None:
        return Row(picture.path, error=picture.problem, model=model)
    try:
        if data is None and is_remote(picture.path):
            data = read_bytes(picture.path)
        source = data if data is not None else Path(picture.path)
        reading = recognizer.read(source, name=picture.path if data is not None else None)
    except DigitrecError as e:
        return Row(picture.path, error=str(e), model=model)
    except OSError as e:
        return Row(picture.path, error=f"cannot read {picture.path}: {e.strerror or e}", model=model)
    except Exception as e:  # a bug, or a library's surprise: this picture's row says so, the job goes on
        return Row(picture.path, error=f"unexpected {type(e).__name__} reading {picture.path}: {e}", model=model)
    if spec.save_crops is not None:
        save_crops(reading, picture.path, Path(spec.save_crops))
    return Row(
        picture.path,
        reading.text,
        round(reading.confidence, 6),
        "",
        reading.warning or "",
        model,
        reading.to_dict() if details else None,
    )


def save_crops(reading, path: str, folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem
    for i, d in enumerate(reading.digits):
        Image.fromarray(d.image).save(folder / f"{stem}_{i}_{d.digit}.png")
